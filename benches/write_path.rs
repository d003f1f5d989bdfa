//! Write-path benchmark: sustained `POST /api/v1/tips` throughput and latency of the real
//! `tipsa` binary (release build), compared with raw PostgreSQL insert throughput measured by
//! `pgbench` against the same server in the same run.
//!
//! What it does:
//!
//! 1. Creates a fresh database `tipsa_bench_<unix time>`, runs `tipsa migrate`, creates an API
//!    key with `tips:submit` and starts `tipsa serve` on a free port on 127.0.0.1.
//! 2. Builds ~200 varied, valid tip bodies from `GET /api/v1/taxonomy`.
//! 3. Warm-up (3 s), then a closed loop: `BENCH_CONNECTIONS` workers each send one request at a
//!    time for `BENCH_SECONDS` → peak throughput (201s per second) and p50/p99/max latency.
//! 4. An open loop at half that peak rate for `BENCH_SECONDS`; requests are sent at fixed
//!    scheduled times and latency is measured from the *scheduled* time, so a stalled server
//!    cannot hide its queueing delay (no coordinated omission).
//! 5. `pgbench` inserting one row per transaction, `BENCH_PGBENCH_CLIENTS` clients, twice:
//!    a tip-shaped row (a table defined `LIKE tips INCLUDING ALL`: the same columns, generated
//!    full-text column, CHECK constraints and indexes as `tips`; ~700-byte description) and a minimal row (id, reference, two codes, description, hash).
//! 6. Prints a summary with the service/pgbench ratios and PASS/FAIL lines for the targets
//!    (throughput >= 0.5 × the tip-shaped pgbench tps; p99 < 25 ms at half peak). A missed target does not make
//!    the bench fail; only a broken run does.
//!
//! Then it stops the server and drops the database.
//!
//! Run it with:
//!
//! ```text
//! cargo bench --bench write_path
//! ```
//!
//! PostgreSQL: if `TIPSA_BENCH_DATABASE_URL` is set it must be an admin URL able to create and
//! drop databases (e.g. `postgres://postgres@127.0.0.1:5432/postgres`). Otherwise the project's
//! embedded cluster is started under `target/tipsa-bench-pg` and stopped again at the end.
//!
//! Knobs (environment variables, defaults in brackets): `BENCH_SECONDS` [15] length of the
//! measured phases, `BENCH_CONNECTIONS` [32] closed-loop workers, `BENCH_PGBENCH_CLIENTS` [8],
//! `BENCH_POOL_SIZE` [16] the service's database pool size, `BENCH_WORKER_IN_SERVE` [true] run
//! the notification worker inside the benchmarked `tipsa serve`, `BENCH_SETUP_SQL` [none] SQL
//! run on the bench database after the migrations, for experiments (e.g. an index option);
//! the tip-shaped pgbench table is copied from `tips` afterwards, so it carries the change too.
//! `BENCH_TIPSA_BINARY` [the bench's own build] runs another `tipsa` binary, e.g. an earlier
//! commit's release build, to compare two versions on the same machine in alternation.
//! `pgbench` is looked up on `PATH`, then in `/usr/lib/postgresql/*/bin`.

#[path = "support/common.rs"]
mod common;
#[path = "support/load.rs"]
mod load;
#[path = "support/payloads.rs"]
mod payloads;

use common::{Environment, Tipsa, env_number, pass, wait_until_ready};
use load::{
    BenchDatabase, PhaseResult, Target, closed_loop, create_submit_key, http_client, open_loop,
    report_errors, report_server_log,
};
use payloads::{SENTENCES, build_bodies};

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use hdrhistogram::Histogram;

const WARMUP: Duration = Duration::from_secs(3);
const P99_TARGET_MS: f64 = 25.0;
const RATIO_TARGET: f64 = 0.5;

struct Params {
    seconds: u64,
    connections: usize,
    pgbench_clients: usize,
    pool_size: usize,
}

impl Params {
    fn from_env() -> anyhow::Result<Self> {
        Ok(Params {
            seconds: env_number("BENCH_SECONDS", 15)?,
            connections: env_number("BENCH_CONNECTIONS", 32)?,
            pgbench_clients: env_number("BENCH_PGBENCH_CLIENTS", 8)?,
            pool_size: env_number("BENCH_POOL_SIZE", 16)?,
        })
    }
}

fn main() -> anyhow::Result<()> {
    let params = Params::from_env()?;
    Environment::start()?.run(async |environment| run(&params, environment).await)
}

/// Creates the database, runs everything against it and drops it again.
async fn run(params: &Params, environment: &Environment) -> anyhow::Result<()> {
    let database = BenchDatabase::create(&environment.admin_url).await?;
    let result = run_in_database(params, &database.url, &environment.work_dir).await;
    database.drop(&environment.admin_url).await;
    result
}

async fn run_in_database(params: &Params, db_url: &str, work_dir: &Path) -> anyhow::Result<()> {
    let tipsa = Tipsa::new(db_url, work_dir, Some(params.pool_size))?;
    tipsa.run_to_end(&["migrate"]).context("tipsa migrate")?;
    if let Some(sql) = std::env::var("BENCH_SETUP_SQL")
        .ok()
        .filter(|sql| !sql.trim().is_empty())
    {
        println!("running BENCH_SETUP_SQL: {sql}");
        use diesel_async::SimpleAsyncConnection;
        let mut conn = AsyncPgConnection::establish(db_url)
            .await
            .context("connecting to the bench database")?;
        conn.batch_execute(&sql)
            .await
            .context("running BENCH_SETUP_SQL")?;
    }
    let token = create_submit_key(&tipsa, "write_path bench")?;

    let mut server = tipsa.serve()?;
    let base = format!("http://127.0.0.1:{}", server.port);
    let client = http_client()?;
    let outcome = async {
        wait_until_ready(&client, &base, &mut server).await?;
        println!(
            "tipsa serve is ready on {base} (pool size {})",
            params.pool_size
        );
        let bodies = build_bodies(&client, &base).await?;
        let target = Target::new(client, std::slice::from_ref(&base), &token, bodies);
        let service = measure_service(params, &target).await?;
        Ok::<_, anyhow::Error>(service)
    }
    .await;
    let server_log = server.stop();
    let service = outcome?;

    let pgbench = run_pgbench(params, db_url, work_dir).await?;

    print_summary(params, &service, &pgbench);
    report_server_log("tipsa serve", &server_log);
    Ok(())
}

struct ServiceResult {
    closed: PhaseResult,
    open_target_rate: f64,
    open: PhaseResult,
    /// Open loop, measured from when each request was actually sent (diagnostic).
    open_service_time: Histogram<u64>,
}

async fn measure_service(params: &Params, target: &Target) -> anyhow::Result<ServiceResult> {
    let seconds = Duration::from_secs(params.seconds);

    println!(
        "warm-up: {} s closed loop, {} connections",
        WARMUP.as_secs(),
        params.connections
    );
    let warmup = closed_loop(target, params.connections, WARMUP).await;
    report_errors("warm-up", &warmup.recorder);

    println!(
        "closed loop: {} s, {} connections",
        params.seconds, params.connections
    );
    let closed = closed_loop(target, params.connections, seconds).await;
    println!(
        "  {:.0} tips/s  {}  ok {}  errors {}",
        closed.rate,
        closed.recorder.percentiles(),
        closed.recorder.ok,
        closed.recorder.errors
    );
    report_errors("closed loop", &closed.recorder);
    if closed.recorder.ok == 0 {
        bail!("no tip was accepted in the closed loop; see the errors above");
    }

    let rate = closed.rate / 2.0;
    println!(
        "open loop: {} s at {rate:.0} requests/s (half peak)",
        params.seconds
    );
    let (open, open_service_time) = open_loop(target, rate, seconds).await;
    println!(
        "  achieved {:.0}/s  {}  errors {}",
        open.rate,
        open.recorder.percentiles(),
        open.recorder.errors
    );
    println!(
        "  timed from actual send: p50 {:.1} ms  p99 {:.1} ms",
        open_service_time.value_at_quantile(0.5) as f64 / 1000.0,
        open_service_time.value_at_quantile(0.99) as f64 / 1000.0,
    );
    report_errors("open loop", &open.recorder);

    Ok(ServiceResult {
        closed,
        open_target_rate: rate,
        open,
        open_service_time,
    })
}

// ---------------------------------------------------------------------------------------------
// pgbench
// ---------------------------------------------------------------------------------------------

struct PgbenchResult {
    tps: f64,
    latency_ms: Option<f64>,
}

fn find_pgbench() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join("pgbench");
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_string_lossy().parse().ok()?;
            let candidate = entry.path().join("bin/pgbench");
            candidate.is_file().then_some((version, candidate))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, path)| path)
        .context("pgbench not found on PATH or in /usr/lib/postgresql/*/bin")
}

/// A ~700-byte description like the ones the service stores.
fn pgbench_description() -> String {
    let mut text = String::new();
    for sentence in SENTENCES {
        if text.len() >= 700 {
            break;
        }
        let sentence = sentence
            .replace("{place}", "boendet")
            .replace("{when}", "I förra veckan");
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(&sentence);
    }
    // Cut at a character boundary near 700 bytes; the text has no quotes to escape.
    let mut end = text.len().min(700);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.replace('\'', "''")
}

/// The two raw-insert baselines, measured one after the other on the same database.
struct Baselines {
    /// A minimal row: id, reference, category, region, description, hash.
    minimal: PgbenchResult,
    /// A row shaped like a tip: the same table definition as `tips` — columns, the generated
    /// full-text column, CHECK constraints and every index (`LIKE tips INCLUDING ALL`) —
    /// without its foreign keys and the event row, which are part of the service's work.
    tip_shaped: PgbenchResult,
}

async fn run_pgbench(params: &Params, db_url: &str, work_dir: &Path) -> anyhow::Result<Baselines> {
    let mut conn = AsyncPgConnection::establish(db_url)
        .await
        .context("connecting to the bench database")?;
    diesel::sql_query(
        "CREATE TABLE bench_raw_tips (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            reference text NOT NULL,
            category text NOT NULL,
            region_code text NOT NULL,
            description text NOT NULL,
            receipt_code_hash bytea NOT NULL,
            submitted_at timestamptz NOT NULL DEFAULT now()
        )",
    )
    .execute(&mut conn)
    .await
    .context("creating bench_raw_tips")?;
    diesel::sql_query("CREATE TABLE bench_tip_rows (LIKE tips INCLUDING ALL)")
        .execute(&mut conn)
        .await
        .context("creating bench_tip_rows")?;
    // References come from a sequence, as the service's do.
    diesel::sql_query("CREATE SEQUENCE bench_tip_reference")
        .execute(&mut conn)
        .await
        .context("creating bench_tip_reference")?;
    drop(conn);

    let description = pgbench_description();
    let minimal = format!(
        "\\set r random(1, 999999999)\n\
         INSERT INTO bench_raw_tips (reference, category, region_code, description, receipt_code_hash) \
         VALUES ('T-2026-' || lpad(:r::text, 9, '0'), 'patient_safety', '01', '{description}', \
         decode(md5(random()::text) || md5(random()::text), 'hex'));\n"
    );
    let tip_shaped = format!(
        "\\set r random(1, 999999999)\n\
         INSERT INTO bench_tip_rows (id, reference, channel, category, care_sector, region_code, \
         municipality_code, facility_name, care_provider, occurred_on, ongoing, description, \
         reporter_role, outbreak, language, anonymous, receipt_code_hash) \
         VALUES (gen_random_uuid(), 'T-2026-' || lpad(nextval('bench_tip_reference')::text, 6, '0'), \
         'api', 'patient_safety', \
         'elderly_residential', '01', '0180', 'Solgläntans äldreboende', NULL, '2026-11-01', true, \
         '{description}', 'staff', NULL, 'sv', true, \
         decode(md5(random()::text) || md5(random()::text), 'hex'));\n"
    );
    Ok(Baselines {
        minimal: pgbench_script(params, db_url, work_dir, "minimal row", &minimal).await?,
        tip_shaped: pgbench_script(params, db_url, work_dir, "tip-shaped row", &tip_shaped).await?,
    })
}

async fn pgbench_script(
    params: &Params,
    db_url: &str,
    work_dir: &Path,
    label: &str,
    script: &str,
) -> anyhow::Result<PgbenchResult> {
    let pgbench = find_pgbench()?;
    let script_path = work_dir.join(format!("{}.sql", label.replace(' ', "_")));
    std::fs::write(&script_path, script)
        .with_context(|| format!("writing {}", script_path.display()))?;

    let clients = params.pgbench_clients;
    let threads = clients.min(2);
    println!(
        "pgbench ({label}): {} s, {clients} clients, {threads} threads, 1 INSERT per transaction ({})",
        params.seconds,
        pgbench.display()
    );
    let output = tokio::process::Command::new(&pgbench)
        .args(["-n", "-c", &clients.to_string(), "-j", &threads.to_string()])
        .args(["-T", &params.seconds.to_string(), "-f"])
        .arg(&script_path)
        .arg(db_url)
        .stdin(Stdio::null())
        .output()
        .await
        .with_context(|| format!("running {}", pgbench.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        bail!("pgbench failed ({}):\n{stdout}{stderr}", output.status);
    }
    let tps = stdout
        .lines()
        .find_map(|line| {
            let rest = line.trim().strip_prefix("tps = ")?;
            if !rest.contains("without initial connection time") {
                return None;
            }
            rest.split_whitespace().next()?.parse::<f64>().ok()
        })
        .with_context(|| {
            format!("no `tps = X (without initial connection time)` line in:\n{stdout}")
        })?;
    let latency_ms = stdout.lines().find_map(|line| {
        let rest = line.trim().strip_prefix("latency average = ")?;
        rest.split_whitespace().next()?.parse::<f64>().ok()
    });
    println!(
        "  {tps:.0} tps, latency average {}",
        latency_ms.map_or_else(|| "?".to_owned(), |ms| format!("{ms:.2} ms"))
    );
    Ok(PgbenchResult { tps, latency_ms })
}

// ---------------------------------------------------------------------------------------------
// Summary
// ---------------------------------------------------------------------------------------------

fn print_summary(params: &Params, service: &ServiceResult, baselines: &Baselines) {
    let closed = &service.closed;
    let open = &service.open;
    let pgbench = &baselines.tip_shaped;
    let ratio = closed.rate / pgbench.tps;
    let ratio_minimal = closed.rate / baselines.minimal.tps;
    let open_p99 = open.recorder.ms(0.99);
    let rows = [
        (
            format!(
                "service  POST /api/v1/tips   closed loop, {} connections:",
                params.connections
            ),
            format!(
                "{:.0} tips/s  p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms  errors {}",
                closed.rate,
                closed.recorder.ms(0.5),
                closed.recorder.ms(0.99),
                closed.recorder.max_ms(),
                closed.recorder.errors
            ),
        ),
        (
            format!(
                "service  at half peak ({:.0}/s), open loop:",
                service.open_target_rate
            ),
            format!(
                "achieved {:.0}/s  p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms  errors {}",
                open.rate,
                open.recorder.ms(0.5),
                open_p99,
                open.recorder.max_ms(),
                open.recorder.errors
            ),
        ),
        (
            "         (same, timed from actual send):".to_owned(),
            format!(
                "p50 {:.1} ms  p99 {:.1} ms",
                service.open_service_time.value_at_quantile(0.5) as f64 / 1000.0,
                service.open_service_time.value_at_quantile(0.99) as f64 / 1000.0,
            ),
        ),
        (
            format!(
                "pgbench  tip-shaped row, 1 INSERT/tx, {} clients:",
                params.pgbench_clients
            ),
            format!(
                "{:.0} tps{}",
                pgbench.tps,
                pgbench
                    .latency_ms
                    .map_or_else(String::new, |ms| format!("  latency avg {ms:.2} ms"))
            ),
        ),
        (
            format!(
                "pgbench  minimal row, 1 INSERT/tx, {} clients:",
                params.pgbench_clients
            ),
            format!(
                "{:.0} tps{}",
                baselines.minimal.tps,
                baselines
                    .minimal
                    .latency_ms
                    .map_or_else(String::new, |ms| format!("  latency avg {ms:.2} ms"))
            ),
        ),
    ];
    let width = rows.iter().map(|(label, _)| label.len()).max().unwrap_or(0) + 2;
    println!();
    println!("== Tipsa write path (release build, same machine) ==");
    for (label, values) in &rows {
        println!("{label:<width$}{values}");
    }
    println!(
        "ratio    service / pgbench tip-shaped row = {ratio:.2}   (target >= {RATIO_TARGET}: {})",
        pass(ratio >= RATIO_TARGET)
    );
    println!("ratio    service / pgbench minimal row    = {ratio_minimal:.2}   (for reference)");
    println!(
        "p99 at half peak = {open_p99:.1} ms     (target < {P99_TARGET_MS} ms: {})",
        pass(open_p99 < P99_TARGET_MS)
    );
}
