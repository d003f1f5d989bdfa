//! Prometheus metrics: the process-wide recorder, the names and help texts of every metric
//! Tipsa exports, and one function per event that the rest of the code calls (so a metric's
//! name and labels live in one place). The `/metrics` listener is in `endpoint`, the HTTP
//! request instrumentation in `http`.
//!
//! Labels never carry ids, query strings, tip text or client data: only route templates,
//! status codes and values from closed sets (channels, priorities, job kinds, rule names).

pub mod endpoint;
pub mod http;

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::triage::TriageResult;

/// Which kind of process is reporting (`tipsa_build_info{role}`).
#[derive(Debug, Clone, Copy)]
pub enum Role {
    Serve,
    Worker,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Role::Serve => "serve",
            Role::Worker => "worker",
        }
    }
}

/// The recorder is process-wide (the `metrics` facade allows one); installed on first use.
static RECORDER: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Request latency buckets (seconds): from a cached page to a slow upload.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// Tips per group-commit batch (`intake.batch_max_tips` is 32 by default).
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0];

/// Installs the recorder (once per process) and records this process's build info. Returns
/// the handle that renders the text format, or `None` if the recorder could not be installed.
pub fn install(role: Role) -> Option<PrometheusHandle> {
    let handle = RECORDER
        .get_or_init(|| {
            let built = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("tipsa_http_request_duration_seconds".into()),
                    LATENCY_BUCKETS,
                )
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("tipsa_intake_batch_size".into()),
                        BATCH_BUCKETS,
                    )
                })
                .and_then(|b| b.install_recorder());
            match built {
                Ok(handle) => {
                    describe();
                    start_series_at_zero();
                    spawn_upkeep(handle.clone());
                    Some(handle)
                }
                Err(error) => {
                    tracing::error!(error = %error, "installing the metrics recorder failed");
                    None
                }
            }
        })
        .clone();
    gauge!("tipsa_build_info", "version" => env!("CARGO_PKG_VERSION"), "role" => role.as_str())
        .set(1.0);
    handle
}

/// Histograms keep their samples until upkeep folds them into buckets; without the exporter's
/// own listener that is ours to run.
fn spawn_upkeep(handle: PrometheusHandle) {
    let run = move || {
        loop {
            std::thread::sleep(Duration::from_secs(5));
            handle.run_upkeep();
        }
    };
    if let Err(error) = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(run)
    {
        tracing::warn!(error = %error, "starting the metrics upkeep thread failed");
    }
}

/// HELP texts, so a dashboard author sees what each series means.
fn describe() {
    describe_gauge!(
        "tipsa_build_info",
        "Always 1; labels name the version and the process role."
    );
    describe_counter!(
        "tipsa_http_requests_total",
        "HTTP requests answered, by method, route template and status."
    );
    describe_histogram!(
        "tipsa_http_request_duration_seconds",
        "Time to answer an HTTP request, by method and route template."
    );
    describe_counter!(
        "tipsa_tips_stored_total",
        "Tips committed, by channel and triaged priority."
    );
    describe_histogram!(
        "tipsa_intake_batch_size",
        "Tips stored per group-commit batch."
    );
    describe_gauge!(
        "tipsa_intake_lane_queue_length",
        "Tips waiting for their group-commit lane, per lane."
    );
    describe_counter!(
        "tipsa_triage_rule_hits_total",
        "Triage rules that raised a stored tip's priority, by rule."
    );
    describe_gauge!(
        "tipsa_outbox_pending_jobs",
        "Notification jobs not yet sent, by kind (database-wide: aggregate with max)."
    );
    describe_gauge!(
        "tipsa_outbox_dead_jobs",
        "Notification jobs that failed for good, by kind (database-wide: aggregate with max)."
    );
    describe_gauge!(
        "tipsa_outbox_oldest_pending_age_seconds",
        "Age of the oldest pending notification job, by kind (database-wide)."
    );
    describe_counter!(
        "tipsa_notifications_sent_total",
        "Notifications this process handed to the mail server, by kind."
    );
    describe_counter!(
        "tipsa_notifications_retried_total",
        "Failed sends that will be retried, by kind."
    );
    describe_counter!(
        "tipsa_notifications_dead_total",
        "Notifications given up on (dead), by kind."
    );
    describe_counter!(
        "tipsa_digest_runs_total",
        "Team digests created at their slots."
    );
    describe_gauge!(
        "tipsa_db_pool_max_size",
        "The database pool's configured size."
    );
    describe_gauge!("tipsa_db_pool_size", "Connections the pool holds open.");
    describe_gauge!("tipsa_db_pool_in_use", "Pooled connections in use.");
    describe_gauge!(
        "tipsa_db_pool_waiting",
        "Tasks waiting for a pooled connection."
    );
    describe_counter!(
        "tipsa_db_pool_timeouts_total",
        "Waits for a pooled connection that timed out or failed (answered 503)."
    );
    describe_counter!(
        "tipsa_scrape_database_errors_total",
        "Scrapes that could not read the outbox from the database."
    );
    describe_counter!(
        "tipsa_login_failures_total",
        "Wrong passwords or second-factor codes."
    );
    describe_counter!(
        "tipsa_login_lockouts_total",
        "Accounts locked after too many failures."
    );
    describe_counter!(
        "tipsa_rate_limit_refusals_total",
        "Requests refused by a rate limit, by limit."
    );
    describe_counter!(
        "tipsa_housekeeping_runs_total",
        "Housekeeping rounds, by result (skipped: another process held the lock)."
    );
    describe_counter!(
        "tipsa_housekeeping_purged_total",
        "Expired rows removed by housekeeping, by kind."
    );
    describe_gauge!(
        "tipsa_housekeeping_last_success_timestamp_seconds",
        "Unix time of the last successful housekeeping round in this process."
    );
    describe_counter!(
        "tipsa_attachment_scans_total",
        "Virus scans of attachments, by verdict."
    );
    describe_counter!(
        "tipsa_records_disposed_total",
        "Tips disposed of by this process's scheduled disposal runs, by rule."
    );
    describe_counter!(
        "tipsa_records_disposal_runs_total",
        "Scheduled disposal runs, by result (skipped: another process held the lock)."
    );
    describe_gauge!(
        "tipsa_records_disposal_last_run_timestamp_seconds",
        "Unix time the last disposal run finished, on any node or from the command line (0 until known)."
    );
}

/// Counters with a closed set of labels exist from the start, at zero: `rate()` and `increase()`
/// then see the first event, and an alert on a series that has never moved still has a series.
fn start_series_at_zero() {
    for kind in crate::notify::JobKind::ALL.map(crate::notify::JobKind::as_str) {
        counter!("tipsa_notifications_sent_total", "kind" => kind).absolute(0);
        counter!("tipsa_notifications_retried_total", "kind" => kind).absolute(0);
        counter!("tipsa_notifications_dead_total", "kind" => kind).absolute(0);
    }
    for channel in ["web", "api"] {
        for priority in ["critical", "high", "normal", "low"] {
            counter!("tipsa_tips_stored_total", "channel" => channel, "priority" => priority)
                .absolute(0);
        }
    }
    for limit in ["submit_tip", "receipt_code", "login"] {
        counter!("tipsa_rate_limit_refusals_total", "limit" => limit).absolute(0);
    }
    for result in ["ok", "error", "skipped"] {
        counter!("tipsa_housekeeping_runs_total", "result" => result).absolute(0);
    }
    for kind in ["idempotency_keys", "sessions", "account_tokens"] {
        counter!("tipsa_housekeeping_purged_total", "kind" => kind).absolute(0);
    }
    for result in ["ok", "error", "skipped"] {
        counter!("tipsa_records_disposal_runs_total", "result" => result).absolute(0);
    }
    for verdict in ["clean", "infected", "error"] {
        counter!("tipsa_attachment_scans_total", "verdict" => verdict).absolute(0);
    }
    for name in [
        "tipsa_digest_runs_total",
        "tipsa_db_pool_timeouts_total",
        "tipsa_scrape_database_errors_total",
        "tipsa_login_failures_total",
        "tipsa_login_lockouts_total",
    ] {
        counter!(name).absolute(0);
    }
}

/// A tip was committed (called after the commit, so rolled-back tips are not counted).
pub fn tip_stored(channel: &'static str, triage: &TriageResult) {
    counter!("tipsa_tips_stored_total", "channel" => channel, "priority" => triage.priority.as_str())
        .increment(1);
    for hit in &triage.hits {
        counter!("tipsa_triage_rule_hits_total", "rule" => hit.rule.clone()).increment(1);
    }
}

/// A group-commit lane took a batch.
pub fn batch_taken(tips: usize) {
    histogram!("tipsa_intake_batch_size").record(tips as f64);
}

/// A wait for a pooled connection failed (timeout, or the database refused a new connection).
pub fn pool_wait_failed() {
    counter!("tipsa_db_pool_timeouts_total").increment(1);
}

/// A rate limit refused a request (`limit`: submit_tip, receipt_code, login).
pub fn rate_limited(limit: &'static str) {
    counter!("tipsa_rate_limit_refusals_total", "limit" => limit).increment(1);
}

/// A wrong password or code; `locked` if it used up the account's budget.
pub fn login_failed(locked: bool) {
    counter!("tipsa_login_failures_total").increment(1);
    if locked {
        counter!("tipsa_login_lockouts_total").increment(1);
    }
}

/// How a notification attempt ended.
#[derive(Debug, Clone, Copy)]
pub enum Delivery {
    Sent,
    Retried,
    Dead,
}

pub fn notification(kind: &str, delivery: Delivery) {
    let kind = kind.to_owned();
    match delivery {
        Delivery::Sent => counter!("tipsa_notifications_sent_total", "kind" => kind),
        Delivery::Retried => counter!("tipsa_notifications_retried_total", "kind" => kind),
        Delivery::Dead => counter!("tipsa_notifications_dead_total", "kind" => kind),
    }
    .increment(1);
}

/// Team digests created at a slot.
pub fn digests_created(count: u64) {
    counter!("tipsa_digest_runs_total").increment(count);
}

/// A virus scan's verdict (`clean`, `infected`, `error`).
pub fn attachment_scanned(verdict: &'static str) {
    counter!("tipsa_attachment_scans_total", "verdict" => verdict).increment(1);
}

/// A housekeeping round: its result, and how many rows of each kind it removed.
pub fn housekeeping_round(result: &'static str, purged: &[(&'static str, u64)]) {
    counter!("tipsa_housekeeping_runs_total", "result" => result).increment(1);
    for (kind, rows) in purged {
        counter!("tipsa_housekeeping_purged_total", "kind" => *kind).increment(*rows);
    }
    if result == "ok" {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or_default();
        gauge!("tipsa_housekeeping_last_success_timestamp_seconds").set(now);
    }
}

/// The disposal series of a process that runs disposal on a schedule: one counter per
/// disposing rule at zero, and the last-run gauge at 0 until the first run reads it.
pub fn disposal_series<'a>(rules: impl IntoIterator<Item = &'a str>) {
    for rule in rules {
        counter!("tipsa_records_disposed_total", "rule" => rule.to_owned()).absolute(0);
    }
    gauge!("tipsa_records_disposal_last_run_timestamp_seconds").set(0.0);
}

/// A scheduled disposal run: its result, and the tips it disposed of per rule.
pub fn disposal_run(result: &'static str, per_rule: &[(String, u64)]) {
    counter!("tipsa_records_disposal_runs_total", "result" => result).increment(1);
    for (rule, tips) in per_rule {
        counter!("tipsa_records_disposed_total", "rule" => rule.clone()).increment(*tips);
    }
}

/// When the last disposal run anywhere finished (read from `disposal_runs`).
pub fn disposal_last_finished(at: chrono::DateTime<chrono::Utc>) {
    gauge!("tipsa_records_disposal_last_run_timestamp_seconds")
        .set(at.timestamp_micros() as f64 / 1e6);
}
