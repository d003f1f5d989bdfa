//! Tipsa: tip intake for a health and social care inspectorate.
//!
//! The HTTP edge (`api`) calls capabilities (`intake`, `auth`) and `db`; those use the pure
//! `domain`. See DESIGN.md §3 for how the parts fit.

pub mod access;
pub mod api;
pub mod attachments;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod client_address;
pub mod config;
pub mod conversation;
pub mod crypto;
pub mod db;
pub mod domain;
pub mod housekeeping;
pub mod intake;
pub mod monitoring;
pub mod multipart;
pub mod notify;
pub mod queue;
pub mod ratelimit;
pub mod records;
pub mod startup;
pub mod state;
pub mod stats;
pub mod telemetry;
pub mod triage;
pub mod web;
pub mod workflow;
