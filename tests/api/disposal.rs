//! Disposal (gallring) against real PostgreSQL with a clock the test controls: tips are
//! submitted and closed over the HTTP API, their closure moved into the past with SQL, and the
//! run called as the worker and the command line call it. The right tips go (first matching
//! rule, keep rules keep), open, recent, held and requested ones stay, content and whole
//! removal remove exactly what they should, the rollup and the situation report do not change,
//! every disposal has one audit row without content, and the chain still verifies.

use chrono::{DateTime, Utc};
use diesel::sql_types::{BigInt, Bool, Integer, Nullable, Text, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};
use tipsa::audit::{self, Verification};
use tipsa::records::RecordsRules;
use tipsa::records::disposal::{self, Options, Quiet, RunReport};
use uuid::Uuid;

use crate::helpers::{TestApp, spawn_app, valid_tip};

/// The rules most tests run with: a keep rule first for one channel, a keep rule for an
/// outcome, content and whole removal, and a catch-all.
pub const RULES: &str = r#"
[disposal]
scheduled = false
interval_minutes = 60
batch_tips = 2

[[disposal.rule]]
name = "web_no_action_keep"
outcomes = ["no_action"]
channels = ["web"]
action = "keep"

[[disposal.rule]]
name = "case_opened_keep"
outcomes = ["case_opened"]
action = "keep"

[[disposal.rule]]
name = "no_action_1y"
outcomes = ["no_action"]
action = "dispose"
retain_months = 12

[[disposal.rule]]
name = "duplicate_6m"
outcomes = ["duplicate"]
action = "dispose"
retain_months = 6
removes = "whole"

[[disposal.rule]]
name = "everything_else_3y"
action = "dispose"
retain_months = 36

[disclosure]
require_second_approval = false
reporter_ground = "OSL 25 kap. 1 §"

[[disclosure.ground]]
code = "OSL 25 kap. 1 §"
sv = "Hälso- och sjukvård"
en = "Health care"
"#;

pub fn rules() -> RecordsRules {
    RecordsRules::parse(RULES).unwrap()
}

/// A submitted tip.
pub struct Tip {
    pub id: Uuid,
    pub reference: String,
    pub receipt_code: String,
}

/// Submits a tip over the API (identified: with contact details).
pub async fn submit(app: &TestApp, description: &str, identified: bool) -> Tip {
    let mut body = valid_tip();
    body["description"] = json!(description);
    if identified {
        body["reporter"] = json!({"name": "Karin Lind", "email": "karin.lind@example.se"});
    }
    submit_body(app, &body).await
}

pub async fn submit_body(app: &TestApp, body: &Value) -> Tip {
    let response = app.submit(body).await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    Tip {
        id: created["id"].as_str().unwrap().parse().unwrap(),
        reference: created["reference"].as_str().unwrap().to_owned(),
        receipt_code: created["receipt_code"].as_str().unwrap().to_owned(),
    }
}

/// The tip's current ETag.
pub async fn etag(app: &TestApp, id: Uuid) -> String {
    let response = app.get(&format!("/api/v1/tips/{id}")).await;
    assert_eq!(response.status(), 200);
    response.headers()["etag"].to_str().unwrap().to_owned()
}

pub async fn patch(app: &TestApp, id: Uuid, body: Value) -> reqwest::Response {
    let etag = etag(app, id).await;
    app.client
        .patch(app.url(&format!("/api/v1/tips/{id}")))
        .bearer_auth(&app.token)
        .header("If-Match", etag)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// Takes the tip into review (if new) and closes it with `outcome` and a typed reason.
pub async fn close(app: &TestApp, tip: &Tip, outcome: &str, duplicate_of: Option<Uuid>) {
    let current: Value = app
        .get(&format!("/api/v1/tips/{}", tip.id))
        .await
        .json()
        .await
        .unwrap();
    if current["status"] == "new" {
        let started = patch(app, tip.id, json!({"status": "in_review"})).await;
        assert_eq!(started.status(), 200);
    }
    let mut body = json!({
        "status": "closed",
        "outcome": outcome,
        "reason": "Bedömt vid triagemötet, se protokollet",
    });
    if let Some(original) = duplicate_of {
        body["duplicate_of"] = json!(original);
    }
    let closed = patch(app, tip.id, body).await;
    assert_eq!(closed.status(), 200, "{}", closed.text().await.unwrap());
}

/// Asks the tipster a question over the API.
pub async fn ask(app: &TestApp, tip: &Tip, question: &str) {
    let asked = app
        .client
        .post(app.url(&format!("/api/v1/tips/{}/messages", tip.id)))
        .bearer_auth(&app.token)
        .json(&json!({"body": question}))
        .send()
        .await
        .unwrap();
    assert_eq!(asked.status(), 201);
}

/// Runs SQL with one uuid parameter.
pub async fn sql_with_id(app: &TestApp, sql: &str, id: Uuid) {
    let mut conn = app.db.connect().await;
    diesel::sql_query(sql)
        .bind::<SqlUuid, _>(id)
        .execute(&mut conn)
        .await
        .unwrap();
}

/// The controlled clock: the tip was closed `months` months ago.
pub async fn closed_months_ago(app: &TestApp, tip: &Tip, months: i32) {
    let mut conn = app.db.connect().await;
    let updated = diesel::sql_query(
        "UPDATE tips SET closed_at = now() - make_interval(months => $1) \
         WHERE id = $2 AND status = 'closed'",
    )
    .bind::<Integer, _>(months)
    .bind::<SqlUuid, _>(tip.id)
    .execute(&mut conn)
    .await
    .unwrap();
    assert_eq!(updated, 1, "the tip is closed");
}

/// A disposal run as of `as_of`, as the worker runs it (the library call).
pub async fn dispose_as_of(
    app: &TestApp,
    rules: &RecordsRules,
    as_of: DateTime<Utc>,
) -> Option<RunReport> {
    let mut lock_conn = app.db.connect().await;
    let mut conn = app.db.connect().await;
    let options = Options {
        as_of,
        batch_tips: rules.disposal.batch_tips,
        pause: std::time::Duration::ZERO,
        actor: "cli:records-dispose".into(),
    };
    disposal::run(
        &mut lock_conn,
        &mut conn,
        &app.state.crypto,
        rules,
        &options,
        &mut Quiet,
    )
    .await
    .unwrap()
}

pub async fn dispose_now(app: &TestApp, rules: &RecordsRules) -> RunReport {
    dispose_as_of(app, rules, Utc::now())
        .await
        .expect("no other run holds the lock")
}

/// What is left of a tip in the database.
#[derive(Debug, diesel::QueryableByName)]
pub struct Left {
    #[diesel(sql_type = BigInt)]
    pub rows: i64,
    #[diesel(sql_type = Nullable<Text>)]
    pub description: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub disposal_rule: Option<String>,
    #[diesel(sql_type = Bool)]
    pub disposed: bool,
    #[diesel(sql_type = Bool)]
    pub has_contact: bool,
    #[diesel(sql_type = Nullable<Text>)]
    pub reference: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub facility_name: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub outcome: Option<String>,
    #[diesel(sql_type = BigInt)]
    pub messages: i64,
    #[diesel(sql_type = BigInt)]
    pub attachments: i64,
    #[diesel(sql_type = BigInt)]
    pub events: i64,
    #[diesel(sql_type = BigInt)]
    pub reasons: i64,
    #[diesel(sql_type = BigInt)]
    pub pending_jobs: i64,
}

pub async fn left(app: &TestApp, id: Uuid) -> Left {
    let mut conn = app.db.connect().await;
    diesel::sql_query(
        "SELECT (SELECT count(*) FROM tips WHERE id = $1) AS rows, \
                t.description, t.disposal_rule, coalesce(t.disposed_at IS NOT NULL, false) AS disposed, \
                coalesce(t.contact_ciphertext IS NOT NULL, false) AS has_contact, \
                t.reference, t.facility_name, t.outcome, \
                (SELECT count(*) FROM tip_messages WHERE tip_id = $1) AS messages, \
                (SELECT count(*) FROM attachments WHERE tip_id = $1) AS attachments, \
                (SELECT count(*) FROM tip_events WHERE tip_id = $1) AS events, \
                (SELECT count(*) FROM tip_events WHERE tip_id = $1 AND data ->> 'reason' IS NOT NULL) AS reasons, \
                (SELECT count(*) FROM notification_jobs WHERE tip_id = $1 AND state = 'pending') AS pending_jobs \
         FROM (SELECT 1) one LEFT JOIN tips t ON t.id = $1",
    )
    .bind::<SqlUuid, _>(id)
    .get_result(&mut conn)
    .await
    .unwrap()
}

#[derive(diesel::QueryableByName)]
struct TextRow {
    #[diesel(sql_type = Text)]
    text: String,
}

/// The whole daily rollup as text, in key order.
pub async fn rollup(app: &TestApp) -> String {
    let mut conn = app.db.connect().await;
    let rows: Vec<TextRow> = diesel::sql_query(
        "SELECT concat_ws('|', day, region_code, category, outbreak, tips) AS text \
         FROM tip_daily_counts ORDER BY day, region_code, category, outbreak",
    )
    .load(&mut conn)
    .await
    .unwrap();
    rows.into_iter()
        .map(|r| r.text)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The `dispose_tip` audit rows: (tip, detail).
pub async fn disposal_audit(app: &TestApp) -> Vec<(Uuid, Value)> {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = Nullable<SqlUuid>)]
        tip_id: Option<Uuid>,
        #[diesel(sql_type = Text)]
        detail: String,
    }
    let mut conn = app.db.connect().await;
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT tip_id, detail FROM audit_log WHERE action = 'dispose_tip' ORDER BY seq",
    )
    .load(&mut conn)
    .await
    .unwrap();
    rows.into_iter()
        .map(|r| {
            (
                r.tip_id.expect("every disposal names its tip"),
                serde_json::from_str(&r.detail).unwrap(),
            )
        })
        .collect()
}

pub async fn chain_verifies(app: &TestApp) -> i64 {
    let mut conn = app.db.connect().await;
    match audit::verify(&mut conn, &app.state.crypto).await.unwrap() {
        Verification::Intact { rows } => rows,
        broken => panic!("the audit chain is broken: {broken:?}"),
    }
}

/// Puts a legal hold on a tip or a cluster (SQL: the hold API is built elsewhere).
pub async fn hold(app: &TestApp, tip: Option<Uuid>, cluster: Option<Uuid>) -> Uuid {
    let id = Uuid::new_v4();
    let mut conn = app.db.connect().await;
    diesel::sql_query(
        "INSERT INTO legal_holds (id, tip_id, cluster_id, reason, placed_by) \
         VALUES ($1, $2, $3, 'Pågående tillsynsärende', 'user:test')",
    )
    .bind::<SqlUuid, _>(id)
    .bind::<Nullable<SqlUuid>, _>(tip)
    .bind::<Nullable<SqlUuid>, _>(cluster)
    .execute(&mut conn)
    .await
    .unwrap();
    id
}

pub async fn lift(app: &TestApp, hold: Uuid) {
    sql_with_id(
        app,
        "UPDATE legal_holds SET lifted_at = now(), lifted_by = 'user:test', \
         lift_reason = 'Ärendet avslutat' WHERE id = $1",
        hold,
    )
    .await;
}

/// Registers an open public-records request covering `tips` (SQL: the requests API is built
/// elsewhere).
pub async fn request(app: &TestApp, tips: &[Uuid]) -> Uuid {
    let id = Uuid::new_v4();
    let mut conn = app.db.connect().await;
    diesel::sql_query(
        "INSERT INTO records_requests (id, reference, received_on, registered_by) \
         VALUES ($1, 'R-2026-' || lpad(nextval('records_request_number')::text, 4, '0'), \
                 current_date, 'user:test')",
    )
    .bind::<SqlUuid, _>(id)
    .execute(&mut conn)
    .await
    .unwrap();
    for tip in tips {
        diesel::sql_query("INSERT INTO records_request_tips (request_id, tip_id) VALUES ($1, $2)")
            .bind::<SqlUuid, _>(id)
            .bind::<SqlUuid, _>(*tip)
            .execute(&mut conn)
            .await
            .unwrap();
    }
    id
}

pub async fn decide(app: &TestApp, request: Uuid) {
    sql_with_id(
        app,
        "UPDATE records_requests SET status = 'decided', decision = 'refused', \
         decided_by = 'user:test', decided_at = now() WHERE id = $1",
        request,
    )
    .await;
}

fn counted(report: &RunReport, rule: &str) -> u64 {
    report
        .per_rule
        .iter()
        .find(|(name, _)| name == rule)
        .map_or(0, |(_, n)| *n)
}

#[tokio::test]
async fn the_first_matching_rule_decides_and_only_due_closed_tips_go() {
    let app = spawn_app().await;
    let rules = rules();
    let text = "Nattetid är en undersköterska ensam med trettio boende, flera med fallrisk.";
    // Due under no_action_1y.
    let no_action = submit(&app, text, false).await;
    close(&app, &no_action, "no_action", None).await;
    closed_months_ago(&app, &no_action, 13).await;
    // The same outcome from the web form: the keep rule for web matches first.
    let web = submit(&app, text, false).await;
    close(&app, &web, "no_action", None).await;
    sql_with_id(
        &app,
        "UPDATE tips SET channel = 'web' WHERE id = $1",
        web.id,
    )
    .await;
    closed_months_ago(&app, &web, 40).await;
    // Not yet due.
    let recent = submit(&app, text, false).await;
    close(&app, &recent, "no_action", None).await;
    closed_months_ago(&app, &recent, 11).await;
    // Kept by an outcome rule, however old.
    let case = submit(&app, text, false).await;
    close(&app, &case, "case_opened", None).await;
    closed_months_ago(&app, &case, 100).await;
    // The catch-all: due after 36 months, not before.
    let risk = submit(&app, text, false).await;
    close(&app, &risk, "risk_signal", None).await;
    closed_months_ago(&app, &risk, 37).await;
    let young_risk = submit(&app, text, false).await;
    close(&app, &young_risk, "risk_signal", None).await;
    closed_months_ago(&app, &young_risk, 30).await;
    // An open tip with an old submission is never a candidate.
    let open = submit(&app, text, false).await;
    let started = patch(&app, open.id, json!({"status": "in_review"})).await;
    assert_eq!(started.status(), 200);
    sql_with_id(
        &app,
        "UPDATE tips SET submitted_at = now() - interval '5 years', occurred_on = NULL WHERE id = $1",
        open.id,
    )
    .await;

    // The dry-run counts agree with what the run then does.
    let plan = disposal::plan(&mut app.db.connect().await, &rules, Utc::now())
        .await
        .unwrap();
    let due: Vec<(&str, i64)> = plan.iter().map(|r| (r.rule.as_str(), r.due)).collect();
    assert_eq!(
        due,
        [
            ("no_action_1y", 1),
            ("duplicate_6m", 0),
            ("everything_else_3y", 1)
        ]
    );

    let report = dispose_now(&app, &rules).await;
    assert_eq!(report.disposed, 2);
    assert_eq!(counted(&report, "no_action_1y"), 1);
    assert_eq!(counted(&report, "everything_else_3y"), 1);
    assert_eq!((report.skipped_held, report.skipped_requested), (0, 0));
    for (tip, rule) in [(&no_action, "no_action_1y"), (&risk, "everything_else_3y")] {
        let state = left(&app, tip.id).await;
        assert!(state.disposed, "{}", tip.reference);
        assert_eq!(state.disposal_rule.as_deref(), Some(rule));
        assert_eq!(state.description.as_deref(), Some(""));
    }
    for tip in [&web, &recent, &case, &young_risk, &open] {
        let state = left(&app, tip.id).await;
        assert!(!state.disposed, "{} stays", tip.reference);
        assert_eq!(state.description.as_deref(), Some(text));
    }

    // Each disposal has one audit row naming rule, reference, removal and run; no content.
    let audit = disposal_audit(&app).await;
    assert_eq!(audit.len(), 2);
    for (tip_id, detail) in &audit {
        let tip = [&no_action, &risk]
            .into_iter()
            .find(|t| t.id == *tip_id)
            .unwrap();
        assert_eq!(detail["reference"], tip.reference.as_str());
        assert_eq!(detail["removes"], "content");
        assert_eq!(detail["run"], report.run_id.to_string());
        assert!(!detail.to_string().contains("undersköterska"));
    }
    chain_verifies(&app).await;

    // A second run finds nothing more; a run as of a later instant would (dry counts only).
    let again = dispose_now(&app, &rules).await;
    assert_eq!(again.disposed, 0);
    assert_eq!(disposal_audit(&app).await.len(), 2);
    let later = disposal::plan(
        &mut app.db.connect().await,
        &rules,
        Utc::now() + chrono::Duration::days(62),
    )
    .await
    .unwrap();
    assert_eq!(later[0].due, 1, "the 11-month tip is due in two months");
}

#[tokio::test]
async fn content_disposal_leaves_a_skeleton_and_whole_disposal_leaves_nothing() {
    let app = spawn_app().await;
    let rules = rules();
    let file = crate::files::uploaded_id(
        &app,
        "anteckningar.txt",
        b"Namn och personnummer pa den boende.".to_vec(),
    )
    .await;
    let mut body = valid_tip();
    body["description"] =
        json!("Karin på avdelning 3 får inte hjälp att äta och har gått ner tio kilo.");
    body["reporter"] = json!({"name": "Karin Lind", "email": "karin.lind@example.se"});
    body["attachments"] = json!([file]);
    let content = submit_body(&app, &body).await;
    ask(&app, &content, "Vilken avdelning gäller det?").await;
    close(&app, &content, "no_action", None).await;
    closed_months_ago(&app, &content, 13).await;
    let before = left(&app, content.id).await;
    assert_eq!(
        (before.messages, before.attachments, before.has_contact),
        (1, 1, true)
    );
    assert!(before.reasons >= 1 && before.pending_jobs >= 1);

    // A duplicate (whole removal), and a tip that named it as its original.
    let original = submit(
        &app,
        "Samma sak som tidigare: larmen går utan att någon svarar.",
        false,
    )
    .await;
    let duplicate = submit(
        &app,
        "Larmen går utan att någon svarar på nätterna här.",
        false,
    )
    .await;
    close(&app, &duplicate, "duplicate", Some(original.id)).await;
    closed_months_ago(&app, &duplicate, 7).await;
    let follower = submit(
        &app,
        "Ännu en gång: larmen går och ingen svarar på avdelningen.",
        false,
    )
    .await;
    close(&app, &follower, "duplicate", Some(duplicate.id)).await;

    let rollup_before = rollup(&app).await;
    let report = dispose_now(&app, &rules).await;
    assert_eq!(report.disposed, 2);
    assert_eq!(report.whole, 1);

    let skeleton = left(&app, content.id).await;
    assert!(skeleton.disposed);
    assert_eq!(skeleton.description.as_deref(), Some(""));
    assert_eq!(
        (
            skeleton.messages,
            skeleton.attachments,
            skeleton.has_contact
        ),
        (0, 0, false)
    );
    assert_eq!((skeleton.reasons, skeleton.pending_jobs), (0, 0));
    assert_eq!(
        skeleton.reference.as_deref(),
        Some(content.reference.as_str())
    );
    assert_eq!(
        skeleton.facility_name.as_deref(),
        Some("Solgläntans äldreboende")
    );
    assert_eq!(skeleton.outcome.as_deref(), Some("no_action"));
    assert_eq!(
        skeleton.events, before.events,
        "the history stays, without its free text"
    );
    // The API shows the skeleton: still identified, no content.
    let tip: Value = app
        .get(&format!("/api/v1/tips/{}", content.id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(tip["description"], "");
    assert_eq!(tip["anonymous"], false);
    assert_eq!(tip["outcome"], "no_action");
    assert_eq!(tip["reference"], content.reference.as_str());

    let gone = left(&app, duplicate.id).await;
    assert_eq!(gone.rows, 0, "whole removal deletes the row");
    assert_eq!(gone.events, 0);
    let follower_tip: Value = app
        .get(&format!("/api/v1/tips/{}", follower.id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(follower_tip["duplicate_of"], Value::Null);
    assert_eq!(
        app.get(&format!("/api/v1/tips/{}", duplicate.id))
            .await
            .status(),
        404
    );
    assert_eq!(
        rollup(&app).await,
        rollup_before,
        "the rollup still counts it"
    );
    let audit = disposal_audit(&app).await;
    let whole = audit.iter().find(|(id, _)| *id == duplicate.id).unwrap();
    assert_eq!(whole.1["removes"], "whole");
    assert_eq!(whole.1["reference"], duplicate.reference.as_str());
    assert_eq!(whole.1["rule"], "duplicate_6m");
    for (_, detail) in &audit {
        let text = detail.to_string();
        assert!(
            !text.contains("Karin") && !text.contains("larmen"),
            "{text}"
        );
    }
    chain_verifies(&app).await;
}

#[tokio::test]
async fn held_and_requested_tips_stay_until_the_hold_is_lifted_or_the_request_decided() {
    let app = spawn_app().await;
    let rules = rules();
    let text = "Dörrarna till avdelningen låses på kvällarna med kodlås för alla boende.";
    let mut tips = Vec::new();
    for _ in 0..5 {
        let tip = submit(&app, text, false).await;
        close(&app, &tip, "no_action", None).await;
        closed_months_ago(&app, &tip, 14).await;
        tips.push(tip);
    }
    let [held, in_cluster, requested, awaiting, free] = &tips[..] else {
        unreachable!()
    };
    // A duplicate whose whole removal would delete a row a decided request refers to.
    let duplicate = submit(&app, text, false).await;
    close(&app, &duplicate, "duplicate", Some(free.id)).await;
    closed_months_ago(&app, &duplicate, 8).await;

    let tip_hold = hold(&app, Some(held.id), None).await;
    let cluster = Uuid::new_v4();
    let mut conn = app.db.connect().await;
    diesel::sql_query("INSERT INTO tip_clusters (id, facility_key) VALUES ($1, '0180:test')")
        .bind::<SqlUuid, _>(cluster)
        .execute(&mut conn)
        .await
        .unwrap();
    sql_with_id(
        &app,
        &format!("UPDATE tips SET cluster_id = '{cluster}' WHERE id = $1"),
        in_cluster.id,
    )
    .await;
    let cluster_hold = hold(&app, None, Some(cluster)).await;
    let open_request = request(&app, &[requested.id]).await;
    let awaiting_request = request(&app, &[awaiting.id]).await;
    sql_with_id(
        &app,
        "UPDATE records_requests SET status = 'awaiting_approval', decision = 'disclosed', \
         proposed_by = 'user:test', proposed_at = now() WHERE id = $1",
        awaiting_request,
    )
    .await;
    let decided_request = request(&app, &[duplicate.id]).await;
    decide(&app, decided_request).await;

    let first = dispose_now(&app, &rules).await;
    assert_eq!(first.disposed, 2, "the free tip and the duplicate");
    assert_eq!((first.skipped_held, first.skipped_requested), (2, 2));
    for tip in [held, in_cluster, requested, awaiting] {
        assert!(!left(&app, tip.id).await.disposed, "{}", tip.reference);
    }
    assert!(left(&app, free.id).await.disposed);
    let kept_row = left(&app, duplicate.id).await;
    assert_eq!(kept_row.rows, 1, "a decided request keeps the row");
    assert!(kept_row.disposed && kept_row.description.as_deref() == Some(""));
    let detail = disposal_audit(&app)
        .await
        .into_iter()
        .find(|(id, _)| *id == duplicate.id)
        .unwrap()
        .1;
    assert_eq!(detail["removes"], "content");

    // The run row records what it left.
    let runs = disposal::runs::recent(&mut app.db.connect().await, 5)
        .await
        .unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(
        (
            runs[0].disposed,
            runs[0].skipped_held,
            runs[0].skipped_requested
        ),
        (2, 2, 2)
    );
    assert!(runs[0].finished_at.is_some());

    lift(&app, tip_hold).await;
    lift(&app, cluster_hold).await;
    decide(&app, open_request).await;
    let second = dispose_now(&app, &rules).await;
    assert_eq!(second.disposed, 3);
    assert_eq!((second.skipped_held, second.skipped_requested), (0, 1));
    assert!(left(&app, held.id).await.disposed);
    assert!(left(&app, in_cluster.id).await.disposed);
    assert!(left(&app, requested.id).await.disposed);
    assert!(
        !left(&app, awaiting.id).await.disposed,
        "awaiting approval is not decided"
    );
    decide(&app, awaiting_request).await;
    assert_eq!(dispose_now(&app, &rules).await.disposed, 1);
    assert_eq!(disposal_audit(&app).await.len(), 6);
    chain_verifies(&app).await;
}

/// The situation report's answers that read the rollup, and those that read the tips table.
const STATS_QUERIES: [&str; 8] = [
    "/api/v1/stats?group_by=region_code,category,outbreak&period=day",
    "/api/v1/stats?group_by=category&period=week",
    "/api/v1/stats?group_by=care_sector,outcome",
    "/api/v1/stats?group_by=channel,reporter_role,priority",
    "/api/v1/stats?group_by=municipality_code&trend=true",
    "/api/v1/stats/facilities",
    "/api/v1/stats/deadlines",
    "/api/v1/stats/export?group_by=region_code,category&period=week&format=csv",
];

async fn stats_answers(app: &TestApp) -> Vec<(String, String)> {
    let mut answers = Vec::new();
    for query in STATS_QUERIES {
        let response = app.get(query).await;
        assert_eq!(response.status(), 200, "{query}");
        answers.push((query.to_owned(), response.text().await.unwrap()));
    }
    answers
}

#[tokio::test]
async fn the_rollup_and_the_situation_report_are_the_same_after_a_content_disposal() {
    let app = spawn_app().await;
    let rules = RecordsRules::builtin().unwrap();
    let places = [("01", "0180"), ("12", "1280"), ("03", "0380")];
    let categories = ["staffing", "medication", "infection_control"];
    let outcomes = [
        "no_action",
        "referred",
        "case_opened",
        "risk_signal",
        "duplicate",
    ];
    let mut first = None;
    let mut tips = Vec::new();
    for i in 0..15usize {
        let (region, municipality) = places[i % 3];
        let mut body = valid_tip();
        body["region_code"] = json!(region);
        body["municipality_code"] = json!(municipality);
        body["category"] = json!(categories[(i / 3) % 3]);
        body["description"] = json!(format!(
            "Bemanningen räcker inte till, tips nummer {i} om nätterna."
        ));
        if i % 4 == 0 {
            body["outbreak"] = json!("covid-19");
        }
        if i % 5 == 1 {
            body["reporter"] = json!({"email": "anhorig@example.se"});
        }
        let tip = submit_body(&app, &body).await;
        let outcome = outcomes[i % 5];
        let original = if outcome == "duplicate" { first } else { None };
        close(&app, &tip, outcome, original).await;
        closed_months_ago(&app, &tip, 70).await;
        first.get_or_insert(tip.id);
        tips.push(tip);
    }
    // Some stay open.
    for _ in 0..3 {
        submit(
            &app,
            "Larmen går utan att någon svarar och vikarierna vet inte hur.",
            false,
        )
        .await;
    }
    let rollup_before = rollup(&app).await;
    let stats_before = stats_answers(&app).await;

    let report = dispose_now(&app, &rules).await;
    // Every closed tip but the supervision cases (kept) is past the longest period.
    assert_eq!(report.disposed, 12);
    assert_eq!(report.whole, 0, "the built-in rules remove content only");

    assert_eq!(rollup(&app).await, rollup_before);
    let stats_after = stats_answers(&app).await;
    for ((query, before), (_, after)) in stats_before.iter().zip(&stats_after) {
        assert_eq!(before, after, "{query} changed");
    }
    assert!(stats_before[0].1.contains("\"source\":\"rollup\""));
    chain_verifies(&app).await;
}

#[tokio::test]
async fn whole_disposal_keeps_the_rollup_and_the_reports_it_answers() {
    let app = spawn_app().await;
    let rules = rules();
    let original = submit(
        &app,
        "Personalen bär egna kläder i omvårdnadsarbetet varje dag.",
        false,
    )
    .await;
    close(&app, &original, "case_opened", None).await;
    for i in 0..4 {
        let mut body = valid_tip();
        body["region_code"] = json!(["01", "12"][i % 2]);
        body["municipality_code"] = json!(["0180", "1280"][i % 2]);
        body["outbreak"] = json!("covid-19");
        body["description"] = json!(format!("Samma sak igen, personalen bär egna kläder ({i})."));
        let tip = submit_body(&app, &body).await;
        close(&app, &tip, "duplicate", Some(original.id)).await;
        closed_months_ago(&app, &tip, 7).await;
    }
    let rollup_before = rollup(&app).await;
    let served_by_rollup = "/api/v1/stats?group_by=region_code,category,outbreak&period=day";
    let before = app.get(served_by_rollup).await.text().await.unwrap();
    assert!(before.contains("\"source\":\"rollup\""), "{before}");

    let report = dispose_now(&app, &rules).await;
    assert_eq!((report.disposed, report.whole), (4, 4));
    assert_eq!(app.count_tips().await, 1);
    assert_eq!(rollup(&app).await, rollup_before);
    assert_eq!(
        app.get(served_by_rollup).await.text().await.unwrap(),
        before
    );
    chain_verifies(&app).await;
}

#[tokio::test]
async fn a_dry_run_changes_nothing_and_a_run_as_of_an_earlier_instant_disposes_less() {
    let app = spawn_app().await;
    let rules = rules();
    let mut tips = Vec::new();
    for months in [13, 15, 20] {
        let tip = submit(
            &app,
            "Läkemedelsgenomgångar har inte gjorts på över ett år.",
            false,
        )
        .await;
        close(&app, &tip, "no_action", None).await;
        closed_months_ago(&app, &tip, months).await;
        tips.push(tip);
    }
    let rollup_before = rollup(&app).await;
    let mut listed = Vec::new();
    disposal::list_due(&mut app.db.connect().await, &rules, Utc::now(), 2, |page| {
        listed.extend(page.iter().map(|t| (t.reference.clone(), t.rule.clone())));
    })
    .await
    .unwrap();
    // Oldest closure first, across pages of two.
    let expected: Vec<(String, String)> = tips
        .iter()
        .rev()
        .map(|t| (t.reference.clone(), "no_action_1y".to_owned()))
        .collect();
    assert_eq!(listed, expected);
    for tip in &tips {
        assert!(!left(&app, tip.id).await.disposed);
    }
    assert_eq!(rollup(&app).await, rollup_before);
    assert!(disposal_audit(&app).await.is_empty());

    // As of two months ago only the 20- and 15-month tips were due.
    let earlier = Utc::now() - chrono::Duration::days(62);
    let report = dispose_as_of(&app, &rules, earlier).await.unwrap();
    assert_eq!(report.disposed, 2);
    assert!(!left(&app, tips[0].id).await.disposed);
    let runs = disposal::runs::recent(&mut app.db.connect().await, 1)
        .await
        .unwrap();
    assert_eq!(runs[0].as_of.timestamp(), earlier.timestamp());
}

#[tokio::test]
async fn only_one_run_goes_ahead_at_a_time() {
    let app = spawn_app().await;
    let rules = rules();
    let tip = submit(
        &app,
        "Signeringslistorna fylls i efteråt, ibland flera dagar senare.",
        false,
    )
    .await;
    close(&app, &tip, "no_action", None).await;
    closed_months_ago(&app, &tip, 13).await;
    // Another node's run holds the lock.
    let mut other = app.db.connect().await;
    diesel::sql_query(format!(
        "SELECT pg_advisory_lock({})",
        disposal::runs::LOCK_KEY
    ))
    .execute(&mut other)
    .await
    .unwrap();
    assert!(
        disposal::runs::lock_is_held(&mut app.db.connect().await)
            .await
            .unwrap()
    );
    assert!(dispose_as_of(&app, &rules, Utc::now()).await.is_none());
    assert!(!left(&app, tip.id).await.disposed);
    diesel::sql_query(format!(
        "SELECT pg_advisory_unlock({})",
        disposal::runs::LOCK_KEY
    ))
    .execute(&mut other)
    .await
    .unwrap();
    let mut conn = app.db.connect().await;
    assert!(!disposal::runs::lock_is_held(&mut conn).await.unwrap());
    assert_eq!(dispose_now(&app, &rules).await.disposed, 1);
}

#[tokio::test]
async fn the_worker_disposes_on_its_schedule_and_reports_it_in_metrics() {
    let config = std::env::temp_dir().join(format!("tipsa-disposal-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("records.toml"),
        RULES.replace("scheduled = false", "scheduled = true"),
    )
    .unwrap();
    let keys = ([7u8; 32], [9u8; 32]);
    let crypto = || tipsa::crypto::Crypto::from_keys(keys.0, keys.1);
    // The tips, on an application without the worker.
    let first = crate::helpers::spawn_app_with_crypto(|_| {}, crypto()).await;
    let tip = submit(
        &first,
        "Maten som serveras är ofta kall och ingen hjälper till.",
        false,
    )
    .await;
    close(&first, &tip, "no_action", None).await;
    closed_months_ago(&first, &tip, 13).await;
    let TestApp { db, .. } = first;
    // Then a node with the worker, whose schedule runs at start.
    let node = crate::helpers::spawn_app_on(db, crypto(), |s| {
        s.notify.worker_in_serve = true;
        s.config_dir = config.clone();
    })
    .await;
    crate::notifications::wait_until(
        "the scheduled run",
        std::time::Duration::from_secs(20),
        || async { left(&node, tip.id).await.disposed },
    )
    .await;
    let audit = disposal_audit(&node).await;
    assert_eq!(audit.len(), 1);
    let runs = disposal::runs::recent(&mut node.db.connect().await, 5)
        .await
        .unwrap();
    assert_eq!(runs[0].actor, "system:disposal");
    chain_verifies(&node).await;
    let metrics = node.metrics_address.clone().expect("metrics are on");
    let text = reqwest::get(format!("{metrics}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // No other test's schedule has a rule of this name: the count is this node's.
    let disposed: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("tipsa_records_disposed_total{rule=\"no_action_1y\"} "))
        .expect("the rule's counter")
        .trim()
        .parse()
        .unwrap();
    assert!(disposed >= 1.0, "{text}");
    assert!(text.contains("tipsa_records_disposal_runs_total{result=\"ok\"}"));
    assert!(text.contains("tipsa_records_disposal_last_run_timestamp_seconds"));
}
