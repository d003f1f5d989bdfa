//! The notification worker: claims due jobs (`FOR UPDATE SKIP LOCKED`, the claim committed as a
//! lease before anything is sent), renders and sends them, marks them sent, or records the
//! error and retries with exponential backoff and jitter until the job is dead. Wakes on
//! `LISTEN/NOTIFY` and polls as a fallback; creates due digests and overdue notices; on
//! shutdown stops claiming, lets in-flight sends finish (within a grace period) and releases
//! the rest. Runs inside `tipsa serve` and as `tipsa worker`; any number may run at once.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use chrono::Utc;
use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, StreamExt};
use tokio::sync::{Notify, watch};
use tokio::time::Instant;
use uuid::Uuid;

use super::digest::DigestSchedule;
use super::job_data::{load_digest, load_tip, team_name};
use super::mail::{Mailer, scrub};
use super::messages::{self, Context, Envelope, Rendered};
use super::{JobKind, outbox, recipients};
use crate::config::{NotifySettings, Settings};
use crate::crypto::Crypto;
use crate::db::{self, DbPool};
use crate::domain::{Language, Taxonomy};
use crate::monitoring::Delivery;
use crate::triage::TriageRules;
use crate::triage::config::Team;

/// Everything a worker needs.
pub struct Notifier {
    pool: DbPool,
    database_url: String,
    settings: NotifySettings,
    teams: Vec<Team>,
    taxonomy: Arc<Taxonomy>,
    crypto: Arc<Crypto>,
    mailer: Mailer,
    schedule: DigestSchedule,
    timezone: chrono_tz::Tz,
    worker_id: String,
}

impl Notifier {
    /// Builds a worker with its own small pool (so mail never waits on web traffic, and web
    /// traffic never on mail).
    pub fn new(
        settings: &Settings,
        database_url: &str,
        rules: &TriageRules,
        taxonomy: Arc<Taxonomy>,
        crypto: Arc<Crypto>,
    ) -> anyhow::Result<Self> {
        let notify = settings.notify.clone();
        let mut database = settings.database.clone();
        database.pool_size = notify.concurrency + 2;
        let pool = db::build_pool(database_url, &database)?;
        let mailer = Mailer::from_settings(&notify, settings.mail_dir())?;
        let schedule = DigestSchedule::from_settings(&notify)?;
        let timezone = schedule.timezone;
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "tipsa".to_owned());
        let worker_id = format!(
            "{host}:{}:{}",
            std::process::id(),
            &Uuid::new_v4().simple().to_string()[..8]
        );
        Ok(Notifier {
            pool,
            database_url: database_url.to_owned(),
            settings: notify,
            teams: rules.teams.clone(),
            taxonomy,
            crypto,
            mailer,
            schedule,
            timezone,
            worker_id,
        })
    }

    /// Which worker this is (in logs and in `notification_jobs.locked_by`).
    pub fn worker_id(&self) -> &str {
        &self.worker_id
    }

    /// Starts the worker on the current runtime.
    pub fn spawn(self) -> WorkerHandle {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run(Arc::new(self), stopped));
        WorkerHandle { stop, task }
    }
}

/// A running worker.
pub struct WorkerHandle {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl WorkerHandle {
    /// Stops claiming, waits for in-flight sends (up to the grace period) and releases the rest.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        if let Err(error) = self.task.await {
            tracing::error!(error = %error, "the notification worker panicked");
        }
    }
}

/// The retry delay after `attempt` failed attempts: `base * 2^(attempt-1)`, at most `cap`, of
/// which half is fixed and half random (`jitter` in [0, 1)), so a burst of failures does not
/// come back all at once.
pub fn backoff_delay(attempt: u32, base_ms: u64, cap_ms: u64, jitter: f64) -> Duration {
    let exponent = attempt.saturating_sub(1).min(40);
    let full = base_ms
        .saturating_mul(1u64.checked_shl(exponent).unwrap_or(u64::MAX))
        .min(cap_ms);
    let half = full / 2;
    let random = (half as f64 * jitter.clamp(0.0, 1.0)) as u64;
    Duration::from_millis((full - half + random).max(1))
}

/// The worker loop until `stop` turns true.
pub async fn run(notifier: Arc<Notifier>, mut stop: watch::Receiver<bool>) {
    let n = &*notifier;
    tracing::info!(
        worker = %n.worker_id,
        transport = %n.mailer.describe(&n.settings),
        "notification worker started"
    );
    let wake = Arc::new(Notify::new());
    let listener = tokio::spawn(super::wake::listen(
        n.database_url.clone(),
        wake.clone(),
        stop.clone(),
    ));
    let concurrency = n.settings.concurrency;
    let poll = Duration::from_millis(n.settings.poll_interval_ms);
    let maintenance_every = Duration::from_secs(n.settings.maintenance_interval_seconds);
    let mut next_maintenance = Instant::now();
    let mut inflight = FuturesUnordered::new();
    let mut leases: HashMap<Uuid, Uuid> = HashMap::new();
    // A claim that failed may still have committed (its answer lost with the connection).
    let mut claim_may_be_lost = false;

    loop {
        if *stop.borrow() {
            break;
        }
        if Instant::now() >= next_maintenance {
            if let Err(error) = maintenance(n).await {
                tracing::warn!(error = %format!("{error:#}"), "notification maintenance failed");
            }
            next_maintenance = Instant::now() + maintenance_every;
        }
        let mut claimed_any = false;
        if claim_may_be_lost {
            let keep: Vec<Uuid> = leases.keys().copied().collect();
            match release_orphaned(n, &keep).await {
                Ok(freed) => {
                    claim_may_be_lost = false;
                    if freed > 0 {
                        tracing::info!(
                            freed,
                            "freed notification jobs whose claim was lost with the connection"
                        );
                    }
                }
                Err(error) => {
                    tracing::debug!(error = %format!("{error:#}"), "freeing lost claims failed; trying again");
                }
            }
        }
        if inflight.len() <= concurrency / 2 {
            let room = i64::try_from(concurrency - inflight.len()).unwrap_or(1);
            match claim(n, room).await {
                Ok(jobs) => {
                    claimed_any = !jobs.is_empty();
                    for job in jobs {
                        leases.insert(job.id, job.lease_token);
                        inflight.push(process(n, job));
                    }
                }
                Err(error) => {
                    claim_may_be_lost = true;
                    tracing::warn!(error = %format!("{error:#}"), "claiming notification jobs failed");
                }
            }
        }
        if inflight.is_empty() {
            let until_maintenance = next_maintenance.saturating_duration_since(Instant::now());
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(poll.min(until_maintenance)) => {}
                _ = stop.changed() => {}
            }
            continue;
        }
        if claimed_any && inflight.len() <= concurrency / 2 {
            // There may be more due work: claim again before waiting.
            continue;
        }
        tokio::select! {
            done = inflight.next() => {
                if let Some(first) = done {
                    // Whatever else has finished meanwhile is recorded with it.
                    let mut finished = vec![first];
                    while let Some(Some(more)) = inflight.next().now_or_never() {
                        finished.push(more);
                    }
                    settle(n, &mut leases, finished, &stop).await;
                }
            }
            _ = stop.changed() => {}
        }
    }

    // Shutdown: nothing new is claimed; in-flight sends get the grace period.
    let grace = Duration::from_secs(n.settings.shutdown_grace_seconds);
    let finished = tokio::time::timeout(grace, async {
        while let Some(done) = inflight.next().await {
            settle(n, &mut leases, vec![done], &stop).await;
        }
    })
    .await;
    drop(inflight);
    if finished.is_err() && !leases.is_empty() {
        let unfinished: Vec<(Uuid, Uuid)> = leases.into_iter().collect();
        match release(n, &unfinished).await {
            Ok(released) => tracing::info!(released, "released unfinished notification jobs"),
            Err(error) => tracing::warn!(
                error = %format!("{error:#}"),
                "releasing notification jobs failed; they are retried when their lease expires"
            ),
        }
    }
    listener.abort();
    tracing::info!(worker = %n.worker_id, "notification worker stopped");
}

async fn claim(n: &Notifier, limit: i64) -> anyhow::Result<Vec<outbox::ClaimedJob>> {
    let mut conn = n.pool.get().await.context("getting a connection")?;
    Ok(outbox::claim(&mut conn, &n.worker_id, limit, n.settings.lease_seconds).await?)
}

async fn release_orphaned(n: &Notifier, keep: &[Uuid]) -> anyhow::Result<usize> {
    let mut conn = n.pool.get().await.context("getting a connection")?;
    Ok(outbox::release_orphaned(&mut conn, &n.worker_id, keep).await?)
}

async fn release(n: &Notifier, jobs: &[(Uuid, Uuid)]) -> anyhow::Result<usize> {
    let mut conn = n.pool.get().await.context("getting a connection")?;
    Ok(outbox::release(&mut conn, jobs).await?)
}

/// Creates the latest slot's digests and overdue notices (idempotent; every worker may run it).
async fn maintenance(n: &Notifier) -> anyhow::Result<()> {
    let mut conn = n.pool.get().await.context("getting a connection")?;
    let digests = super::digest::enqueue_due(&mut conn, &n.schedule, Utc::now()).await?;
    let overdue =
        super::overdue::enqueue_overdue(&mut conn, n.settings.overdue_lookback_days).await?;
    crate::monitoring::digests_created(u64::try_from(digests).unwrap_or_default());
    if digests > 0 || overdue > 0 {
        tracing::info!(digests, overdue, "enqueued digests and overdue notices");
    }
    Ok(())
}

/// Listens for wake-ups; reconnects after a failure. Polling covers the gaps.
/// What became of one attempt.
enum Outcome {
    Sent,
    /// Nothing to send, for a reason that is not a failure.
    Skipped(&'static str),
    /// Retry later (or dead after the last attempt).
    Failed(String),
    /// Retrying cannot help (e.g. no address configured): dead at once, visible to admins.
    Unsendable(String),
}

/// One claimed job: deliver, then record the outcome. Returns the job id.
/// A job whose attempt is over. A sent job is recorded by `settle`, with the others that
/// finished at the same time; any other outcome is recorded by `process` itself.
struct Finished {
    id: Uuid,
    kind: String,
    /// The lease token of a job that was sent.
    sent: Option<Uuid>,
}

async fn process(n: &Notifier, job: outbox::ClaimedJob) -> Finished {
    let max_attempts = n.settings.max_attempts;
    let attempt = u32::try_from(job.attempts).unwrap_or(u32::MAX);
    let outcome = if job.reclaimed && attempt > max_attempts {
        Outcome::Unsendable("lease expired on the last attempt".into())
    } else {
        match deliver(n, &job).await {
            Ok(outcome) => outcome,
            Err(error) => Outcome::Failed(scrub(&format!("{error:#}"))),
        }
    };
    if matches!(outcome, Outcome::Sent) {
        return Finished {
            id: job.id,
            kind: job.kind,
            sent: Some(job.lease_token),
        };
    }
    for round in 0..3 {
        match record(n, &job, &outcome, attempt).await {
            Ok(()) => break,
            Err(error) => {
                tracing::warn!(
                    job_id = %job.id, kind = %job.kind, round,
                    error = %format!("{error:#}"),
                    "recording a notification's outcome failed"
                );
                tokio::time::sleep(Duration::from_millis(500 << round)).await;
            }
        }
    }
    Finished {
        id: job.id,
        kind: job.kind,
        sent: None,
    }
}

/// Forgets the leases of finished jobs and marks the sent ones sent, in one statement.
async fn settle(
    n: &Notifier,
    leases: &mut HashMap<Uuid, Uuid>,
    finished: Vec<Finished>,
    stop: &watch::Receiver<bool>,
) {
    for job in &finished {
        leases.remove(&job.id);
    }
    let sent: Vec<(Uuid, Uuid)> = finished
        .iter()
        .filter_map(|job| job.sent.map(|token| (job.id, token)))
        .collect();
    if sent.is_empty() {
        return;
    }
    // The messages are out: recording that is retried for as long as the leases may still be
    // ours (through a database restart or outage). Given up sooner, the jobs would be claimed
    // again when their leases ran out and every message sent a second time. On shutdown, a
    // few tries only (the grace period is short).
    let give_up_at = Instant::now() + Duration::from_secs(n.settings.lease_seconds);
    for round in 0u32.. {
        let marked = async {
            let mut conn = n.pool.get().await.context("getting a connection")?;
            Ok::<_, anyhow::Error>(outbox::mark_sent(&mut conn, &sent).await?)
        }
        .await;
        match marked {
            Ok(marked) => {
                for job in finished.iter().filter(|job| job.sent.is_some()) {
                    crate::monitoring::notification(&job.kind, Delivery::Sent);
                    if marked.contains(&job.id) {
                        tracing::debug!(job_id = %job.id, kind = %job.kind, "notification sent");
                    } else {
                        tracing::warn!(
                            job_id = %job.id, kind = %job.kind,
                            "notification sent after its lease ran out; another worker may send it too (same Message-ID)"
                        );
                    }
                }
                return;
            }
            Err(error) => {
                tracing::warn!(
                    jobs = sent.len(), round,
                    error = %format!("{error:#}"),
                    "recording sent notifications failed"
                );
                if Instant::now() >= give_up_at || (*stop.borrow() && round >= 2) {
                    tracing::warn!(
                        jobs = sent.len(),
                        "gave up recording sent notifications; they are sent again when their leases run out (same Message-ID)"
                    );
                    return;
                }
                let pause = Duration::from_millis(500 << round.min(3));
                tokio::time::sleep(pause.min(give_up_at.saturating_duration_since(Instant::now())))
                    .await;
            }
        }
    }
}

async fn record(
    n: &Notifier,
    job: &outbox::ClaimedJob,
    outcome: &Outcome,
    attempt: u32,
) -> anyhow::Result<()> {
    let mut conn = n.pool.get().await.context("getting a connection")?;
    match outcome {
        Outcome::Sent => {
            // `process` leaves sent jobs to `settle`; recorded the same way if one gets here.
            outbox::mark_sent(&mut conn, &[(job.id, job.lease_token)]).await?;
        }
        Outcome::Skipped(reason) => {
            outbox::mark_skipped(&mut conn, job.id, job.lease_token, reason).await?;
            tracing::info!(job_id = %job.id, kind = %job.kind, reason, "notification skipped");
        }
        Outcome::Failed(error) | Outcome::Unsendable(error) => {
            let unsendable = matches!(outcome, Outcome::Unsendable(_));
            let delay = backoff_delay(
                attempt,
                n.settings.backoff_base_ms,
                n.settings.backoff_cap_ms,
                rand::random::<f64>(),
            );
            let retry_at = Utc::now()
                + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::hours(1));
            let limit = if unsendable {
                0
            } else {
                n.settings.max_attempts
            };
            let state =
                outbox::mark_failed(&mut conn, job.id, job.lease_token, error, retry_at, limit)
                    .await?;
            if state.as_deref() == Some("dead") {
                crate::monitoring::notification(&job.kind, Delivery::Dead);
                tracing::error!(
                    job_id = %job.id, kind = %job.kind, attempt, error = %error,
                    "notification is dead; `tipsa notify retry` sends it again"
                );
            } else {
                crate::monitoring::notification(&job.kind, Delivery::Retried);
                tracing::warn!(
                    job_id = %job.id, kind = %job.kind, attempt, error = %error,
                    retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                    "sending a notification failed; it will be retried"
                );
            }
        }
    }
    Ok(())
}

/// Reads what the job needs (no connection is held while sending), renders it and sends it.
async fn deliver(n: &Notifier, job: &outbox::ClaimedJob) -> anyhow::Result<Outcome> {
    let Some(kind) = JobKind::parse(&job.kind) else {
        return Ok(Outcome::Unsendable(format!(
            "unknown job kind {:?}",
            job.kind
        )));
    };
    let inspector_language = if n.settings.language == "en" {
        Language::En
    } else {
        Language::Sv
    };
    let ctx = Context {
        taxonomy: &n.taxonomy,
        public_base_url: &n.settings.public_base_url,
        timezone: n.timezone,
    };
    let (rendered, to, team): (Rendered, Vec<String>, Option<String>) = {
        let mut conn = n.pool.get().await.context("getting a connection")?;
        if kind == JobKind::TeamDigest {
            let Some(team) = job.team.clone() else {
                return Ok(Outcome::Unsendable("a digest without a team".into()));
            };
            let tips = load_digest(&mut conn, job.id).await?;
            if tips.is_empty() {
                return Ok(Outcome::Skipped("the digest lists no tips"));
            }
            let rendered =
                messages::team_digest(&ctx, inspector_language, team_name(&n.teams, &team), &tips)?;
            (rendered, recipients::for_team(&n.teams, &team), Some(team))
        } else {
            let Some(tip_id) = job.tip_id else {
                return Ok(Outcome::Unsendable("the job names no tip".into()));
            };
            let Some(tip) = load_tip(&mut conn, tip_id).await? else {
                return Ok(Outcome::Skipped("the tip no longer exists"));
            };
            let team = tip.team.clone();
            let name = team_name(&n.teams, &team);
            match kind {
                JobKind::UrgentTip => (
                    messages::urgent_tip(&ctx, inspector_language, &tip.facts, name)?,
                    recipients::for_team(&n.teams, &team),
                    Some(team),
                ),
                JobKind::ReporterReplied => {
                    let (to, language) =
                        recipients::for_reply(&mut conn, &n.teams, &team, tip.assignee.as_deref())
                            .await?;
                    let language = match language.as_deref() {
                        Some("en") => Language::En,
                        Some(_) => Language::Sv,
                        None => inspector_language,
                    };
                    (
                        messages::reporter_replied(&ctx, language, &tip.facts)?,
                        to,
                        Some(team),
                    )
                }
                JobKind::DeadlineOverdue => {
                    if tip.status != "new" {
                        return Ok(Outcome::Skipped("the tip was taken up before the notice"));
                    }
                    (
                        messages::deadline_overdue(&ctx, inspector_language, &tip.facts, name)?,
                        recipients::for_leads(&n.teams, &team),
                        Some(team),
                    )
                }
                JobKind::ReporterAck => {
                    let sealed = tip
                        .contact_key_id
                        .as_deref()
                        .zip(tip.contact_ciphertext.as_deref());
                    let email = recipients::reporter_email(&n.crypto, tip.facts.id, sealed)
                        .map_err(|e| anyhow::anyhow!("opening the contact details: {e}"))?;
                    let Some(email) = email else {
                        return Ok(Outcome::Skipped("the reporter gave no email address"));
                    };
                    let language = if tip.language == "en" {
                        Language::En
                    } else {
                        Language::Sv
                    };
                    (
                        messages::reporter_ack(&ctx, language, &tip.facts.reference)?,
                        vec![email],
                        None,
                    )
                }
                JobKind::TeamDigest => {
                    return Ok(Outcome::Unsendable("a digest must name a team".into()));
                }
            }
        }
    };
    if to.is_empty() {
        return Ok(Outcome::Unsendable(
            "no notification addresses are configured for the team".into(),
        ));
    }
    let envelope = Envelope {
        job_id: job.id,
        kind: kind.as_str(),
        from: &n.settings.from,
        to: &to,
        domain: &n.settings.message_domain,
        team: team.as_deref(),
    };
    let message = match messages::build(&envelope, rendered) {
        Ok(message) => message,
        Err(error) => return Ok(Outcome::Unsendable(error.to_string())),
    };
    match n.mailer.send(message).await {
        Ok(()) => Ok(Outcome::Sent),
        Err(error) => Ok(Outcome::Failed(error.message)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_with_bounded_jitter() {
        let base = 1000;
        let cap = 60_000;
        assert_eq!(backoff_delay(1, base, cap, 0.0), Duration::from_millis(500));
        assert_eq!(
            backoff_delay(1, base, cap, 0.999_999),
            Duration::from_millis(999)
        );
        assert_eq!(
            backoff_delay(3, base, cap, 0.0),
            Duration::from_millis(2000)
        );
        assert_eq!(
            backoff_delay(30, base, cap, 0.0),
            Duration::from_millis(30_000)
        );
        assert_eq!(
            backoff_delay(200, base, cap, 1.0),
            Duration::from_millis(60_000)
        );
        for attempt in 1..20 {
            let low = backoff_delay(attempt, base, cap, 0.0);
            let high = backoff_delay(attempt, base, cap, 1.0);
            assert!(low <= high && high <= Duration::from_millis(cap));
        }
    }
}
