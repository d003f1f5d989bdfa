//! The database side of triage: counting earlier tips about the same facility, linking a
//! cluster when the repeat threshold is reached, and re-triage of stored tips. Call these
//! inside a transaction.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::schema::{tip_clusters, tips};

/// Start of the repeat window for a tip arriving at `now`.
pub fn window_start(now: DateTime<Utc>, window_days: u32) -> DateTime<Utc> {
    now - Duration::days(i64::from(window_days))
}

/// What a new tip needs to know about its facility's recent past.
pub struct FacilityHistory {
    /// Tips since the window start, counted up to the threshold.
    pub recent: i64,
    /// The cluster the most recent of them belongs to, if any.
    pub cluster_id: Option<Uuid>,
}

/// The statement reading a facility's recent history (run after taking its lock).
fn history_query(
    facility_key: &str,
    since: DateTime<Utc>,
    at_most: u32,
) -> impl diesel_async::methods::LoadQuery<'static, AsyncPgConnection, HistoryRow>
+ for<'c> diesel_async::methods::LoadQuery<'static, &'c AsyncPgConnection, HistoryRow>
+ Send
+ 'static {
    diesel::sql_query(
        "SELECT (SELECT count(*) FROM (SELECT 1 FROM tips WHERE facility_key = $1 \
                    AND submitted_at >= $2 LIMIT $3) recent) AS recent, \
                (SELECT cluster_id FROM tips WHERE facility_key = $1 AND submitted_at >= $2 \
                    AND cluster_id IS NOT NULL ORDER BY submitted_at DESC LIMIT 1) AS cluster_id",
    )
    .bind::<Text, _>(facility_key.to_owned())
    .bind::<diesel::sql_types::Timestamptz, _>(since)
    .bind::<BigInt, _>(i64::from(at_most))
}

#[derive(QueryableByName)]
pub struct HistoryRow {
    #[diesel(sql_type = BigInt)]
    recent: i64,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Uuid>)]
    cluster_id: Option<Uuid>,
}

/// Takes the facility's lock (held until the transaction ends, so tips arriving at once see
/// each other), then reads its recent history. Two statements on purpose: a statement's
/// snapshot is taken when it starts, so a read in the locking statement would miss a tip
/// committed while this one waited for the lock.
pub async fn lock_and_read_facility(
    conn: &mut AsyncPgConnection,
    facility_key: &str,
    since: DateTime<Utc>,
    at_most: u32,
) -> QueryResult<FacilityHistory> {
    lock_facility(conn, facility_key).await?;
    let row: HistoryRow = history_query(facility_key, since, at_most)
        .get_result(conn)
        .await?;
    Ok(FacilityHistory {
        recent: row.recent,
        cluster_id: row.cluster_id,
    })
}

/// Opens a transaction, takes the facility's lock and reads its history in one round trip:
/// the three statements are pipelined, and the server runs them in order, so the read's
/// snapshot is taken after the lock is held. The caller must end the transaction.
pub async fn begin_lock_and_read_facility(
    conn: &AsyncPgConnection,
    facility_key: &str,
    since: DateTime<Utc>,
    at_most: u32,
) -> QueryResult<FacilityHistory> {
    // One shared handle per statement: each future borrows its own.
    let (mut first, mut second, mut third) = (conn, conn, conn);
    let begin = diesel::sql_query("BEGIN").execute(&mut first);
    let lock = diesel::sql_query("SELECT pg_advisory_xact_lock(7465, hashtext($1))")
        .bind::<Text, _>(facility_key.to_owned())
        .execute(&mut second);
    let read = history_query(facility_key, since, at_most).get_result::<HistoryRow>(&mut third);
    let (_, _, row) = futures_util::future::try_join3(begin, lock, read).await?;
    Ok(FacilityHistory {
        recent: row.recent,
        cluster_id: row.cluster_id,
    })
}

/// Starts a cluster for the facility and links its tips since `since` to it.
pub async fn start_cluster(
    conn: &mut AsyncPgConnection,
    facility_key: &str,
    since: DateTime<Utc>,
) -> QueryResult<Uuid> {
    let id = Uuid::now_v7();
    diesel::insert_into(tip_clusters::table)
        .values((
            tip_clusters::id.eq(id),
            tip_clusters::facility_key.eq(facility_key),
        ))
        .execute(conn)
        .await?;
    link_unclustered(conn, facility_key, since, id).await?;
    Ok(id)
}

/// Links the facility's tips since `since` that are in no cluster yet.
async fn link_unclustered(
    conn: &mut AsyncPgConnection,
    facility_key: &str,
    since: DateTime<Utc>,
    cluster_id: Uuid,
) -> QueryResult<usize> {
    diesel::update(
        tips::table
            .filter(tips::facility_key.eq(facility_key))
            .filter(tips::submitted_at.ge(since))
            .filter(tips::cluster_id.is_null()),
    )
    .set(tips::cluster_id.eq(cluster_id))
    .execute(conn)
    .await
}

/// Serialises submissions about one facility until the transaction ends.
pub async fn lock_facility(conn: &mut AsyncPgConnection, facility_key: &str) -> QueryResult<()> {
    diesel::sql_query("SELECT pg_advisory_xact_lock(7465, hashtext($1))")
        .bind::<Text, _>(facility_key)
        .execute(conn)
        .await
        .map(|_| ())
}

/// The cluster for the facility's tips since `since`: an existing one among them, or a new
/// one. Every tip of the window joins it, so each member can show the others.
pub async fn link_cluster(
    conn: &mut AsyncPgConnection,
    facility_key: &str,
    since: DateTime<Utc>,
) -> QueryResult<Uuid> {
    let existing: Option<Uuid> = tips::table
        .filter(tips::facility_key.eq(facility_key))
        .filter(tips::submitted_at.ge(since))
        .filter(tips::cluster_id.is_not_null())
        .select(tips::cluster_id)
        .order(tips::submitted_at.desc())
        .first::<Option<Uuid>>(conn)
        .await
        .optional()?
        .flatten();
    match existing {
        Some(cluster_id) => {
            link_unclustered(conn, facility_key, since, cluster_id).await?;
            Ok(cluster_id)
        }
        None => start_cluster(conn, facility_key, since).await,
    }
}
