//! Tip status as the inspectorate works it, and the coarse status the tipster sees.

use serde::Serialize;
use utoipa::ToSchema;

/// Where a tip is in the inspectorate's work (DESIGN §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TipStatus {
    New,
    InReview,
    AwaitingReporter,
    Closed,
}

impl TipStatus {
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "new" => TipStatus::New,
            "in_review" => TipStatus::InReview,
            "awaiting_reporter" => TipStatus::AwaitingReporter,
            "closed" => TipStatus::Closed,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TipStatus::New => "new",
            TipStatus::InReview => "in_review",
            TipStatus::AwaitingReporter => "awaiting_reporter",
            TipStatus::Closed => "closed",
        }
    }

    /// The statuses an inspector may move a tip to from this one (DESIGN §4:
    /// new → in_review → (awaiting_reporter ⇄ in_review) → closed).
    pub fn allowed_next(self) -> &'static [TipStatus] {
        match self {
            TipStatus::New => &[TipStatus::InReview],
            TipStatus::InReview => &[TipStatus::AwaitingReporter, TipStatus::Closed],
            TipStatus::AwaitingReporter => &[TipStatus::InReview, TipStatus::Closed],
            TipStatus::Closed => &[],
        }
    }

    /// What the tipster is told: nothing finer than this.
    pub fn for_reporter(self) -> ReporterStatus {
        match self {
            TipStatus::New => ReporterStatus::Received,
            TipStatus::InReview => ReporterStatus::UnderReview,
            TipStatus::AwaitingReporter => ReporterStatus::QuestionForYou,
            TipStatus::Closed => ReporterStatus::Closed,
        }
    }

    /// Status after the inspectorate asks the tipster a question (`None`: not allowed).
    pub fn after_question(self) -> Option<Self> {
        (self != TipStatus::Closed).then_some(TipStatus::AwaitingReporter)
    }

    /// Status after the tipster replies (`None`: not allowed). An answered question puts the
    /// tip back in review; a reply to a tip nobody has looked at yet leaves it new.
    pub fn after_reply(self) -> Option<Self> {
        match self {
            TipStatus::Closed => None,
            TipStatus::AwaitingReporter => Some(TipStatus::InReview),
            other => Some(other),
        }
    }
}

/// How a closed tip ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A supervision case was opened (tillsynsärende).
    CaseOpened,
    /// Kept as a signal for risk analysis.
    RiskSignal,
    /// Referred to another authority.
    Referred,
    NoAction,
    /// The same as another tip (`duplicate_of`).
    Duplicate,
}

impl Outcome {
    pub const ALL: [Outcome; 5] = [
        Outcome::CaseOpened,
        Outcome::RiskSignal,
        Outcome::Referred,
        Outcome::NoAction,
        Outcome::Duplicate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::CaseOpened => "case_opened",
            Outcome::RiskSignal => "risk_signal",
            Outcome::Referred => "referred",
            Outcome::NoAction => "no_action",
            Outcome::Duplicate => "duplicate",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == text)
    }
}

/// The coarse status shown on the follow-up page and API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReporterStatus {
    Received,
    UnderReview,
    QuestionForYou,
    Closed,
}

impl ReporterStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReporterStatus::Received => "received",
            ReporterStatus::UnderReview => "under_review",
            ReporterStatus::QuestionForYou => "question_for_you",
            ReporterStatus::Closed => "closed",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tipster_sees_four_coarse_states() {
        let all = [
            TipStatus::New,
            TipStatus::InReview,
            TipStatus::AwaitingReporter,
            TipStatus::Closed,
        ];
        let shown: Vec<&str> = all.iter().map(|s| s.for_reporter().as_str()).collect();
        assert_eq!(
            shown,
            ["received", "under_review", "question_for_you", "closed"]
        );
        for status in all {
            assert_eq!(TipStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(TipStatus::parse("open"), None);
    }

    #[test]
    fn transitions_follow_the_design() {
        use TipStatus::*;
        let table = [
            (New, vec![InReview]),
            (InReview, vec![AwaitingReporter, Closed]),
            (AwaitingReporter, vec![InReview, Closed]),
            (Closed, vec![]),
        ];
        for (from, to) in table {
            assert_eq!(from.allowed_next(), to.as_slice(), "from {from:?}");
        }
        for outcome in Outcome::ALL {
            assert_eq!(Outcome::parse(outcome.as_str()), Some(outcome));
        }
    }

    #[test]
    fn questions_and_replies_move_the_status() {
        assert_eq!(
            TipStatus::New.after_question(),
            Some(TipStatus::AwaitingReporter)
        );
        assert_eq!(
            TipStatus::InReview.after_question(),
            Some(TipStatus::AwaitingReporter)
        );
        assert_eq!(TipStatus::Closed.after_question(), None);
        assert_eq!(
            TipStatus::AwaitingReporter.after_reply(),
            Some(TipStatus::InReview)
        );
        assert_eq!(TipStatus::New.after_reply(), Some(TipStatus::New));
        assert_eq!(TipStatus::Closed.after_reply(), None);
    }
}
