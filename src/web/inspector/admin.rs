//! The admin pages: people, API keys, the loaded triage and routing configuration, and the
//! audit log.

use actix_web::web;

/// Registers the admin pages.
pub fn configure(_cfg: &mut web::ServiceConfig) {}
