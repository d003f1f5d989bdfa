-- Tips, their event history and the reference generator.

-- References are T-<year>-<number>, numbered per year (Europe/Stockholm). One sequence per
-- year, created on first use: sequences never block concurrent submitters (a counter row would
-- serialise them), and a rolled-back submission only leaves a gap, which is acceptable.
CREATE FUNCTION next_tip_reference(at timestamptz) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    year integer := extract(year FROM at AT TIME ZONE 'Europe/Stockholm');
    seq text := format('tip_reference_%s', year);
BEGIN
    IF to_regclass(seq) IS NULL THEN
        BEGIN
            EXECUTE format('CREATE SEQUENCE IF NOT EXISTS %I', seq);
        EXCEPTION WHEN unique_violation OR duplicate_table THEN
            -- another transaction created it at the same moment
            NULL;
        END;
    END IF;
    RETURN format('T-%s-%s', year, lpad(nextval(seq)::text, 6, '0'));
END;
$$;

CREATE TABLE tips (
    id uuid PRIMARY KEY,
    reference text NOT NULL UNIQUE,
    channel text NOT NULL CHECK (channel IN ('web', 'api')),
    category text NOT NULL REFERENCES categories (code),
    care_sector text NOT NULL REFERENCES care_sectors (code),
    region_code text NOT NULL REFERENCES regions (code),
    municipality_code text,
    facility_name text CHECK (char_length(facility_name) BETWEEN 1 AND 200),
    care_provider text CHECK (char_length(care_provider) BETWEEN 1 AND 200),
    occurred_on date,
    ongoing boolean NOT NULL DEFAULT false,
    description text NOT NULL CHECK (char_length(description) BETWEEN 20 AND 10000),
    reporter_role text NOT NULL REFERENCES reporter_roles (code),
    outbreak text CHECK (outbreak ~ '^[a-z0-9][a-z0-9_-]*$'),
    language text NOT NULL CHECK (language IN ('sv', 'en')),
    anonymous boolean NOT NULL,
    -- reporter name/email/phone as JSON, sealed with XChaCha20-Poly1305 (nonce || ciphertext)
    contact_ciphertext bytea,
    contact_key_id text,
    -- HMAC-SHA256 of the receipt code; the code itself is never stored
    receipt_code_hash bytea NOT NULL UNIQUE CHECK (length(receipt_code_hash) = 32),
    status text NOT NULL DEFAULT 'new'
        CHECK (status IN ('new', 'in_review', 'awaiting_reporter', 'closed')),
    outcome text CHECK (outcome IN ('case_opened', 'risk_signal', 'referred', 'no_action', 'duplicate')),
    submitted_by_api_key uuid REFERENCES api_keys (id),
    submitted_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (municipality_code, region_code) REFERENCES municipalities (code, region_code),
    CHECK (anonymous = (contact_ciphertext IS NULL)),
    CHECK ((contact_ciphertext IS NULL) = (contact_key_id IS NULL)),
    CHECK ((status = 'closed') = (outcome IS NOT NULL)),
    CHECK (occurred_on IS NULL OR occurred_on <= (submitted_at AT TIME ZONE 'Europe/Stockholm')::date)
);
CREATE INDEX tips_submitted_at_idx ON tips (submitted_at);

-- Append-only history of everything that happens to a tip.
CREATE TABLE tip_events (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tip_id uuid NOT NULL REFERENCES tips (id) ON DELETE CASCADE,
    kind text NOT NULL,
    -- 'system', 'api_key:<uuid>', later 'user:<uuid>'
    actor text NOT NULL,
    data jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tip_events_tip_id_idx ON tip_events (tip_id, id);
