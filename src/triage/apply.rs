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

/// Serialises submissions about one facility until the transaction ends, so two tips
/// arriving at once both see each other when counting.
pub async fn lock_facility(conn: &mut AsyncPgConnection, facility_key: &str) -> QueryResult<()> {
    diesel::sql_query("SELECT pg_advisory_xact_lock(7465, hashtext($1))")
        .bind::<Text, _>(facility_key)
        .execute(conn)
        .await
        .map(|_| ())
}

/// Tips about the facility submitted since `since`, counted up to `at_most` (all the repeat
/// signal needs to know), so the cost does not grow with a facility's history.
pub async fn count_at_facility(
    conn: &mut AsyncPgConnection,
    facility_key: &str,
    since: DateTime<Utc>,
    at_most: u32,
) -> QueryResult<i64> {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let count: Count = diesel::sql_query(
        "SELECT count(*) AS n FROM (SELECT 1 FROM tips WHERE facility_key = $1 \
         AND submitted_at >= $2 LIMIT $3) recent",
    )
    .bind::<Text, _>(facility_key)
    .bind::<diesel::sql_types::Timestamptz, _>(since)
    .bind::<BigInt, _>(i64::from(at_most))
    .get_result(conn)
    .await?;
    Ok(count.n)
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
    let cluster_id = match existing {
        Some(id) => id,
        None => {
            let id = Uuid::now_v7();
            diesel::insert_into(tip_clusters::table)
                .values((
                    tip_clusters::id.eq(id),
                    tip_clusters::facility_key.eq(facility_key),
                ))
                .execute(conn)
                .await?;
            id
        }
    };
    diesel::update(
        tips::table
            .filter(tips::facility_key.eq(facility_key))
            .filter(tips::submitted_at.ge(since))
            .filter(tips::cluster_id.is_null()),
    )
    .set(tips::cluster_id.eq(cluster_id))
    .execute(conn)
    .await?;
    Ok(cluster_id)
}

/// Number of tips in a cluster (for tests and the queue view).
pub async fn cluster_size(conn: &mut AsyncPgConnection, cluster_id: Uuid) -> QueryResult<i64> {
    #[derive(QueryableByName)]
    struct Size {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let size: Size = diesel::sql_query("SELECT count(*) AS n FROM tips WHERE cluster_id = $1")
        .bind::<diesel::sql_types::Uuid, _>(cluster_id)
        .get_result(conn)
        .await?;
    Ok(size.n)
}
