//! Many nodes, one database: two `tipsa serve` processes (worker off) and two `tipsa worker`
//! processes on one PostgreSQL database, with the real SMTP sink. Tips arrive through both
//! nodes' API and the public form; a burst of urgent tips is sent while one worker is killed
//! with SIGKILL. Checked: every notification job is delivered exactly once (by Message-ID),
//! the killed worker's leased jobs are taken over after the lease, references are unique; the
//! public form's rate limit is per node. Sessions, lock-out and keys: tests/api/cluster_auth.rs.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use diesel::sql_types::{Integer, Nullable, Text, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use futures_util::StreamExt;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{Site, TestDatabase, create_key, free_port, valid_tip};
use crate::nodes::{self, Node, Role};
use crate::notifications::{SmtpSink, urgent_tip, wait_until};
use crate::people;
use crate::web_pages::{browser_like, form_token, valid_form};

/// A TCP relay in front of the SMTP sink that can be frozen: while frozen, nothing more the
/// client sends reaches the server (answers still flow back). A worker behind a frozen relay
/// holds its leases on messages the sink has not accepted, so killing it then leaves exactly
/// those jobs to be taken over, none of them already delivered.
struct FreezableRelay {
    port: u16,
    frozen: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl FreezableRelay {
    async fn start(upstream: u16) -> FreezableRelay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let frozen = Arc::new(AtomicBool::new(false));
        let gate = frozen.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await
                else {
                    continue;
                };
                let (mut client_read, mut client_write) = client.into_split();
                let (mut server_read, mut server_write) = server.into_split();
                tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
                });
                let gate = gate.clone();
                tokio::spawn(async move {
                    let mut buffer = vec![0u8; 16 * 1024];
                    loop {
                        let n = match client_read.read(&mut buffer).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        while AtomicBool::load(&gate, Ordering::SeqCst) {
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                        if server_write.write_all(&buffer[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        FreezableRelay { port, frozen, task }
    }

    fn freeze(&self) {
        self.frozen.store(true, Ordering::SeqCst);
    }
}

impl Drop for FreezableRelay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(diesel::QueryableByName, Debug)]
struct Job {
    #[diesel(sql_type = SqlUuid)]
    id: uuid::Uuid,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    state: String,
    #[diesel(sql_type = Integer)]
    attempts: i32,
    #[diesel(sql_type = Nullable<Text>)]
    locked_by: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    last_error: Option<String>,
}

async fn jobs(db: &TestDatabase) -> Vec<Job> {
    let mut conn = db.connect().await;
    diesel::sql_query(
        "SELECT id, kind, state, attempts, locked_by, last_error FROM notification_jobs",
    )
    .load(&mut conn)
    .await
    .unwrap()
}

#[derive(diesel::QueryableByName)]
struct Reference {
    #[diesel(sql_type = Text)]
    reference: String,
}

/// A stored tip as the client saw it: id and reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Accepted {
    id: String,
    reference: String,
}

/// Submits through the API; panics with the node's log tail unless it answers 201.
async fn submit(client: &reqwest::Client, node: &Node, token: &str, body: &Value) -> Accepted {
    let response = client
        .post(node.url("/api/v1/tips"))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("submitting to {}: {e}\n{}", node.name, node.tail()));
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_eq!(status, 201, "{}: {text}\n{}", node.name, node.tail());
    let body: Value = serde_json::from_str(&text).unwrap();
    Accepted {
        id: body["id"].as_str().unwrap().to_owned(),
        reference: body["reference"].as_str().unwrap().to_owned(),
    }
}

/// The public form: the page (and its CSRF token) from `page_node`, the post to `post_node`,
/// as a load balancer without sticky sessions would route them. Returns the status and, on a
/// receipt, the reference shown.
async fn submit_form(
    client: &reqwest::Client,
    page_node: &Node,
    post_node: &Node,
    n: usize,
) -> (u16, Option<String>) {
    let token = form_token(page_node, client).await;
    let mut form = valid_form(&token);
    form.retain(|(name, _)| *name != "description");
    form.push((
        "description",
        format!("Nattetid är en undersköterska ensam med trettio boende, formulär {n}."),
    ));
    let response = client
        .post(post_node.url("/tipsa/skicka"))
        .form(&form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let html = response.text().await.unwrap();
    let reference = people::between(&html, "<dd id=\"reference\">", "<").map(str::to_owned);
    (status, reference)
}

/// The number in `T-2026-000123`.
fn reference_number(reference: &str) -> u64 {
    reference.rsplit('-').next().unwrap().parse().unwrap()
}

pub async fn start_all(nodes: &mut [&mut Node]) {
    for node in nodes.iter_mut() {
        node.start();
    }
    for node in nodes.iter_mut() {
        node.wait_ready(Duration::from_secs(60)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_serve_nodes_and_two_workers_deliver_every_notification_once() {
    let db = TestDatabase::new().await;
    let run = nodes::run_dir("cluster-notify");
    let sink_port = free_port();
    let sink = SmtpSink::start(sink_port, &run.join("mail"), false);
    let relay = FreezableRelay::start(sink_port).await;
    let shared = nodes::shared_env(&db.url);
    let serve = [
        ("TIPSA__SERVER__WORKERS", "1"),
        ("TIPSA__DATABASE__POOL_SIZE", "6"),
        ("TIPSA__PUBLIC__SUBMIT_TIP_PER_WINDOW", "3"),
    ];
    let worker = [
        ("TIPSA__NOTIFY__LEASE_SECONDS", "5"),
        ("TIPSA__NOTIFY__POLL_INTERVAL_MS", "500"),
        ("TIPSA__NOTIFY__CONCURRENCY", "4"),
        ("TIPSA__NOTIFY__MAINTENANCE_INTERVAL_SECONDS", "3600"),
        ("TIPSA__NOTIFY__SMTP__TIMEOUT_SECONDS", "4"),
        ("TIPSA__NOTIFY__BACKOFF_BASE_MS", "200"),
        ("TIPSA__NOTIFY__BACKOFF_CAP_MS", "1000"),
    ];
    let mut web1 = Node::new("serve-1", Role::Serve, &run, &shared, &serve);
    let mut web2 = Node::new("serve-2", Role::Serve, &run, &shared, &serve);
    // Worker 1 sends through the relay, worker 2 straight to the sink.
    let via_relay = [shared.clone(), nodes::smtp_env(relay.port)].concat();
    let direct = [shared.clone(), nodes::smtp_env(sink_port)].concat();
    let mut worker1 = Node::new("worker-1", Role::Worker, &run, &via_relay, &worker);
    let mut worker2 = Node::new("worker-2", Role::Worker, &run, &direct, &worker);
    start_all(&mut [&mut web1, &mut web2, &mut worker1, &mut worker2]).await;
    let token = create_key(&db, &tipsa::auth::Scope::ALL).await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let web = [&web1, &web2];
    let mut accepted: Vec<Accepted> = Vec::new();

    // Ordinary tips through both nodes' API, alternately.
    for n in 0..10 {
        let mut body = valid_tip();
        body["facility_name"] = format!("Äldreboendet Nod {}", n % 3).into();
        accepted.push(submit(&client, web[n % 2], &token, &body).await);
    }

    // The public form, page from one node and post to the other. The rate limit is per node:
    // the same client gets its budget (3) on each node, and the fourth post to a node is
    // refused even though the other node has not seen this client.
    let browser = browser_like();
    for (target, other) in [(0, 1), (1, 0)] {
        for n in 0..3 {
            let (status, reference) = submit_form(&browser, web[other], web[target], n).await;
            assert_eq!(status, 200, "form post {n} to {}", web[target].name);
            let reference = reference.expect("a reference on the receipt page");
            accepted.push(Accepted {
                id: String::new(),
                reference,
            });
        }
        let (status, _) = submit_form(&browser, web[other], web[target], 9).await;
        assert_eq!(
            status, 429,
            "the fourth form post to {} is over its budget",
            web[target].name
        );
    }

    // A burst of urgent tips, alternately through both nodes; each enqueues one job.
    let burst = |from: usize, count: usize| {
        let client = client.clone();
        let token = token.clone();
        async move {
            futures_util::stream::iter(from..from + count)
                .map(|n| {
                    let client = client.clone();
                    let token = token.clone();
                    async move { submit(&client, web[n % 2], &token, &urgent_tip(n)).await }
                })
                .buffer_unordered(6)
                .collect::<Vec<Accepted>>()
                .await
        }
    };
    let mut urgent: Vec<Accepted> = burst(0, 20).await;

    // Mid-burst, worker 1's mail stops reaching the sink; it keeps claiming and soon holds
    // leases on messages that were never delivered. Then it is killed.
    relay.freeze();
    let worker1_marker = format!(":{}:", worker1.pid());
    let started = Instant::now();
    loop {
        let holds = jobs(&db).await.into_iter().any(|j| {
            j.state == "pending"
                && j.locked_by
                    .as_deref()
                    .is_some_and(|by| by.contains(&worker1_marker))
        });
        if holds {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "worker 1 never held a lease\n{}",
            worker1.tail()
        );
        let more = urgent.len();
        urgent.extend(burst(more, 4).await);
    }
    // Sends that got through before the freeze are recorded as sent by now.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut conn = db.connect().await;
    let leased: Vec<Job> = diesel::sql_query(
        "SELECT id, kind, state, attempts, locked_by, last_error FROM notification_jobs \
         WHERE state = 'pending' AND locked_by LIKE $1",
    )
    .bind::<Text, _>(format!("%{worker1_marker}%"))
    .load(&mut conn)
    .await
    .unwrap();
    assert!(!leased.is_empty(), "worker 1 still holds its leases");
    drop(conn);
    worker1.kill9();
    let killed_at = Instant::now();
    let more = urgent.len();
    urgent.extend(burst(more, 20).await);

    // Everything is sent: worker 2 sends the rest, and the killed worker's jobs once their
    // lease (5 s) has run out.
    wait_until("every job sent", Duration::from_secs(60), || async {
        jobs(&db).await.iter().all(|j| j.state == "sent")
    })
    .await;
    let taken_over_after = killed_at.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;

    let all_jobs = jobs(&db).await;
    // One job per tip that triage made critical or high: the burst, and the ordinary tips
    // that a repeat signal at their facility raised.
    let mut conn = db.connect().await;
    let urgent_tips: Vec<Reference> =
        diesel::sql_query("SELECT reference FROM tips WHERE priority IN ('critical', 'high')")
            .load(&mut conn)
            .await
            .unwrap();
    assert!(urgent_tips.len() >= urgent.len());
    assert_eq!(all_jobs.len(), urgent_tips.len(), "one job per urgent tip");
    assert!(all_jobs.iter().all(|j| j.kind == "urgent_tip"));
    let mails = sink.messages();
    let mut by_message_id: HashMap<String, usize> = HashMap::new();
    for mail in &mails {
        *by_message_id.entry(mail.message_id()).or_default() += 1;
    }
    let expected: HashSet<String> = all_jobs
        .iter()
        .map(|j| format!("<{}@tipsa.example>", j.id))
        .collect();
    let twice: Vec<_> = by_message_id.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "delivered more than once: {twice:?}");
    assert_eq!(
        by_message_id.keys().cloned().collect::<HashSet<_>>(),
        expected,
        "every job delivered, nothing else"
    );
    let after: HashMap<uuid::Uuid, &Job> = all_jobs.iter().map(|j| (j.id, j)).collect();
    for job in &leased {
        let now = after[&job.id];
        assert!(now.attempts >= 2, "taken over after the lease: {now:?}");
        assert!(
            now.last_error
                .as_deref()
                .is_some_and(|e| e.contains("lease expired")),
            "{now:?}"
        );
    }
    let subjects_reference: HashSet<String> = mails
        .iter()
        .map(|m| m.subject().rsplit(' ').next().unwrap().to_owned())
        .collect();
    let urgent_references: HashSet<String> = urgent_tips.into_iter().map(|r| r.reference).collect();
    assert_eq!(subjects_reference, urgent_references);
    assert!(
        urgent
            .iter()
            .all(|a| urgent_references.contains(&a.reference))
    );

    // References: unique across both nodes and both channels, all stored. Gap-tolerant: they
    // come from one PostgreSQL sequence per year, so they are unique whichever node stores a
    // tip, but a rolled-back batch or a crash leaves numbers unused — never assume they are
    // consecutive, or that a number's order is the order of submission across lanes/nodes.
    accepted.extend(urgent.iter().cloned());
    let references: HashSet<&str> = accepted.iter().map(|a| a.reference.as_str()).collect();
    assert_eq!(references.len(), accepted.len(), "references are unique");
    let stored: Vec<Reference> = diesel::sql_query("SELECT reference FROM tips")
        .load(&mut conn)
        .await
        .unwrap();
    let stored: HashSet<String> = stored.into_iter().map(|r| r.reference).collect();
    assert_eq!(stored.len(), accepted.len());
    assert!(references.iter().all(|r| stored.contains(*r)));
    let numbers: Vec<u64> = stored.iter().map(|r| reference_number(r)).collect();
    let span = numbers.iter().max().unwrap() - numbers.iter().min().unwrap() + 1;
    eprintln!(
        "cluster: {} tips ({} urgent, {} leased by the killed worker), references span {span} \
         numbers ({} unused); all jobs sent {:.1} s after the kill",
        accepted.len(),
        urgent.len(),
        leased.len(),
        span - numbers.len() as u64,
        taken_over_after.as_secs_f64()
    );
    for node in [&mut web1, &mut web2, &mut worker2] {
        assert!(node.is_running(), "{} died\n{}", node.name, node.tail());
    }
}
