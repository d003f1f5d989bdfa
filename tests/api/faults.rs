//! Faults survived, on a private PostgreSQL cluster this test starts (never the shared server):
//! two `tipsa serve` nodes and a `tipsa worker` under concurrent submissions through
//! (1) `kill -9` of a serve node and its restart, (2) a crash restart of PostgreSQL
//! (`pg_ctl restart -m immediate`) with the nodes left running, (3) PostgreSQL stopped for
//! 10 s, then started. Every 201 is stored; during the outage the answer is a 503 problem+json
//! with `Retry-After`, never a 500 or a hang; `/readyz` turns 503 and back; the nodes answer
//! 201 within 5 s of the database being back, without a restart; every group-commit lane takes
//! tips afterwards; the worker resumes by itself.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::sql_types::{Text, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::StreamExt;
use serde_json::Value;

use crate::fault_probes::{
    Answer, Record, quiet_tip, readyz, submit, tip, until_created, until_ready,
};
use crate::helpers::{Site, free_port};
use crate::nodes::{self, Node, Role};
use crate::notifications::{SmtpSink, urgent_tip, wait_until};
use crate::private_pg::PrivatePostgres;

#[derive(diesel::QueryableByName)]
struct Stored {
    #[diesel(sql_type = SqlUuid)]
    id: uuid::Uuid,
    #[diesel(sql_type = Text)]
    reference: String,
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

#[derive(diesel::QueryableByName, Debug)]
struct Job {
    #[diesel(sql_type = SqlUuid)]
    id: uuid::Uuid,
    #[diesel(sql_type = Text)]
    state: String,
}

/// Waits until the worker has sent every job and listens again (one LISTEN connection).
async fn worker_idle_and_listening(database_url: &str) {
    wait_until(
        "the backlog sent and the worker listening",
        Duration::from_secs(30),
        || async {
            let mut conn = AsyncPgConnection::establish(database_url).await.unwrap();
            let pending: Count = diesel::sql_query(
                "SELECT count(*) AS n FROM notification_jobs WHERE state <> 'sent'",
            )
            .get_result(&mut conn)
            .await
            .unwrap();
            let listening: Count = diesel::sql_query(
                "SELECT count(*) AS n FROM pg_stat_activity \
                 WHERE datname = current_database() AND query LIKE 'LISTEN%'",
            )
            .get_result(&mut conn)
            .await
            .unwrap();
            pending.n == 0 && listening.n == 1
        },
    )
    .await;
    // The worker's last claim has found nothing and it waits for a wake-up or the poll.
    tokio::time::sleep(Duration::from_millis(300)).await;
}

/// Submits one urgent tip on `node` and waits (at most 3 s) until its notification is in the
/// sink; the submission and how long the mail took.
async fn mail_latency(
    client: &reqwest::Client,
    node: &Node,
    token: &str,
    sink: &SmtpSink,
    database_url: &str,
) -> (Record, Duration) {
    let record = submit(client, &node.url("/api/v1/tips"), token, &urgent_tip(9000)).await;
    let Answer::Created { id, .. } = record.answer.clone() else {
        panic!("{}: {:?}\n{}", node.name, record.answer, node.tail());
    };
    let sent_at = Instant::now();
    wait_until(
        "the urgent tip's notification, without waiting for the poll",
        Duration::from_secs(3),
        || async move {
            let mut conn = AsyncPgConnection::establish(database_url).await.unwrap();
            let job: Option<Job> =
                diesel::sql_query("SELECT id, state FROM notification_jobs WHERE tip_id = $1")
                    .bind::<SqlUuid, _>(id)
                    .get_result(&mut conn)
                    .await
                    .ok();
            job.is_some_and(|job| {
                job.state == "sent"
                    && sink
                        .messages()
                        .iter()
                        .any(|m| m.message_id() == format!("<{}@tipsa.example>", job.id))
            })
        },
    )
    .await;
    (record, sent_at.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_survive_a_killed_node_a_crashed_database_and_an_outage() {
    let test_started = Instant::now();
    let run = nodes::run_dir("faults");
    let postgres = PrivatePostgres::start(&run.join("pg"));
    tipsa::db::embedded::ensure_database(&postgres.url("postgres"), "tipsa")
        .await
        .unwrap();
    let database_url = postgres.url("tipsa");
    let sink_port = free_port();
    let sink = SmtpSink::start(sink_port, &run.join("mail"), false);
    let shared = [nodes::shared_env(&database_url), nodes::smtp_env(sink_port)].concat();
    // Short timeouts, so that a request during the outage is answered quickly.
    let serve = [
        ("TIPSA__SERVER__WORKERS", "2"),
        ("TIPSA__DATABASE__POOL_SIZE", "6"),
        ("TIPSA__DATABASE__ACQUIRE_TIMEOUT_MS", "1000"),
        ("TIPSA__DATABASE__CONNECT_TIMEOUT_MS", "1000"),
        ("TIPSA__DATABASE__STATEMENT_TIMEOUT_MS", "3000"),
        ("TIPSA__INTAKE__BATCH_LANES", "4"),
    ];
    let lanes = 4;
    // The worker polls only every 20 s: delivering within seconds after the outage needs its
    // LISTEN connection and the nodes' wake-ups to have come back.
    let worker = [
        ("TIPSA__NOTIFY__POLL_INTERVAL_MS", "20000"),
        // Longer than the outage (which lasts longer than its 10 s when a busy PostgreSQL takes
        // a while to shut down): a send just before it is recorded after it, not repeated.
        ("TIPSA__NOTIFY__LEASE_SECONDS", "60"),
        ("TIPSA__NOTIFY__SMTP__TIMEOUT_SECONDS", "3"),
        ("TIPSA__NOTIFY__MAINTENANCE_INTERVAL_SECONDS", "3600"),
        ("TIPSA__NOTIFY__BACKOFF_BASE_MS", "200"),
        ("TIPSA__NOTIFY__BACKOFF_CAP_MS", "1000"),
        ("TIPSA__DATABASE__CONNECT_TIMEOUT_MS", "1000"),
        ("TIPSA__DATABASE__ACQUIRE_TIMEOUT_MS", "1000"),
    ];
    let mut web_a = Node::new("serve-a", Role::Serve, &run, &shared, &serve);
    let mut web_b = Node::new("serve-b", Role::Serve, &run, &shared, &serve);
    let mut mailer = Node::new("worker", Role::Worker, &run, &shared, &worker);
    // The first node migrates the new database.
    web_a.start();
    web_a.wait_ready(Duration::from_secs(60)).await;
    web_b.start();
    mailer.start();
    web_b.wait_ready(Duration::from_secs(60)).await;
    mailer.wait_ready(Duration::from_secs(60)).await;
    let token = {
        let mut conn = AsyncPgConnection::establish(&database_url).await.unwrap();
        tipsa::auth::api_keys::create(&mut conn, "faults", &tipsa::auth::Scope::ALL)
            .await
            .unwrap()
            .token
    };
    // acquire_timeout + connect_timeout, and a little more: no answer by then is a hang.
    let client_timeout = Duration::from_millis(1000 + 1000 + 1500);
    let client = reqwest::Client::builder()
        .timeout(client_timeout)
        .build()
        .unwrap();
    let urls = [web_a.url("/api/v1/tips"), web_b.url("/api/v1/tips")];

    // Concurrent submitters, alternating between the nodes, recording every answer.
    let records: Arc<Mutex<Vec<Record>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let submitters: Vec<_> = (0..4)
        .map(|task| {
            let (client, token, urls) = (client.clone(), token.clone(), urls.clone());
            let (records, stop) = (records.clone(), stop.clone());
            tokio::spawn(async move {
                let mut n = task;
                while !AtomicBool::load(&stop, Ordering::SeqCst) {
                    let node = n % 2;
                    let mut record = submit(&client, &urls[node], &token, &tip(n)).await;
                    record.node = node;
                    let down = matches!(record.answer, Answer::Transport(_));
                    records.lock().unwrap().push(record);
                    n += 4;
                    let pause = if down { 100 } else { 20 };
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(1)).await;

    // (1) kill -9 of node A, restarted a second later; B serves throughout.
    let killed_at = Instant::now();
    web_a.kill9();
    tokio::time::sleep(Duration::from_secs(1)).await;
    web_a.start();
    web_a.wait_ready(Duration::from_secs(30)).await;
    let a_back_at = Instant::now();
    tokio::time::sleep(Duration::from_secs(1)).await;

    // (2) A crash restart of PostgreSQL; the nodes keep running.
    let crash_at = Instant::now();
    postgres.crash_restart();
    let crash_back_at = Instant::now();
    let after_crash = [
        until_created(&client, &web_a, &token, Duration::from_secs(5)).await,
        until_created(&client, &web_b, &token, Duration::from_secs(5)).await,
    ];
    tokio::time::sleep(Duration::from_secs(1)).await;

    // (3) PostgreSQL stopped for 10 s.
    let outage_at = Instant::now();
    postgres.stop();
    let stopped_at = Instant::now();
    let mut readyz_during = Vec::new();
    while stopped_at.elapsed() < Duration::from_secs(10) {
        for node in [&web_a, &web_b] {
            readyz_during.push((node.name.clone(), readyz(&client, node).await));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // The submitters stop before the database is back: the wake-up check below needs the
    // first urgent tip since the outage.
    stop.store(true, Ordering::SeqCst);
    for submitter in submitters {
        submitter.await.unwrap();
    }
    let restart_at = Instant::now();
    postgres.start_again();
    let back_at = Instant::now();
    let after_outage = [
        until_created(&client, &web_a, &token, Duration::from_secs(5)).await,
        until_created(&client, &web_b, &token, Duration::from_secs(5)).await,
    ];
    let ready_again = [
        until_ready(&client, &web_a, Duration::from_secs(5)).await,
        until_ready(&client, &web_b, Duration::from_secs(5)).await,
    ];
    for (node, (status, problem)) in &readyz_during {
        assert_eq!(*status, 503, "{node} /readyz during the outage");
        assert!(*problem, "{node} /readyz 503 is problem+json");
    }

    // No group-commit lane is stuck: lanes x 4 tips about distinct facilities (spread over
    // the lanes by their facility), and as many without one, at once on each node.
    for node in [&web_a, &web_b] {
        let url = node.url("/api/v1/tips");
        let answers: Vec<Record> = futures_util::stream::iter(0..lanes * 8)
            .map(|n| {
                let mut body = quiet_tip();
                if n % 2 == 1 {
                    body["facility_name"] = Value::Null;
                }
                let (client, url, token) = (client.clone(), url.clone(), token.clone());
                async move { submit(&client, &url, &token, &body).await }
            })
            .buffer_unordered(lanes * 8)
            .collect()
            .await;
        for record in &answers {
            assert!(
                matches!(record.answer, Answer::Created { .. }),
                "{}: a lane did not take its tip: {:?}\n{}",
                node.name,
                record.answer,
                node.tail()
            );
        }
        records
            .lock()
            .unwrap()
            .extend(answers.into_iter().map(|mut r| {
                r.node = if node.name == web_a.name { 0 } else { 1 };
                r
            }));
    }

    // The worker resumes by itself: it sends what queued up meanwhile, listens again, and
    // then one urgent tip per node is mailed within seconds, though the worker polls only
    // every 20 s (so the nodes' wake-ups and the worker's LISTEN came back).
    let backlog_started = Instant::now();
    worker_idle_and_listening(&database_url).await;
    let backlog = backlog_started.elapsed();
    let mut resumed = Vec::new();
    for (i, node) in [&web_a, &web_b].into_iter().enumerate() {
        let (record, latency) = mail_latency(&client, node, &token, &sink, &database_url).await;
        records.lock().unwrap().push(Record { node: i, ..record });
        resumed.push(latency);
    }

    // Once more, a crash restart with nothing submitted meanwhile, so each node's wake-up
    // connection (alive until now) is broken without the node noticing: the first urgent tip
    // afterwards must still wake the worker at once.
    let second_crash_at = Instant::now();
    postgres.crash_restart();
    let second_crash_back_at = Instant::now();
    for node in [&web_a, &web_b] {
        until_ready(&client, node, Duration::from_secs(5)).await;
    }
    worker_idle_and_listening(&database_url).await;
    for (i, node) in [&web_a, &web_b].into_iter().enumerate() {
        let (record, latency) = mail_latency(&client, node, &token, &sink, &database_url).await;
        records.lock().unwrap().push(Record { node: i, ..record });
        resumed.push(latency);
    }

    // Every answer, by phase.
    let records = records.lock().unwrap().clone();
    let overlaps = |r: &Record, from: Instant, to: Instant| r.started <= to && r.finished >= from;
    let db_fault = |r: &Record| {
        overlaps(r, crash_at, crash_back_at + Duration::from_secs(5))
            || overlaps(r, outage_at, back_at + Duration::from_secs(5))
            || overlaps(
                r,
                second_crash_at,
                second_crash_back_at + Duration::from_secs(5),
            )
    };
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for record in &records {
        let kind = match &record.answer {
            Answer::Created { .. } => "201",
            Answer::Unavailable {
                retry_after,
                problem,
            } => {
                assert!(
                    *retry_after && *problem,
                    "a 503 without Retry-After or problem+json: {record:?}"
                );
                assert!(db_fault(record), "a 503 with the database up: {record:?}");
                "503"
            }
            Answer::Other { status, body } => {
                panic!("never a 500 or other error: {status} {body} ({record:?})")
            }
            Answer::TimedOut => panic!("no answer within {client_timeout:?}: {record:?}"),
            Answer::Transport(error) => {
                assert!(
                    record.node == 0 && overlaps(record, killed_at, a_back_at),
                    "only the killed node may not answer, while it is down: {error} ({record:?})"
                );
                "refused"
            }
        };
        *counts.entry(kind).or_default() += 1;
    }
    // While the database was down, every submission was answered, and with a 503.
    let during_outage: Vec<&Record> = records
        .iter()
        .filter(|r| r.started >= stopped_at && r.finished <= restart_at)
        .collect();
    assert!(during_outage.len() >= 20, "{}", during_outage.len());
    assert!(
        during_outage
            .iter()
            .all(|r| matches!(r.answer, Answer::Unavailable { .. }))
    );
    // Pooled connections broken by the crash are not handed out again once it is back (they
    // are recycled only if their socket is still open: `RecyclingMethod::Fast`).
    let late_503: Vec<&Record> = records
        .iter()
        .filter(|r| {
            matches!(r.answer, Answer::Unavailable { .. })
                && r.started > crash_back_at + Duration::from_millis(500)
                && r.finished < outage_at
        })
        .collect();
    assert!(
        late_503.is_empty(),
        "503s after the crash restart: {late_503:?}"
    );
    let refused = counts.get("refused").copied().unwrap_or(0);
    assert!(refused > 0, "requests to the killed node were refused");

    // Every tip that was answered 201 is stored, under the reference it was given.
    let mut conn = AsyncPgConnection::establish(&database_url).await.unwrap();
    let stored: Vec<Stored> = diesel::sql_query("SELECT id, reference FROM tips")
        .load(&mut conn)
        .await
        .unwrap();
    let stored: HashMap<uuid::Uuid, String> =
        stored.into_iter().map(|s| (s.id, s.reference)).collect();
    let created: Vec<(uuid::Uuid, String)> = records
        .iter()
        .filter_map(|r| match &r.answer {
            Answer::Created { id, reference } => Some((*id, reference.clone())),
            _ => None,
        })
        .collect();
    for (id, reference) in &created {
        assert_eq!(
            stored.get(id),
            Some(reference),
            "tip {id} answered 201 is stored"
        );
    }
    let references: HashSet<&String> = stored.values().collect();
    assert_eq!(references.len(), stored.len(), "references are unique");

    // Every notification job is sent, and once: a send the worker could not record while the
    // database was down is recorded when it is back (within the lease), not sent again.
    wait_until("every job sent", Duration::from_secs(20), || async {
        let mut conn = AsyncPgConnection::establish(&database_url).await.unwrap();
        let jobs: Vec<Job> = diesel::sql_query("SELECT id, state FROM notification_jobs")
            .load(&mut conn)
            .await
            .unwrap();
        jobs.iter().all(|j| j.state == "sent")
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let jobs: Vec<Job> = diesel::sql_query("SELECT id, state FROM notification_jobs")
        .load(&mut conn)
        .await
        .unwrap();
    let mut delivered: HashMap<String, usize> = HashMap::new();
    for mail in sink.messages() {
        *delivered.entry(mail.message_id()).or_default() += 1;
    }
    let mut doubled = 0;
    for job in &jobs {
        let times = delivered
            .get(&format!("<{}@tipsa.example>", job.id))
            .copied()
            .unwrap_or(0);
        assert!(times >= 1, "job {} never delivered", job.id);
        if times > 1 {
            doubled += 1;
        }
    }
    assert_eq!(doubled, 0, "notifications mailed twice");
    assert_eq!(
        delivered.len(),
        jobs.len(),
        "nothing but the jobs was mailed"
    );

    for node in [&mut web_a, &mut web_b, &mut mailer] {
        assert!(node.is_running(), "{} died\n{}", node.name, node.tail());
    }
    let numbers: Vec<u64> = references
        .iter()
        .map(|r| r.rsplit('-').next().unwrap().parse().unwrap())
        .collect();
    let span = numbers.iter().max().unwrap() - numbers.iter().min().unwrap() + 1;
    eprintln!(
        "faults: answers {counts:?}; {} tips stored ({} answered 201; references span {span}, \
         {} numbers unused); {} jobs, {doubled} mailed twice; 201 again after the crash \
         restart in {after_crash:?}, after the outage in {after_outage:?}; /readyz 200 again \
         after {ready_again:?}; backlog sent in {:.1} s; then mail in {resumed:?}; test took {:.1} s",
        stored.len(),
        created.len(),
        span - numbers.len() as u64,
        jobs.len(),
        backlog.as_secs_f64(),
        test_started.elapsed().as_secs_f64()
    );
}
