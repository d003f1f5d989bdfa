-- Triage results, routing, deadlines, repeat-signal clusters and the queue's indexes.

CREATE TABLE tip_clusters (
    id uuid PRIMARY KEY,
    -- municipality code + normalised facility name
    facility_key text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE tips
    ADD COLUMN priority text NOT NULL DEFAULT 'normal'
        CHECK (priority IN ('critical', 'high', 'normal', 'low')),
    -- 0 critical … 3 low: the queue's first sort key
    ADD COLUMN priority_rank smallint NOT NULL DEFAULT 2 CHECK (priority_rank BETWEEN 0 AND 3),
    ADD COLUMN triage_score integer NOT NULL DEFAULT 0,
    ADD COLUMN team text NOT NULL DEFAULT 'nationell',
    -- first review is due
    ADD COLUMN due_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN acknowledgement_due_at timestamptz,
    ADD COLUMN feedback_due_at timestamptz,
    -- the rules that fired: [{kind, rule, raise, detail}]
    ADD COLUMN triage jsonb NOT NULL DEFAULT '[]'::jsonb,
    ADD COLUMN triage_config_version text NOT NULL DEFAULT '',
    ADD COLUMN facility_key text,
    ADD COLUMN cluster_id uuid REFERENCES tip_clusters (id),
    ADD COLUMN assignee text CHECK (char_length(assignee) BETWEEN 1 AND 200),
    ADD COLUMN duplicate_of uuid REFERENCES tips (id),
    -- bumped by every change; the ETag
    ADD COLUMN version integer NOT NULL DEFAULT 1,
    -- Swedish full-text search over the description and the facility
    ADD COLUMN search tsvector GENERATED ALWAYS AS (
        to_tsvector('swedish', description || ' ' || coalesce(facility_name, ''))
    ) STORED,
    ADD CONSTRAINT tips_priority_rank_matches CHECK (
        priority_rank = CASE priority WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END
    ),
    ADD CONSTRAINT tips_duplicate_needs_outcome CHECK (
        duplicate_of IS NULL OR outcome = 'duplicate'
    );

-- The queue: open tips in priority, due-date, age order; per team and across teams.
CREATE INDEX tips_open_queue_idx ON tips (priority_rank, due_at, submitted_at, id)
    WHERE status IN ('new', 'in_review', 'awaiting_reporter');
CREATE INDEX tips_open_team_queue_idx ON tips (team, priority_rank, due_at, submitted_at, id)
    WHERE status IN ('new', 'in_review', 'awaiting_reporter');
CREATE INDEX tips_search_idx ON tips USING gin (search);
CREATE INDEX tips_facility_idx ON tips (facility_key, submitted_at) WHERE facility_key IS NOT NULL;
CREATE INDEX tips_cluster_idx ON tips (cluster_id) WHERE cluster_id IS NOT NULL;
