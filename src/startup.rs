//! Building and running the HTTP application: the database it talks to (configured or the
//! embedded local cluster), the shared state, middleware and routes.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::{Condition, DefaultHeaders};
use actix_web::middleware::{Next, from_fn};
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use tracing_actix_web::TracingLogger;

use crate::attachments::blob::BlobStore;
use crate::attachments::maintenance::{Housekeeper, HousekeeperHandle};
use crate::attachments::receive::Receiver;
use crate::auth::ApiKeyCache;
use crate::config::Settings;
use crate::crypto::Crypto;
use crate::db::embedded::{self, LocalCluster};
use crate::db::{self, migrate};
use crate::domain::taxonomy::Label;
use crate::intake::batch::{BatchSettings, SubmissionBatcher};
use crate::monitoring::endpoint::{MetricsServer, Sources};
use crate::notify::wake::WorkerWaker;
use crate::ratelimit::{Limits, RateLimiter};
use crate::records::RecordsRules;
use crate::state::AppState;
use crate::telemetry::PrivacyPreservingRootSpan;
use crate::triage::TriageRules;
use crate::web::i18n::Translations;

/// The database Tipsa uses: the configured URL, or the embedded local cluster it started.
pub struct Database {
    pub url: String,
    cluster: Option<LocalCluster>,
}

impl Database {
    /// Resolves the database: the configured URL, or the local cluster under `var_dir/pg`
    /// (initialised and started if needed).
    pub async fn open(settings: &Settings) -> anyhow::Result<Self> {
        if let Some(url) = &settings.database.url {
            return Ok(Database {
                url: url.expose_secret().to_owned(),
                cluster: None,
            });
        }
        let root = settings.var_dir.join("pg");
        let embedded_settings = settings.embedded_postgres.clone();
        let cluster =
            tokio::task::spawn_blocking(move || LocalCluster::start(&root, &embedded_settings))
                .await
                .context("starting the local PostgreSQL cluster")??;
        embedded::ensure_database(&cluster.url("postgres"), embedded::DATABASE_NAME).await?;
        tracing::info!(
            data_dir = %cluster.data_dir().display(),
            port = cluster.port(),
            "no database.url configured: using the local PostgreSQL cluster; its data lives in {}",
            cluster.data_dir().display()
        );
        Ok(Database {
            url: cluster.url(embedded::DATABASE_NAME),
            cluster: Some(cluster),
        })
    }

    /// Stops the local cluster if this process started it.
    pub async fn close(self) {
        if let Some(cluster) = self.cluster {
            match tokio::task::spawn_blocking(move || cluster.stop()).await {
                Ok(Ok(())) => tracing::info!("stopped the local PostgreSQL cluster"),
                Ok(Err(error)) => {
                    tracing::warn!(error = %format!("{error:#}"), "stopping the local PostgreSQL cluster failed")
                }
                Err(error) => {
                    tracing::warn!(error = %error, "stopping the local PostgreSQL cluster failed")
                }
            }
        }
    }
}

/// A bound, not yet running HTTP server.
pub struct Application {
    port: u16,
    server: Server,
    state: web::Data<AppState>,
    /// The notification worker running in this process (`notify.worker_in_serve`).
    worker: Option<crate::notify::worker::WorkerHandle>,
    /// Attachment scanning and clean-up, beside the worker.
    housekeeper: Option<HousekeeperHandle>,
    /// Purging expired rows, beside the worker.
    housekeeping: Option<crate::housekeeping::HousekeepingHandle>,
    /// Scheduled disposal runs (`disposal.scheduled` in records.toml), beside the worker.
    disposal: Option<crate::records::disposal::schedule::SchedulerHandle>,
    /// The `/metrics` listener (`metrics.enabled`).
    metrics: Option<MetricsServer>,
}

impl Application {
    /// Connects, loads the taxonomy and binds the listener (port 0 picks a free port).
    pub async fn build(settings: Settings, database_url: &str) -> anyhow::Result<Self> {
        let crypto = Crypto::load(&settings.secrets, &settings.var_dir)?;
        Self::build_with_crypto(settings, database_url, crypto).await
    }

    /// As `build`, with keys supplied by the caller (tests).
    pub async fn build_with_crypto(
        settings: Settings,
        database_url: &str,
        crypto: Crypto,
    ) -> anyhow::Result<Self> {
        // Installed before anything records (the pool, the lanes), so nothing is missed.
        let metrics_handle = if settings.metrics.enabled {
            crate::monitoring::install(crate::monitoring::Role::Serve)
        } else {
            None
        };
        let pool = db::build_pool(database_url, &settings.database)?;
        let outbreaks = settings
            .intake
            .outbreaks
            .iter()
            .map(|o| Label {
                code: o.code.clone(),
                label_sv: o.label_sv.clone(),
                label_en: o.label_en.clone(),
            })
            .collect();
        let taxonomy = {
            let mut conn = pool.get().await.context("connecting to PostgreSQL")?;
            db::taxonomy::load(&mut conn, outbreaks)
                .await
                .context("loading the taxonomy (have the migrations run?)")?
        };
        let triage = Arc::new(
            TriageRules::load(&settings.config_dir, &taxonomy)
                .context("loading the triage and routing rules")?,
        );
        let records = Arc::new(
            RecordsRules::load(&settings.config_dir).context("loading the records rules")?,
        );
        let sso = {
            let teams: Vec<&str> = triage.teams.iter().map(|t| t.code.as_str()).collect();
            Arc::new(
                crate::auth::oidc::Providers::new(&settings, &teams)
                    .context("setting up the OpenID providers (auth.oidc)")?,
            )
        };
        let taxonomy_json = serde_json::to_vec(&taxonomy).context("serialising the taxonomy")?;
        let taxonomy_etag = hex::encode(&Sha256::digest(&taxonomy_json)[..16]);

        let listener = TcpListener::bind((settings.server.host.as_str(), settings.server.port))
            .with_context(|| {
                format!("binding {}:{}", settings.server.host, settings.server.port)
            })?;
        let port = listener.local_addr()?.port();
        let workers = settings.server.workers;
        let shutdown_grace = settings.server.shutdown_grace_seconds;
        let api_key_cache = ApiKeyCache::new(std::time::Duration::from_secs(
            settings.auth.api_key_cache_seconds,
        ));
        let rate_limiter = RateLimiter::new(Limits {
            submit_tip: settings.public.submit_tip_per_window,
            receipt_code_attempt: settings.public.receipt_code_attempts_per_window,
            login_attempt: settings.auth.login_attempts_per_window,
            window: std::time::Duration::from_secs(settings.public.rate_limit_window_minutes * 60),
        });
        let intake = SubmissionBatcher::start(
            pool.clone(),
            triage.clone(),
            BatchSettings {
                lanes: settings.intake.batch_lanes,
                max_tips: settings.intake.batch_max_tips,
                queue: settings.intake.batch_queue,
            },
        );
        let blobs = BlobStore::from_settings(&settings.attachments.storage)
            .context("opening the attachment storage")?;
        let uploads = Receiver::new(&settings.attachments, blobs.clone());
        let state = web::Data::new(AppState {
            pool,
            crypto: Arc::new(crypto),
            taxonomy: Arc::new(taxonomy),
            taxonomy_etag,
            settings: Arc::new(settings),
            expected_migrations: migrate::embedded_versions(),
            rate_limiter,
            api_key_cache,
            translations: Translations::load().context("loading the page texts")?,
            intake,
            triage,
            records,
            worker_waker: WorkerWaker::start(database_url.to_owned()),
            uploads,
            blobs,
            sso,
        });

        let worker = if state.settings.notify.worker_in_serve {
            let notifier = crate::notify::worker::Notifier::new(
                &state.settings,
                database_url,
                &state.triage,
                state.taxonomy.clone(),
                state.crypto.clone(),
            )
            .context("starting the notification worker")?;
            Some(notifier.spawn())
        } else {
            None
        };
        let housekeeper = if state.settings.notify.worker_in_serve {
            let housekeeper = Housekeeper::new(
                state.pool.clone(),
                state.crypto.clone(),
                &state.settings.attachments,
            )
            .context("starting the attachment housekeeper")?;
            Some(housekeeper.spawn())
        } else {
            None
        };

        let housekeeping = state.settings.notify.worker_in_serve.then(|| {
            crate::housekeeping::Housekeeping::new(state.pool.clone(), &state.settings).spawn()
        });
        let disposal = state
            .settings
            .notify
            .worker_in_serve
            .then(|| {
                crate::records::disposal::schedule::Scheduler::new(
                    state.pool.clone(),
                    state.crypto.clone(),
                    state.records.clone(),
                )
            })
            .flatten()
            .map(crate::records::disposal::schedule::Scheduler::spawn);
        let metrics = match metrics_handle {
            Some(handle) => Some(MetricsServer::start(
                &state.settings.metrics.listen,
                Sources {
                    handle,
                    pool: state.pool.clone(),
                    app: Some(state.clone()),
                    token: state.settings.metrics.token.clone(),
                },
            )?),
            None => None,
        };
        let record_requests = metrics.is_some();

        let app_state = state.clone();
        let mut server = HttpServer::new(move || {
            App::new()
                .wrap(Condition::new(
                    record_requests,
                    from_fn(crate::monitoring::http::record_request),
                ))
                .wrap(security_headers())
                .wrap(from_fn(content_security_policy))
                .wrap(TracingLogger::<PrivacyPreservingRootSpan>::new())
                .app_data(app_state.clone())
                .configure(crate::api::configure)
                .configure(crate::web::configure)
                .default_service(web::to(crate::web::pages::not_found))
        })
        // Graceful stop on SIGTERM/SIGINT: the listener closes at once, in-flight requests get
        // the grace period (`server.shutdown_grace_seconds`).
        .shutdown_timeout(shutdown_grace)
        .listen(listener)?;
        if workers > 0 {
            server = server.workers(workers);
        }
        Ok(Application {
            port,
            server: server.run(),
            state,
            worker,
            housekeeper,
            housekeeping,
            disposal,
            metrics,
        })
    }

    /// The metrics listener's port, if metrics are enabled.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(MetricsServer::port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    /// Serves until SIGINT/SIGTERM (graceful: in-flight requests finish), then stops the
    /// notification worker (in-flight sends finish or their jobs are released).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = self.server.await;
        if let Some(worker) = self.worker {
            worker.shutdown().await;
        }
        if let Some(housekeeper) = self.housekeeper {
            housekeeper.shutdown().await;
        }
        if let Some(housekeeping) = self.housekeeping {
            housekeeping.shutdown().await;
        }
        if let Some(disposal) = self.disposal {
            disposal.shutdown().await;
        }
        if let Some(metrics) = self.metrics {
            metrics.stop().await;
        }
        served
    }
}

/// Headers on every response: no sniffing, no framing, no referrer, nothing from elsewhere.
fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", "no-referrer"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Cross-Origin-Opener-Policy", "same-origin"))
        .add(("Cross-Origin-Resource-Policy", "same-origin"))
        .add((
            "Permissions-Policy",
            "camera=(), microphone=(), geolocation=(), interest-cohort=()",
        ))
}

/// Strict policy for everything; only the API docs page relaxes it for Swagger UI's own
/// scripts and inline styles. No page loads anything from another origin or may be framed.
const STRICT_CSP: &str = "default-src 'none'; img-src 'self'; style-src 'self'; script-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
const API_DOCS_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'";

async fn content_security_policy(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let policy = if request.path().starts_with("/api/docs") {
        API_DOCS_CSP
    } else {
        STRICT_CSP
    };
    let mut response = next.call(request).await?;
    // A response that set a stricter policy of its own (file downloads: sandbox) keeps it.
    if !response
        .headers()
        .contains_key(header::CONTENT_SECURITY_POLICY)
    {
        response.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            header::HeaderValue::from_static(policy),
        );
    }
    Ok(response)
}

/// `tipsa serve`: database, migrations, HTTP server; stops the local cluster on the way out.
pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    let database = Database::open(&settings).await?;
    let result = serve_on(settings, &database.url).await;
    database.close().await;
    result
}

/// On a database without accounts, prints a one-time link to create the first admin (to the
/// terminal, not the log stream: it is a secret, valid for a day).
async fn announce_first_admin_link(app: &Application, host: &str) -> anyhow::Result<()> {
    let state = app.state();
    let mut conn = state
        .connection()
        .await
        .context("connecting to check for accounts")?;
    if let Some(token) = crate::auth::accounts::first_admin_link(&mut conn).await? {
        let host = if host == "0.0.0.0" || host == "::" {
            "127.0.0.1"
        } else {
            host
        };
        eprintln!(
            "\nNo inspector accounts yet. Create the first admin (link valid {} hours, once):\n  http://{host}:{}/inspektor/forsta-admin/{token}\n",
            crate::auth::accounts::FIRST_ADMIN_LINK_HOURS,
            app.port()
        );
    }
    Ok(())
}

async fn serve_on(settings: Settings, database_url: &str) -> anyhow::Result<()> {
    if settings.database.migrate_on_start {
        let applied = migrate::run_pending(database_url).await?;
        if !applied.is_empty() {
            tracing::info!(migrations = ?applied, "applied database migrations");
        }
    }
    let host = settings.server.host.clone();
    let app = Application::build(settings, database_url).await?;
    tracing::info!(
        port = app.port(),
        "listening on http://{host}:{}",
        app.port()
    );
    if let Some(port) = app.metrics_port() {
        tracing::info!(port, "metrics on port {port}, path /metrics");
    }
    announce_first_admin_link(&app, &host).await?;
    app.run_until_stopped()
        .await
        .context("running the HTTP server")
}
