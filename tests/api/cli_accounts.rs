//! `tipsa user …`, `tipsa audit verify` and the first-run link of `tipsa serve`, run as the real
//! binary against a test database, with the links they print followed over HTTP.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use diesel_async::RunQueryDsl;

use crate::helpers::{TestDatabase, spawn_app};
use crate::people::{self, PASSWORD, csrf_token};

pub fn tipsa(db_url: &str, var_dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tipsa"));
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("TIPSA_CONFIG_DIR", var_dir.join("no-config"))
        .env("TIPSA__VAR_DIR", var_dir)
        .env("TIPSA__LOG__FORMAT", "json")
        .env("TIPSA__DATABASE__URL", db_url);
    command
}

pub fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tipsa-{name}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn run(command: &mut Command) -> (bool, String, String) {
    let output = command.output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Sets the password through the printed link's page.
async fn choose_password(client: &reqwest::Client, url: &str) -> reqwest::Response {
    let page = client.get(url).send().await.unwrap();
    assert_eq!(page.status(), 200, "{url}");
    let page = page.text().await.unwrap();
    client
        .post(url)
        .form(&[
            ("csrf_token", csrf_token(&page).as_str()),
            ("password", PASSWORD),
            ("password_again", PASSWORD),
        ])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn user_add_prints_a_link_the_person_uses_to_choose_a_password_and_log_in() {
    let app = spawn_app().await;
    let var = temp_dir("users");
    let (ok, stdout, stderr) = run(tipsa(&app.db.url, &var).args([
        "user",
        "add",
        "--email",
        "Eva@IVO.example",
        "--name",
        "Eva Ek",
        "--role",
        "inspector",
        "--team",
        "syd",
    ]));
    assert!(ok, "{stderr}");
    let link = stdout.trim();
    let path = link
        .split_once("/inspektor/")
        .map(|(_, p)| format!("/inspektor/{p}"))
        .unwrap();
    assert!(path.starts_with("/inspektor/losenord/"), "{link}");
    assert!(!stderr.contains(&path), "the link goes to stdout only");

    let client = people::browser_client();
    let done = choose_password(&client, &app.url(&path)).await;
    assert_eq!(done.status(), 200);
    assert!(done.url().path().ends_with("/logga-in"));
    // Used once: the link is gone.
    assert_eq!(
        client.get(app.url(&path)).send().await.unwrap().status(),
        404
    );

    let (ok, stdout, _) = run(tipsa(&app.db.url, &var).args(["user", "list"]));
    assert!(ok);
    let id: uuid::Uuid = {
        let mut conn = app.db.connect().await;
        tipsa::auth::accounts::find_by_email(&mut conn, "eva@ivo.example")
            .await
            .unwrap()
            .unwrap()
            .id
    };
    assert!(
        stdout.contains("eva@ivo.example")
            && stdout.contains("inspector")
            && stdout.contains("off"),
        "{stdout}"
    );
    let eva = people::first_sign_in(&app, id, "eva@ivo.example").await;
    assert_eq!(eva.get(&app, "/inspektor").await.status(), 200);

    // set-role to analyst: the queue is closed to her now.
    let (ok, _, stderr) = run(tipsa(&app.db.url, &var).args([
        "user",
        "set-role",
        "eva@ivo.example",
        "--role",
        "analyst",
    ]));
    assert!(ok, "{stderr}");
    assert_eq!(eva.get(&app, "/inspektor").await.status(), 403);
    // disable: her session ends.
    let (ok, _, stderr) =
        run(tipsa(&app.db.url, &var).args(["user", "disable", "eva@ivo.example"]));
    assert!(ok, "{stderr}");
    let after = eva.get(&app, "/inspektor").await;
    assert!(after.url().path().ends_with("/logga-in"), "{}", after.url());

    // Bad input gets a clear, field-level answer.
    let (ok, _, stderr) = run(tipsa(&app.db.url, &var).args([
        "user", "add", "--email", "nope", "--name", "X", "--role", "boss",
    ]));
    assert!(!ok);
    assert!(
        stderr.contains("--email") && stderr.contains("--roles"),
        "{stderr}"
    );
}

#[tokio::test]
async fn audit_verify_passes_an_intact_chain_and_detects_an_edited_row() {
    let db = TestDatabase::new().await;
    let var = temp_dir("audit");
    for email in ["a@ivo.example", "b@ivo.example", "c@ivo.example"] {
        let (ok, _, stderr) = run(tipsa(&db.url, &var).args([
            "user", "add", "--email", email, "--name", "X", "--role", "analyst",
        ]));
        assert!(ok, "{stderr}");
    }
    let (ok, stdout, stderr) = run(tipsa(&db.url, &var).args(["audit", "verify"]));
    assert!(ok, "{stderr}");
    assert!(stdout.contains("intact: 3 rows"), "{stdout}");

    // Rows cannot be changed through the application's own database role paths…
    let mut conn = db.connect().await;
    let refused =
        diesel::sql_query("UPDATE audit_log SET actor = 'cli:someone-else' WHERE seq = 2")
            .execute(&mut conn)
            .await;
    assert!(refused.is_err(), "the table is append-only");
    // …but someone with the power to drop the guard could; verify notices.
    diesel::sql_query("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update")
        .execute(&mut conn)
        .await
        .unwrap();
    diesel::sql_query("UPDATE audit_log SET actor = 'cli:someone-else' WHERE seq = 2")
        .execute(&mut conn)
        .await
        .unwrap();
    let (ok, _, stderr) = run(tipsa(&db.url, &var).args(["audit", "verify"]));
    assert!(!ok);
    assert!(stderr.contains("broken at row 2"), "{stderr}");

    // Removing a row is noticed too.
    diesel::sql_query("UPDATE audit_log SET actor = 'cli:user-add' WHERE seq = 2")
        .execute(&mut conn)
        .await
        .unwrap();
    let (ok, _, _) = run(tipsa(&db.url, &var).args(["audit", "verify"]));
    assert!(ok, "restored");
    diesel::sql_query("DELETE FROM audit_log WHERE seq = 2")
        .execute(&mut conn)
        .await
        .unwrap();
    let (ok, _, stderr) = run(tipsa(&db.url, &var).args(["audit", "verify"]));
    assert!(!ok);
    assert!(stderr.contains("row 2"), "{stderr}");
}

#[tokio::test]
async fn serve_on_an_empty_database_prints_a_one_time_link_for_the_first_admin() {
    let db = TestDatabase::new().await;
    let var = temp_dir("first-run");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = tipsa(&db.url, &var)
        .env("TIPSA__SERVER__PORT", port.to_string())
        .arg("serve")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let link = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("serve printed nothing");
        if let Some(at) = line.find("http://")
            && line.contains("/inspektor/forsta-admin/")
        {
            break line[at..].trim().to_owned();
        }
        assert!(Instant::now() < deadline, "no first-admin link");
    };
    let client = people::browser_client();
    let page = client.get(&link).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    let created = client
        .post(&link)
        .form(&[
            ("csrf_token", csrf_token(&page).as_str()),
            ("email", "admin@ivo.example"),
            ("display_name", "Ada Admin"),
            ("password", PASSWORD),
            ("password_again", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 200);
    assert!(created.url().path().ends_with("/logga-in"));
    // The link is used up.
    assert_eq!(client.get(&link).send().await.unwrap().status(), 404);
    let mut conn = db.connect().await;
    let admin = tipsa::auth::accounts::find_by_email(&mut conn, "admin@ivo.example")
        .await
        .unwrap()
        .unwrap();
    assert!(admin.has(tipsa::auth::Role::Admin) && admin.has(tipsa::auth::Role::TriageLead));
    let _ = child.kill();
    let _ = child.wait();
}
