//! `AppState`: what every request handler shares (pool, keys, taxonomy, settings).

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{NaiveDate, Utc};

use crate::attachments::blob::BlobStore;
use crate::attachments::receive::Receiver;
use crate::auth::ApiKeyCache;
use crate::config::Settings;
use crate::crypto::Crypto;
use crate::db::{DbPool, PooledConnection};
use crate::domain::Taxonomy;
use crate::intake::batch::SubmissionBatcher;
use crate::notify::wake::WorkerWaker;
use crate::ratelimit::RateLimiter;
use crate::records::RecordsRules;
use crate::triage::TriageRules;
use crate::web::i18n::Translations;

pub struct AppState {
    pub pool: DbPool,
    pub crypto: Arc<Crypto>,
    pub taxonomy: Arc<Taxonomy>,
    /// Strong ETag of the serialised taxonomy (it only changes with a migration or a restart).
    pub taxonomy_etag: String,
    pub settings: Arc<Settings>,
    /// Migration versions this build expects in the database (readiness).
    pub expected_migrations: BTreeSet<String>,
    /// Budgets for the anonymous routes.
    pub rate_limiter: RateLimiter,
    /// Recently verified API keys.
    pub api_key_cache: ApiKeyCache,
    /// The public pages' texts.
    pub translations: Translations,
    /// Triage and routing rules, loaded and checked at start.
    pub triage: Arc<TriageRules>,
    /// Disposal rules and disclosure settings (`records.toml`), loaded and checked at start.
    pub records: Arc<RecordsRules>,
    /// Stores submitted tips, together when they arrive together.
    pub intake: SubmissionBatcher,
    /// Call after committing notification jobs that are due now.
    pub worker_waker: WorkerWaker,
    /// Cleans and stores uploaded files, a bounded number at a time.
    pub uploads: Receiver,
    /// Where attachments' sealed chunks are written, and the bucket to read them from.
    pub blobs: BlobStore,
    /// The OpenID providers inspectors sign in with, and the local sign-in policy.
    pub sso: Arc<crate::auth::oidc::Providers>,
}

impl AppState {
    /// A pooled connection; waiting too long is a pool error that the API answers with 503.
    pub async fn connection(
        &self,
    ) -> Result<PooledConnection, diesel_async::pooled_connection::deadpool::PoolError> {
        crate::db::checkout(&self.pool).await
    }

    /// Inspector session timeouts from configuration.
    pub fn session_lifetimes(&self) -> crate::auth::sessions::Lifetimes {
        crate::auth::sessions::Lifetimes {
            idle: chrono::Duration::minutes(self.settings.auth.session_idle_minutes),
            absolute: chrono::Duration::hours(self.settings.auth.session_absolute_hours),
        }
    }

    /// Per-account lock-out policy from configuration.
    pub fn lockout(&self) -> crate::auth::login::Lockout {
        crate::auth::login::Lockout {
            failures: self.settings.auth.login_failures_before_lockout,
            duration: chrono::Duration::minutes(self.settings.auth.lockout_minutes),
        }
    }
}

/// Today's date where the inspectorate is, for "not in the future" and reference years.
pub fn today_in_sweden() -> NaiveDate {
    Utc::now()
        .with_timezone(&chrono_tz::Europe::Stockholm)
        .date_naive()
}
