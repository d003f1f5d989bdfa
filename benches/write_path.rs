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

use common::{Tipsa, database_url, env_number, pass, truncate, unix_time, wait_until_ready};

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use hdrhistogram::Histogram;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

const WARMUP: Duration = Duration::from_secs(3);
const BODY_COUNT: usize = 200;
const P99_TARGET_MS: f64 = 25.0;
const RATIO_TARGET: f64 = 0.5;
/// How many failed responses are kept to show.
const ERROR_SAMPLES: usize = 5;

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
    let work_dir = std::env::temp_dir().join(format!(
        "tipsa-bench-{}-{}",
        std::process::id(),
        unix_time()
    ));
    std::fs::create_dir_all(&work_dir)
        .with_context(|| format!("creating {}", work_dir.display()))?;

    let (admin_url, cluster) = match std::env::var("TIPSA_BENCH_DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => (url.trim().to_owned(), None),
        _ => {
            let cluster = start_embedded_cluster(&work_dir)?;
            (cluster.url("postgres"), Some(cluster))
        }
    };

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("building the tokio runtime")?;
    let result = runtime.block_on(run(&params, &admin_url, &work_dir));
    drop(runtime);

    if let Some(Err(e)) = cluster.map(tipsa::db::embedded::LocalCluster::stop) {
        eprintln!("warning: stopping the embedded PostgreSQL cluster failed: {e:#}");
    }
    if let Err(e) = std::fs::remove_dir_all(&work_dir) {
        eprintln!("warning: removing {}: {e}", work_dir.display());
    }
    result
}

fn start_embedded_cluster(work_dir: &Path) -> anyhow::Result<tipsa::db::embedded::LocalCluster> {
    let config_dir = work_dir.join("empty-config");
    std::fs::create_dir_all(&config_dir)?;
    let settings = tipsa::config::Settings::load_from(&config_dir, "development", false)
        .context("loading default settings")?;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tipsa-bench-pg");
    println!(
        "starting the embedded PostgreSQL cluster in {} (set TIPSA_BENCH_DATABASE_URL to use another server)",
        root.display()
    );
    tipsa::db::embedded::LocalCluster::start(&root, &settings.embedded_postgres)
        .context("starting the embedded PostgreSQL cluster")
}

/// Creates the database, runs everything against it and drops it again.
async fn run(params: &Params, admin_url: &str, work_dir: &Path) -> anyhow::Result<()> {
    let db_name = format!("tipsa_bench_{}", unix_time());
    let db_url = database_url(admin_url, &db_name)?;
    admin_execute(admin_url, &format!("CREATE DATABASE {db_name}"))
        .await
        .with_context(|| format!("creating database {db_name}"))?;
    println!("created database {db_name}");

    let result = run_in_database(params, &db_url, work_dir).await;

    if let Err(e) = admin_execute(admin_url, &format!("DROP DATABASE {db_name} WITH (FORCE)")).await
    {
        eprintln!("warning: dropping database {db_name} failed: {e:#}");
    }
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
    let token = tipsa
        .run_to_end(&[
            "apikey",
            "create",
            "--name",
            "write_path bench",
            "--scope",
            "tips:submit",
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
        println!(
            "tipsa serve is ready on {base} (pool size {})",
            params.pool_size
        );
        let bodies = build_bodies(&client, &base).await?;
        let target = Target {
            client,
            url: format!("{base}/api/v1/tips"),
            auth: format!("Bearer {token}"),
            bodies: Arc::new(bodies),
        };
        let service = measure_service(params, &target).await?;
        Ok::<_, anyhow::Error>(service)
    }
    .await;
    let server_log = server.stop();
    let service = outcome?;

    let pgbench = run_pgbench(params, db_url, work_dir).await?;

    print_summary(params, &service, &pgbench);
    if !server_log.trim().is_empty() {
        let lines: Vec<&str> = server_log.lines().collect();
        println!(
            "\nnote: tipsa serve logged {} line(s) at warn or above; the first few:",
            lines.len()
        );
        for line in lines.iter().take(5) {
            println!("  {line}");
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The tipsa binary
// ---------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------
// PostgreSQL helpers
// ---------------------------------------------------------------------------------------------

async fn admin_execute(admin_url: &str, sql: &str) -> anyhow::Result<()> {
    let mut conn = AsyncPgConnection::establish(admin_url)
        .await
        .context("connecting to PostgreSQL with the admin URL")?;
    diesel::sql_query(sql)
        .execute(&mut conn)
        .await
        .with_context(|| format!("running {sql}"))?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Payloads
// ---------------------------------------------------------------------------------------------

/// Sentences a tip description is assembled from; `{place}` and `{when}` are filled in.
const SENTENCES: &[&str] = &[
    "Under nattpassen på {place} är det ofta bara en undersköterska på plats för tre avdelningar, och ingen sjuksköterska finns i huset efter klockan 22.",
    "{when} blev en boende liggande på golvet i nästan en timme innan någon hann komma, eftersom den enda personalen var upptagen på en annan avdelning.",
    "Larmen går ofta utan att någon svarar, och vikarierna som tas in har inte fått någon introduktion i hur larmsystemet fungerar.",
    "{when} fick en patient fel läkemedel vid kvällsutdelningen; dosetten var märkt med en annan persons namn och ingen kontrollerade mot ordinationslistan.",
    "Signeringslistorna för läkemedel fylls i i efterhand, ibland flera dagar senare, och det går inte att se vem som faktiskt har gett vad.",
    "Narkotikaklassade preparat förvaras i ett olåst skåp i personalrummet och räkningen av förrådet har inte gjorts på flera veckor.",
    "Hygienrutinerna följs inte: personalen bär armbandsur och egna kläder i omvårdnadsarbetet, och handsprit saknas på flera ställen på {place}.",
    "Inkontinensskydd byts för sällan och flera boende har fått trycksår som inte dokumenterats i journalen eller rapporterats vidare till sjuksköterskan.",
    "Köket har under en längre tid serverat mat som varit kall och det finns boende som inte får hjälp att äta, vilket har lett till viktnedgång.",
    "{when} såg jag hur en boende med demenssjukdom spändes fast i rullstolen med ett bälte utan att det fanns något beslut eller någon dokumentation om det.",
    "Dörrarna till avdelningen låses på kvällarna med kodlås, vilket gör att boende som inte är dementa inte kan gå ut på egen hand.",
    "När jag tog upp saken med enhetschefen fick jag höra att det är så det fungerar överallt och att jag inte ska göra någon stor sak av det.",
    "Flera anhöriga har klagat skriftligt men har inte fått något svar, och klagomålen verkar inte ha registrerats som avvikelser.",
    "Personalen har inte fått någon utbildning i basala hygienrutiner sedan i våras, trots att det har funnits utbrott av magsjuka på {place}.",
    "Bemanningen har minskat sedan ny ledning tog över, och sjukfrånvaron bland ordinarie personal är nu mycket hög.",
    "Jag vill vara anonym eftersom jag är rädd för repressalier, men jag kan bekräfta att detta har pågått i flera månader.",
    "Avvikelserapporter som skrivs försvinner ofta utan åtgärd och vi som arbetar där får aldrig veta om något har utretts.",
    "{when} lämnades en patient med hög fallrisk utan tillsyn i duschen, trots att vårdplanen säger att två personer alltid ska vara med.",
    "Journalanteckningarna är bristfälliga och saknar ofta uppgifter om vilka insatser som faktiskt har utförts under dygnet.",
    "Jag hoppas att IVO kan göra en inspektion, gärna oanmäld och gärna på natten, så att ni ser hur det faktiskt ser ut.",
];

const PLACES: &[&str] = &[
    "boendet",
    "avdelningen",
    "enheten",
    "korttidsboendet",
    "gruppbostaden",
    "vårdavdelningen",
];

const WHENS: &[&str] = &[
    "I förra veckan",
    "Natten till lördagen",
    "Förra månaden",
    "I söndags kväll",
    "Vid två tillfällen i höstas",
    "Under julhelgen",
];

const FACILITIES: &[&str] = &[
    "Solgläntans äldreboende",
    "Björkhagens LSS-boende",
    "Vårdcentralen Ängen",
    "Avdelning 12, Centrallasarettet",
    "Lindgårdens vård- och omsorgsboende",
    "Hemtjänsten Norra distriktet",
    "Tallbackens korttidsboende",
    "Akutmottagningen, Universitetssjukhuset",
];

const PROVIDERS: &[&str] = &[
    "Kommunens vård- och omsorgsförvaltning",
    "Omsorgsbolaget i Sverige AB",
    "Regionens hälso- och sjukvård",
    "Stiftelsen Vårdhemmet",
];

const FIRST_NAMES: &[&str] = &["Anna", "Erik", "Fatima", "Johan", "Maria", "Ahmed", "Karin"];
const LAST_NAMES: &[&str] = &[
    "Lindqvist",
    "Andersson",
    "Nilsson",
    "Hassan",
    "Berg",
    "Öberg",
];

fn description(rng: &mut StdRng) -> String {
    let target = rng.random_range(300..=900);
    let mut order: Vec<usize> = (0..SENTENCES.len()).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.random_range(0..=i));
    }
    let mut text = String::new();
    for index in order {
        let place = PLACES.choose(rng).copied().unwrap_or("boendet");
        let when = WHENS.choose(rng).copied().unwrap_or("Nyligen");
        let sentence = SENTENCES[index]
            .replace("{place}", place)
            .replace("{when}", when);
        let len = text.chars().count();
        let next = len + 1 + sentence.chars().count();
        if len >= 300 && (next > 900 || len >= target) {
            break;
        }
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(&sentence);
    }
    text
}

fn codes(taxonomy: &Value, list: &str) -> anyhow::Result<Vec<String>> {
    let codes: Vec<String> = taxonomy[list]
        .as_array()
        .with_context(|| format!("taxonomy has no {list} list"))?
        .iter()
        .filter_map(|item| item["code"].as_str().map(str::to_owned))
        .collect();
    Ok(codes)
}

/// Fetches the taxonomy and builds `BODY_COUNT` valid, varied tip bodies (serialised JSON).
async fn build_bodies(client: &reqwest::Client, base: &str) -> anyhow::Result<Vec<String>> {
    let taxonomy: Value = client
        .get(format!("{base}/api/v1/taxonomy"))
        .send()
        .await
        .context("GET /api/v1/taxonomy")?
        .error_for_status()?
        .json()
        .await
        .context("parsing the taxonomy")?;
    let categories = codes(&taxonomy, "categories")?;
    let sectors = codes(&taxonomy, "care_sectors")?;
    let roles = codes(&taxonomy, "reporter_roles")?;
    let regions = codes(&taxonomy, "regions")?;
    let outbreaks = codes(&taxonomy, "outbreaks")?;
    let mut municipalities: HashMap<String, Vec<String>> = HashMap::new();
    for m in taxonomy["municipalities"].as_array().into_iter().flatten() {
        if let (Some(code), Some(region)) = (m["code"].as_str(), m["region_code"].as_str()) {
            municipalities
                .entry(region.to_owned())
                .or_default()
                .push(code.to_owned());
        }
    }
    if categories.is_empty() || sectors.is_empty() || roles.is_empty() || regions.is_empty() {
        bail!("the taxonomy is missing categories, care sectors, reporter roles or regions");
    }

    let mut rng = StdRng::seed_from_u64(0x7195a);
    let today = chrono::Utc::now().date_naive();
    let mut bodies = Vec::with_capacity(BODY_COUNT);
    for i in 0..BODY_COUNT {
        let region = regions[i % regions.len()].clone();
        let mut body = json!({
            "category": categories.choose(&mut rng),
            "care_sector": sectors.choose(&mut rng),
            "region_code": region,
            "reporter_role": roles.choose(&mut rng),
            "description": description(&mut rng),
        });
        let fields = body
            .as_object_mut()
            .context("a tip body is a JSON object")?;
        if let Some(list) = municipalities.get(&region)
            && rng.random_bool(0.8)
        {
            fields.insert("municipality_code".into(), json!(list.choose(&mut rng)));
        }
        if rng.random_bool(0.5) {
            fields.insert("facility_name".into(), json!(FACILITIES.choose(&mut rng)));
        }
        if rng.random_bool(0.25) {
            fields.insert("care_provider".into(), json!(PROVIDERS.choose(&mut rng)));
        }
        if rng.random_bool(0.6) {
            let days = rng.random_range(1..=180);
            let date = today - chrono::Days::new(days);
            fields.insert(
                "occurred_on".into(),
                json!(date.format("%Y-%m-%d").to_string()),
            );
        }
        if rng.random_bool(0.3) {
            fields.insert("ongoing".into(), json!(rng.random_bool(0.7)));
        }
        if !outbreaks.is_empty() && rng.random_bool(0.05) {
            fields.insert("outbreak".into(), json!(outbreaks.choose(&mut rng)));
        }
        if rng.random_bool(0.3) {
            let first = FIRST_NAMES.choose(&mut rng).copied().unwrap_or("Anna");
            let last = LAST_NAMES.choose(&mut rng).copied().unwrap_or("Berg");
            let mut reporter = json!({
                "email": format!("{}.{}{i}@example.se", first.to_lowercase(), ascii_fold(last)),
            });
            if rng.random_bool(0.5) {
                reporter["name"] = json!(format!("{first} {last}"));
            }
            if rng.random_bool(0.2) {
                reporter["phone"] =
                    json!(format!("070-{:03} {:02} {:02}", i % 1000, i % 97, i % 89));
            }
            fields.insert("reporter".into(), reporter);
        }
        if rng.random_bool(0.3) {
            fields.insert("language".into(), json!("sv"));
        }
        bodies.push(serde_json::to_string(&body)?);
    }
    Ok(bodies)
}

fn ascii_fold(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            'å' | 'ä' | 'Å' | 'Ä' => 'a',
            'ö' | 'Ö' => 'o',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Load generation
// ---------------------------------------------------------------------------------------------

#[derive(Clone)]
struct Target {
    client: reqwest::Client,
    url: String,
    auth: String,
    bodies: Arc<Vec<String>>,
}

impl Target {
    /// Sends one tip; `Ok(None)` on 201, `Ok(Some(description))` on any other answer.
    async fn submit(&self, index: usize) -> Option<String> {
        let body = self.bodies[index % self.bodies.len()].clone();
        let result = self
            .client
            .post(&self.url)
            .header(reqwest::header::AUTHORIZATION, &self.auth)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await;
        match result {
            Ok(response) if response.status() == reqwest::StatusCode::CREATED => {
                // Read the body so the connection goes back to the pool.
                match response.bytes().await {
                    Ok(_) => None,
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
struct Recorder {
    histogram: Histogram<u64>,
    ok: u64,
    errors: u64,
    samples: Vec<String>,
}

impl Recorder {
    fn new() -> Self {
        Recorder {
            histogram: Histogram::new_with_bounds(1, 120_000_000, 3)
                .expect("valid histogram bounds"),
            ok: 0,
            errors: 0,
            samples: Vec::new(),
        }
    }

    fn record(&mut self, latency: Duration, failure: Option<String>) {
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

    fn merge(&mut self, other: Recorder) {
        self.ok += other.ok;
        self.errors += other.errors;
        for sample in other.samples {
            if self.samples.len() < ERROR_SAMPLES {
                self.samples.push(sample);
            }
        }
        let _ = self.histogram.add(&other.histogram);
    }

    fn ms(&self, quantile: f64) -> f64 {
        self.histogram.value_at_quantile(quantile) as f64 / 1000.0
    }

    fn percentiles(&self) -> String {
        format!(
            "p50 {:.1} ms  p90 {:.1} ms  p99 {:.1} ms  p99.9 {:.1} ms  max {:.1} ms",
            self.ms(0.5),
            self.ms(0.9),
            self.ms(0.99),
            self.ms(0.999),
            self.max_ms()
        )
    }

    fn max_ms(&self) -> f64 {
        self.histogram.max() as f64 / 1000.0
    }
}

struct PhaseResult {
    recorder: Recorder,
    /// Successful requests per second.
    rate: f64,
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

fn report_errors(phase: &str, recorder: &Recorder) {
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
async fn closed_loop(target: &Target, connections: usize, duration: Duration) -> PhaseResult {
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
async fn open_loop(
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
