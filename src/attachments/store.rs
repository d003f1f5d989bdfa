//! Sealed, chunked storage of cleaned files: a file is cut into `attachments.chunk_bytes`
//! pieces, each sealed on its own (bound to the file, its number and whether it is the last),
//! and written a few chunks per statement into PostgreSQL — or one object per chunk into a
//! bucket (`blob`), the row written only once every object is — so neither writing nor reading
//! ever needs a second whole copy of the file. Reads follow the row's `storage`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::blob::{BlobError, BlobStore};
use super::clean::FileKind;
use super::{AttachmentInfo, ScanStatus};
use crate::config::StorageKind;
use crate::crypto::{Crypto, CryptoError};
use crate::db::schema::{attachment_chunks, attachments};

/// Chunks sealed and sent to the database per statement: a few MiB at a time.
const CHUNKS_PER_STATEMENT: usize = 4;

/// Who may reference a pending upload until it is part of a tip.
#[derive(Debug, Clone)]
pub enum Owner {
    /// The API key that sent it.
    ApiKey(Uuid),
    /// The keyed hash of a web form's draft token.
    Draft(Vec<u8>),
}

/// A cleaned file to be stored.
pub struct NewFile<'a> {
    pub kind: FileKind,
    pub bytes: &'a [u8],
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub scan_status: ScanStatus,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storing or reading an attachment failed")]
    Database(#[from] diesel::result::Error),
    #[error("sealing or opening an attachment failed")]
    Crypto(#[from] CryptoError),
    #[error("the attachment's stored chunks are incomplete")]
    Incomplete,
    #[error("storing or reading an attachment in object storage failed")]
    Object(#[from] BlobError),
}

/// The associated data of one chunk: which file, which piece, and whether it ends the file
/// (so a file cut short after a whole chunk cannot pass for complete).
pub(crate) fn chunk_context(id: Uuid, seq: i32, last: bool) -> Vec<u8> {
    let mut context = Vec::with_capacity(40);
    context.extend_from_slice(b"tipsa attachment v1\0");
    context.extend_from_slice(id.as_bytes());
    context.extend_from_slice(&seq.to_be_bytes());
    context.push(u8::from(last));
    context
}

fn to_i32(value: usize) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

/// Stores a cleaned file as a pending upload of `owner` where `blobs` writes: in PostgreSQL all
/// chunks in one transaction with the row; in a bucket every chunk's object first, then the row.
pub async fn insert_pending(
    conn: &mut AsyncPgConnection,
    crypto: &Crypto,
    blobs: &BlobStore,
    file: &NewFile<'_>,
    owner: &Owner,
    chunk_bytes: usize,
) -> Result<AttachmentInfo, StoreError> {
    let id = Uuid::now_v7();
    let storage = blobs.writes_to();
    if storage == StorageKind::S3 {
        let written = put_objects(crypto, blobs, id, file.bytes, chunk_bytes).await;
        let stored = match written {
            Ok(()) => insert_row(conn, crypto, file, owner, id, chunk_bytes, storage).await,
            Err(error) => Err(error),
        };
        if stored.is_err() {
            // Best effort: a put that failed half-way, or a crash right here, can still leave
            // objects without a row (the bucket's listing would show them; nothing reads them).
            let chunk_count = to_i32(file.bytes.len().div_ceil(chunk_bytes).max(1));
            if blobs.delete_file(id, chunk_count).await.is_err() {
                tracing::warn!(
                    chunks = chunk_count,
                    "deleting the objects of a file that was not stored failed"
                );
            }
        }
        return stored;
    }
    insert_row(conn, crypto, file, owner, id, chunk_bytes, storage).await
}

/// Seals every chunk and writes it as its object, one at a time.
async fn put_objects(
    crypto: &Crypto,
    blobs: &BlobStore,
    id: Uuid,
    bytes: &[u8],
    chunk_bytes: usize,
) -> Result<(), StoreError> {
    let chunk_count = bytes.len().div_ceil(chunk_bytes).max(1);
    for (seq, piece) in bytes.chunks(chunk_bytes).enumerate() {
        let context = chunk_context(id, to_i32(seq), seq + 1 == chunk_count);
        let (_, sealed) = crypto.seal_attachment(piece, &context)?;
        blobs.put_chunk(id, to_i32(seq), sealed).await?;
    }
    Ok(())
}

/// The row, and in PostgreSQL the chunks with it, in one transaction.
async fn insert_row(
    conn: &mut AsyncPgConnection,
    crypto: &Crypto,
    file: &NewFile<'_>,
    owner: &Owner,
    id: Uuid,
    chunk_bytes: usize,
    storage: StorageKind,
) -> Result<AttachmentInfo, StoreError> {
    let chunk_count = file.bytes.len().div_ceil(chunk_bytes).max(1);
    let key_id = crypto.active_attachment_key().to_owned();
    let (api_key, draft_hash) = match owner {
        Owner::ApiKey(key) => (Some(*key), None),
        Owner::Draft(hash) => (None, Some(hash.clone())),
    };
    let size = i64::try_from(file.bytes.len()).unwrap_or(i64::MAX);
    let width = file.width.and_then(|w| i32::try_from(w).ok());
    let height = file.height.and_then(|h| i32::try_from(h).ok());
    let created_at: DateTime<Utc> = conn
        .transaction::<_, StoreError, _>(async |conn| {
            let created_at = diesel::insert_into(attachments::table)
                .values((
                    attachments::id.eq(id),
                    attachments::uploaded_by_api_key.eq(api_key),
                    attachments::draft_hash.eq(draft_hash),
                    attachments::kind.eq(file.kind.code()),
                    attachments::size_bytes.eq(size),
                    attachments::width.eq(width),
                    attachments::height.eq(height),
                    attachments::key_id.eq(&key_id),
                    attachments::chunk_count.eq(to_i32(chunk_count)),
                    attachments::scan_status.eq(file.scan_status.as_str()),
                    attachments::storage.eq(storage.as_str()),
                ))
                .returning(attachments::created_at)
                .get_result(conn)
                .await?;
            if storage == StorageKind::S3 {
                return Ok(created_at);
            }
            let pieces: Vec<&[u8]> = file.bytes.chunks(chunk_bytes).collect();
            for (group_index, group) in pieces.chunks(CHUNKS_PER_STATEMENT).enumerate() {
                let mut rows = Vec::with_capacity(group.len());
                for (offset, piece) in group.iter().enumerate() {
                    let seq = group_index * CHUNKS_PER_STATEMENT + offset;
                    let last = seq + 1 == chunk_count;
                    let context = chunk_context(id, to_i32(seq), last);
                    let (_, sealed) = crypto.seal_attachment(piece, &context)?;
                    rows.push((
                        attachment_chunks::attachment_id.eq(id),
                        attachment_chunks::seq.eq(to_i32(seq)),
                        attachment_chunks::sealed.eq(sealed),
                    ));
                }
                diesel::insert_into(attachment_chunks::table)
                    .values(&rows)
                    .execute(conn)
                    .await?;
            }
            Ok(created_at)
        })
        .await?;
    Ok(AttachmentInfo {
        id,
        tip_id: None,
        message_id: None,
        position: None,
        kind: file.kind,
        size_bytes: size,
        width,
        height,
        key_id,
        chunk_count: to_i32(chunk_count),
        storage,
        scan_status: file.scan_status,
        scan_signature: None,
        created_at,
    })
}

/// The columns `AttachmentInfo` is read from, as stored (codes as text).
#[derive(Queryable, Selectable)]
#[diesel(table_name = attachments)]
struct InfoRow {
    id: Uuid,
    tip_id: Option<Uuid>,
    message_id: Option<Uuid>,
    position: Option<i32>,
    kind: String,
    size_bytes: i64,
    width: Option<i32>,
    height: Option<i32>,
    key_id: String,
    chunk_count: i32,
    storage: String,
    scan_status: String,
    scan_signature: Option<String>,
    created_at: DateTime<Utc>,
}

/// The row as the domain sees it; a code this build does not know hides the row.
fn info_from(row: InfoRow) -> Option<AttachmentInfo> {
    Some(AttachmentInfo {
        id: row.id,
        tip_id: row.tip_id,
        message_id: row.message_id,
        position: row.position,
        kind: FileKind::from_code(&row.kind)?,
        size_bytes: row.size_bytes,
        width: row.width,
        height: row.height,
        key_id: row.key_id,
        chunk_count: row.chunk_count,
        storage: StorageKind::parse(&row.storage)?,
        scan_status: ScanStatus::parse(&row.scan_status)?,
        scan_signature: row.scan_signature,
        created_at: row.created_at,
    })
}

/// Any file by id (the housekeeper's scans).
pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<AttachmentInfo>> {
    let row: Option<InfoRow> = attachments::table
        .find(id)
        .select(InfoRow::as_select())
        .first(conn)
        .await
        .optional()?;
    Ok(row.and_then(info_from))
}

/// The files of a tip, in their order.
pub async fn list_for_tip(
    conn: &mut AsyncPgConnection,
    tip_id: Uuid,
) -> QueryResult<Vec<AttachmentInfo>> {
    let rows: Vec<InfoRow> = attachments::table
        .filter(attachments::tip_id.eq(tip_id))
        .order(attachments::position.asc())
        .select(InfoRow::as_select())
        .load(conn)
        .await?;
    Ok(rows.into_iter().filter_map(info_from).collect())
}

/// One file of a tip (None when it is not that tip's).
pub async fn find_in_tip(
    conn: &mut AsyncPgConnection,
    tip_id: Uuid,
    id: Uuid,
) -> QueryResult<Option<AttachmentInfo>> {
    let row: Option<InfoRow> = attachments::table
        .filter(attachments::id.eq(id))
        .filter(attachments::tip_id.eq(tip_id))
        .select(InfoRow::as_select())
        .first(conn)
        .await
        .optional()?;
    Ok(row.and_then(info_from))
}

/// Pending uploads of a web form draft, oldest first.
pub async fn list_pending_of_draft(
    conn: &mut AsyncPgConnection,
    draft_hash: &[u8],
) -> QueryResult<Vec<AttachmentInfo>> {
    let rows: Vec<InfoRow> = attachments::table
        .filter(attachments::tip_id.is_null())
        .filter(attachments::draft_hash.eq(draft_hash))
        .order((attachments::created_at.asc(), attachments::id.asc()))
        .select(InfoRow::as_select())
        .load(conn)
        .await?;
    Ok(rows.into_iter().filter_map(info_from).collect())
}

/// Reads and opens chunk `seq` of a file, from where its row says it is.
pub async fn read_chunk(
    conn: &mut AsyncPgConnection,
    crypto: &Crypto,
    blobs: &BlobStore,
    info: &AttachmentInfo,
    seq: i32,
) -> Result<Vec<u8>, StoreError> {
    let sealed: Option<Vec<u8>> = match info.storage {
        StorageKind::Postgres => attachment_chunks::table
            .filter(attachment_chunks::attachment_id.eq(info.id))
            .filter(attachment_chunks::seq.eq(seq))
            .select(attachment_chunks::sealed)
            .first(conn)
            .await
            .optional()?,
        StorageKind::S3 if (0..info.chunk_count).contains(&seq) => {
            blobs.get_chunk(info.id, seq).await?
        }
        StorageKind::S3 => None,
    };
    let sealed = sealed.ok_or(StoreError::Incomplete)?;
    let context = chunk_context(info.id, seq, seq + 1 == info.chunk_count);
    Ok(crypto.open_attachment(&info.key_id, &sealed, &context)?)
}

/// The whole file (previews, scanning of small files): only for callers that bound how many
/// run at once.
pub async fn read_all(
    conn: &mut AsyncPgConnection,
    crypto: &Crypto,
    blobs: &BlobStore,
    info: &AttachmentInfo,
) -> Result<Vec<u8>, StoreError> {
    let mut bytes = Vec::with_capacity(usize::try_from(info.size_bytes).unwrap_or(0));
    for seq in 0..info.chunk_count {
        bytes.extend_from_slice(&read_chunk(conn, crypto, blobs, info, seq).await?);
    }
    Ok(bytes)
}

/// Deletes pending uploads by id (a request that failed after storing some of its files).
/// Objects in a bucket are queued for the housekeeper by the database's trigger.
pub async fn delete_pending(conn: &mut AsyncPgConnection, ids: &[Uuid]) -> QueryResult<usize> {
    if ids.is_empty() {
        return Ok(0);
    }
    diesel::delete(
        attachments::table
            .filter(attachments::id.eq_any(ids))
            .filter(attachments::tip_id.is_null()),
    )
    .execute(conn)
    .await
}

/// Deletes one pending upload of a draft (the tipster removed it in the preview).
pub async fn delete_pending_of_draft(
    conn: &mut AsyncPgConnection,
    draft_hash: &[u8],
    id: Uuid,
) -> QueryResult<usize> {
    diesel::delete(
        attachments::table
            .filter(attachments::id.eq(id))
            .filter(attachments::tip_id.is_null())
            .filter(attachments::draft_hash.eq(draft_hash)),
    )
    .execute(conn)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_contexts_differ_by_file_position_and_end() {
        let a = Uuid::now_v7();
        let b = Uuid::now_v7();
        assert_ne!(chunk_context(a, 0, false), chunk_context(b, 0, false));
        assert_ne!(chunk_context(a, 0, false), chunk_context(a, 1, false));
        assert_ne!(chunk_context(a, 1, false), chunk_context(a, 1, true));
    }
}
