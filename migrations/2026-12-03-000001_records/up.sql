-- Records management: when a tip was closed (disposal periods count from closure), whether and
-- by which rule it was disposed of, legal holds, and public-records requests (begäran om
-- allmän handling) with the redactions and the copy produced for disclosure.

ALTER TABLE tips
    ADD COLUMN closed_at timestamptz,
    ADD COLUMN disposed_at timestamptz,
    ADD COLUMN disposal_rule text CHECK (char_length(disposal_rule) BETWEEN 1 AND 100),
    ADD CONSTRAINT tips_disposed_when_closed CHECK (disposed_at IS NULL OR status = 'closed'),
    ADD CONSTRAINT tips_disposed_names_rule CHECK ((disposed_at IS NULL) = (disposal_rule IS NULL));

-- Closure time of the tips closed so far: the last `closed` event, else the last update.
UPDATE tips t SET closed_at = coalesce(
    (SELECT max(e.created_at) FROM tip_events e WHERE e.tip_id = t.id AND e.kind = 'closed'),
    t.updated_at)
WHERE t.status = 'closed';

-- Kept by the database itself, so every path that closes or reopens a tip keeps it true.
CREATE FUNCTION tips_track_closed_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = 'closed' AND OLD.status <> 'closed' THEN
        NEW.closed_at := now();
    ELSIF NEW.status <> 'closed' THEN
        NEW.closed_at := NULL;
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER tips_track_closed_at BEFORE UPDATE OF status ON tips
    FOR EACH ROW EXECUTE FUNCTION tips_track_closed_at();

-- A disposed tip's skeleton keeps no free text: the description may then be empty.
ALTER TABLE tips DROP CONSTRAINT tips_description_check;
ALTER TABLE tips ADD CONSTRAINT tips_description_check CHECK (
    (disposed_at IS NOT NULL AND description = '')
    OR char_length(description) BETWEEN 20 AND 10000);

-- … and an identified reporter's contact details may be gone while the tip still records that
-- the reporter was identified (the situation report counts that).
ALTER TABLE tips DROP CONSTRAINT tips_check;
ALTER TABLE tips ADD CONSTRAINT tips_contact_matches_anonymity CHECK (
    disposed_at IS NOT NULL OR anonymous = (contact_ciphertext IS NULL));

-- The disposal run's candidates: closed, not yet disposed, oldest closure first.
CREATE INDEX tips_disposal_candidates_idx ON tips (closed_at, id)
    WHERE status = 'closed' AND disposed_at IS NULL;

-- A legal hold stops disposal of one tip, or of every tip in a cluster (also tips that join
-- the cluster later). Lifting keeps the row: who held, why, who lifted, when.
CREATE TABLE legal_holds (
    id uuid PRIMARY KEY,
    tip_id uuid REFERENCES tips (id),
    cluster_id uuid REFERENCES tip_clusters (id),
    reason text NOT NULL CHECK (char_length(reason) BETWEEN 1 AND 1000),
    placed_by text NOT NULL,
    placed_at timestamptz NOT NULL DEFAULT now(),
    lifted_by text,
    lifted_at timestamptz,
    lift_reason text CHECK (char_length(lift_reason) BETWEEN 1 AND 1000),
    CHECK ((tip_id IS NULL) <> (cluster_id IS NULL)),
    CHECK ((lifted_at IS NULL) = (lifted_by IS NULL)),
    CHECK ((lifted_at IS NULL) = (lift_reason IS NULL))
);
CREATE UNIQUE INDEX legal_holds_active_tip_idx ON legal_holds (tip_id)
    WHERE lifted_at IS NULL AND tip_id IS NOT NULL;
CREATE UNIQUE INDEX legal_holds_active_cluster_idx ON legal_holds (cluster_id)
    WHERE lifted_at IS NULL AND cluster_id IS NOT NULL;

-- Public-records requests, numbered per year like tips: R-2026-0001.
CREATE SEQUENCE records_request_number;
CREATE TABLE records_requests (
    id uuid PRIMARY KEY,
    reference text NOT NULL UNIQUE,
    received_on date NOT NULL,
    -- who asked, if they said (requesters may be anonymous), sealed like contact details
    requester_ciphertext bytea,
    requester_key_id text,
    registered_by text NOT NULL,
    registered_at timestamptz NOT NULL DEFAULT now(),
    -- open → (awaiting_approval →) decided
    status text NOT NULL DEFAULT 'open'
        CHECK (status IN ('open', 'awaiting_approval', 'decided')),
    decision text CHECK (decision IN ('disclosed', 'partly_disclosed', 'refused')),
    -- the reasoning given with the decision (not the withheld text)
    decision_note text CHECK (char_length(decision_note) BETWEEN 1 AND 2000),
    proposed_by text,
    proposed_at timestamptz,
    decided_by text,
    decided_at timestamptz,
    version integer NOT NULL DEFAULT 1,
    CHECK ((requester_ciphertext IS NULL) = (requester_key_id IS NULL)),
    CHECK ((status = 'open') = (decision IS NULL)),
    CHECK ((status = 'decided') = (decided_at IS NOT NULL))
);
CREATE INDEX records_requests_open_idx ON records_requests (registered_at)
    WHERE status <> 'decided';

-- The tips a request covers, and the passages marked to withhold in each:
-- [{"part": "description" | "message:<uuid>", "start": n, "end": n, "ground": "<code>"}],
-- offsets in characters (Unicode scalar values), end exclusive.
CREATE TABLE records_request_tips (
    request_id uuid NOT NULL REFERENCES records_requests (id) ON DELETE CASCADE,
    tip_id uuid NOT NULL REFERENCES tips (id),
    redactions jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(redactions) = 'array'),
    PRIMARY KEY (request_id, tip_id)
);
CREATE INDEX records_request_tips_tip_idx ON records_request_tips (tip_id);

-- The copy produced for disclosure when the decision is made: kept as it was handed out.
CREATE TABLE disclosure_copies (
    request_id uuid PRIMARY KEY REFERENCES records_requests (id) ON DELETE CASCADE,
    media_type text NOT NULL,
    content bytea NOT NULL,
    sha256 bytea NOT NULL CHECK (length(sha256) = 32),
    produced_at timestamptz NOT NULL DEFAULT now()
);

-- Progress of disposal runs: a run that dies is finished by the next (resumable), and the
-- admin page shows when the last one ran and what it did.
CREATE TABLE disposal_runs (
    id uuid PRIMARY KEY,
    started_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    actor text NOT NULL,
    as_of timestamptz NOT NULL,
    disposed integer NOT NULL DEFAULT 0,
    skipped_held integer NOT NULL DEFAULT 0,
    skipped_requested integer NOT NULL DEFAULT 0
);

-- API keys for registry systems may manage legal holds and public-records requests.
ALTER TABLE api_keys DROP CONSTRAINT api_keys_scopes_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_scopes_check CHECK (
    scopes <@ ARRAY['tips:submit', 'tips:read', 'tips:write', 'stats:read', 'records:write']::text[]);
