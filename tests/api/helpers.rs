//! The test harness: a PostgreSQL server (from `TIPSA_TEST_DATABASE_URL`, or the embedded
//! local cluster under `target/tipsa-test-pg`), a migrated template database, one fresh copy
//! per test, the application on a free port, and log capture.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use diesel::sql_types::{Bool, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tipsa::auth::{Scope, api_keys};
use tipsa::config::Settings;
use tipsa::crypto::Crypto;
use tipsa::db::embedded::LocalCluster;
use tipsa::startup::Application;

/// The URL of a maintenance database on the test server, decided once per test binary.
pub fn admin_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        if let Ok(url) = std::env::var("TIPSA_TEST_DATABASE_URL") {
            return url;
        }
        // The same mechanism as `tipsa serve` without a URL: a private local cluster.
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/tipsa-test-pg");
        let settings = base_settings();
        let cluster = LocalCluster::start(&root, &settings.embedded_postgres)
            .expect("starting the local test cluster (is PostgreSQL installed?)");
        // Left running for the next test binary and the next run; it is reused.
        cluster.url("postgres")
    })
}

/// Runs an async block on a fresh runtime in its own thread (for one-time set-up and Drop).
fn block_on_thread<T: Send + 'static>(
    work: impl std::future::Future<Output = T> + Send + 'static,
) -> T {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("building a runtime")
            .block_on(work)
    })
    .join()
    .expect("set-up thread panicked")
}

fn database_url(name: &str) -> String {
    let admin = admin_url();
    let base = admin
        .rsplit_once('/')
        .map(|(base, _)| base)
        .unwrap_or(admin);
    format!("{base}/{name}")
}

#[derive(diesel::QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    datname: String,
}

#[derive(diesel::QueryableByName)]
struct Exists {
    #[diesel(sql_type = Bool)]
    exists: bool,
}

/// Name of the migrated template, keyed by the migrations' content so edits make a new one.
fn template_name() -> &'static str {
    static TEMPLATE: OnceLock<String> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let mut hasher = Sha256::new();
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let mut files: Vec<PathBuf> = walk(&root);
        files.sort();
        for file in files {
            hasher.update(
                file.strip_prefix(&root)
                    .unwrap()
                    .to_string_lossy()
                    .as_bytes(),
            );
            hasher.update(std::fs::read(&file).unwrap());
        }
        let name = format!("tipsa_tpl_{}", &hex::encode(hasher.finalize())[..16]);
        let created = name.clone();
        block_on_thread(async move { create_template(&created).await });
        name
    })
}

fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

async fn create_template(name: &str) {
    let mut admin = AsyncPgConnection::establish(admin_url())
        .await
        .expect("connecting to the test server");
    // Several test binaries may start at once: one builds the template, the others wait.
    diesel::sql_query("SELECT pg_advisory_lock(727375)")
        .execute(&mut admin)
        .await
        .unwrap();
    let exists: Exists =
        diesel::sql_query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS exists")
            .bind::<Text, _>(name)
            .get_result(&mut admin)
            .await
            .unwrap();
    if !exists.exists {
        let building = format!("{name}_building");
        diesel::sql_query(format!("DROP DATABASE IF EXISTS {building}"))
            .execute(&mut admin)
            .await
            .unwrap();
        diesel::sql_query(format!("CREATE DATABASE {building}"))
            .execute(&mut admin)
            .await
            .unwrap();
        tipsa::db::migrate::run_pending(&database_url(&building))
            .await
            .expect("migrating the template");
        diesel::sql_query(format!("ALTER DATABASE {building} RENAME TO {name}"))
            .execute(&mut admin)
            .await
            .unwrap();
    }
    // Databases of test runs that died without cleaning up (older than two hours).
    let cutoff = now_secs().saturating_sub(7200);
    let stale: Vec<Name> =
        diesel::sql_query("SELECT datname FROM pg_database WHERE datname LIKE 'tipsa\\_test\\_%'")
            .load(&mut admin)
            .await
            .unwrap();
    for db in stale {
        let created = db
            .datname
            .split('_')
            .nth(2)
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(0);
        if created < cutoff {
            let _ = diesel::sql_query(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                db.datname
            ))
            .execute(&mut admin)
            .await;
        }
    }
    diesel::sql_query("SELECT pg_advisory_unlock(727375)")
        .execute(&mut admin)
        .await
        .unwrap();
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A fresh database for one test, dropped when the guard is dropped.
pub struct TestDatabase {
    pub name: String,
    pub url: String,
}

impl TestDatabase {
    pub async fn new() -> Self {
        Self::create(template_name()).await
    }

    /// A database with nothing in it, not even the schema (to restore a dump into).
    pub async fn empty() -> Self {
        Self::create("template0").await
    }

    async fn create(template: &str) -> Self {
        let name = format!(
            "tipsa_test_{}_{}",
            now_secs(),
            uuid::Uuid::new_v4().simple()
        );
        let mut admin = AsyncPgConnection::establish(admin_url()).await.unwrap();
        diesel::sql_query(format!("CREATE DATABASE {name} TEMPLATE {template}"))
            .execute(&mut admin)
            .await
            .expect("creating a test database");
        TestDatabase {
            url: database_url(&name),
            name,
        }
    }

    pub async fn connect(&self) -> AsyncPgConnection {
        AsyncPgConnection::establish(&self.url).await.unwrap()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        block_on_thread(async move {
            if let Ok(mut admin) = AsyncPgConnection::establish(admin_url()).await {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin)
                    .await;
            }
        });
    }
}

/// Settings from the compiled-in defaults only (the developer's environment is ignored).
pub fn base_settings() -> Settings {
    let empty = std::env::temp_dir().join("tipsa-test-empty-config");
    std::fs::create_dir_all(&empty).unwrap();
    let mut settings = Settings::load_from(&empty, "test", false).unwrap();
    // Many applications run at once in this test binary: each metrics listener on a free port.
    settings.metrics.listen = "127.0.0.1:0".into();
    settings.metrics.worker_listen = "127.0.0.1:0".into();
    settings
}

/// Everything the service logged in this test binary (all tests share one subscriber).
#[derive(Clone, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    pub fn global() -> &'static CapturedLogs {
        static LOGS: OnceLock<CapturedLogs> = OnceLock::new();
        LOGS.get_or_init(|| {
            let logs = CapturedLogs::default();
            let mut settings = base_settings().log;
            // Everything the service logs; the test clients' own crates are left out.
            settings.filter =
                "debug,cookie_store=off,reqwest=off,hyper=off,hyper_util=off,fantoccini=off".into();
            settings.format = tipsa::config::LogFormat::Json;
            tipsa::telemetry::init_with_writer(&settings, logs.clone(), false);
            logs
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for CapturedLogs {
    type Writer = CapturedLogs;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// A running application with its own database.
pub struct TestApp {
    pub address: String,
    pub db: TestDatabase,
    pub client: reqwest::Client,
    pub state: actix_web::web::Data<tipsa::state::AppState>,
    /// A key with every scope.
    pub token: String,
    /// `http://127.0.0.1:port` of the metrics listener, if metrics are enabled.
    pub metrics_address: Option<String>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let db = TestDatabase::new().await;
    let mut random = [0u8; 64];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut random);
    let crypto = Crypto::from_keys(
        random[..32].try_into().unwrap(),
        random[32..].try_into().unwrap(),
    );
    spawn_app_on(db, crypto, adjust).await
}

/// As `spawn_app_with`, with the keys the test chose.
pub async fn spawn_app_with_crypto(adjust: impl FnOnce(&mut Settings), crypto: Crypto) -> TestApp {
    spawn_app_on(TestDatabase::new().await, crypto, adjust).await
}

/// The application on a given database with given keys (e.g. a restored backup, served again
/// with the keys it was written with).
pub async fn spawn_app_on(
    db: TestDatabase,
    crypto: Crypto,
    adjust: impl FnOnce(&mut Settings),
) -> TestApp {
    CapturedLogs::global();
    let mut settings = base_settings();
    settings.server.port = 0;
    settings.server.workers = 1;
    settings.database.pool_size = 4;
    settings.database.acquire_timeout_ms = 2000;
    settings.var_dir =
        std::env::temp_dir().join(format!("tipsa-test-var-{}", uuid::Uuid::new_v4()));
    // No notification worker unless a test asks for one (tests/api/notifications.rs); if one
    // runs with the file transport, it writes under the temporary var_dir above.
    settings.notify.worker_in_serve = false;
    adjust(&mut settings);
    let app = Application::build_with_crypto(settings, &db.url, crypto)
        .await
        .expect("building the application");
    let address = format!("http://127.0.0.1:{}", app.port());
    let state = app.state();
    let metrics_address = app
        .metrics_port()
        .map(|port| format!("http://127.0.0.1:{port}"));
    tokio::spawn(app.run_until_stopped());
    let token = create_key(&db, &Scope::ALL).await;
    TestApp {
        address,
        db,
        client: reqwest::Client::new(),
        state,
        token,
        metrics_address,
    }
}

pub async fn create_key(db: &TestDatabase, scopes: &[Scope]) -> String {
    let mut conn = db.connect().await;
    api_keys::create(&mut conn, "test client", scopes)
        .await
        .unwrap()
        .token
}

/// Something serving Tipsa over HTTP: the in-process application or a `tipsa serve` process
/// (tests/api/nodes.rs), so page helpers work against either.
pub trait Site {
    fn url(&self, path: &str) -> String;
}

impl Site for TestApp {
    fn url(&self, path: &str) -> String {
        TestApp::url(self, path)
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// POST /api/v1/tips with the all-scopes key.
    pub async fn submit(&self, body: &Value) -> reqwest::Response {
        self.submit_with(body, &self.token, None).await
    }

    pub async fn submit_with(
        &self,
        body: &Value,
        token: &str,
        idempotency_key: Option<&str>,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .post(self.url("/api/v1/tips"))
            .bearer_auth(token)
            .json(body);
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        request.send().await.expect("sending the request")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
    }

    pub async fn count_tips(&self) -> i64 {
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = self.db.connect().await;
        diesel::sql_query("SELECT count(*) AS n FROM tips")
            .get_result::<Count>(&mut conn)
            .await
            .unwrap()
            .n
    }
}

/// A valid anonymous tip.
pub fn valid_tip() -> Value {
    json!({
        "category": "patient_safety",
        "care_sector": "elderly_residential",
        "region_code": "01",
        "municipality_code": "0180",
        "facility_name": "Solgläntans äldreboende",
        "occurred_on": "2026-11-01",
        "ongoing": true,
        "description": "Nattetid är en undersköterska ensam med trettio boende, flera med fallrisk.",
        "reporter_role": "staff"
    })
}

/// Asserts a problem+json response and returns its body.
pub async fn problem(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status().as_u16(), status, "unexpected status");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], status);
    assert!(
        body["type"]
            .as_str()
            .unwrap()
            .starts_with("urn:tipsa:problem:")
    );
    assert!(body["title"].is_string() && body["detail"].is_string());
    body
}

/// The `(field, code)` pairs of a validation problem.
pub fn field_errors(problem: &Value) -> Vec<(String, String)> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| {
                    (
                        e["field"].as_str().unwrap_or_default().to_owned(),
                        e["code"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A PostgreSQL client program (pg_dump, pg_restore…): /usr/bin (Debian's wrappers pick the
/// newest version), else the newest /usr/lib/postgresql/*/bin.
pub fn postgres_tool(name: &str) -> PathBuf {
    let mut versioned: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin").join(name))
        .collect();
    versioned.sort();
    std::iter::once(PathBuf::from("/usr/bin").join(name))
        .chain(versioned.into_iter().rev())
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("{name} (PostgreSQL client tools)"))
}

/// A port that was free a moment ago (for a server a test starts).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until `ready` answers true; false if the process exits or `limit` passes first.
pub fn wait_for_server(
    child: Option<&mut std::process::Child>,
    limit: std::time::Duration,
    ready: impl Fn() -> bool,
) -> bool {
    let deadline = std::time::Instant::now() + limit;
    let mut child = child;
    while std::time::Instant::now() < deadline {
        if let Some(child) = child.as_deref_mut()
            && child.try_wait().unwrap().is_some()
        {
            return false;
        }
        if ready() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    false
}
