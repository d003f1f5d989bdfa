//! Public-records requests over the API: registration with identity numbers pre-marked, the
//! redactions, the decision (with and without a second approval by another key), the copy —
//! whose text, extracted with a real HTML parser, holds none of the withheld passages, no
//! identity number and nothing of the reporter's, and every sentence left unmarked — and the
//! audit trail, which holds counts and references but no text.

use serde_json::{Value, json};
use tipsa::auth::Scope;

use crate::files::count;
use crate::helpers::{create_key, problem, spawn_app, spawn_app_with};
use crate::records_support::{
    ANSWER_SECRET, EMAIL, NAME, PHONE, PNR, REQUESTER, WITHHELD, approve, assert_redacted_copy,
    char_offset, chars, decide, description, html_text, identified_tip, put_redactions, registered,
    second_approval_config,
};

fn problem_fields(body: &Value) -> Vec<(String, String)> {
    crate::helpers::field_errors(body)
}

#[tokio::test]
async fn a_request_goes_from_registration_to_a_redacted_copy_over_the_api() {
    let app = spawn_app().await;
    let fixture = identified_tip(&app).await;
    let registry = create_key(&app.db, &[Scope::RecordsWrite]).await;
    let request = registered(&app, &registry, &[&fixture.reference]).await;
    let id = request["id"].as_str().unwrap().to_owned();
    assert!(
        request["reference"].as_str().unwrap().starts_with("R-20"),
        "{request}"
    );
    assert_eq!(request["status"], "open");
    assert_eq!(request["requester_given"], true);
    assert!(
        !request.to_string().contains("Granlund"),
        "the requester is never returned"
    );
    // The identity number is pre-marked and stored as the first redaction.
    let description = description();
    let pnr_start = char_offset(&description, PNR);
    let tip = &request["tips"][0];
    assert_eq!(
        tip["pre_marks"],
        json!([{ "part": "description", "start": pnr_start, "end": pnr_start + chars(PNR) }])
    );
    assert_eq!(
        tip["redactions"],
        json!([{ "part": "description", "start": pnr_start, "end": pnr_start + chars(PNR), "ground": "OSL 25 kap. 1 §" }])
    );
    assert_eq!(tip["parts"][0]["length"], chars(&description));
    assert_eq!(
        tip["parts"].as_array().unwrap().len(),
        3,
        "description and two messages"
    );
    // The requester is sealed at rest.
    assert_eq!(
        count(&app, "SELECT 1 FROM records_requests WHERE requester_ciphertext IS NOT NULL AND position(convert_to('Granlund', 'UTF8') in requester_ciphertext) = 0").await,
        1
    );

    // Mark the sentence about the resident and the start of the reply.
    let withheld_start = char_offset(&description, WITHHELD);
    let marked = put_redactions(
        &app,
        &registry,
        &request,
        fixture.id,
        json!([
            { "part": "description", "start": pnr_start, "end": pnr_start + chars(PNR), "ground": "OSL 25 kap. 1 §" },
            { "part": "description", "start": withheld_start, "end": withheld_start + chars(WITHHELD), "ground": "OSL 26 kap. 1 §" },
            { "part": format!("message:{}", fixture.reply_id), "start": 0, "end": chars(ANSWER_SECRET), "ground": "OSL 21 kap. 1 §" },
        ]),
    )
    .await;
    assert_eq!(marked.status(), 200);
    assert_eq!(marked.headers()["etag"], "\"v2\"");
    let request: Value = marked.json().await.unwrap();
    assert_eq!(
        request["tips"][0]["redactions"].as_array().unwrap().len(),
        3
    );

    // Disclosing "in full" with passages marked is inconsistent.
    let full = decide(
        &app,
        &registry,
        &request,
        json!({ "decision": "disclosed" }),
    )
    .await;
    let body = problem(full, 422).await;
    assert_eq!(
        problem_fields(&body),
        [("decision".into(), "inconsistent".into())]
    );
    let partly = decide(
        &app,
        &registry,
        &request,
        json!({ "decision": "partly_disclosed", "note": "Uppgifter om enskildas hälsa och personliga förhållanden omfattas av sekretess." }),
    )
    .await;
    assert_eq!(partly.status(), 200);
    let decided: Value = partly.json().await.unwrap();
    assert_eq!(decided["status"], "decided");
    assert_eq!(decided["decision"], "partly_disclosed");
    let sha = decided["copy"]["sha256"].as_str().unwrap().to_owned();

    let response = app
        .client
        .get(app.url(&format!("/api/v1/records-requests/{id}/copy")))
        .bearer_auth(&registry)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(
        headers["content-security-policy"],
        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    );
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("inline")
    );
    let bytes = response.bytes().await.unwrap();
    use sha2::Digest;
    assert_eq!(
        hex::encode(sha2::Sha256::digest(&bytes)),
        sha,
        "the copy as stored"
    );
    let html = String::from_utf8(bytes.to_vec()).unwrap();
    assert_redacted_copy(&html, &fixture);
    let (text, _) = html_text(&html);
    for ground in ["OSL 21 kap. 1 §", "OSL 26 kap. 1 §", "OSL 25 kap. 1 §"] {
        assert!(
            text.contains(&format!("[Uteslutet enligt {ground}]")),
            "{ground}"
        );
    }
    let footer = text.split("Grunder för sekretess").nth(1).unwrap();
    for label in [
        "Hälso- och sjukvård",
        "Socialtjänst",
        "Uppgift om hälsa eller sexualliv",
    ] {
        assert!(footer.contains(label), "{label} in the footer: {footer}");
    }
    assert!(text.contains("Lämnas ut delvis"));
    // Read twice: the same bytes (kept, never produced again).
    let again = app
        .client
        .get(app.url(&format!("/api/v1/records-requests/{id}/copy")))
        .bearer_auth(&registry)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(again, bytes);

    // The audit trail: one row per step, references and counts only.
    for (action, rows) in [
        ("register_records_request", 1),
        ("change_records_request", 1),
        ("decide_records_request", 1),
        ("read_disclosure_copy", 2),
    ] {
        assert_eq!(
            count(
                &app,
                &format!(
                    "SELECT 1 FROM audit_log WHERE action = '{action}' AND detail LIKE '%{id}%'"
                )
            )
            .await,
            rows,
            "{action}"
        );
    }
    for secret in [
        "Ström",
        "811218-9876",
        "Berit",
        "Granlund",
        "Karin",
        "insulin",
    ] {
        assert_eq!(
            count(
                &app,
                &format!("SELECT 1 FROM audit_log WHERE detail LIKE '%{secret}%'")
            )
            .await,
            0,
            "{secret} in the audit log"
        );
    }
    assert_eq!(
        count(&app, "SELECT 1 FROM audit_log WHERE action = 'change_records_request' AND detail LIKE '%\"ranges\":3%'").await,
        1
    );
}

#[tokio::test]
async fn a_second_approval_must_come_from_another_key() {
    let config = second_approval_config();
    let app = spawn_app_with(|s| s.config_dir = config.clone()).await;
    let fixture = identified_tip(&app).await;
    let first = create_key(&app.db, &[Scope::RecordsWrite]).await;
    let second = create_key(&app.db, &[Scope::RecordsWrite]).await;
    let request = registered(&app, &first, &[&fixture.id.to_string()]).await;
    let id = request["id"].as_str().unwrap().to_owned();
    let proposed = decide(
        &app,
        &first,
        &request,
        json!({ "decision": "partly_disclosed", "note": "Hälsouppgifter." }),
    )
    .await;
    assert_eq!(proposed.status(), 200);
    let request: Value = proposed.json().await.unwrap();
    assert_eq!(request["status"], "awaiting_approval");
    assert!(request["copy"].is_null());
    let no_copy = app
        .client
        .get(app.url(&format!("/api/v1/records-requests/{id}/copy")))
        .bearer_auth(&first)
        .send()
        .await
        .unwrap();
    problem(no_copy, 409).await;
    // Redactions are frozen while the proposal waits.
    let frozen = put_redactions(&app, &first, &request, fixture.id, json!([])).await;
    problem(frozen, 409).await;

    // The proposer cannot approve their own proposal.
    let own = approve(&app, &first, &request, json!({ "approve": true })).await;
    let body = problem(own, 409).await;
    assert!(
        body["detail"].as_str().unwrap().contains("someone other"),
        "{body}"
    );
    assert_eq!(count(&app, "SELECT 1 FROM disclosure_copies").await, 0);
    // Sending back needs a reason; with one, the request is open again.
    let no_reason = approve(&app, &second, &request, json!({ "approve": false })).await;
    let body = problem(no_reason, 422).await;
    assert_eq!(problem_fields(&body), [("note".into(), "required".into())]);
    let back = approve(
        &app,
        &second,
        &request,
        json!({ "approve": false, "note": "Pröva meningen om rum 12 igen." }),
    )
    .await;
    assert_eq!(back.status(), 200);
    let request: Value = back.json().await.unwrap();
    assert_eq!(request["status"], "open");
    assert!(request["decision"].is_null());

    let proposed: Value = decide(
        &app,
        &first,
        &request,
        json!({ "decision": "partly_disclosed", "note": "Hälsouppgifter om enskild." }),
    )
    .await
    .json()
    .await
    .unwrap();
    let approved = approve(&app, &second, &proposed, json!({ "approve": true })).await;
    assert_eq!(approved.status(), 200);
    let decided: Value = approved.json().await.unwrap();
    assert_eq!(decided["status"], "decided");
    assert!(decided["proposed_by"] != decided["decided_by"]);
    assert!(decided["copy"]["sha256"].is_string());
    let copy = app
        .client
        .get(app.url(&format!("/api/v1/records-requests/{id}/copy")))
        .bearer_auth(&second)
        .send()
        .await
        .unwrap();
    assert_eq!(copy.status(), 200);
    let html = copy.text().await.unwrap();
    // Only the pre-marked identity number was withheld this time.
    assert!(!html.contains(PNR) && html.contains(WITHHELD));
    assert!(!html.contains(NAME) && !html.contains(EMAIL) && !html.contains(PHONE));
    assert_eq!(
        count(
            &app,
            "SELECT 1 FROM audit_log WHERE action = 'decide_records_request'"
        )
        .await,
        4,
        "proposed, sent back, proposed, approved"
    );
}

#[tokio::test]
async fn a_refused_request_produces_no_copy() {
    let app = spawn_app().await;
    let fixture = identified_tip(&app).await;
    let request = registered(&app, &app.token, &[&fixture.reference]).await;
    let no_note = decide(&app, &app.token, &request, json!({ "decision": "refused" })).await;
    let body = problem(no_note, 422).await;
    assert_eq!(problem_fields(&body), [("note".into(), "required".into())]);
    let refused = decide(
        &app,
        &app.token,
        &request,
        json!({ "decision": "refused", "note": "Hela tipset omfattas av sekretess." }),
    )
    .await;
    assert_eq!(refused.status(), 200);
    let decided: Value = refused.json().await.unwrap();
    assert_eq!(decided["status"], "decided");
    assert_eq!(decided["decision"], "refused");
    assert!(decided["copy"].is_null());
    assert_eq!(count(&app, "SELECT 1 FROM disclosure_copies").await, 0);
    let copy = app
        .get(&format!(
            "/api/v1/records-requests/{}/copy",
            decided["id"].as_str().unwrap()
        ))
        .await;
    let body = problem(copy, 409).await;
    assert!(body["detail"].as_str().unwrap().contains("refused"));
}

#[tokio::test]
async fn the_list_pages_newest_first_and_filters_by_status() {
    let app = spawn_app().await;
    let (tip, _) =
        crate::inspector::tip_in(&app, "12", "1280", "Personalen räcker inte till på natten.")
            .await;
    let tip = tip.to_string();
    let mut references = Vec::new();
    for _ in 0..3 {
        references.push(registered(&app, &app.token, &[&tip]).await);
    }
    let refused = decide(
        &app,
        &app.token,
        &references[0],
        json!({ "decision": "refused", "note": "Sekretess." }),
    )
    .await;
    assert_eq!(refused.status(), 200);
    let open: Value = app
        .get("/api/v1/records-requests?status=open,awaiting_approval")
        .await
        .json()
        .await
        .unwrap();
    let listed: Vec<&str> = open["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["reference"].as_str().unwrap())
        .collect();
    assert_eq!(
        listed,
        [
            references[2]["reference"].as_str().unwrap(),
            references[1]["reference"].as_str().unwrap()
        ],
        "newest first, decided left out"
    );
    let first: Value = app
        .get("/api/v1/records-requests?limit=2")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let cursor = first["next_cursor"].as_str().unwrap();
    let rest: Value = app
        .get(&format!("/api/v1/records-requests?limit=2&cursor={cursor}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rest["items"][0]["reference"], references[0]["reference"]);
    assert_eq!(rest["items"][0]["decision"], "refused");
    assert!(rest["next_cursor"].is_null());
    let bad = app
        .get("/api/v1/records-requests?status=closed&limit=0&cursor=x")
        .await;
    let body = problem(bad, 422).await;
    assert_eq!(
        problem_fields(&body),
        [
            ("status".into(), "unknown_code".into()),
            ("limit".into(), "out_of_range".into()),
            ("cursor".into(), "invalid".into())
        ]
    );
}

#[tokio::test]
async fn the_document_describes_the_records_endpoints_as_served() {
    let app = spawn_app().await;
    let doc: Value = app
        .client
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths = &doc["paths"];
    for (path, method, statuses) in [
        (
            "/api/v1/records-requests",
            "post",
            &["201", "401", "403", "422"][..],
        ),
        ("/api/v1/records-requests", "get", &["200", "422"][..]),
        ("/api/v1/records-requests/{id}", "get", &["200", "404"][..]),
        (
            "/api/v1/records-requests/{id}/tips/{tip_id}/redactions",
            "put",
            &["200", "404", "409", "412", "422", "428"][..],
        ),
        (
            "/api/v1/records-requests/{id}/decision",
            "post",
            &["200", "409", "412", "428"][..],
        ),
        (
            "/api/v1/records-requests/{id}/approval",
            "post",
            &["200", "409", "412", "428"][..],
        ),
        (
            "/api/v1/records-requests/{id}/copy",
            "get",
            &["200", "409"][..],
        ),
    ] {
        let operation = &paths[path][method];
        assert_eq!(
            operation["security"][0]["api_key"],
            json!(["records:write"]),
            "{method} {path}"
        );
        for status in statuses {
            assert!(
                operation["responses"][*status].is_object(),
                "{method} {path} {status}"
            );
        }
    }
    assert!(paths["/api/v1/records-requests/{id}/copy"]["get"]["responses"]["200"]["content"]["text/html"].is_object());
    // The list's status is a request's, not a tip's.
    let status = paths["/api/v1/records-requests"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "status")
        .unwrap();
    assert_eq!(
        status["schema"]["items"]["enum"],
        json!(["open", "awaiting_approval", "decided"])
    );
    let queue_status = paths["/api/v1/tips"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "status")
        .unwrap();
    assert!(
        queue_status["schema"]["items"]["enum"]
            .as_array()
            .unwrap()
            .contains(&json!("in_review"))
    );
}

/// The requester is sealed like contact details, so key rotation re-seals it too.
#[tokio::test]
async fn key_rotation_re_seals_the_requester() {
    use base64::Engine as _;
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use secrecy::SecretString;
    use tipsa::config::SecretSettings;
    use tipsa::crypto::Crypto;
    use tipsa::db::schema::records_requests;

    let key = || {
        let mut bytes = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
        bytes
    };
    let (hmac, old, new) = (key(), key(), key());
    let app = crate::helpers::spawn_app_with_crypto(|_| {}, Crypto::from_keys(hmac, old)).await;
    let fixture = identified_tip(&app).await;
    let request = registered(&app, &app.token, &[&fixture.reference]).await;
    let id: uuid::Uuid = request["id"].as_str().unwrap().parse().unwrap();
    let encode =
        |k: [u8; 32]| SecretString::from(base64::engine::general_purpose::STANDARD.encode(k));
    let settings = |keys: Vec<(&str, [u8; 32])>| SecretSettings {
        receipt_hmac_key: Some(encode(hmac)),
        active_contact_key: Some("k2".into()),
        contact_keys: keys
            .into_iter()
            .map(|(n, k)| (n.to_owned(), encode(k)))
            .collect(),
        active_attachment_key: None,
        attachment_keys: Default::default(),
    };
    let both = Crypto::load(
        &settings(vec![("k1", old), ("k2", new)]),
        &std::env::temp_dir(),
    )
    .unwrap();
    let mut conn = app.db.connect().await;
    let planned = tipsa::crypto::reseal::count(&mut conn, &both)
        .await
        .unwrap();
    assert_eq!(planned.records_requesters, 1);
    let done = tipsa::crypto::reseal::reseal(&mut conn, &both, 10)
        .await
        .unwrap();
    assert_eq!(done.records_requesters, 1);
    let (key_id, sealed): (Option<String>, Option<Vec<u8>>) = records_requests::table
        .find(id)
        .select((
            records_requests::requester_key_id,
            records_requests::requester_ciphertext,
        ))
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(key_id.as_deref(), Some("k2"));
    let new_only = Crypto::load(&settings(vec![("k2", new)]), &std::env::temp_dir()).unwrap();
    let opened = new_only
        .open("k2", &sealed.unwrap(), id.as_bytes())
        .unwrap();
    assert_eq!(String::from_utf8(opened).unwrap(), REQUESTER);
}
