-- Attachments: files sent with a tip or with a tipster's reply, cleaned of identifying metadata
-- before they get here, and stored sealed (XChaCha20-Poly1305 under an attachment key whose id
-- is kept per file, so keys can be rotated) in chunks, so no file is ever read or written whole.
CREATE TABLE attachments (
    id uuid PRIMARY KEY,
    -- NULL while the upload is pending (sent, not yet part of a stored tip or reply); a pending
    -- upload older than attachments.pending_hours is removed by the worker's cleanup.
    tip_id uuid REFERENCES tips (id) ON DELETE CASCADE,
    -- set when the file came with a tipster's reply
    message_id uuid REFERENCES tip_messages (id) ON DELETE CASCADE,
    -- 1, 2, … within its tip: the neutral name is bilaga-<position>.<extension>
    position int CHECK (position BETWEEN 1 AND 1000),
    -- who may reference a pending upload: the API key that sent it, or the keyed hash of the
    -- web form's draft token (never the token itself)
    uploaded_by_api_key uuid REFERENCES api_keys (id) ON DELETE CASCADE,
    draft_hash bytea,
    -- the type decided from the content: jpeg, png, pdf, docx, xlsx, odt, text, mp3, m4a, ogg
    kind text NOT NULL,
    size_bytes bigint NOT NULL CHECK (size_bytes > 0),
    width int,
    height int,
    key_id text NOT NULL,
    chunk_count int NOT NULL CHECK (chunk_count > 0),
    -- pending (waiting for the scanner), clean, infected, or unscanned (no scanner configured)
    scan_status text NOT NULL CHECK (scan_status IN ('pending', 'clean', 'infected', 'unscanned')),
    scan_signature text,
    scan_attempts int NOT NULL DEFAULT 0,
    next_scan_at timestamptz NOT NULL DEFAULT now(),
    scanned_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    attached_at timestamptz,
    CHECK ((tip_id IS NULL) = (position IS NULL)),
    CHECK (message_id IS NULL OR tip_id IS NOT NULL),
    CHECK (tip_id IS NOT NULL OR uploaded_by_api_key IS NOT NULL OR draft_hash IS NOT NULL),
    UNIQUE (tip_id, position)
);
CREATE INDEX attachments_tip_idx ON attachments (tip_id, position) WHERE tip_id IS NOT NULL;
CREATE INDEX attachments_pending_idx ON attachments (created_at) WHERE tip_id IS NULL;
CREATE INDEX attachments_draft_idx ON attachments (draft_hash) WHERE tip_id IS NULL;
CREATE INDEX attachments_scan_idx ON attachments (next_scan_at) WHERE scan_status = 'pending';

-- The sealed content, one row per chunk (attachments.chunk_bytes of plaintext, the last one
-- shorter). Each chunk is sealed with its attachment id, its number and whether it is the last
-- as associated data, so chunks cannot be reordered, swapped between files or cut off.
CREATE TABLE attachment_chunks (
    attachment_id uuid NOT NULL REFERENCES attachments (id) ON DELETE CASCADE,
    seq int NOT NULL CHECK (seq >= 0),
    sealed bytea NOT NULL,
    PRIMARY KEY (attachment_id, seq)
);
-- Sealed bytes do not compress: store them out of line without trying.
ALTER TABLE attachment_chunks ALTER COLUMN sealed SET STORAGE EXTERNAL;
