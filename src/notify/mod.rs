//! Email notifications (DESIGN §6): the outbox written in the transactions that cause
//! notifications (`outbox`, `digest`, `overdue`), who receives them (`recipients`), what they say
//! (`messages`), how they travel (`mail`), the worker that delivers them (`worker`) and is woken
//! after a commit (`wake`), and what admins can do about jobs that failed for good (`admin`).
//!
//! Errors: `diesel::result::Error` for the enqueue functions (they compose in the caller's
//! transaction), `anyhow` in the worker.

pub mod admin;
pub mod digest;
mod job_data;
pub mod mail;
pub mod messages;
pub mod outbox;
pub mod overdue;
pub mod recipients;
pub mod wake;
pub mod worker;

/// What a job tells whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    /// A critical or high tip arrived: the team, at once.
    UrgentTip,
    /// Normal and low tips since the team's last digest, at the configured times.
    TeamDigest,
    /// The tipster answered: the assigned inspector, or the team.
    ReporterReplied,
    /// First review is overdue while the tip is still new: the team's leads.
    DeadlineOverdue,
    /// A receipt to an identified reporter who gave an email address (the reference only).
    ReporterAck,
}

impl JobKind {
    pub const ALL: [JobKind; 5] = [
        JobKind::UrgentTip,
        JobKind::TeamDigest,
        JobKind::ReporterReplied,
        JobKind::DeadlineOverdue,
        JobKind::ReporterAck,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::UrgentTip => "urgent_tip",
            JobKind::TeamDigest => "team_digest",
            JobKind::ReporterReplied => "reporter_replied",
            JobKind::DeadlineOverdue => "deadline_overdue",
            JobKind::ReporterAck => "reporter_ack",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        JobKind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// The channel workers LISTEN on; writers notify it after committing jobs due now (`wake`).
pub const WAKE_CHANNEL: &str = "tipsa_notification_jobs";
