-- Full-text search over open tips only: the queue lists open tips by default, and most stored
-- tips are closed, so a partial index keeps text queries on the queue small and fast. The full
-- index stays for searches across closed tips.
CREATE INDEX tips_open_search_idx ON tips USING gin (search)
    WHERE status IN ('new', 'in_review', 'awaiting_reporter');
