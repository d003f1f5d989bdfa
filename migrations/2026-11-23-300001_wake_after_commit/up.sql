-- Workers are woken after the commit, by the writer (`notify::wake`), not by a NOTIFY inside
-- the writing transaction: PostgreSQL serialises the commits of transactions that notify, which
-- made every urgent tip wait for the previous one's disk flush. Jobs written by anything else
-- are found by the workers' polling.
DROP TRIGGER notification_jobs_wake ON notification_jobs;
DROP FUNCTION notification_jobs_wake();
