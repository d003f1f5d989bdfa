-- Single sign-on with OpenID Connect: which identity at which provider is which account
-- (linked by issuer and subject, never by email), the sign-ins under way (state, nonce and the
-- PKCE verifier stay here, never in the browser), and what RP-initiated logout needs of a
-- session that began at a provider. Local password sign-in can be turned off per account.

ALTER TABLE users ADD COLUMN local_login_allowed boolean NOT NULL DEFAULT true;

CREATE TABLE user_identities (
    issuer text NOT NULL CHECK (char_length(issuer) BETWEEN 1 AND 500),
    subject text NOT NULL CHECK (char_length(subject) BETWEEN 1 AND 255),
    user_id uuid NOT NULL REFERENCES users (id),
    provider text NOT NULL CHECK (char_length(provider) BETWEEN 1 AND 50),
    created_at timestamptz NOT NULL DEFAULT now(),
    last_sign_in_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX user_identities_user_idx ON user_identities (user_id);

-- One row per sign-in started; taken (deleted) by the callback, so a state works once.
CREATE TABLE sso_flows (
    state_hash bytea PRIMARY KEY,
    -- SHA-256 of the random value in the browser's short-lived flow cookie: the callback must
    -- come from the browser that started the sign-in (no login CSRF).
    browser_hash bytea NOT NULL,
    provider text NOT NULL,
    nonce text NOT NULL,
    pkce_verifier text NOT NULL,
    next_path text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX sso_flows_expires_idx ON sso_flows (expires_at);

-- The ID token of a session that began at a provider (sealed; the id_token_hint of
-- RP-initiated logout). Goes with its session.
CREATE TABLE sso_sessions (
    session_hash bytea PRIMARY KEY REFERENCES sessions (token_hash) ON DELETE CASCADE,
    provider text NOT NULL,
    id_token_key_id text NOT NULL,
    id_token_sealed bytea NOT NULL
);
