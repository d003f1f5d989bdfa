//! Housekeeping against real PostgreSQL: expired idempotency records, expired and idle
//! sessions and old one-time links go, live ones stay, and only one process runs a round at a
//! time (the advisory lock).

use diesel_async::{AsyncConnection, RunQueryDsl};
use tipsa::housekeeping::{Housekeeping, LOCK_KEY, Purged};

use crate::files::{count, execute};
use crate::helpers::{TestApp, spawn_app_with};
use crate::people;

/// Two expired and one live record of each kind (the live session is a real sign-in).
async fn seed(app: &TestApp) {
    let user = people::create_person(app, "kept@ivo.example", &["inspector"], &["syd"]).await;
    let key = "(SELECT id FROM api_keys LIMIT 1)";
    for (name, expires) in [
        ("old-1", "now() - interval '1 hour'"),
        ("old-2", "now() - interval '2 days'"),
        ("live", "now() + interval '1 hour'"),
    ] {
        execute(
            app,
            &format!(
                "INSERT INTO idempotency_keys (api_key_id, idempotency_key, request_hash, state, expires_at) \
                 VALUES ({key}, '{name}', '\\x00', 'in_flight', {expires})"
            ),
        )
        .await;
    }
    for (token, expires, last_seen) in [
        // past its absolute lifetime
        (
            "\\x01",
            "now() - interval '1 minute'",
            "now() - interval '1 minute'",
        ),
        // idle longer than auth.session_idle_minutes (30)
        (
            "\\x02",
            "now() + interval '5 hours'",
            "now() - interval '31 minutes'",
        ),
        (
            "\\x03",
            "now() + interval '5 hours'",
            "now() - interval '1 minute'",
        ),
    ] {
        execute(
            app,
            &format!(
                "INSERT INTO sessions (token_hash, user_id, stage, last_seen_at, expires_at) \
                 VALUES ('{token}', '{user}', 'full', {last_seen}, {expires})"
            ),
        )
        .await;
    }
    for (token, expires) in [
        // expired longer ago than housekeeping.account_token_days (30)
        ("\\x11", "now() - interval '31 days'"),
        ("\\x12", "now() - interval '400 days'"),
        // expired recently: kept a while so an admin still sees the link was sent
        ("\\x13", "now() - interval '1 day'"),
    ] {
        execute(
            app,
            &format!(
                "INSERT INTO account_tokens (token_hash, purpose, user_id, expires_at) \
                 VALUES ('{token}', 'password_reset', '{user}', {expires})"
            ),
        )
        .await;
    }
}

#[tokio::test]
async fn a_round_purges_what_expired_in_batches_and_keeps_the_rest() {
    // One row per statement: the batching loop must go round until nothing is left.
    let app = spawn_app_with(|s| s.housekeeping.batch_rows = 1).await;
    seed(&app).await;
    let settings = (*app.state.settings).clone();
    let housekeeping = Housekeeping::new(app.state.pool.clone(), &settings);
    let purged = housekeeping.round().await.unwrap();
    assert_eq!(
        purged,
        Some(Purged {
            idempotency_keys: 2,
            sessions: 2,
            account_tokens: 2,
        })
    );
    assert_eq!(
        count(
            &app,
            "SELECT 1 FROM idempotency_keys WHERE idempotency_key = 'live'"
        )
        .await,
        1
    );
    assert_eq!(
        count(&app, "SELECT 1 FROM sessions WHERE token_hash = '\\x03'").await,
        1
    );
    assert_eq!(
        count(
            &app,
            "SELECT 1 FROM account_tokens WHERE token_hash = '\\x13'"
        )
        .await,
        1
    );
    // A second round finds nothing more.
    assert_eq!(housekeeping.round().await.unwrap(), Some(Purged::default()));
}

#[tokio::test]
async fn a_round_is_skipped_while_another_process_holds_the_lock() {
    let app = spawn_app_with(|_| {}).await;
    seed(&app).await;
    let settings = (*app.state.settings).clone();
    let housekeeping = Housekeeping::new(app.state.pool.clone(), &settings);
    let mut other = app.db.connect().await;
    let skipped = other
        .transaction::<_, diesel::result::Error, _>(async |other| {
            diesel::sql_query(format!("SELECT pg_advisory_xact_lock({LOCK_KEY})"))
                .execute(other)
                .await?;
            Ok(housekeeping.round().await.unwrap())
        })
        .await
        .unwrap();
    assert_eq!(skipped, None, "another holder of the lock means no round");
    assert_eq!(
        count(&app, "SELECT 1 FROM idempotency_keys").await,
        3,
        "nothing was deleted while skipped"
    );
    // Released: the next round runs.
    let purged = housekeeping.round().await.unwrap().unwrap();
    assert_eq!(purged.idempotency_keys, 2);
}
