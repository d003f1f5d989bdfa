//! A process harness for the real `tipsa` binary: `tipsa serve` and `tipsa worker` nodes as
//! separate processes, configured only through `TIPSA__*` environment variables (one set of
//! keys shared by every node of a test), started, killed with SIGKILL, stopped with SIGTERM
//! and restarted on the same port. Each node's output goes to a log file under
//! `target/node-runs/`, whose tail is shown when a node fails to start or a test fails.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;

use crate::helpers::{Site, free_port};

/// What a node runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Serve,
    Worker,
}

/// A directory under `target/node-runs/` for one test run: node logs and var dirs.
pub fn run_dir(test: &str) -> PathBuf {
    let target = Path::new(env!("CARGO_BIN_EXE_tipsa"))
        .parent()
        .and_then(Path::parent)
        .expect("the binary lives in target/<profile>/")
        .to_owned();
    let dir = target.join("node-runs").join(format!(
        "{test}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The environment every node of one test shares: the database, freshly generated keys (so a
/// receipt code, a sealed contact detail or a follow-up cookie made by one node opens on
/// another), no notification worker inside serve, JSON logs.
pub fn shared_env(database_url: &str) -> Vec<(String, String)> {
    let key = || {
        let mut bytes = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
        base64::engine::general_purpose::STANDARD.encode(bytes)
    };
    [
        ("TIPSA__DATABASE__URL", database_url.to_owned()),
        ("TIPSA__SECRETS__RECEIPT_HMAC_KEY", key()),
        ("TIPSA__SECRETS__ACTIVE_CONTACT_KEY", "k1".to_owned()),
        ("TIPSA__SECRETS__CONTACT_KEYS__K1", key()),
        ("TIPSA__SECRETS__ACTIVE_ATTACHMENT_KEY", "a1".to_owned()),
        ("TIPSA__SECRETS__ATTACHMENT_KEYS__A1", key()),
        ("TIPSA__NOTIFY__WORKER_IN_SERVE", "false".to_owned()),
        ("TIPSA__LOG__FORMAT", "json".to_owned()),
        ("TIPSA__LOG__FILTER", "info,tipsa=debug".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// The SMTP settings of a worker sending to a test server on `port` (no TLS).
pub fn smtp_env(port: u16) -> Vec<(String, String)> {
    [
        ("TIPSA__NOTIFY__TRANSPORT", "smtp".to_owned()),
        ("TIPSA__NOTIFY__SMTP__HOST", "127.0.0.1".to_owned()),
        ("TIPSA__NOTIFY__SMTP__PORT", port.to_string()),
        ("TIPSA__NOTIFY__SMTP__TLS", "none".to_owned()),
        ("TIPSA__NOTIFY__MESSAGE_DOMAIN", "tipsa.example".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// One `tipsa` process (started, or stopped between runs).
pub struct Node {
    pub name: String,
    pub role: Role,
    /// The HTTP port of a serve node (kept across restarts); 0 for a worker.
    pub port: u16,
    env: Vec<(String, String)>,
    log_path: PathBuf,
    var_dir: PathBuf,
    child: Option<Child>,
}

impl Node {
    /// A node of `role` with the shared environment plus `extra` (later entries win), not yet
    /// started.
    pub fn new(
        name: &str,
        role: Role,
        run_dir: &Path,
        shared: &[(String, String)],
        extra: &[(&str, &str)],
    ) -> Node {
        let port = if role == Role::Serve { free_port() } else { 0 };
        let mut env: Vec<(String, String)> = shared.to_vec();
        env.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        Node {
            name: name.to_owned(),
            role,
            port,
            env,
            log_path: run_dir.join(format!("{name}.log")),
            var_dir: run_dir.join(format!("{name}-var")),
            child: None,
        }
    }

    /// Starts the process; its output is appended to the node's log file.
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "{} is already running", self.name);
        std::fs::create_dir_all(&self.var_dir).unwrap();
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_tipsa"));
        command
            .arg(match self.role {
                Role::Serve => "serve",
                Role::Worker => "worker",
            })
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("TIPSA_CONFIG_DIR", self.var_dir.join("no-config"))
            .env("TIPSA__VAR_DIR", &self.var_dir)
            .env("TIPSA__SERVER__HOST", "127.0.0.1")
            .env("TIPSA__SERVER__PORT", self.port.to_string())
            // Many nodes on this host: each metrics listener on a free port.
            .env("TIPSA__METRICS__LISTEN", "127.0.0.1:0")
            .env("TIPSA__METRICS__WORKER_LISTEN", "127.0.0.1:0")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log));
        self.child = Some(command.spawn().expect("starting the tipsa binary"));
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("the node runs").id()
    }

    /// Waits until a serve node answers 200 on /readyz (a worker: until it has logged that it
    /// started), failing with the log's tail if the process exits or `limit` passes.
    pub async fn wait_ready(&mut self, limit: Duration) {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "{} exited with {status} while starting\n{}",
                    self.name,
                    self.tail()
                );
            }
            let ready = match self.role {
                Role::Serve => client
                    .get(self.url("/readyz"))
                    .send()
                    .await
                    .is_ok_and(|r| r.status() == 200),
                Role::Worker => self.log().contains("notification worker started"),
            };
            if ready {
                return;
            }
            assert!(
                started.elapsed() < limit,
                "{} was not ready within {limit:?}\n{}",
                self.name,
                self.tail()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL: the process gets no chance to finish or release anything.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends SIGTERM (the process keeps running until it has shut down).
    pub fn terminate(&self) {
        let pid = libc::pid_t::try_from(self.pid()).unwrap();
        // SAFETY: kill(2) with a pid this test spawned and has not yet reaped.
        let sent = unsafe { libc::kill(pid, libc::SIGTERM) };
        assert_eq!(sent, 0, "sending SIGTERM to {}", self.name);
    }

    /// Waits for the process to exit (after `terminate`); fails with the log after `limit`.
    pub async fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                self.child = None;
                return status;
            }
            assert!(
                started.elapsed() < limit,
                "{} did not exit within {limit:?}\n{}",
                self.name,
                self.tail()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|child| child.try_wait().unwrap().is_none())
    }

    /// Everything the node logged (all its runs).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// The last lines of the log, with its path, for failure messages.
    pub fn tail(&self) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        let from = lines.len().saturating_sub(30);
        format!(
            "--- last lines of {} ---\n{}",
            self.log_path.display(),
            lines[from..].join("\n")
        )
    }
}

impl Site for Node {
    /// `http://127.0.0.1:{port}{path}`.
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Runs a one-off `tipsa` command (e.g. `apikey revoke`) with the shared environment.
pub fn cli(run_dir: &Path, shared: &[(String, String)], args: &[&str]) -> std::process::Output {
    let var_dir = run_dir.join("cli-var");
    std::fs::create_dir_all(&var_dir).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_tipsa"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("TIPSA_CONFIG_DIR", var_dir.join("no-config"))
        .env("TIPSA__VAR_DIR", &var_dir)
        .envs(shared.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .expect("running the tipsa binary");
    assert!(
        output.status.success(),
        "tipsa {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}
