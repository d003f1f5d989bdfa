//! The record of disposal runs (`disposal_runs`: started, finished, what each did) and the
//! advisory lock that lets one run at a time go ahead across all nodes.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::schema::disposal_runs;

/// Identifies the disposal run's lock among advisory locks ("tipsa_gl", gallring).
pub const LOCK_KEY: i64 = 0x7469_7073_615f_676c;

#[derive(diesel::QueryableByName)]
struct Flag {
    #[diesel(sql_type = Bool)]
    value: bool,
}

/// Takes the lock for the rest of the caller's transaction; false if another session has it.
pub async fn try_lock(conn: &mut AsyncPgConnection) -> QueryResult<bool> {
    let flag: Flag = diesel::sql_query(format!(
        "SELECT pg_try_advisory_xact_lock({LOCK_KEY}) AS value"
    ))
    .get_result(conn)
    .await?;
    Ok(flag.value)
}

/// Whether some session holds the lock now (a run is in progress somewhere).
pub async fn lock_is_held(conn: &mut AsyncPgConnection) -> QueryResult<bool> {
    // A bigint key is stored as (classid, objid) = (high, low) 32 bits, objsubid 1.
    let flag: Flag = diesel::sql_query(
        "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted \
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
             AND classid::bigint = $1 AND objid::bigint = $2 AND objsubid = 1) AS value",
    )
    .bind::<BigInt, _>(LOCK_KEY >> 32)
    .bind::<BigInt, _>(LOCK_KEY & 0xffff_ffff)
    .get_result(conn)
    .await?;
    Ok(flag.value)
}

/// Records the start of a run; returns its id.
pub async fn start(
    conn: &mut AsyncPgConnection,
    actor: &str,
    as_of: DateTime<Utc>,
) -> QueryResult<Uuid> {
    let id = Uuid::now_v7();
    diesel::insert_into(disposal_runs::table)
        .values((
            disposal_runs::id.eq(id),
            disposal_runs::actor.eq(actor),
            disposal_runs::as_of.eq(as_of),
        ))
        .execute(conn)
        .await?;
    Ok(id)
}

/// Records the end of a run and what it had to leave (its disposals were counted batch by
/// batch, with each batch).
pub async fn finish(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    skipped_held: i64,
    skipped_requested: i64,
) -> QueryResult<()> {
    diesel::update(disposal_runs::table.find(id))
        .set((
            disposal_runs::finished_at.eq(diesel::dsl::now),
            disposal_runs::skipped_held.eq(i32::try_from(skipped_held).unwrap_or(i32::MAX)),
            disposal_runs::skipped_requested
                .eq(i32::try_from(skipped_requested).unwrap_or(i32::MAX)),
        ))
        .execute(conn)
        .await
        .map(|_| ())
}

/// A run as recorded.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = disposal_runs)]
pub struct RunRow {
    pub id: Uuid,
    pub started_at: DateTime<Utc>,
    /// `None`: still running, or it died (the next run carries on where it stopped).
    pub finished_at: Option<DateTime<Utc>>,
    pub actor: String,
    pub as_of: DateTime<Utc>,
    pub disposed: i32,
    pub skipped_held: i32,
    pub skipped_requested: i32,
}

/// The latest runs, newest first.
pub async fn recent(conn: &mut AsyncPgConnection, limit: i64) -> QueryResult<Vec<RunRow>> {
    disposal_runs::table
        .order(disposal_runs::started_at.desc())
        .limit(limit)
        .select(RunRow::as_select())
        .load(conn)
        .await
}

#[derive(diesel::QueryableByName)]
struct LastFinished {
    #[diesel(sql_type = Nullable<Timestamptz>)]
    at: Option<DateTime<Utc>>,
}

/// When the last run finished, on any node or from the command line.
pub async fn last_finished(conn: &mut AsyncPgConnection) -> QueryResult<Option<DateTime<Utc>>> {
    let row: LastFinished = diesel::sql_query("SELECT max(finished_at) AS at FROM disposal_runs")
        .get_result(conn)
        .await?;
    Ok(row.at)
}
