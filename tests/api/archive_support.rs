//! Helpers of the archive export tests (tests/api/archive.rs, archive_delivery.rs): the
//! `tipsa` binary with the test's keys and a records.toml of its own, tips worked to an
//! outcome over the API, closure times moved with SQL, and an independent reading of a package
//! (tests/api/archive_package.py).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

use crate::backup::Keys;
use crate::files::execute;
use crate::helpers::{TestApp, valid_tip};

/// Keep case tips with the reporter's contact details, keep risk signals without them, dispose
/// of tips closed with no action; referred tips match no rule and are kept.
pub const RECORDS_TOML: &str = r#"
[disposal]
scheduled = false
interval_minutes = 60
batch_tips = 100

[[disposal.rule]]
name = "cases_with_contact"
outcomes = ["case_opened"]
action = "keep"
archive_contact = true

[[disposal.rule]]
name = "risk_signals"
outcomes = ["risk_signal"]
action = "keep"

[[disposal.rule]]
name = "no_action_2y"
outcomes = ["no_action"]
action = "dispose"
retain_months = 24

[disclosure]
require_second_approval = false
reporter_ground = "OSL 25 kap. 1 §"

[[disclosure.ground]]
code = "OSL 25 kap. 1 §"
sv = "Hälso- och sjukvård"
en = "Health care"

[archive]
creator = "Inspektionen för vård och omsorg"
creator_id = "202100-6255"
"#;

/// The `tipsa` binary against the test's database, with its keys and records.toml.
pub struct Tipsa {
    pub config: PathBuf,
    pub var: PathBuf,
    db_url: String,
    keys: Keys,
}

impl Tipsa {
    pub fn new(app: &TestApp, keys: Keys) -> Self {
        let base = std::env::temp_dir().join(format!("tipsa-archive-{}", uuid::Uuid::new_v4()));
        let config = base.join("config");
        std::fs::create_dir_all(&config).unwrap();
        std::fs::write(config.join("records.toml"), RECORDS_TOML).unwrap();
        Tipsa {
            config,
            var: base.join("var"),
            db_url: app.db.url.clone(),
            keys,
        }
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.run_with(&[], args)
    }

    pub fn run_with(&self, environment: &[(String, String)], args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_tipsa"))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("TIPSA_CONFIG_DIR", &self.config)
            .env("TIPSA__VAR_DIR", &self.var)
            .env("TIPSA__LOG__FORMAT", "json")
            .env("TIPSA__METRICS__LISTEN", "127.0.0.1:0")
            .env("TIPSA__METRICS__WORKER_LISTEN", "127.0.0.1:0")
            .env("TIPSA__DATABASE__URL", &self.db_url)
            .envs(self.keys.environment())
            .envs(environment.iter().cloned())
            .args(args)
            .output()
            .unwrap()
    }
}

impl Drop for Tipsa {
    fn drop(&mut self) {
        if let Some(base) = self.config.parent() {
            let _ = std::fs::remove_dir_all(base);
        }
    }
}

pub fn printed(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Submits a tip; returns (id, reference, receipt code).
pub async fn submit(app: &TestApp, body: &Value) -> (String, String, String) {
    let response = app.submit(body).await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    let field = |name: &str| created[name].as_str().unwrap().to_owned();
    (field("id"), field("reference"), field("receipt_code"))
}

pub fn tip_with(description: &str, reporter: Option<Value>) -> Value {
    let mut tip = valid_tip();
    tip["description"] = json!(description);
    if let Some(reporter) = reporter {
        tip["reporter"] = reporter;
    }
    tip
}

/// Works a tip to `closed` with `outcome` over the API (in review first, as the rules want).
pub async fn close(app: &TestApp, id: &str, outcome: &str) {
    for status in ["in_review", "closed"] {
        let current = app.get(&format!("/api/v1/tips/{id}")).await;
        let etag = current.headers()["etag"].to_str().unwrap().to_owned();
        let tip: Value = current.json().await.unwrap();
        if tip["status"] == status {
            continue;
        }
        let mut body = json!({ "status": status });
        if status == "closed" {
            body["outcome"] = json!(outcome);
        }
        let response = app
            .client
            .patch(app.url(&format!("/api/v1/tips/{id}")))
            .bearer_auth(&app.token)
            .header("if-match", etag)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            200,
            "{status}: {}",
            response.text().await.unwrap()
        );
    }
}

/// Moves a tip's closure to `at` (the clock the test controls).
pub async fn closed_at(app: &TestApp, id: &str, at: &str) {
    execute(
        app,
        &format!("UPDATE tips SET closed_at = '{at}' WHERE id = '{id}'"),
    )
    .await;
}

/// The package as Python's XML parser reads it (tests/api/archive_package.py).
pub fn read_package(path: &Path) -> Value {
    let output = Command::new("python3")
        .args(["-c", include_str!("archive_package.py")])
        .arg(path)
        .output()
        .expect("python3");
    assert!(output.status.success(), "{}", printed(&output));
    serde_json::from_slice(&output.stdout).unwrap()
}
