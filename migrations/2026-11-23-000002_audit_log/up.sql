-- The audit log: who read or changed what, and when. Append-only (a trigger refuses UPDATE,
-- DELETE and TRUNCATE), and chained: each row's `hash` is a keyed MAC over the previous row's
-- hash and this row's fields, so an edited, removed or inserted row breaks the chain, which
-- `tipsa audit verify` checks. Rows are numbered without gaps under a lock.
CREATE TABLE audit_log (
    seq bigint PRIMARY KEY CHECK (seq >= 1),
    at timestamptz NOT NULL,
    -- 'user:<uuid>', 'api_key:<uuid>' or 'cli:<what>'
    actor text NOT NULL,
    action text NOT NULL,
    tip_id uuid,
    -- JSON text exactly as hashed (reasons, changed fields, filters of an export)
    detail text NOT NULL DEFAULT '{}',
    request_id text,
    prev_hash bytea NOT NULL,
    hash bytea NOT NULL
);
CREATE INDEX audit_log_tip_id_idx ON audit_log (tip_id, seq) WHERE tip_id IS NOT NULL;
CREATE INDEX audit_log_actor_idx ON audit_log (actor, seq);
CREATE INDEX audit_log_action_idx ON audit_log (action, seq);

CREATE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only();
