//! POST /api/v1/tips and GET /api/v1/tips/{id}: the happy paths, every validation rule, and
//! references under concurrency.

use serde_json::{Value, json};

use crate::helpers::{field_errors, problem, spawn_app, valid_tip};

#[tokio::test]
async fn an_anonymous_tip_is_stored_and_answered_with_a_receipt() {
    let app = spawn_app().await;
    let response = app.submit(&valid_tip()).await;
    assert_eq!(response.status().as_u16(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();

    let id = body["id"].as_str().unwrap();
    assert_eq!(location, format!("/api/v1/tips/{id}"));
    let reference = body["reference"].as_str().unwrap();
    let year = chrono::Utc::now().format("%Y").to_string();
    assert!(reference.starts_with(&format!("T-{year}-")), "{reference}");
    assert_eq!(reference.len(), "T-2026-000001".len());
    let code = body["receipt_code"].as_str().unwrap();
    assert!(
        tipsa::domain::ReceiptCode::parse(code).is_some_and(|c| c.display_form() == code),
        "receipt code {code:?} is not XXXX-XXXX-XXXX-XXXX Crockford base32"
    );
    assert_eq!(body["status"], "received");
    assert_eq!(body["anonymous"], true);
    assert!(body["submitted_at"].as_str().unwrap().ends_with('Z'));

    let stored: Value = app.get(&location).await.json().await.unwrap();
    assert_eq!(stored["id"], body["id"]);
    assert_eq!(stored["reference"], body["reference"]);
    assert_eq!(stored["channel"], "api");
    assert_eq!(stored["status"], "new");
    assert_eq!(stored["municipality_code"], "0180");
    assert_eq!(stored["occurred_on"], "2026-11-01");
    assert_eq!(stored["ongoing"], true);
    assert_eq!(stored["language"], "sv");
    assert_eq!(stored["facility_name"], "Solgläntans äldreboende");
    assert!(stored.get("receipt_code").is_none());
    assert!(stored.get("reporter").is_none());
    assert_eq!(app.count_tips().await, 1);
}

#[tokio::test]
async fn an_identified_tip_in_english_is_not_anonymous() {
    let app = spawn_app().await;
    let mut tip = valid_tip();
    tip["language"] = json!("en");
    tip["outbreak"] = json!("covid-19");
    tip["reporter"] = json!({"name": "Anna Andersson", "phone": "+46 70-123 45 67"});
    let response = app.submit(&tip).await;
    assert_eq!(response.status().as_u16(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["anonymous"], false);
    let stored: Value = app
        .get(&format!("/api/v1/tips/{}", body["id"].as_str().unwrap()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stored["language"], "en");
    assert_eq!(stored["outbreak"], "covid-19");
    assert_eq!(stored["anonymous"], false);
    let text = stored.to_string();
    assert!(!text.contains("Anna") && !text.contains("123 45 67"));
}

#[tokio::test]
async fn the_submission_is_recorded_as_an_event() {
    let app = spawn_app().await;
    let body: Value = app.submit(&valid_tip()).await.json().await.unwrap();
    #[derive(diesel::QueryableByName)]
    struct Event {
        #[diesel(sql_type = diesel::sql_types::Text)]
        kind: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        actor: String,
    }
    let mut conn = app.db.connect().await;
    let events: Vec<Event> = diesel_async::RunQueryDsl::load(
        diesel::sql_query("SELECT kind, actor FROM tip_events WHERE tip_id = $1::uuid")
            .bind::<diesel::sql_types::Text, _>(body["id"].as_str().unwrap()),
        &mut conn,
    )
    .await
    .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, "submitted");
    assert!(events[0].actor.starts_with("api_key:"));
}

/// One case per rule: a mutation of a valid tip and the (field, code) it must produce.
#[tokio::test]
async fn every_validation_rule_names_its_field() {
    let app = spawn_app().await;
    let tomorrow = (tipsa::state::today_in_sweden() + chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        (
            "missing category",
            json!({"category": null}),
            "category",
            "required",
        ),
        (
            "unknown category",
            json!({"category": "weather"}),
            "category",
            "unknown_code",
        ),
        (
            "missing sector",
            json!({"care_sector": null}),
            "care_sector",
            "required",
        ),
        (
            "unknown sector",
            json!({"care_sector": "space"}),
            "care_sector",
            "unknown_code",
        ),
        (
            "missing region",
            json!({"region_code": null}),
            "region_code",
            "required",
        ),
        (
            "unknown region",
            json!({"region_code": "02"}),
            "region_code",
            "unknown_code",
        ),
        (
            "unknown municipality",
            json!({"municipality_code": "0000"}),
            "municipality_code",
            "unknown_code",
        ),
        (
            "municipality outside region",
            json!({"municipality_code": "1480"}),
            "municipality_code",
            "not_in_region",
        ),
        (
            "facility too long",
            json!({"facility_name": "x".repeat(201)}),
            "facility_name",
            "too_long",
        ),
        (
            "provider too long",
            json!({"care_provider": "x".repeat(201)}),
            "care_provider",
            "too_long",
        ),
        (
            "date not a date",
            json!({"occurred_on": "1 november"}),
            "occurred_on",
            "invalid_date",
        ),
        (
            "date in future",
            json!({"occurred_on": tomorrow}),
            "occurred_on",
            "in_future",
        ),
        (
            "ongoing not bool",
            json!({"ongoing": "ja"}),
            "ongoing",
            "invalid_type",
        ),
        (
            "description missing",
            json!({"description": null}),
            "description",
            "required",
        ),
        (
            "description short after trim",
            json!({"description": format!("  {}  ", "a".repeat(19))}),
            "description",
            "too_short",
        ),
        (
            "description too long",
            json!({"description": "a".repeat(10_001)}),
            "description",
            "too_long",
        ),
        (
            "role missing",
            json!({"reporter_role": null}),
            "reporter_role",
            "required",
        ),
        (
            "role unknown",
            json!({"reporter_role": "inspector"}),
            "reporter_role",
            "unknown_code",
        ),
        (
            "outbreak unknown",
            json!({"outbreak": "plague"}),
            "outbreak",
            "unknown_code",
        ),
        (
            "reporter without contact",
            json!({"reporter": {"name": "Anna"}}),
            "reporter",
            "contact_required",
        ),
        (
            "reporter bad email",
            json!({"reporter": {"email": "anna.example.se"}}),
            "reporter.email",
            "invalid_email",
        ),
        (
            "reporter bad phone",
            json!({"reporter": {"phone": "ring mig"}}),
            "reporter.phone",
            "invalid_phone",
        ),
        (
            "reporter name too long",
            json!({"reporter": {"name": "n".repeat(201), "email": "a@b.se"}}),
            "reporter.name",
            "too_long",
        ),
        (
            "language unknown",
            json!({"language": "de"}),
            "language",
            "invalid_type",
        ),
        (
            "unknown field",
            json!({"priority": "critical"}),
            "priority",
            "unknown_field",
        ),
        (
            "unknown reporter field",
            json!({"reporter": {"email": "a@b.se", "address": "x"}}),
            "reporter.address",
            "unknown_field",
        ),
    ];
    for (name, patch, field, code) in cases {
        let mut tip = valid_tip();
        for (key, value) in patch.as_object().unwrap() {
            if value.is_null() {
                tip.as_object_mut().unwrap().remove(key);
            } else {
                tip[key] = value.clone();
            }
        }
        let body = problem(app.submit(&tip).await, 422).await;
        assert_eq!(
            field_errors(&body),
            vec![(field.to_owned(), code.to_owned())],
            "case: {name}"
        );
        assert_eq!(body["type"], "urn:tipsa:problem:validation", "case: {name}");
    }
    assert_eq!(app.count_tips().await, 0, "no invalid tip may be stored");
}

#[tokio::test]
async fn all_failing_fields_are_reported_at_once() {
    let app = spawn_app().await;
    let body = problem(
        app.submit(
            &json!({"region_code": "01", "municipality_code": "1480", "reporter": {"email": "x"}}),
        )
        .await,
        422,
    )
    .await;
    let fields: Vec<String> = field_errors(&body).into_iter().map(|(f, _)| f).collect();
    assert_eq!(
        fields,
        vec![
            "category",
            "care_sector",
            "municipality_code",
            "description",
            "reporter_role",
            "reporter.email"
        ]
    );
}

#[tokio::test]
async fn concurrent_submissions_get_distinct_references() {
    let app = spawn_app().await;
    let tip = valid_tip();
    let requests = (0..25).map(|_| app.submit(&tip));
    let responses = futures_util::future::join_all(requests).await;
    let mut references = Vec::new();
    for response in responses {
        assert_eq!(response.status().as_u16(), 201);
        let body: Value = response.json().await.unwrap();
        references.push(body["reference"].as_str().unwrap().to_owned());
    }
    references.sort();
    references.dedup();
    assert_eq!(references.len(), 25);
    assert_eq!(app.count_tips().await, 25);
}

#[tokio::test]
async fn dates_before_1900_are_refused_on_their_field() {
    let app = spawn_app().await;
    for date in ["0000-01-01", "0026-11-01", "1899-12-31"] {
        let mut tip = valid_tip();
        tip["occurred_on"] = json!(date);
        let body = problem(app.submit(&tip).await, 422).await;
        assert_eq!(
            field_errors(&body),
            vec![("occurred_on".to_owned(), "too_early".to_owned())],
            "{date}: {body}"
        );
    }
    // The floor itself is a date like any other; tomorrow is still refused.
    let mut tip = valid_tip();
    tip["occurred_on"] = json!("1900-01-01");
    let response = app.submit(&tip).await;
    assert_eq!(response.status().as_u16(), 201);
    let tomorrow = (tipsa::state::today_in_sweden() + chrono::Duration::days(1)).to_string();
    tip["occurred_on"] = json!(tomorrow);
    let body = problem(app.submit(&tip).await, 422).await;
    assert_eq!(
        field_errors(&body),
        vec![("occurred_on".to_owned(), "in_future".to_owned())]
    );
    assert_eq!(app.count_tips().await, 1);
}

#[tokio::test]
async fn a_description_is_counted_by_the_characters_a_reader_sees() {
    let app = spawn_app().await;
    // Zero-width space, non-joiner, joiner, word joiner, BOM, soft hyphen, bidi override and
    // isolate, a lone combining accent, an ideographic space, a tag character.
    let invisible =
        "\u{200B}\u{200C}\u{200D}\u{2060}\u{FEFF}\u{00AD}\u{202E}\u{2066}\u{0301}\u{3000}\u{E0041}";
    let cases = [
        (invisible.repeat(10), "required"),
        ("\u{200B}".repeat(40), "required"),
        // 19 visible characters padded with invisible ones to well over 20.
        (
            format!("{}{}", "a".repeat(19), invisible.repeat(3)),
            "too_short",
        ),
    ];
    for (description, code) in cases {
        let mut tip = valid_tip();
        tip["description"] = json!(description);
        let body = problem(app.submit(&tip).await, 422).await;
        assert_eq!(
            field_errors(&body),
            vec![("description".to_owned(), code.to_owned())],
            "{}: {body}",
            description.escape_unicode()
        );
    }
    // Invisible characters between 20 visible ones are kept, not counted against the tip.
    let mut tip = valid_tip();
    let text = format!("Nattpersonal\u{00AD}brist\u{200B} på avdelning 4{invisible}");
    tip["description"] = json!(text);
    assert_eq!(app.submit(&tip).await.status().as_u16(), 201);
    assert_eq!(app.count_tips().await, 1);
}

#[tokio::test]
async fn an_optional_text_of_invisible_characters_is_left_out() {
    let app = spawn_app().await;
    let mut tip = valid_tip();
    tip["facility_name"] = json!("\u{200B}\u{FEFF}");
    let body: Value = app.submit(&tip).await.json().await.unwrap();
    let stored: Value = app
        .get(&format!("/api/v1/tips/{}", body["id"].as_str().unwrap()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stored["facility_name"], Value::Null);
}
