-- Full-text search over open tips only: the queue lists open tips by default, and most stored
-- tips are closed, so a partial index keeps text queries on the queue small and fast. The full
-- index stays for searches across closed tips.
CREATE INDEX tips_open_search_idx ON tips USING gin (search)
    WHERE status IN ('new', 'in_review', 'awaiting_reporter');

-- Repeat signals: counting a facility's recent tips stops at the threshold, and linking a new
-- cluster touches only the facility's tips not yet in one.
CREATE INDEX tips_unclustered_facility_idx ON tips (facility_key, submitted_at)
    WHERE facility_key IS NOT NULL AND cluster_id IS NULL;
