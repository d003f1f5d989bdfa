//! What the cluster benchmark observes besides latency: CPU time of processes from
//! `/proc/<pid>/stat` (the `tipsa serve` nodes, the bench itself, the PostgreSQL backends of
//! the bench database and the server's WAL writer, checkpointer and background writer), how
//! busy the whole machine was (`/proc/stat`), PostgreSQL's WAL counters (`pg_stat_wal`), and
//! Prometheus-style scraping of the nodes' `/metrics` (every second during a phase, as a
//! Prometheus server would, plus one scrape at each end to read counters).
//! Included by `benches/cluster.rs` through `#[path]`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::Context;
use diesel::sql_types::{BigInt, Double, Integer};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

// ---------------------------------------------------------------------------------------------
// CPU time from /proc
// ---------------------------------------------------------------------------------------------

fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf only reads a configuration value.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as f64 } else { 100.0 }
}

/// User plus system CPU seconds a process (all its threads) has used so far.
pub fn process_cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    // The command name is in parentheses and may contain spaces: count fields after the last
    // ')'. There, field 3 of proc(5) (state) is the first; utime and stime are 14 and 15.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .with_context(|| format!("no ')' in {path}"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |index: usize| -> anyhow::Result<f64> {
        fields
            .get(index)
            .and_then(|field| field.parse::<u64>().ok())
            .map(|t| t as f64)
            .with_context(|| format!("field {} of {path} is not a tick count", index + 3))
    };
    Ok((ticks(11)? + ticks(12)?) / clock_ticks_per_second())
}

/// (busy, total) CPU ticks of the whole machine, all cores, from the `cpu` line of /proc/stat.
fn machine_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|line| line.starts_with("cpu "))?;
    let values: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    let total: u64 = values.iter().take(8).sum();
    let idle = values.get(3).copied().unwrap_or(0) + values.get(4).copied().unwrap_or(0);
    Some((total.saturating_sub(idle), total))
}

fn cores() -> f64 {
    std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64)
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL
// ---------------------------------------------------------------------------------------------

#[derive(diesel::QueryableByName)]
struct BackendRow {
    #[diesel(sql_type = Integer)]
    pid: i32,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    shared: bool,
}

#[derive(diesel::QueryableByName, Clone, Copy)]
struct WalRow {
    #[diesel(sql_type = Double)]
    bytes: f64,
    #[diesel(sql_type = BigInt)]
    syncs: i64,
}

/// CPU seconds of PostgreSQL processes at one moment, by pid, and whether each is a shared
/// background process (WAL writer, checkpointer, background writer) rather than a backend of
/// the bench database (the service's connections, autovacuum on it).
struct PgCpu {
    by_pid: HashMap<i32, (bool, f64)>,
    wal: Option<WalRow>,
}

async fn pg_cpu(conn: &mut AsyncPgConnection) -> anyhow::Result<PgCpu> {
    let rows: Vec<BackendRow> = diesel::sql_query(
        "SELECT pid, datname IS NULL AS shared FROM pg_stat_activity \
         WHERE (datname = current_database() AND pid <> pg_backend_pid()) \
            OR backend_type IN ('walwriter', 'checkpointer', 'background writer')",
    )
    .load(conn)
    .await
    .context("listing the PostgreSQL processes")?;
    let mut by_pid = HashMap::new();
    for row in rows {
        // A process that cannot be read (another host, or it just ended) is left out.
        if let Ok(seconds) = process_cpu_seconds(row.pid as u32) {
            by_pid.insert(row.pid, (row.shared, seconds));
        }
    }
    // pg_stat_wal is server-wide (PostgreSQL 14 and later); absent on older servers.
    let wal =
        diesel::sql_query("SELECT wal_bytes::float8 AS bytes, wal_sync AS syncs FROM pg_stat_wal")
            .get_result::<WalRow>(conn)
            .await
            .ok();
    Ok(PgCpu { by_pid, wal })
}

// ---------------------------------------------------------------------------------------------
// A phase's resource use
// ---------------------------------------------------------------------------------------------

/// Readings at the start of a phase.
pub struct Snapshot {
    at: Instant,
    nodes: Vec<f64>,
    bench: f64,
    machine: Option<(u64, u64)>,
    pg: Option<PgCpu>,
}

/// What a phase used, over its wall-clock time.
#[derive(Debug, Clone, Default)]
pub struct Usage {
    pub wall_seconds: f64,
    /// CPU seconds of each node, in the order the pids were given.
    pub node_cpu: Vec<f64>,
    /// CPU seconds of this process (the load generator and scraper).
    pub bench_cpu: f64,
    /// CPU seconds of the bench database's PostgreSQL backends, if they could be read.
    pub pg_backends_cpu: Option<f64>,
    /// CPU seconds of the server's WAL writer, checkpointer and background writer
    /// (server-wide: on a shared server this includes other databases' work).
    pub pg_shared_cpu: Option<f64>,
    /// Cores the whole machine was busy, on average (everything, other users included).
    pub machine_busy_cores: Option<f64>,
    /// WAL bytes and WAL syncs written during the phase (server-wide).
    pub wal_bytes: Option<f64>,
    pub wal_syncs: Option<f64>,
}

impl Usage {
    /// Busy cores not accounted for by the nodes, the bench, or PostgreSQL: other users of
    /// the machine (other builds), i.e. how noisy the measurement was.
    pub fn other_cores(&self) -> Option<f64> {
        let ours = self.node_cpu.iter().sum::<f64>()
            + self.bench_cpu
            + self.pg_backends_cpu.unwrap_or(0.0)
            + self.pg_shared_cpu.unwrap_or(0.0);
        Some((self.machine_busy_cores? - ours / self.wall_seconds).max(0.0))
    }
}

pub async fn begin(node_pids: &[u32], conn: &mut AsyncPgConnection) -> Snapshot {
    let pg = pg_cpu(conn).await.ok();
    Snapshot {
        nodes: node_pids
            .iter()
            .map(|pid| process_cpu_seconds(*pid).unwrap_or(0.0))
            .collect(),
        bench: process_cpu_seconds(std::process::id()).unwrap_or(0.0),
        machine: machine_ticks(),
        pg,
        at: Instant::now(),
    }
}

impl Snapshot {
    pub async fn end(self, node_pids: &[u32], conn: &mut AsyncPgConnection) -> Usage {
        let wall_seconds = self.at.elapsed().as_secs_f64();
        let machine_busy_cores = match (self.machine, machine_ticks()) {
            (Some((busy0, total0)), Some((busy1, total1))) if total1 > total0 => {
                Some((busy1 - busy0) as f64 / (total1 - total0) as f64 * cores())
            }
            _ => None,
        };
        let node_cpu = node_pids
            .iter()
            .zip(&self.nodes)
            .map(|(pid, before)| process_cpu_seconds(*pid).map_or(0.0, |now| now - before))
            .collect();
        let bench_cpu = process_cpu_seconds(std::process::id()).map_or(0.0, |now| now - self.bench);
        let mut usage = Usage {
            wall_seconds,
            node_cpu,
            bench_cpu,
            machine_busy_cores,
            ..Usage::default()
        };
        if let (Some(before), Ok(after)) = (self.pg, pg_cpu(conn).await)
            && !after.by_pid.is_empty()
        {
            let (mut backends, mut shared) = (0.0, 0.0);
            for (pid, (is_shared, now)) in &after.by_pid {
                // A backend that started during the phase used all its CPU time in it.
                let then = before.by_pid.get(pid).map_or(0.0, |(_, s)| *s);
                if *is_shared {
                    shared += now - then;
                } else {
                    backends += now - then;
                }
            }
            usage.pg_backends_cpu = Some(backends);
            usage.pg_shared_cpu = Some(shared);
            if let (Some(w0), Some(w1)) = (before.wal, after.wal) {
                usage.wal_bytes = Some(w1.bytes - w0.bytes);
                usage.wal_syncs = Some((w1.syncs - w0.syncs) as f64);
            }
        }
        usage
    }
}

// ---------------------------------------------------------------------------------------------
// Scraping /metrics
// ---------------------------------------------------------------------------------------------

/// Scrapes every node's `/metrics` once a second until stopped, as Prometheus would; keeps
/// the first and last answer of each node to read counters from.
pub struct Scraper {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<Scrapes>,
}

#[derive(Debug, Default)]
pub struct Scrapes {
    pub ok: u64,
    pub failed: u64,
    /// Per node: the text of the first and the last successful scrape.
    pub first: Vec<Option<String>>,
    pub last: Vec<Option<String>>,
}

impl Scrapes {
    /// The change of a metric (all its label sets summed) on one node between the first and
    /// the last scrape.
    pub fn delta(&self, node: usize, name: &str) -> Option<f64> {
        let first = self.first.get(node)?.as_deref()?;
        let last = self.last.get(node)?.as_deref()?;
        Some(metric_sum(last, name)? - metric_sum(first, name).unwrap_or(0.0))
    }

    /// Mean tips per group-commit batch on a node during the phase.
    pub fn mean_batch(&self, node: usize) -> Option<f64> {
        let tips = self.delta(node, "tipsa_intake_batch_size_sum")?;
        let batches = self.delta(node, "tipsa_intake_batch_size_count")?;
        (batches > 0.0).then(|| tips / batches)
    }
}

/// The sum of every sample of `name` (any labels) in a Prometheus text exposition.
pub fn metric_sum(text: &str, name: &str) -> Option<f64> {
    let mut found = None;
    for line in text.lines().filter(|line| !line.starts_with('#')) {
        let Some(rest) = line.strip_prefix(name) else {
            continue;
        };
        if !(rest.starts_with('{') || rest.starts_with(' ')) {
            continue; // another metric whose name starts the same
        }
        if let Some(value) = rest.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()) {
            *found.get_or_insert(0.0) += value;
        }
    }
    found
}

async fn scrape(client: &reqwest::Client, url: &str) -> anyhow::Result<String> {
    let response = client
        .get(url)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .with_context(|| format!("GET {url}"))?;
    let response = response.error_for_status()?;
    Ok(response.text().await?)
}

impl Scraper {
    /// Scrapes each URL once now, then every `every` on a task of its own.
    pub async fn start(client: reqwest::Client, urls: Vec<String>, every: Duration) -> Self {
        let mut scrapes = Scrapes {
            first: vec![None; urls.len()],
            last: vec![None; urls.len()],
            ..Scrapes::default()
        };
        scrape_all(&client, &urls, &mut scrapes).await;
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks.tick().await; // the first tick is immediate: that scrape was just done
            loop {
                tokio::select! {
                    _ = ticks.tick() => scrape_all(&client, &urls, &mut scrapes).await,
                    _ = stopped.changed() => break,
                }
            }
            // The closing scrape, for the counters at the end of the phase.
            scrape_all(&client, &urls, &mut scrapes).await;
            scrapes
        });
        Scraper { stop, task }
    }

    pub async fn stop(self) -> Scrapes {
        let _ = self.stop.send(true);
        self.task.await.unwrap_or_default()
    }
}

async fn scrape_all(client: &reqwest::Client, urls: &[String], scrapes: &mut Scrapes) {
    for (node, url) in urls.iter().enumerate() {
        match scrape(client, url).await {
            Ok(text) => {
                scrapes.ok += 1;
                if scrapes.first[node].is_none() {
                    scrapes.first[node] = Some(text.clone());
                }
                scrapes.last[node] = Some(text);
            }
            Err(_) => scrapes.failed += 1,
        }
    }
}
