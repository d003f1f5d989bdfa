//! Every error status of the API, as problem+json, and never a 500 for bad input.

use serde_json::Value;
use tipsa::auth::Scope;

use crate::helpers::{create_key, problem, spawn_app, spawn_app_with, valid_tip};

#[tokio::test]
async fn malformed_json_is_400() {
    let app = spawn_app().await;
    for body in ["{", "{\"category\": }", "not json", ""] {
        let response = app
            .client
            .post(app.url("/api/v1/tips"))
            .bearer_auth(&app.token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let problem = problem(response, 400).await;
        assert_eq!(
            problem["type"], "urn:tipsa:problem:malformed-json",
            "{body:?}"
        );
    }
}

#[tokio::test]
async fn a_missing_malformed_unknown_or_revoked_key_is_401() {
    let app = spawn_app_with(|s| s.auth.api_key_cache_seconds = 0).await;
    let no_key = app
        .client
        .post(app.url("/api/v1/tips"))
        .json(&valid_tip())
        .send()
        .await
        .unwrap();
    assert_eq!(
        no_key.headers()["www-authenticate"],
        "Bearer realm=\"tipsa\""
    );
    problem(no_key, 401).await;

    for token in [
        "nonsense",
        "tipsa_aaaaaaaa_0000000000000000000000000000000",
        "tipsa_aaaaaaaa_00000000000000000000000000000000",
    ] {
        problem(app.submit_with(&valid_tip(), token, None).await, 401).await;
    }
    // Right prefix, wrong secret.
    let prefix = &app.token[..15];
    let forged = format!("{prefix}_{}", "0".repeat(32));
    problem(app.submit_with(&valid_tip(), &forged, None).await, 401).await;

    let mut conn = app.db.connect().await;
    tipsa::db::api_keys::revoke(&mut conn, &app.token[6..14])
        .await
        .unwrap();
    problem(app.submit(&valid_tip()).await, 401).await;
    assert_eq!(app.count_tips().await, 0);
}

#[tokio::test]
async fn a_key_without_the_scope_is_403() {
    let app = spawn_app().await;
    let read_only = create_key(&app.db, &[Scope::TipsRead]).await;
    let body = problem(app.submit_with(&valid_tip(), &read_only, None).await, 403).await;
    assert!(body["detail"].as_str().unwrap().contains("tips:submit"));

    let submit_only = create_key(&app.db, &[Scope::TipsSubmit]).await;
    let created: Value = app
        .submit_with(&valid_tip(), &submit_only, None)
        .await
        .json()
        .await
        .unwrap();
    let response = app
        .client
        .get(app.url(&format!("/api/v1/tips/{}", created["id"].as_str().unwrap())))
        .bearer_auth(&submit_only)
        .send()
        .await
        .unwrap();
    problem(response, 403).await;
}

#[tokio::test]
async fn unknown_tips_and_routes_are_404() {
    let app = spawn_app().await;
    problem(
        app.get(&format!("/api/v1/tips/{}", uuid::Uuid::now_v7()))
            .await,
        404,
    )
    .await;
    problem(app.get("/api/v1/tips/not-a-uuid").await, 404).await;
    problem(app.get("/api/v1/nothing-here").await, 404).await;
    problem(app.get("/api/v2/tips").await, 404).await;
}

#[tokio::test]
async fn a_wrong_method_is_405_with_allow() {
    let app = spawn_app().await;
    let response = app
        .client
        .delete(app.url("/api/v1/tips"))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["allow"], "GET, POST");
    problem(response, 405).await;
    let response = app
        .client
        .put(app.url("/api/v1/taxonomy"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["allow"], "GET");
    problem(response, 405).await;
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let app = spawn_app().await;
    let mut tip = valid_tip();
    tip["description"] = Value::String("å".repeat(40_000)); // 80 000 bytes > 64 KiB
    problem(app.submit(&tip).await, 413).await;

    // Without Content-Length (chunked), the limit still holds.
    let body = serde_json::to_vec(&tip).unwrap();
    let stream = futures_util::stream::iter(
        body.chunks(8192)
            .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
            .collect::<Vec<_>>(),
    );
    let response = app
        .client
        .post(app.url("/api/v1/tips"))
        .bearer_auth(&app.token)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    problem(response, 413).await;
    assert_eq!(app.count_tips().await, 0);
}

#[tokio::test]
async fn a_limit_can_be_configured() {
    let app = spawn_app_with(|s| s.server.body_limit_bytes = 2048).await;
    let mut tip = valid_tip();
    tip["description"] = Value::String("a".repeat(3000));
    problem(app.submit(&tip).await, 413).await;
}

#[tokio::test]
async fn a_body_that_is_not_json_is_415() {
    let app = spawn_app().await;
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let mut request = app
            .client
            .post(app.url("/api/v1/tips"))
            .bearer_auth(&app.token)
            .body(serde_json::to_vec(&valid_tip()).unwrap());
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        problem(request.send().await.unwrap(), 415).await;
    }
    // application/json with a charset, and +json types, are fine.
    let response = app
        .client
        .post(app.url("/api/v1/tips"))
        .bearer_auth(&app.token)
        .header("content-type", "application/json; charset=utf-8")
        .body(serde_json::to_vec(&valid_tip()).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
}

#[tokio::test]
async fn a_database_outage_is_503_with_retry_after_and_recovers() {
    let app = spawn_app().await;
    assert_eq!(app.submit(&valid_tip()).await.status().as_u16(), 201);

    let mut admin = <diesel_async::AsyncPgConnection as diesel_async::AsyncConnection>::establish(
        crate::helpers::admin_url(),
    )
    .await
    .unwrap();
    let cut_off = format!(
        "ALTER DATABASE {db} WITH ALLOW_CONNECTIONS false",
        db = app.db.name
    );
    let kick = format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}'",
        app.db.name
    );
    diesel_async::RunQueryDsl::execute(diesel::sql_query(cut_off), &mut admin)
        .await
        .unwrap();
    diesel_async::RunQueryDsl::execute(diesel::sql_query(kick), &mut admin)
        .await
        .unwrap();

    // Every pooled connection is dead and no new one can be made.
    for _ in 0..6 {
        let response = app.submit(&valid_tip()).await;
        assert!(
            response
                .headers()
                .get("retry-after")
                .is_some_and(|v| v == "5"),
            "status {}; logged: {:?}",
            response.status(),
            crate::helpers::CapturedLogs::global()
                .text()
                .lines()
                .filter(|l| l.contains("internal error"))
                .collect::<Vec<_>>()
        );
        problem(response, 503).await;
    }
    problem(app.get("/readyz").await, 503).await;

    let restore = format!("ALTER DATABASE {} WITH ALLOW_CONNECTIONS true", app.db.name);
    diesel_async::RunQueryDsl::execute(diesel::sql_query(restore), &mut admin)
        .await
        .unwrap();
    assert_eq!(app.submit(&valid_tip()).await.status().as_u16(), 201);
    assert_eq!(app.count_tips().await, 2);
}

#[tokio::test]
async fn a_revoked_key_stops_working_once_its_cache_entry_expires() {
    let app = spawn_app_with(|s| s.auth.api_key_cache_seconds = 1).await;
    assert_eq!(app.submit(&valid_tip()).await.status().as_u16(), 201);
    let mut conn = app.db.connect().await;
    tipsa::db::api_keys::revoke(&mut conn, &app.token[6..14])
        .await
        .unwrap();
    // Verified a moment ago on this node: still accepted within the cache lifetime.
    assert_eq!(app.submit(&valid_tip()).await.status().as_u16(), 201);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    problem(app.submit(&valid_tip()).await, 401).await;
}
