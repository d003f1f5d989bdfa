//! Email notifications against a real SMTP server process (Python's aiosmtpd, started by
//! `tests/support/smtp_sink.py` on a free port): every job kind with its recipients and the
//! content rule, an SMTP outage, a killed worker, two workers, backoff to dead and an admin
//! retry, and the file transport.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::sql_types::{BigInt, Text};
use diesel_async::RunQueryDsl;
use futures_util::StreamExt;
use serde_json::{Value, json};
use tipsa::config::{MailTransportKind, Settings, SmtpTls};

use crate::helpers::{CapturedLogs, TestApp, spawn_app_with};

/// An aiosmtpd process that writes each accepted message as JSON into a directory.
pub struct SmtpSink {
    dir: PathBuf,
    child: Option<Child>,
}

/// One message as the server received it.
#[derive(Debug, Clone)]
pub struct Mail {
    rcpt_tos: Vec<String>,
    headers: Vec<(String, String)>,
    text: String,
    html: String,
    raw: String,
}

impl Mail {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn kind(&self) -> &str {
        self.header("X-Tipsa-Kind").unwrap_or_default()
    }

    pub fn message_id(&self) -> String {
        self.header("Message-ID")
            .unwrap_or_default()
            .trim()
            .to_owned()
    }

    pub fn subject(&self) -> &str {
        self.header("Subject").unwrap_or_default()
    }

    /// Everything a reader sees, except the recipient headers (a receipt is addressed to the
    /// reporter, necessarily).
    fn visible_without_recipients(&self) -> String {
        let headers: Vec<String> = self
            .headers
            .iter()
            .filter(|(k, _)| !k.eq_ignore_ascii_case("To"))
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        format!("{}\n{}\n{}", headers.join("\n"), self.text, self.html)
    }
}

pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tipsa-{name}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

impl SmtpSink {
    pub fn start(port: u16, dir: &Path, reject: bool) -> SmtpSink {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtp_sink.py");
        let mut command = Command::new("python3");
        command
            .arg(&script)
            .arg(port.to_string())
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if reject {
            command.arg("--reject");
        }
        let mut child = command
            .spawn()
            .expect("starting python3 tests/support/smtp_sink.py (is aiosmtpd installed?)");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        assert_eq!(
            line.trim(),
            "READY",
            "the SMTP sink did not start (pip install aiosmtpd)"
        );
        SmtpSink {
            dir: dir.to_owned(),
            child: Some(child),
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn messages(&self) -> Vec<Mail> {
        let mut mails = Vec::new();
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return mails;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let record: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            mails.push(Mail {
                rcpt_tos: record["rcpt_tos"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_str().unwrap().to_owned())
                    .collect(),
                headers: record["headers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|h| {
                        (
                            h[0].as_str().unwrap().to_owned(),
                            h[1].as_str().unwrap().to_owned(),
                        )
                    })
                    .collect(),
                text: record["text"].as_str().unwrap().to_owned(),
                html: record["html"].as_str().unwrap().to_owned(),
                raw: record["raw"].as_str().unwrap().to_owned(),
            });
        }
        mails
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Worker settings for a test: SMTP without TLS on `port`, quick polls and retries.
fn smtp_settings(settings: &mut Settings, port: u16) {
    let notify = &mut settings.notify;
    notify.worker_in_serve = true;
    notify.transport = MailTransportKind::Smtp;
    notify.smtp.host = "127.0.0.1".into();
    notify.smtp.port = port;
    notify.smtp.tls = SmtpTls::None;
    notify.smtp.timeout_seconds = 5;
    notify.smtp.pool_size = 2;
    notify.lease_seconds = 10;
    notify.poll_interval_ms = 200;
    notify.backoff_base_ms = 100;
    notify.backoff_cap_ms = 500;
    notify.max_attempts = 1000;
    notify.maintenance_interval_seconds = 3600;
    notify.public_base_url = "https://tipsa.test".into();
}

pub async fn wait_until<F, Fut>(what: &str, timeout: Duration, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !done().await {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    let mut conn = app.db.connect().await;
    diesel::sql_query(sql)
        .get_result::<Count>(&mut conn)
        .await
        .unwrap()
        .n
}

#[derive(diesel::QueryableByName, Debug)]
struct JobRow {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    id: uuid::Uuid,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    state: String,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    attempts: i32,
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    last_error: Option<String>,
}

async fn jobs(app: &TestApp) -> Vec<JobRow> {
    let mut conn = app.db.connect().await;
    diesel::sql_query(
        "SELECT id, kind, state, attempts, last_error FROM notification_jobs ORDER BY created_at",
    )
    .load(&mut conn)
    .await
    .unwrap()
}

/// A tip that triage rates critical or high (urgency term and an ongoing situation).
pub fn urgent_tip(n: usize) -> Value {
    json!({
        "category": "patient_safety",
        "care_sector": "elderly_residential",
        "region_code": "01",
        "municipality_code": "0180",
        "ongoing": true,
        "description": format!("En boende har uttryckt självmordstankar flera nätter i rad, tips nummer {n}."),
        "reporter_role": "staff"
    })
}

async fn submit_ok(app: &TestApp, body: &Value) -> Value {
    let response = app.submit(body).await;
    assert_eq!(response.status().as_u16(), 201);
    response.json().await.unwrap()
}

#[tokio::test]
async fn every_kind_reaches_its_recipients_and_no_message_carries_tip_content() {
    let port = crate::helpers::free_port();
    let sink = SmtpSink::start(port, &temp_dir("smtp").join("mail"), false);
    let app = spawn_app_with(|s| smtp_settings(s, port)).await;

    let description = "Personalen på avdelning Blåklinten lämnar den boende Zebulon ensam, och han hotar med självmord varje natt.";
    let facility = "Solgläntans Unika Äldreboende 9931";
    let provider = "Vårdbolaget Unikum AB";
    let name = "Astrid Testperson-Lindqvist";
    let email = "astrid.reporter@example.se";
    let phone = "+46 70 123 45 67";
    let urgent = submit_ok(
        &app,
        &json!({
            "category": "patient_safety",
            "care_sector": "elderly_residential",
            "region_code": "01",
            "municipality_code": "0180",
            "facility_name": facility,
            "care_provider": provider,
            "ongoing": true,
            "description": description,
            "reporter_role": "relative",
            "reporter": {"name": name, "email": email, "phone": phone}
        }),
    )
    .await;
    let quiet_description =
        "Journalanteckningarna i Kvarnbyns vårdcentral saknar signaturer sedan i våras.";
    let quiet_email = "quiet.reporter@example.com";
    let quiet = submit_ok(
        &app,
        &json!({
            "category": "documentation",
            "care_sector": "primary_care",
            "region_code": "12",
            "municipality_code": "1280",
            "description": quiet_description,
            "reporter_role": "patient",
            "reporter": {"email": quiet_email},
            "language": "en"
        }),
    )
    .await;
    let (urgent_id, urgent_ref) = (
        urgent["id"].as_str().unwrap().to_owned(),
        urgent["reference"].as_str().unwrap().to_owned(),
    );
    let (quiet_id, quiet_ref) = (
        quiet["id"].as_str().unwrap().to_owned(),
        quiet["reference"].as_str().unwrap().to_owned(),
    );
    let codes = [
        urgent["receipt_code"].as_str().unwrap().to_owned(),
        quiet["receipt_code"].as_str().unwrap().to_owned(),
    ];
    // Principle 2: the jobs were committed with the tips.
    assert_eq!(
        count(&app, "SELECT count(*) AS n FROM notification_jobs").await,
        3,
        "urgent + two receipts"
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) AS n FROM notification_digest_entries WHERE job_id IS NULL"
        )
        .await,
        1
    );

    // The tipster replies (enqueued with the reply).
    let reply = "Det hände igen i natt, Zebulon var ensam i fyra timmar.";
    let response = app
        .client
        .post(app.url("/api/v1/follow-up/messages"))
        .json(&json!({"receipt_code": codes[0], "body": reply}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);

    // The quiet tip's first review is overdue; the digest slot comes.
    let mut conn = app.db.connect().await;
    diesel::sql_query(format!(
        "UPDATE tips SET due_at = now() - interval '1 hour' WHERE id = '{quiet_id}'"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        tipsa::notify::overdue::enqueue_overdue(&mut conn, 7)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        tipsa::notify::overdue::enqueue_overdue(&mut conn, 7)
            .await
            .unwrap(),
        0,
        "once per tip"
    );
    let slot = chrono::Utc::now();
    assert_eq!(
        tipsa::notify::digest::enqueue_for_slot(&mut conn, slot)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        tipsa::notify::digest::enqueue_for_slot(&mut conn, slot)
            .await
            .unwrap(),
        0,
        "once per team and slot"
    );

    wait_until("six messages", Duration::from_secs(30), || async {
        sink.messages().len() >= 6
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mails = sink.messages();
    assert_eq!(mails.len(), 6, "{mails:#?}");
    let by_kind =
        |kind: &str| -> Vec<&Mail> { mails.iter().filter(|m| m.kind() == kind).collect() };

    let urgent_mail = by_kind("urgent_tip");
    assert_eq!(urgent_mail.len(), 1);
    let urgent_mail = urgent_mail[0];
    assert_eq!(urgent_mail.rcpt_tos, vec!["ost@tipsa.example"]);
    assert!(urgent_mail.subject().contains(&urgent_ref));
    for part in [&urgent_mail.text, &urgent_mail.html] {
        assert!(part.contains(&format!("https://tipsa.test/inspektor/tips/{urgent_id}")));
        assert!(part.contains("Stockholms län") && part.contains("Avdelning öst"));
        assert!(part.contains("svensk tid"));
    }
    assert!(
        urgent_mail
            .header("List-Id")
            .unwrap()
            .contains("<tipsa-notifications.ost.tipsa.example>")
    );
    assert_eq!(urgent_mail.header("Auto-Submitted"), Some("auto-generated"));
    assert!(urgent_mail.raw.contains("multipart/alternative"));

    let receipts = by_kind("reporter_ack");
    assert_eq!(receipts.len(), 2);
    let sv_receipt = receipts
        .iter()
        .find(|m| m.rcpt_tos == vec![email.to_owned()])
        .expect("a receipt to the first reporter");
    assert!(
        sv_receipt
            .subject()
            .starts_with("Vi har tagit emot ditt tips")
    );
    assert!(sv_receipt.text.contains(&urgent_ref));
    assert!(!sv_receipt.text.contains("inspektor"));
    let en_receipt = receipts
        .iter()
        .find(|m| m.rcpt_tos == vec![quiet_email.to_owned()])
        .expect("a receipt to the second reporter");
    assert!(
        en_receipt
            .subject()
            .starts_with("We have received your tip")
    );
    assert!(en_receipt.text.contains(&quiet_ref));

    let replied = by_kind("reporter_replied");
    assert_eq!(replied.len(), 1);
    assert_eq!(replied[0].rcpt_tos, vec!["ost@tipsa.example"]);
    assert!(replied[0].subject().contains(&urgent_ref));

    let overdue = by_kind("deadline_overdue");
    assert_eq!(overdue.len(), 1);
    assert_eq!(overdue[0].rcpt_tos, vec!["syd-ledning@tipsa.example"]);
    assert!(overdue[0].text.contains(&quiet_ref));

    let digest = by_kind("team_digest");
    assert_eq!(digest.len(), 1);
    assert_eq!(digest[0].rcpt_tos, vec!["syd@tipsa.example"]);
    assert!(digest[0].subject().contains("1 nya tips"));
    for part in [&digest[0].text, &digest[0].html] {
        assert!(part.contains(&quiet_ref));
        assert!(part.contains("Dokumentation") && part.contains("låg"));
        assert!(part.contains(&format!("https://tipsa.test/inspektor/tips/{quiet_id}")));
    }

    // Stable, distinct Message-IDs named after the jobs.
    let job_rows = jobs(&app).await;
    assert_eq!(job_rows.len(), 6);
    assert!(job_rows.iter().all(|j| j.state == "sent"), "{job_rows:?}");
    let mut kinds: Vec<&str> = job_rows.iter().map(|j| j.kind.as_str()).collect();
    kinds.sort_unstable();
    assert_eq!(
        kinds,
        [
            "deadline_overdue",
            "reporter_ack",
            "reporter_ack",
            "reporter_replied",
            "team_digest",
            "urgent_tip"
        ]
    );
    let ids: HashSet<String> = mails.iter().map(Mail::message_id).collect();
    let expected: HashSet<String> = job_rows
        .iter()
        .map(|j| format!("<{}@tipsa.example>", j.id))
        .collect();
    assert_eq!(ids, expected);

    // The content rule (DESIGN §2.3), over every message.
    let forbidden = [
        description,
        "Zebulon",
        "Blåklinten",
        quiet_description,
        "Kvarnbyns",
        facility,
        provider,
        name,
        "Lindqvist",
        email,
        quiet_email,
        phone,
        "123 45 67",
        reply,
        codes[0].as_str(),
        codes[1].as_str(),
        &codes[0].replace('-', ""),
        &codes[1].replace('-', ""),
    ];
    for mail in &mails {
        let visible = mail.visible_without_recipients();
        for needle in forbidden {
            assert!(
                !visible.contains(needle),
                "{} message contains {needle:?}",
                mail.kind()
            );
        }
        if mail.kind() != "reporter_ack" {
            for needle in forbidden {
                assert!(
                    !mail.raw.contains(needle),
                    "raw {} has {needle:?}",
                    mail.kind()
                );
            }
        }
    }
    // Nor do the logs.
    let logs = CapturedLogs::global().text();
    for needle in [email, quiet_email, description, codes[0].as_str()] {
        assert!(!logs.contains(needle), "the logs contain {needle:?}");
    }
}

#[tokio::test]
async fn an_smtp_outage_loses_nothing_and_sends_nothing_twice() {
    let port = crate::helpers::free_port();
    let app = spawn_app_with(|s| {
        smtp_settings(s, port);
        s.database.pool_size = 8;
        s.notify.smtp.timeout_seconds = 2;
    })
    .await;
    let app = Arc::new(app);
    // The mail server is down while 200 tips arrive.
    let submissions = (0..200).map(|n| {
        let app = app.clone();
        async move { submit_ok(&app, &urgent_tip(n)).await }
    });
    let accepted: Vec<Value> = futures_util::stream::iter(submissions)
        .buffer_unordered(8)
        .collect()
        .await;
    assert_eq!(accepted.len(), 200);
    assert_eq!(
        count(&app, "SELECT count(*) AS n FROM notification_jobs").await,
        200
    );
    wait_until(
        "failed attempts to be recorded",
        Duration::from_secs(30),
        || async {
            count(
                &app,
                "SELECT count(*) AS n FROM notification_jobs WHERE last_error IS NOT NULL",
            )
            .await
                >= 50
        },
    )
    .await;
    assert_eq!(
        count(
            &app,
            "SELECT count(*) AS n FROM notification_jobs WHERE state = 'sent'"
        )
        .await,
        0
    );

    // The server comes back.
    let sink = SmtpSink::start(port, &temp_dir("smtp").join("mail"), false);
    wait_until("every job sent", Duration::from_secs(90), || async {
        count(
            &app,
            "SELECT count(*) AS n FROM notification_jobs WHERE state = 'sent'",
        )
        .await
            == 200
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mails = sink.messages();
    let ids: HashSet<String> = mails.iter().map(Mail::message_id).collect();
    assert_eq!(mails.len(), 200, "no message twice");
    assert_eq!(ids.len(), 200, "every Message-ID once");
    let references: HashSet<String> = accepted
        .iter()
        .map(|a| a["reference"].as_str().unwrap().to_owned())
        .collect();
    let mailed: HashSet<String> = mails
        .iter()
        .map(|m| m.subject().rsplit(' ').next().unwrap().to_owned())
        .collect();
    assert_eq!(mailed, references, "every tip's notification arrived");
}

/// A TCP server that accepts connections and never answers: an SMTP server that stalls.
fn stalling_server() -> (u16, std::thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
            if held.len() > 64 {
                break;
            }
        }
    });
    (port, handle)
}

fn worker_process(db_url: &str, smtp_port: u16, var_dir: &Path) -> Child {
    worker_command(db_url, smtp_port, var_dir)
        .spawn()
        .expect("starting tipsa worker")
}

/// `tipsa worker` against the test database and an SMTP port, with quick timings.
fn worker_command(db_url: &str, smtp_port: u16, var_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tipsa"));
    command
        .arg("worker")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("TIPSA_CONFIG_DIR", var_dir.join("no-config"))
        .env("TIPSA__VAR_DIR", var_dir)
        .env("TIPSA__LOG__FORMAT", "json")
        .env("TIPSA__METRICS__WORKER_LISTEN", "127.0.0.1:0")
        .env("TIPSA__DATABASE__URL", db_url)
        .env("TIPSA__NOTIFY__TRANSPORT", "smtp")
        .env("TIPSA__NOTIFY__SMTP__HOST", "127.0.0.1")
        .env("TIPSA__NOTIFY__SMTP__PORT", smtp_port.to_string())
        .env("TIPSA__NOTIFY__SMTP__TLS", "none")
        .env("TIPSA__NOTIFY__SMTP__TIMEOUT_SECONDS", "2")
        .env("TIPSA__NOTIFY__LEASE_SECONDS", "3")
        .env("TIPSA__NOTIFY__POLL_INTERVAL_MS", "200")
        .env("TIPSA__NOTIFY__BACKOFF_BASE_MS", "100")
        .env("TIPSA__NOTIFY__BACKOFF_CAP_MS", "500")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

#[tokio::test]
async fn a_killed_worker_s_leased_jobs_are_delivered_once_after_the_lease() {
    let app = spawn_app_with(|_| {}).await;
    for n in 0..20 {
        submit_ok(&app, &urgent_tip(n)).await;
    }
    assert_eq!(
        count(&app, "SELECT count(*) AS n FROM notification_jobs").await,
        20
    );
    // A worker takes jobs and hangs on a server that never answers; then it is killed.
    let (stalling_port, _stalling) = stalling_server();
    let var = temp_dir("worker");
    let mut first = worker_process(&app.db.url, stalling_port, &var);
    wait_until(
        "the first worker to hold leases",
        Duration::from_secs(30),
        || async {
            count(
                &app,
                "SELECT count(*) AS n FROM notification_jobs WHERE locked_by IS NOT NULL",
            )
            .await
                > 0
        },
    )
    .await;
    first.kill().unwrap(); // SIGKILL: no chance to release anything
    first.wait().unwrap();
    let mut conn = app.db.connect().await;
    let leased: Vec<JobRow> = diesel::sql_query(
        "SELECT id, kind, state, attempts, last_error FROM notification_jobs \
         WHERE locked_by IS NOT NULL",
    )
    .load(&mut conn)
    .await
    .unwrap();
    assert!(!leased.is_empty());

    // Another worker, with a working server, takes over after the lease.
    let port = crate::helpers::free_port();
    let sink = SmtpSink::start(port, &temp_dir("smtp").join("mail"), false);
    let second = worker_process(&app.db.url, port, &var);
    let _second = KillOnDrop(second);
    wait_until("every job sent", Duration::from_secs(60), || async {
        count(
            &app,
            "SELECT count(*) AS n FROM notification_jobs WHERE state = 'sent'",
        )
        .await
            == 20
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mails = sink.messages();
    let ids: HashSet<String> = mails.iter().map(Mail::message_id).collect();
    assert_eq!(mails.len(), 20, "each job exactly once");
    assert_eq!(ids.len(), 20);
    // The jobs the killed worker held show it: a second attempt and the expired lease.
    let after: HashMap<uuid::Uuid, JobRow> =
        jobs(&app).await.into_iter().map(|j| (j.id, j)).collect();
    for job in &leased {
        let now = &after[&job.id];
        assert!(now.attempts >= 2, "{now:?}");
        assert!(
            now.last_error
                .as_deref()
                .is_some_and(|e| e.contains("lease expired")),
            "{now:?}"
        );
        assert!(ids.contains(&format!("<{}@tipsa.example>", job.id)));
    }
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Workers are woken after the commit by the service (`notify::wake`), not by a trigger: a
/// worker (its own database connections, as in another process) that would otherwise poll only
/// once a minute sends an urgent tip's notice and a reporter's receipt within seconds.
#[tokio::test]
async fn workers_are_woken_after_the_commit_without_polling() {
    let port = crate::helpers::free_port();
    let sink = SmtpSink::start(port, &temp_dir("smtp").join("mail"), false);
    let app = spawn_app_with(|_| {}).await;
    let mut settings = (*app.state.settings).clone();
    smtp_settings(&mut settings, port);
    settings.notify.poll_interval_ms = 60_000;
    let worker = tipsa::notify::worker::Notifier::new(
        &settings,
        &app.db.url,
        &app.state.triage,
        app.state.taxonomy.clone(),
        app.state.crypto.clone(),
    )
    .unwrap()
    .spawn();
    // The worker claims once when it starts; wait until it listens and idles.
    wait_until("the worker to listen", Duration::from_secs(30), || async {
        count(
            &app,
            "SELECT count(*) AS n FROM pg_stat_activity \
             WHERE datname = current_database() AND query LIKE 'LISTEN%'",
        )
        .await
            == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    submit_ok(&app, &urgent_tip(1)).await;
    // A normal tip from a reporter who gave an email: only the receipt is due at once.
    submit_ok(
        &app,
        &json!({
            "category": "staffing",
            "care_sector": "elderly_residential",
            "region_code": "01",
            "description": "Bemanningen på natten räcker inte till för alla boende.",
            "reporter_role": "relative",
            "reporter": {"email": "anhorig@example.se"}
        }),
    )
    .await;
    let kinds: HashSet<String> = jobs(&app).await.into_iter().map(|j| j.kind).collect();
    assert_eq!(
        kinds,
        HashSet::from(["urgent_tip".to_owned(), "reporter_ack".to_owned()])
    );
    wait_until(
        "both notifications sent without a poll",
        Duration::from_secs(10),
        || async {
            count(
                &app,
                "SELECT count(*) AS n FROM notification_jobs WHERE state = 'sent'",
            )
            .await
                == 2
        },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.messages().len(), 2);
    worker.shutdown().await;
}

#[tokio::test]
async fn two_workers_deliver_each_job_once() {
    let port = crate::helpers::free_port();
    let sink = SmtpSink::start(port, &temp_dir("smtp").join("mail"), false);
    let app = spawn_app_with(|s| s.database.pool_size = 8).await;
    let mut settings = (*app.state.settings).clone();
    smtp_settings(&mut settings, port);
    settings.notify.concurrency = 4;
    let workers: Vec<_> = (0..2)
        .map(|_| {
            tipsa::notify::worker::Notifier::new(
                &settings,
                &app.db.url,
                &app.state.triage,
                app.state.taxonomy.clone(),
                app.state.crypto.clone(),
            )
            .unwrap()
            .spawn()
        })
        .collect();
    let app = Arc::new(app);
    let submissions = (0..100).map(|n| {
        let app = app.clone();
        async move { submit_ok(&app, &urgent_tip(n)).await }
    });
    let accepted: Vec<Value> = futures_util::stream::iter(submissions)
        .buffer_unordered(8)
        .collect()
        .await;
    assert_eq!(accepted.len(), 100);
    wait_until("every job sent", Duration::from_secs(60), || async {
        count(
            &app,
            "SELECT count(*) AS n FROM notification_jobs WHERE state = 'sent'",
        )
        .await
            == 100
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mails = sink.messages();
    let ids: HashSet<String> = mails.iter().map(Mail::message_id).collect();
    assert_eq!(mails.len(), 100);
    assert_eq!(ids.len(), 100);
    assert_eq!(
        count(
            &app,
            "SELECT count(*) AS n FROM notification_jobs WHERE attempts <> 1"
        )
        .await,
        0,
        "no job was claimed twice"
    );
    for worker in workers {
        worker.shutdown().await;
    }
}

#[tokio::test]
async fn a_rejected_job_backs_off_dies_and_an_admin_retry_sends_it() {
    let port = crate::helpers::free_port();
    let dir = temp_dir("smtp");
    let mut rejecting = SmtpSink::start(port, &dir.join("rejected"), true);
    let app = spawn_app_with(|s| {
        smtp_settings(s, port);
        s.notify.max_attempts = 3;
        s.notify.backoff_base_ms = 200;
        s.notify.backoff_cap_ms = 400;
    })
    .await;
    let started = Instant::now();
    let tip = submit_ok(&app, &urgent_tip(1)).await;
    wait_until("the job to die", Duration::from_secs(30), || async {
        count(
            &app,
            "SELECT count(*) AS n FROM notification_jobs WHERE state = 'dead'",
        )
        .await
            == 1
    })
    .await;
    // Two waits of at least half the backoff each (100 ms, then 200 ms).
    assert!(started.elapsed() >= Duration::from_millis(300));
    let job = &jobs(&app).await[0];
    assert_eq!(job.attempts, 3);
    assert!(
        job.last_error.as_deref().unwrap().contains("550"),
        "{job:?}"
    );
    assert!(rejecting.messages().is_empty());

    let mut conn = app.db.connect().await;
    let dead = tipsa::notify::admin::list_dead(&mut conn, 10)
        .await
        .unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].id, job.id);
    assert_eq!(dead[0].kind, "urgent_tip");
    assert_eq!(dead[0].tip_reference.as_deref(), tip["reference"].as_str());

    // The CLI lists it too.
    let var = temp_dir("cli");
    let cli = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_tipsa"))
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("TIPSA_CONFIG_DIR", var.join("no-config"))
            .env("TIPSA__VAR_DIR", &var)
            .env("TIPSA__DATABASE__URL", &app.db.url)
            .output()
            .unwrap()
    };
    let listed = cli(&["notify", "dead"]);
    assert!(listed.status.success());
    let listing = String::from_utf8(listed.stdout).unwrap();
    assert!(
        listing.contains(&job.id.to_string()) && listing.contains("550"),
        "{listing}"
    );

    // The server is fixed; the admin retries.
    rejecting.stop();
    let sink = SmtpSink::start(port, &dir.join("accepted"), false);
    let retried = cli(&["notify", "retry", &job.id.to_string()]);
    assert!(
        retried.status.success(),
        "{}",
        String::from_utf8_lossy(&retried.stderr)
    );
    let again = cli(&["notify", "retry", &job.id.to_string()]);
    assert!(!again.status.success(), "only dead jobs can be retried");
    wait_until(
        "the retried job to be sent",
        Duration::from_secs(30),
        || async {
            count(
                &app,
                "SELECT count(*) AS n FROM notification_jobs WHERE state = 'sent'",
            )
            .await
                == 1
        },
    )
    .await;
    let mails = sink.messages();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].message_id(), format!("<{}@tipsa.example>", job.id));
    assert!(
        tipsa::notify::admin::list_dead(&mut conn, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn the_default_file_transport_writes_eml_files_under_var_mail() {
    let app = spawn_app_with(|s| {
        s.notify.worker_in_serve = true;
        s.notify.poll_interval_ms = 200;
    })
    .await;
    let tip = submit_ok(&app, &urgent_tip(7)).await;
    let reference = tip["reference"].as_str().unwrap().to_owned();
    let mail_dir = app.state.settings.var_dir.join("mail");
    wait_until("an .eml file", Duration::from_secs(30), || async {
        std::fs::read_dir(&mail_dir)
            .map(|d| {
                d.flatten()
                    .any(|e| e.path().extension().is_some_and(|x| x == "eml"))
            })
            .unwrap_or(false)
    })
    .await;
    let file = std::fs::read_dir(&mail_dir)
        .unwrap()
        .flatten()
        .find(|e| e.path().extension().is_some_and(|x| x == "eml"))
        .unwrap();
    let eml = std::fs::read_to_string(file.path()).unwrap();
    assert!(eml.contains(&reference), "{eml}");
    assert!(eml.contains("@tipsa.example>"));
    assert!(!eml.contains("självmordstankar"));
    assert!(
        !Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("var/mail")
            .join(file.file_name())
            .exists()
    );
}

/// A tipster's reply goes to the inspector the tip is assigned to (the workspace stores their
/// email address), in that inspector's language; without an assignee, to the team.
#[tokio::test]
async fn a_reply_reaches_the_assigned_inspector_in_their_language() {
    let port = crate::helpers::free_port();
    let sink = SmtpSink::start(port, &temp_dir("smtp-assignee"), false);
    let app = spawn_app_with(|s| smtp_settings(s, port)).await;
    {
        let mut conn = app.db.connect().await;
        let known: Vec<&str> = app
            .state
            .triage
            .teams
            .iter()
            .map(|t| t.code.as_str())
            .collect();
        let account = tipsa::auth::accounts::NewAccount::parse(
            "eve@ivo.example",
            "Eve",
            &["inspector".into()],
            &["ost".into()],
            "en",
            &known,
        )
        .unwrap();
        tipsa::auth::accounts::create(&mut conn, &account, None)
            .await
            .unwrap();
    }
    let tip = submit_ok(&app, &urgent_tip(1)).await;
    let id = tip["id"].as_str().unwrap();
    let code = tip["receipt_code"].as_str().unwrap();
    // Assign to Eve, ask, and let the tipster answer.
    let current = app.get(&format!("/api/v1/tips/{id}")).await;
    let etag = current.headers()["etag"].to_str().unwrap().to_owned();
    let patched = app
        .client
        .patch(app.url(&format!("/api/v1/tips/{id}")))
        .bearer_auth(&app.token)
        .header("If-Match", etag)
        .json(&json!({"assignee": "eve@ivo.example"}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status().as_u16(), 200);
    let asked = app
        .client
        .post(app.url(&format!("/api/v1/tips/{id}/messages")))
        .bearer_auth(&app.token)
        .json(&json!({"body": "Which nights?"}))
        .send()
        .await
        .unwrap();
    assert_eq!(asked.status().as_u16(), 201);
    let replied = app
        .client
        .post(app.url("/api/v1/follow-up/messages"))
        .json(&json!({"receipt_code": code, "body": "Every night since Monday."}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        replied.status().as_u16(),
        201,
        "{}",
        replied.text().await.unwrap()
    );
    wait_until("the reply notice", Duration::from_secs(20), || async {
        sink.messages()
            .iter()
            .any(|m| m.kind() == "reporter_replied")
    })
    .await;
    let reply = sink
        .messages()
        .into_iter()
        .find(|m| m.kind() == "reporter_replied")
        .unwrap();
    assert_eq!(reply.rcpt_tos, vec!["eve@ivo.example".to_owned()]);
    assert!(
        !reply.raw.contains("Every night since Monday."),
        "no tip content"
    );
    assert!(
        reply.subject().contains("The tipster replied"),
        "{}",
        reply.subject()
    );
}

/// SIGTERM: the worker stops claiming, gives in-flight sends the grace period, releases the
/// leases it still holds and exits — so another worker sends those jobs at once, long before
/// the (here ten-minute) lease would have run out.
#[tokio::test]
async fn a_terminated_worker_releases_its_leases_for_the_next_one() {
    let app = spawn_app_with(|_| {}).await;
    for n in 0..10 {
        submit_ok(&app, &urgent_tip(n)).await;
    }
    let (stalling_port, _stalling) = stalling_server();
    let var = temp_dir("worker-term");
    let mut first = worker_command(&app.db.url, stalling_port, &var)
        .env("TIPSA__NOTIFY__LEASE_SECONDS", "600")
        .env("TIPSA__NOTIFY__SMTP__TIMEOUT_SECONDS", "60")
        .env("TIPSA__NOTIFY__SHUTDOWN_GRACE_SECONDS", "1")
        .spawn()
        .unwrap();
    wait_until("leases held", Duration::from_secs(30), || async {
        count(
            &app,
            "SELECT count(*) AS n FROM notification_jobs WHERE locked_by IS NOT NULL",
        )
        .await
            > 0
    })
    .await;
    let terminated = Command::new("kill")
        .args(["-TERM", &first.id().to_string()])
        .status()
        .unwrap();
    assert!(terminated.success());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = first.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the worker did not stop"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success(), "{status:?}");
    assert_eq!(
        count(
            &app,
            "SELECT count(*) AS n FROM notification_jobs WHERE locked_by IS NOT NULL"
        )
        .await,
        0,
        "every lease released"
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) AS n FROM notification_jobs WHERE state = 'sent'"
        )
        .await,
        0
    );

    let port = crate::helpers::free_port();
    let sink = SmtpSink::start(port, &temp_dir("smtp-term").join("mail"), false);
    let _second = KillOnDrop(
        worker_command(&app.db.url, port, &var)
            .env("TIPSA__NOTIFY__LEASE_SECONDS", "600")
            .spawn()
            .unwrap(),
    );
    wait_until(
        "every job sent by the next worker",
        Duration::from_secs(30),
        || async {
            count(
                &app,
                "SELECT count(*) AS n FROM notification_jobs WHERE state = 'sent'",
            )
            .await
                == 10
        },
    )
    .await;
    let ids: HashSet<String> = sink.messages().iter().map(Mail::message_id).collect();
    assert_eq!(ids.len(), 10);
}
