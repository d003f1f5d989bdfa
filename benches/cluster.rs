//! Cluster and instrumentation benchmark: what the Prometheus instrumentation costs, what a
//! second `tipsa serve` node on the same database brings and what a tip costs in CPU per node,
//! and the half-peak p99 under a few PostgreSQL and batching variants — all in ONE run against
//! one fresh database, so the figures can be compared with each other (release build, the real
//! `tipsa` binary, `POST /api/v1/tips` with ~200 varied tips from the taxonomy, the notification
//! worker off in every node so that only the write path is measured).
//!
//! Phases (`BENCH_PHASES`, default `abc`):
//!
//! a. **Instrumentation cost.** Two nodes are started, one with `TIPSA__METRICS__ENABLED=true`
//!    and one with `false`, and loaded one at a time with a closed loop (`BENCH_CONNECTIONS`
//!    workers, one request each at a time, `BENCH_SECONDS` per round), alternating on/off for
//!    `BENCH_ROUNDS` rounds (the order flips every round, so linear drift cancels out). While
//!    metrics are on, the node's `/metrics` is scraped every second, as Prometheus would, so
//!    the scrape's cost is included (and `tipsa_tips_stored_total` is checked against the
//!    201s counted). Target: on ≥ 0.97 × off.
//! b. **One node vs two nodes.** Closed loop against one node, then the same load spread
//!    round-robin over two nodes (the same total number of connections), alternating for
//!    `BENCH_NODE_ROUNDS` rounds. For each node: the CPU time (utime + stime from
//!    `/proc/<pid>/stat`) used during the round divided by the tips it stored = CPU-ms per tip;
//!    the same for the bench database's PostgreSQL backends, for the server's WAL writer,
//!    checkpointer and background writer (server-wide), and for this bench process (the load
//!    generator shares the machine).
//! c. **Half-peak p99.** An open loop at half the one-node peak measured in a and b (requests
//!    at fixed scheduled times, latency from the scheduled time: no coordinated omission) for
//!    each variant, with a fresh node per variant: the default configuration; `wal_compression
//!    = on`; `commit_delay = 200` and `= 1000` (µs) with `commit_siblings = 5`; and
//!    `intake.batch_max_tips = 8`; `intake.batch_queue = "shared"` (no tip waits behind a lane
//!    whose commit stalls). PostgreSQL parameters are set on the bench database only
//!    (`ALTER DATABASE … SET`, picked up by the new node's connections, reset afterwards);
//!    `synchronous_commit` stays on. The default runs first and last, to show drift.
//!    Target: p99 < 25 ms with the default configuration.
//!
//! Every row also shows "other cores": how many cores the machine was busy with (`/proc/stat`)
//! beyond the CPU time of this bench, its nodes and PostgreSQL's processes (other builds, other
//! tests, kernel work charged to no process) — the noise of that row. WAL figures
//! (`pg_stat_wal`) and "PG shared" are server-wide: exact only on a server of the run's own.
//! A missed target prints FAIL; only a broken run makes the program fail.
//!
//! Run it with (about 5 minutes with the defaults, plus the release build):
//!
//! ```text
//! cargo bench --bench cluster
//! TIPSA_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo bench --bench cluster
//! ```
//!
//! PostgreSQL: `TIPSA_BENCH_DATABASE_URL` is an admin URL able to create and drop databases
//! and to set superuser parameters; without it the embedded cluster is started under
//! `target/tipsa-bench-pg`. PostgreSQL CPU is read from `/proc`, so it is only reported when
//! the server runs on this host.
//!
//! Knobs (environment variables, defaults in brackets): `BENCH_SECONDS` [15] length of each
//! measured round, `BENCH_CONNECTIONS` [32] closed-loop workers (in total, over all nodes),
//! `BENCH_POOL_SIZE` [16] each node's database pool, `BENCH_ROUNDS` [3] on/off rounds of
//! phase a, `BENCH_NODE_ROUNDS` [2] rounds of phase b, `BENCH_PHASES` [abc] which phases to
//! run (c alone first measures the peak in one closed-loop round), `BENCH_TIPSA_BINARY` and
//! `BENCH_TIPSA__SECTION__KEY` as in `write_path`.

#[path = "support/common.rs"]
mod common;
#[path = "support/load.rs"]
mod load;
#[path = "support/observe.rs"]
mod observe;
#[path = "support/payloads.rs"]
mod payloads;
#[path = "support/cluster_report.rs"]
mod report;

use common::{Environment, Server, Tipsa, admin_execute, env_number, free_port, wait_until_ready};
use load::{
    BenchDatabase, Target, closed_loop, create_submit_key, http_client, open_loop, report_errors,
    report_server_log,
};
use observe::{Scraper, Scrapes, Usage};
use report::{ClosedRound, OpenRound};

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

const WARMUP: Duration = Duration::from_secs(3);
const SCRAPE_EVERY: Duration = Duration::from_secs(1);

pub struct Params {
    pub seconds: u64,
    pub connections: usize,
    pub pool_size: usize,
    pub rounds: usize,
    pub node_rounds: usize,
    pub phases: String,
}

impl Params {
    fn from_env() -> anyhow::Result<Self> {
        let phases = std::env::var("BENCH_PHASES").unwrap_or_else(|_| "abc".to_owned());
        if phases.is_empty() || !phases.chars().all(|c| "abc".contains(c)) {
            anyhow::bail!("BENCH_PHASES must be letters of abc, not {phases:?}");
        }
        Ok(Params {
            seconds: env_number("BENCH_SECONDS", 15)?,
            connections: env_number("BENCH_CONNECTIONS", 32)?,
            pool_size: env_number("BENCH_POOL_SIZE", 16)?,
            rounds: env_number("BENCH_ROUNDS", 3)?,
            node_rounds: env_number("BENCH_NODE_ROUNDS", 2)?,
            phases,
        })
    }

    fn duration(&self) -> Duration {
        Duration::from_secs(self.seconds)
    }
}

/// A configuration variant of phase c: PostgreSQL parameters set on the bench database, and
/// service settings (`TIPSA__` names without the prefix).
struct Variant {
    name: &'static str,
    database: &'static [(&'static str, &'static str)],
    service: &'static [(&'static str, &'static str)],
}

const DEFAULT: Variant = Variant {
    name: "default",
    database: &[],
    service: &[],
};

const VARIANTS: [Variant; 5] = [
    Variant {
        name: "wal_compression = on",
        database: &[("wal_compression", "on")],
        service: &[],
    },
    Variant {
        name: "commit_delay = 200, commit_siblings = 5",
        database: &[("commit_delay", "200"), ("commit_siblings", "5")],
        service: &[],
    },
    Variant {
        name: "commit_delay = 1000, commit_siblings = 5",
        database: &[("commit_delay", "1000"), ("commit_siblings", "5")],
        service: &[],
    },
    Variant {
        name: "intake.batch_max_tips = 8",
        database: &[],
        service: &[("INTAKE__BATCH_MAX_TIPS", "8")],
    },
    Variant {
        name: "intake.batch_queue = shared",
        database: &[],
        service: &[("INTAKE__BATCH_QUEUE", "shared")],
    },
];

fn main() -> anyhow::Result<()> {
    let params = Params::from_env()?;
    Environment::start()?.run(async |environment| run(&params, environment).await)
}

async fn run(params: &Params, environment: &Environment) -> anyhow::Result<()> {
    let database = BenchDatabase::create(&environment.admin_url).await?;
    let result = async {
        let bench = Bench::new(params, &database, &environment.work_dir).await?;
        bench.run_phases().await
    }
    .await;
    database.drop(&environment.admin_url).await;
    result
}

/// A running `tipsa serve` node.
struct Node {
    server: Server,
    base: String,
    /// Its `/metrics` URL when metrics are enabled.
    metrics_url: Option<String>,
    pid: u32,
}

/// The run's shared state: the database, the client, a monitoring connection, what was
/// measured so far and the nodes' logs.
struct Bench<'a> {
    params: &'a Params,
    database: &'a BenchDatabase,
    work_dir: &'a Path,
    client: reqwest::Client,
    token: String,
    bodies: Vec<String>,
    monitor: AsyncPgConnection,
    logs: Vec<String>,
}

impl<'a> Bench<'a> {
    async fn new(
        params: &'a Params,
        database: &'a BenchDatabase,
        work_dir: &'a Path,
    ) -> anyhow::Result<Self> {
        let tipsa = Tipsa::new(&database.url, work_dir, Some(params.pool_size))?;
        tipsa.run_to_end(&["migrate"]).context("tipsa migrate")?;
        let token = create_submit_key(&tipsa, "cluster bench")?;
        let monitor = AsyncPgConnection::establish(&database.url)
            .await
            .context("connecting to the bench database")?;
        let mut bench = Bench {
            params,
            database,
            work_dir,
            client: http_client()?,
            token,
            bodies: Vec::new(),
            monitor,
            logs: Vec::new(),
        };
        // The bodies come from the taxonomy, which a node serves.
        let node = bench.start_node(true, &[]).await?;
        bench.bodies = payloads::build_bodies(&bench.client, &node.base).await?;
        bench.stop(node);
        Ok(bench)
    }

    async fn start_node(&self, metrics: bool, service: &[(&str, &str)]) -> anyhow::Result<Node> {
        let mut tipsa = Tipsa::new(
            &self.database.url,
            self.work_dir,
            Some(self.params.pool_size),
        )?
        .with_setting("NOTIFY__WORKER_IN_SERVE", "false")
        .with_setting("METRICS__ENABLED", if metrics { "true" } else { "false" });
        let metrics_port = if metrics { Some(free_port()?) } else { None };
        if let Some(port) = metrics_port {
            tipsa = tipsa.with_setting("METRICS__LISTEN", &format!("127.0.0.1:{port}"));
        }
        for (name, value) in service {
            tipsa = tipsa.with_setting(name, value);
        }
        let mut server = tipsa.serve()?;
        let base = format!("http://127.0.0.1:{}", server.port);
        wait_until_ready(&self.client, &base, &mut server).await?;
        let pid = server
            .child
            .as_ref()
            .map(std::process::Child::id)
            .context("the node has no process")?;
        Ok(Node {
            server,
            base,
            metrics_url: metrics_port.map(|port| format!("http://127.0.0.1:{port}/metrics")),
            pid,
        })
    }

    fn stop(&mut self, node: Node) {
        self.logs.push(node.server.stop());
    }

    fn target(&self, nodes: &[&Node]) -> Target {
        let bases: Vec<String> = nodes.iter().map(|node| node.base.clone()).collect();
        Target::new(
            self.client.clone(),
            &bases,
            &self.token,
            self.bodies.clone(),
        )
    }

    async fn warm_up(&self, target: &Target) {
        let warmup = closed_loop(target, self.params.connections, WARMUP).await;
        report_errors("warm-up", &warmup.recorder);
    }

    /// Runs `load` against `nodes` through `target`, with the CPU accounting and the scraping.
    async fn measured<F, T>(
        &mut self,
        nodes: &[&Node],
        target: &Target,
        load: F,
    ) -> (T, Vec<u64>, Usage, Option<Scrapes>)
    where
        F: std::future::Future<Output = T>,
    {
        let pids: Vec<u32> = nodes.iter().map(|node| node.pid).collect();
        let urls: Vec<String> = nodes.iter().filter_map(|n| n.metrics_url.clone()).collect();
        let scraper = if urls.len() == nodes.len() {
            Some(Scraper::start(self.client.clone(), urls, SCRAPE_EVERY).await)
        } else {
            None
        };
        let stored_before = target.stored_per_node();
        let snapshot = observe::begin(&pids, &mut self.monitor).await;
        let outcome = load.await;
        let usage = snapshot.end(&pids, &mut self.monitor).await;
        let stored = target
            .stored_per_node()
            .iter()
            .zip(stored_before)
            .map(|(after, before)| after - before)
            .collect();
        let scrapes = match scraper {
            Some(scraper) => Some(scraper.stop().await),
            None => None,
        };
        (outcome, stored, usage, scrapes)
    }

    async fn closed_round(
        &mut self,
        label: String,
        nodes: &[&Node],
        target: &Target,
    ) -> ClosedRound {
        let load = closed_loop(target, self.params.connections, self.params.duration());
        let (phase, stored, usage, scrapes) = self.measured(nodes, target, load).await;
        let round = ClosedRound {
            label,
            phase,
            stored,
            usage,
            scrapes,
        };
        round.print_progress();
        report_errors("closed loop", &round.phase.recorder);
        round
    }

    async fn run_phases(mut self) -> anyhow::Result<()> {
        let server_version: SettingRow = diesel::sql_query("SELECT version() AS value")
            .get_result(&mut self.monitor)
            .await
            .context("reading the server version")?;
        let mut summary = report::Summary {
            postgres: server_version.value,
            ..report::Summary::default()
        };
        let phases = self.params.phases.clone();
        if phases.contains('a') {
            summary.instrumentation = self.instrumentation_cost().await?;
        }
        if phases.contains('b') {
            summary.nodes = self.one_vs_two_nodes().await?;
        }
        if phases.contains('c') {
            let mut peaks: Vec<f64> = summary
                .instrumentation
                .iter()
                .chain(&summary.nodes)
                .filter(|round| round.label.starts_with("metrics on") || round.label == "1 node")
                .map(|round| round.phase.rate)
                .collect();
            if peaks.is_empty() {
                println!("\nno peak measured yet: one closed-loop round against one node first");
                let node = self.start_node(true, &[]).await?;
                let target = self.target(&[&node]);
                self.warm_up(&target).await;
                let round = self
                    .closed_round("1 node".to_owned(), &[&node], &target)
                    .await;
                self.stop(node);
                peaks.push(round.phase.rate);
            }
            summary.peak_for_open = peaks.iter().sum::<f64>() / peaks.len() as f64;
            summary.variants = self.half_peak_variants(summary.peak_for_open / 2.0).await?;
        }
        report::print_summary(self.params, &summary);
        // Only the JSON log lines (warn and above): each node also prints the first-admin
        // banner, which is no news for a bench.
        let logged: Vec<&str> = self
            .logs
            .iter()
            .flat_map(|log| log.lines())
            .filter(|line| line.trim_start().starts_with('{'))
            .collect();
        report_server_log("the tipsa serve nodes", &logged.join("\n"));
        Ok(())
    }

    /// Phase a: metrics on vs off, alternating.
    async fn instrumentation_cost(&mut self) -> anyhow::Result<Vec<ClosedRound>> {
        println!("\n== a. instrumentation cost: metrics on vs off, one node at a time ==");
        let on = self.start_node(true, &[]).await?;
        let off = self.start_node(false, &[]).await?;
        let (target_on, target_off) = (self.target(&[&on]), self.target(&[&off]));
        self.warm_up(&target_on).await;
        self.warm_up(&target_off).await;
        let mut rounds = Vec::new();
        for round in 1..=self.params.rounds {
            let on_first = round % 2 == 1;
            for metrics_on in [on_first, !on_first] {
                let (node, target, label) = if metrics_on {
                    (&on, &target_on, format!("metrics on  #{round}"))
                } else {
                    (&off, &target_off, format!("metrics off #{round}"))
                };
                rounds.push(self.closed_round(label, &[node], target).await);
            }
        }
        self.stop(on);
        self.stop(off);
        Ok(rounds)
    }

    /// Phase b: one node vs the same load spread over two, alternating.
    async fn one_vs_two_nodes(&mut self) -> anyhow::Result<Vec<ClosedRound>> {
        println!("\n== b. one node vs two nodes on one database ==");
        let first = self.start_node(true, &[]).await?;
        let second = self.start_node(true, &[]).await?;
        let (one, two) = (self.target(&[&first]), self.target(&[&first, &second]));
        self.warm_up(&two).await;
        let mut rounds = Vec::new();
        for round in 1..=self.params.node_rounds {
            let one_first = round % 2 == 1;
            for single in [one_first, !one_first] {
                let row = if single {
                    self.closed_round("1 node".to_owned(), &[&first], &one)
                        .await
                } else {
                    self.closed_round("2 nodes".to_owned(), &[&first, &second], &two)
                        .await
                };
                rounds.push(row);
            }
        }
        self.stop(first);
        self.stop(second);
        Ok(rounds)
    }

    /// Phase c: the open loop at `rate` for each variant, the default first and last.
    async fn half_peak_variants(&mut self, rate: f64) -> anyhow::Result<Vec<OpenRound>> {
        println!("\n== c. half-peak p99: open loop at {rate:.0} tips/s per variant ==");
        let mut order: Vec<&Variant> = vec![&DEFAULT];
        order.extend(VARIANTS.iter());
        order.push(&DEFAULT);
        let mut rows = Vec::new();
        for variant in order {
            let row = self.open_round(variant, rate).await;
            // Reset even when the round failed, so the next variant starts from the default.
            for (parameter, _) in variant.database {
                let sql = format!("ALTER DATABASE {} RESET {parameter}", self.database.name);
                admin_execute(&self.database.url, &sql).await?;
            }
            rows.push(row?);
        }
        Ok(rows)
    }

    async fn open_round(&mut self, variant: &Variant, rate: f64) -> anyhow::Result<OpenRound> {
        for (parameter, value) in variant.database {
            let sql = format!(
                "ALTER DATABASE {} SET {parameter} = '{value}'",
                self.database.name
            );
            admin_execute(&self.database.url, &sql).await?;
        }
        let checked = self.session_settings(variant).await?;
        let node = self.start_node(true, variant.service).await?;
        let target = self.target(&[&node]);
        // The warm-up at the same rate fills the pool and reaches a steady state.
        let (warmup, _) = open_loop(&target, rate, WARMUP).await;
        report_errors("warm-up", &warmup.recorder);
        let load = open_loop(&target, rate, self.params.duration());
        let ((phase, from_send), _, usage, scrapes) = self.measured(&[&node], &target, load).await;
        self.stop(node);
        let row = OpenRound {
            variant: variant.name,
            checked,
            phase,
            from_send,
            usage,
            scrapes,
        };
        row.print_progress();
        report_errors("open loop", &row.phase.recorder);
        Ok(row)
    }

    /// What a new session on the bench database sees for the variant's parameters (the
    /// proof that `ALTER DATABASE … SET` took), plus `synchronous_commit`.
    async fn session_settings(&self, variant: &Variant) -> anyhow::Result<String> {
        let mut conn = AsyncPgConnection::establish(&self.database.url)
            .await
            .context("connecting to the bench database")?;
        let mut names: Vec<&str> = variant.database.iter().map(|(name, _)| *name).collect();
        names.push("synchronous_commit");
        let mut shown = Vec::new();
        for name in names {
            let row: SettingRow = diesel::sql_query("SELECT current_setting($1) AS value")
                .bind::<Text, _>(name)
                .get_result(&mut conn)
                .await
                .with_context(|| format!("reading {name}"))?;
            shown.push(format!("{name}={}", row.value));
        }
        Ok(shown.join(" "))
    }
}

#[derive(diesel::QueryableByName)]
struct SettingRow {
    #[diesel(sql_type = Text)]
    value: String,
}
