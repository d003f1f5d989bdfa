//! The `/metrics` listener: a small HTTP server of its own beside the public one (or inside
//! `tipsa worker`), answering Prometheus scrapes. Gauges that describe shared state (the
//! pool, the intake lanes, the notification outbox) are read at scrape time.

use std::net::TcpListener;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::http::header;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use anyhow::Context;
use diesel::sql_types::{BigInt, Double, Text};
use diesel_async::RunQueryDsl;
use metrics::{counter, gauge};
use metrics_exporter_prometheus::PrometheusHandle;
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

use crate::db::DbPool;
use crate::notify::JobKind;
use crate::state::AppState;

/// A scrape gives up on the database after this long and reports the other metrics.
const DATABASE_TIMEOUT: Duration = Duration::from_secs(2);

/// What a scrape reads besides the recorder.
#[derive(Clone)]
pub struct Sources {
    pub handle: PrometheusHandle,
    pub pool: DbPool,
    /// The serving process's state (its intake lanes); none in `tipsa worker`.
    pub app: Option<web::Data<AppState>>,
    pub token: Option<SecretString>,
}

/// A running metrics listener.
pub struct MetricsServer {
    port: u16,
    handle: ServerHandle,
}

impl MetricsServer {
    /// Binds `address` and starts answering `GET /metrics` (on the current runtime).
    pub fn start(address: &str, sources: Sources) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(address)
            .with_context(|| format!("binding the metrics listener {address}"))?;
        let port = listener.local_addr()?.port();
        let sources = web::Data::new(sources);
        let server = HttpServer::new(move || {
            App::new()
                .app_data(sources.clone())
                .route("/metrics", web::get().to(scrape))
                // Liveness for `tipsa healthcheck --worker` (no token: it tells nothing).
                .route("/healthz", web::get().to(HttpResponse::Ok))
        })
        .workers(1)
        .disable_signals()
        .shutdown_timeout(1)
        .listen(listener)?
        .run();
        let handle = server.handle();
        tokio::spawn(async move {
            if let Err(error) = server.await {
                tracing::warn!(error = %error, "the metrics listener stopped");
            }
        });
        Ok(MetricsServer { port, handle })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub async fn stop(self) {
        self.handle.stop(true).await;
    }
}

async fn scrape(request: HttpRequest, sources: web::Data<Sources>) -> HttpResponse {
    if let Some(token) = &sources.token
        && !bearer_matches(&request, token)
    {
        return HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, "Bearer"))
            .finish();
    }
    record_pool(&sources.pool);
    if let Some(app) = &sources.app {
        for (lane, queued) in app.intake.lane_queue_lengths().into_iter().enumerate() {
            gauge!("tipsa_intake_lane_queue_length", "lane" => lane.to_string()).set(queued as f64);
        }
    }
    if let Err(error) = record_outbox(&sources.pool).await {
        counter!("tipsa_scrape_database_errors_total").increment(1);
        tracing::debug!(error = %format!("{error:#}"), "reading the outbox for a scrape failed");
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(sources.handle.render())
}

fn bearer_matches(request: &HttpRequest, token: &SecretString) -> bool {
    request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .is_some_and(|sent| bool::from(sent.as_bytes().ct_eq(token.expose_secret().as_bytes())))
}

fn record_pool(pool: &DbPool) {
    let status = pool.status();
    gauge!("tipsa_db_pool_max_size").set(status.max_size as f64);
    gauge!("tipsa_db_pool_size").set(status.size as f64);
    gauge!("tipsa_db_pool_in_use").set(status.size.saturating_sub(status.available) as f64);
    gauge!("tipsa_db_pool_waiting").set(status.waiting as f64);
}

#[derive(diesel::QueryableByName)]
struct OutboxRow {
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = BigInt)]
    pending: i64,
    #[diesel(sql_type = BigInt)]
    dead: i64,
    #[diesel(sql_type = Double)]
    oldest_pending_seconds: f64,
}

/// Pending and dead jobs per kind, and the oldest pending one's age (from when it was
/// enqueued, retries included). Both states have partial indexes, so this stays cheap.
async fn record_outbox(pool: &DbPool) -> anyhow::Result<()> {
    let rows: Vec<OutboxRow> = tokio::time::timeout(DATABASE_TIMEOUT, async {
        let mut conn = pool.get().await.context("getting a connection")?;
        diesel::sql_query(
            "SELECT kind, \
                    count(*) FILTER (WHERE state = 'pending') AS pending, \
                    count(*) FILTER (WHERE state = 'dead') AS dead, \
                    COALESCE(EXTRACT(EPOCH FROM now() - min(created_at) \
                        FILTER (WHERE state = 'pending')), 0)::float8 AS oldest_pending_seconds \
             FROM notification_jobs WHERE state IN ('pending', 'dead') GROUP BY kind",
        )
        .load(&mut conn)
        .await
        .context("counting notification jobs")
    })
    .await
    .context("timed out reading the outbox")??;
    // Every kind gets a series, zero when it has no jobs, so an alert on "pending > 0" has a
    // series to watch from the start.
    for kind in JobKind::ALL.map(JobKind::as_str) {
        let row = rows.iter().find(|row| row.kind == kind);
        gauge!("tipsa_outbox_pending_jobs", "kind" => kind)
            .set(row.map_or(0.0, |r| r.pending as f64));
        gauge!("tipsa_outbox_dead_jobs", "kind" => kind).set(row.map_or(0.0, |r| r.dead as f64));
        gauge!("tipsa_outbox_oldest_pending_age_seconds", "kind" => kind)
            .set(row.map_or(0.0, |r| r.oldest_pending_seconds));
    }
    Ok(())
}
