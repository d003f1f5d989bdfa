//! Disposal benchmark: a disposal run over the bench database (1 000 000 tips, ~300 000 of
//! them due) by the real `tipsa records dispose` binary, while intake goes on, in ONE run:
//!
//! 1. Creates a fresh database, runs `tipsa migrate`, generates `BENCH_TIPS` tips with the
//!    shared generator (`benches/support/generate.rs`, `Extras::Disposal`: closure times and
//!    contact details on one tip in ten), then gives part of the closed tips what disposal
//!    removes: a conversation (two messages, one tip in twenty) and a `closed` event with a typed
//!    reason (one in five). Legal holds go on `BENCH_HOLD_PERMILLE` ‰ of the no-action tips due, and one undecided public-records
//!    request covers 100 more.
//! 2. Writes the bench's `records.toml` (no schedule: the only run is the command's): risk
//!    signals and tips closed with no action disposed of (content) after 12 months, referrals
//!    (whole) after 18 months, supervision cases kept; the dry-run counts say what is due.
//! 3. Starts `tipsa serve` (notification worker off, as in the cluster bench) and loads it with
//!    a closed loop of `BENCH_CONNECTIONS` workers posting tips (`POST /api/v1/tips`, the
//!    varied bodies of `benches/support/payloads.rs`): a warm-up, then `BENCH_SECONDS` measured
//!    **before** the run.
//! 4. Starts `tipsa records dispose` (with `BENCH_BATCH` tips per transaction and
//!    `BENCH_PAUSE_MS` between batches, if set) and keeps exactly the same load going **during**
//!    the run, until the command exits; then `BENCH_SECONDS` **after** it (drift).
//! 5. Checks the result (every due, unblocked tip disposed of, none of the held, the rollup
//!    still counts every tip ever stored) and prints: tips disposed of per second, intake tips/s
//!    and p99 before / during / after, and the ratio during ÷ before against the target
//!    (intake keeps ≥ 80 % of its throughput). The machine's load average is printed too: on a
//!    shared machine it says how much the figures can be trusted.
//!
//! ```text
//! cargo bench --bench disposal
//! BENCH_TIPS=100000 BENCH_SECONDS=10 cargo bench --bench disposal   # a quick run
//! ```
//!
//! Knobs: `BENCH_TIPS` [1000000], `BENCH_SECONDS` [30], `BENCH_CONNECTIONS` [16],
//! `BENCH_POOL_SIZE` [16], `BENCH_BATCH` [records.toml: 200], `BENCH_PAUSE_MS` [records.toml:
//! none], `BENCH_HOLD_PERMILLE` [10], `BENCH_KEEP_DB` [0], `TIPSA_BENCH_DATABASE_URL`
//! [embedded cluster under the target dir], and `BENCH_TIPSA__…` as in the other benches.

#[path = "support/common.rs"]
mod common;
#[path = "support/generate.rs"]
mod generate;
#[path = "support/load.rs"]
mod load;
#[path = "support/payloads.rs"]
mod payloads;

use common::{Environment, Tipsa, env_number, pass, wait_until_ready};
use generate::{Extras, execute, generate_tips};
use load::{
    BenchDatabase, PhaseResult, Recorder, Target, closed_loop, create_submit_key, http_client,
    report_errors, report_server_log,
};

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use diesel::QueryableByName;
use diesel::sql_types::BigInt;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

/// Intake must keep this share of its throughput while disposal runs.
const TARGET_RATIO: f64 = 0.80;
const WARMUP: Duration = Duration::from_secs(5);

/// The bench's rules: ~30 % of a million generated tips are due (risk signals and no-action
/// closures over a year old, referrals over eighteen months).
const RECORDS_TOML: &str = r#"
[disposal]
scheduled = false
interval_minutes = 1440
batch_tips = 200

[[disposal.rule]]
name = "case_opened_keep"
outcomes = ["case_opened"]
action = "keep"

[[disposal.rule]]
name = "risk_signal_1y"
outcomes = ["risk_signal"]
action = "dispose"
retain_months = 12

[[disposal.rule]]
name = "no_action_1y"
outcomes = ["no_action"]
action = "dispose"
retain_months = 12

[[disposal.rule]]
name = "referred_18m_whole"
outcomes = ["referred"]
action = "dispose"
retain_months = 18
removes = "whole"

[disclosure]
require_second_approval = false
reporter_ground = "OSL 25 kap. 1 §"

[[disclosure.ground]]
code = "OSL 25 kap. 1 §"
sv = "Hälso- och sjukvård"
en = "Health care"
"#;

struct Params {
    tips: u64,
    seconds: u64,
    connections: usize,
    pool_size: usize,
    batch: Option<u64>,
    pause_ms: Option<u64>,
    hold_permille: u64,
    keep_db: bool,
}

fn main() -> anyhow::Result<()> {
    let optional = |name: &str| -> anyhow::Result<Option<u64>> {
        match std::env::var(name) {
            Ok(text) if text.trim() == "0" => Ok(Some(0)),
            Ok(_) => Ok(Some(env_number(name, 1)?)),
            Err(_) => Ok(None),
        }
    };
    let params = Params {
        tips: env_number("BENCH_TIPS", 1_000_000)?,
        seconds: env_number("BENCH_SECONDS", 30)?,
        connections: env_number("BENCH_CONNECTIONS", 16)?,
        pool_size: env_number("BENCH_POOL_SIZE", 16)?,
        batch: optional("BENCH_BATCH")?,
        pause_ms: optional("BENCH_PAUSE_MS")?,
        hold_permille: env_number("BENCH_HOLD_PERMILLE", 10)?,
        keep_db: std::env::var("BENCH_KEEP_DB").is_ok_and(|v| matches!(v.trim(), "1" | "true")),
    };
    let started = Instant::now();
    let result = Environment::start()?.run(async |environment| {
        let database = BenchDatabase::create(&environment.admin_url).await?;
        let result = run(&params, &database, &environment.work_dir).await;
        if params.keep_db {
            println!(
                "BENCH_KEEP_DB=1: keeping database {} ({})",
                database.name, database.url
            );
        } else {
            database.drop(&environment.admin_url).await;
        }
        result
    });
    if result.is_ok() {
        println!("\nwhole run took {:.0} s", started.elapsed().as_secs_f64());
    }
    result
}

#[derive(QueryableByName)]
struct Number {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn number(conn: &mut AsyncPgConnection, sql: &str) -> anyhow::Result<i64> {
    let row: Number = diesel::sql_query(sql)
        .get_result(conn)
        .await
        .with_context(|| format!("running {sql}"))?;
    Ok(row.n)
}

/// What the database holds before the run, for the checks after it.
struct Before {
    due: i64,
    held: i64,
    requested: i64,
    due_whole: i64,
}

async fn run(params: &Params, database: &BenchDatabase, work_dir: &Path) -> anyhow::Result<()> {
    let tipsa = Tipsa::new(&database.url, work_dir, Some(params.pool_size))?
        .with_setting("NOTIFY__WORKER_IN_SERVE", "false");
    tipsa.run_to_end(&["migrate"]).context("tipsa migrate")?;
    std::fs::write(work_dir.join("config").join("records.toml"), RECORDS_TOML)
        .context("writing the bench's records.toml")?;
    let generation = generate_tips(&database.url, params.tips, Extras::Disposal).await?;
    println!(
        "generated {} tips in {:.0} s ({})",
        generation.total,
        generation.elapsed().as_secs_f64(),
        generation.table_size
    );
    let mut conn = AsyncPgConnection::establish(&database.url).await?;
    let before = prepare(&mut conn, params).await?;
    let preview = tipsa.run_to_end(&["records", "dispose", "--dry-run"])?;
    let summary = preview
        .lines()
        .skip_while(|l| !l.starts_with("Dry run"))
        .collect::<Vec<_>>()
        .join("\n");
    println!("{summary}");
    println!(
        "due: {} tips free to go ({} whole), {} held, {} in an undecided request",
        before.due, before.due_whole, before.held, before.requested
    );
    let stored_before = number(&mut conn, "SELECT count(*) AS n FROM tips").await?;

    let token = create_submit_key(&tipsa, "disposal bench")?;
    let client = http_client()?;
    let mut server = tipsa.serve()?;
    let base = format!("http://127.0.0.1:{}", server.port);
    wait_until_ready(&client, &base, &mut server).await?;
    let bodies = payloads::build_bodies(&client, &base).await?;
    let target = Target::new(client, &[base], &token, bodies);

    let warmup = closed_loop(&target, params.connections, WARMUP).await;
    report_errors("warm-up", &warmup.recorder);
    let window = Duration::from_secs(params.seconds);
    let load_before = closed_loop(&target, params.connections, window).await;
    report_errors("before", &load_before.recorder);
    println!(
        "intake before: {:.0} tips/s, {}",
        load_before.rate,
        load_before.recorder.percentiles()
    );

    let mut args = vec!["records", "dispose"];
    let batch = params.batch.map(|b| b.to_string());
    if let Some(batch) = &batch {
        args.extend(["--batch", batch.as_str()]);
    }
    let pause = params.pause_ms.map(|p| p.to_string());
    if let Some(pause) = &pause {
        args.extend(["--pause-ms", pause.as_str()]);
    }
    let disposal_log = work_dir.join("dispose.log");
    let output = std::fs::File::create(&disposal_log)?;
    let started = Instant::now();
    let mut child = tipsa
        .command(&args)
        .stdin(std::process::Stdio::null())
        .stdout(output.try_clone()?)
        .stderr(output)
        .spawn()
        .context("starting tipsa records dispose")?;
    let stop = Arc::new(AtomicBool::new(false));
    let load = tokio::spawn(closed_loop_until(
        target.clone(),
        params.connections,
        Arc::clone(&stop),
    ));
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .context("waiting for the disposal run")??;
    let run_seconds = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::SeqCst);
    let load_during = load.await.context("the load during the run")?;
    let log = std::fs::read_to_string(&disposal_log).unwrap_or_default();
    if !status.success() {
        bail!("tipsa records dispose failed ({status}):\n{log}");
    }
    report_errors("during", &load_during.recorder);
    let load_after = closed_loop(&target, params.connections, window).await;
    report_errors("after", &load_after.recorder);
    report_server_log("tipsa serve", &server.stop());

    let disposed = number(
        &mut conn,
        "SELECT count(*) AS n FROM audit_log WHERE action = 'dispose_tip'",
    )
    .await?;
    check(&mut conn, &before, disposed, stored_before).await?;
    let load_average = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();

    let ratio = load_during.rate / load_before.rate;
    println!(
        "\n== disposal while intake runs ({} tips in the database) ==",
        generation.total
    );
    for line in log.lines().filter(|l| !l.starts_with('{')) {
        println!("  {line}");
    }
    println!(
        "disposed of {disposed} tips in {run_seconds:.1} s: {:.0} tips/s (batch {}, pause {} ms)",
        disposed as f64 / run_seconds,
        params.batch.map_or("200".into(), |b| b.to_string()),
        params.pause_ms.unwrap_or(0)
    );
    println!("intake with {} connections:", params.connections);
    for (phase, result) in [
        ("before", &load_before),
        ("during", &load_during),
        ("after", &load_after),
    ] {
        println!(
            "  {phase:<7} {:>6.0} tips/s  p99 {:>7.1} ms  ({} tips, {} failed)",
            result.rate,
            result.recorder.ms(0.99),
            result.recorder.ok,
            result.recorder.errors
        );
    }
    println!(
        "intake during ÷ before: {ratio:.2} (target ≥ {TARGET_RATIO:.2}) {}; p99 during ÷ before: {:.2}",
        pass(ratio >= TARGET_RATIO),
        load_during.recorder.ms(0.99) / load_before.recorder.ms(0.99)
    );
    println!("load average at the end: {}", load_average.trim());
    Ok(())
}

/// Messages, reasons, holds and a request: what a disposal run removes or must respect.
async fn prepare(conn: &mut AsyncPgConnection, params: &Params) -> anyhow::Result<Before> {
    let started = Instant::now();
    // Two messages for one closed tip in twenty; a typed reason on the closing of one in five.
    execute(
        conn,
        "INSERT INTO tip_messages (id, tip_id, direction, body, author, created_at) \
         SELECT gen_random_uuid(), t.id, d.direction, d.body, d.author, t.submitted_at + interval '1 day' \
         FROM tips t CROSS JOIN (VALUES \
             ('to_reporter', 'Vilka nätter gäller det, och vilken avdelning?', 'user:bench'), \
             ('from_reporter', 'Avdelning 3, de flesta nätter sedan i våras.', NULL)) \
             AS d (direction, body, author) \
         WHERE t.status = 'closed' AND abs(hashtext(t.id::text)) % 20 = 0",
    )
    .await?;
    execute(
        conn,
        "INSERT INTO tip_events (tip_id, kind, actor, data, created_at) \
         SELECT id, 'closed', 'user:bench', jsonb_build_object('before', '{}'::jsonb, \
                'after', jsonb_build_object('status', 'closed', 'outcome', outcome), \
                'reason', 'Bedömt vid triagemötet, se protokollet'), closed_at \
         FROM tips WHERE status = 'closed' AND abs(hashtext(id::text)) % 5 = 1",
    )
    .await?;
    let rules = tipsa::records::RecordsRules::parse(RECORDS_TOML)?;
    let due = tipsa::records::disposal::DueRules::at(&rules, chrono::Utc::now());
    let cutoff = |rule: &str| {
        let i = due.rules.iter().position(|r| r == rule).unwrap_or(0);
        due.cutoffs[i].to_rfc3339()
    };
    execute(
        conn,
        &format!(
            "INSERT INTO legal_holds (id, tip_id, reason, placed_by) \
             SELECT gen_random_uuid(), id, 'Pågående tillsyn', 'user:bench' FROM tips \
             WHERE status = 'closed' AND outcome = 'no_action' AND closed_at <= '{}' \
               AND abs(hashtext(id::text || 'hold')) % 1000 < {}",
            cutoff("no_action_1y"),
            params.hold_permille
        ),
    )
    .await?;
    execute(
        conn,
        "INSERT INTO records_requests (id, reference, received_on, registered_by) \
         VALUES ('00000000-0000-0000-0000-0000000000b1', 'R-2026-0001', current_date, 'user:bench')",
    )
    .await?;
    execute(
        conn,
        &format!(
            "INSERT INTO records_request_tips (request_id, tip_id) \
             SELECT '00000000-0000-0000-0000-0000000000b1', id FROM tips \
             WHERE status = 'closed' AND outcome = 'risk_signal' AND closed_at <= '{}' \
               AND NOT EXISTS (SELECT 1 FROM legal_holds h WHERE h.tip_id = tips.id) \
             ORDER BY id LIMIT 100",
            cutoff("risk_signal_1y")
        ),
    )
    .await?;
    execute(conn, "VACUUM ANALYZE tips").await?;
    execute(conn, "VACUUM ANALYZE tip_messages").await?;
    execute(conn, "VACUUM ANALYZE tip_events").await?;
    let counts = tipsa::records::disposal::select::count(conn, &due).await?;
    let due_whole = counts
        .iter()
        .filter(|c| c.rule == "referred_18m_whole")
        .map(|c| c.due)
        .sum();
    println!(
        "prepared messages, reasons, holds and a request ({:.0} s)",
        started.elapsed().as_secs_f64()
    );
    Ok(Before {
        due: counts.iter().map(|c| c.due).sum(),
        held: counts.iter().map(|c| c.held).sum(),
        requested: counts.iter().map(|c| c.requested).sum(),
        due_whole,
    })
}

/// Every due, unblocked tip is disposed of, none of the blocked; the rollup still counts every
/// tip stored (whole disposal keeps counting its tips); nothing disposed kept content.
async fn check(
    conn: &mut AsyncPgConnection,
    before: &Before,
    disposed: i64,
    stored_before: i64,
) -> anyhow::Result<()> {
    if disposed != before.due {
        bail!("{} tips were due, {disposed} were disposed of", before.due);
    }
    let blocked_disposed = number(
        conn,
        "SELECT count(*) AS n FROM tips t WHERE t.disposed_at IS NOT NULL AND (\
             EXISTS (SELECT 1 FROM legal_holds h WHERE h.tip_id = t.id AND h.lifted_at IS NULL) \
             OR EXISTS (SELECT 1 FROM records_request_tips r WHERE r.tip_id = t.id))",
    )
    .await?;
    if blocked_disposed != 0 {
        bail!("{blocked_disposed} held or requested tips were disposed of");
    }
    let with_content = number(
        conn,
        "SELECT count(*) AS n FROM tips t WHERE t.disposed_at IS NOT NULL AND (t.description <> '' \
             OR t.contact_ciphertext IS NOT NULL \
             OR EXISTS (SELECT 1 FROM tip_messages m WHERE m.tip_id = t.id))",
    )
    .await?;
    if with_content != 0 {
        bail!("{with_content} disposed tips kept content");
    }
    let stored = number(conn, "SELECT count(*) AS n FROM tips").await?;
    let counted = number(
        conn,
        "SELECT coalesce(sum(tips), 0)::bigint AS n FROM tip_daily_counts",
    )
    .await?;
    let whole = number(
        conn,
        "SELECT count(*) AS n FROM audit_log WHERE action = 'dispose_tip' \
         AND detail::jsonb ->> 'removes' = 'whole'",
    )
    .await?;
    if counted != stored + whole {
        bail!(
            "the rollup counts {counted} tips; {stored} are stored and {whole} were removed whole"
        );
    }
    println!(
        "checked: {disposed} disposed of ({whole} whole, {} expected), none held or requested; \
         rollup counts all {counted} tips ever stored ({} stored since the generation)",
        before.due_whole,
        stored + whole - stored_before
    );
    Ok(())
}

/// `connections` workers, each with one request at a time, until `stop` is set; latencies
/// and the rate over the whole time.
async fn closed_loop_until(
    target: Target,
    connections: usize,
    stop: Arc<AtomicBool>,
) -> PhaseResult {
    let start = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..connections {
        let target = target.clone();
        let stop = Arc::clone(&stop);
        workers.spawn(async move {
            let mut recorder = Recorder::new();
            let mut index = worker * 7;
            while !AtomicBool::load(&stop, Ordering::SeqCst) {
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
    PhaseResult {
        rate: total.ok as f64 / start.elapsed().as_secs_f64(),
        recorder: total,
    }
}
