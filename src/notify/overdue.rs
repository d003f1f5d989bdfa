//! Overdue notices: one "deadline overdue" job per tip whose first review fell due while it is
//! still `new`, to the team's leads. The job's `dedupe_key` (`overdue:<tip id>`) marks the tip
//! so it is enqueued once, by whichever worker gets there first.

use diesel::sql_types::Integer;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

/// Enqueues notices for tips that became overdue within the last `lookback_days`. Returns how
/// many were enqueued. The queue's partial index (`priority_rank, due_at` over open tips) finds
/// them.
pub async fn enqueue_overdue(
    conn: &mut AsyncPgConnection,
    lookback_days: u32,
) -> diesel::QueryResult<usize> {
    diesel::sql_query(
        "INSERT INTO notification_jobs (id, kind, tip_id, team, dedupe_key) \
         SELECT gen_random_uuid(), 'deadline_overdue', tips.id, tips.team, 'overdue:' || tips.id \
         FROM tips \
         WHERE tips.status = 'new' AND tips.priority_rank IN (0, 1, 2, 3) \
             AND tips.due_at <= now() AND tips.due_at > now() - make_interval(days => $1) \
             AND NOT EXISTS (SELECT 1 FROM notification_jobs AS job \
                 WHERE job.dedupe_key = 'overdue:' || tips.id) \
         ON CONFLICT (dedupe_key) DO NOTHING",
    )
    .bind::<Integer, _>(i32::try_from(lookback_days).unwrap_or(i32::MAX))
    .execute(conn)
    .await
}
