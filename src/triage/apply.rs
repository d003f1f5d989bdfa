//! The database side of triage: counting earlier tips about the same facility, linking a
//! cluster when the repeat threshold is reached, and re-triage of stored tips. Call these
//! inside a transaction.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamptz, Uuid as SqlUuid};
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
    let rows = HistoriesQuery::new(vec![facility_key.to_owned()], since, at_most)
        .load::<(String, i64, Option<Uuid>)>(conn)
        .await?;
    Ok(only_history(rows))
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
    let rows = begin_lock_and_read(conn, vec![facility_key.to_owned()], since, at_most).await?;
    Ok(only_history(rows))
}

/// The one facility's history from a one-key read (a facility without tips has a row too).
fn only_history(rows: Vec<(String, i64, Option<Uuid>)>) -> FacilityHistory {
    let (recent, cluster_id) = rows
        .into_iter()
        .next()
        .map_or((0, None), |(_, recent, cluster_id)| (recent, cluster_id));
    FacilityHistory { recent, cluster_id }
}

/// Takes the locks of several facilities in the order of their lock ids, so that two
/// transactions taking overlapping sets wait for each other instead of deadlocking.
struct LockFacilities {
    facility_keys: Vec<String>,
}

impl QueryId for LockFacilities {
    type QueryId = LockFacilities;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl QueryFragment<Pg> for LockFacilities {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(
            "SELECT pg_advisory_xact_lock(7465, lock_id) FROM \
             (SELECT DISTINCT hashtext(key) AS lock_id FROM unnest(",
        );
        out.push_bind_param::<Array<Text>, _>(&self.facility_keys)?;
        out.push_sql(") AS key ORDER BY 1) ordered");
        Ok(())
    }
}

/// Reads facilities' recent history, one row per key: the tips since the window start
/// (counted up to the threshold) and the cluster of the most recent one in a cluster. Run after
/// taking the facilities' locks. A query type rather than `sql_query`, so diesel prepares it
/// once per connection instead of PostgreSQL parsing and planning it for every tip.
struct HistoriesQuery {
    facility_keys: Vec<String>,
    since: DateTime<Utc>,
    at_most: i64,
}

impl HistoriesQuery {
    fn new(facility_keys: Vec<String>, since: DateTime<Utc>, at_most: u32) -> Self {
        HistoriesQuery {
            facility_keys,
            since,
            at_most: i64::from(at_most),
        }
    }
}

impl QueryId for HistoriesQuery {
    type QueryId = HistoriesQuery;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for HistoriesQuery {
    type SqlType = (Text, BigInt, Nullable<SqlUuid>);
}

impl QueryFragment<Pg> for HistoriesQuery {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(
            "SELECT key, (SELECT count(*) FROM (SELECT 1 FROM tips \
             WHERE facility_key = key AND submitted_at >= ",
        );
        out.push_bind_param::<Timestamptz, _>(&self.since)?;
        out.push_sql(" LIMIT ");
        out.push_bind_param::<BigInt, _>(&self.at_most)?;
        out.push_sql(
            ") recent), (SELECT cluster_id FROM tips WHERE facility_key = key \
             AND submitted_at >= ",
        );
        out.push_bind_param::<Timestamptz, _>(&self.since)?;
        out.push_sql(
            " AND cluster_id IS NOT NULL ORDER BY submitted_at DESC LIMIT 1) FROM unnest(",
        );
        out.push_bind_param::<Array<Text>, _>(&self.facility_keys)?;
        out.push_sql(") AS key");
        Ok(())
    }
}

/// `begin_lock_and_read_facility` for the facilities of several tips stored together: opens a
/// transaction, takes every facility's lock and reads their histories in one round trip. The
/// caller must end the transaction.
pub async fn begin_lock_and_read_facilities(
    conn: &AsyncPgConnection,
    facility_keys: Vec<String>,
    since: DateTime<Utc>,
    at_most: u32,
) -> QueryResult<HashMap<String, FacilityHistory>> {
    let rows = begin_lock_and_read(conn, facility_keys, since, at_most).await?;
    Ok(rows
        .into_iter()
        .map(|(key, recent, cluster_id)| (key, FacilityHistory { recent, cluster_id }))
        .collect())
}

/// `BEGIN`, the locks and the history read, pipelined.
async fn begin_lock_and_read(
    conn: &AsyncPgConnection,
    facility_keys: Vec<String>,
    since: DateTime<Utc>,
    at_most: u32,
) -> QueryResult<Vec<(String, i64, Option<Uuid>)>> {
    // One shared handle per statement: each future borrows its own.
    let (mut first, mut second, mut third) = (conn, conn, conn);
    let begin = diesel::sql_query("BEGIN").execute(&mut first);
    let lock = LockFacilities {
        facility_keys: facility_keys.clone(),
    }
    .execute(&mut second);
    let read = HistoriesQuery::new(facility_keys, since, at_most)
        .load::<(String, i64, Option<Uuid>)>(&mut third);
    let (_, _, rows) = futures_util::future::try_join3(begin, lock, read).await?;
    Ok(rows)
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
    LockFacilities {
        facility_keys: vec![facility_key.to_owned()],
    }
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
