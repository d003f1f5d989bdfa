//! Questions to the tipster and the tipster's follow-up with the receipt code, over the API.

use serde_json::{Value, json};
use tipsa::auth::Scope;

use crate::helpers::{TestApp, create_key, problem, spawn_app, spawn_app_with, valid_tip};

async fn submitted(app: &TestApp) -> (String, String) {
    let body: Value = app.submit(&valid_tip()).await.json().await.unwrap();
    (
        body["id"].as_str().unwrap().to_owned(),
        body["receipt_code"].as_str().unwrap().to_owned(),
    )
}

async fn post_json(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> reqwest::Response {
    let mut request = app.client.post(app.url(path)).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn a_question_reaches_the_tipster_and_the_reply_comes_back() {
    let app = spawn_app().await;
    let (id, code) = submitted(&app).await;

    let before: Value = post_json(
        &app,
        "/api/v1/follow-up",
        None,
        json!({"receipt_code": code}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(before["status"], "received");
    assert_eq!(before["messages"], json!([]));

    let asked = post_json(
        &app,
        &format!("/api/v1/tips/{id}/messages"),
        Some(&app.token),
        json!({"body": "Vilken avdelning gäller det, och vilka nätter?"}),
    )
    .await;
    assert_eq!(asked.status().as_u16(), 201);
    let tip: Value = app
        .get(&format!("/api/v1/tips/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(tip["status"], "awaiting_reporter");

    // The code as a person might type it: lower case, spaces instead of dashes.
    let typed = code.to_lowercase().replace('-', " ");
    let view = post_json(
        &app,
        "/api/v1/follow-up",
        None,
        json!({"receipt_code": typed}),
    )
    .await;
    assert_eq!(view.status().as_u16(), 200);
    assert_eq!(view.headers()["cache-control"], "no-store");
    let view: Value = view.json().await.unwrap();
    assert_eq!(view["status"], "question_for_you");
    assert_eq!(view["messages"][0]["from"], "inspectorate");
    assert_eq!(
        view["messages"][0]["body"],
        "Vilken avdelning gäller det, och vilka nätter?"
    );
    assert!(view["messages"][0].get("author").is_none());

    let replied = post_json(
        &app,
        "/api/v1/follow-up/messages",
        None,
        json!({"receipt_code": code, "body": "Avdelning 3, alla nätter sedan i måndags."}),
    )
    .await;
    assert_eq!(replied.status().as_u16(), 201);
    let replied: Value = replied.json().await.unwrap();
    assert_eq!(replied["status"], "under_review");
    assert_eq!(replied["messages"][1]["from"], "you");

    let tip: Value = app
        .get(&format!("/api/v1/tips/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(tip["status"], "in_review");
    let messages: Value = app
        .get(&format!("/api/v1/tips/{id}/messages"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(messages.as_array().unwrap().len(), 2);
    assert_eq!(messages[0]["direction"], "to_reporter");
    assert!(
        messages[0]["read_at"].is_string(),
        "the tipster has seen the question"
    );
    assert_eq!(messages[1]["direction"], "from_reporter");
}

#[tokio::test]
async fn wrong_and_malformed_codes_are_refused() {
    let app = spawn_app().await;
    let _ = submitted(&app).await;
    let wrong = post_json(
        &app,
        "/api/v1/follow-up",
        None,
        json!({"receipt_code": "0000-0000-0000-0000"}),
    )
    .await;
    problem(wrong, 404).await;
    let malformed = post_json(
        &app,
        "/api/v1/follow-up",
        None,
        json!({"receipt_code": "1234"}),
    )
    .await;
    let body = problem(malformed, 422).await;
    assert_eq!(body["errors"][0]["field"], "receipt_code");
    let missing = post_json(
        &app,
        "/api/v1/follow-up/messages",
        None,
        json!({"body": "hej"}),
    )
    .await;
    problem(missing, 422).await;
}

#[tokio::test]
async fn a_closed_tip_takes_no_more_messages() {
    let app = spawn_app().await;
    let (id, code) = submitted(&app).await;
    let mut conn = app.db.connect().await;
    diesel_async::RunQueryDsl::execute(
        diesel::sql_query(
            "UPDATE tips SET status = 'closed', outcome = 'no_action' WHERE id = $1::uuid",
        )
        .bind::<diesel::sql_types::Text, _>(&id),
        &mut conn,
    )
    .await
    .unwrap();
    let asked = post_json(
        &app,
        &format!("/api/v1/tips/{id}/messages"),
        Some(&app.token),
        json!({"body": "Fråga"}),
    )
    .await;
    problem(asked, 409).await;
    let reply = post_json(
        &app,
        "/api/v1/follow-up/messages",
        None,
        json!({"receipt_code": code, "body": "Svar"}),
    )
    .await;
    problem(reply, 409).await;
    let view: Value = post_json(
        &app,
        "/api/v1/follow-up",
        None,
        json!({"receipt_code": code}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(view["status"], "closed");
}

#[tokio::test]
async fn messages_need_the_write_scope_and_an_existing_tip() {
    let app = spawn_app().await;
    let (id, _) = submitted(&app).await;
    let reader = create_key(&app.db, &[Scope::TipsRead]).await;
    let refused = post_json(
        &app,
        &format!("/api/v1/tips/{id}/messages"),
        Some(&reader),
        json!({"body": "x"}),
    )
    .await;
    problem(refused, 403).await;
    let unknown = post_json(
        &app,
        &format!("/api/v1/tips/{}/messages", uuid::Uuid::now_v7()),
        Some(&app.token),
        json!({"body": "x"}),
    )
    .await;
    problem(unknown, 404).await;
    let empty = post_json(
        &app,
        &format!("/api/v1/tips/{id}/messages"),
        Some(&app.token),
        json!({"body": "   "}),
    )
    .await;
    let body = problem(empty, 422).await;
    assert_eq!(body["errors"][0]["code"], "required");
}

#[tokio::test]
async fn receipt_code_attempts_are_rate_limited() {
    let app = spawn_app_with(|s| s.public.receipt_code_attempts_per_window = 3).await;
    for _ in 0..3 {
        let response = post_json(
            &app,
            "/api/v1/follow-up",
            None,
            json!({"receipt_code": "0000-0000-0000-0000"}),
        )
        .await;
        assert_eq!(response.status().as_u16(), 404);
    }
    let limited = post_json(
        &app,
        "/api/v1/follow-up",
        None,
        json!({"receipt_code": "0000-0000-0000-0000"}),
    )
    .await;
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=15 * 60).contains(&retry_after));
    problem(limited, 429).await;
}
