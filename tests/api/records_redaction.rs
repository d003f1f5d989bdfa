//! Redaction and registration refused, field by field, with nothing written: overlapping,
//! out-of-range, unknown ground, unknown part, a stale or missing version, a decided request,
//! tips that are unknown, repeated or outside the inspector's teams. And the whole flow through
//! the workspace pages, marking by sentence checkbox and by character range (plain form posts,
//! as without JavaScript), to a copy with the passages gone.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::files::count;
use crate::helpers::{TestApp, field_errors, problem, spawn_app};
use crate::inspector::tip_in;
use crate::people::{self, csrf_token};
use crate::records_support::{
    ANSWER_SECRET, KEPT_1, PNR, WITHHELD, assert_redacted_copy, char_offset, chars, decide,
    description, identified_tip, put_redactions, register, registered,
};

/// The stored redactions and version of the only request.
async fn stored(app: &TestApp) -> (String, i32) {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        redactions: String,
        #[diesel(sql_type = diesel::sql_types::Integer)]
        version: i32,
    }
    let mut conn = app.db.connect().await;
    let row: Row = diesel_async::RunQueryDsl::get_result(
        diesel::sql_query(
            "SELECT t.redactions::text AS redactions, r.version FROM records_requests r \
             JOIN records_request_tips t ON t.request_id = r.id",
        ),
        &mut conn,
    )
    .await
    .unwrap();
    (row.redactions, row.version)
}

#[tokio::test]
async fn bad_redactions_are_refused_field_by_field_and_nothing_changes() {
    let app = spawn_app().await;
    let fixture = identified_tip(&app).await;
    let (other_tip, _) = tip_in(&app, "12", "1280", "Ett annat tips med en egen text här.").await;
    let asked = app
        .client
        .post(app.url(&format!("/api/v1/tips/{other_tip}/messages")))
        .bearer_auth(&app.token)
        .json(&json!({ "body": "En fråga i ett annat tips." }))
        .send()
        .await
        .unwrap();
    let foreign_message: Value = asked.json().await.unwrap();
    let request = registered(&app, &app.token, &[&fixture.reference]).await;
    let before = stored(&app).await;
    let length = chars(&description());
    let bad = put_redactions(
        &app,
        &app.token,
        &request,
        fixture.id,
        json!([
            { "part": "description", "start": 0, "end": 10, "ground": "OSL 25 kap. 1 §" },
            { "part": "description", "start": 5, "end": 15, "ground": "OSL 25 kap. 1 §" },
            { "part": "description", "start": 20, "end": length + 1, "ground": "OSL 25 kap. 1 §" },
            { "part": "description", "start": 30, "end": 31, "ground": "OSL 99 kap. 9 §" },
            { "part": format!("message:{}", foreign_message["id"].as_str().unwrap()), "start": 0, "end": 3, "ground": "OSL 25 kap. 1 §" },
            { "part": format!("message:{}", fixture.reply_id), "start": 4, "end": 4, "ground": "OSL 25 kap. 1 §" },
        ]),
    )
    .await;
    let body = problem(bad, 422).await;
    assert_eq!(
        field_errors(&body),
        [
            ("redactions[1].start".to_owned(), "overlaps".to_owned()),
            ("redactions[2].end".to_owned(), "out_of_range".to_owned()),
            (
                "redactions[3].ground".to_owned(),
                "unknown_ground".to_owned()
            ),
            ("redactions[4].part".to_owned(), "unknown_part".to_owned()),
            ("redactions[5].end".to_owned(), "out_of_range".to_owned()),
        ]
    );
    let unknown_field = put_redactions(
        &app,
        &app.token,
        &request,
        fixture.id,
        json!([{ "part": "description", "start": 0, "end": 1, "ground": "OSL 25 kap. 1 §", "text": "x" }]),
    )
    .await;
    let body = problem(unknown_field, 422).await;
    assert_eq!(field_errors(&body)[0].1, "unknown_field");
    assert_eq!(stored(&app).await, before, "nothing was written");
    assert_eq!(
        count(
            &app,
            "SELECT 1 FROM audit_log WHERE action = 'change_records_request'"
        )
        .await,
        0
    );

    // The version: missing, malformed, stale.
    let path = format!(
        "/api/v1/records-requests/{}/tips/{}/redactions",
        request["id"].as_str().unwrap(),
        fixture.id
    );
    let no_version = app
        .client
        .put(app.url(&path))
        .bearer_auth(&app.token)
        .json(&json!({ "redactions": [] }))
        .send()
        .await
        .unwrap();
    problem(no_version, 428).await;
    for (if_match, status) in [("banana", 422), ("\"v7\"", 412)] {
        let response = app
            .client
            .put(app.url(&path))
            .bearer_auth(&app.token)
            .header("If-Match", if_match)
            .json(&json!({ "redactions": [] }))
            .send()
            .await
            .unwrap();
        problem(response, status).await;
    }
    // A tip that is not in the request, a request that does not exist.
    let outside = put_redactions(&app, &app.token, &request, other_tip, json!([])).await;
    problem(outside, 404).await;
    let mut missing = request.clone();
    missing["id"] = json!(Uuid::now_v7());
    problem(
        put_redactions(&app, &app.token, &missing, fixture.id, json!([])).await,
        404,
    )
    .await;
    assert_eq!(stored(&app).await, before);

    // Decided: the redactions and the decision are final.
    let decided = decide(
        &app,
        &app.token,
        &request,
        json!({ "decision": "partly_disclosed", "note": "Sekretess för hälsouppgifter." }),
    )
    .await;
    assert_eq!(decided.status(), 200);
    let decided: Value = decided.json().await.unwrap();
    let after = stored(&app).await;
    let edit = put_redactions(&app, &app.token, &decided, fixture.id, json!([])).await;
    let body = problem(edit, 409).await;
    assert!(
        body["detail"].as_str().unwrap().contains("decided"),
        "{body}"
    );
    let again = decide(
        &app,
        &app.token,
        &decided,
        json!({ "decision": "refused", "note": "Nej." }),
    )
    .await;
    problem(again, 409).await;
    assert_eq!(
        stored(&app).await,
        after,
        "the decided request is unchanged"
    );
    assert_eq!(count(&app, "SELECT 1 FROM disclosure_copies").await, 1);
}

#[tokio::test]
async fn registration_refuses_unknown_repeated_and_future_things_by_field() {
    let app = spawn_app().await;
    let (tip, reference) =
        tip_in(&app, "12", "1280", "Personalen räcker inte till på natten.").await;
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(2)).date_naive();
    let response = register(
        &app,
        &app.token,
        json!({
            "received_on": tomorrow.to_string(),
            "requester": "x".repeat(501),
            "tips": [reference, tip.to_string(), "T-1999-000001"],
        }),
    )
    .await;
    let body = problem(response, 422).await;
    assert_eq!(
        field_errors(&body),
        [
            ("received_on".to_owned(), "in_future".to_owned()),
            ("requester".to_owned(), "too_long".to_owned()),
            ("tips[1]".to_owned(), "duplicate".to_owned()),
            ("tips[2]".to_owned(), "unknown_tip".to_owned()),
        ]
    );
    let many: Vec<String> = (0..51).map(|n| format!("T-2026-{n:06}")).collect();
    for (tips, code) in [(json!([]), "required"), (json!(many), "too_many")] {
        let response = register(
            &app,
            &app.token,
            json!({ "received_on": "2026-11-01", "tips": tips }),
        )
        .await;
        let body = problem(response, 422).await;
        assert_eq!(field_errors(&body), [("tips".to_owned(), code.to_owned())]);
    }
    // Text PostgreSQL cannot hold, or no reference could be, is no tip either (not a 500).
    let odd = register(
        &app,
        &app.token,
        json!({ "received_on": "2026-11-01", "tips": ["T-2026\u{0}", "x".repeat(5000)] }),
    )
    .await;
    let body = problem(odd, 422).await;
    assert_eq!(
        field_errors(&body),
        [
            ("tips[0]".to_owned(), "unknown_tip".to_owned()),
            ("tips[1]".to_owned(), "unknown_tip".to_owned()),
        ]
    );
    assert_eq!(count(&app, "SELECT 1 FROM records_requests").await, 0);
    assert_eq!(count(&app, "SELECT 1 FROM records_request_tips").await, 0);
    // An anonymous requester is fine.
    let anonymous = register(
        &app,
        &app.token,
        json!({ "received_on": "2026-11-01", "tips": [reference] }),
    )
    .await;
    assert_eq!(anonymous.status(), 201);
    let body: Value = anonymous.json().await.unwrap();
    assert_eq!(body["requester_given"], false);
}

/// The value of the hidden field `name` on a page.
fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).expect("the field") + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

#[tokio::test]
async fn an_inspector_marks_passages_on_the_pages_and_hands_out_the_copy() {
    let app = spawn_app().await;
    let fixture = identified_tip(&app).await;
    let (_, stockholm) = tip_in(
        &app,
        "01",
        "0180",
        "Läkemedel delas ut utan kontroll på boendet.",
    )
    .await;
    let anna = people::signed_in(&app, "anna@ivo.example", &["inspector"], &["syd"]).await;
    let hub = "/inspektor/allmanna-handlingar";

    // The tip page links to the register form, prefilled.
    let tip_page = anna
        .get(&app, &format!("/inspektor/tips/{}", fixture.id))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        tip_page.contains(&format!("{hub}?tip={}", fixture.id)),
        "the tip page links here"
    );
    let prefilled = anna
        .get(&app, &format!("{hub}?tip={}", fixture.id))
        .await
        .text()
        .await
        .unwrap();
    assert!(prefilled.contains(&format!(">{}</textarea>", fixture.reference)));

    // A tip of another team is refused by name, and nothing is written.
    let tips = format!("{}\n{stockholm}", fixture.reference);
    let refused = anna
        .post_form(
            &app,
            hub,
            hub,
            &[
                ("received_on", "2026-11-20"),
                ("requester", ""),
                ("tips", &tips),
            ],
        )
        .await;
    assert_eq!(refused.status(), 422);
    let page = refused.text().await.unwrap();
    assert!(
        page.contains(&format!("Rad 2 ({stockholm})")),
        "the line is named"
    );
    assert_eq!(count(&app, "SELECT 1 FROM records_requests").await, 0);

    let registered = anna
        .post_form(
            &app,
            hub,
            hub,
            &[
                ("received_on", "2026-11-20"),
                ("requester", "Olle"),
                ("tips", &fixture.reference),
            ],
        )
        .await;
    assert_eq!(registered.status(), 200);
    let request_path = registered.url().path().to_owned();
    let page = registered.text().await.unwrap();
    assert!(page.contains("Begäran är registrerad"), "{page}");
    let redact_path = format!("{request_path}/tips/{}", fixture.id);

    // The identity number's range is pre-checked inside its sentence.
    let text = description();
    let pnr_start = char_offset(&text, PNR);
    let pnr_key = format!("0:{pnr_start}-{}", pnr_start + chars(PNR));
    let redact = anna.get(&app, &redact_path).await.text().await.unwrap();
    assert!(
        redact.contains(&format!("name=\"withhold\" value=\"{pnr_key}\" checked")),
        "pre-checked: {redact}"
    );
    let sentence_start = char_offset(&text, WITHHELD);
    let sentence_key = format!("0:{sentence_start}-{}", sentence_start + chars(WITHHELD));
    assert!(
        redact.contains(&format!("value=\"{sentence_key}\">")),
        "the sentence is offered unchecked"
    );
    let version = hidden(&redact, "version");
    let token = csrf_token(&redact);
    let ground_field = format!("ground:{sentence_key}");
    let reply_range = format!("0-{}", chars(ANSWER_SECRET));

    // A range overlapping a ticked sentence: the form again, with the error, nothing stored.
    let before = stored(&app).await;
    let overlap = format!("{}-{}", sentence_start + 2, sentence_start + 8);
    let bad = anna
        .client
        .post(app.url(&redact_path))
        .form(&[
            ("csrf_token", token.as_str()),
            ("version", version.as_str()),
            ("withhold", sentence_key.as_str()),
            ("withhold", pnr_key.as_str()),
            ("range:0", overlap.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    let page = bad.text().await.unwrap();
    assert!(page.contains("överlappar"), "{page}");
    assert!(
        page.contains(&format!("value=\"{sentence_key}\" checked")),
        "the ticks are kept"
    );
    assert_eq!(stored(&app).await, before);

    let saved = anna
        .client
        .post(app.url(&redact_path))
        .form(&[
            ("csrf_token", token.as_str()),
            ("version", version.as_str()),
            ("withhold", sentence_key.as_str()),
            (ground_field.as_str(), "OSL 26 kap. 1 §"),
            ("withhold", pnr_key.as_str()),
            ("range:2", reply_range.as_str()),
            ("range_ground:2", "OSL 21 kap. 1 §"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), 200);
    let page = saved.text().await.unwrap();
    assert!(page.contains("Markeringarna är sparade"));
    assert!(
        page.contains("[Uteslutet enligt OSL 26 kap. 1 §]"),
        "the preview"
    );
    let preview = page
        .split("id=\"preview-text-0\"")
        .nth(1)
        .unwrap()
        .split("</div>")
        .next()
        .unwrap();
    assert!(
        !preview.contains("Åke") && preview.contains(KEPT_1),
        "{preview}"
    );
    // The same version again is stale.
    let stale = anna
        .client
        .post(app.url(&redact_path))
        .form(&[
            ("csrf_token", token.as_str()),
            ("version", version.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 409);

    // Decide: the copy link appears; the copy is served as handed out.
    let request_page = anna.get(&app, &request_path).await.text().await.unwrap();
    let version = hidden(&request_page, "version");
    let decision_path = format!("{request_path}/beslut");
    let no_note = anna
        .post_form(
            &app,
            &request_path,
            &decision_path,
            &[
                ("version", &version),
                ("decision", "partly_disclosed"),
                ("note", ""),
            ],
        )
        .await;
    assert_eq!(no_note.status(), 422);
    let decided = anna
        .post_form(
            &app,
            &request_path,
            &decision_path,
            &[
                ("version", &version),
                ("decision", "partly_disclosed"),
                ("note", "Hälsouppgifter om enskilda."),
            ],
        )
        .await;
    assert_eq!(decided.status(), 200);
    let page = decided.text().await.unwrap();
    assert!(page.contains("Beslutet är fattat"), "{page}");
    assert!(page.contains("id=\"copy-link\""));
    let copy = anna.get(&app, &format!("{request_path}/kopia")).await;
    assert_eq!(copy.status(), 200);
    assert!(
        copy.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("default-src 'none'; style-src 'unsafe-inline'")
    );
    let html = copy.text().await.unwrap();
    assert_redacted_copy(&html, &fixture);
    assert!(!html.contains("Olle"), "the requester is not in the copy");
    assert_eq!(
        count(&app, &format!("SELECT 1 FROM audit_log WHERE action = 'read_disclosure_copy' AND actor = 'user:{}'", anna.id)).await,
        1
    );
    // The hub lists it among the decided.
    let hub_page = anna.get(&app, hub).await.text().await.unwrap();
    let decided_part = hub_page.split("id=\"decided\"").nth(1).unwrap();
    assert!(decided_part.contains("Lämnas ut delvis"));
}
