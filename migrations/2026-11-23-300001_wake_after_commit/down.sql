CREATE FUNCTION notification_jobs_wake() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('tipsa_notification_jobs', '');
    RETURN NULL;
END;
$$;
CREATE TRIGGER notification_jobs_wake AFTER INSERT ON notification_jobs
    FOR EACH ROW WHEN (NEW.run_at <= now()) EXECUTE FUNCTION notification_jobs_wake();
