DROP TRIGGER notification_jobs_wake ON notification_jobs;
DROP FUNCTION notification_jobs_wake();
DROP TABLE notification_digest_entries;
DROP TABLE notification_jobs;
