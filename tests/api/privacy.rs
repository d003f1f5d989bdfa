//! Contact details are sealed at rest; receipt codes, tip text and contact details never reach
//! the logs or the database in clear.

use diesel::sql_types::Text;
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};

use crate::helpers::{CapturedLogs, TestApp, spawn_app, valid_tip};

/// Every row of a table as text.
pub async fn dump_table(app: &TestApp, table: &str) -> String {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        row: String,
    }
    let mut conn = app.db.connect().await;
    let rows: Vec<Row> = diesel::sql_query(format!("SELECT t::text AS row FROM {table} t"))
        .load(&mut conn)
        .await
        .unwrap();
    rows.into_iter()
        .map(|r| r.row)
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn contact_details_are_encrypted_at_rest() {
    let app = spawn_app().await;
    let mut tip = valid_tip();
    tip["reporter"] = json!({
        "name": "Karin Lindqvist",
        "email": "karin.lindqvist@example.se",
        "phone": "070-987 65 43"
    });
    let body: Value = app.submit(&tip).await.json().await.unwrap();
    let id: uuid::Uuid = body["id"].as_str().unwrap().parse().unwrap();

    let dump = dump_table(&app, "tips").await;
    assert!(dump.contains(&id.to_string()));
    for secret in [
        "Karin",
        "Lindqvist",
        "karin.lindqvist",
        "987 65 43",
        "0709876543",
    ] {
        assert!(
            !dump.contains(secret),
            "{secret} readable in the tips table"
        );
    }
    // Also not as hex of the plaintext (bytea prints as hex).
    assert!(!dump.contains(&hex::encode("karin.lindqvist")));

    // The sealed value is the contact, openable only with the service's key and this tip's id.
    #[derive(diesel::QueryableByName)]
    struct Sealed {
        #[diesel(sql_type = diesel::sql_types::Bytea)]
        contact_ciphertext: Vec<u8>,
        #[diesel(sql_type = Text)]
        contact_key_id: String,
    }
    let mut conn = app.db.connect().await;
    let sealed: Sealed = diesel::sql_query(
        "SELECT contact_ciphertext, contact_key_id FROM tips WHERE id = $1::uuid",
    )
    .bind::<Text, _>(id.to_string())
    .get_result(&mut conn)
    .await
    .unwrap();
    let plain = app
        .state
        .crypto
        .open(
            &sealed.contact_key_id,
            &sealed.contact_ciphertext,
            id.as_bytes(),
        )
        .unwrap();
    let contact: Value = serde_json::from_slice(&plain).unwrap();
    assert_eq!(contact["email"], "karin.lindqvist@example.se");
    assert!(
        app.state
            .crypto
            .open(
                &sealed.contact_key_id,
                &sealed.contact_ciphertext,
                uuid::Uuid::now_v7().as_bytes()
            )
            .is_err(),
        "bound to its tip"
    );
}

#[tokio::test]
async fn the_receipt_code_is_stored_only_as_a_keyed_hash() {
    let app = spawn_app().await;
    let body: Value = app.submit(&valid_tip()).await.json().await.unwrap();
    let shown = body["receipt_code"].as_str().unwrap();
    let code = tipsa::domain::ReceiptCode::parse(shown).unwrap();
    let dump = dump_table(&app, "tips").await;
    assert!(!dump.contains(shown) && !dump.contains(&shown.replace('-', "")));
    let expected = hex::encode(app.state.crypto.receipt_code_hash(&code));
    assert!(dump.contains(&expected), "the HMAC is what is stored");
}

#[tokio::test]
async fn logs_hold_no_receipt_code_tip_text_contact_or_client_details() {
    let app = spawn_app().await;
    let mut tip = valid_tip();
    tip["description"] =
        json!("Unik loggkontrolltext: personalen lämnar Ragnhild ensam hela natten.");
    tip["reporter"] = json!({"email": "logtest.reporter@example.se"});
    let response = app
        .client
        .post(app.url("/api/v1/tips"))
        .bearer_auth(&app.token)
        .header("user-agent", "TipsaPrivacyProbe/9.9 (distinctive)")
        .header("x-forwarded-for", "203.0.113.77")
        .header("referer", "https://referrer.example/secret-page")
        .json(&tip)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let body: Value = response.json().await.unwrap();
    let code = body["receipt_code"].as_str().unwrap().to_owned();
    // A validation failure must not echo content either.
    let mut bad = tip.clone();
    bad["reporter"] = json!({"email": "not-an-email-Ragnhild"});
    let _ = app.submit(&bad).await;

    let logs = CapturedLogs::global().text();
    assert!(
        logs.contains("request finished") && logs.contains("/api/v1/tips"),
        "request logging is captured, so the checks below mean something"
    );
    for secret in [
        code.as_str(),
        &code.replace('-', ""),
        "Unik loggkontrolltext",
        "Ragnhild",
        "logtest.reporter",
        "TipsaPrivacyProbe",
        "203.0.113.77",
        "client_ip",
        "user_agent",
        "referrer.example",
        &app.token[15..],
    ] {
        assert!(!logs.contains(secret), "{secret:?} found in the logs");
    }
}
