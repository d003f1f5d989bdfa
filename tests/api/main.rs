//! Integration tests: the real binary's application over real HTTP against real PostgreSQL,
//! each test in its own database copied from a migrated template.

mod browser;
mod cli;
mod conversation;
mod errors;
mod health;
mod helpers;
mod idempotency;
mod migrations;
mod notifications;
mod openapi;
mod privacy;
mod project_files;
mod queue;
mod submit_tip;
mod taxonomy;
mod web_pages;
