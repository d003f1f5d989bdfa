//! What admins can do about notifications that failed for good: list dead jobs and retry one.
//! Used by `tipsa notify dead|retry` and meant for the admin pages.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::schema::{notification_jobs, tips};

/// A dead job as an admin sees it (no addresses, no tip content).
#[derive(Debug, Clone)]
pub struct DeadJob {
    pub id: Uuid,
    pub kind: String,
    pub team: Option<String>,
    pub tip_reference: Option<String>,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub failed_at: DateTime<Utc>,
}

type DeadJobColumns = (
    Uuid,
    String,
    Option<String>,
    Option<String>,
    i32,
    Option<String>,
    DateTime<Utc>,
    DateTime<Utc>,
);

/// Dead jobs, most recent failure first (at most `limit`).
pub async fn list_dead(conn: &mut AsyncPgConnection, limit: i64) -> QueryResult<Vec<DeadJob>> {
    let rows: Vec<DeadJobColumns> = notification_jobs::table
        .left_join(tips::table.on(notification_jobs::tip_id.eq(tips::id.nullable())))
        .filter(notification_jobs::state.eq("dead"))
        .order(notification_jobs::updated_at.desc())
        .limit(limit)
        .select((
            notification_jobs::id,
            notification_jobs::kind,
            notification_jobs::team,
            tips::reference.nullable(),
            notification_jobs::attempts,
            notification_jobs::last_error,
            notification_jobs::created_at,
            notification_jobs::updated_at,
        ))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, kind, team, tip_reference, attempts, last_error, created_at, failed_at)| {
                DeadJob {
                    id,
                    kind,
                    team,
                    tip_reference,
                    attempts,
                    last_error,
                    created_at,
                    failed_at,
                }
            },
        )
        .collect())
}

/// Puts a dead job back in the queue, due now, with a fresh series of attempts (the last error
/// stays visible until it is sent). False when no dead job has that id.
pub async fn retry(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<bool> {
    let updated = diesel::update(
        notification_jobs::table
            .filter(notification_jobs::id.eq(id))
            .filter(notification_jobs::state.eq("dead")),
    )
    .set((
        notification_jobs::state.eq("pending"),
        notification_jobs::attempts.eq(0),
        notification_jobs::run_at.eq(diesel::dsl::now),
        notification_jobs::updated_at.eq(diesel::dsl::now),
        notification_jobs::locked_by.eq(None::<String>),
        notification_jobs::lease_token.eq(None::<Uuid>),
    ))
    .execute(conn)
    .await?;
    if updated == 1 {
        diesel::sql_query(format!("NOTIFY {}", super::WAKE_CHANNEL))
            .execute(conn)
            .await?;
    }
    Ok(updated == 1)
}
