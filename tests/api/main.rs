//! Integration tests: the real binary's application over real HTTP against real PostgreSQL,
//! each test in its own database copied from a migrated template.

mod admin_pages;
mod attachments;
mod attachments_browser;
mod attachments_forms;
mod attachments_refused;
mod attachments_s3;
mod attachments_scan;
mod browser;
mod clamd;
mod cli;
mod cli_accounts;
mod cluster;
mod conversation;
mod errors;
mod files;
mod health;
mod helpers;
mod idempotency;
mod inspector;
mod inspector_browser;
mod intake_batch;
mod migrations;
mod nodes;
mod notifications;
mod openapi;
mod people;
mod policy_matrix;
mod privacy;
mod project_files;
mod queue;
mod s3;
mod stats;
mod submit_tip;
mod taxonomy;
mod web_pages;
