//! Priority of a tip: how soon the inspectorate must look at it.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Low,
    Normal,
    High,
    Critical,
}

impl Priority {
    pub const ALL: [Priority; 4] = [
        Priority::Critical,
        Priority::High,
        Priority::Normal,
        Priority::Low,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Critical => "critical",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Priority::ALL.into_iter().find(|p| p.as_str() == text)
    }

    /// Sort key for the queue: 0 for critical (first) to 3 for low.
    pub fn rank(self) -> i16 {
        match self {
            Priority::Critical => 0,
            Priority::High => 1,
            Priority::Normal => 2,
            Priority::Low => 3,
        }
    }

    /// `steps` levels more urgent, at most critical.
    pub fn raised(self, steps: u32) -> Self {
        let level = match self {
            Priority::Low => 0,
            Priority::Normal => 1,
            Priority::High => 2,
            Priority::Critical => 3,
        };
        match (level + steps).min(3) {
            0 => Priority::Low,
            1 => Priority::Normal,
            2 => Priority::High,
            _ => Priority::Critical,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raising_stops_at_critical_and_ranks_sort_most_urgent_first() {
        assert_eq!(Priority::Low.raised(1), Priority::Normal);
        assert_eq!(Priority::Normal.raised(2), Priority::Critical);
        assert_eq!(Priority::High.raised(5), Priority::Critical);
        assert_eq!(Priority::Normal.raised(0), Priority::Normal);
        let mut by_rank = Priority::ALL.to_vec();
        by_rank.sort_by_key(|p| -p.rank());
        assert_eq!(by_rank.last(), Some(&Priority::Critical));
        for p in Priority::ALL {
            assert_eq!(Priority::parse(p.as_str()), Some(p));
        }
    }
}
