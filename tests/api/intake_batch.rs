//! Group commit (`intake::batch`): tips that queue up while a lane is busy are stored together,
//! and each still gets what it would get alone. The lane is held busy deterministically: the
//! test takes a facility's lock itself, submits a tip about that facility (the lane waits for
//! the lock), queues more tips, then lets go.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use diesel::sql_types::{BigInt, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app_with, valid_tip};

const HELD_FACILITY: &str = "Björkhagens LSS-boende";
const HELD_MUNICIPALITY: &str = "0180";

async fn spawn_one_lane_app() -> TestApp {
    spawn_app_with(|settings| {
        settings.intake.batch_lanes = 1;
        settings.public.receipt_code_attempts_per_window = 100;
    })
    .await
}

fn tip_at(facility: Option<&str>, description: &str) -> Value {
    let mut body = valid_tip();
    match facility {
        Some(name) => body["facility_name"] = json!(name),
        None => {
            body.as_object_mut().unwrap().remove("facility_name");
        }
    }
    body["municipality_code"] = json!(HELD_MUNICIPALITY);
    body["ongoing"] = json!(false);
    body["description"] = json!(description);
    body
}

async fn wait_for(what: &str, mut done: impl AsyncFnMut() -> bool) {
    for _ in 0..200 {
        if done().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting until {what}");
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn count(conn: &mut AsyncPgConnection, sql: &str) -> i64 {
    diesel::sql_query(sql)
        .get_result::<Count>(conn)
        .await
        .unwrap()
        .n
}

/// Takes the held facility's lock on a connection of its own, in an open transaction
/// (`COMMIT` on the returned connection lets go).
async fn hold_the_facility(app: &TestApp) -> AsyncPgConnection {
    let mut holder = app.db.connect().await;
    let key =
        tipsa::triage::rules::facility_key(Some(HELD_FACILITY), Some(HELD_MUNICIPALITY)).unwrap();
    holder.batch_execute("BEGIN").await.unwrap();
    diesel::sql_query("SELECT pg_advisory_xact_lock(7465, hashtext($1))")
        .bind::<Text, _>(&key)
        .execute(&mut holder)
        .await
        .unwrap();
    holder
}

async fn wait_until_a_lane_waits_for_the_lock(app: &TestApp) {
    let mut observer = app.db.connect().await;
    wait_for("a lane waits for the facility lock", async || {
        count(
            &mut observer,
            "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted \
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        )
        .await
            == 1
    })
    .await;
}

/// Takes the held facility's lock on a connection of its own, submits a tip about it (which
/// the one lane then waits behind), queues `bodies`, lets go and returns every answer: first
/// the held tip's, then the queued ones' in order.
async fn submit_while_the_lane_is_held(app: &TestApp, bodies: Vec<Value>) -> Vec<(u16, Value)> {
    let mut holder = hold_the_facility(app).await;

    let send = |body: Value| {
        let client = app.client.clone();
        let url = app.url("/api/v1/tips");
        let token = app.token.clone();
        tokio::spawn(async move {
            let response = client
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        })
    };
    let held = send(tip_at(
        Some(HELD_FACILITY),
        "Den första, som får vänta på låset.",
    ));
    wait_until_a_lane_waits_for_the_lock(app).await;
    let expected = bodies.len();
    let queued: Vec<_> = bodies.into_iter().map(send).collect();
    wait_for("every tip is queued", async || {
        app.state.intake.queued() == expected
    })
    .await;

    holder.batch_execute("COMMIT").await.unwrap();
    let mut answers = vec![held.await.unwrap()];
    for answer in queued {
        answers.push(answer.await.unwrap());
    }
    answers
}

#[derive(diesel::QueryableByName, Debug)]
struct StoredTip {
    #[diesel(sql_type = Text)]
    reference: String,
    #[diesel(sql_type = Text)]
    priority: String,
    #[diesel(sql_type = Timestamptz)]
    submitted_at: chrono::DateTime<chrono::Utc>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Uuid>)]
    cluster_id: Option<uuid::Uuid>,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    repeat_signal: bool,
    #[diesel(sql_type = BigInt)]
    events: i64,
    #[diesel(sql_type = BigInt)]
    urgent_jobs: i64,
    #[diesel(sql_type = BigInt)]
    acknowledgement_jobs: i64,
    #[diesel(sql_type = BigInt)]
    digest_entries: i64,
}

async fn stored_tips(app: &TestApp) -> HashMap<String, StoredTip> {
    let mut conn = app.db.connect().await;
    diesel::sql_query(
        "SELECT t.reference, t.priority, t.submitted_at, t.cluster_id, \
         t.triage @> '[{\"kind\": \"repeat_signal\"}]' AS repeat_signal, \
         (SELECT count(*) FROM tip_events e WHERE e.tip_id = t.id AND e.kind = 'submitted') AS events, \
         (SELECT count(*) FROM notification_jobs j WHERE j.tip_id = t.id AND j.kind = 'urgent_tip') AS urgent_jobs, \
         (SELECT count(*) FROM notification_jobs j WHERE j.tip_id = t.id AND j.kind = 'reporter_ack') AS acknowledgement_jobs, \
         (SELECT count(*) FROM notification_digest_entries d WHERE d.tip_id = t.id) AS digest_entries \
         FROM tips t",
    )
    .load::<StoredTip>(&mut conn)
    .await
    .unwrap()
    .into_iter()
    .map(|tip| (tip.reference.clone(), tip))
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tips_queued_together_are_stored_together_each_as_it_would_be_alone() {
    let app = spawn_one_lane_app().await;
    let mut identified = tip_at(None, "Jag lämnar min e-post för återkoppling.");
    identified["reporter"] = json!({"email": "anna.berg@example.se"});
    let bodies = vec![
        tip_at(Some(HELD_FACILITY), "Den andra om samma boende."),
        tip_at(None, "Ett tips utan namngiven verksamhet."),
        tip_at(Some(HELD_FACILITY), "Den tredje om samma boende."),
        identified,
        tip_at(
            Some("Vårdcentralen Ängen"),
            "Ett tips om en annan verksamhet.",
        ),
        tip_at(Some(HELD_FACILITY), "Den fjärde om samma boende."),
        tip_at(None, "En patient avled efter att larmet inte besvarades."),
        tip_at(Some(HELD_FACILITY), "Den femte om samma boende."),
    ];
    let answers = submit_while_the_lane_is_held(&app, bodies).await;

    for (status, body) in &answers {
        assert_eq!(*status, 201, "{body}");
    }
    let references: Vec<String> = answers
        .iter()
        .map(|(_, body)| body["reference"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        references.iter().collect::<BTreeSet<_>>().len(),
        9,
        "every tip has its own reference: {references:?}"
    );
    let tips = stored_tips(&app).await;
    assert_eq!(tips.len(), 9);

    // The eight queued tips were stored in one batch: one transaction, one moment.
    let batch_times: BTreeSet<_> = references[1..]
        .iter()
        .map(|reference| tips[reference].submitted_at)
        .collect();
    assert_eq!(batch_times.len(), 1, "stored together: {batch_times:?}");
    assert_ne!(
        tips[&references[0]].submitted_at,
        *batch_times.iter().next().unwrap()
    );

    // Each receipt code opens its own tip (no mix-up between the batch's rows).
    for (_, body) in &answers {
        let follow_up: Value = app
            .client
            .post(app.url("/api/v1/follow-up"))
            .json(&json!({"receipt_code": body["receipt_code"]}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(follow_up["reference"], body["reference"]);
    }

    // Repeat signals: the held tip plus four in the batch about the same facility. Alone, the
    // 3rd, 4th and 5th would each have seen two or more before them; so they do here, whichever
    // order the four reached the queue in.
    let at_held: Vec<&StoredTip> = [0, 1, 3, 6, 8]
        .iter()
        .map(|&i| &tips[&references[i]])
        .collect();
    assert!(!at_held[0].repeat_signal);
    let signalled = at_held.iter().filter(|tip| tip.repeat_signal).count();
    assert_eq!(signalled, 3, "{at_held:?}");
    let clusters: BTreeSet<_> = at_held.iter().map(|tip| tip.cluster_id).collect();
    assert_eq!(clusters.len(), 1, "one cluster for all five: {clusters:?}");
    assert!(clusters.iter().next().unwrap().is_some());
    let mut conn = app.db.connect().await;
    assert_eq!(
        count(&mut conn, "SELECT count(*) AS n FROM tip_clusters").await,
        1
    );
    for i in [2, 4, 5, 7] {
        let tip = &tips[&references[i]];
        assert!(!tip.repeat_signal && tip.cluster_id.is_none(), "{tip:?}");
    }
    assert_eq!(
        tips[&references[7]].priority, "critical",
        "'avled' raises to critical"
    );

    // Events and notifications, per tip, as alone.
    for (i, reference) in references.iter().enumerate() {
        let tip = &tips[reference];
        assert_eq!(tip.events, 1, "{reference}");
        let urgent = matches!(tip.priority.as_str(), "critical" | "high");
        assert_eq!(tip.urgent_jobs, i64::from(urgent), "{reference} {tip:?}");
        assert_eq!(
            tip.digest_entries,
            i64::from(!urgent),
            "{reference} {tip:?}"
        );
        assert_eq!(tip.acknowledgement_jobs, i64::from(i == 4), "{reference}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tip_the_database_refuses_fails_alone_and_its_batch_is_stored_one_by_one() {
    let app = spawn_one_lane_app().await;
    let mut conn = app.db.connect().await;
    // A stand-in for any row the database refuses after validation has passed.
    conn.batch_execute(
        "CREATE FUNCTION refuse_marked_tip() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN RAISE EXCEPTION 'refused by the test'; END $$; \
         CREATE TRIGGER refuse_marked_tip BEFORE INSERT ON tips FOR EACH ROW \
         WHEN (NEW.description LIKE '%AVVISA%') EXECUTE FUNCTION refuse_marked_tip();",
    )
    .await
    .unwrap();
    let bodies = vec![
        tip_at(None, "Ett vanligt tips om brister i bemanningen."),
        tip_at(None, "Detta tips ska databasen AVVISA, som i ett fel."),
        tip_at(
            Some(HELD_FACILITY),
            "Ett tips om samma boende som det första.",
        ),
        tip_at(None, "Ännu ett vanligt tips om brister i bemanningen."),
    ];
    let answers = submit_while_the_lane_is_held(&app, bodies).await;

    let statuses: Vec<u16> = answers.iter().map(|(status, _)| *status).collect();
    assert_eq!(statuses, [201, 201, 500, 201, 201]);
    assert_eq!(
        answers[2].1["status"], 500,
        "a problem document: {}",
        answers[2].1
    );
    let tips = stored_tips(&app).await;
    assert_eq!(tips.len(), 4);
    for (status, body) in &answers {
        if *status == 201 {
            let tip = &tips[body["reference"].as_str().unwrap()];
            assert_eq!(tip.events, 1);
            assert_eq!(tip.urgent_jobs + tip.digest_entries, 1);
        }
    }
    assert_eq!(
        count(&mut conn, "SELECT count(*) AS n FROM tip_events").await,
        4,
        "nothing of the refused tip or of the failed batch attempt is left behind"
    );
    assert_eq!(
        count(
            &mut conn,
            "SELECT (SELECT count(*) FROM notification_jobs) \
             + (SELECT count(*) FROM notification_digest_entries) AS n"
        )
        .await,
        4
    );
}

/// With the shared queue, a lane stuck on a slow transaction holds up only its own batch:
/// tips that arrive meanwhile are stored by the other lanes at once.
#[tokio::test]
async fn with_the_shared_queue_no_tip_waits_behind_a_stuck_lane() {
    let app = spawn_app_with(|settings| {
        settings.intake.batch_lanes = 2;
        settings.intake.batch_queue = tipsa::intake::batch::QueueKind::Shared;
    })
    .await;
    let mut holder = hold_the_facility(&app).await;
    let held = {
        let client = app.client.clone();
        let url = app.url("/api/v1/tips");
        let token = app.token.clone();
        let body = tip_at(Some(HELD_FACILITY), "Den första, som får vänta på låset.");
        tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        })
    };
    wait_until_a_lane_waits_for_the_lock(&app).await;
    // Other facilities' tips (and one naming none), one after the other: each is stored by
    // the free lane while the first lane is still stuck.
    for (i, facility) in [
        Some("Ekbackens äldreboende"),
        None,
        Some("Vårdcentralen Norr"),
    ]
    .into_iter()
    .enumerate()
    {
        let response = tokio::time::timeout(
            Duration::from_secs(5),
            app.submit(&tip_at(
                facility,
                &format!("Tips nummer {i} medan låset hålls."),
            )),
        )
        .await
        .expect("stored while the other lane is stuck");
        assert_eq!(response.status(), 201);
    }
    assert!(!held.is_finished(), "the held tip still waits for its lock");
    holder.batch_execute("COMMIT").await.unwrap();
    assert_eq!(held.await.unwrap(), 201);
}
