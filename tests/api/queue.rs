//! Triage results on stored tips, the queue API (ordering, every filter, pagination under
//! concurrent inserts), clusters across the window edge, PATCH with If-Match, events and
//! re-triage.

use std::collections::BTreeSet;

use diesel::sql_types::Text;
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};

use crate::helpers::{TestApp, field_errors, problem, spawn_app, valid_tip};

/// Submits a tip with these fields changed; returns (id, reference).
async fn submit(app: &TestApp, patch: Value) -> (String, String) {
    let mut tip = valid_tip();
    tip.as_object_mut().unwrap().remove("occurred_on");
    tip["ongoing"] = json!(false);
    for (key, value) in patch.as_object().unwrap() {
        if value.is_null() {
            tip.as_object_mut().unwrap().remove(key);
        } else {
            tip[key] = value.clone();
        }
    }
    let response = app.submit(&tip).await;
    assert_eq!(response.status().as_u16(), 201);
    let body: Value = response.json().await.unwrap();
    (
        body["id"].as_str().unwrap().to_owned(),
        body["reference"].as_str().unwrap().to_owned(),
    )
}

async fn sql(app: &TestApp, statement: &str, id: &str) {
    let mut conn = app.db.connect().await;
    diesel::sql_query(statement)
        .bind::<Text, _>(id)
        .execute(&mut conn)
        .await
        .unwrap();
}

async fn queue(app: &TestApp, query: &str) -> Value {
    let response = app.get(&format!("/api/v1/tips?{query}")).await;
    assert_eq!(response.status().as_u16(), 200, "{query}");
    response.json().await.unwrap()
}

fn references(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["reference"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn every_tip_carries_its_triage_result() {
    let app = spawn_app().await;
    let (id, _) = submit(
        &app,
        json!({"region_code": "12", "municipality_code": "1280", "facility_name": null,
               "description": "En boende avled i natt efter ett fall som ingen upptäckte."}),
    )
    .await;
    let response = app.get(&format!("/api/v1/tips/{id}")).await;
    assert_eq!(response.headers()["etag"], "\"v1\"");
    let tip: Value = response.json().await.unwrap();
    assert_eq!(tip["priority"], "critical");
    assert_eq!(tip["team"], "syd");
    assert_eq!(tip["triage_config_version"], app.state.triage.version);
    let due: chrono::DateTime<chrono::Utc> = tip["due_at"].as_str().unwrap().parse().unwrap();
    let submitted: chrono::DateTime<chrono::Utc> =
        tip["submitted_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(due - submitted, chrono::Duration::hours(4));
    let kinds: Vec<(&str, &str)> = tip["triage"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["kind"].as_str().unwrap(), h["rule"].as_str().unwrap()))
        .collect();
    assert!(kinds.contains(&("urgency", "death")), "{kinds:?}");
    assert!(kinds.contains(&("routing", "syd")), "{kinds:?}");
    assert!(tip["feedback_due_at"].is_string());
    assert!(
        tip["acknowledgement_due_at"].is_null(),
        "anonymous: nobody to acknowledge"
    );
}

#[tokio::test]
async fn the_queue_is_ordered_by_priority_then_due_date_then_age() {
    let app = spawn_app().await;
    let (_, low) = submit(
        &app,
        json!({"category": "documentation", "facility_name": null}),
    )
    .await;
    let (_, normal_a) = submit(&app, json!({"category": "staffing", "facility_name": null})).await;
    let (_, high) = submit(
        &app,
        json!({"category": "neglect_abuse", "facility_name": null}),
    )
    .await;
    let (_, critical) = submit(&app, json!({"description": "Brukaren avled efter att ha legat på golvet.", "facility_name": null})).await;
    let (normal_b_id, normal_b) =
        submit(&app, json!({"category": "staffing", "facility_name": null})).await;
    // An earlier deadline comes first within a priority.
    sql(
        &app,
        "UPDATE tips SET due_at = due_at - interval '1 day' WHERE id = $1::uuid",
        &normal_b_id,
    )
    .await;
    let page = queue(&app, "").await;
    assert_eq!(
        references(&page),
        vec![critical, high, normal_b, normal_a, low]
    );
    assert!(page["next_cursor"].is_null());
}

#[tokio::test]
async fn every_filter_selects_exactly_the_matching_tips() {
    let app = spawn_app().await;
    let (a_id, a) = submit(
        &app,
        json!({"region_code": "12", "municipality_code": "1280", "category": "medication",
        "care_sector": "home_care", "facility_name": "Hemtjänst Väster",
        "description": "Läkemedlen delas ut vid fel tidpunkter och dosetterna blandas ihop."}),
    )
    .await;
    let (b_id, b) = submit(
        &app,
        json!({"region_code": "25", "municipality_code": "2580", "category": "restraint",
        "care_sector": "psychiatry", "facility_name": null,
        "description": "Patienten bältesläggs flera gånger per vecka utan läkarbeslut."}),
    )
    .await;
    let (c_id, c) = submit(&app, json!({"region_code": "01", "municipality_code": "0180", "category": "staffing",
        "facility_name": null, "description": "Nattpersonalen räcker inte till, ingen hinner med tillsynen."})).await;
    let (d_id, d) = submit(&app, json!({"region_code": "01", "municipality_code": "0180", "category": "documentation",
        "facility_name": null, "description": "Journalerna uppdateras aldrig och ingen vet vem som gjort vad."})).await;
    // c is in review, d is closed, a is overdue, b was submitted in January.
    sql(
        &app,
        "UPDATE tips SET status = 'in_review' WHERE id = $1::uuid",
        &c_id,
    )
    .await;
    sql(
        &app,
        "UPDATE tips SET status = 'closed', outcome = 'no_action' WHERE id = $1::uuid",
        &d_id,
    )
    .await;
    sql(
        &app,
        "UPDATE tips SET due_at = now() - interval '1 hour' WHERE id = $1::uuid",
        &a_id,
    )
    .await;
    sql(&app, "UPDATE tips SET submitted_at = '2026-01-15 12:00+01', due_at = '2026-01-22 17:00+01' WHERE id = $1::uuid", &b_id).await;
    let _ = (b_id, d_id);

    let set = |items: &[&String]| items.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    let cases: Vec<(&str, BTreeSet<String>)> = vec![
        ("", set(&[&a, &b, &c])),
        ("team=syd", set(&[&a])),
        ("team=nord", set(&[&b])),
        ("team=ost", set(&[&c])),
        ("region_code=25", set(&[&b])),
        ("category=medication", set(&[&a])),
        ("care_sector=psychiatry", set(&[&b])),
        // b: restraint is high, and "bältesläggs" (the restraint term) raises it a step.
        ("priority=critical", set(&[&b])),
        ("priority=normal", set(&[&a, &c])),
        ("priority=high", set(&[])),
        ("status=in_review", set(&[&c])),
        ("status=closed", set(&[&d])),
        ("status=new,in_review", set(&[&a, &b, &c])),
        ("status=all", set(&[&a, &b, &c, &d])),
        ("overdue=true", set(&[&a, &b])),
        ("overdue=false", set(&[&c])),
        ("submitted_to=2026-01-31", set(&[&b])),
        (
            "submitted_from=2026-01-15&submitted_to=2026-01-15",
            set(&[&b]),
        ),
        ("submitted_from=2026-02-01", set(&[&a, &c])),
        // Swedish stemming: the plural finds the singular and the other way round.
        ("q=tidpunkt", set(&[&a])),
        ("q=%22fel+tidpunkter%22", set(&[&a])),
        ("q=dosett", set(&[&a])),
        ("q=nattpersonal", set(&[&c])),
        ("q=journal&status=all", set(&[&d])),
        ("q=hemtj%C3%A4nst", set(&[&a])),
        ("q=ingenting+alls", set(&[])),
        ("team=ost&status=all&category=documentation", set(&[&d])),
    ];
    for (query, expected) in cases {
        let got: BTreeSet<String> = references(&queue(&app, query).await).into_iter().collect();
        assert_eq!(got, expected, "?{query}");
    }
    // Overdue is flagged on the items.
    let page = queue(&app, "overdue=true").await;
    assert!(
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["overdue"] == true)
    );
}

#[tokio::test]
async fn bad_queue_parameters_are_named() {
    let app = spawn_app().await;
    let cases = [
        ("team=atlantis", "team"),
        ("region_code=99", "region_code"),
        ("priority=urgent", "priority"),
        ("status=open,done", "status"),
        ("overdue=yes", "overdue"),
        ("cluster=42", "cluster"),
        ("submitted_from=15%20jan", "submitted_from"),
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("cursor=bm90LWEtY3Vyc29y", "cursor"),
        ("colour=red", "colour"),
        ("team=syd&team=nord", "team"),
        (
            "submitted_from=2026-02-01&submitted_to=2026-01-01",
            "submitted_to",
        ),
    ];
    for (query, field) in cases {
        let body = problem(app.get(&format!("/api/v1/tips?{query}")).await, 422).await;
        let fields: Vec<String> = field_errors(&body).into_iter().map(|(f, _)| f).collect();
        assert_eq!(fields, vec![field.to_owned()], "?{query}");
    }
}

#[tokio::test]
async fn pages_stay_consistent_while_tips_keep_arriving() {
    let app = spawn_app().await;
    let mut original = BTreeSet::new();
    for i in 0..7 {
        let category = ["staffing", "documentation", "neglect_abuse"][i % 3];
        let (_, reference) =
            submit(&app, json!({"category": category, "facility_name": null})).await;
        original.insert(reference);
    }
    let first = queue(&app, "limit=3").await;
    let mut seen: Vec<String> = references(&first);
    assert_eq!(seen.len(), 3);
    let mut cursor = first["next_cursor"].as_str().unwrap().to_owned();

    // New tips arrive while the inspector pages: urgent ones (sorting before the cursor) and
    // low ones (after it), some concurrently.
    let arrivals = (0..6).map(|i| {
        let app = &app;
        async move {
            let patch = if i % 2 == 0 {
                json!({"description": "En boende avled i natt på avdelningen.", "facility_name": null})
            } else {
                json!({"category": "documentation", "facility_name": null})
            };
            submit(app, patch).await
        }
    });
    futures_util::future::join_all(arrivals).await;

    loop {
        let page = queue(&app, &format!("limit=3&cursor={cursor}")).await;
        seen.extend(references(&page));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    let unique: BTreeSet<String> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "no tip twice: {seen:?}");
    assert!(
        original.is_subset(&unique),
        "every tip present at the start is seen"
    );
    // The urgent newcomers sort before the cursor, so this pass does not show them…
    let all = queue(&app, "limit=200").await;
    assert_eq!(references(&all).len(), 13);
}

#[tokio::test]
async fn three_tips_about_one_facility_form_a_cluster_within_the_window() {
    let app = spawn_app().await;
    let facility = |name: &str| json!({"facility_name": name, "municipality_code": "0180", "category": "staffing"});
    let (old_id, _) = submit(&app, facility("Solgläntans äldreboende")).await;
    // The first tip is from before the 90-day window.
    sql(
        &app,
        "UPDATE tips SET submitted_at = now() - interval '91 days' WHERE id = $1::uuid",
        &old_id,
    )
    .await;
    let (b_id, _) = submit(&app, facility("SOLGLÄNTANS  äldreboende")).await;
    let (c_id, _) = submit(&app, facility("Solgläntans äldreboende.")).await;
    let c: Value = app
        .get(&format!("/api/v1/tips/{c_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert!(c["cluster"].is_null(), "only two tips within the window");
    assert_eq!(c["priority"], "normal");

    let (d_id, _) = submit(&app, facility("solgläntans äldreboende")).await;
    let d: Value = app
        .get(&format!("/api/v1/tips/{d_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(d["priority"], "high", "the repeat signal raises one step");
    assert!(
        d["triage"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["kind"] == "repeat_signal")
    );
    let members: BTreeSet<String> = d["cluster"]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        members,
        [b_id.clone(), c_id.clone(), d_id.clone()]
            .into_iter()
            .collect()
    );

    // Every member shows the cluster; the old tip is not in it.
    let b: Value = app
        .get(&format!("/api/v1/tips/{b_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(b["cluster"]["id"], d["cluster"]["id"]);
    let old: Value = app
        .get(&format!("/api/v1/tips/{old_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert!(old["cluster"].is_null());
    let cluster = d["cluster"]["id"].as_str().unwrap();
    assert_eq!(
        references(&queue(&app, &format!("cluster={cluster}")).await).len(),
        3
    );

    // The same name in another municipality is another facility.
    let (e_id, _) = submit(
        &app,
        json!({"facility_name": "Solgläntans äldreboende", "municipality_code": "0114"}),
    )
    .await;
    let e: Value = app
        .get(&format!("/api/v1/tips/{e_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert!(e["cluster"].is_null());
}

async fn patch(app: &TestApp, id: &str, etag: Option<&str>, body: Value) -> reqwest::Response {
    let mut request = app
        .client
        .patch(app.url(&format!("/api/v1/tips/{id}")))
        .bearer_auth(&app.token)
        .json(&body);
    if let Some(etag) = etag {
        request = request.header("if-match", etag);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn a_tip_is_worked_to_an_outcome_with_every_change_recorded() {
    let app = spawn_app().await;
    let (id, _) = submit(&app, json!({"facility_name": null})).await;
    let (original, _) = submit(&app, json!({"facility_name": null})).await;

    problem(
        patch(&app, &id, None, json!({"status": "in_review"})).await,
        428,
    )
    .await;
    let illegal = problem(
        patch(
            &app,
            &id,
            Some("\"v1\""),
            json!({"status": "closed", "outcome": "no_action"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(
        field_errors(&illegal),
        vec![("status".to_owned(), "illegal_transition".to_owned())]
    );
    assert!(
        illegal["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("in_review")
    );

    let reviewed = patch(
        &app,
        &id,
        Some("\"v1\""),
        json!({"status": "in_review", "assignee": "inspektor.anna"}),
    )
    .await;
    assert_eq!(reviewed.status().as_u16(), 200);
    assert_eq!(reviewed.headers()["etag"], "\"v2\"");
    let body: Value = reviewed.json().await.unwrap();
    assert_eq!(
        (body["status"].as_str(), body["assignee"].as_str()),
        (Some("in_review"), Some("inspektor.anna"))
    );

    // Someone else's write with the old version is refused.
    problem(
        patch(
            &app,
            &id,
            Some("\"v1\""),
            json!({"assignee": "inspektor.bo"}),
        )
        .await,
        412,
    )
    .await;

    let no_reason = problem(
        patch(&app, &id, Some("\"v2\""), json!({"priority": "critical"})).await,
        422,
    )
    .await;
    assert_eq!(
        field_errors(&no_reason),
        vec![("reason".to_owned(), "required".to_owned())]
    );
    let raised: Value = patch(
        &app,
        &id,
        Some("\"v2\""),
        json!({"priority": "critical", "reason": "Samma boende som T-2026-000001"}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(raised["priority"], "critical");
    let due: chrono::DateTime<chrono::Utc> = raised["due_at"].as_str().unwrap().parse().unwrap();
    let submitted: chrono::DateTime<chrono::Utc> =
        raised["submitted_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        due - submitted,
        chrono::Duration::hours(4),
        "the deadline follows the priority"
    );

    let no_outcome = problem(
        patch(&app, &id, Some("\"v3\""), json!({"status": "closed"})).await,
        422,
    )
    .await;
    assert_eq!(
        field_errors(&no_outcome),
        vec![("outcome".to_owned(), "required".to_owned())]
    );
    let no_original = problem(
        patch(
            &app,
            &id,
            Some("\"v3\""),
            json!({"status": "closed", "outcome": "duplicate"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(
        field_errors(&no_original),
        vec![("duplicate_of".to_owned(), "required".to_owned())]
    );
    let closed: Value = patch(
        &app,
        &id,
        Some("\"v3\""),
        json!({"status": "closed", "outcome": "duplicate", "duplicate_of": original, "reason": "Samma händelse"}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        (closed["status"].as_str(), closed["outcome"].as_str()),
        (Some("closed"), Some("duplicate"))
    );
    assert_eq!(closed["duplicate_of"], original);
    let reopen = problem(
        patch(&app, &id, Some("\"v4\""), json!({"status": "in_review"})).await,
        422,
    )
    .await;
    assert!(
        reopen["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("cannot change")
    );

    let events: Value = app
        .get(&format!("/api/v1/tips/{id}/events"))
        .await
        .json()
        .await
        .unwrap();
    let kinds: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "submitted",
            "status_changed",
            "assigned",
            "priority_overridden",
            "closed"
        ]
    );
    let overridden = &events[3];
    assert_eq!(overridden["data"]["before"]["priority"], "normal");
    assert_eq!(overridden["data"]["after"]["priority"], "critical");
    assert_eq!(
        overridden["data"]["reason"],
        "Samma boende som T-2026-000001"
    );
    assert!(
        overridden["actor"]
            .as_str()
            .unwrap()
            .starts_with("api_key:")
    );
    assert!(overridden["created_at"].is_string());
}

#[tokio::test]
async fn retriage_applies_the_current_rules_and_records_it() {
    let app = spawn_app().await;
    let (id, _) = submit(&app, json!({"facility_name": null, "description": "Brukaren misshandlades av personal i går kväll."})).await;
    // As if triaged by an older configuration.
    sql(&app, "UPDATE tips SET priority = 'low', priority_rank = 3, team = 'nord', triage_config_version = 'old' WHERE id = $1::uuid", &id).await;
    let stale: Value = app
        .get(&format!("/api/v1/tips/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        stale["priority"], "low",
        "configuration changes never rewrite results by themselves"
    );

    let response = app
        .client
        .post(app.url(&format!("/api/v1/tips/{id}/retriage")))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let tip: Value = response.json().await.unwrap();
    assert_eq!(tip["priority"], "high");
    assert_eq!(tip["team"], "ost");
    assert_eq!(tip["triage_config_version"], app.state.triage.version);
    let events: Value = app
        .get(&format!("/api/v1/tips/{id}/events"))
        .await
        .json()
        .await
        .unwrap();
    let last = events.as_array().unwrap().last().unwrap();
    assert_eq!(last["kind"], "retriaged");
    assert_eq!(last["data"]["before"]["config_version"], "old");
    assert_eq!(last["data"]["after"]["priority"], "high");

    // The command line does the same for every open tip.
    sql(
        &app,
        "UPDATE tips SET priority = 'low', priority_rank = 3 WHERE id = $1::uuid",
        &id,
    )
    .await;
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tipsa"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("TIPSA_CONFIG_DIR", "/nonexistent-tipsa-config")
        .env("TIPSA__DATABASE__URL", &app.db.url)
        .args(["retriage", "--all-open"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("Re-triaged 1 tip"));
    let tip: Value = app
        .get(&format!("/api/v1/tips/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(tip["priority"], "high");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simultaneous_tips_about_one_facility_count_each_other() {
    let app = spawn_app().await;
    let tips = (0..6).map(|_| {
        let app = &app;
        async move {
            submit(
                app,
                json!({"facility_name": "Björkhagens LSS-boende", "municipality_code": "0180"}),
            )
            .await
        }
    });
    let ids: Vec<String> = futures_util::future::join_all(tips)
        .await
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let mut clusters = BTreeSet::new();
    let mut repeat_signals = 0;
    for id in &ids {
        let tip: Value = app
            .get(&format!("/api/v1/tips/{id}"))
            .await
            .json()
            .await
            .unwrap();
        clusters.insert(tip["cluster"]["id"].as_str().unwrap_or("none").to_owned());
        if tip["triage"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["kind"] == "repeat_signal")
        {
            repeat_signals += 1;
        }
    }
    assert_eq!(clusters.len(), 1, "one cluster holds all six: {clusters:?}");
    assert!(!clusters.contains("none"));
    assert_eq!(
        repeat_signals, 4,
        "the 3rd to 6th tip each saw the ones before"
    );
}

/// Text search reads the queue in order first and turns to the index when the prefix does not
/// settle the page; whichever way a page is found, it must be the same page.
#[tokio::test]
async fn text_search_gives_the_same_pages_whether_it_walks_the_queue_or_uses_the_index() {
    use tipsa::db::queue::{self, OPEN_STATUSES, QueueFilter};
    let app = spawn_app().await;
    for n in 0..14 {
        let mut body = valid_tip();
        body["description"] = json!(if n % 3 == 0 {
            format!("Patienten fick fel dos av läkemedlet vid tillfälle {n}.")
        } else {
            format!("Bemanningen räckte inte till under helgen, vecka {n}.")
        });
        body["category"] = json!(if n % 2 == 0 { "medication" } else { "staffing" });
        assert_eq!(app.submit(&body).await.status(), 201);
    }
    let filter = QueueFilter {
        statuses: OPEN_STATUSES.iter().map(|s| s.to_string()).collect(),
        text: Some("\"fel dos\"".to_owned()),
        ..QueueFilter::default()
    };
    let now = chrono::Utc::now();
    let mut conn = app.db.connect().await;
    let mut answers = Vec::new();
    for walk in [1, 2, 4, 1000] {
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let (rows, more) =
                queue::page_walking(&mut conn, &filter, cursor.as_ref(), 2, now, walk)
                    .await
                    .unwrap();
            seen.extend(rows.iter().map(|r| r.reference.clone()));
            cursor = rows.last().map(|r| r.cursor());
            if !more {
                break;
            }
        }
        answers.push(seen);
    }
    assert_eq!(
        answers[0].len(),
        5,
        "tips 0, 3, 6, 9 and 12 mention the phrase"
    );
    for answer in &answers[1..] {
        assert_eq!(answer, &answers[0]);
    }
}
