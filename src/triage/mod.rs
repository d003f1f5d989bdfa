//! Triage: rules from configuration (`config`), the pure evaluation (`rules`), the Swedish
//! working-day calendar for deadlines (`calendar`), and the database side — repeat signals,
//! clusters and re-triage (`apply`).

pub mod apply;
pub mod calendar;
pub mod config;
pub mod rules;

pub use config::TriageRules;
pub use rules::{RuleHit, TriageInput, TriageResult};
