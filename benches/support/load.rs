//! Load generation for the HTTP benchmarks: where the bench's PostgreSQL comes from (a given
//! admin URL or the embedded cluster) and a fresh database per run; the API key; the `Target`
//! (one or more `tipsa serve` nodes, requests spread round-robin, 201s counted per node); the
//! `Recorder` of latencies and failures; the closed loop (peak throughput) and the open loop
//! (a fixed rate, latency measured from each request's *scheduled* time, so a stalled server
//! cannot hide its queueing delay: no coordinated omission). Included by `benches/write_path.rs`
//! and `benches/cluster.rs` through `#[path]`, beside `common.rs`.

#![allow(dead_code)] // each bench uses a different part

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hdrhistogram::Histogram;

use crate::common::{Tipsa, admin_execute, database_url, truncate, unix_time};

/// How many failed responses are kept to show.
const ERROR_SAMPLES: usize = 5;

// ---------------------------------------------------------------------------------------------
// PostgreSQL for the run
// ---------------------------------------------------------------------------------------------

/// The run's own database, `tipsa_bench_<unix time>`.
pub struct BenchDatabase {
    pub name: String,
    pub url: String,
}

impl BenchDatabase {
    pub async fn create(admin_url: &str) -> anyhow::Result<Self> {
        let name = format!("tipsa_bench_{}", unix_time());
        let url = database_url(admin_url, &name)?;
        admin_execute(admin_url, &format!("CREATE DATABASE {name}"))
            .await
            .with_context(|| format!("creating database {name}"))?;
        println!("created database {name}");
        Ok(BenchDatabase { name, url })
    }

    /// Drops the database, warning (not failing) if that does not work.
    pub async fn drop(self, admin_url: &str) {
        let sql = format!("DROP DATABASE {} WITH (FORCE)", self.name);
        if let Err(e) = admin_execute(admin_url, &sql).await {
            eprintln!("warning: dropping database {} failed: {e:#}", self.name);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The service under load
// ---------------------------------------------------------------------------------------------

/// Creates an API key with `tips:submit` through `tipsa apikey create`; returns its token.
pub fn create_submit_key(tipsa: &Tipsa, name: &str) -> anyhow::Result<String> {
    let output = tipsa
        .run_to_end(&["apikey", "create", "--name", name, "--scope", "tips:submit"])
        .context("tipsa apikey create")?;
    let token = output.trim().to_owned();
    if !token.starts_with("tipsa_") {
        bail!("unexpected API key output: {token:?}");
    }
    Ok(token)
}

/// The load generator's HTTP client: pooled keep-alive connections, no Nagle delay.
pub fn http_client() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .tcp_nodelay(true)
        .build()
        .context("building the HTTP client")
}

/// Where tips are sent: one or more nodes, taken in turn request by request (as a
/// round-robin load balancer would), with the 201s each node answered.
#[derive(Clone)]
pub struct Target {
    client: reqwest::Client,
    urls: Arc<Vec<String>>,
    auth: String,
    bodies: Arc<Vec<String>>,
    next_node: Arc<AtomicUsize>,
    stored: Arc<Vec<AtomicU64>>,
}

impl Target {
    /// `bases` are the nodes' base URLs (`http://127.0.0.1:PORT`).
    pub fn new(
        client: reqwest::Client,
        bases: &[String],
        token: &str,
        bodies: Vec<String>,
    ) -> Self {
        Target {
            client,
            urls: Arc::new(bases.iter().map(|b| format!("{b}/api/v1/tips")).collect()),
            auth: format!("Bearer {token}"),
            bodies: Arc::new(bodies),
            next_node: Arc::new(AtomicUsize::new(0)),
            stored: Arc::new(bases.iter().map(|_| AtomicU64::new(0)).collect()),
        }
    }

    /// The same bodies and client, sent to other nodes (counted afresh).
    pub fn to_nodes(&self, bases: &[String]) -> Self {
        Target {
            client: self.client.clone(),
            urls: Arc::new(bases.iter().map(|b| format!("{b}/api/v1/tips")).collect()),
            auth: self.auth.clone(),
            bodies: Arc::clone(&self.bodies),
            next_node: Arc::new(AtomicUsize::new(0)),
            stored: Arc::new(bases.iter().map(|_| AtomicU64::new(0)).collect()),
        }
    }

    /// 201s answered so far, per node, in the order the nodes were given.
    pub fn stored_per_node(&self) -> Vec<u64> {
        self.stored
            .iter()
            .map(|count| count.load(Ordering::Relaxed))
            .collect()
    }

    /// Sends one tip; `None` on 201, `Some(description)` on any other answer.
    pub async fn submit(&self, index: usize) -> Option<String> {
        let body = self.bodies[index % self.bodies.len()].clone();
        let node = self.next_node.fetch_add(1, Ordering::Relaxed) % self.urls.len();
        let result = self
            .client
            .post(&self.urls[node])
            .header(reqwest::header::AUTHORIZATION, &self.auth)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await;
        match result {
            Ok(response) if response.status() == reqwest::StatusCode::CREATED => {
                // Read the body so the connection goes back to the pool.
                match response.bytes().await {
                    Ok(_) => {
                        self.stored[node].fetch_add(1, Ordering::Relaxed);
                        None
                    }
                    Err(e) => Some(format!("reading the 201 body failed: {e}")),
                }
            }
            Ok(response) => {
                let status = response.status();
                let text = response.text().await.unwrap_or_default();
                Some(format!("{status}: {}", truncate(&text, 300)))
            }
            Err(e) => Some(format!("transport error: {e}")),
        }
    }
}

/// Latencies and failures of one phase.
pub struct Recorder {
    pub histogram: Histogram<u64>,
    pub ok: u64,
    pub errors: u64,
    pub samples: Vec<String>,
}

impl Recorder {
    pub fn new() -> Self {
        Recorder {
            histogram: Histogram::new_with_bounds(1, 120_000_000, 3)
                .expect("valid histogram bounds"),
            ok: 0,
            errors: 0,
            samples: Vec::new(),
        }
    }

    pub fn record(&mut self, latency: Duration, failure: Option<String>) {
        match failure {
            None => {
                self.ok += 1;
                let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
                self.histogram.saturating_record(micros.max(1));
            }
            Some(failure) => {
                self.errors += 1;
                if self.samples.len() < ERROR_SAMPLES {
                    self.samples.push(failure);
                }
            }
        }
    }

    pub fn merge(&mut self, other: Recorder) {
        self.ok += other.ok;
        self.errors += other.errors;
        for sample in other.samples {
            if self.samples.len() < ERROR_SAMPLES {
                self.samples.push(sample);
            }
        }
        let _ = self.histogram.add(&other.histogram);
    }

    pub fn ms(&self, quantile: f64) -> f64 {
        self.histogram.value_at_quantile(quantile) as f64 / 1000.0
    }

    pub fn percentiles(&self) -> String {
        format!(
            "p50 {:.1} ms  p90 {:.1} ms  p99 {:.1} ms  p99.9 {:.1} ms  max {:.1} ms",
            self.ms(0.5),
            self.ms(0.9),
            self.ms(0.99),
            self.ms(0.999),
            self.max_ms()
        )
    }

    pub fn max_ms(&self) -> f64 {
        self.histogram.max() as f64 / 1000.0
    }
}

pub struct PhaseResult {
    pub recorder: Recorder,
    /// Successful requests per second.
    pub rate: f64,
}

pub fn report_errors(phase: &str, recorder: &Recorder) {
    if recorder.errors == 0 {
        return;
    }
    println!(
        "  {phase}: {} request(s) did not get 201; first ones:",
        recorder.errors
    );
    for sample in &recorder.samples {
        println!("    {sample}");
    }
}

/// `connections` workers, each sending one request at a time until `duration` has passed.
pub async fn closed_loop(target: &Target, connections: usize, duration: Duration) -> PhaseResult {
    let start = Instant::now();
    let deadline = start + duration;
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..connections {
        let target = target.clone();
        workers.spawn(async move {
            let mut recorder = Recorder::new();
            let mut index = worker * 7;
            while Instant::now() < deadline {
                let sent = Instant::now();
                let failure = target.submit(index).await;
                recorder.record(sent.elapsed(), failure);
                index += connections;
            }
            recorder
        });
    }
    let mut total = Recorder::new();
    while let Some(joined) = workers.join_next().await {
        match joined {
            Ok(recorder) => total.merge(recorder),
            Err(e) => {
                total.errors += 1;
                total.samples.push(format!("worker failed: {e}"));
            }
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    PhaseResult {
        rate: total.ok as f64 / elapsed,
        recorder: total,
    }
}

/// Requests at fixed intervals (`rate` per second) for `duration`, each in its own task, with
/// latency measured from the scheduled send time.
pub async fn open_loop(
    target: &Target,
    rate: f64,
    duration: Duration,
) -> (PhaseResult, Histogram<u64>) {
    let total_requests = (rate * duration.as_secs_f64()).round().max(1.0) as u64;
    let recorder = Arc::new(Mutex::new(Recorder::new()));
    let service_time = Arc::new(Mutex::new(
        Histogram::<u64>::new_with_bounds(1, 120_000_000, 3).expect("valid histogram bounds"),
    ));
    let last_done = Arc::new(Mutex::new(Instant::now()));
    let mut tasks = tokio::task::JoinSet::new();
    let start = Instant::now() + Duration::from_millis(20);
    for i in 0..total_requests {
        let scheduled = start + Duration::from_secs_f64(i as f64 / rate);
        if scheduled > Instant::now() {
            tokio::time::sleep_until(scheduled.into()).await;
        }
        let target = target.clone();
        let task_recorder = Arc::clone(&recorder);
        let service_time = Arc::clone(&service_time);
        let last_done = Arc::clone(&last_done);
        tasks.spawn(async move {
            let sent = Instant::now();
            let failure = target.submit(i as usize).await;
            let done = Instant::now();
            if failure.is_none()
                && let Ok(mut h) = service_time.lock()
            {
                h.saturating_record(
                    u64::try_from((done - sent).as_micros())
                        .unwrap_or(u64::MAX)
                        .max(1),
                );
            }
            if let Ok(mut r) = task_recorder.lock() {
                r.record(done.saturating_duration_since(scheduled), failure);
            }
            if let Ok(mut last) = last_done.lock() {
                *last = (*last).max(done);
            }
        });
        // Reap finished tasks as we go so the set stays small.
        while let Some(joined) = tasks.try_join_next() {
            if let Err(e) = joined
                && let Ok(mut r) = recorder.lock()
            {
                r.record(Duration::ZERO, Some(format!("request task failed: {e}")));
            }
        }
    }
    while let Some(joined) = tasks.join_next().await {
        if let Err(e) = joined
            && let Ok(mut r) = recorder.lock()
        {
            r.record(Duration::ZERO, Some(format!("request task failed: {e}")));
        }
    }
    let span = duration.as_secs_f64().max(
        last_done
            .lock()
            .map(|last| last.saturating_duration_since(start).as_secs_f64())
            .unwrap_or(0.0),
    );
    let recorder = Arc::try_unwrap(recorder)
        .ok()
        .and_then(|m| m.into_inner().ok())
        .unwrap_or_else(Recorder::new);
    let service_time = Arc::try_unwrap(service_time)
        .ok()
        .and_then(|m| m.into_inner().ok())
        .unwrap_or_else(|| Histogram::new(3).expect("valid histogram"));
    (
        PhaseResult {
            rate: recorder.ok as f64 / span,
            recorder,
        },
        service_time,
    )
}

/// Shows the first lines a server logged at warn or above, if any.
pub fn report_server_log(process: &str, log: &str) {
    if log.trim().is_empty() {
        return;
    }
    let lines: Vec<&str> = log.lines().collect();
    println!(
        "\nnote: {process} logged {} line(s) at warn or above; the first few:",
        lines.len()
    );
    for line in lines.iter().take(5) {
        println!("  {line}");
    }
}
