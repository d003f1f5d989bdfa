-- Inspector accounts: people with roles and team memberships, argon2id password hashes, a
-- TOTP second factor (secret sealed like contact details), one-time recovery codes, sessions
-- kept in the database (so any web node can serve any request), and one-time links for the
-- first admin, invitations and password resets.
CREATE TABLE users (
    id uuid PRIMARY KEY,
    email text NOT NULL UNIQUE CHECK (email = lower(email) AND char_length(email) BETWEEN 3 AND 254),
    display_name text NOT NULL CHECK (char_length(display_name) BETWEEN 1 AND 200),
    -- one or more of inspector, triage_lead, analyst, admin
    roles text[] NOT NULL CHECK (
        cardinality(roles) >= 1
        AND roles <@ ARRAY['inspector', 'triage_lead', 'analyst', 'admin']::text[]
    ),
    language text NOT NULL DEFAULT 'sv' CHECK (language IN ('sv', 'en')),
    active boolean NOT NULL DEFAULT true,
    -- argon2id PHC string; NULL until the person has chosen a password
    password_hash text,
    -- the TOTP secret, sealed; enabled once the person has proved they can generate codes
    totp_ciphertext bytea,
    totp_key_id text,
    totp_enabled_at timestamptz,
    -- per-account login throttling
    failed_logins integer NOT NULL DEFAULT 0,
    locked_until timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((totp_ciphertext IS NULL) = (totp_key_id IS NULL)),
    CHECK (totp_enabled_at IS NULL OR totp_ciphertext IS NOT NULL)
);

-- Teams are the routing configuration's team codes.
CREATE TABLE user_teams (
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    team text NOT NULL,
    PRIMARY KEY (user_id, team)
);

-- Recovery codes, shown once; only their keyed hashes are kept.
CREATE TABLE recovery_codes (
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash bytea NOT NULL,
    used_at timestamptz,
    PRIMARY KEY (user_id, code_hash)
);

-- Sessions: the cookie holds a random token, the table its SHA-256. A session is 'partial'
-- after the password (waiting for the second factor or its enrolment) and 'full' after it.
CREATE TABLE sessions (
    token_hash bytea PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    stage text NOT NULL CHECK (stage IN ('partial', 'full')),
    created_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);

-- One-time links: the first admin on an empty database, invitations, password resets.
CREATE TABLE account_tokens (
    token_hash bytea PRIMARY KEY,
    purpose text NOT NULL CHECK (purpose IN ('first_admin', 'invitation', 'password_reset')),
    user_id uuid REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at timestamptz,
    CHECK ((purpose = 'first_admin') = (user_id IS NULL))
);
