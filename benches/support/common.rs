//! What the benchmarks share: running the real `tipsa` binary (one-shot commands such as
//! `migrate` and `apikey`, and a `serve` process on a free port, isolated from the caller's
//! configuration), waiting for it to be ready, the bench database's URL, and small helpers.
//! Also: reading a process's RSS from `/proc`. Included by the benches through `#[path]`.

#![allow(dead_code)] // each bench uses a different part

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use std::time::{SystemTime, UNIX_EPOCH};

/// How to run the `tipsa` binary against the bench database, isolated from the caller's config.
pub struct Tipsa {
    db_url: String,
    var_dir: PathBuf,
    config_dir: PathBuf,
    /// `database.pool_size` for the server; `None` keeps the default.
    pool_size: Option<usize>,
    /// Settings a bench chooses for the service (`TIPSA__…` name, value); `BENCH_WORKER_IN_SERVE`
    /// and `BENCH_TIPSA__…` still override them.
    settings: Vec<(String, String)>,
}

impl Tipsa {
    pub fn new(db_url: &str, work_dir: &Path, pool_size: Option<usize>) -> anyhow::Result<Self> {
        let var_dir = work_dir.join("var");
        let config_dir = work_dir.join("config");
        std::fs::create_dir_all(&var_dir)?;
        std::fs::create_dir_all(&config_dir)?;
        Ok(Tipsa {
            db_url: db_url.to_owned(),
            var_dir,
            config_dir,
            pool_size,
            settings: Vec::new(),
        })
    }

    /// Sets a service setting for this bench, e.g. `("NOTIFY__WORKER_IN_SERVE", "false")`
    /// (the part after `TIPSA__`); `BENCH_TIPSA__…` variables still win.
    pub fn with_setting(mut self, setting: &str, value: &str) -> Self {
        self.settings
            .push((format!("TIPSA__{setting}"), value.to_owned()));
        self
    }

    pub fn command(&self, args: &[&str]) -> Command {
        // BENCH_TIPSA_BINARY runs another build (e.g. an earlier commit's) for a comparison.
        let binary = std::env::var_os("BENCH_TIPSA_BINARY")
            .unwrap_or_else(|| env!("CARGO_BIN_EXE_tipsa").into());
        let mut command = Command::new(binary);
        command.args(args);
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("TIPSA__") {
                command.env_remove(&name);
            }
        }
        if let Some(pool_size) = self.pool_size {
            command.env("TIPSA__DATABASE__POOL_SIZE", pool_size.to_string());
        }
        command
            .env_remove("RUST_LOG")
            .env("TIPSA_ENV", "development")
            .env("TIPSA_CONFIG_DIR", &self.config_dir)
            .env("TIPSA__DATABASE__URL", &self.db_url)
            .env("TIPSA__VAR_DIR", &self.var_dir)
            .env("TIPSA__SERVER__HOST", "127.0.0.1")
            .env("TIPSA__LOG__FILTER", "warn")
            .env("TIPSA__LOG__FORMAT", "json")
            // Any free port: a bench may run several nodes and workers on this host.
            .env("TIPSA__METRICS__LISTEN", "127.0.0.1:0")
            .env("TIPSA__METRICS__WORKER_LISTEN", "127.0.0.1:0");
        for (name, value) in &self.settings {
            command.env(name, value);
        }
        // BENCH_WORKER_IN_SERVE=false: measure the service without the notification worker
        // that `tipsa serve` runs by default (it sends the urgent tips' emails meanwhile).
        if std::env::var("BENCH_WORKER_IN_SERVE").is_ok_and(|v| v == "false") {
            command.env("TIPSA__NOTIFY__WORKER_IN_SERVE", "false");
        }
        // BENCH_TIPSA__SECTION__KEY=value: a setting for the benchmarked service, for
        // experiments (e.g. BENCH_TIPSA__INTAKE__BATCH_LANES=2).
        for (name, value) in std::env::vars_os() {
            if let Some(setting) = name.to_string_lossy().strip_prefix("BENCH_TIPSA__") {
                command.env(format!("TIPSA__{setting}"), value);
            }
        }
        command
    }

    /// Runs a one-shot command and returns its stdout.
    pub fn run_to_end(&self, args: &[&str]) -> anyhow::Result<String> {
        let output = self
            .command(args)
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("running tipsa {}", args.join(" ")))?;
        if !output.status.success() {
            bail!(
                "tipsa {} failed ({}):\n{}{}",
                args.join(" "),
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    pub fn serve(&self) -> anyhow::Result<Server> {
        let port = free_port()?;
        // One log per port: a bench may run several nodes at once.
        let log_path = self.var_dir.join(format!("serve-{port}.log"));
        let log = std::fs::File::create(&log_path)
            .with_context(|| format!("creating {}", log_path.display()))?;
        let child = self
            .command(&["serve"])
            .env("TIPSA__SERVER__PORT", port.to_string())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting tipsa serve")?;
        Ok(Server {
            child: Some(child),
            port,
            log_path,
        })
    }
}

/// A running `tipsa serve`; stopped with SIGTERM when dropped.
pub struct Server {
    pub child: Option<Child>,
    pub port: u16,
    pub log_path: PathBuf,
}

impl Server {
    pub fn exited(&mut self) -> bool {
        match &mut self.child {
            Some(child) => matches!(child.try_wait(), Ok(Some(_))),
            None => true,
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Stops the server and returns what it logged.
    pub fn stop(mut self) -> String {
        self.terminate();
        self.log()
    }

    pub fn terminate(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("warning: tipsa serve ignored SIGTERM for 10 s; killing it");
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.terminate();
    }
}

pub fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

pub async fn wait_until_ready(
    client: &reqwest::Client,
    base: &str,
    server: &mut Server,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(response) = client.get(format!("{base}/readyz")).send().await
            && response.status() == reqwest::StatusCode::OK
        {
            return Ok(());
        }
        if server.exited() {
            bail!("tipsa serve exited during start-up:\n{}", server.log());
        }
        if Instant::now() > deadline {
            bail!("tipsa serve was not ready within 60 s:\n{}", server.log());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub fn env_number<T>(name: &str, default: T) -> anyhow::Result<T>
where
    T: std::str::FromStr + PartialOrd + From<u8>,
{
    let value = match std::env::var(name) {
        Ok(text) => text
            .trim()
            .parse()
            .map_err(|_| anyhow::anyhow!("{name} must be a positive whole number, not {text:?}"))?,
        Err(_) => default,
    };
    if value < T::from(1) {
        bail!("{name} must be at least 1");
    }
    Ok(value)
}

/// The admin URL with its database name replaced.
pub fn database_url(admin_url: &str, database: &str) -> anyhow::Result<String> {
    let (base, query) = match admin_url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (admin_url, None),
    };
    let scheme_end = base
        .find("://")
        .map(|i| i + 3)
        .context("TIPSA_BENCH_DATABASE_URL must look like postgres://user@host:port/db")?;
    let authority_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut url = format!("{}/{database}", &base[..authority_end]);
    if let Some(query) = query {
        url.push('?');
        url.push_str(query);
    }
    Ok(url)
}

pub fn unix_time() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

pub fn truncate(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

/// A field of `/proc/<pid>/status` given in kB (`VmRSS`, `VmHWM`), in bytes.
pub fn proc_status_bytes(pid: u32, field: &str) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let value = status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .with_context(|| format!("no {field} line in {path}"))?;
    let kb: u64 = value
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .with_context(|| format!("{field} in {path} is not a number of kB: {value:?}"))?;
    Ok(kb * 1024)
}

/// Resets a process's `VmHWM` to its current RSS (`echo 5 > /proc/<pid>/clear_refs`, our own
/// child), so the high-water mark read later covers only what follows.
pub fn reset_peak_rss(pid: u32) -> anyhow::Result<()> {
    let path = format!("/proc/{pid}/clear_refs");
    std::fs::write(&path, "5").with_context(|| format!("writing 5 to {path}"))
}

/// Samples a process's `VmRSS` on a thread of its own until stopped; the largest value seen.
pub struct RssSampler {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<RssSamples>,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct RssSamples {
    pub max_bytes: u64,
    pub samples: u64,
}

impl RssSampler {
    pub fn start(pid: u32, every: Duration) -> Self {
        use std::sync::atomic::Ordering;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut seen = RssSamples::default();
            loop {
                if let Ok(bytes) = proc_status_bytes(pid, "VmRSS") {
                    seen.max_bytes = seen.max_bytes.max(bytes);
                    seen.samples += 1;
                }
                if flag.load(Ordering::Relaxed) {
                    return seen;
                }
                std::thread::sleep(every);
            }
        });
        RssSampler { stop, thread }
    }

    /// Stops sampling (after one last sample) and returns what was seen.
    pub fn stop(self) -> RssSamples {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().unwrap_or_default()
    }
}

pub fn pass(ok: bool) -> &'static str {
    if ok { "PASS" } else { "FAIL" }
}

/// A scratch directory and the PostgreSQL server a bench runs against: the server named by
/// `TIPSA_BENCH_DATABASE_URL` (an admin URL able to create and drop databases) or else the
/// project's embedded cluster, started here and stopped by `finish`.
pub struct Environment {
    pub work_dir: PathBuf,
    pub admin_url: String,
    cluster: Option<tipsa::db::embedded::LocalCluster>,
}

impl Environment {
    pub fn start() -> anyhow::Result<Self> {
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
        Ok(Environment {
            work_dir,
            admin_url,
            cluster,
        })
    }

    /// Runs `work` on a fresh multi-threaded runtime, then `finish`es whatever it returned.
    pub fn run<T>(
        self,
        work: impl AsyncFnOnce(&Environment) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("building the tokio runtime")?;
        let result = runtime.block_on(work(&self));
        drop(runtime);
        self.finish();
        result
    }

    /// The embedded cluster's data directory, if this run uses it.
    pub fn cluster_data_dir(&self) -> Option<PathBuf> {
        self.cluster
            .as_ref()
            .map(tipsa::db::embedded::LocalCluster::data_dir)
    }

    /// Stops the embedded cluster (if this run started one) and removes the scratch directory.
    pub fn finish(self) {
        if let Some(Err(e)) = self.cluster.map(tipsa::db::embedded::LocalCluster::stop) {
            eprintln!("warning: stopping the embedded PostgreSQL cluster failed: {e:#}");
        }
        if let Err(e) = std::fs::remove_dir_all(&self.work_dir) {
            eprintln!("warning: removing {}: {e}", self.work_dir.display());
        }
    }
}

pub fn start_embedded_cluster(
    work_dir: &Path,
) -> anyhow::Result<tipsa::db::embedded::LocalCluster> {
    let config_dir = work_dir.join("empty-config");
    std::fs::create_dir_all(&config_dir)?;
    let settings = tipsa::config::Settings::load_from(&config_dir, "development", false)
        .context("loading default settings")?;
    // Beside the build output this run uses (cargo passes CARGO_TARGET_DIR through).
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let root = target_dir.join("tipsa-bench-pg");
    println!(
        "starting the embedded PostgreSQL cluster in {} (set TIPSA_BENCH_DATABASE_URL to use another server)",
        root.display()
    );
    tipsa::db::embedded::LocalCluster::start(&root, &settings.embedded_postgres)
        .context("starting the embedded PostgreSQL cluster")
}

/// Runs one statement on a fresh connection to `url`.
pub async fn admin_execute(url: &str, sql: &str) -> anyhow::Result<()> {
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
    let mut conn = AsyncPgConnection::establish(url)
        .await
        .context("connecting to PostgreSQL")?;
    diesel::sql_query(sql)
        .execute(&mut conn)
        .await
        .with_context(|| format!("running {sql}"))?;
    Ok(())
}
