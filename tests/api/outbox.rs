//! The outbox's lease bookkeeping against real PostgreSQL: a worker frees the jobs leased to it
//! that it is not working on (a claim whose answer was lost with its connection), and nothing
//! else.

use diesel::sql_types::{Integer, Nullable, Text};
use diesel_async::RunQueryDsl;
use tipsa::notify::outbox::release_orphaned;

use crate::helpers::spawn_app;

#[derive(diesel::QueryableByName, Debug, PartialEq)]
struct Lease {
    #[diesel(sql_type = Text)]
    team: String,
    #[diesel(sql_type = Nullable<Text>)]
    locked_by: Option<String>,
    #[diesel(sql_type = Integer)]
    attempts: i32,
}

#[tokio::test]
async fn only_a_workers_own_unworked_leases_are_freed() {
    let app = spawn_app().await;
    let mut conn = app.db.connect().await;
    let kept = uuid::Uuid::now_v7();
    diesel::sql_query(format!(
        "INSERT INTO notification_jobs (id, kind, team, attempts, locked_by, lease_token, run_at) VALUES \
         ('{kept}', 'team_digest', 'worked', 1, 'w1', gen_random_uuid(), now() + interval '1 hour'), \
         (gen_random_uuid(), 'team_digest', 'lost', 1, 'w1', gen_random_uuid(), now() + interval '1 hour'), \
         (gen_random_uuid(), 'team_digest', 'other', 1, 'w2', gen_random_uuid(), now() + interval '1 hour')"
    ))
    .execute(&mut conn)
    .await
    .unwrap();

    assert_eq!(release_orphaned(&mut conn, "w1", &[kept]).await.unwrap(), 1);
    let leases: Vec<Lease> = diesel::sql_query(
        "SELECT team, locked_by, attempts FROM notification_jobs \
         WHERE run_at <= now() OR locked_by IS NOT NULL ORDER BY team",
    )
    .load(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        leases,
        [
            // freed, due now, and its lost claim not counted as an attempt
            Lease {
                team: "lost".into(),
                locked_by: None,
                attempts: 0
            },
            Lease {
                team: "other".into(),
                locked_by: Some("w2".into()),
                attempts: 1
            },
            Lease {
                team: "worked".into(),
                locked_by: Some("w1".into()),
                attempts: 1
            },
        ]
    );
}
