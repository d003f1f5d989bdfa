//! Idempotency-Key: replay, mismatch, in-flight duplicates and a burst of concurrent retries.

use serde_json::{Value, json};

use crate::helpers::{problem, spawn_app, valid_tip};

#[tokio::test]
async fn a_replay_returns_the_original_response() {
    let app = spawn_app().await;
    let first = app
        .submit_with(&valid_tip(), &app.token, Some("order-1"))
        .await;
    assert_eq!(first.status().as_u16(), 201);
    let location = first.headers()["location"].clone();
    let first: Value = first.json().await.unwrap();

    // Same content, different formatting and key order: still the same request.
    let object = valid_tip();
    let reversed: Vec<String> = object
        .as_object()
        .unwrap()
        .iter()
        .rev()
        .map(|(key, value)| format!("\n  \"{key}\" :  {value}"))
        .collect();
    let reordered = format!("{{{}\n}}", reversed.join(","));
    assert_eq!(serde_json::from_str::<Value>(&reordered).unwrap(), object);
    let second = app
        .client
        .post(app.url("/api/v1/tips"))
        .bearer_auth(&app.token)
        .header("content-type", "application/json")
        .header("Idempotency-Key", "order-1")
        .body(reordered)
        .send()
        .await
        .unwrap();
    assert_eq!(second.status().as_u16(), 201);
    assert_eq!(second.headers()["location"], location);
    assert_eq!(second.headers()["idempotent-replayed"], "true");
    let second: Value = second.json().await.unwrap();
    assert_eq!(first, second, "same id, reference and receipt code");
    assert_eq!(app.count_tips().await, 1);

    // A different key is a different request.
    let third: Value = app
        .submit_with(&valid_tip(), &app.token, Some("order-2"))
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(third["id"], first["id"]);
    assert_eq!(app.count_tips().await, 2);
}

#[tokio::test]
async fn the_same_key_with_another_body_is_422() {
    let app = spawn_app().await;
    assert_eq!(
        app.submit_with(&valid_tip(), &app.token, Some("k"))
            .await
            .status()
            .as_u16(),
        201
    );
    let mut other = valid_tip();
    other["ongoing"] = json!(false);
    let body = problem(app.submit_with(&other, &app.token, Some("k")).await, 422).await;
    assert_eq!(body["type"], "urn:tipsa:problem:idempotency-key-mismatch");
    assert_eq!(app.count_tips().await, 1);
}

#[tokio::test]
async fn keys_belong_to_one_api_key() {
    let app = spawn_app().await;
    let other_client = crate::helpers::create_key(&app.db, &[tipsa::auth::Scope::TipsSubmit]).await;
    let a: Value = app
        .submit_with(&valid_tip(), &app.token, Some("shared"))
        .await
        .json()
        .await
        .unwrap();
    let b: Value = app
        .submit_with(&valid_tip(), &other_client, Some("shared"))
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(a["id"], b["id"]);
}

#[tokio::test]
async fn a_duplicate_while_the_first_is_in_flight_is_409() {
    let app = spawn_app().await;
    let body = valid_tip();
    let fingerprint = tipsa::api::body::parse::<tipsa::domain::TipDraft>(
        &serde_json::to_vec(&body).unwrap(),
        true,
    )
    .ok()
    .and_then(|parsed| parsed.fingerprint)
    .unwrap_or_default();
    // Simulate a first request that has claimed the key and is still working.
    let mut conn = app.db.connect().await;
    let key_id = {
        let prefix = &app.token[6..14];
        tipsa::db::api_keys::find_by_prefix(&mut conn, prefix)
            .await
            .unwrap()
            .unwrap()
            .id
    };
    let now = chrono::Utc::now();
    let claimed = tipsa::db::idempotency::try_claim(
        &mut conn,
        key_id,
        "busy",
        &fingerprint,
        now + chrono::Duration::hours(24),
        now - chrono::Duration::seconds(60),
    )
    .await
    .unwrap();
    assert!(claimed);
    let problem_body = problem(app.submit_with(&body, &app.token, Some("busy")).await, 409).await;
    assert_eq!(problem_body["type"], "urn:tipsa:problem:conflict");
    assert_eq!(app.count_tips().await, 0);
}

#[tokio::test]
async fn twenty_concurrent_identical_requests_create_one_tip() {
    let app = spawn_app().await;
    let body = valid_tip();
    let requests = (0..20).map(|_| app.submit_with(&body, &app.token, Some("burst")));
    let responses = futures_util::future::join_all(requests).await;
    let mut ids = Vec::new();
    let mut conflicts = 0;
    for response in responses {
        match response.status().as_u16() {
            201 => {
                let body: Value = response.json().await.unwrap();
                ids.push(body["id"].as_str().unwrap().to_owned());
            }
            409 => conflicts += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "every success names the same tip");
    assert_eq!(app.count_tips().await, 1);
    // Once the first has finished, a retry replays it.
    let retry: Value = app
        .submit_with(&body, &app.token, Some("burst"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(retry["id"].as_str().unwrap(), ids[0]);
    println!("20 concurrent requests: 1 tip, {conflicts} answered 409 while in flight");
}

#[tokio::test]
async fn an_invalid_request_does_not_use_up_the_key() {
    let app = spawn_app().await;
    let mut invalid = valid_tip();
    invalid["category"] = json!("nope");
    problem(
        app.submit_with(&invalid, &app.token, Some("fix-me")).await,
        422,
    )
    .await;
    let response = app
        .submit_with(&valid_tip(), &app.token, Some("fix-me"))
        .await;
    assert_eq!(response.status().as_u16(), 201);
}

#[tokio::test]
async fn a_malformed_key_header_is_422() {
    let app = spawn_app().await;
    let long = "k".repeat(256);
    let body = problem(
        app.submit_with(&valid_tip(), &app.token, Some(&long)).await,
        422,
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "Idempotency-Key");
}

#[tokio::test]
async fn the_stored_response_does_not_hold_the_receipt_code_in_clear() {
    let app = spawn_app().await;
    let body: Value = app
        .submit_with(&valid_tip(), &app.token, Some("sealed"))
        .await
        .json()
        .await
        .unwrap();
    let code = body["receipt_code"].as_str().unwrap();
    let dump = crate::privacy::dump_table(&app, "idempotency_keys").await;
    assert!(dump.contains("sealed"), "the record exists");
    assert!(!dump.contains(code) && !dump.contains(&code.replace('-', "")));
}
