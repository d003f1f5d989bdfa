DROP INDEX attachments_message_idx;
DROP INDEX tips_duplicate_of_idx;
