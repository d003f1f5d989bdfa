//! The `tipsa` command line: serve, the notification worker, migrate, API keys, notification
//! administration, inspector accounts, the audit log and records management.

pub mod accounts;
pub mod records;
pub mod records_archive;

use anyhow::Context;
use clap::{Parser, Subcommand};
use diesel_async::{AsyncConnection, AsyncPgConnection};

use crate::auth::{Scope, api_keys};
use crate::config::Settings;
use crate::db::{self, migrate};
use crate::startup::{self, Database};

#[derive(Debug, Parser)]
#[command(
    name = "tipsa",
    version,
    about = "Tip intake for a health and social care inspectorate",
    long_about = "Tip intake for a health and social care inspectorate.\n\nConfiguration: config/default.toml (compiled in), config/$TIPSA_ENV.toml, config/local.toml and TIPSA__* environment variables. With no database.url, a private PostgreSQL cluster is started under ./var/pg."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (migrates the database first unless disabled).
    Serve,
    /// Run only the notification worker (until SIGINT/SIGTERM); any number may run at once.
    Worker,
    /// Notification jobs that failed for good: list them, retry one.
    Notify {
        #[command(subcommand)]
        action: NotifyCommand,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Exit 0 if the local server answers /readyz (for container health checks).
    Healthcheck {
        /// Check a local `tipsa worker` instead: its metrics listener (`metrics.worker_listen`)
        /// answers /healthz.
        #[arg(long)]
        worker: bool,
    },
    /// Triage stored tips again with the current rules (each records a `retriaged` event).
    Retriage {
        /// One tip by id.
        #[arg(
            long,
            conflicts_with = "all_open",
            required_unless_present = "all_open"
        )]
        tip: Option<uuid::Uuid>,
        /// Every tip that is not closed.
        #[arg(long)]
        all_open: bool,
    },
    /// Create, list and revoke API keys for integrating systems.
    Apikey {
        #[command(subcommand)]
        action: ApikeyCommand,
    },
    /// Inspector accounts: add, list, disable, enable, reset-password, reset2fa, set-role.
    User {
        #[command(subcommand)]
        action: accounts::UserCommand,
    },
    /// The audit log: verify its hash chain.
    Audit {
        #[command(subcommand)]
        action: accounts::AuditCommand,
    },
    /// Sealing keys: re-seal what an older key sealed, so that key can be retired.
    Keys {
        #[command(subcommand)]
        action: KeysCommand,
    },
    /// Records management: disposal (gallring) of closed tips by the rules in records.toml,
    /// the archive export and the check of an archive package.
    Records {
        #[command(subcommand)]
        action: records::RecordsCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Re-seal contact details, TOTP secrets and attachments (in PostgreSQL) that were sealed
    /// with a key other than the active one. Safe while the service runs; can be rerun.
    Reseal {
        /// Only count what would be re-sealed.
        #[arg(long)]
        dry_run: bool,
        /// Rows read per query.
        #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(i64).range(1..=10000))]
        batch: i64,
    },
}

#[derive(Debug, Subcommand)]
pub enum NotifyCommand {
    /// List dead notification jobs (most recent failure first) with their last error.
    Dead {
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// Put a dead job back in the queue with a fresh series of attempts.
    Retry { job_id: uuid::Uuid },
}

#[derive(Debug, Subcommand)]
pub enum ApikeyCommand {
    /// Create a key; it is printed once and cannot be shown again.
    Create {
        /// Who the key is for, e.g. "Region Skåne incident system".
        #[arg(long)]
        name: String,
        /// A scope to grant (repeat for several): tips:submit, tips:read, tips:write, stats:read, records:write.
        #[arg(long = "scope", required = true)]
        scopes: Vec<Scope>,
    },
    /// List keys (prefix, name, scopes, state); secrets are never shown.
    List,
    /// Revoke a key by its prefix (the 8 characters after `tipsa_`).
    Revoke { prefix: String },
}

/// Runs a parsed command.
pub async fn run(cli: Cli, settings: Settings) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve => startup::serve(settings).await,
        Command::Worker => run_worker(settings).await,
        Command::Notify { action } => run_notify(action, &settings).await,
        Command::Migrate => {
            // Migrates whatever `database.migrate_on_start` says: that is what it is for.
            let mut settings = settings;
            settings.database.migrate_on_start = true;
            with_database(&settings, |_| async {
                // Migrations already ran in with_database.
                Ok(())
            })
            .await
        }
        Command::Apikey { action } => run_apikey(action, &settings).await,
        Command::Healthcheck { worker: false } => {
            healthcheck(settings.server.port, "/readyz").await
        }
        Command::Healthcheck { worker: true } => {
            let address: std::net::SocketAddr = settings
                .metrics
                .worker_listen
                .parse()
                .context("metrics.worker_listen")?;
            anyhow::ensure!(
                settings.metrics.enabled,
                "the worker answers health checks on its metrics listener: metrics.enabled is false"
            );
            healthcheck(address.port(), "/healthz").await
        }
        Command::Retriage { tip, all_open } => run_retriage(&settings, tip, all_open).await,
        Command::User { action } => {
            with_rules(&settings, async |conn, crypto, rules| {
                accounts::run_user(conn, crypto, rules, &settings, action).await
            })
            .await
        }
        Command::Audit { action } => {
            with_rules(&settings, async |conn, crypto, _| {
                accounts::run_audit(conn, crypto, action).await
            })
            .await
        }
        Command::Records { action } => records::run(action, &settings).await,
        Command::Keys {
            action: KeysCommand::Reseal { dry_run, batch },
        } => {
            with_rules(&settings, async |conn, crypto, _| {
                run_reseal(conn, crypto, dry_run, batch).await
            })
            .await
        }
    }
}

/// `tipsa keys reseal`: prints what was (or would be) re-sealed, as counts.
async fn run_reseal(
    conn: &mut AsyncPgConnection,
    crypto: &crate::crypto::Crypto,
    dry_run: bool,
    batch: i64,
) -> anyhow::Result<()> {
    use crate::crypto::reseal;
    let (verb, stale) = if dry_run {
        ("to re-seal", reseal::count(conn, crypto).await?)
    } else {
        ("re-sealed", reseal::reseal(conn, crypto, batch).await?)
    };
    println!(
        "contact details {verb}: {}\nTOTP secrets {verb}: {}\nattachments {verb}: {}",
        stale.contact_details, stale.totp_secrets, stale.attachments
    );
    println!(
        "requesters of public-records requests {verb}: {}",
        stale.records_requesters
    );
    if stale.attachments_in_bucket > 0 {
        println!(
            "attachments in the bucket still sealed with an older key: {} (keep that key configured)",
            stale.attachments_in_bucket
        );
    }
    Ok(())
}

/// Runs `work` with a connection, the service's keys and the loaded triage rules.
async fn with_rules(
    settings: &Settings,
    work: impl AsyncFnOnce(
        &mut AsyncPgConnection,
        &crate::crypto::Crypto,
        &crate::triage::TriageRules,
    ) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let crypto = crate::crypto::Crypto::load(&settings.secrets, &settings.var_dir)?;
    let outbreaks = outbreak_labels(settings);
    let config_dir = settings.config_dir.clone();
    with_database(settings, |url| async move {
        let mut conn = AsyncPgConnection::establish(&url)
            .await
            .context("connecting to PostgreSQL")?;
        let taxonomy = db::taxonomy::load(&mut conn, outbreaks).await?;
        let rules = crate::triage::TriageRules::load(&config_dir, &taxonomy)?;
        work(&mut conn, &crypto, &rules).await
    })
    .await
}

fn outbreak_labels(settings: &Settings) -> Vec<crate::domain::taxonomy::Label> {
    settings
        .intake
        .outbreaks
        .iter()
        .map(|o| crate::domain::taxonomy::Label {
            code: o.code.clone(),
            label_sv: o.label_sv.clone(),
            label_en: o.label_en.clone(),
        })
        .collect()
}

/// `tipsa worker`: the notification worker alone, until SIGINT or SIGTERM.
async fn run_worker(settings: Settings) -> anyhow::Result<()> {
    let inner = settings.clone();
    with_database(&settings, |url| async move {
        let settings = inner;
        let crypto = crate::crypto::Crypto::load(&settings.secrets, &settings.var_dir)?;
        let mut conn = AsyncPgConnection::establish(&url)
            .await
            .context("connecting to PostgreSQL")?;
        let taxonomy = db::taxonomy::load(&mut conn, outbreak_labels(&settings)).await?;
        drop(conn);
        let rules = crate::triage::TriageRules::load(&settings.config_dir, &taxonomy)?;
        let crypto = std::sync::Arc::new(crypto);
        let notifier = crate::notify::worker::Notifier::new(
            &settings,
            &url,
            &rules,
            std::sync::Arc::new(taxonomy),
            crypto.clone(),
        )?;
        let pool = db::build_pool(&url, &settings.database)?;
        let metrics = start_worker_metrics(&settings, &pool)?;
        let housekeeping = crate::housekeeping::Housekeeping::new(pool.clone(), &settings).spawn();
        let records =
            std::sync::Arc::new(crate::records::RecordsRules::load(&settings.config_dir)?);
        let disposal = crate::records::disposal::schedule::Scheduler::new(
            pool.clone(),
            crypto.clone(),
            records,
        )
        .map(crate::records::disposal::schedule::Scheduler::spawn);
        let housekeeper =
            crate::attachments::maintenance::Housekeeper::new(pool, crypto, &settings.attachments)?
                .spawn();
        let worker = notifier.spawn();
        wait_for_stop_signal().await;
        tracing::info!("stopping the notification worker");
        worker.shutdown().await;
        housekeeper.shutdown().await;
        housekeeping.shutdown().await;
        if let Some(disposal) = disposal {
            disposal.shutdown().await;
        }
        if let Some(metrics) = metrics {
            metrics.stop().await;
        }
        Ok(())
    })
    .await
}

/// The worker's own `/metrics` listener (`metrics.worker_listen`), if metrics are enabled.
fn start_worker_metrics(
    settings: &Settings,
    pool: &db::DbPool,
) -> anyhow::Result<Option<crate::monitoring::endpoint::MetricsServer>> {
    if !settings.metrics.enabled {
        return Ok(None);
    }
    let Some(handle) = crate::monitoring::install(crate::monitoring::Role::Worker) else {
        return Ok(None);
    };
    let server = crate::monitoring::endpoint::MetricsServer::start(
        &settings.metrics.worker_listen,
        crate::monitoring::endpoint::Sources {
            handle,
            pool: pool.clone(),
            app: None,
            token: settings.metrics.token.clone(),
        },
    )?;
    tracing::info!(
        port = server.port(),
        "metrics on port {}, path /metrics",
        server.port()
    );
    Ok(Some(server))
}

/// SIGINT (Ctrl-C) or, on Unix, SIGTERM.
async fn wait_for_stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn run_notify(action: NotifyCommand, settings: &Settings) -> anyhow::Result<()> {
    with_database(settings, |url| async move {
        let mut conn = AsyncPgConnection::establish(&url)
            .await
            .context("connecting to PostgreSQL")?;
        match action {
            NotifyCommand::Dead { limit } => {
                let jobs =
                    crate::notify::admin::list_dead(&mut conn, limit.clamp(1, 10_000)).await?;
                println!(
                    "{:<36} {:<17} {:<10} {:<14} {:>8} {:<20} LAST ERROR",
                    "JOB", "KIND", "TEAM", "TIP", "ATTEMPTS", "FAILED"
                );
                for job in &jobs {
                    println!(
                        "{:<36} {:<17} {:<10} {:<14} {:>8} {:<20} {}",
                        job.id,
                        job.kind,
                        job.team.as_deref().unwrap_or("-"),
                        job.tip_reference.as_deref().unwrap_or("-"),
                        job.attempts,
                        job.failed_at.format("%Y-%m-%d %H:%M:%S"),
                        job.last_error.as_deref().unwrap_or("")
                    );
                }
                eprintln!("{} dead notification job(s).", jobs.len());
            }
            NotifyCommand::Retry { job_id } => {
                if crate::notify::admin::retry(&mut conn, job_id).await? {
                    eprintln!("Job {job_id} is queued again.");
                } else {
                    anyhow::bail!("no dead notification job has the id {job_id}");
                }
            }
        }
        Ok(())
    })
    .await
}

async fn run_retriage(
    settings: &Settings,
    tip: Option<uuid::Uuid>,
    all_open: bool,
) -> anyhow::Result<()> {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;

    let outbreaks = outbreak_labels(settings);
    let config_dir = settings.config_dir.clone();
    with_database(settings, |url| async move {
        let mut conn = AsyncPgConnection::establish(&url)
            .await
            .context("connecting to PostgreSQL")?;
        let taxonomy = db::taxonomy::load(&mut conn, outbreaks).await?;
        let rules = crate::triage::TriageRules::load(&config_dir, &taxonomy)?;
        let ids: Vec<uuid::Uuid> = match tip {
            Some(id) => vec![id],
            None if all_open => {
                use crate::db::schema::tips;
                tips::table
                    .filter(tips::status.ne("closed"))
                    .select(tips::id)
                    .order(tips::submitted_at.asc())
                    .load(&mut conn)
                    .await?
            }
            None => Vec::new(),
        };
        for id in &ids {
            crate::workflow::retriage(&mut conn, &rules, *id, "cli")
                .await
                .with_context(|| format!("re-triaging {id}"))?;
        }
        eprintln!(
            "Re-triaged {} tip(s) with rules version {}.",
            ids.len(),
            rules.version
        );
        Ok(())
    })
    .await
}

/// A minimal HTTP/1.0 GET of /readyz on the local port (the runtime image has no curl).
async fn healthcheck(port: u16, path: &str) -> anyhow::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let work = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        stream
            .write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes())
            .await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        Ok::<_, std::io::Error>(response)
    };
    let response = tokio::time::timeout(std::time::Duration::from_secs(3), work)
        .await
        .context("no answer within 3 s")?
        .with_context(|| format!("connecting to 127.0.0.1:{port}"))?;
    let status_line = String::from_utf8_lossy(&response)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    anyhow::ensure!(status_line.contains(" 200 "), "not ready: {status_line}");
    Ok(())
}

async fn run_apikey(action: ApikeyCommand, settings: &Settings) -> anyhow::Result<()> {
    with_database(settings, |url| async move {
        let mut conn = AsyncPgConnection::establish(&url)
            .await
            .context("connecting to PostgreSQL")?;
        match action {
            ApikeyCommand::Create { name, scopes } => {
                let name = name.trim();
                anyhow::ensure!(
                    (1..=200).contains(&name.chars().count()),
                    "--name must be 1 to 200 characters"
                );
                let key = api_keys::create(&mut conn, name, &scopes).await?;
                let scopes: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
                eprintln!(
                    "Created API key {} for {name:?} with scopes {}. It is shown once; store it now:",
                    key.prefix,
                    scopes.join(", ")
                );
                println!("{}", key.token);
            }
            ApikeyCommand::List => {
                let keys = db::api_keys::list(&mut conn).await?;
                println!("{:<10} {:<9} {:<26} {:<40} NAME", "PREFIX", "STATE", "CREATED", "SCOPES");
                for key in keys {
                    let state = if key.revoked_at.is_some() { "revoked" } else { "active" };
                    println!(
                        "{:<10} {:<9} {:<26} {:<40} {}",
                        key.prefix,
                        state,
                        key.created_at.format("%Y-%m-%d %H:%M:%S UTC"),
                        key.scopes.join(","),
                        key.name
                    );
                }
            }
            ApikeyCommand::Revoke { prefix } => {
                if db::api_keys::revoke(&mut conn, &prefix).await? {
                    eprintln!("Revoked API key {prefix}.");
                } else {
                    anyhow::bail!("no active API key has the prefix {prefix:?}");
                }
            }
        }
        Ok(())
    })
    .await
}

/// Opens the database (starting the local cluster if configured so), applies pending
/// migrations (or, with `database.migrate_on_start = false`, insists there are none: then only
/// `tipsa migrate` needs the right to change the schema), runs `work`, and stops the cluster
/// again.
async fn with_database<F, Fut>(settings: &Settings, work: F) -> anyhow::Result<()>
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let database = Database::open(settings).await?;
    let result = async {
        if settings.database.migrate_on_start {
            let applied = migrate::run_pending(&database.url).await?;
            if applied.is_empty() {
                tracing::info!("database schema is up to date");
            } else {
                tracing::info!(migrations = ?applied, "applied database migrations");
            }
        } else {
            let mut conn = AsyncPgConnection::establish(&database.url)
                .await
                .context("connecting to PostgreSQL")?;
            // A database never migrated has no migrations table: that is "pending" too.
            match migrate::is_up_to_date(&mut conn, &migrate::embedded_versions()).await {
                Ok(true) => {}
                Ok(false) => anyhow::bail!(
                    "the database has migrations pending and database.migrate_on_start is false: run `tipsa migrate` first"
                ),
                Err(error) => anyhow::bail!(
                    "cannot tell which migrations have run ({error}) and database.migrate_on_start is false: run `tipsa migrate` first"
                ),
            }
        }
        work(database.url.clone()).await
    }
    .await;
    database.close().await;
    result
}
