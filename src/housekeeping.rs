//! Housekeeping: purging rows that have outlived their use — expired `Idempotency-Key`
//! records (their sealed responses hold receipt codes), expired or idle inspector sessions,
//! and one-time links (invitations, password resets) long expired. It runs beside the
//! notification worker in every process that has one, but one round at a time across all
//! nodes: a round holds a PostgreSQL advisory lock, and a process that finds it taken skips.
//!
//! Rate-limit state needs no purging here: it lives in each node's memory and is dropped with
//! its window (`ratelimit`).

use std::time::Duration;

use anyhow::Context;
use diesel::sql_types::{BigInt, Bool, Double};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use tokio::sync::watch;

use crate::config::{HousekeepingSettings, Settings};
use crate::db::DbPool;

/// Identifies housekeeping's lock among advisory locks ("tipsa_hk").
pub const LOCK_KEY: i64 = 0x7469_7073_615f_686b;

/// What one round removed (counts only).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    pub idempotency_keys: u64,
    pub sessions: u64,
    pub account_tokens: u64,
}

pub struct Housekeeping {
    pool: DbPool,
    settings: HousekeepingSettings,
    /// Sessions unused this long are over (`auth.session_idle_minutes`) and can go.
    session_idle: Duration,
}

/// A running housekeeping loop.
pub struct HousekeepingHandle {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl HousekeepingHandle {
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        if let Err(error) = self.task.await {
            tracing::error!(error = %error, "the housekeeping task panicked");
        }
    }
}

#[derive(diesel::QueryableByName)]
struct Locked {
    #[diesel(sql_type = Bool)]
    locked: bool,
}

impl Housekeeping {
    pub fn new(pool: DbPool, settings: &Settings) -> Self {
        Housekeeping {
            pool,
            settings: settings.housekeeping.clone(),
            session_idle: Duration::from_secs(
                u64::try_from(settings.auth.session_idle_minutes).unwrap_or(0) * 60,
            ),
        }
    }

    /// Runs a round now and then every `interval_seconds`, until shut down.
    pub fn spawn(self) -> HousekeepingHandle {
        let (stop, mut stopped) = watch::channel(false);
        let every = Duration::from_secs(self.settings.interval_seconds);
        let task = tokio::spawn(async move {
            loop {
                match self.round().await {
                    Ok(Some(purged)) => report(&purged),
                    Ok(None) => {
                        crate::monitoring::housekeeping_round("skipped", &[]);
                        tracing::debug!("housekeeping skipped: another process holds its lock");
                    }
                    Err(error) => {
                        crate::monitoring::housekeeping_round("error", &[]);
                        tracing::warn!(error = %format!("{error:#}"), "housekeeping failed; trying again next round");
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = stopped.changed() => return,
                }
            }
        });
        HousekeepingHandle { stop, task }
    }

    /// One round: takes the advisory lock (held by a transaction on one connection while the
    /// deletions run in short statements on another) or returns `None` if another process
    /// has it. If this process dies, its connection and so the lock go with it.
    pub async fn round(&self) -> anyhow::Result<Option<Purged>> {
        let mut lock_conn = self.pool.get().await.context("getting a connection")?;
        lock_conn
            .transaction::<_, anyhow::Error, _>(async |lock_conn| {
                let lock: Locked = diesel::sql_query(format!(
                    "SELECT pg_try_advisory_xact_lock({LOCK_KEY}) AS locked"
                ))
                .get_result(lock_conn)
                .await
                .context("taking the housekeeping lock")?;
                if !lock.locked {
                    return Ok(None);
                }
                let mut conn = self.pool.get().await.context("getting a connection")?;
                self.purge(&mut conn).await.map(Some)
            })
            .await
    }

    async fn purge(&self, conn: &mut AsyncPgConnection) -> anyhow::Result<Purged> {
        let batch = self.settings.batch_rows;
        let idempotency_keys =
            delete_in_batches(conn, "idempotency_keys", "expires_at < now()", None, batch)
                .await
                .context("purging expired idempotency records")?;
        let sessions = delete_in_batches(
            conn,
            "sessions",
            "expires_at <= now() OR last_seen_at < now() - make_interval(secs => $2)",
            Some(self.session_idle.as_secs_f64()),
            batch,
        )
        .await
        .context("purging expired sessions")?;
        let days = self.settings.account_token_days as f64;
        let account_tokens = delete_in_batches(
            conn,
            "account_tokens",
            "expires_at < now() - make_interval(days => $2::int)",
            Some(days),
            batch,
        )
        .await
        .context("purging old one-time links")?;
        Ok(Purged {
            idempotency_keys,
            sessions,
            account_tokens,
        })
    }
}

/// Deletes the rows of `table` matching `condition` (`$2` is `parameter`), `batch` rows per
/// statement, until none are left. `table` and `condition` are constants of this module.
async fn delete_in_batches(
    conn: &mut AsyncPgConnection,
    table: &'static str,
    condition: &'static str,
    parameter: Option<f64>,
    batch: i64,
) -> diesel::QueryResult<u64> {
    let statement = format!(
        "DELETE FROM {table} WHERE ctid = ANY(ARRAY( \
             SELECT ctid FROM {table} WHERE {condition} LIMIT $1))"
    );
    let mut total = 0u64;
    loop {
        let query = diesel::sql_query(&statement).bind::<BigInt, _>(batch);
        let deleted = match parameter {
            Some(value) => query.bind::<Double, _>(value).execute(conn).await?,
            None => query.execute(conn).await?,
        };
        total += deleted as u64;
        if (deleted as i64) < batch {
            return Ok(total);
        }
    }
}

/// The metric and the log line of a finished round (counts only).
fn report(purged: &Purged) {
    crate::monitoring::housekeeping_round(
        "ok",
        &[
            ("idempotency_keys", purged.idempotency_keys),
            ("sessions", purged.sessions),
            ("account_tokens", purged.account_tokens),
        ],
    );
    if *purged != Purged::default() {
        tracing::info!(
            idempotency_keys = purged.idempotency_keys,
            sessions = purged.sessions,
            account_tokens = purged.account_tokens,
            "housekeeping purged expired rows"
        );
    }
}
