//! Typed settings, layered from the compiled-in `config/default.toml`, optional files in the
//! configuration directory and `TIPSA__…` environment variables.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use secrecy::SecretString;
use serde::Deserialize;

mod attachments;
mod housekeeping;
mod metrics;
mod oidc;

pub use attachments::{
    AttachmentSettings, S3Settings, ScannerSettings, StorageKind, StorageSettings,
};
pub use housekeeping::HousekeepingSettings;
pub use metrics::MetricsSettings;
pub use oidc::{ClaimNames, GroupMapping, LocalLogin, OidcSettings, ProviderSettings};

/// The defaults, compiled in so the binary runs from any directory.
const DEFAULT_TOML: &str = include_str!("../../config/default.toml");

/// Everything Tipsa can be configured with. Secrets are `SecretString`s so they never print.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Development allows the embedded defaults; production insists on real settings.
    pub environment: DeploymentEnvironment,
    /// Where the embedded defaults keep their state (local cluster, generated keys).
    pub var_dir: PathBuf,
    /// The directory the files were read from (`triage.toml` and `routing.toml` live there too).
    #[serde(skip)]
    pub config_dir: PathBuf,
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub embedded_postgres: EmbeddedPostgresSettings,
    pub secrets: SecretSettings,
    pub auth: AuthSettings,
    pub public: PublicSettings,
    pub log: LogSettings,
    pub intake: IntakeSettings,
    pub notify: NotifySettings,
    pub stats: StatsSettings,
    pub attachments: AttachmentSettings,
    pub metrics: MetricsSettings,
    pub housekeeping: HousekeepingSettings,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeploymentEnvironment {
    Development,
    Production,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    /// Address to listen on.
    pub host: String,
    /// Port to listen on; 0 picks a free one (tests).
    pub port: u16,
    /// Largest accepted request body; larger ones get 413.
    pub body_limit_bytes: usize,
    /// HTTP worker threads; 0 means one per CPU core.
    pub workers: usize,
    /// On SIGTERM/SIGINT: how long in-flight requests (and the group-commit batches they wait
    /// for) may take to finish after the listener is closed, before the workers are stopped.
    pub shutdown_grace_seconds: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// PostgreSQL URL; `None` starts the embedded local cluster.
    pub url: Option<SecretString>,
    /// Connections in the pool.
    pub pool_size: usize,
    /// How long a request waits for a pooled connection before answering 503.
    pub acquire_timeout_ms: u64,
    /// How long opening a new connection may take.
    pub connect_timeout_ms: u64,
    /// `statement_timeout` set on every pooled connection.
    pub statement_timeout_ms: u64,
    /// `work_mem` set on every pooled connection (e.g. "16MB").
    pub work_mem: String,
    /// Run pending migrations when `serve` starts.
    pub migrate_on_start: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbeddedPostgresSettings {
    /// Directory holding `initdb` and `pg_ctl`; `None` searches PATH and /usr/lib/postgresql.
    pub bin_dir: Option<PathBuf>,
    /// Unprivileged system user that owns and runs the cluster when Tipsa runs as root.
    pub run_as_user: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretSettings {
    /// Key for the receipt-code HMAC (base64, 32 bytes).
    pub receipt_hmac_key: Option<SecretString>,
    /// Id of the contact key used for new encryptions.
    pub active_contact_key: Option<String>,
    /// Contact-detail encryption keys by id (base64, 32 bytes); old ids stay for decryption.
    #[serde(default)]
    pub contact_keys: BTreeMap<String, SecretString>,
    /// Id of the attachment key used for new files.
    pub active_attachment_key: Option<String>,
    /// Attachment encryption keys by id (base64, 32 bytes); old ids stay for decryption.
    #[serde(default)]
    pub attachment_keys: BTreeMap<String, SecretString>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// How long a verified API key is remembered in memory (0: never).
    pub api_key_cache_seconds: u64,
    /// An inspector session ends after this long without a request.
    pub session_idle_minutes: i64,
    /// …and after this long in any case.
    pub session_absolute_hours: i64,
    /// Wrong passwords or codes in a row before an account is locked for a while.
    pub login_failures_before_lockout: i32,
    pub lockout_minutes: i64,
    /// Login attempts per client address and window (the public rate-limit window).
    pub login_attempts_per_window: u32,
    /// Single sign-on with OpenID Connect.
    pub oidc: OidcSettings,
}

/// The anonymous, public side: rate limits and the follow-up session.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicSettings {
    /// Tip submissions per client address and window.
    pub submit_tip_per_window: u32,
    /// Receipt-code attempts per client address and window.
    pub receipt_code_attempts_per_window: u32,
    pub rate_limit_window_minutes: u64,
    /// Use X-Forwarded-For as the client address (only behind a trusted proxy).
    pub trust_forwarded_for: bool,
    /// Lifetime of the follow-up session cookie after a correct receipt code.
    pub followup_session_minutes: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub format: LogFormat,
    /// A tracing `EnvFilter` directive; `RUST_LOG` overrides it.
    pub filter: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Auto,
    Pretty,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntakeSettings {
    /// How long an `Idempotency-Key` (and the sealed response it replays) is kept.
    pub idempotency_ttl_hours: u32,
    /// Submissions arriving together are stored together (`intake::batch`): how many batches
    /// may be stored at once, each on its own pooled connection; 0 stores every tip on its
    /// own, in its request.
    pub batch_lanes: usize,
    /// The most tips stored in one batch.
    pub batch_max_tips: usize,
    /// How tips find a lane: "by_facility" (one queue per lane) or "shared" (one queue).
    pub batch_queue: crate::intake::batch::QueueKind,
    /// Outbreak tags a tip may carry.
    #[serde(default)]
    pub outbreaks: Vec<OutbreakSettings>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct OutbreakSettings {
    pub code: String,
    pub label_sv: String,
    pub label_en: String,
}

/// The situation report (lägesbild) and `GET /api/v1/stats`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatsSettings {
    /// Cells counting 1 to this minus one tips are shown as "<threshold" to everyone but
    /// triage leads (primary suppression), plus the cells that would give them away.
    pub suppression_threshold: i64,
}

/// Email notifications: the outbox worker, the mail transport and the messages (DESIGN §6).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifySettings {
    /// Run the notification worker inside `tipsa serve` (`tipsa worker` runs it alone).
    pub worker_in_serve: bool,
    /// `file` writes .eml files (the embedded default); `smtp` sends through `notify.smtp`.
    pub transport: MailTransportKind,
    /// Directory for the file transport; `None` means `var_dir/mail`.
    pub file_dir: Option<PathBuf>,
    /// The From address of every notification.
    pub from: String,
    /// Base of the links in emails: `{public_base_url}/inspektor/tips/{id}`.
    pub public_base_url: String,
    /// Domain in `Message-ID: <job-id@domain>` and `List-Id`.
    pub message_domain: String,
    /// Language of emails to inspectors (`sv` or `en`) until users have a preference.
    pub language: String,
    /// Local times (HH:MM, in `timezone`) when each team's digest of normal and low tips goes out.
    pub digest_times: Vec<String>,
    /// IANA time zone of `digest_times` and of the deadlines shown in emails.
    pub timezone: String,
    /// Attempts before a job is dead (shown to admins, retried by hand).
    pub max_attempts: u32,
    /// First retry delay; doubles per attempt up to `backoff_cap_ms`, with jitter.
    pub backoff_base_ms: u64,
    pub backoff_cap_ms: u64,
    /// How long a claimed job is reserved for its worker; a crashed worker's jobs are picked
    /// up again after this. Must exceed the SMTP timeout.
    pub lease_seconds: u64,
    /// Fallback poll when no LISTEN/NOTIFY wake-up arrives.
    pub poll_interval_ms: u64,
    /// How often the worker creates due digests and overdue notices.
    pub maintenance_interval_seconds: u64,
    /// Tips whose first review fell due longer ago than this get no overdue notice.
    pub overdue_lookback_days: u32,
    /// Messages sent at once by one worker.
    pub concurrency: usize,
    /// On shutdown, how long in-flight sends may take before their leases are released.
    pub shutdown_grace_seconds: u64,
    pub smtp: SmtpSettings,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailTransportKind {
    File,
    Smtp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain SMTP (a relay on localhost or a test server only).
    None,
    /// STARTTLS, required (port 587).
    Starttls,
    /// Implicit TLS (port 465).
    Tls,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub username: Option<String>,
    pub password: Option<SecretString>,
    /// Timeout of each SMTP command (connect, greeting, DATA…).
    pub timeout_seconds: u64,
    /// Connections kept open to the server.
    pub pool_size: u32,
}

impl Settings {
    /// Loads settings: compiled-in defaults, then `<dir>/<TIPSA_ENV>.toml` and `<dir>/local.toml`
    /// if present (dir = `TIPSA_CONFIG_DIR`, default `config`), then `TIPSA__*` variables.
    pub fn load() -> anyhow::Result<Self> {
        let dir = std::env::var_os("TIPSA_CONFIG_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("config"));
        let env_name = std::env::var("TIPSA_ENV").unwrap_or_else(|_| "development".to_owned());
        Self::load_from(&dir, &env_name, true)
    }

    /// Loads settings from the given directory and environment name; `with_env_vars` lets
    /// tests ignore the process environment.
    pub fn load_from(dir: &Path, env_name: &str, with_env_vars: bool) -> anyhow::Result<Self> {
        if !env_name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            bail!("TIPSA_ENV must be a plain name such as `production`, not {env_name:?}");
        }
        let mut builder = config::Config::builder()
            .add_source(config::File::from_str(
                DEFAULT_TOML,
                config::FileFormat::Toml,
            ))
            .add_source(config::File::from(dir.join(format!("{env_name}.toml"))).required(false))
            .add_source(config::File::from(dir.join("local.toml")).required(false));
        if with_env_vars {
            builder = builder.add_source(
                config::Environment::with_prefix("TIPSA")
                    .prefix_separator("__")
                    .separator("__")
                    .try_parsing(true),
            );
        }
        let mut settings: Settings = builder
            .build()
            .context("reading configuration")?
            .try_deserialize()
            .context("configuration has an invalid value")?;
        settings.config_dir = dir.to_owned();
        settings.check()?;
        Ok(settings)
    }

    /// Invariants that the types alone cannot express.
    fn check(&self) -> anyhow::Result<()> {
        if self.database.pool_size == 0 {
            bail!("database.pool_size must be at least 1");
        }
        let work_mem_ok = {
            let digits = self
                .database
                .work_mem
                .trim_end_matches(['k', 'K', 'M', 'G', 'B']);
            !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())
        };
        if !work_mem_ok {
            bail!("database.work_mem must look like 16MB or 4096kB");
        }
        if self.server.body_limit_bytes < 1024 {
            bail!("server.body_limit_bytes must be at least 1024");
        }
        if !(2..=100).contains(&self.stats.suppression_threshold) {
            bail!("stats.suppression_threshold must be 2 to 100");
        }
        let mut seen = std::collections::HashSet::new();
        for outbreak in &self.intake.outbreaks {
            let valid = !outbreak.code.is_empty()
                && outbreak.code.len() <= 50
                && outbreak
                    .code
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
            if !valid {
                bail!(
                    "intake.outbreaks: code {:?} must be lowercase letters, digits, - or _",
                    outbreak.code
                );
            }
            if !seen.insert(&outbreak.code) {
                bail!("intake.outbreaks: code {:?} is listed twice", outbreak.code);
            }
        }
        self.check_notify()?;
        self.attachments.check(&self.secrets)?;
        self.metrics.check()?;
        self.housekeeping.check()?;
        self.auth
            .oidc
            .check(self.environment == DeploymentEnvironment::Production)?;
        if let Some(active) = &self.secrets.active_contact_key
            && !self.secrets.contact_keys.contains_key(active)
        {
            bail!("secrets.active_contact_key {active:?} is not among secrets.contact_keys");
        }
        if self.environment == DeploymentEnvironment::Production {
            if self.database.url.is_none() {
                bail!("production needs database.url (TIPSA__DATABASE__URL)");
            }
            if self.secrets.receipt_hmac_key.is_none()
                || self.secrets.active_contact_key.is_none()
                || self.secrets.active_attachment_key.is_none()
            {
                bail!(
                    "production needs secrets.receipt_hmac_key, secrets.active_contact_key with secrets.contact_keys, and secrets.active_attachment_key with secrets.attachment_keys"
                );
            }
            if self.notify.transport != MailTransportKind::Smtp {
                bail!("production needs notify.transport = \"smtp\" (TIPSA__NOTIFY__TRANSPORT)");
            }
        }
        Ok(())
    }

    fn check_notify(&self) -> anyhow::Result<()> {
        let notify = &self.notify;
        if notify.from.parse::<lettre::message::Mailbox>().is_err() {
            bail!("notify.from {:?} is not an email address", notify.from);
        }
        if !(notify.public_base_url.starts_with("http://")
            || notify.public_base_url.starts_with("https://"))
        {
            bail!("notify.public_base_url must start with http:// or https://");
        }
        let domain_ok = !notify.message_domain.is_empty()
            && notify
                .message_domain
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
        if !domain_ok {
            bail!("notify.message_domain must be a domain name such as tipsa.example");
        }
        if !matches!(notify.language.as_str(), "sv" | "en") {
            bail!("notify.language must be \"sv\" or \"en\"");
        }
        if notify.timezone.parse::<chrono_tz::Tz>().is_err() {
            bail!(
                "notify.timezone {:?} is not an IANA time zone",
                notify.timezone
            );
        }
        for time in &notify.digest_times {
            if chrono::NaiveTime::parse_from_str(time, "%H:%M").is_err() {
                bail!("notify.digest_times: {time:?} is not a time such as \"07:00\"");
            }
        }
        if notify.max_attempts == 0 {
            bail!("notify.max_attempts must be at least 1");
        }
        if notify.concurrency == 0 || notify.smtp.pool_size == 0 {
            bail!("notify.concurrency and notify.smtp.pool_size must be at least 1");
        }
        if notify.backoff_base_ms == 0 || notify.backoff_cap_ms < notify.backoff_base_ms {
            bail!("notify.backoff_base_ms must be at least 1 and at most notify.backoff_cap_ms");
        }
        if notify.poll_interval_ms == 0 || notify.maintenance_interval_seconds == 0 {
            bail!(
                "notify.poll_interval_ms and notify.maintenance_interval_seconds must be at least 1"
            );
        }
        if notify.transport == MailTransportKind::Smtp
            && notify.lease_seconds <= notify.smtp.timeout_seconds
        {
            bail!(
                "notify.lease_seconds must exceed notify.smtp.timeout_seconds, or a slow send could be taken over by another worker"
            );
        }
        if notify.lease_seconds == 0 {
            bail!("notify.lease_seconds must be at least 1");
        }
        Ok(())
    }

    /// Where the file transport writes .eml files.
    pub fn mail_dir(&self) -> PathBuf {
        self.notify
            .file_dir
            .clone()
            .unwrap_or_else(|| self.var_dir.join("mail"))
    }
}

#[cfg(test)]
mod tests;
