//! Attachment upload benchmark: throughput, latency and memory of `POST /api/v1/attachments`
//! on the real `tipsa` binary (release build) with ~20 MB JPEGs, compared with writing the same
//! bytes to the same PostgreSQL without Tipsa, in the same run.
//!
//! What it does:
//!
//! 1. Makes a JPEG of `BENCH_FILE_MB` MB (random RGB noise, quality 100, no EXIF, so Tipsa
//!    takes its lossless strip path: no decode, no re-encode) and prints its size and pixels.
//! 2. Creates a fresh database `tipsa_bench_att_<unix time>`, runs `tipsa migrate`, creates an
//!    API key with `tips:submit` and starts `tipsa serve` (the notification worker off:
//!    `notify.worker_in_serve = false`, set by this bench).
//! 3. One warm-up upload (not counted), `CHECKPOINT`, then `BENCH_CLIENTS` clients upload the
//!    file `BENCH_UPLOADS` times in all, each one at a time → MB/s of file bytes accepted over
//!    the wall time, and per-upload latency p50/p95/max (from sending the request to the 201;
//!    it includes waiting for one of the service's `attachments.concurrent_uploads` permits).
//!    Anything but a 201 aborts the run with the response. Meanwhile a thread samples the
//!    server's `VmRSS` every 20 ms; its `VmHWM` is reset before (`/proc/<pid>/clear_refs`) and
//!    read after the phase.
//! 4. Untimed: one tip per uploaded file (`POST /api/v1/tips` naming it), each must be a 201.
//! 5. Raw baseline: `CHECKPOINT`, then `BENCH_CLIENTS` diesel-async connections write the same
//!    file the same number of times into `bench_raw_chunks` (shaped like `attachment_chunks`,
//!    `sealed` with `STORAGE EXTERNAL`): one transaction per file, 1 MiB chunks as `bytea`
//!    binds, 4 chunks per multi-row `INSERT` — the statements Tipsa's store sends, without the
//!    HTTP, multipart, cleaning and sealing.
//! 6. Prints a summary with PASS/FAIL lines for the targets (peak RSS < 200 MB; Tipsa MB/s ≥
//!    0.5 × raw MB/s). A missed target does not make the bench fail; only a broken run does.
//!
//! Then it stops the server and drops the database. MB are 10^6 bytes throughout.
//!
//! Run it with:
//!
//! ```text
//! cargo bench --bench attachments
//! ```
//!
//! PostgreSQL: if `TIPSA_BENCH_DATABASE_URL` is set it must be an admin URL able to create and
//! drop databases (e.g. `postgres://postgres@127.0.0.1:5432/postgres`) and to run
//! `CHECKPOINT`. Otherwise the project's embedded cluster is started beside the build output
//! and stopped again at the end.
//!
//! Knobs (environment variables, defaults in brackets): `BENCH_UPLOADS` [32] files uploaded
//! (and written raw), `BENCH_CLIENTS` [8] concurrent clients and raw connections,
//! `BENCH_FILE_MB` [20] the JPEG's size. Service settings through `BENCH_TIPSA__SECTION__KEY`,
//! e.g. `BENCH_TIPSA__ATTACHMENTS__CONCURRENT_UPLOADS=4` (default 2). `tipsa serve` inherits
//! the rest of the environment, so glibc malloc tunables reach it (and this process too), e.g.
//! `MALLOC_MMAP_THRESHOLD_=1048576` to see how much of the peak RSS is freed memory kept by
//! the allocator.

#[path = "support/common.rs"]
mod common;
#[path = "support/generate.rs"]
mod generate;

use common::{
    Environment, RssSampler, Tipsa, admin_execute, database_url, env_number, pass,
    proc_status_bytes, reset_peak_rss, truncate, unix_time, wait_until_ready,
};

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use hdrhistogram::Histogram;
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use serde_json::{Value, json};
use tokio::task::JoinSet;
use uuid::Uuid;

const RSS_TARGET_MB: f64 = 200.0;
const RATIO_TARGET: f64 = 0.5;
const RSS_EVERY: Duration = Duration::from_millis(20);
/// As Tipsa's `attachments.chunk_bytes` default and its store's chunks per statement.
const CHUNK_BYTES: usize = 1024 * 1024;
const CHUNKS_PER_STATEMENT: usize = 4;
const MB: f64 = 1_000_000.0;

diesel::table! {
    bench_raw_chunks (attachment_id, seq) {
        attachment_id -> Uuid,
        seq -> Int4,
        sealed -> Bytea,
    }
}

struct Params {
    uploads: usize,
    clients: usize,
    file_mb: usize,
}

impl Params {
    fn from_env() -> anyhow::Result<Self> {
        Ok(Params {
            uploads: env_number("BENCH_UPLOADS", 32)?,
            clients: env_number("BENCH_CLIENTS", 8)?,
            file_mb: env_number("BENCH_FILE_MB", 20)?,
        })
    }
}

fn main() -> anyhow::Result<()> {
    let params = Params::from_env()?;
    Environment::start()?
        .run(async |environment| run(&params, &environment.admin_url, &environment.work_dir).await)
}

/// Creates the database, runs everything against it and drops it again.
async fn run(params: &Params, admin_url: &str, work_dir: &Path) -> anyhow::Result<()> {
    let file = make_jpeg(params.file_mb)?;
    let db_name = format!("tipsa_bench_att_{}", unix_time());
    let db_url = database_url(admin_url, &db_name)?;
    admin_execute(admin_url, &format!("CREATE DATABASE {db_name}"))
        .await
        .with_context(|| format!("creating database {db_name}"))?;
    println!("created database {db_name}");

    let result = run_in_database(params, &db_url, work_dir, file).await;

    if let Err(e) = admin_execute(admin_url, &format!("DROP DATABASE {db_name} WITH (FORCE)")).await
    {
        eprintln!("warning: dropping database {db_name} failed: {e:#}");
    }
    result
}

async fn run_in_database(
    params: &Params,
    db_url: &str,
    work_dir: &Path,
    file: &'static [u8],
) -> anyhow::Result<()> {
    let tipsa =
        Tipsa::new(db_url, work_dir, None)?.with_setting("NOTIFY__WORKER_IN_SERVE", "false");
    tipsa.run_to_end(&["migrate"]).context("tipsa migrate")?;
    let token = tipsa
        .run_to_end(&[
            "apikey",
            "create",
            "--name",
            "attachments bench",
            "--scope",
            "tips:submit",
        ])
        .context("tipsa apikey create")?;
    let token = token.trim().to_owned();
    if !token.starts_with("tipsa_") {
        bail!("unexpected API key output: {token:?}");
    }
    let permits = std::env::var("BENCH_TIPSA__ATTACHMENTS__CONCURRENT_UPLOADS")
        .unwrap_or_else(|_| "2 (default)".to_owned());
    let worker = std::env::var("BENCH_TIPSA__NOTIFY__WORKER_IN_SERVE")
        .unwrap_or_else(|_| "false (set by this bench)".to_owned());

    let mut server = tipsa.serve()?;
    let pid = server
        .child
        .as_ref()
        .map(std::process::Child::id)
        .context("tipsa serve has no process")?;
    let base = format!("http://127.0.0.1:{}", server.port);
    let client = reqwest::Client::builder()
        // Uploads wait for a permit with their bodies unread: allow for the whole queue.
        .timeout(Duration::from_secs(600))
        .tcp_nodelay(true)
        .build()
        .context("building the HTTP client")?;
    let outcome = async {
        wait_until_ready(&client, &base, &mut server).await?;
        println!(
            "tipsa serve is ready on {base} (pid {pid}; attachments.concurrent_uploads {permits}, \
             notify.worker_in_serve {worker})"
        );
        let target = Target {
            client,
            base,
            auth: format!("Bearer {token}"),
            file,
        };
        let idle_rss = proc_status_bytes(pid, "VmRSS")?;
        let warm_up = upload(&target).await.context("the warm-up upload")?;
        println!(
            "warm-up upload: 201 in {:.0} ms (id {}, stored {} bytes)",
            warm_up.latency.as_secs_f64() * 1000.0,
            warm_up.id,
            warm_up.size_bytes
        );
        checkpoint(db_url).await;
        let service = measure_service(params, &target, pid, idle_rss).await?;
        submit_tips(&target, &service.ids).await?;
        Ok::<_, anyhow::Error>(service)
    }
    .await;
    let server_log = server.stop();
    let service = outcome?;

    checkpoint(db_url).await;
    let raw = measure_raw(params, db_url, file).await?;

    print_summary(params, file.len(), &service, &raw);
    if !server_log.trim().is_empty() {
        let lines: Vec<&str> = server_log.lines().collect();
        println!(
            "\nnote: tipsa serve logged {} line(s) at warn or above; the first few:",
            lines.len()
        );
        for line in lines.iter().take(5) {
            println!("  {}", truncate(line, 300));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The file
// ---------------------------------------------------------------------------------------------

/// Random RGB noise encoded at quality 100: about `mb` MB (within 5 %), no EXIF. Leaked, so
/// every upload can send it without a copy.
fn make_jpeg(mb: usize) -> anyhow::Result<&'static [u8]> {
    let target = (mb as f64) * MB;
    let mut rng = StdRng::seed_from_u64(0xa77ac);
    // Bytes per pixel of noise at quality 100, from a small sample.
    let sample = encode_noise(&mut rng, 512, 512)?;
    let mut pixels = target / (sample.len() as f64 / (512.0 * 512.0));
    for _ in 0..4 {
        // 4:3 like a photo or a scanned page on its side; whole 16-pixel blocks.
        let width = ((pixels * 4.0 / 3.0).sqrt() / 16.0).round().max(1.0) as u32 * 16;
        let height = ((pixels / f64::from(width)) / 16.0).round().max(1.0) as u32 * 16;
        let started = Instant::now();
        let jpeg = encode_noise(&mut rng, width, height)?;
        let size = jpeg.len() as f64;
        if (size - target).abs() <= target * 0.05 {
            let parsed = img_parts::jpeg::Jpeg::from_bytes(jpeg.clone().into())
                .context("reading back the generated JPEG")?;
            if img_parts::ImageEXIF::exif(&parsed).is_some() {
                bail!(
                    "the generated JPEG has an EXIF segment; Tipsa would not take the lossless path"
                );
            }
            println!(
                "test file: JPEG {width}×{height} px, quality 100, random noise, no EXIF: \
                 {} bytes ({:.2} MB), encoded in {:.1} s",
                jpeg.len(),
                size / MB,
                started.elapsed().as_secs_f64()
            );
            return Ok(Vec::leak(jpeg));
        }
        pixels *= target / size;
    }
    bail!("could not make a JPEG of {mb} MB ± 5 % in four tries")
}

fn encode_noise(rng: &mut StdRng, width: u32, height: u32) -> anyhow::Result<Vec<u8>> {
    let mut pixels = vec![0u8; width as usize * height as usize * 3];
    rng.fill_bytes(&mut pixels);
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 100)
        .encode(&pixels, width, height, image::ExtendedColorType::Rgb8)
        .with_context(|| format!("encoding a {width}×{height} JPEG"))?;
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Uploads through Tipsa
// ---------------------------------------------------------------------------------------------

#[derive(Clone)]
struct Target {
    client: reqwest::Client,
    base: String,
    auth: String,
    file: &'static [u8],
}

struct Uploaded {
    id: String,
    size_bytes: u64,
    latency: Duration,
}

/// One upload; anything but a 201 with an image/jpeg answer is an error with the response.
async fn upload(target: &Target) -> anyhow::Result<Uploaded> {
    let part = reqwest::multipart::Part::bytes(target.file)
        .file_name("inspektion-skannad.jpg")
        .mime_str("image/jpeg")
        .context("the part's media type")?;
    let form = reqwest::multipart::Form::new().part("file", part);
    let started = Instant::now();
    let response = target
        .client
        .post(format!("{}/api/v1/attachments", target.base))
        .header("Authorization", &target.auth)
        .multipart(form)
        .send()
        .await
        .context("POST /api/v1/attachments")?;
    let status = response.status();
    let body = response
        .text()
        .await
        .context("reading the upload's answer")?;
    let latency = started.elapsed();
    if status != reqwest::StatusCode::CREATED {
        bail!(
            "POST /api/v1/attachments answered {status}: {}",
            truncate(&body, 2000)
        );
    }
    let answer: Value = serde_json::from_str(&body)
        .with_context(|| format!("the upload's 201 is not JSON: {}", truncate(&body, 500)))?;
    let id = answer["id"]
        .as_str()
        .with_context(|| format!("the upload's 201 has no id: {body}"))?
        .to_owned();
    if answer["media_type"] != "image/jpeg" {
        bail!("the upload was not typed image/jpeg: {body}");
    }
    let size_bytes = answer["size_bytes"]
        .as_u64()
        .with_context(|| format!("the upload's 201 has no size_bytes: {body}"))?;
    Ok(Uploaded {
        id,
        size_bytes,
        latency,
    })
}

struct ServiceResult {
    wall: Duration,
    uploads: usize,
    latency: Histogram<u64>,
    ids: Vec<String>,
    stored_bytes: u64,
    idle_rss: u64,
    sampled_peak: u64,
    samples: u64,
    /// `VmHWM` after the phase, and whether it was reset before it (else it covers start-up).
    hwm: u64,
    hwm_reset: bool,
    end_rss: u64,
}

async fn measure_service(
    params: &Params,
    target: &Target,
    pid: u32,
    idle_rss: u64,
) -> anyhow::Result<ServiceResult> {
    let hwm_reset = match reset_peak_rss(pid) {
        Ok(()) => true,
        Err(e) => {
            eprintln!("warning: VmHWM not reset, it includes start-up and warm-up: {e:#}");
            false
        }
    };
    println!(
        "uploading: {} files through POST /api/v1/attachments, {} clients",
        params.uploads, params.clients
    );
    let target = Arc::new(target.clone());
    let next = Arc::new(AtomicUsize::new(0));
    let sampler = RssSampler::start(pid, RSS_EVERY);
    let started = Instant::now();
    let mut workers = JoinSet::new();
    for _ in 0..params.clients {
        let (target, next, total) = (target.clone(), next.clone(), params.uploads);
        workers.spawn(async move {
            let mut done = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < total {
                done.push(upload(&target).await?);
            }
            Ok::<_, anyhow::Error>(done)
        });
    }
    let mut uploaded = Vec::with_capacity(params.uploads);
    while let Some(joined) = workers.join_next().await {
        match joined.context("an upload client panicked")? {
            Ok(done) => uploaded.extend(done),
            Err(e) => {
                workers.abort_all();
                sampler.stop();
                return Err(e.context("the upload phase was aborted"));
            }
        }
    }
    let wall = started.elapsed();
    let sampled = sampler.stop();
    let hwm = proc_status_bytes(pid, "VmHWM")?;
    let end_rss = proc_status_bytes(pid, "VmRSS")?;

    let mut latency =
        Histogram::new_with_bounds(1, 3_600_000_000, 3).context("histogram bounds")?;
    for upload in &uploaded {
        let micros = u64::try_from(upload.latency.as_micros()).unwrap_or(u64::MAX);
        latency.saturating_record(micros.max(1));
    }
    println!("  {} × 201 in {:.1} s", uploaded.len(), wall.as_secs_f64());
    Ok(ServiceResult {
        wall,
        uploads: uploaded.len(),
        latency,
        stored_bytes: uploaded.iter().map(|u| u.size_bytes).sum(),
        ids: uploaded.into_iter().map(|u| u.id).collect(),
        idle_rss,
        sampled_peak: sampled.max_bytes,
        samples: sampled.samples,
        hwm,
        hwm_reset,
        end_rss,
    })
}

/// One tip naming each uploaded file (untimed): the uploads are usable, not just stored.
async fn submit_tips(target: &Target, ids: &[String]) -> anyhow::Result<()> {
    let taxonomy: Value = target
        .client
        .get(format!("{}/api/v1/taxonomy", target.base))
        .send()
        .await
        .context("GET /api/v1/taxonomy")?
        .error_for_status()?
        .json()
        .await
        .context("parsing the taxonomy")?;
    let first = |list: &str| -> anyhow::Result<Value> {
        let code = &taxonomy[list][0]["code"];
        if !code.is_string() {
            bail!("the taxonomy has no {list}");
        }
        Ok(code.clone())
    };
    let (category, sector) = (first("categories")?, first("care_sectors")?);
    let (region, role) = (first("regions")?, first("reporter_roles")?);
    let started = Instant::now();
    for id in ids {
        let body = json!({
            "category": category,
            "care_sector": sector,
            "region_code": region,
            "reporter_role": role,
            "description": "Bifogar en skannad avvikelserapport från nattpasset; signeringslistan \
                            för läkemedel är ifylld i efterhand av någon annan än den som gav dem.",
            "attachments": [id],
        });
        let response = target
            .client
            .post(format!("{}/api/v1/tips", target.base))
            .header("Authorization", &target.auth)
            .json(&body)
            .send()
            .await
            .context("POST /api/v1/tips")?;
        let status = response.status();
        if status != reqwest::StatusCode::CREATED {
            let text = response.text().await.unwrap_or_default();
            bail!(
                "POST /api/v1/tips naming attachment {id} answered {status}: {}",
                truncate(&text, 2000)
            );
        }
    }
    println!(
        "  {} tips naming one file each: all 201 ({:.1} s, untimed)",
        ids.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Raw PostgreSQL baseline
// ---------------------------------------------------------------------------------------------

struct RawResult {
    wall: Duration,
    files: usize,
    latency: Histogram<u64>,
}

async fn measure_raw(
    params: &Params,
    db_url: &str,
    file: &'static [u8],
) -> anyhow::Result<RawResult> {
    let mut conn = AsyncPgConnection::establish(db_url)
        .await
        .context("connecting to the bench database")?;
    for sql in [
        "CREATE TABLE bench_raw_chunks (attachment_id uuid NOT NULL, seq int NOT NULL \
         CHECK (seq >= 0), sealed bytea NOT NULL, PRIMARY KEY (attachment_id, seq))",
        "ALTER TABLE bench_raw_chunks ALTER COLUMN sealed SET STORAGE EXTERNAL",
    ] {
        diesel::sql_query(sql)
            .execute(&mut conn)
            .await
            .with_context(|| format!("running {sql}"))?;
    }
    drop(conn);
    println!(
        "raw baseline: {} files into bench_raw_chunks, {} connections, one transaction per file, \
         {} MiB bytea chunks, {CHUNKS_PER_STATEMENT} per INSERT",
        params.uploads,
        params.clients,
        CHUNK_BYTES / (1024 * 1024)
    );
    let mut connections = Vec::with_capacity(params.clients);
    for _ in 0..params.clients {
        connections.push(
            AsyncPgConnection::establish(db_url)
                .await
                .context("connecting to the bench database")?,
        );
    }
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = JoinSet::new();
    for mut conn in connections {
        let (next, total) = (next.clone(), params.uploads);
        workers.spawn(async move {
            let mut latencies = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < total {
                let begun = Instant::now();
                write_raw(&mut conn, file).await?;
                latencies.push(begun.elapsed());
            }
            Ok::<_, anyhow::Error>(latencies)
        });
    }
    let mut latency =
        Histogram::new_with_bounds(1, 3_600_000_000, 3).context("histogram bounds")?;
    let mut files = 0;
    while let Some(joined) = workers.join_next().await {
        let latencies = joined.context("a raw writer panicked")??;
        for elapsed in latencies {
            let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
            latency.saturating_record(micros.max(1));
            files += 1;
        }
    }
    let wall = started.elapsed();
    println!("  {files} files in {:.1} s", wall.as_secs_f64());
    Ok(RawResult {
        wall,
        files,
        latency,
    })
}

/// One file as Tipsa's store writes it, less the sealing: a transaction, 4 chunks a statement.
async fn write_raw(conn: &mut AsyncPgConnection, file: &'static [u8]) -> anyhow::Result<()> {
    use bench_raw_chunks::dsl;
    let id = Uuid::now_v7();
    conn.transaction::<_, diesel::result::Error, _>(async |conn| {
        let pieces: Vec<&[u8]> = file.chunks(CHUNK_BYTES).collect();
        for (group_index, group) in pieces.chunks(CHUNKS_PER_STATEMENT).enumerate() {
            let rows: Vec<_> = group
                .iter()
                .enumerate()
                .map(|(offset, piece)| {
                    let seq = i32::try_from(group_index * CHUNKS_PER_STATEMENT + offset)
                        .unwrap_or(i32::MAX);
                    (
                        dsl::attachment_id.eq(id),
                        dsl::seq.eq(seq),
                        dsl::sealed.eq(*piece),
                    )
                })
                .collect();
            diesel::insert_into(bench_raw_chunks::table)
                .values(&rows)
                .execute(conn)
                .await?;
        }
        Ok(())
    })
    .await
    .context("writing a file into bench_raw_chunks")
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL helpers
// ---------------------------------------------------------------------------------------------

/// Both phases start from a checkpoint, so neither pays for the other's WAL.
async fn checkpoint(db_url: &str) {
    let result = async {
        let mut conn = AsyncPgConnection::establish(db_url).await?;
        diesel::sql_query("CHECKPOINT").execute(&mut conn).await?;
        Ok::<_, anyhow::Error>(())
    }
    .await;
    if let Err(e) = result {
        eprintln!("warning: CHECKPOINT failed (phases may pay for each other's WAL): {e:#}");
    }
}

// ---------------------------------------------------------------------------------------------
// Summary
// ---------------------------------------------------------------------------------------------

fn ms(histogram: &Histogram<u64>, quantile: f64) -> f64 {
    histogram.value_at_quantile(quantile) as f64 / 1000.0
}

fn print_summary(params: &Params, file_len: usize, service: &ServiceResult, raw: &RawResult) {
    let file_len = file_len as f64;
    let service_rate = service.uploads as f64 * file_len / MB / service.wall.as_secs_f64();
    let raw_rate = raw.files as f64 * file_len / MB / raw.wall.as_secs_f64();
    let ratio = service_rate / raw_rate;
    let peak = service.sampled_peak.max(service.hwm) as f64 / MB;
    let clients = params.clients;
    let rows = [
        (
            format!("tipsa    POST /api/v1/attachments, {clients} clients:"),
            format!(
                "{service_rate:.1} MB/s  ({} × {:.2} MB in {:.1} s)  p50 {:.0} ms  p95 {:.0} ms  max {:.0} ms",
                service.uploads,
                file_len / MB,
                service.wall.as_secs_f64(),
                ms(&service.latency, 0.5),
                ms(&service.latency, 0.95),
                service.latency.max() as f64 / 1000.0
            ),
        ),
        (
            "tipsa    RSS of tipsa serve:".to_owned(),
            format!(
                "idle {:.0} MB  peak sampled {:.0} MB ({} samples, every {} ms)  VmHWM {:.0} MB{}  at end {:.0} MB",
                service.idle_rss as f64 / MB,
                service.sampled_peak as f64 / MB,
                service.samples,
                RSS_EVERY.as_millis(),
                service.hwm as f64 / MB,
                if service.hwm_reset {
                    ""
                } else {
                    " (not reset: since start-up)"
                },
                service.end_rss as f64 / MB
            ),
        ),
        (
            "tipsa    stored after cleaning:".to_owned(),
            format!(
                "{:.2} MB per file",
                service.stored_bytes as f64 / service.uploads.max(1) as f64 / MB
            ),
        ),
        (
            format!("raw      diesel-async bytea INSERTs, {clients} connections:"),
            format!(
                "{raw_rate:.1} MB/s  ({} files in {:.1} s)  per file p50 {:.0} ms  p95 {:.0} ms  max {:.0} ms",
                raw.files,
                raw.wall.as_secs_f64(),
                ms(&raw.latency, 0.5),
                ms(&raw.latency, 0.95),
                raw.latency.max() as f64 / 1000.0
            ),
        ),
    ];
    let width = rows.iter().map(|(label, _)| label.len()).max().unwrap_or(0) + 2;
    println!();
    println!("== Tipsa attachment uploads (release build, same machine, MB = 10^6 bytes) ==");
    for (label, values) in &rows {
        println!("{label:<width$}{values}");
    }
    println!(
        "ratio    tipsa / raw = {ratio:.2}   (target >= {RATIO_TARGET}: {})",
        pass(ratio >= RATIO_TARGET)
    );
    println!(
        "peak RSS = {peak:.0} MB   (max of sampled and VmHWM; target < {RSS_TARGET_MB} MB: {})",
        pass(peak < RSS_TARGET_MB)
    );
}
