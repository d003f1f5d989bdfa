//! The `tipsa` binary itself: API key administration, migrations, and the embedded default
//! (a private PostgreSQL cluster under var/, reused, stopped on shutdown).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{TestDatabase, spawn_app, valid_tip};

fn tipsa(db_url: Option<&str>, var_dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tipsa"));
    // Only the compiled-in defaults plus what we set here.
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("TIPSA_CONFIG_DIR", var_dir.join("no-config"))
        .env("TIPSA__VAR_DIR", var_dir)
        .env("TIPSA__LOG__FORMAT", "json")
        .env("TIPSA__METRICS__LISTEN", "127.0.0.1:0")
        .env("TIPSA__METRICS__WORKER_LISTEN", "127.0.0.1:0");
    if let Some(url) = db_url {
        command.env("TIPSA__DATABASE__URL", url);
    }
    command
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tipsa-{name}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn apikey_create_list_and_revoke() {
    let app = crate::helpers::spawn_app_with(|s| s.auth.api_key_cache_seconds = 0).await;
    let var = temp_dir("cli");
    let created = tipsa(Some(&app.db.url), &var)
        .args([
            "apikey",
            "create",
            "--name",
            "Region Skåne incident system",
            "--scope",
            "tips:submit",
        ])
        .output()
        .unwrap();
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let token = String::from_utf8(created.stdout).unwrap().trim().to_owned();
    assert!(token.starts_with("tipsa_") && token.len() == 47, "{token}");
    let prefix = &token[6..14];
    assert!(!String::from_utf8_lossy(&created.stderr).contains(&token[15..]));

    let response = app.submit_with(&valid_tip(), &token, None).await;
    assert_eq!(response.status().as_u16(), 201);

    let listed = tipsa(Some(&app.db.url), &var)
        .args(["apikey", "list"])
        .output()
        .unwrap();
    let listing = String::from_utf8(listed.stdout).unwrap();
    let line = listing.lines().find(|l| l.starts_with(prefix)).unwrap();
    assert!(
        line.contains("active") && line.contains("tips:submit") && line.contains("Region Skåne")
    );
    assert!(
        !listing.contains(&token[15..]),
        "the secret is never listed"
    );

    let revoked = tipsa(Some(&app.db.url), &var)
        .args(["apikey", "revoke", prefix])
        .output()
        .unwrap();
    assert!(revoked.status.success());
    assert_eq!(
        app.submit_with(&valid_tip(), &token, None)
            .await
            .status()
            .as_u16(),
        401
    );

    let again = tipsa(Some(&app.db.url), &var)
        .args(["apikey", "revoke", prefix])
        .output()
        .unwrap();
    assert!(!again.status.success(), "revoking twice is an error");

    let bad_scope = tipsa(Some(&app.db.url), &var)
        .args([
            "apikey",
            "create",
            "--name",
            "x",
            "--scope",
            "tips:everything",
        ])
        .output()
        .unwrap();
    assert!(!bad_scope.status.success());
    assert!(String::from_utf8_lossy(&bad_scope.stderr).contains("tips:submit"));
}

#[tokio::test]
async fn migrate_on_a_configured_database_is_idempotent() {
    let db = TestDatabase::new().await;
    let var = temp_dir("migrate");
    let output = tipsa(Some(&db.url), &var).arg("migrate").output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("up to date"));
}

#[tokio::test]
async fn a_secret_in_the_configuration_is_never_printed() {
    let var = temp_dir("secret");
    let output = tipsa(
        Some("postgres://tipsa:Sup3rS3cretPassw0rd@127.0.0.1:1/tipsa"),
        &var,
    )
    .arg("migrate")
    .output()
    .unwrap();
    assert!(!output.status.success(), "nothing listens on port 1");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!all.contains("Sup3rS3cretPassw0rd"), "{all}");
}

/// `tipsa serve` with no database configured: starts a private cluster under var/, serves,
/// and stops the cluster on SIGTERM; a second start reuses the same data.
#[tokio::test]
async fn serve_uses_the_embedded_default_and_stops_it_on_shutdown() {
    let var = temp_dir("embedded");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = reqwest::Client::new();
    let mut first_reference = String::new();
    for round in 0..2 {
        let mut child = tipsa(None, &var)
            .env("TIPSA__SERVER__PORT", port.to_string())
            .arg("serve")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (lines_tx, lines_rx) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = lines_tx.send(line);
            }
        });

        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = client.get(format!("{url}/readyz")).send().await
                && r.status().is_success()
            {
                break;
            }
            assert!(Instant::now() < deadline, "serve did not become ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let data_dir = var.join("pg/data").canonicalize().unwrap();
        assert!(data_dir.join("PG_VERSION").exists());
        assert!(data_dir.join("postmaster.pid").exists(), "the cluster runs");

        // Create a key through the CLI against the same embedded cluster, then submit.
        let created = tipsa(None, &var)
            .args([
                "apikey",
                "create",
                "--name",
                "embedded",
                "--scope",
                "tips:submit",
            ])
            .output()
            .unwrap();
        assert!(
            created.status.success(),
            "{}",
            String::from_utf8_lossy(&created.stderr)
        );
        let token = String::from_utf8(created.stdout).unwrap().trim().to_owned();
        let body: serde_json::Value = client
            .post(format!("{url}/api/v1/tips"))
            .bearer_auth(&token)
            .json(&valid_tip())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let reference = body["reference"].as_str().unwrap().to_owned();
        if round == 0 {
            first_reference = reference;
        } else {
            assert!(
                reference > first_reference,
                "data kept across restarts: {reference} after {first_reference}"
            );
        }

        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        let status = child.wait().unwrap();
        assert!(status.success(), "serve exits cleanly on SIGTERM");
        let logs: Vec<String> = lines_rx.try_iter().collect();
        let where_line = logs
            .iter()
            .filter(|l| {
                l.contains("local PostgreSQL cluster")
                    && l.contains(&data_dir.display().to_string())
            })
            .count();
        assert_eq!(
            where_line, 1,
            "one line says where the data lives: {logs:#?}"
        );
        assert!(
            !data_dir.join("postmaster.pid").exists(),
            "the cluster was stopped"
        );
    }
}

// The child process is waited for synchronously: the in-process server needs other threads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthcheck_reports_readiness_of_the_local_server() {
    let app = spawn_app().await;
    let var = temp_dir("health");
    let port = app.address.rsplit(':').next().unwrap().to_owned();
    let ok = tipsa(None, &var)
        .env("TIPSA__SERVER__PORT", &port)
        .arg("healthcheck")
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let down = tipsa(None, &var)
        .env("TIPSA__SERVER__PORT", closed.to_string())
        .arg("healthcheck")
        .output()
        .unwrap();
    assert!(!down.status.success());
}

#[tokio::test]
async fn with_migrate_on_start_off_only_tipsa_migrate_changes_the_schema() {
    let db = TestDatabase::empty().await;
    let var = temp_dir("no-migrate");
    let run = |args: &[&str]| {
        tipsa(Some(&db.url), &var)
            .env("TIPSA__DATABASE__MIGRATE_ON_START", "false")
            .args(args)
            .output()
            .unwrap()
    };
    let refused = run(&["apikey", "list"]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("run `tipsa migrate` first"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    use diesel_async::RunQueryDsl;
    let mut conn = db.connect().await;
    #[derive(diesel::QueryableByName)]
    struct Tables {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let tables = |n: Tables| n.n;
    let before: Tables = diesel::sql_query(
        "SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = 'public'",
    )
    .get_result(&mut conn)
    .await
    .unwrap();
    assert_eq!(tables(before), 0, "nothing was created");

    assert!(run(&["migrate"]).status.success());
    let listed = run(&["apikey", "list"]);
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
}
