//! Records management under Swedish law: tips are public records (allmänna handlingar), kept
//! or disposed of (gallrade) by the rules in `records.toml`, held from disposal by a legal
//! hold, disclosed on request with secret passages withheld, and exported to the archive.

pub mod archive;
pub mod disclosure_copy;
pub mod disposal;
pub mod hold;
pub mod hold_access;
pub mod redaction;
pub mod request;
pub mod request_list;
pub mod review;
pub mod rules;

pub use rules::{
    ArchiveSettings, DisclosureSettings, LegalGround, RecordsRules, Removal, Rule, RuleAction,
};
