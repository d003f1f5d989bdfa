//! Graceful shutdown of the real processes on SIGTERM: `tipsa serve` stops accepting at once,
//! lets in-flight requests and the group-commit batch they wait for finish within
//! `server.shutdown_grace_seconds`, then exits 0 — and exits 0 when the grace period runs out
//! with a request still unfinished; `tipsa worker` exits 0 too.
//!
//! Requests are held in flight by holding, from the test, the PostgreSQL advisory lock that
//! storing a tip about a facility takes (triage's per-facility lock): the lane storing them
//! waits for it, and so do their requests.

use std::time::{Duration, Instant};

use diesel::sql_types::{BigInt, Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use futures_util::StreamExt;
use serde_json::Value;

use crate::helpers::{Site, TestDatabase, create_key, valid_tip};
use crate::nodes::{self, Node, Role};

const FACILITY: &str = "Avvecklingens vårdboende";

/// Takes the facility's lock on the test's own connection (held until released or closed).
async fn hold_facility_lock(conn: &mut AsyncPgConnection) {
    let key = tipsa::triage::rules::facility_key(Some(FACILITY), Some("0180")).unwrap();
    diesel::sql_query("SELECT pg_advisory_lock(7465, hashtext($1))")
        .bind::<Text, _>(key)
        .execute(conn)
        .await
        .unwrap();
}

async fn release_facility_lock(conn: &mut AsyncPgConnection) {
    diesel::sql_query("SELECT pg_advisory_unlock_all()")
        .execute(conn)
        .await
        .unwrap();
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Waits until a session of the database waits for an advisory lock (the lane is held).
async fn until_a_lane_waits(db: &TestDatabase) {
    crate::notifications::wait_until(
        "a lane waiting for the lock",
        Duration::from_secs(10),
        || async {
            let mut conn = db.connect().await;
            let waiting: Count = diesel::sql_query(
                "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() \
             AND wait_event_type = 'Lock' AND wait_event = 'advisory'",
            )
            .get_result(&mut conn)
            .await
            .unwrap();
            waiting.n > 0
        },
    )
    .await;
}

/// `count` submissions about the held facility, started at once; each resolves to the status
/// (or `None`: no HTTP answer) and the id of a stored tip.
fn submissions(
    node: &Node,
    token: &str,
    count: usize,
) -> tokio::task::JoinHandle<Vec<(Option<u16>, Option<uuid::Uuid>)>> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let (url, token) = (node.url("/api/v1/tips"), token.to_owned());
    tokio::spawn(async move {
        futures_util::stream::iter(0..count)
            .map(|n| {
                let mut body = valid_tip();
                body["facility_name"] = FACILITY.into();
                body["description"] =
                    format!("Bemanningen räcker inte på natten, nummer {n}.").into();
                let request = client.post(&url).bearer_auth(&token).json(&body).send();
                async move {
                    match request.await {
                        Err(_) => (None, None),
                        Ok(response) => {
                            let status = response.status().as_u16();
                            let body: Value = response.json().await.unwrap_or_default();
                            let id = body["id"].as_str().and_then(|id| id.parse().ok());
                            (Some(status), id)
                        }
                    }
                }
            })
            .buffer_unordered(count)
            .collect()
            .await
    })
}

/// Whether a new TCP connection to the node's port is refused.
async fn refuses_connections(node: &Node) -> bool {
    tokio::net::TcpStream::connect(("127.0.0.1", node.port))
        .await
        .is_err()
}

async fn stored(db: &TestDatabase, id: uuid::Uuid) -> bool {
    let mut conn = db.connect().await;
    let found: Count = diesel::sql_query("SELECT count(*) AS n FROM tips WHERE id = $1")
        .bind::<SqlUuid, _>(id)
        .get_result(&mut conn)
        .await
        .unwrap();
    found.n == 1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_finishes_in_flight_submissions_on_sigterm_and_exits_0() {
    let db = TestDatabase::new().await;
    let run = nodes::run_dir("shutdown");
    let shared = nodes::shared_env(&db.url);
    let grace = Duration::from_secs(5);
    let mut web = Node::new(
        "serve",
        Role::Serve,
        &run,
        &shared,
        &[
            ("TIPSA__SERVER__WORKERS", "2"),
            ("TIPSA__SERVER__SHUTDOWN_GRACE_SECONDS", "5"),
        ],
    );
    web.start();
    web.wait_ready(Duration::from_secs(60)).await;
    let token = create_key(&db, &tipsa::auth::Scope::ALL).await;

    let mut lock = db.connect().await;
    hold_facility_lock(&mut lock).await;
    let in_flight = submissions(&web, &token, 12);
    until_a_lane_waits(&db).await;
    // The other submissions reach the server and queue behind the held batch.
    tokio::time::sleep(Duration::from_millis(500)).await;

    // And a stream of other submissions (other lanes, not held) through the SIGTERM.
    let stream = {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let (url, token) = (web.url("/api/v1/tips"), token.clone());
        tokio::spawn(async move {
            let mut answers = Vec::new();
            let mut refused_since: Option<Instant> = None;
            while refused_since.is_none_or(|since| since.elapsed() < Duration::from_millis(500)) {
                let mut body = valid_tip();
                body["facility_name"] = Value::Null;
                match client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
                    .await
                {
                    Err(_) => {
                        refused_since.get_or_insert_with(Instant::now);
                        answers.push((None, None));
                    }
                    Ok(response) => {
                        let status = response.status().as_u16();
                        let body: Value = response.json().await.unwrap_or_default();
                        let id = body["id"].as_str().and_then(|id| id.parse().ok());
                        answers.push((Some(status), id));
                    }
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            answers
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;

    web.terminate();
    let terminated_at = Instant::now();
    // The listener closes at once, while the held requests are still in flight.
    crate::notifications::wait_until("new connections refused", Duration::from_secs(2), || {
        refuses_connections(&web)
    })
    .await;
    assert!(web.is_running(), "still finishing its requests");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(web.is_running());
    release_facility_lock(&mut lock).await;

    let answers = in_flight.await.unwrap();
    let status = web.wait_exit(grace + Duration::from_secs(2)).await;
    let took = terminated_at.elapsed();
    assert!(status.success(), "exit status {status:?}\n{}", web.tail());
    assert!(took < grace, "exited after {took:?}, grace {grace:?}");
    assert!(refuses_connections(&web).await);
    for (status, id) in &answers {
        assert_eq!(
            *status,
            Some(201),
            "an in-flight request finished\n{}",
            web.tail()
        );
        assert!(stored(&db, id.unwrap()).await, "answered 201 and stored");
    }
    let streamed = stream.await.unwrap();
    let mut created = 0;
    for (status, id) in &streamed {
        match status {
            None => {}
            Some(201) => {
                assert!(stored(&db, id.unwrap()).await, "answered 201 and stored");
                created += 1;
            }
            Some(other) => panic!("a submission during shutdown got {other}\n{}", web.tail()),
        }
    }
    assert!(created > 0);
    eprintln!(
        "shutdown: 12 held in-flight submissions answered 201; of {} streamed through the \
         SIGTERM {created} got 201, the rest no connection; exit 0 after {took:?}",
        streamed.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_exits_0_when_the_grace_period_runs_out_and_worker_exits_0() {
    let db = TestDatabase::new().await;
    let run = nodes::run_dir("shutdown-grace");
    let shared = nodes::shared_env(&db.url);
    let mut web = Node::new(
        "serve",
        Role::Serve,
        &run,
        &shared,
        &[
            ("TIPSA__SERVER__WORKERS", "1"),
            ("TIPSA__SERVER__SHUTDOWN_GRACE_SECONDS", "2"),
        ],
    );
    let mut worker = Node::new("worker", Role::Worker, &run, &shared, &[]);
    web.start();
    worker.start();
    web.wait_ready(Duration::from_secs(60)).await;
    worker.wait_ready(Duration::from_secs(60)).await;
    let token = create_key(&db, &tipsa::auth::Scope::ALL).await;

    // A submission that cannot finish: its facility's lock stays held.
    let mut lock = db.connect().await;
    hold_facility_lock(&mut lock).await;
    let stuck = submissions(&web, &token, 3);
    until_a_lane_waits(&db).await;
    web.terminate();
    let terminated_at = Instant::now();
    let status = web.wait_exit(Duration::from_secs(10)).await;
    let took = terminated_at.elapsed();
    assert!(status.success(), "exit status {status:?}\n{}", web.tail());
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(4),
        "exited {took:?} after SIGTERM with a 2 s grace period"
    );
    // The unfinished requests got no answer rather than an error status, and nothing that
    // was not answered is half-stored once the lock is free.
    let answers = stuck.await.unwrap();
    assert!(
        answers.iter().all(|(status, _)| status.is_none()),
        "{answers:?}"
    );
    release_facility_lock(&mut lock).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut conn = db.connect().await;
    let tips: Count = diesel::sql_query("SELECT count(*) AS n FROM tips")
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(tips.n, 0, "the batch died with the process: rolled back");

    worker.terminate();
    let status = worker.wait_exit(Duration::from_secs(10)).await;
    assert!(
        status.success(),
        "worker exit status {status:?}\n{}",
        worker.tail()
    );
}
