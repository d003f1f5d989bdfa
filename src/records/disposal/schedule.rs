//! Scheduled disposal: beside the notification worker, in every process that has one, a run
//! now and then every `disposal.interval_minutes` (when `disposal.scheduled`), one at a time
//! across all nodes under the disposal lock — a process that finds it taken skips its turn.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use tokio::sync::watch;

use super::{Options, Quiet, RunReport, runs};
use crate::crypto::Crypto;
use crate::db::DbPool;
use crate::records::RecordsRules;

/// Who the audit log names for scheduled runs.
pub const ACTOR: &str = "system:disposal";

pub struct Scheduler {
    pool: DbPool,
    crypto: Arc<Crypto>,
    rules: Arc<RecordsRules>,
}

/// A running schedule.
pub struct SchedulerHandle {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl SchedulerHandle {
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        if let Err(error) = self.task.await {
            tracing::error!(error = %error, "the disposal schedule panicked");
        }
    }
}

impl Scheduler {
    /// `None` when `disposal.scheduled` is off.
    pub fn new(pool: DbPool, crypto: Arc<Crypto>, rules: Arc<RecordsRules>) -> Option<Self> {
        rules.disposal.scheduled.then_some(Scheduler {
            pool,
            crypto,
            rules,
        })
    }

    /// Runs now and then every interval, until shut down. A run in progress when the process
    /// is asked to stop is dropped mid-batch: its open batch rolls back, the next run carries
    /// on.
    pub fn spawn(self) -> SchedulerHandle {
        crate::monitoring::disposal_series(super::disposing_rules(&self.rules));
        let (stop, mut stopped) = watch::channel(false);
        let every = Duration::from_secs(self.rules.disposal.interval_minutes.saturating_mul(60));
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    result = self.round() => self.report(result),
                    _ = stopped.changed() => return,
                }
                self.observe_last_run().await;
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = stopped.changed() => return,
                }
            }
        });
        SchedulerHandle { stop, task }
    }

    /// One scheduled run as of now; `None` if another process holds the lock.
    pub async fn round(&self) -> anyhow::Result<Option<RunReport>> {
        let mut lock_conn = self.pool.get().await.context("getting a connection")?;
        let mut conn = self.pool.get().await.context("getting a connection")?;
        let options = Options {
            as_of: Utc::now(),
            batch_tips: self.rules.disposal.batch_tips,
            pause: Duration::from_millis(self.rules.disposal.pause_ms),
            actor: ACTOR.to_owned(),
        };
        super::run(
            &mut lock_conn,
            &mut conn,
            &self.crypto,
            &self.rules,
            &options,
            &mut Quiet,
        )
        .await
    }

    fn report(&self, result: anyhow::Result<Option<RunReport>>) {
        match result {
            Ok(Some(report)) => {
                crate::monitoring::disposal_run("ok", &report.per_rule);
                if report.disposed > 0 || report.skipped_held > 0 || report.skipped_requested > 0 {
                    tracing::info!(
                        run = %report.run_id,
                        disposed = report.disposed,
                        whole = report.whole,
                        skipped_held = report.skipped_held,
                        skipped_requested = report.skipped_requested,
                        left_busy = report.left_busy,
                        seconds = report.elapsed.as_secs_f64(),
                        "disposal run finished"
                    );
                }
            }
            Ok(None) => {
                crate::monitoring::disposal_run("skipped", &[]);
                tracing::debug!("disposal skipped: another process is running it");
            }
            Err(error) => {
                crate::monitoring::disposal_run("error", &[]);
                tracing::warn!(error = %format!("{error:#}"), "disposal failed; the next run carries on");
            }
        }
    }

    /// The last finished run anywhere (this node, another, the command line) for the gauge.
    async fn observe_last_run(&self) {
        let Ok(mut conn) = self.pool.get().await else {
            return;
        };
        if let Ok(Some(at)) = runs::last_finished(&mut conn).await {
            crate::monitoring::disposal_last_finished(at);
        }
    }
}
