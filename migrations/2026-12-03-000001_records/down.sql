UPDATE api_keys SET scopes = array_remove(scopes, 'records:write');
ALTER TABLE api_keys DROP CONSTRAINT api_keys_scopes_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_scopes_check CHECK (
    scopes <@ ARRAY['tips:submit', 'tips:read', 'tips:write', 'stats:read']::text[]);
DROP TABLE disposal_runs;
DROP TABLE disclosure_copies;
DROP TABLE records_request_tips;
DROP TABLE records_requests;
DROP SEQUENCE records_request_number;
DROP TABLE legal_holds;
DROP INDEX tips_disposal_candidates_idx;
ALTER TABLE tips DROP CONSTRAINT tips_description_check;
ALTER TABLE tips ADD CONSTRAINT tips_description_check
    CHECK (char_length(description) BETWEEN 20 AND 10000);
ALTER TABLE tips DROP CONSTRAINT tips_contact_matches_anonymity;
ALTER TABLE tips ADD CONSTRAINT tips_check CHECK (anonymous = (contact_ciphertext IS NULL));
DROP TRIGGER tips_track_closed_at ON tips;
DROP FUNCTION tips_track_closed_at();
ALTER TABLE tips
    DROP COLUMN disposal_rule,
    DROP COLUMN disposed_at,
    DROP COLUMN closed_at;
