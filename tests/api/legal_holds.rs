//! Legal holds (gallringsspärr) over the API: placing one on a tip and on a cluster, reading it,
//! lifting it; both in the audit log with an intact chain; the tip's JSON shows the active hold
//! and its disposal marks; every refusal a clear 4xx with nothing written; scope and roles.

use diesel_async::RunQueryDsl;
use serde_json::{Value, json};
use tipsa::audit::{self, Verification};
use uuid::Uuid;

use crate::files::{count, execute};
use crate::helpers::{TestApp, field_errors, problem, spawn_app, valid_tip};
use crate::people::signed_in;

/// Submits a tip about `facility` in `municipality` (of `region`); its id.
pub async fn tip_about(app: &TestApp, region: &str, municipality: &str, facility: &str) -> Uuid {
    let mut body = valid_tip();
    body["region_code"] = json!(region);
    body["municipality_code"] = json!(municipality);
    body["facility_name"] = json!(facility);
    let response = app.submit(&body).await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    created["id"].as_str().unwrap().parse().unwrap()
}

/// Three tips about one facility in Skåne (team syd): a cluster. The tips and the cluster's id.
pub async fn cluster_in_syd(app: &TestApp) -> (Vec<Uuid>, Uuid) {
    let mut tips = Vec::new();
    for _ in 0..3 {
        tips.push(tip_about(app, "12", "1280", "Hemtjänsten Centrum").await);
    }
    let last = tip_json(app, tips[2]).await;
    let cluster: Uuid = last["cluster"]["id"]
        .as_str()
        .expect("three tips about one facility form a cluster")
        .parse()
        .unwrap();
    (tips, cluster)
}

pub async fn tip_json(app: &TestApp, tip: Uuid) -> Value {
    let response = app.get(&format!("/api/v1/tips/{tip}")).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// POST with the all-scopes key.
pub async fn post(app: &TestApp, path: &str, body: &Value) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .bearer_auth(&app.token)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// The audit rows of `action`, oldest first: (tip id, detail).
pub async fn audit_rows_of(app: &TestApp, action: &str) -> Vec<(Option<Uuid>, Value)> {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Uuid>)]
        tip_id: Option<Uuid>,
        #[diesel(sql_type = diesel::sql_types::Text)]
        detail: String,
    }
    let mut conn = app.db.connect().await;
    let rows: Vec<Row> =
        diesel::sql_query("SELECT tip_id, detail FROM audit_log WHERE action = $1 ORDER BY seq")
            .bind::<diesel::sql_types::Text, _>(action)
            .load(&mut conn)
            .await
            .unwrap();
    rows.into_iter()
        .map(|r| (r.tip_id, serde_json::from_str(&r.detail).unwrap()))
        .collect()
}

pub async fn assert_chain_intact(app: &TestApp) {
    let mut conn = app.db.connect().await;
    let verification = audit::verify(&mut conn, &app.state.crypto).await.unwrap();
    assert!(
        matches!(verification, Verification::Intact { rows } if rows > 0),
        "{verification:?}"
    );
}

/// Disposes of a tip's content the way the disposal run does (closed, text and contact gone).
pub async fn dispose_by_sql(app: &TestApp, tip: Uuid) {
    execute(
        app,
        &format!(
            "UPDATE tips SET status = 'closed', outcome = 'no_action', description = '', \
             contact_ciphertext = NULL, contact_key_id = NULL, disposed_at = now(), \
             disposal_rule = 'no_action_2y' WHERE id = '{tip}'"
        ),
    )
    .await;
}

/// Rows in legal_holds and in the audit log.
pub async fn written(app: &TestApp) -> (i64, i64) {
    (
        count(app, "SELECT 1 FROM legal_holds").await,
        count(app, "SELECT 1 FROM audit_log").await,
    )
}

#[tokio::test]
async fn a_hold_on_a_tip_is_placed_read_shown_and_lifted_over_the_api() {
    let app = spawn_app().await;
    let tip = tip_about(&app, "12", "1280", "Solbackens vårdboende").await;
    let before = tip_json(&app, tip).await;
    assert!(before["legal_hold"].is_null());
    assert!(before["disposed_at"].is_null() && before["disposal_rule"].is_null());

    let placed = post(
        &app,
        &format!("/api/v1/tips/{tip}/legal-holds"),
        &json!({"reason": "  Tillsynsärende 3.1-2026-123 pågår.  ", "covers": "tip"}),
    )
    .await;
    assert_eq!(placed.status(), 201);
    let location = placed.headers()["location"].to_str().unwrap().to_owned();
    let hold: Value = placed.json().await.unwrap();
    let hold_id = hold["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/api/v1/legal-holds/{hold_id}"));
    assert_eq!(hold["covers"], "tip");
    assert_eq!(hold["tip_id"], json!(tip));
    assert!(hold["cluster_id"].is_null());
    assert_eq!(
        hold["reason"], "Tillsynsärende 3.1-2026-123 pågår.",
        "trimmed"
    );
    assert_eq!(hold["active"], true);
    assert!(hold["placed_by"].as_str().unwrap().starts_with("api_key:"));

    let read: Value = app.get(&location).await.json().await.unwrap();
    assert_eq!(read, hold);
    let shown = tip_json(&app, tip).await;
    assert_eq!(shown["legal_hold"]["id"], json!(hold_id));
    assert_eq!(shown["legal_hold"]["covers"], "tip");
    assert_eq!(shown["legal_hold"]["reason"], hold["reason"]);
    assert_eq!(shown["legal_hold"]["placed_at"], hold["placed_at"]);

    let lifted = post(
        &app,
        &format!("{location}/lift"),
        &json!({"reason": "Ärendet är avslutat."}),
    )
    .await;
    assert_eq!(lifted.status(), 200);
    let lifted: Value = lifted.json().await.unwrap();
    assert_eq!(lifted["active"], false);
    assert_eq!(lifted["lift_reason"], "Ärendet är avslutat.");
    assert!(lifted["lifted_at"].is_string() && lifted["lifted_by"].is_string());
    assert!(tip_json(&app, tip).await["legal_hold"].is_null());

    // A new hold after the lift; the list has both, newest first.
    let again: Value = post(
        &app,
        &format!("/api/v1/tips/{tip}/legal-holds"),
        &json!({"reason": "Begäran om allmän handling väntar."}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(again["covers"], "tip", "covers defaults to the tip");
    let list: Value = app
        .get(&format!("/api/v1/tips/{tip}/legal-holds"))
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [again["id"].as_str().unwrap(), hold_id.as_str()]);

    let places = audit_rows_of(&app, "place_legal_hold").await;
    assert_eq!(places.len(), 2);
    assert_eq!(places[0].0, Some(tip));
    assert_eq!(
        places[0].1,
        json!({"hold_id": hold_id, "covers": "tip", "cluster_id": null,
               "reason": "Tillsynsärende 3.1-2026-123 pågår."})
    );
    let lifts = audit_rows_of(&app, "lift_legal_hold").await;
    assert_eq!(lifts.len(), 1);
    assert_eq!(lifts[0].0, Some(tip));
    assert_eq!(lifts[0].1["reason"], "Ärendet är avslutat.");
    assert_eq!(lifts[0].1["hold_id"], json!(hold_id));
    let description = valid_tip()["description"].as_str().unwrap().to_owned();
    for (_, detail) in places.iter().chain(&lifts) {
        assert!(!detail.to_string().contains(&description), "no tip text");
    }
    assert_chain_intact(&app).await;
}

#[tokio::test]
async fn a_hold_on_a_cluster_covers_every_member_until_lifted() {
    let app = spawn_app().await;
    let (tips, cluster) = cluster_in_syd(&app).await;
    let placed = post(
        &app,
        &format!("/api/v1/tips/{}/legal-holds", tips[0]),
        &json!({"reason": "Tillsyn av hela verksamheten.", "covers": "cluster"}),
    )
    .await;
    assert_eq!(placed.status(), 201);
    let hold: Value = placed.json().await.unwrap();
    assert_eq!(hold["covers"], "cluster");
    assert_eq!(hold["cluster_id"], json!(cluster));
    assert!(hold["tip_id"].is_null());
    for tip in &tips {
        let shown = tip_json(&app, *tip).await;
        assert_eq!(shown["legal_hold"]["id"], hold["id"], "{tip}");
        assert_eq!(shown["legal_hold"]["covers"], "cluster");
        let list: Value = app
            .get(&format!("/api/v1/tips/{tip}/legal-holds"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(list.as_array().unwrap().len(), 1);
    }
    // A tip joining the cluster later is covered too.
    let later = tip_about(&app, "12", "1280", "Hemtjänsten Centrum").await;
    assert_eq!(tip_json(&app, later).await["legal_hold"]["id"], hold["id"]);

    // A member's own hold comes first while both stand.
    let own: Value = post(
        &app,
        &format!("/api/v1/tips/{}/legal-holds", tips[1]),
        &json!({"reason": "Polisanmälan.", "covers": "tip"}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(tip_json(&app, tips[1]).await["legal_hold"]["id"], own["id"]);

    let hold_id = hold["id"].as_str().unwrap();
    let lifted = post(
        &app,
        &format!("/api/v1/legal-holds/{hold_id}/lift"),
        &json!({"reason": "Tillsynen är klar."}),
    )
    .await;
    assert_eq!(lifted.status(), 200);
    assert!(tip_json(&app, tips[0]).await["legal_hold"].is_null());
    assert_eq!(tip_json(&app, tips[1]).await["legal_hold"]["id"], own["id"]);

    let places = audit_rows_of(&app, "place_legal_hold").await;
    assert_eq!(places[0].0, Some(tips[0]), "the tip it was placed from");
    assert_eq!(places[0].1["covers"], "cluster");
    assert_eq!(places[0].1["cluster_id"], json!(cluster));
    let lifts = audit_rows_of(&app, "lift_legal_hold").await;
    assert_eq!(lifts.len(), 1);
    assert_eq!(
        lifts[0].0, None,
        "a cluster hold lifted over the API names no tip"
    );
    assert_eq!(lifts[0].1["cluster_id"], json!(cluster));
    assert_chain_intact(&app).await;
}

#[tokio::test]
async fn refused_holds_and_lifts_say_why_and_write_nothing() {
    let app = spawn_app().await;
    let lone = tip_about(&app, "12", "1280", "Ensamma gården").await;
    let (cluster_tips, _) = cluster_in_syd(&app).await;
    let disposed = tip_about(&app, "12", "1280", "Gamla hemmet").await;
    dispose_by_sql(&app, disposed).await;
    let holds = |tip: Uuid| format!("/api/v1/tips/{tip}/legal-holds");
    let existing: Value = post(&app, &holds(lone), &json!({"reason": "Första spärren."}))
        .await
        .json()
        .await
        .unwrap();
    let on_cluster: Value = post(
        &app,
        &holds(cluster_tips[0]),
        &json!({"reason": "Klusterspärr.", "covers": "cluster"}),
    )
    .await
    .json()
    .await
    .unwrap();
    let lifted: Value = post(&app, &holds(cluster_tips[1]), &json!({"reason": "Kort."}))
        .await
        .json()
        .await
        .unwrap();
    let lifted_path = format!(
        "/api/v1/legal-holds/{}/lift",
        lifted["id"].as_str().unwrap()
    );
    assert_eq!(
        post(&app, &lifted_path, &json!({"reason": "Klart."}))
            .await
            .status(),
        200
    );
    let fresh = tip_about(&app, "12", "1280", "Nya boendet").await;
    let existing_lift = format!(
        "/api/v1/legal-holds/{}/lift",
        existing["id"].as_str().unwrap()
    );
    let start = written(&app).await;

    // Disposed: 409.
    let body = problem(
        post(&app, &holds(disposed), &json!({"reason": "Spärra."})).await,
        409,
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("disposed"));
    // A second hold on the same tip, and on the same cluster from another member: 409 naming it.
    let body = problem(
        post(&app, &holds(lone), &json!({"reason": "Igen."})).await,
        409,
    )
    .await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains(existing["id"].as_str().unwrap()),
        "{body}"
    );
    let body = problem(
        post(
            &app,
            &holds(cluster_tips[2]),
            &json!({"reason": "Igen.", "covers": "cluster"}),
        )
        .await,
        409,
    )
    .await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains(on_cluster["id"].as_str().unwrap())
    );
    // Cluster for a tip in none: 422 on covers.
    let body = problem(
        post(
            &app,
            &holds(fresh),
            &json!({"reason": "Spärra.", "covers": "cluster"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(
        field_errors(&body),
        [("covers".into(), "no_cluster".into())]
    );
    // Lifting a lifted hold: 409.
    let body = problem(
        post(&app, &lifted_path, &json!({"reason": "Igen."})).await,
        409,
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("already lifted"));
    // Reasons: missing, blank, invisible, too long, NUL.
    for (reason, code) in [
        (json!(null), "required"),
        (json!(""), "required"),
        (json!("   \n "), "required"),
        (json!("\u{200B}\u{200B}"), "required"),
        (json!("å".repeat(1001)), "too_long"),
        (json!("a\u{0000}b"), "invalid_characters"),
    ] {
        for path in [holds(fresh), existing_lift.clone()] {
            let body = problem(post(&app, &path, &json!({"reason": reason})).await, 422).await;
            assert_eq!(
                field_errors(&body),
                [("reason".into(), code.into())],
                "{path} {reason}"
            );
        }
    }
    // Unknown fields and unknown codes: 422 naming the field; not JSON: 400.
    let body = problem(
        post(
            &app,
            &holds(fresh),
            &json!({"reason": "Spärra.", "until": "2030-01-01"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(
        field_errors(&body),
        [("until".into(), "unknown_field".into())]
    );
    let body = problem(
        post(
            &app,
            &holds(fresh),
            &json!({"reason": "Spärra.", "covers": "facility"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(
        field_errors(&body),
        [("covers".into(), "invalid_type".into())]
    );
    let malformed = app
        .client
        .post(app.url(&holds(fresh)))
        .bearer_auth(&app.token)
        .header("Content-Type", "application/json")
        .body("{\"reason\":")
        .send()
        .await
        .unwrap();
    problem(malformed, 400).await;
    // Unknown tip or hold: 404.
    problem(
        post(&app, &holds(Uuid::new_v4()), &json!({"reason": "Spärra."})).await,
        404,
    )
    .await;
    problem(
        post(
            &app,
            &format!("/api/v1/legal-holds/{}/lift", Uuid::new_v4()),
            &json!({"reason": "x"}),
        )
        .await,
        404,
    )
    .await;
    problem(
        app.get(&format!("/api/v1/legal-holds/{}", Uuid::new_v4()))
            .await,
        404,
    )
    .await;

    assert_eq!(
        written(&app).await,
        start,
        "no hold and no audit row was written"
    );
    assert_eq!(
        count(
            &app,
            &format!("SELECT 1 FROM legal_holds WHERE tip_id = '{disposed}' OR tip_id = '{fresh}'")
        )
        .await,
        0
    );
}

#[tokio::test]
async fn a_disposed_tip_shows_its_disposal_in_the_json() {
    let app = spawn_app().await;
    let tip = tip_about(&app, "12", "1280", "Gamla hemmet").await;
    dispose_by_sql(&app, tip).await;
    let shown = tip_json(&app, tip).await;
    assert_eq!(shown["disposal_rule"], "no_action_2y");
    assert!(shown["disposed_at"].as_str().unwrap().starts_with("20"));
    assert_eq!(shown["description"], "");
    assert!(shown["legal_hold"].is_null());
}

#[tokio::test]
async fn who_may_manage_holds_over_the_api() {
    let app = spawn_app().await;
    let syd = tip_about(&app, "12", "1280", "Solbackens vårdboende").await;
    let lead = signed_in(&app, "lead@ivo.example", &["triage_lead"], &[]).await;
    let admin = signed_in(&app, "admin@ivo.example", &["admin"], &[]).await;
    let inside = signed_in(&app, "syd@ivo.example", &["inspector"], &["syd"]).await;
    let outside = signed_in(&app, "ost@ivo.example", &["inspector"], &["ost"]).await;
    let path = format!("/api/v1/tips/{syd}/legal-holds");
    let place = async |client: &reqwest::Client, reason: &str| {
        client
            .post(app.url(&path))
            .json(&json!({"reason": reason}))
            .send()
            .await
            .unwrap()
    };
    problem(place(&inside.client, "Spärra.").await, 403).await;
    problem(place(&outside.client, "Spärra.").await, 404).await;
    let by_lead = place(&lead.client, "Ledningen spärrar.").await;
    assert_eq!(by_lead.status(), 201);
    let hold: Value = by_lead.json().await.unwrap();
    assert_eq!(hold["placed_by"], format!("user:{}", lead.id));
    let hold_path = format!("/api/v1/legal-holds/{}", hold["id"].as_str().unwrap());
    for (person, status) in [(&inside, 403), (&outside, 404)] {
        let read = person.client.get(app.url(&hold_path)).send().await.unwrap();
        problem(read, status).await;
        let list = person.client.get(app.url(&path)).send().await.unwrap();
        problem(list, status).await;
    }
    // The admin cannot read the tip, but may hold it and lift its hold.
    let tip_read = admin
        .client
        .get(app.url(&format!("/api/v1/tips/{syd}")))
        .send()
        .await
        .unwrap();
    assert_eq!(tip_read.status(), 404);
    let read = admin.client.get(app.url(&hold_path)).send().await.unwrap();
    assert_eq!(read.status(), 200);
    let lift = admin
        .client
        .post(app.url(&format!("{hold_path}/lift")))
        .json(&json!({"reason": "Inte längre aktuellt."}))
        .send()
        .await
        .unwrap();
    assert_eq!(lift.status(), 200);
    let lifted: Value = lift.json().await.unwrap();
    assert_eq!(lifted["lifted_by"], format!("user:{}", admin.id));
    assert_eq!(place(&admin.client, "Admin spärrar.").await.status(), 201);
}
