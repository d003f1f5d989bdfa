//! Disposal (gallring) of closed tips by the rules in `records.toml`, evaluated as of an
//! instant (normally now): every closed tip whose first matching rule disposes of it and whose
//! period has run out is disposed of — its content, or the whole tip — in batches of
//! `disposal.batch_tips`, each batch one transaction with one audit row per tip. Tips with a
//! legal hold (on the tip or its cluster) or in an undecided public-records request are never
//! touched; open tips are never candidates.
//!
//! One run at a time across all nodes (a PostgreSQL advisory lock); a run that dies leaves its
//! committed batches and a `disposal_runs` row without `finished_at`, and the next run carries
//! on, since what is due is read from the tips' state, not from the dead run's bookkeeping.

mod apply;
pub mod runs;
pub mod schedule;
pub mod select;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use uuid::Uuid;

pub use select::{DueRules, DueTip, RuleCounts};

use crate::crypto::Crypto;
use crate::records::{RecordsRules, Removal};

/// How to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// The instant the periods are measured at (never later than now for a real run).
    pub as_of: DateTime<Utc>,
    /// Tips per transaction.
    pub batch_tips: i64,
    /// Wait between batches, leaving the database to other work.
    pub pause: Duration,
    /// Who the audit log names: `cli:records-dispose`, `system:disposal`.
    pub actor: String,
}

/// Told as the run goes (the command line's progress bar).
pub trait Progress: Send {
    /// Before the first batch: the tips due and free to go.
    fn start(&mut self, _due: u64) {}
    /// After each committed batch: the tips it disposed of.
    fn advance(&mut self, _disposed: u64) {}
}

/// No progress reporting (the worker).
pub struct Quiet;

impl Progress for Quiet {}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct RunReport {
    pub run_id: Uuid,
    /// Tips disposed of, per rule, in the rules' order (rules that disposed of none included).
    pub per_rule: Vec<(String, u64)>,
    /// Of those, removed whole.
    pub whole: u64,
    pub disposed: u64,
    /// Due but held (tip or cluster), and due but in an undecided records request.
    pub skipped_held: i64,
    pub skipped_requested: i64,
    /// Due and free, but in use by another transaction when their batch came: left for the
    /// next run.
    pub left_busy: u64,
    pub elapsed: Duration,
}

impl RunReport {
    /// Tips disposed of per second of the run.
    pub fn rate(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds > 0.0 {
            self.disposed as f64 / seconds
        } else {
            0.0
        }
    }
}

/// Runs disposal. `lock_conn` holds the advisory lock in an open transaction for the whole run
/// (if this process dies, the lock goes with its connection); the work is done on `conn`.
/// `Ok(None)`: another run holds the lock, nothing was done.
pub async fn run(
    lock_conn: &mut AsyncPgConnection,
    conn: &mut AsyncPgConnection,
    crypto: &Crypto,
    rules: &RecordsRules,
    options: &Options,
    progress: &mut (dyn Progress + Send),
) -> anyhow::Result<Option<RunReport>> {
    lock_conn
        .transaction::<_, anyhow::Error, _>(async |lock_conn| {
            if !runs::try_lock(lock_conn)
                .await
                .context("taking the disposal lock")?
            {
                return Ok(None);
            }
            locked_run(conn, crypto, rules, options, progress)
                .await
                .map(Some)
        })
        .await
}

async fn locked_run(
    conn: &mut AsyncPgConnection,
    crypto: &Crypto,
    rules: &RecordsRules,
    options: &Options,
    progress: &mut (dyn Progress + Send),
) -> anyhow::Result<RunReport> {
    let started = Instant::now();
    let due = DueRules::at(rules, options.as_of);
    let run_id = runs::start(conn, &options.actor, options.as_of)
        .await
        .context("recording the start of the run")?;
    let before = select::count(conn, &due)
        .await
        .context("counting the tips due")?;
    progress.start(before.iter().map(|c| c.due.max(0) as u64).sum());

    let mut per_rule: BTreeMap<String, u64> = BTreeMap::new();
    let mut report = RunReport {
        run_id,
        ..RunReport::default()
    };
    let context = apply::RunContext {
        run_id,
        actor: &options.actor,
    };
    let mut cursor = select::scan_start();
    loop {
        let outcome = apply::batch(conn, crypto, &due, cursor, options.batch_tips, &context)
            .await
            .with_context(|| format!("disposing of a batch (run {run_id})"))?;
        let Some(next) = outcome.next else { break };
        cursor = next;
        for (rule, removes) in &outcome.disposed {
            *per_rule.entry(rule.clone()).or_default() += 1;
            if *removes == Removal::Whole {
                report.whole += 1;
            }
        }
        report.disposed += outcome.disposed.len() as u64;
        progress.advance(outcome.disposed.len() as u64);
        if !options.pause.is_zero() {
            tokio::time::sleep(options.pause).await;
        }
    }

    let after = select::count(conn, &due)
        .await
        .context("counting what the run left")?;
    report.skipped_held = after.iter().map(|c| c.held).sum();
    report.skipped_requested = after.iter().map(|c| c.requested).sum();
    report.left_busy = after.iter().map(|c| c.due.max(0) as u64).sum();
    runs::finish(conn, run_id, report.skipped_held, report.skipped_requested)
        .await
        .context("recording the end of the run")?;
    report.per_rule = disposing_rules(rules)
        .map(|name| {
            let count = per_rule.get(name).copied().unwrap_or(0);
            (name.to_owned(), count)
        })
        .collect();
    report.elapsed = started.elapsed();
    Ok(report)
}

/// The names of the rules that dispose, in order.
pub fn disposing_rules(rules: &RecordsRules) -> impl Iterator<Item = &str> {
    rules
        .rules
        .iter()
        .filter(|r| matches!(r.action, crate::records::RuleAction::Dispose { .. }))
        .map(|r| r.name.as_str())
}

/// What a run as of `as_of` would do, per disposing rule (in the rules' order).
pub async fn plan(
    conn: &mut AsyncPgConnection,
    rules: &RecordsRules,
    as_of: DateTime<Utc>,
) -> diesel::QueryResult<Vec<RuleCounts>> {
    let counts = select::count(conn, &DueRules::at(rules, as_of)).await?;
    Ok(disposing_rules(rules)
        .map(|name| {
            counts
                .iter()
                .find(|c| c.rule == name)
                .cloned()
                .unwrap_or_else(|| RuleCounts {
                    rule: name.to_owned(),
                    ..RuleCounts::default()
                })
        })
        .collect())
}

/// Every tip a run as of `as_of` would dispose of, in closure order, a page at a time (a dry
/// run's listing): `visit` is called with each page.
pub async fn list_due(
    conn: &mut AsyncPgConnection,
    rules: &RecordsRules,
    as_of: DateTime<Utc>,
    page: i64,
    mut visit: impl FnMut(&[DueTip]),
) -> diesel::QueryResult<()> {
    let due = DueRules::at(rules, as_of);
    let mut after = select::scan_start();
    loop {
        let tips = select::due_page(conn, &due, after, page).await?;
        let Some(last) = tips.last() else {
            return Ok(());
        };
        after = (last.closed_at, last.id);
        visit(&tips);
    }
}
