//! The contract, exact: what the OpenAPI document allows is accepted, as a new user would try
//! it (empty query values, messages and form fields of invisible characters, a malformed
//! If-Match), and answered field by field when refused.

use serde_json::{Value, json};

use crate::helpers::{field_errors, problem, spawn_app, valid_tip};
use crate::web_pages::{browser_like, form_token, valid_form};

#[tokio::test]
async fn an_empty_query_value_is_the_same_as_leaving_it_out() {
    let app = spawn_app().await;
    app.submit(&valid_tip()).await;
    let empty_selection = "from=&to=&region_code=&municipality_code=&category=&care_sector=\
         &priority=&outcome=&outbreak=&channel=&reporter_role=";
    for (path, own) in [
        ("/api/v1/stats", "&group_by=&period=&trend="),
        ("/api/v1/stats/facilities", ""),
        ("/api/v1/stats/deadlines", ""),
    ] {
        let bare: Value = app.get(path).await.json().await.unwrap();
        let response = app.get(&format!("{path}?{empty_selection}{own}")).await;
        assert_eq!(response.status().as_u16(), 200, "{path}");
        let with_empty: Value = response.json().await.unwrap();
        assert_eq!(
            with_empty["from"], bare["from"],
            "{path}: the default range"
        );
        assert_eq!(with_empty["to"], bare["to"], "{path}");
        assert!(with_empty["from"].is_string(), "{path}: {with_empty}");
    }
    let export = app
        .get(&format!(
            "/api/v1/stats/export?{empty_selection}&format=&headers="
        ))
        .await;
    assert_eq!(export.status().as_u16(), 200);
    assert!(
        export.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv"),
        "empty format is the default, csv"
    );
    let queue = app
        .get("/api/v1/tips?team=&status=&q=&limit=&cursor=&submitted_from=&overdue=")
        .await;
    assert_eq!(queue.status().as_u16(), 200);
    let page: Value = queue.json().await.unwrap();
    assert_eq!(
        page["items"].as_array().unwrap().len(),
        1,
        "open tips, as without status"
    );
    // A value that is not empty is still checked: whitespace is no period, a comma no code.
    let body = problem(app.get("/api/v1/stats?period=%20&category=,").await, 422).await;
    assert_eq!(
        field_errors(&body),
        vec![
            ("period".to_owned(), "unknown_period".to_owned()),
            ("category".to_owned(), "empty".to_owned()),
        ]
    );
}

#[tokio::test]
async fn a_message_of_invisible_characters_is_no_message() {
    let app = spawn_app().await;
    let submitted: Value = app.submit(&valid_tip()).await.json().await.unwrap();
    let id = submitted["id"].as_str().unwrap();
    let code = submitted["receipt_code"].as_str().unwrap();
    let invisible = "\u{200B}\u{2060}\u{FEFF}\u{202E}\u{00AD}\u{0301}";
    let response = app
        .client
        .post(app.url(&format!("/api/v1/tips/{id}/messages")))
        .bearer_auth(&app.token)
        .json(&json!({ "body": invisible }))
        .send()
        .await
        .unwrap();
    let body = problem(response, 422).await;
    assert_eq!(
        field_errors(&body),
        vec![("body".to_owned(), "required".to_owned())]
    );
    let response = app
        .client
        .post(app.url("/api/v1/follow-up/messages"))
        .json(&json!({ "receipt_code": code, "body": format!(" {invisible} ") }))
        .send()
        .await
        .unwrap();
    let body = problem(response, 422).await;
    assert_eq!(
        field_errors(&body),
        vec![("body".to_owned(), "required".to_owned())]
    );
    // One visible character among them is a message.
    let response = app
        .client
        .post(app.url(&format!("/api/v1/tips/{id}/messages")))
        .bearer_auth(&app.token)
        .json(&json!({ "body": format!("{invisible}?") }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
}

#[tokio::test]
async fn an_if_match_that_is_no_etag_is_named_and_a_stale_one_is_412() {
    let app = spawn_app().await;
    let submitted: Value = app.submit(&valid_tip()).await.json().await.unwrap();
    let url = app.url(&format!(
        "/api/v1/tips/{}",
        submitted["id"].as_str().unwrap()
    ));
    let patch = |if_match: &'static str| {
        app.client
            .patch(&url)
            .bearer_auth(&app.token)
            .header("If-Match", if_match)
            .json(&json!({ "status": "in_review" }))
            .send()
    };
    for malformed in ["{}", "*", "\"v\"", "\"v-1\"", "\"3\""] {
        let body = problem(patch(malformed).await.unwrap(), 422).await;
        assert_eq!(
            field_errors(&body),
            vec![("If-Match".to_owned(), "invalid_format".to_owned())],
            "{malformed}"
        );
    }
    problem(patch("\"v7\"").await.unwrap(), 412).await;
    assert_eq!(patch("W/\"v1\"").await.unwrap().status().as_u16(), 200);
}

#[tokio::test]
async fn the_web_form_applies_the_same_rules() {
    let app = spawn_app().await;
    let client = browser_like();
    let token = form_token(&app, &client).await;
    let mut form = valid_form(&token);
    form.retain(|(name, _)| *name != "description");
    form.push(("description", "\u{200B}\u{200D}\u{FEFF}".repeat(20)));
    form.push(("occurred_on", "0000-01-01".into()));
    let response = client
        .post(app.url("/tipsa/granska"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 422);
    let html = response.text().await.unwrap();
    for id in ["description", "occurred_on"] {
        assert!(
            html.contains(&format!("href=\"#{id}\"")),
            "summary links {id}"
        );
        assert!(
            html.contains(&format!("id=\"{id}-error\"")),
            "message at {id}"
        );
    }
    assert!(
        html.contains("Fyll i fältet"),
        "the description is required"
    );
    assert!(
        html.contains("Datumet kan inte vara före 1 januari 1900"),
        "the date's own message"
    );
    assert_eq!(app.count_tips().await, 0);
}
