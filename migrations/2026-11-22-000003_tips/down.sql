DROP TABLE tip_events;
DROP TABLE tips;
DROP FUNCTION next_tip_reference(timestamptz);
-- the per-year reference sequences created by next_tip_reference
DO $$
DECLARE s record;
BEGIN
    FOR s IN SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind = 'S' AND n.nspname = current_schema() AND c.relname ~ '^tip_reference_[0-9]+$'
    LOOP
        EXECUTE format('DROP SEQUENCE %I', s.relname);
    END LOOP;
END;
$$;
