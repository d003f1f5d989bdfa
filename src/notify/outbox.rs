//! The outbox: deciding and writing notification jobs inside the transaction that causes them,
//! and the worker's side of a job's life — claim (a committed lease), sent, failed (retry or
//! dead), released, skipped.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Integer, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::tips::TipNotifications;
use crate::domain::Priority;

/// The jobs a new tip enqueues: critical and high tips tell their team at once, normal and low
/// ones wait for the team's digest; an identified reporter who gave an email gets a receipt.
pub fn plan_for_tip(priority: Priority, reporter_gave_email: bool) -> TipNotifications {
    let urgent = is_urgent(priority);
    TipNotifications {
        urgent_job: urgent.then(Uuid::now_v7),
        acknowledgement_job: reporter_gave_email.then(Uuid::now_v7),
        digest: !urgent,
    }
}

/// Whether `plan_for_tip` enqueues a job due at once (rather than only a digest entry), so the
/// workers should be woken when the tip is committed.
pub fn plan_has_due_jobs(priority: Priority, reporter_gave_email: bool) -> bool {
    is_urgent(priority) || reporter_gave_email
}

fn is_urgent(priority: Priority) -> bool {
    matches!(priority, Priority::Critical | Priority::High)
}

/// Enqueues "the tipster replied" for a tip, in the caller's transaction (where the reply is
/// recorded). The recipient is decided when the job is sent (`recipients::for_reply`).
pub async fn enqueue_reply(conn: &mut AsyncPgConnection, tip_id: Uuid) -> QueryResult<Uuid> {
    let id = Uuid::now_v7();
    diesel::sql_query(
        "INSERT INTO notification_jobs (id, kind, tip_id, team) \
         SELECT $1, 'reporter_replied', id, team FROM tips WHERE id = $2",
    )
    .bind::<SqlUuid, _>(id)
    .bind::<SqlUuid, _>(tip_id)
    .execute(conn)
    .await?;
    Ok(id)
}

/// A claimed job: the worker holds its lease until `lease_token` is used to finish it.
#[derive(Debug, Clone, QueryableByName)]
pub struct ClaimedJob {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub tip_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Text>)]
    pub team: Option<String>,
    /// Claims so far, this one included.
    #[diesel(sql_type = Integer)]
    pub attempts: i32,
    #[diesel(sql_type = SqlUuid)]
    pub lease_token: Uuid,
    /// True when an earlier claim's lease ran out (its worker stopped while sending).
    #[diesel(sql_type = diesel::sql_types::Bool)]
    pub reclaimed: bool,
}

/// Claims up to `limit` due jobs with `FOR UPDATE SKIP LOCKED` and leases them for
/// `lease_seconds`. One statement, committed on its own, so no row lock is held while the
/// message is sent; a worker that dies leaves the lease to run out, and the job is due again.
pub async fn claim(
    conn: &mut AsyncPgConnection,
    worker_id: &str,
    limit: i64,
    lease_seconds: u64,
) -> QueryResult<Vec<ClaimedJob>> {
    let token = Uuid::now_v7();
    diesel::sql_query(
        "WITH due AS (SELECT id, locked_by IS NOT NULL AS reclaimed FROM notification_jobs \
             WHERE state = 'pending' AND run_at <= now() \
             ORDER BY run_at LIMIT $1 FOR UPDATE SKIP LOCKED) \
         UPDATE notification_jobs AS job SET \
             attempts = job.attempts + 1, \
             run_at = now() + make_interval(secs => $2), \
             locked_by = $3, lease_token = $4, updated_at = now(), \
             last_error = CASE WHEN due.reclaimed \
                 THEN 'lease expired: the worker stopped while sending' ELSE job.last_error END \
         FROM due WHERE job.id = due.id \
         RETURNING job.id, job.kind, job.tip_id, job.team, job.attempts, job.lease_token, \
             due.reclaimed",
    )
    .bind::<BigInt, _>(limit)
    .bind::<diesel::sql_types::Double, _>(lease_seconds as f64)
    .bind::<Text, _>(worker_id)
    .bind::<SqlUuid, _>(token)
    .load(conn)
    .await
}

/// Marks jobs sent, several in one statement (one commit for a burst of sends): pairs of job
/// id and lease token. Returns the ids whose lease was still held; for the others the lease was
/// lost (another worker took the job after it ran out), and the message may arrive twice, with
/// the same Message-ID.
pub async fn mark_sent(
    conn: &mut AsyncPgConnection,
    jobs: &[(Uuid, Uuid)],
) -> QueryResult<Vec<Uuid>> {
    #[derive(QueryableByName)]
    struct Marked {
        #[diesel(sql_type = SqlUuid)]
        id: Uuid,
    }
    let (ids, tokens): (Vec<Uuid>, Vec<Uuid>) = jobs.iter().copied().unzip();
    let marked: Vec<Marked> = diesel::sql_query(
        "UPDATE notification_jobs AS job SET state = 'sent', sent_at = now(), \
             updated_at = now(), locked_by = NULL, lease_token = NULL \
         FROM unnest($1::uuid[], $2::uuid[]) AS sent (id, lease_token) \
         WHERE job.id = sent.id AND job.lease_token = sent.lease_token \
             AND job.state = 'pending' \
         RETURNING job.id",
    )
    .bind::<Array<SqlUuid>, _>(ids)
    .bind::<Array<SqlUuid>, _>(tokens)
    .load(conn)
    .await?;
    Ok(marked.into_iter().map(|row| row.id).collect())
}

/// Records a failed attempt: the job is due again at `retry_at`, or dead once `attempts`
/// reached `max_attempts`. Returns the new state (`None` if the lease was lost).
pub async fn mark_failed(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    lease_token: Uuid,
    error: &str,
    retry_at: DateTime<Utc>,
    max_attempts: u32,
) -> QueryResult<Option<String>> {
    #[derive(QueryableByName)]
    struct State {
        #[diesel(sql_type = Text)]
        state: String,
    }
    let rows: Vec<State> = diesel::sql_query(
        "UPDATE notification_jobs SET \
             state = CASE WHEN attempts >= $3 THEN 'dead' ELSE 'pending' END, \
             run_at = $4, last_error = $5, updated_at = now(), \
             locked_by = NULL, lease_token = NULL \
         WHERE id = $1 AND lease_token = $2 AND state = 'pending' \
         RETURNING state",
    )
    .bind::<SqlUuid, _>(id)
    .bind::<SqlUuid, _>(lease_token)
    .bind::<Integer, _>(i32::try_from(max_attempts).unwrap_or(i32::MAX))
    .bind::<Timestamptz, _>(retry_at)
    .bind::<Text, _>(error)
    .load(conn)
    .await?;
    Ok(rows.into_iter().next().map(|r| r.state))
}

/// Marks a job that has nothing to send (e.g. the tip was reviewed before its overdue notice
/// went out, or it was deleted).
pub async fn mark_skipped(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    lease_token: Uuid,
    reason: &str,
) -> QueryResult<()> {
    diesel::sql_query(
        "UPDATE notification_jobs SET state = 'skipped', last_error = $3, updated_at = now(), \
             locked_by = NULL, lease_token = NULL \
         WHERE id = $1 AND lease_token = $2 AND state = 'pending'",
    )
    .bind::<SqlUuid, _>(id)
    .bind::<SqlUuid, _>(lease_token)
    .bind::<Text, _>(reason)
    .execute(conn)
    .await
    .map(|_| ())
}

/// Gives back claimed jobs that were never started (shutdown): due at once, and the claim does
/// not count as an attempt.
pub async fn release(conn: &mut AsyncPgConnection, jobs: &[(Uuid, Uuid)]) -> QueryResult<usize> {
    let ids: Vec<Uuid> = jobs.iter().map(|(id, _)| *id).collect();
    let tokens: Vec<Uuid> = jobs.iter().map(|(_, token)| *token).collect();
    diesel::sql_query(
        "UPDATE notification_jobs AS job SET run_at = now(), attempts = job.attempts - 1, \
             locked_by = NULL, lease_token = NULL, updated_at = now() \
         FROM unnest($1::uuid[], $2::uuid[]) AS released (id, token) \
         WHERE job.id = released.id AND job.lease_token = released.token \
             AND job.state = 'pending'",
    )
    .bind::<Array<SqlUuid>, _>(ids)
    .bind::<Array<SqlUuid>, _>(tokens)
    .execute(conn)
    .await
}

/// Frees the jobs leased to `worker_id` that it is not working on (`keep`): claims whose
/// answer was lost with the connection (the claim committed, the reply never arrived). Without
/// this they would wait out their lease. Returns how many were freed.
pub async fn release_orphaned(
    conn: &mut AsyncPgConnection,
    worker_id: &str,
    keep: &[Uuid],
) -> QueryResult<usize> {
    diesel::sql_query(
        "UPDATE notification_jobs SET run_at = now(), attempts = attempts - 1, \
             locked_by = NULL, lease_token = NULL, updated_at = now() \
         WHERE locked_by = $1 AND state = 'pending' AND NOT (id = ANY($2))",
    )
    .bind::<Text, _>(worker_id)
    .bind::<Array<SqlUuid>, _>(keep.to_vec())
    .execute(conn)
    .await
}

/// Counts of jobs by state (for tests, the CLI and metrics).
pub async fn counts_by_state(conn: &mut AsyncPgConnection) -> QueryResult<Vec<(String, i64)>> {
    use crate::db::schema::notification_jobs;
    notification_jobs::table
        .group_by(notification_jobs::state)
        .select((notification_jobs::state, diesel::dsl::count_star()))
        .load(conn)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urgent_tips_notify_at_once_and_others_wait_for_the_digest() {
        for (priority, urgent) in [
            (Priority::Critical, true),
            (Priority::High, true),
            (Priority::Normal, false),
            (Priority::Low, false),
        ] {
            let plan = plan_for_tip(priority, false);
            assert_eq!(plan.urgent_job.is_some(), urgent, "{priority:?}");
            assert_eq!(plan.digest, !urgent, "{priority:?}");
            assert!(plan.acknowledgement_job.is_none());
        }
        let plan = plan_for_tip(Priority::Low, true);
        assert!(plan.acknowledgement_job.is_some());
    }
}
