//! Notification delivery benchmark: queues 10 000 notification jobs (one per tip, as critical
//! tips enqueue them) in a fresh database, starts the real `tipsa worker` binary against a local
//! SMTP sink on a real socket (a minimal SMTP server in this program, so the sink is not the
//! bottleneck), and measures how fast every job is delivered and marked sent.
//!
//! `cargo bench --bench notify`
//!
//! Environment: `BENCH_JOBS` (10000), `BENCH_CONCURRENCY` (worker `notify.concurrency`, 16),
//! `TIPSA_BENCH_DATABASE_URL` (an admin URL; default: the embedded cluster under
//! `target/tipsa-bench-pg`).

#[path = "support/common.rs"]
mod common;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use diesel::sql_types::BigInt;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use common::{Tipsa, database_url, env_number, unix_time};

fn main() -> anyhow::Result<()> {
    let jobs: u64 = env_number("BENCH_JOBS", 10_000)?;
    let concurrency: u64 = env_number("BENCH_CONCURRENCY", 16)?;
    let work_dir = std::env::temp_dir().join(format!(
        "tipsa-notify-bench-{}-{}",
        std::process::id(),
        unix_time()
    ));
    std::fs::create_dir_all(&work_dir)?;
    let (admin_url, cluster) = match std::env::var("TIPSA_BENCH_DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => (url.trim().to_owned(), None),
        _ => {
            let cluster = start_embedded_cluster(&work_dir)?;
            (cluster.url("postgres"), Some(cluster))
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(run(&admin_url, &work_dir, jobs, concurrency));
    drop(runtime);
    if let Some(cluster) = cluster
        && let Err(e) = cluster.stop()
    {
        eprintln!("warning: stopping the embedded PostgreSQL cluster failed: {e:#}");
    }
    let _ = std::fs::remove_dir_all(&work_dir);
    result
}

fn start_embedded_cluster(work_dir: &Path) -> anyhow::Result<tipsa::db::embedded::LocalCluster> {
    let config_dir = work_dir.join("empty-config");
    std::fs::create_dir_all(&config_dir)?;
    let settings = tipsa::config::Settings::load_from(&config_dir, "development", false)?;
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let root = target_dir.join("tipsa-bench-pg");
    println!(
        "starting the embedded PostgreSQL cluster in {}",
        root.display()
    );
    tipsa::db::embedded::LocalCluster::start(&root, &settings.embedded_postgres)
        .context("starting the embedded PostgreSQL cluster")
}

async fn run(admin_url: &str, work_dir: &Path, jobs: u64, concurrency: u64) -> anyhow::Result<()> {
    let db_name = format!("tipsa_notify_bench_{}", unix_time());
    let db_url = database_url(admin_url, &db_name)?;
    let mut admin = AsyncPgConnection::establish(admin_url).await?;
    admin
        .batch_execute(&format!("CREATE DATABASE {db_name}"))
        .await?;
    let result = run_in_database(&db_url, work_dir, jobs, concurrency).await;
    let _ = admin
        .batch_execute(&format!("DROP DATABASE {db_name} WITH (FORCE)"))
        .await;
    result
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn sent(conn: &mut AsyncPgConnection) -> anyhow::Result<i64> {
    Ok(
        diesel::sql_query("SELECT count(*) AS n FROM notification_jobs WHERE state = 'sent'")
            .get_result::<Count>(conn)
            .await?
            .n,
    )
}

async fn run_in_database(
    db_url: &str,
    work_dir: &Path,
    jobs: u64,
    concurrency: u64,
) -> anyhow::Result<()> {
    let tipsa = Tipsa::new(db_url, work_dir, None)?;
    tipsa.run_to_end(&["migrate"])?;
    let mut conn = AsyncPgConnection::establish(db_url).await?;
    // Tips as the intake stores them (critical, team öst), and one queued job per tip.
    conn.batch_execute(&format!(
        "INSERT INTO tips (id, reference, channel, category, care_sector, region_code, \
             description, reporter_role, language, anonymous, receipt_code_hash, priority, \
             priority_rank, team, due_at) \
         SELECT gen_random_uuid(), 'T-2026-' || lpad(g::text, 6, '0'), 'api', 'patient_safety', \
             'hospital_care', '01', 'Benchmark tip number ' || g || ' with enough text.', 'staff', \
             'sv', true, sha256(('bench' || g)::text::bytea), 'critical', 0, 'ost', \
             now() + interval '4 hours' \
         FROM generate_series(1, {jobs}) AS g; \
         INSERT INTO notification_jobs (id, kind, tip_id, team) \
         SELECT gen_random_uuid(), 'urgent_tip', id, team FROM tips; \
         ANALYZE tips; ANALYZE notification_jobs;"
    ))
    .await
    .context("queueing the jobs")?;
    println!("queued {jobs} notification jobs");

    let sink = Sink::start().await?;
    let log_path = work_dir.join("worker.log");
    let log = std::fs::File::create(&log_path)?;
    let started = Instant::now();
    let mut worker = tipsa
        .command(&["worker"])
        .env("TIPSA__NOTIFY__TRANSPORT", "smtp")
        .env("TIPSA__NOTIFY__SMTP__HOST", "127.0.0.1")
        .env("TIPSA__NOTIFY__SMTP__PORT", sink.port.to_string())
        .env("TIPSA__NOTIFY__SMTP__TLS", "none")
        .env("TIPSA__NOTIFY__SMTP__POOL_SIZE", concurrency.to_string())
        .env("TIPSA__NOTIFY__CONCURRENCY", concurrency.to_string())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .context("starting tipsa worker")?;
    let target = i64::try_from(jobs)?;
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let done = sent(&mut conn).await?;
        if done >= target {
            break;
        }
        if let Ok(Some(status)) = worker.try_wait() {
            bail!(
                "tipsa worker exited ({status}):\n{}",
                std::fs::read_to_string(&log_path).unwrap_or_default()
            );
        }
        if Instant::now() > deadline {
            let _ = worker.kill();
            bail!("only {done} of {jobs} sent within 600 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let elapsed = started.elapsed();
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &worker.id().to_string()])
        .status();
    let _ = worker.wait();

    let received = AtomicU64::load(&sink.messages, Ordering::SeqCst);
    let unique = sink.ids.lock().map(|ids| ids.len()).unwrap_or(0);
    let first_to_last = sink.first_to_last();
    println!();
    println!("notification delivery, {jobs} queued jobs, worker concurrency {concurrency}:");
    println!(
        "  all sent (worker start → last job marked sent): {:.2} s = {:.0} messages/s",
        elapsed.as_secs_f64(),
        jobs as f64 / elapsed.as_secs_f64()
    );
    if let Some(span) = first_to_last {
        println!(
            "  at the SMTP sink (first → last message):       {:.2} s = {:.0} messages/s",
            span.as_secs_f64(),
            jobs as f64 / span.as_secs_f64().max(1e-9)
        );
    }
    println!("  messages received {received}, distinct Message-IDs {unique}");
    if received != jobs || unique as u64 != jobs {
        bail!("expected {jobs} messages with distinct Message-IDs");
    }
    Ok(())
}

/// A minimal SMTP server: accepts everything, counts messages and their Message-IDs.
struct Sink {
    port: u16,
    messages: Arc<AtomicU64>,
    ids: Arc<Mutex<HashSet<String>>>,
    times: Arc<Mutex<(Option<Instant>, Option<Instant>)>>,
}

impl Sink {
    async fn start() -> anyhow::Result<Sink> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let sink = Sink {
            port,
            messages: Arc::default(),
            ids: Arc::default(),
            times: Arc::default(),
        };
        let (messages, ids, times) = (sink.messages.clone(), sink.ids.clone(), sink.times.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (messages, ids, times) = (messages.clone(), ids.clone(), times.clone());
                tokio::spawn(async move {
                    let _ = session(stream, messages, ids, times).await;
                });
            }
        });
        Ok(sink)
    }

    fn first_to_last(&self) -> Option<Duration> {
        let times = self.times.lock().ok()?;
        Some(times.1?.duration_since(times.0?))
    }
}

async fn session(
    stream: tokio::net::TcpStream,
    messages: Arc<AtomicU64>,
    ids: Arc<Mutex<HashSet<String>>>,
    times: Arc<Mutex<(Option<Instant>, Option<Instant>)>>,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 bench-sink ESMTP\r\n").await?;
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_ascii_uppercase();
        if command.starts_with("EHLO") {
            write
                .write_all(b"250-bench-sink\r\n250 8BITMIME\r\n")
                .await?;
        } else if command.starts_with("DATA") {
            write.write_all(b"354 go ahead\r\n").await?;
            let mut message_id = None;
            loop {
                line.clear();
                if lines.read_line(&mut line).await? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" {
                    break;
                }
                if message_id.is_none() && line.to_ascii_lowercase().starts_with("message-id:") {
                    message_id = Some(line[11..].trim().to_owned());
                }
            }
            if let Some(id) = message_id
                && let Ok(mut ids) = ids.lock()
            {
                ids.insert(id);
            }
            messages.fetch_add(1, Ordering::SeqCst);
            if let Ok(mut times) = times.lock() {
                let now = Instant::now();
                times.0.get_or_insert(now);
                times.1 = Some(now);
            }
            write.write_all(b"250 OK queued\r\n").await?;
        } else if command.starts_with("QUIT") {
            write.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else {
            write.write_all(b"250 OK\r\n").await?;
        }
    }
}
