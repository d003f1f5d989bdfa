//! Triage-queue benchmark: latency of `GET /api/v1/tips` (the inspectors' queue) of the real
//! `tipsa` binary (release build) over a database holding a million realistic tips.
//!
//! What it does:
//!
//! 1. Creates a fresh database `tipsa_queue_bench_<unix time>` and runs `tipsa migrate`.
//! 2. Generates `BENCH_TIPS` tips with set-based SQL (`INSERT … SELECT … FROM generate_series`,
//!    batches of 200 000 on two connections). Every row satisfies the table's constraints:
//!    taxonomy codes from the seeded tables, a kommun inside its län, priority and
//!    priority_rank matching, ~85 % closed (with an outcome) and ~15 % open, the team routed
//!    from the län by the default `config/routing.toml` (except ~2 % that sit with
//!    `nationell`, as if handed to national triage, so its queue is not empty), first-review
//!    deadlines by priority (most open `new` tips are overdue), Swedish descriptions composed
//!    from ~30 sentences so full-text search has common and rare words to find. For speed the
//!    table's secondary indexes and foreign keys are dropped during the load and recreated
//!    from their own definitions afterwards (re-adding the foreign keys validates every row);
//!    then `VACUUM ANALYZE tips`.
//! 3. Creates an API key with `tips:read` and starts `tipsa serve` on a free port.
//! 4. After a warm-up pass, sends `BENCH_REQUESTS` sequential requests for each of:
//!    the first queue page of a team (rotating over the seven teams), its second page (via
//!    `next_cursor`), a full-text query `q=…` (rotating over a dozen Swedish words and a
//!    phrase) and `team=…&q=…` together. Every response must be 200; the item counts are
//!    reported so it is visible the queries return rows.
//! 5. Prints `EXPLAIN (ANALYZE, BUFFERS)` of the SQL the service runs (`src/db/queue.rs`)
//!    for the team queue, the slowest full-text word and the slowest team + word pair.
//!    The service's statements are not cached (they contain SQL literals), so PostgreSQL plans
//!    each one with its actual parameter values, as these EXPLAINs with literals do.
//! 6. Prints a summary with p50/p95/max and PASS/FAIL against the targets (team pages
//!    p95 < 15 ms, full-text p95 < 100 ms). A missed target does not fail the bench; only a
//!    broken run does.
//!
//! Then it stops the server and drops the database (unless `BENCH_KEEP_DB=1`).
//!
//! Run it with:
//!
//! ```text
//! cargo bench --bench queue
//! BENCH_TIPS=200000 BENCH_REQUESTS=100 cargo bench --bench queue   # a quicker run
//! ```
//!
//! PostgreSQL: if `TIPSA_BENCH_DATABASE_URL` is set it must be an admin URL able to create and
//! drop databases (e.g. `postgres://postgres@127.0.0.1:5432/postgres`). Otherwise the project's
//! embedded cluster is started under `<target dir>/tipsa-bench-pg` and stopped again at the
//! end (if this run started it).
//!
//! Knobs (environment variables, defaults in brackets): `BENCH_TIPS` [1000000] tips to
//! generate, `BENCH_REQUESTS` [300] measured requests per kind of query, `BENCH_KEEP_DB` [0]
//! `1` keeps the database (its URL is printed), `TIPSA_BENCH_DATABASE_URL` [embedded cluster].

#[path = "support/common.rs"]
mod common;
#[path = "support/generate.rs"]
mod generate;

use common::{
    Environment, Tipsa, admin_execute, database_url, env_number, pass, truncate, unix_time,
    wait_until_ready,
};
use generate::{Extras, Generation, execute, generate_tips};

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use diesel::QueryableByName;
use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use hdrhistogram::Histogram;
use serde_json::Value;

const TEAM_P95_TARGET_MS: f64 = 15.0;
const TEXT_P95_TARGET_MS: f64 = 100.0;
/// How many failed responses are kept to show.
const ERROR_SAMPLES: usize = 5;

const TEAMS: [&str; 7] = [
    "nord",
    "mitt",
    "ost",
    "sydost",
    "sydvast",
    "syd",
    "nationell",
];

/// Full-text queries (websearch syntax): common words, mid-frequency ones, rare ones and a
/// phrase. They all occur in `COMMON_SENTENCES`, `RARE_SENTENCES` or `FACILITIES`.
const WORDS: [&str; 12] = [
    "natt",
    "läkemedel",
    "fastspänd",
    "hygien",
    "bemanning",
    "\"fel dos\"",
    "trycksår",
    "psykiatrin",
    "gruppbostad",
    "anhöriga",
    "insulin",
    "uttorkad",
];

/// The columns `src/db/queue.rs` selects.
const QUEUE_COLUMNS: &str = "tips.id, tips.reference, tips.priority, tips.priority_rank, \
     tips.team, tips.status, tips.category, tips.care_sector, tips.region_code, \
     tips.municipality_code, tips.facility_name, tips.due_at, tips.submitted_at, \
     tips.cluster_id, tips.assignee";

struct Params {
    tips: u64,
    requests: usize,
    keep_db: bool,
}

impl Params {
    fn from_env() -> anyhow::Result<Self> {
        let keep_db = std::env::var("BENCH_KEEP_DB")
            .map(|v| matches!(v.trim(), "1" | "true" | "yes"))
            .unwrap_or(false);
        Ok(Params {
            tips: env_number("BENCH_TIPS", 1_000_000)?,
            requests: env_number("BENCH_REQUESTS", 300)?,
            keep_db,
        })
    }
}

fn main() -> anyhow::Result<()> {
    let started = Instant::now();
    let params = Params::from_env()?;
    let result = Environment::start()?.run(async |environment| {
        let result = run(&params, &environment.admin_url, &environment.work_dir).await;
        if let Some(data_dir) = environment.cluster_data_dir()
            && params.keep_db
        {
            println!(
                "note: the embedded cluster ({}) is stopped at the end of this run if it started it; it picks \
                 a new port when started again",
                data_dir.display()
            );
        }
        result
    });
    if result.is_ok() {
        println!("\nwhole run took {:.0} s", started.elapsed().as_secs_f64());
    }
    result
}

/// Creates the database, runs everything against it and drops it again.
async fn run(params: &Params, admin_url: &str, work_dir: &Path) -> anyhow::Result<()> {
    let db_name = format!("tipsa_queue_bench_{}", unix_time());
    let db_url = database_url(admin_url, &db_name)?;
    admin_execute(admin_url, &format!("CREATE DATABASE {db_name}"))
        .await
        .with_context(|| format!("creating database {db_name}"))?;
    println!("created database {db_name}");

    let result = run_in_database(params, &db_url, work_dir).await;

    if params.keep_db {
        println!("BENCH_KEEP_DB=1: keeping database {db_name} ({db_url})");
    } else if let Err(e) =
        admin_execute(admin_url, &format!("DROP DATABASE {db_name} WITH (FORCE)")).await
    {
        eprintln!("warning: dropping database {db_name} failed: {e:#}");
    }
    result
}

async fn run_in_database(params: &Params, db_url: &str, work_dir: &Path) -> anyhow::Result<()> {
    let tipsa = Tipsa::new(db_url, work_dir, None)?;
    tipsa.run_to_end(&["migrate"]).context("tipsa migrate")?;

    let generation = generate_tips(db_url, params.tips, Extras::None).await?;

    let token = tipsa
        .run_to_end(&[
            "apikey",
            "create",
            "--name",
            "queue bench",
            "--scope",
            "tips:read",
        ])
        .context("tipsa apikey create")?;
    let token = token.trim().to_owned();
    if !token.starts_with("tipsa_") {
        bail!("unexpected API key output: {token:?}");
    }

    let mut server = tipsa.serve()?;
    let base = format!("http://127.0.0.1:{}", server.port);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .tcp_nodelay(true)
        .build()
        .context("building the HTTP client")?;
    let outcome = async {
        wait_until_ready(&client, &base, &mut server).await?;
        println!("tipsa serve is ready on {base}");
        let target = Target {
            client,
            url: format!("{base}/api/v1/tips"),
            auth: format!("Bearer {token}"),
        };
        measure(params, &target).await
    }
    .await;
    let server_log = server.stop();
    let lines = outcome?;

    let plans = explain_plans(db_url, &lines).await?;

    print_summary(params, &generation, &lines, &plans);
    if !server_log.trim().is_empty() {
        let log_lines: Vec<&str> = server_log.lines().collect();
        println!(
            "\nnote: tipsa serve logged {} line(s) at warn or above; the first few:",
            log_lines.len()
        );
        for line in log_lines.iter().take(5) {
            println!("  {line}");
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Measuring the queue
// ---------------------------------------------------------------------------------------------

struct Target {
    client: reqwest::Client,
    url: String,
    auth: String,
}

/// One answered request.
struct Answer {
    latency: Duration,
    items: usize,
    next_cursor: Option<String>,
}

impl Target {
    async fn get(&self, query: &[(&str, &str)]) -> Result<Answer, String> {
        let sent = Instant::now();
        let response = self
            .client
            .get(&self.url)
            .query(query)
            .header(reqwest::header::AUTHORIZATION, &self.auth)
            .send()
            .await
            .map_err(|e| format!("transport error: {e}"))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| format!("reading the body: {e}"))?;
        let latency = sent.elapsed();
        if status != reqwest::StatusCode::OK {
            return Err(format!(
                "{status}: {}",
                truncate(&String::from_utf8_lossy(&body), 300)
            ));
        }
        let page: Value =
            serde_json::from_slice(&body).map_err(|e| format!("200 with a bad body: {e}"))?;
        let items = page["items"]
            .as_array()
            .ok_or("200 without an items array")?
            .len();
        Ok(Answer {
            latency,
            items,
            next_cursor: page["next_cursor"].as_str().map(str::to_owned),
        })
    }
}

fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 120_000_000, 3).expect("valid histogram bounds")
}

fn ms(histogram: &Histogram<u64>, quantile: f64) -> f64 {
    histogram.value_at_quantile(quantile) as f64 / 1000.0
}

fn max_ms(histogram: &Histogram<u64>) -> f64 {
    histogram.max() as f64 / 1000.0
}

/// Latency and item counts of one query (one team, one word, one pair).
struct QueryStats {
    histogram: Histogram<u64>,
    items: usize,
    more: bool,
}

/// Everything measured for one kind of request.
struct Line {
    label: &'static str,
    target_ms: Option<f64>,
    histogram: Histogram<u64>,
    errors: u64,
    samples: Vec<String>,
    per_query: BTreeMap<String, QueryStats>,
}

impl Line {
    fn new(label: &'static str, target_ms: Option<f64>) -> Self {
        Line {
            label,
            target_ms,
            histogram: new_histogram(),
            errors: 0,
            samples: Vec::new(),
            per_query: BTreeMap::new(),
        }
    }

    fn record(&mut self, key: &str, result: &Result<Answer, String>) {
        match result {
            Ok(answer) => {
                let micros = u64::try_from(answer.latency.as_micros())
                    .unwrap_or(u64::MAX)
                    .max(1);
                self.histogram.saturating_record(micros);
                let stats = self
                    .per_query
                    .entry(key.to_owned())
                    .or_insert_with(|| QueryStats {
                        histogram: new_histogram(),
                        items: 0,
                        more: false,
                    });
                stats.histogram.saturating_record(micros);
                stats.items = answer.items;
                stats.more = answer.next_cursor.is_some();
            }
            Err(failure) => {
                self.errors += 1;
                if self.samples.len() < ERROR_SAMPLES {
                    self.samples.push(format!("{key}: {failure}"));
                }
            }
        }
    }

    fn ok(&self) -> u64 {
        self.histogram.len()
    }

    /// Fewest and most items a query of this kind returned, and the queries that found none.
    fn item_range(&self) -> (usize, usize, Vec<&str>) {
        let min = self.per_query.values().map(|s| s.items).min().unwrap_or(0);
        let max = self.per_query.values().map(|s| s.items).max().unwrap_or(0);
        let empty = self
            .per_query
            .iter()
            .filter(|(_, s)| s.items == 0)
            .map(|(k, _)| k.as_str())
            .collect();
        (min, max, empty)
    }

    /// The query with the highest p95 latency.
    fn slowest(&self) -> Option<(&str, &QueryStats)> {
        self.per_query
            .iter()
            .max_by_key(|(_, s)| s.histogram.value_at_quantile(0.95))
            .map(|(k, s)| (k.as_str(), s))
    }

    fn passes(&self) -> Option<bool> {
        self.target_ms
            .map(|target| self.ok() > 0 && ms(&self.histogram, 0.95) < target)
    }
}

struct Lines {
    first_page: Line,
    second_page: Line,
    text: Line,
    team_text: Line,
}

impl Lines {
    fn all(&self) -> [&Line; 4] {
        [
            &self.first_page,
            &self.second_page,
            &self.text,
            &self.team_text,
        ]
    }
}

/// Team and word of the `i`th combined request (7 × 12 pairs).
fn pair(i: usize) -> (&'static str, &'static str) {
    (TEAMS[i % TEAMS.len()], WORDS[i % WORDS.len()])
}

fn pair_key(team: &str, word: &str) -> String {
    format!("team={team}&q={word}")
}

async fn measure(params: &Params, target: &Target) -> anyhow::Result<Lines> {
    let mut lines = Lines {
        first_page: Line::new("first page for a team", Some(TEAM_P95_TARGET_MS)),
        second_page: Line::new("second page (next_cursor)", Some(TEAM_P95_TARGET_MS)),
        text: Line::new("full-text query", Some(TEXT_P95_TARGET_MS)),
        team_text: Line::new("team + full-text", Some(TEXT_P95_TARGET_MS)),
    };

    // Warm-up: every query once (twice for the teams), collecting each team's second-page
    // cursor.
    let pairs = TEAMS.len() * WORDS.len();
    println!(
        "warm-up: {} requests (every team, word and pair once)",
        2 * TEAMS.len() + WORDS.len() + pairs
    );
    let mut warm = Line::new("warm-up", None);
    let mut cursors: BTreeMap<&str, String> = BTreeMap::new();
    for _ in 0..2 {
        for team in TEAMS {
            let result = target.get(&[("team", team)]).await;
            if let Ok(Answer {
                next_cursor: Some(cursor),
                ..
            }) = &result
            {
                cursors.insert(team, cursor.clone());
            }
            warm.record(team, &result);
        }
    }
    for word in WORDS {
        warm.record(word, &target.get(&[("q", word)]).await);
    }
    for i in 0..pairs {
        let (team, word) = pair(i);
        warm.record(
            &pair_key(team, word),
            &target.get(&[("team", team), ("q", word)]).await,
        );
    }
    if warm.errors > 0 {
        bail!(
            "{} warm-up request(s) failed; first ones:\n  {}",
            warm.errors,
            warm.samples.join("\n  ")
        );
    }
    let paged_teams: Vec<(&str, String)> = TEAMS
        .iter()
        .filter_map(|team| cursors.get(team).map(|c| (*team, c.clone())))
        .collect();

    let n = params.requests;
    println!("measuring: {n} sequential requests per kind");
    for i in 0..n {
        let team = TEAMS[i % TEAMS.len()];
        let result = target.get(&[("team", team)]).await;
        lines.first_page.record(team, &result);
    }
    if !paged_teams.is_empty() {
        for i in 0..n {
            let (team, cursor) = &paged_teams[i % paged_teams.len()];
            let result = target.get(&[("team", team), ("cursor", cursor)]).await;
            lines.second_page.record(team, &result);
        }
    }
    for i in 0..n {
        let word = WORDS[i % WORDS.len()];
        let result = target.get(&[("q", word)]).await;
        lines.text.record(word, &result);
    }
    for i in 0..n {
        let (team, word) = pair(i);
        let result = target.get(&[("team", team), ("q", word)]).await;
        lines.team_text.record(&pair_key(team, word), &result);
    }

    for line in lines.all() {
        if line.errors > 0 {
            println!(
                "  {}: {} request(s) did not get 200; first ones:",
                line.label, line.errors
            );
            for sample in &line.samples {
                println!("    {sample}");
            }
        }
    }
    if lines.all().iter().all(|line| line.ok() == 0) {
        bail!("no request succeeded; see the errors above");
    }
    Ok(lines)
}

// ---------------------------------------------------------------------------------------------
// Query plans
// ---------------------------------------------------------------------------------------------

#[derive(QueryableByName)]
struct PlanLine {
    #[diesel(sql_type = Text)]
    line: String,
}

struct Plan {
    title: String,
    lines: Vec<String>,
}

fn sql_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The SQL `src/db/queue.rs` builds for the first page (default statuses, limit 50 + 1).
fn queue_sql(team: Option<&str>, text: Option<&str>) -> String {
    let mut sql = format!(
        "SELECT {QUEUE_COLUMNS} FROM tips \
         WHERE tips.status IN ('new', 'in_review', 'awaiting_reporter') \
         AND tips.status = ANY(ARRAY['new', 'in_review', 'awaiting_reporter'])"
    );
    if let Some(team) = team {
        sql.push_str(&format!(" AND tips.team = {}", sql_literal(team)));
    }
    if let Some(text) = text {
        sql.push_str(&format!(
            " AND tips.search @@ websearch_to_tsquery('swedish', {})",
            sql_literal(text)
        ));
    }
    sql.push_str(" ORDER BY tips.priority_rank, tips.due_at, tips.submitted_at, tips.id LIMIT 51");
    sql
}

async fn explain_plans(db_url: &str, lines: &Lines) -> anyhow::Result<Vec<Plan>> {
    let mut conn = AsyncPgConnection::establish(db_url)
        .await
        .context("connecting to the bench database")?;
    // A session-local helper, so EXPLAIN's rows come back as ordinary text rows.
    execute(
        &mut conn,
        "CREATE FUNCTION pg_temp.bench_explain(query text) RETURNS SETOF text \
         LANGUAGE plpgsql AS $$ \
         DECLARE line text; \
         BEGIN \
             FOR line IN EXECUTE 'EXPLAIN (ANALYZE, BUFFERS) ' || query LOOP \
                 RETURN NEXT line; \
             END LOOP; \
         END $$",
    )
    .await?;

    let team = lines.first_page.slowest().map_or("mitt", |(team, _)| {
        TEAMS
            .iter()
            .find(|t| **t == team)
            .copied()
            .unwrap_or("mitt")
    });
    let word = lines
        .text
        .slowest()
        .and_then(|(word, _)| WORDS.iter().find(|w| **w == word).copied())
        .unwrap_or(WORDS[0]);
    let (pair_team, pair_word) = lines
        .team_text
        .slowest()
        .and_then(|(key, _)| {
            (0..TEAMS.len() * WORDS.len())
                .map(pair)
                .find(|(t, w)| pair_key(t, w) == key)
        })
        .unwrap_or((TEAMS[0], WORDS[0]));

    let queries = [
        (
            format!("first page for team {team} (slowest team)"),
            queue_sql(Some(team), None),
        ),
        (
            format!("full-text q={word} (slowest word)"),
            queue_sql(None, Some(word)),
        ),
        (
            format!("team {pair_team} + q={pair_word} (slowest pair)"),
            queue_sql(Some(pair_team), Some(pair_word)),
        ),
    ];
    let mut plans = Vec::new();
    for (title, sql) in queries {
        let rows: Vec<PlanLine> = diesel::sql_query("SELECT pg_temp.bench_explain($1) AS line")
            .bind::<Text, _>(&sql)
            .load(&mut conn)
            .await
            .with_context(|| format!("explaining {sql}"))?;
        plans.push(Plan {
            title,
            lines: rows.into_iter().map(|r| r.line).collect(),
        });
    }
    Ok(plans)
}

// ---------------------------------------------------------------------------------------------
// Summary
// ---------------------------------------------------------------------------------------------

fn print_summary(params: &Params, generation: &Generation, lines: &Lines, plans: &[Plan]) {
    println!();
    println!("== Query plans (EXPLAIN (ANALYZE, BUFFERS) of the service's SQL) ==");
    for plan in plans {
        println!("\n-- {}", plan.title);
        for line in &plan.lines {
            println!("{line}");
        }
    }

    println!();
    println!("== Per query (p50 / p95 / max, items on the page) ==");
    for line in [&lines.first_page, &lines.text] {
        println!("{}:", line.label);
        for (key, stats) in &line.per_query {
            println!(
                "  {key:<14} p50 {:>6.1} ms  p95 {:>6.1} ms  max {:>6.1} ms  items {:>2}{}",
                ms(&stats.histogram, 0.5),
                ms(&stats.histogram, 0.95),
                max_ms(&stats.histogram),
                stats.items,
                if stats.more { " (more)" } else { "" }
            );
        }
    }
    if let Some((key, stats)) = lines.team_text.slowest() {
        println!(
            "{}: slowest pair {key}: p95 {:.1} ms, items {}",
            lines.team_text.label,
            ms(&stats.histogram, 0.95),
            stats.items
        );
    }
    let teams: Vec<String> = generation
        .open_by_team
        .iter()
        .map(|(team, open)| format!("{team} {open}"))
        .collect();
    println!("open tips per team: {}", teams.join(", "));

    println!();
    println!(
        "== Tipsa triage queue, {} tips ({} open, {} overdue new) ==",
        generation.total, generation.open, generation.overdue
    );
    println!(
        "generation: {:.1} s (insert {:.1} s, indexes {:.1} s, foreign keys {:.1} s, vacuum analyze {:.1} s); tips: {}",
        generation.elapsed().as_secs_f64(),
        generation.insert.as_secs_f64(),
        generation.indexes.as_secs_f64(),
        generation.constraints.as_secs_f64(),
        generation.vacuum.as_secs_f64(),
        generation.table_size
    );
    println!(
        "{} sequential requests per line after a warm-up, latency to the last byte:",
        params.requests
    );
    for line in lines.all() {
        let (min_items, max_items, empty) = line.item_range();
        let verdict = match (line.target_ms, line.passes()) {
            (Some(target), Some(ok)) => format!("(target p95 < {target:.0} ms: {})", pass(ok)),
            _ => String::new(),
        };
        if line.ok() == 0 {
            println!("{:<27} no successful request  {verdict}", line.label);
            continue;
        }
        println!(
            "{:<27} p50 {:>5.1} ms  p95 {:>5.1} ms  max {:>6.1} ms  items {}–{}  errors {}  {verdict}",
            line.label,
            ms(&line.histogram, 0.5),
            ms(&line.histogram, 0.95),
            max_ms(&line.histogram),
            min_items,
            max_items,
            line.errors
        );
        if !empty.is_empty() {
            println!("    warning: no items for {}", empty.join(", "));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The tipsa binary
// ---------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------
// PostgreSQL helpers
// ---------------------------------------------------------------------------------------------
