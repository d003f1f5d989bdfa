-- Messages between the inspectorate and the tipster, who answers through the follow-up page
-- with the receipt code.
CREATE TABLE tip_messages (
    id uuid PRIMARY KEY,
    tip_id uuid NOT NULL REFERENCES tips (id) ON DELETE CASCADE,
    -- 'to_reporter' (a question from the inspectorate) or 'from_reporter' (the tipster's reply)
    direction text NOT NULL CHECK (direction IN ('to_reporter', 'from_reporter')),
    body text NOT NULL CHECK (char_length(body) BETWEEN 1 AND 5000),
    -- 'api_key:<uuid>', later 'user:<uuid>'; NULL for the anonymous tipster
    author text,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- when the recipient first saw it (the tipster on the follow-up page; an inspector in the UI)
    read_at timestamptz,
    CHECK ((direction = 'from_reporter') = (author IS NULL))
);
CREATE INDEX tip_messages_tip_id_idx ON tip_messages (tip_id, created_at);
