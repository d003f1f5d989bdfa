DROP TRIGGER attachments_queue_object_deletion ON attachments;
DROP FUNCTION queue_attachment_object_deletion();
DROP TABLE attachment_object_deletions;
ALTER TABLE attachments DROP COLUMN storage;
