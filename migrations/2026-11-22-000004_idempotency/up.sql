-- Idempotency-Key records (IETF httpapi-idempotency-key-header). A record is claimed in its own
-- committed transaction before the work starts, so a concurrent duplicate sees it in flight (409),
-- and completed in the same transaction as the work, so a replay returns the original response.
CREATE TABLE idempotency_keys (
    api_key_id uuid NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    idempotency_key text NOT NULL CHECK (char_length(idempotency_key) BETWEEN 1 AND 255),
    -- SHA-256 of the canonical JSON request body
    request_hash bytea NOT NULL,
    -- 'in_flight' until the work commits, then 'completed'
    state text NOT NULL CHECK (state IN ('in_flight', 'completed')),
    response_status smallint,
    response_location text,
    -- the response body sealed like contact details: it holds the receipt code
    response_ciphertext bytea,
    response_key_id text,
    created_at timestamptz NOT NULL DEFAULT now(),
    locked_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (api_key_id, idempotency_key),
    CHECK ((state = 'completed') = (response_ciphertext IS NOT NULL))
);
CREATE INDEX idempotency_keys_expires_at_idx ON idempotency_keys (expires_at);
