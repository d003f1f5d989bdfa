//! Prometheus metrics: `/metrics` on its own listener (never the public router), counters that
//! move with real traffic, labels without ids or client data, the bearer token, and the
//! worker's own listener.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use diesel_async::RunQueryDsl;
use serde_json::Value;

use crate::helpers::{TestApp, TestDatabase, free_port, spawn_app, spawn_app_with, valid_tip};
use crate::people;

/// The value of the sample `name{labels…}` (every given label must match; others may be there).
pub fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (series_name, series_labels) = match series.split_once('{') {
                Some((n, rest)) => (n, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            if series_name != name {
                return None;
            }
            let all_match = labels.iter().all(|(key, expected)| {
                series_labels
                    .split(',')
                    .any(|pair| pair == format!("{key}=\"{expected}\""))
            });
            all_match.then(|| value.parse().ok()).flatten()
        })
}

pub async fn scrape(address: &str, token: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(format!("{address}/metrics"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

async fn scrape_text(app: &TestApp) -> String {
    let address = app.metrics_address.as_deref().expect("metrics are enabled");
    let response = scrape(address, None).await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    response.text().await.unwrap()
}

fn counter(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    sample(text, name, labels).unwrap_or(0.0)
}

#[tokio::test]
async fn counters_move_with_real_traffic_and_labels_carry_no_ids() {
    let app = spawn_app().await;
    let before = scrape_text(&app).await;
    let route = [
        ("method", "POST"),
        ("route", "/api/v1/tips"),
        ("status", "201"),
    ];
    let mut created: Vec<Value> = Vec::new();
    for _ in 0..3 {
        let response = app.submit(&valid_tip()).await;
        assert_eq!(response.status(), 201);
        created.push(response.json().await.unwrap());
    }
    let id = created[0]["id"].as_str().unwrap().to_owned();
    let reference = created[0]["reference"].as_str().unwrap().to_owned();
    // A route with an id in its path, and a path no route matches.
    let read = app
        .client
        .get(app.url(&format!("/api/v1/tips/{id}")))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    let probe = app.get("/wp-admin/setup-config.php?step=1").await;
    assert_eq!(probe.status(), 404);

    let after = scrape_text(&app).await;
    assert!(
        counter(&after, "tipsa_http_requests_total", &route)
            >= counter(&before, "tipsa_http_requests_total", &route) + 3.0
    );
    let latency = [("method", "POST"), ("route", "/api/v1/tips")];
    assert!(
        counter(
            &after,
            "tipsa_http_request_duration_seconds_count",
            &latency
        ) >= counter(
            &before,
            "tipsa_http_request_duration_seconds_count",
            &latency
        ) + 3.0
    );
    assert!(
        sample(
            &after,
            "tipsa_http_request_duration_seconds_bucket",
            &[("route", "/api/v1/tips"), ("le", "+Inf")]
        )
        .is_some()
    );
    let by_template = [("route", "/api/v1/tips/{id}"), ("status", "200")];
    assert!(counter(&after, "tipsa_http_requests_total", &by_template) >= 1.0);
    assert!(
        counter(
            &after,
            "tipsa_http_requests_total",
            &[("route", "unmatched"), ("status", "404")]
        ) >= 1.0
    );
    let stored: f64 = ["critical", "high", "normal", "low"]
        .iter()
        .map(|p| {
            counter(
                &after,
                "tipsa_tips_stored_total",
                &[("channel", "api"), ("priority", p)],
            ) - counter(
                &before,
                "tipsa_tips_stored_total",
                &[("channel", "api"), ("priority", p)],
            )
        })
        .sum();
    assert!(stored >= 3.0, "tips stored moved by {stored}");
    assert!(sample(&after, "tipsa_intake_batch_size_count", &[]).is_some_and(|n| n >= 1.0));
    assert_eq!(
        sample(&after, "tipsa_intake_lane_queue_length", &[("lane", "0")]),
        Some(0.0)
    );
    // Database-wide gauges are there for every kind, and the pool reports its size.
    for kind in ["urgent_tip", "team_digest", "reporter_ack"] {
        assert!(sample(&after, "tipsa_outbox_pending_jobs", &[("kind", kind)]).is_some());
        assert!(sample(&after, "tipsa_outbox_dead_jobs", &[("kind", kind)]).is_some());
    }
    assert_eq!(
        sample(&after, "tipsa_db_pool_max_size", &[]),
        Some(app.state.settings.database.pool_size as f64)
    );
    assert!(sample(&after, "tipsa_db_pool_in_use", &[]).is_some());
    assert_eq!(
        sample(
            &after,
            "tipsa_build_info",
            &[("role", "serve"), ("version", env!("CARGO_PKG_VERSION"))]
        ),
        Some(1.0)
    );
    // No id, reference, query string or probed path ever becomes a label.
    for secret in [id.as_str(), reference.as_str(), "wp-admin", "step=1"] {
        assert!(!after.contains(secret), "{secret} is in the metrics");
    }
}

#[tokio::test]
async fn the_public_router_has_no_metrics() {
    let app = spawn_app().await;
    assert_eq!(app.get("/metrics").await.status(), 404);
    assert_ne!(
        app.metrics_address.as_deref(),
        Some(app.address.as_str()),
        "metrics listen on a port of their own"
    );
}

#[tokio::test]
async fn login_failures_lockouts_and_rate_limit_refusals_are_counted() {
    let app = spawn_app_with(|s| {
        s.auth.login_failures_before_lockout = 2;
        s.auth.login_attempts_per_window = 3;
    })
    .await;
    people::create_person(&app, "counted@ivo.example", &["inspector"], &["syd"]).await;
    let before = scrape_text(&app).await;
    let client = people::browser_client();
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let response =
            people::post_password(&app, &client, "counted@ivo.example", "fel lösenord här").await;
        statuses.push(response.status().as_u16());
    }
    // Two failures lock the account (the third is refused as locked); the fourth attempt
    // from this address is over the per-address budget.
    assert_eq!(statuses, [401, 401, 429, 429]);
    let after = scrape_text(&app).await;
    let moved = |name: &str, labels: &[(&str, &str)]| {
        counter(&after, name, labels) - counter(&before, name, labels)
    };
    assert!(moved("tipsa_login_failures_total", &[]) >= 2.0);
    assert!(moved("tipsa_login_lockouts_total", &[]) >= 1.0);
    assert!(moved("tipsa_rate_limit_refusals_total", &[("limit", "login")]) >= 1.0);
}

#[tokio::test]
async fn a_scrape_needs_the_token_when_one_is_configured() {
    let token = "a-long-enough-scrape-token";
    let app = spawn_app_with(|s| s.metrics.token = Some(token.to_owned().into())).await;
    let address = app.metrics_address.clone().unwrap();
    let refused = scrape(&address, None).await;
    assert_eq!(refused.status(), 401);
    assert_eq!(refused.headers()["www-authenticate"], "Bearer");
    assert_eq!(
        scrape(&address, Some("wrong-token-of-some-length"))
            .await
            .status(),
        401
    );
    let allowed = scrape(&address, Some(token)).await;
    assert_eq!(allowed.status(), 200);
    assert!(allowed.text().await.unwrap().contains("tipsa_build_info"));
}

/// `tipsa worker` with its metrics on `port`.
fn start_worker(db: &TestDatabase, port: u16) -> Child {
    let var = std::env::temp_dir().join(format!("tipsa-metrics-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&var).unwrap();
    Command::new(env!("CARGO_BIN_EXE_tipsa"))
        .arg("worker")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("TIPSA_CONFIG_DIR", var.join("no-config"))
        .env("TIPSA__VAR_DIR", &var)
        .env("TIPSA__LOG__FORMAT", "json")
        .env("TIPSA__DATABASE__URL", &db.url)
        .env("TIPSA__METRICS__WORKER_LISTEN", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// `tipsa healthcheck --worker` against a worker whose metrics listen on `port`.
fn worker_healthcheck(port: u16) -> bool {
    Command::new(env!("CARGO_BIN_EXE_tipsa"))
        .args(["healthcheck", "--worker"])
        .env_clear()
        .env("TIPSA_CONFIG_DIR", "/nonexistent-tipsa-config")
        .env("TIPSA__METRICS__WORKER_LISTEN", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success()
}

#[tokio::test]
async fn the_worker_exposes_its_own_metrics() {
    let app = spawn_app().await;
    // A dead digest job, so the database-wide gauge has something to show.
    let mut conn = app.db.connect().await;
    diesel::sql_query(
        "INSERT INTO notification_jobs (id, kind, team, state, attempts) \
         VALUES (gen_random_uuid(), 'team_digest', 'syd', 'dead', 10)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let port = free_port();
    let mut worker = start_worker(&app.db, port);
    let address = format!("http://127.0.0.1:{port}");
    let mut text = String::new();
    for _ in 0..100 {
        if let Ok(response) = reqwest::get(format!("{address}/metrics")).await {
            text = response.text().await.unwrap();
            if counter(&text, "tipsa_housekeeping_runs_total", &[("result", "ok")]) >= 1.0 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The container health check of a worker asks its metrics listener.
    assert!(worker_healthcheck(port), "a running worker is healthy");
    let _ = worker.kill();
    let _ = worker.wait();
    assert!(!worker_healthcheck(port), "a stopped worker is not");
    assert_eq!(
        sample(&text, "tipsa_build_info", &[("role", "worker")]),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "tipsa_outbox_dead_jobs", &[("kind", "team_digest")]),
        Some(1.0)
    );
    // The worker ran housekeeping at start (it was alone, so it held the lock).
    assert!(counter(&text, "tipsa_housekeeping_runs_total", &[("result", "ok")]) >= 1.0);
    assert!(
        sample(
            &text,
            "tipsa_housekeeping_last_success_timestamp_seconds",
            &[]
        )
        .is_some()
    );
    assert!(sample(&text, "tipsa_db_pool_max_size", &[]).is_some());
}

#[tokio::test]
async fn every_metric_the_dashboard_and_alerts_use_is_exported() {
    let app = spawn_app_with(|s| s.notify.worker_in_serve = true).await;
    assert_eq!(app.submit(&valid_tip()).await.status(), 201);
    let names = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ops/metrics.txt"),
    )
    .unwrap();
    let mut text = String::new();
    for _ in 0..50 {
        text = scrape_text(&app).await;
        if text.contains("tipsa_housekeeping_last_success_timestamp_seconds ") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let missing: Vec<&str> = names
        .lines()
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .filter(|name| {
            !text.lines().any(|line| {
                line.strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with(['{', ' ']) || rest.starts_with("_bucket"))
            })
        })
        .collect();
    assert!(missing.is_empty(), "not exported: {missing:?}");
    // Closed label sets start at zero, so alerts and rate() have a series from the start.
    assert!(
        sample(
            &text,
            "tipsa_notifications_dead_total",
            &[("kind", "reporter_ack")]
        )
        .is_some()
    );
}
