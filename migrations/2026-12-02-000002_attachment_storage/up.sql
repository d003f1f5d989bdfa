-- Where each file's sealed chunks live: 'postgres' (attachment_chunks, the embedded default)
-- or 's3' (one object per chunk, {prefix}{attachment_id}/{seq}, in attachments.storage.s3).
-- Reads follow the row, writes the configured store, so changing the setting orphans nothing.
ALTER TABLE attachments
    ADD COLUMN storage text NOT NULL DEFAULT 'postgres' CHECK (storage IN ('postgres', 's3'));

-- Objects still to be deleted from object storage: the row is gone (its tip deleted, an
-- abandoned upload cleared, a disposal run), its objects are deleted by the housekeeper.
CREATE TABLE attachment_object_deletions (
    attachment_id uuid PRIMARY KEY,
    chunk_count int NOT NULL CHECK (chunk_count > 0),
    queued_at timestamptz NOT NULL DEFAULT now()
);

-- Every way a row goes (a direct DELETE, a tip's cascade) queues its objects.
CREATE FUNCTION queue_attachment_object_deletion() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO attachment_object_deletions (attachment_id, chunk_count)
    VALUES (OLD.id, OLD.chunk_count)
    ON CONFLICT (attachment_id) DO NOTHING;
    RETURN NULL;
END;
$$;

CREATE TRIGGER attachments_queue_object_deletion
    AFTER DELETE ON attachments
    FOR EACH ROW
    WHEN (OLD.storage = 's3')
    EXECUTE FUNCTION queue_attachment_object_deletion();
