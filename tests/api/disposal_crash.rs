//! `tipsa records dispose` as the real binary: the dry run lists and changes nothing, the run
//! disposes and says what it did, bad `--as-of` values and a real run in the future are
//! refused, a second run while one holds the lock exits saying so, and a run killed with
//! SIGKILL in the middle of a batch leaves every tip either disposed of completely or
//! untouched — the next run finishes the job and the audit chain verifies.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use diesel::sql_types::{BigInt, Integer};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::json;
use tipsa::crypto::Crypto;
use tipsa::records::disposal;

use crate::disposal::{
    RULES, Tip, ask, close, closed_months_ago, disposal_audit, hold, left, submit, submit_body,
};
use crate::helpers::{TestApp, base_settings, spawn_app_with_crypto, valid_tip};

/// A configuration directory with the test rules, and a var directory whose keys the test's
/// application shares with the binary (the audit chain is keyed).
struct Setup {
    config: PathBuf,
    var: PathBuf,
}

impl Setup {
    fn new() -> Self {
        let root = std::env::temp_dir().join(format!("tipsa-dispose-{}", uuid::Uuid::new_v4()));
        let config = root.join("config");
        let var = root.join("var");
        std::fs::create_dir_all(&config).unwrap();
        std::fs::create_dir_all(&var).unwrap();
        std::fs::write(config.join("records.toml"), RULES).unwrap();
        Setup { config, var }
    }

    async fn app(&self) -> TestApp {
        let crypto = Crypto::load(&base_settings().secrets, &self.var).unwrap();
        spawn_app_with_crypto(|_| {}, crypto).await
    }

    fn tipsa(&self, app: &TestApp, args: &[&str]) -> Command {
        tipsa(&app.db.url, &self.config, &self.var, args)
    }
}

fn tipsa(db_url: &str, config: &Path, var: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tipsa"));
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("TIPSA_CONFIG_DIR", config)
        .env("TIPSA__VAR_DIR", var)
        .env("TIPSA__DATABASE__URL", db_url)
        .env("TIPSA__LOG__FORMAT", "json")
        .env("TIPSA__METRICS__LISTEN", "127.0.0.1:0")
        .env("TIPSA__METRICS__WORKER_LISTEN", "127.0.0.1:0");
    command
}

/// Runs to the end: (success, stdout, stderr).
fn run(mut command: Command) -> (bool, String, String) {
    let output = command.stdin(Stdio::null()).output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `n` tips closed with no action `months` ago.
async fn due_tips(app: &TestApp, n: usize, months: i32) -> Vec<Tip> {
    let mut tips = Vec::new();
    for i in 0..n {
        let tip = submit(
            app,
            &format!("Bemanningen räcker inte till på nätterna, tips nummer {i}."),
            i % 2 == 0,
        )
        .await;
        close(app, &tip, "no_action", None).await;
        closed_months_ago(app, &tip, months).await;
        tips.push(tip);
    }
    tips
}

async fn count(conn: &mut AsyncPgConnection, sql: &str) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    diesel::sql_query(sql)
        .get_result::<N>(conn)
        .await
        .unwrap()
        .n
}

#[tokio::test]
async fn the_command_lists_with_dry_run_then_disposes_and_says_what_it_did() {
    let setup = Setup::new();
    let app = setup.app().await;
    let due = due_tips(&app, 3, 13).await;
    let held = due_tips(&app, 1, 13).await.remove(0);
    hold(&app, Some(held.id), None).await;
    let young = due_tips(&app, 1, 6).await.remove(0);

    let (ok, stdout, stderr) = run(setup.tipsa(&app, &["records", "dispose", "--dry-run"]));
    assert!(ok, "{stderr}");
    for tip in &due {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(&tip.reference))
            .unwrap_or_else(|| panic!("{} listed:\n{stdout}", tip.reference));
        assert!(
            line.contains("no_action_1y") && line.ends_with("content"),
            "{line}"
        );
    }
    assert!(!stdout.contains(&held.reference) && !stdout.contains(&young.reference));
    assert!(stdout.contains("would dispose of 3 tip(s); skipped: 1 held, 0 in undecided"));
    assert!(stdout.contains("nothing was changed"));
    for tip in &due {
        assert!(
            !left(&app, tip.id).await.disposed,
            "a dry run changes nothing"
        );
    }

    let (ok, stdout, stderr) = run(setup.tipsa(&app, &["records", "dispose", "--batch", "2"]));
    assert!(ok, "{stderr}");
    assert!(
        stdout
            .lines()
            .any(|l| l.trim_start().starts_with("no_action_1y")
                && l.ends_with("disposed of 3 tip(s)")),
        "{stdout}"
    );
    assert!(
        stdout.contains("disposed of 3 tip(s) (0 whole)"),
        "{stdout}"
    );
    assert!(stdout.contains("tips/s"));
    assert!(stdout.contains("skipped: 1 held, 0 in undecided records requests"));
    // stderr is not a terminal here: no progress bar.
    assert!(!stderr.contains("tips ("), "{stderr}");
    for tip in &due {
        assert!(left(&app, tip.id).await.disposed);
    }
    assert!(!left(&app, held.id).await.disposed);
    assert!(!left(&app, young.id).await.disposed);
    let audit = disposal_audit(&app).await;
    assert_eq!(audit.len(), 3);
    assert!(audit.iter().all(|(_, d)| d["rule"] == "no_action_1y"));

    let (ok, stdout, _) = run(setup.tipsa(&app, &["records", "dispose"]));
    assert!(ok);
    assert!(stdout.contains("disposed of 0 tip(s)"), "{stdout}");
    let (ok, stdout, stderr) = run(setup.tipsa(&app, &["audit", "verify"]));
    assert!(ok, "{stdout}{stderr}");
}

#[tokio::test]
async fn bad_as_of_values_and_a_real_run_in_the_future_are_refused() {
    let setup = Setup::new();
    let app = setup.app().await;
    let tip = due_tips(&app, 1, 11).await.remove(0);

    let (ok, _, stderr) = run(setup.tipsa(&app, &["records", "dispose", "--as-of", "next week"]));
    assert!(!ok);
    assert!(
        stderr.contains("--as-of") && stderr.contains("RFC 3339"),
        "{stderr}"
    );
    let (ok, _, stderr) = run(setup.tipsa(&app, &["records", "dispose", "--batch", "0"]));
    assert!(!ok);
    assert!(stderr.contains("--batch"), "{stderr}");

    // Two months ahead the tip will be due: a preview may look, a run may not dispose.
    let ahead = (chrono::Utc::now() + chrono::Duration::days(62))
        .format("%Y-%m-%d")
        .to_string();
    let (ok, _, stderr) = run(setup.tipsa(&app, &["records", "dispose", "--as-of", &ahead]));
    assert!(!ok);
    assert!(
        stderr.contains("in the future") && stderr.contains("--dry-run"),
        "{stderr}"
    );
    let mut conn = app.db.connect().await;
    assert_eq!(
        count(&mut conn, "SELECT count(*) AS n FROM disposal_runs").await,
        0
    );
    assert!(!left(&app, tip.id).await.disposed);
    let (ok, stdout, stderr) = run(setup.tipsa(
        &app,
        &["records", "dispose", "--dry-run", "--as-of", &ahead],
    ));
    assert!(ok, "{stderr}");
    assert!(stdout.contains(&tip.reference), "{stdout}");
    assert!(!left(&app, tip.id).await.disposed);
    // In the past is allowed: it only disposes of less.
    let (ok, stdout, stderr) = run(setup.tipsa(
        &app,
        &["records", "dispose", "--as-of", "2020-01-01T00:00:00Z"],
    ));
    assert!(ok, "{stderr}");
    assert!(stdout.contains("disposed of 0 tip(s)"), "{stdout}");
}

#[tokio::test]
async fn a_second_run_while_one_holds_the_lock_exits_saying_so() {
    let setup = Setup::new();
    let app = setup.app().await;
    let tip = due_tips(&app, 1, 13).await.remove(0);
    let mut other = app.db.connect().await;
    diesel::sql_query(format!(
        "SELECT pg_advisory_lock({})",
        disposal::runs::LOCK_KEY
    ))
    .execute(&mut other)
    .await
    .unwrap();
    let (ok, stdout, stderr) = run(setup.tipsa(&app, &["records", "dispose"]));
    assert!(!ok, "{stdout}");
    assert!(
        stderr.contains("another disposal run is in progress"),
        "{stderr}"
    );
    assert!(!left(&app, tip.id).await.disposed);
}

/// Backends of the test database waiting for an advisory lock (the chain's).
async fn waiting_pids(conn: &mut AsyncPgConnection) -> Vec<i32> {
    #[derive(diesel::QueryableByName)]
    struct Pid {
        #[diesel(sql_type = Integer)]
        pid: i32,
    }
    let rows: Vec<Pid> = diesel::sql_query(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() \
         AND wait_event_type = 'Lock' AND wait_event = 'advisory'",
    )
    .load(conn)
    .await
    .unwrap();
    rows.into_iter().map(|r| r.pid).collect()
}

async fn wait_for_waiter(conn: &mut AsyncPgConnection) -> Vec<i32> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let pids = waiting_pids(conn).await;
        if !pids.is_empty() {
            return pids;
        }
        assert!(
            Instant::now() < deadline,
            "the run never reached the audit chain"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn chain_lock(conn: &mut AsyncPgConnection, take: bool) {
    let function = if take {
        "pg_advisory_lock"
    } else {
        "pg_advisory_unlock"
    };
    diesel::sql_query(format!("SELECT {function}({})", tipsa::audit::CHAIN_LOCK))
        .execute(conn)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_run_killed_mid_batch_leaves_each_tip_whole_or_gone_and_the_next_run_finishes() {
    let setup = Setup::new();
    let app = setup.app().await;
    // Tips with what must go with them or not at all: contact details, a conversation, a file.
    let mut tips = Vec::new();
    for i in 0..21usize {
        let mut body = valid_tip();
        body["description"] = json!(format!("Bemanningen räcker inte till på natten, tips {i}."));
        let expected = Expected {
            contact: i % 3 == 0,
            messages: i64::from(i % 3 == 1),
            attachments: i64::from(i % 7 == 2),
        };
        if expected.contact {
            body["reporter"] = json!({"email": "anhorig@example.se"});
        }
        if expected.attachments == 1 {
            let file = crate::files::uploaded_id(
                &app,
                "anteckningar.txt",
                format!("Anteckningar om nattbemanningen, fil {i}.").into_bytes(),
            )
            .await;
            body["attachments"] = json!([file]);
        }
        let tip = submit_body(&app, &body).await;
        if expected.messages == 1 {
            ask(&app, &tip, &format!("Vilken avdelning gäller det ({i})?")).await;
        }
        close(&app, &tip, "no_action", None).await;
        closed_months_ago(&app, &tip, 14).await;
        tips.push((tip, expected));
    }
    let total = tips.len() as i64;

    // The test holds the audit chain's lock: the run's first batch changes its tips and waits
    // at its audit rows, uncommitted. Letting it through twice (the run is first in the lock's
    // queue, the test takes it back behind it) commits exactly two batches; the third waits.
    let mut gate = app.db.connect().await;
    chain_lock(&mut gate, true).await;
    let mut child = setup
        .tipsa(&app, &["records", "dispose", "--batch", "3"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut monitor = app.db.connect().await;
    for _ in 0..2 {
        wait_for_waiter(&mut monitor).await;
        chain_lock(&mut gate, false).await;
        chain_lock(&mut gate, true).await;
    }
    let mut zombies = wait_for_waiter(&mut monitor).await;
    zombies.extend(holders_of_the_run_lock(&mut monitor).await);
    let disposed_sql = "SELECT count(*) AS n FROM tips WHERE disposed_at IS NOT NULL";
    assert_eq!(
        count(&mut monitor, disposed_sql).await,
        6,
        "two batches committed"
    );
    // SIGKILL mid-batch: no chance to clean up.
    assert!(
        Command::new("kill")
            .args(["-9", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let _ = child.wait();
    chain_lock(&mut gate, false).await;
    // The dead client's backends finish their statement, find the connection gone and roll
    // back; wait until they are gone.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let alive = count(
            &mut monitor,
            &format!(
                "SELECT count(*) AS n FROM pg_stat_activity WHERE pid IN ({})",
                zombies
                    .iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        )
        .await;
        if alive == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the dead run's backends linger");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Consistent: each tip disposed of completely (with its audit row) or not at all.
    assert_eq!(
        count(&mut monitor, disposed_sql).await,
        6,
        "the third batch rolled back"
    );
    check_each_tip_whole_or_disposed(&app, &tips).await;
    let runs = disposal::runs::recent(&mut monitor, 5).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert!(runs[0].finished_at.is_none(), "the dead run never finished");
    assert_eq!(runs[0].disposed, 6);

    let (ok, stdout, stderr) = run(setup.tipsa(&app, &["records", "dispose", "--batch", "3"]));
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains(&format!("disposed of {} tip(s)", total - 6)),
        "{stdout}"
    );
    assert_eq!(count(&mut monitor, disposed_sql).await, total);
    check_each_tip_whole_or_disposed(&app, &tips).await;
    assert_eq!(disposal_audit(&app).await.len() as i64, total);
    let before: Vec<&Expected> = tips.iter().map(|(_, e)| e).collect();
    assert!(before.iter().any(|e| e.contact) && before.iter().any(|e| e.attachments == 1));
    let (ok, stdout, stderr) = run(setup.tipsa(&app, &["audit", "verify"]));
    assert!(ok, "{stdout}{stderr}");
}

/// The session holding the disposal lock (the run's lock connection).
async fn holders_of_the_run_lock(conn: &mut AsyncPgConnection) -> Vec<i32> {
    #[derive(diesel::QueryableByName)]
    struct Pid {
        #[diesel(sql_type = Integer)]
        pid: i32,
    }
    let rows: Vec<Pid> = diesel::sql_query(format!(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
         AND classid::bigint = {} AND objid::bigint = {}",
        disposal::runs::LOCK_KEY >> 32,
        disposal::runs::LOCK_KEY & 0xffff_ffff
    ))
    .load(conn)
    .await
    .unwrap();
    assert_eq!(rows.len(), 1, "the run holds its lock");
    rows.into_iter().map(|r| r.pid).collect()
}

/// What a tip had before disposal.
struct Expected {
    contact: bool,
    messages: i64,
    attachments: i64,
}

async fn check_each_tip_whole_or_disposed(app: &TestApp, tips: &[(Tip, Expected)]) {
    let audit = disposal_audit(app).await;
    for (tip, expected) in tips {
        let state = left(app, tip.id).await;
        let audited = audit.iter().filter(|(id, _)| *id == tip.id).count();
        if state.disposed {
            assert_eq!(state.description.as_deref(), Some(""), "{}", tip.reference);
            assert_eq!(
                (state.messages, state.attachments, state.has_contact),
                (0, 0, false),
                "{}",
                tip.reference
            );
            assert_eq!(audited, 1, "{} has one audit row", tip.reference);
        } else {
            assert_ne!(state.description.as_deref(), Some(""), "{}", tip.reference);
            assert_eq!(state.disposal_rule, None);
            assert_eq!(
                (state.messages, state.attachments, state.has_contact),
                (expected.messages, expected.attachments, expected.contact),
                "{} is untouched",
                tip.reference
            );
            assert_eq!(audited, 0, "{} has no audit row", tip.reference);
        }
    }
}
