//! Key rotation's second half: re-sealing what was sealed with a key that is no longer the
//! active one (contact details, TOTP secrets, attachments stored in PostgreSQL), so the old
//! key can be removed from the configuration afterwards.
//!
//! Each value is re-sealed in its own short statement, guarded by the key id it was read with,
//! so the command can run while the service runs, be interrupted and run again: what is done
//! stays done, and a value changed meanwhile is simply picked up by the next pass. Files in
//! an S3 bucket are not rewritten (their chunks are objects; see README, key rotation).

use anyhow::Context;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bytea, Text, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::Crypto;
use crate::attachments::store::chunk_context;
use crate::db::schema::{attachment_chunks, attachments};

/// Values sealed with an older key: found (dry run) or re-sealed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stale {
    pub contact_details: u64,
    pub totp_secrets: u64,
    /// Who asked, on public-records requests.
    pub records_requesters: u64,
    pub attachments: u64,
    /// Files in a bucket still sealed with an older attachment key (not re-sealed).
    pub attachments_in_bucket: u64,
}

/// Counts what `reseal` would re-seal.
pub async fn count(conn: &mut AsyncPgConnection, crypto: &Crypto) -> QueryResult<Stale> {
    let attachment_key = crypto.active_attachment_key();
    let contact_details = count_stale(conn, crypto, &CONTACT_DETAILS).await?;
    let totp_secrets = count_stale(conn, crypto, &TOTP_SECRETS).await?;
    let records_requesters = count_stale(conn, crypto, &RECORDS_REQUESTERS).await?;
    let stale_files = attachments::table.filter(attachments::key_id.ne(attachment_key));
    let in_database: i64 = stale_files
        .filter(attachments::storage.eq("postgres"))
        .count()
        .get_result(conn)
        .await?;
    let in_bucket: i64 = stale_files
        .filter(attachments::storage.ne("postgres"))
        .count()
        .get_result(conn)
        .await?;
    Ok(Stale {
        contact_details,
        totp_secrets,
        records_requesters,
        attachments: to_u64(in_database),
        attachments_in_bucket: to_u64(in_bucket),
    })
}

/// Re-seals every value sealed with an older key, `batch` rows at a time.
pub async fn reseal(
    conn: &mut AsyncPgConnection,
    crypto: &Crypto,
    batch: i64,
) -> anyhow::Result<Stale> {
    let contact_details = reseal_field(conn, crypto, &CONTACT_DETAILS, batch)
        .await
        .context("re-sealing contact details")?;
    let totp_secrets = reseal_field(conn, crypto, &TOTP_SECRETS, batch)
        .await
        .context("re-sealing TOTP secrets")?;
    let records_requesters = reseal_field(conn, crypto, &RECORDS_REQUESTERS, batch)
        .await
        .context("re-sealing the requesters of public-records requests")?;
    let attachments = reseal_attachments(conn, crypto, batch)
        .await
        .context("re-sealing attachments")?;
    let left = count(conn, crypto).await?;
    Ok(Stale {
        contact_details,
        totp_secrets,
        records_requesters,
        attachments,
        attachments_in_bucket: left.attachments_in_bucket,
    })
}

/// A sealed field: its table, and the columns of the row id (also the sealing context), the
/// key id and the sealed bytes. Constants of this module only (they are put into SQL).
struct SealedField {
    table: &'static str,
    id: &'static str,
    key_id: &'static str,
    sealed: &'static str,
    what: &'static str,
}

const CONTACT_DETAILS: SealedField = SealedField {
    table: "tips",
    id: "id",
    key_id: "contact_key_id",
    sealed: "contact_ciphertext",
    what: "the contact details of tip",
};

const RECORDS_REQUESTERS: SealedField = SealedField {
    table: "records_requests",
    id: "id",
    key_id: "requester_key_id",
    sealed: "requester_ciphertext",
    what: "the requester of public-records request",
};

const TOTP_SECRETS: SealedField = SealedField {
    table: "users",
    id: "id",
    key_id: "totp_key_id",
    sealed: "totp_ciphertext",
    what: "the TOTP secret of account",
};

#[derive(diesel::QueryableByName)]
struct SealedRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Text)]
    key_id: String,
    #[diesel(sql_type = Bytea)]
    sealed: Vec<u8>,
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Rows of `field` sealed with a key other than the active one (what `reseal_field` takes).
async fn count_stale(
    conn: &mut AsyncPgConnection,
    crypto: &Crypto,
    field: &SealedField,
) -> QueryResult<u64> {
    let SealedField {
        table,
        key_id,
        sealed,
        ..
    } = field;
    let counted: Count = diesel::sql_query(format!(
        "SELECT count(*) AS n FROM {table} WHERE {key_id} <> $1 AND {sealed} IS NOT NULL"
    ))
    .bind::<Text, _>(crypto.active_field_key())
    .get_result(conn)
    .await?;
    Ok(to_u64(counted.n))
}

/// Re-seals one field of every row whose key is not the active one; each row is bound to its
/// id, as when it was first sealed.
async fn reseal_field(
    conn: &mut AsyncPgConnection,
    crypto: &Crypto,
    field: &SealedField,
    batch: i64,
) -> anyhow::Result<u64> {
    let SealedField {
        table,
        id,
        key_id,
        sealed,
        what,
    } = field;
    let select = format!(
        "SELECT {id} AS id, {key_id} AS key_id, {sealed} AS sealed FROM {table} \
         WHERE {key_id} <> $1 AND {sealed} IS NOT NULL LIMIT $2"
    );
    let update = format!(
        "UPDATE {table} SET {sealed} = $1, {key_id} = $2 WHERE {id} = $3 AND {key_id} = $4"
    );
    let active = crypto.active_field_key().to_owned();
    let mut done = 0;
    loop {
        let rows: Vec<SealedRow> = diesel::sql_query(&select)
            .bind::<Text, _>(&active)
            .bind::<BigInt, _>(batch)
            .load(conn)
            .await?;
        if rows.is_empty() {
            return Ok(done);
        }
        for row in rows {
            let plaintext = crypto
                .open(&row.key_id, &row.sealed, row.id.as_bytes())
                .with_context(|| format!("opening {what} {}", row.id))?;
            let (new_key, resealed) = crypto.seal(&plaintext, row.id.as_bytes())?;
            done += diesel::sql_query(&update)
                .bind::<Bytea, _>(resealed)
                .bind::<Text, _>(new_key)
                .bind::<SqlUuid, _>(row.id)
                .bind::<Text, _>(&row.key_id)
                .execute(conn)
                .await? as u64;
        }
    }
}

/// A file's chunks are re-sealed in one transaction (a file is never half old, half new).
async fn reseal_attachments(
    conn: &mut AsyncPgConnection,
    crypto: &Crypto,
    batch: i64,
) -> anyhow::Result<u64> {
    let active = crypto.active_attachment_key().to_owned();
    let mut done = 0;
    loop {
        let files: Vec<(Uuid, String, i32)> = attachments::table
            .filter(attachments::key_id.ne(&active))
            .filter(attachments::storage.eq("postgres"))
            .select((
                attachments::id,
                attachments::key_id,
                attachments::chunk_count,
            ))
            .limit(batch)
            .load(conn)
            .await?;
        if files.is_empty() {
            return Ok(done);
        }
        for (id, key_id, chunk_count) in files {
            conn.transaction::<_, anyhow::Error, _>(async |conn| {
                let chunks: Vec<(i32, Vec<u8>)> = attachment_chunks::table
                    .filter(attachment_chunks::attachment_id.eq(id))
                    .select((attachment_chunks::seq, attachment_chunks::sealed))
                    .order(attachment_chunks::seq)
                    .for_update()
                    .load(conn)
                    .await?;
                for (seq, sealed) in chunks {
                    let context = chunk_context(id, seq, seq + 1 == chunk_count);
                    let plaintext = crypto
                        .open_attachment(&key_id, &sealed, &context)
                        .with_context(|| format!("opening chunk {seq} of attachment {id}"))?;
                    let (_, resealed) = crypto.seal_attachment(&plaintext, &context)?;
                    diesel::update(attachment_chunks::table.find((id, seq)))
                        .set(attachment_chunks::sealed.eq(resealed))
                        .execute(conn)
                        .await?;
                }
                diesel::update(
                    attachments::table
                        .find(id)
                        .filter(attachments::key_id.eq(&key_id)),
                )
                .set(attachments::key_id.eq(&active))
                .execute(conn)
                .await?;
                Ok(())
            })
            .await?;
            done += 1;
        }
    }
}

fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or_default()
}
