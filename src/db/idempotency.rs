//! Queries on `idempotency_keys`: claim a key before the work, complete it with the response in
//! the work's own transaction, release it when the work fails.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::schema::idempotency_keys;

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = idempotency_keys)]
pub struct IdempotencyRow {
    pub request_hash: Vec<u8>,
    pub state: String,
    pub response_status: Option<i16>,
    pub response_location: Option<String>,
    pub response_ciphertext: Option<Vec<u8>>,
    pub response_key_id: Option<String>,
    pub locked_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// Tries to claim the key for new work. True when this caller now owns it: the key was unused,
/// had expired, or was left in flight by a request that died (`stale_before`).
pub async fn try_claim(
    conn: &mut AsyncPgConnection,
    api_key_id: Uuid,
    key: &str,
    request_hash: &[u8],
    expires_at: DateTime<Utc>,
    stale_before: DateTime<Utc>,
) -> QueryResult<bool> {
    use idempotency_keys::dsl as k;
    let now = Utc::now();
    let claimed = diesel::insert_into(idempotency_keys::table)
        .values((
            k::api_key_id.eq(api_key_id),
            k::idempotency_key.eq(key),
            k::request_hash.eq(request_hash),
            k::state.eq("in_flight"),
            k::locked_at.eq(now),
            k::expires_at.eq(expires_at),
        ))
        .on_conflict((k::api_key_id, k::idempotency_key))
        .do_nothing()
        .execute(conn)
        .await?;
    if claimed == 1 {
        return Ok(true);
    }
    // Take over an expired record, or an in-flight one whose owner has evidently died.
    let taken = diesel::update(
        idempotency_keys::table
            .filter(k::api_key_id.eq(api_key_id))
            .filter(k::idempotency_key.eq(key))
            .filter(
                k::expires_at
                    .lt(now)
                    .or(k::state.eq("in_flight").and(k::locked_at.lt(stale_before))),
            ),
    )
    .set((
        k::request_hash.eq(request_hash),
        k::state.eq("in_flight"),
        k::response_status.eq(None::<i16>),
        k::response_location.eq(None::<String>),
        k::response_ciphertext.eq(None::<Vec<u8>>),
        k::response_key_id.eq(None::<String>),
        k::created_at.eq(now),
        k::locked_at.eq(now),
        k::expires_at.eq(expires_at),
    ))
    .execute(conn)
    .await?;
    Ok(taken == 1)
}

pub async fn find(
    conn: &mut AsyncPgConnection,
    api_key_id: Uuid,
    key: &str,
) -> QueryResult<Option<IdempotencyRow>> {
    idempotency_keys::table
        .find((api_key_id, key))
        .select(IdempotencyRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// Stores the response; call inside the transaction that did the work.
pub async fn complete(
    conn: &mut AsyncPgConnection,
    api_key_id: Uuid,
    key: &str,
    status: i16,
    location: Option<&str>,
    sealed_body: (&str, &[u8]),
) -> QueryResult<()> {
    use idempotency_keys::dsl as k;
    diesel::update(idempotency_keys::table.find((api_key_id, key)))
        .set((
            k::state.eq("completed"),
            k::response_status.eq(Some(status)),
            k::response_location.eq(location),
            k::response_key_id.eq(Some(sealed_body.0)),
            k::response_ciphertext.eq(Some(sealed_body.1)),
        ))
        .execute(conn)
        .await
        .map(|_| ())
}

/// Forgets an in-flight claim whose work failed, so the client may try again.
pub async fn release(conn: &mut AsyncPgConnection, api_key_id: Uuid, key: &str) -> QueryResult<()> {
    use idempotency_keys::dsl as k;
    diesel::delete(
        idempotency_keys::table
            .find((api_key_id, key))
            .filter(k::state.eq("in_flight")),
    )
    .execute(conn)
    .await
    .map(|_| ())
}
