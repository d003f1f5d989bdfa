-- The notification outbox (DESIGN §6): jobs written in the same transaction as the event that
-- causes them (a tip, a tipster's reply, an overdue deadline), delivered by `tipsa worker`.

CREATE TABLE notification_jobs (
    id uuid PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN (
        'urgent_tip',        -- a critical or high tip, to its team at once
        'team_digest',       -- normal and low tips since the last digest, to one team
        'reporter_replied',  -- the tipster answered, to the assignee or the team
        'deadline_overdue',  -- first review is overdue, to the team's leads
        'reporter_ack'       -- receipt to an identified reporter with an email address
    )),
    -- the tip the job is about (none for a digest); the worker reads what it needs at send time,
    -- so no address, text or contact detail is copied into this table
    tip_id uuid REFERENCES tips (id) ON DELETE CASCADE,
    team text,
    -- kind-specific, never personal data (a digest's slot)
    payload jsonb NOT NULL DEFAULT '{}'::jsonb,
    -- makes enqueueing idempotent where two workers could race (digest per team and slot,
    -- one overdue notice per tip)
    dedupe_key text UNIQUE,
    state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'dead', 'skipped')),
    -- claims so far (a claim counts as an attempt, so a worker that died while sending shows)
    attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    -- not before: when a pending job is due; while leased, when the lease expires
    run_at timestamptz NOT NULL DEFAULT now(),
    -- the worker holding the current lease and the claim's token (null when not leased)
    locked_by text,
    lease_token uuid,
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    sent_at timestamptz,
    CHECK ((kind = 'team_digest') = (tip_id IS NULL)),
    CHECK ((state = 'sent') = (sent_at IS NOT NULL))
);
-- The worker's claim: due pending jobs, oldest first.
CREATE INDEX notification_jobs_due_idx ON notification_jobs (run_at) WHERE state = 'pending';
CREATE INDEX notification_jobs_dead_idx ON notification_jobs (updated_at) WHERE state = 'dead';
CREATE INDEX notification_jobs_tip_idx ON notification_jobs (tip_id) WHERE tip_id IS NOT NULL;

-- Normal and low tips waiting for their team's next digest, recorded with the tip.
CREATE TABLE notification_digest_entries (
    tip_id uuid PRIMARY KEY REFERENCES tips (id) ON DELETE CASCADE,
    team text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- the digest that lists the tip; null while waiting
    job_id uuid REFERENCES notification_jobs (id) ON DELETE SET NULL
);
CREATE INDEX notification_digest_entries_waiting_idx
    ON notification_digest_entries (team, created_at) WHERE job_id IS NULL;
CREATE INDEX notification_digest_entries_job_idx
    ON notification_digest_entries (job_id) WHERE job_id IS NOT NULL;

-- Wakes listening workers when a job becomes due now (LISTEN tipsa_notification_jobs).
-- Notifications with the same payload in one transaction are folded into one.
CREATE FUNCTION notification_jobs_wake() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('tipsa_notification_jobs', '');
    RETURN NULL;
END;
$$;
CREATE TRIGGER notification_jobs_wake AFTER INSERT ON notification_jobs
    FOR EACH ROW WHEN (NEW.run_at <= now()) EXECUTE FUNCTION notification_jobs_wake();
