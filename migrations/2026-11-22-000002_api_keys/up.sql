-- API keys for integrating systems. Only a SHA-256 hash of the secret part is kept: the keys are
-- 160 random bits, so a fast hash is enough and keeps per-request verification cheap.
CREATE TABLE api_keys (
    id uuid PRIMARY KEY,
    -- public, non-secret identifier embedded in the key (tipsa_<prefix>_<secret>)
    prefix text NOT NULL UNIQUE CHECK (prefix ~ '^[0-9a-z]{8}$'),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    secret_hash bytea NOT NULL CHECK (length(secret_hash) = 32),
    scopes text[] NOT NULL CHECK (scopes <@ ARRAY['tips:submit', 'tips:read', 'tips:write', 'stats:read']::text[]),
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
