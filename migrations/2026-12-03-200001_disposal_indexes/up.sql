-- Disposal deletes tips and messages in batches; each deleted row makes PostgreSQL look for
-- rows that reference it. Without these indexes every deleted tip scanned the whole tips
-- table (`duplicate_of`) and every deleted message the whole attachments table
-- (`message_id`): measured, one batch of 200 whole disposals took over a minute on the
-- million-tip bench database.
CREATE INDEX tips_duplicate_of_idx ON tips (duplicate_of) WHERE duplicate_of IS NOT NULL;
CREATE INDEX attachments_message_idx ON attachments (message_id) WHERE message_id IS NOT NULL;
