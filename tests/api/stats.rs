//! The situation report: every aggregate against counts computed here in Rust from the tips
//! the test stored (never with the service's SQL), the rollup against the tips table, disclosure
//! control (primary and secondary) per role, exports (CSV with BOM, audited) and bad input.

use std::collections::BTreeMap;

use chrono::{Datelike, Duration, NaiveDate, TimeZone, Utc};
use diesel::sql_types::{BigInt, Text, Timestamptz};
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};
use tipsa::auth::Scope;

use crate::helpers::{TestApp, create_key, field_errors, problem, spawn_app, valid_tip};
use crate::people;

/// One stored tip as the test knows it.
#[derive(Debug, Clone)]
struct Fact {
    id: String,
    day: NaiveDate,
    dims: BTreeMap<&'static str, Option<String>>,
}

struct Shape<'a> {
    region: &'a str,
    municipality: &'a str,
    category: &'a str,
    sector: &'a str,
    role: &'a str,
    outbreak: Option<&'a str>,
    facility: &'a str,
    day: NaiveDate,
    priority: &'a str,
    outcome: Option<&'a str>,
}

fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

/// Submits a tip through the API, then sets when it arrived, its priority and its outcome
/// directly (as time passing and inspectors working would).
async fn store(app: &TestApp, shape: &Shape<'_>) -> Fact {
    let mut tip = valid_tip();
    let object = tip.as_object_mut().unwrap();
    object.remove("occurred_on");
    object.insert("ongoing".into(), json!(false));
    object.insert("region_code".into(), json!(shape.region));
    object.insert("municipality_code".into(), json!(shape.municipality));
    object.insert("category".into(), json!(shape.category));
    object.insert("care_sector".into(), json!(shape.sector));
    object.insert("reporter_role".into(), json!(shape.role));
    object.insert("facility_name".into(), json!(shape.facility));
    if let Some(outbreak) = shape.outbreak {
        object.insert("outbreak".into(), json!(outbreak));
    }
    let response = app.submit(&tip).await;
    assert_eq!(response.status().as_u16(), 201);
    let id = response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Noon in Stockholm on the day.
    let at = chrono_tz::Europe::Stockholm
        .from_local_datetime(&shape.day.and_hms_opt(12, 0, 0).unwrap())
        .unwrap()
        .with_timezone(&Utc);
    let rank = match shape.priority {
        "critical" => 0,
        "high" => 1,
        "normal" => 2,
        _ => 3,
    };
    let mut conn = app.db.connect().await;
    diesel::sql_query(
        "UPDATE tips SET submitted_at = $1, updated_at = $1, due_at = $1 + interval '1 day', \
         priority = $2, priority_rank = $3::smallint, \
         status = CASE WHEN $4 = '' THEN status ELSE 'closed' END, outcome = NULLIF($4, '') \
         WHERE id = $5::uuid",
    )
    .bind::<Timestamptz, _>(at)
    .bind::<Text, _>(shape.priority)
    .bind::<BigInt, _>(rank)
    .bind::<Text, _>(shape.outcome.unwrap_or(""))
    .bind::<Text, _>(&id)
    .execute(&mut conn)
    .await
    .unwrap();
    let some = |s: &str| Some(s.to_owned());
    let dims = BTreeMap::from([
        ("region_code", some(shape.region)),
        ("municipality_code", some(shape.municipality)),
        ("category", some(shape.category)),
        ("care_sector", some(shape.sector)),
        ("priority", some(shape.priority)),
        ("outcome", shape.outcome.map(str::to_owned)),
        ("outbreak", shape.outbreak.map(str::to_owned)),
        ("channel", some("api")),
        ("reporter_role", some(shape.role)),
    ]);
    Fact {
        id,
        day: shape.day,
        dims,
    }
}

/// Thirty-six varied tips over two and a half weeks.
async fn varied_tips(app: &TestApp) -> Vec<Fact> {
    let places = [("01", "0180"), ("03", "0380"), ("12", "1280")];
    let categories = ["staffing", "medication", "infection_control"];
    let sectors = ["elderly_residential", "primary_care"];
    let roles = ["staff", "relative", "patient"];
    let priorities = ["critical", "high", "normal", "low"];
    let mut facts = Vec::new();
    for i in 0..36usize {
        let (region, municipality) = places[i % 3];
        let shape = Shape {
            region,
            municipality,
            category: categories[(i / 3) % 3],
            sector: sectors[i % 2],
            role: roles[(i / 2) % 3],
            outbreak: (i % 4 == 0).then_some("covid-19"),
            facility: "Solgläntans äldreboende",
            day: day("2026-10-01") + Duration::days((i % 18) as i64),
            priority: priorities[i % 4],
            outcome: match i % 5 {
                0 => Some("risk_signal"),
                1 => Some("no_action"),
                _ => None,
            },
        };
        facts.push(store(app, &shape).await);
    }
    facts
}

/// The first day of the period a day falls in.
fn period_start(day: NaiveDate, period: &str) -> NaiveDate {
    match period {
        "week" => day - Duration::days(i64::from(day.weekday().num_days_from_monday())),
        "month" => day.with_day(1).unwrap(),
        _ => day,
    }
}

/// The first days of every period touching `from`..=`to`, walking day by day.
fn periods_between(from: NaiveDate, to: NaiveDate, period: &str) -> Vec<NaiveDate> {
    let mut starts: Vec<NaiveDate> = Vec::new();
    let mut day = from;
    while day <= to {
        let start = period_start(day, period);
        if starts.last() != Some(&start) {
            starts.push(start);
        }
        day += Duration::days(1);
    }
    starts
}

type Counts = BTreeMap<(Option<String>, Vec<Option<String>>), i64>;

/// Counts computed here, from the facts. With a period, every period of the range is listed
/// for every group that has a tip, with 0 where none fell.
fn expected(
    facts: &[Fact],
    group_by: &[&str],
    period: Option<&str>,
    filters: &[(&str, &[&str])],
    (from, to): (NaiveDate, NaiveDate),
) -> Counts {
    let mut counts = Counts::new();
    for fact in facts {
        if fact.day < from || fact.day > to {
            continue;
        }
        let passes = filters.iter().all(|(dim, codes)| {
            fact.dims[dim]
                .as_deref()
                .is_some_and(|value| codes.contains(&value))
        });
        if !passes {
            continue;
        }
        let key = (
            period.map(|p| period_start(fact.day, p).to_string()),
            group_by.iter().map(|d| fact.dims[d].clone()).collect(),
        );
        *counts.entry(key).or_default() += 1;
    }
    if let Some(period) = period {
        let groups: Vec<Vec<Option<String>>> = counts.keys().map(|(_, g)| g.clone()).collect();
        for start in periods_between(from, to, period) {
            for group in &groups {
                counts
                    .entry((Some(start.to_string()), group.clone()))
                    .or_insert(0);
            }
        }
    }
    counts
}

/// The counts of an API answer.
fn answered(body: &Value, group_by: &[&str]) -> Counts {
    body["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|cell| {
            (
                (
                    cell["period_start"].as_str().map(str::to_owned),
                    group_by
                        .iter()
                        .map(|d| cell["dimensions"][d].as_str().map(str::to_owned))
                        .collect(),
                ),
                cell["tips"].as_i64().expect("an unsuppressed count"),
            )
        })
        .collect()
}

async fn stats(
    client: &reqwest::Client,
    app: &TestApp,
    token: Option<&str>,
    query: &str,
) -> reqwest::Response {
    let mut request = client.get(app.url(&format!("/api/v1/stats?{query}")));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn every_aggregate_matches_counts_computed_from_the_stored_tips() {
    let app = spawn_app().await;
    let facts = varied_tips(&app).await;
    let lead = people::signed_in(&app, "lead@ivo.example", &["triage_lead"], &[]).await;
    let range = (day("2026-10-01"), day("2026-10-31"));
    type Case<'a> = (Vec<&'a str>, Option<&'a str>, Vec<(&'a str, &'a [&'a str])>);
    let cases: Vec<Case> = vec![
        (vec!["region_code", "category"], Some("week"), vec![]),
        (vec!["category"], Some("day"), vec![]),
        (vec!["outbreak"], Some("month"), vec![]),
        (vec!["priority"], None, vec![]),
        (vec!["care_sector", "outcome"], None, vec![]),
        (
            vec!["municipality_code", "reporter_role"],
            Some("week"),
            vec![],
        ),
        (
            vec!["channel"],
            None,
            vec![("category", &["staffing", "medication"])],
        ),
        (
            vec!["region_code"],
            Some("week"),
            vec![("outbreak", &["covid-19"])],
        ),
        (
            vec!["priority", "care_sector"],
            None,
            vec![("region_code", &["01"]), ("reporter_role", &["staff"])],
        ),
        (vec![], Some("week"), vec![("outcome", &["risk_signal"])]),
        (vec![], None, vec![]),
    ];
    for (group_by, period, filters) in cases {
        let mut query = format!("from={}&to={}", range.0, range.1);
        if !group_by.is_empty() {
            query.push_str(&format!("&group_by={}", group_by.join(",")));
        }
        if let Some(period) = period {
            query.push_str(&format!("&period={period}"));
        }
        for (dim, codes) in &filters {
            query.push_str(&format!("&{dim}={}", codes.join(",")));
        }
        let response = lead.get(&app, &format!("/api/v1/stats?{query}")).await;
        assert_eq!(response.status().as_u16(), 200, "{query}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body["suppression_applied"], false,
            "a triage lead sees exact counts"
        );
        let want = expected(&facts, &group_by, period, &filters, range);
        assert_eq!(answered(&body, &group_by), want, "{query}");
        let total: i64 = want.values().sum();
        assert_eq!(body["total"], total, "{query}");
    }

    // A narrower date range cuts at Swedish days.
    let narrow = (day("2026-10-05"), day("2026-10-11"));
    let response = lead
        .get(
            &app,
            "/api/v1/stats?from=2026-10-05&to=2026-10-11&group_by=category",
        )
        .await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        answered(&body, &["category"]),
        expected(&facts, &["category"], None, &[], narrow)
    );

    // Trends: the range, the range before it and a year earlier.
    let response = lead
        .get(
            &app,
            "/api/v1/stats?from=2026-10-12&to=2026-10-18&group_by=category&trend=true",
        )
        .await;
    let body: Value = response.json().await.unwrap();
    let current = expected(
        &facts,
        &["category"],
        None,
        &[],
        (day("2026-10-12"), day("2026-10-18")),
    );
    let previous = expected(
        &facts,
        &["category"],
        None,
        &[],
        (day("2026-10-05"), day("2026-10-11")),
    );
    for entry in body["trend"].as_array().unwrap() {
        let key = (
            None,
            vec![entry["dimensions"]["category"].as_str().map(str::to_owned)],
        );
        assert_eq!(entry["current"], current.get(&key).copied().unwrap_or(0));
        assert_eq!(entry["previous"], previous.get(&key).copied().unwrap_or(0));
        assert_eq!(entry["year_ago"], 0);
    }
}

#[tokio::test]
async fn the_rollup_answers_as_the_tips_table_does_through_inserts_updates_and_deletes() {
    let app = spawn_app().await;
    let facts = varied_tips(&app).await;
    let range = "from=2026-10-01&to=2026-10-31";
    // Filtering on channel (every tip came by API) forces the tips table.
    let compare = |label: &'static str| {
        let app = &app;
        async move {
            let rollup: Value = app
                .get(&format!(
                    "/api/v1/stats?{range}&group_by=region_code,category,outbreak&period=day"
                ))
                .await
                .json()
                .await
                .unwrap();
            let table: Value = app
                .get(&format!(
                    "/api/v1/stats?{range}&group_by=region_code,category,outbreak&period=day&channel=web,api"
                ))
                .await
                .json()
                .await
                .unwrap();
            assert_eq!(rollup["source"], "rollup");
            assert_eq!(table["source"], "tips");
            assert_eq!(rollup["cells"], table["cells"], "{label}");
        }
    };
    compare("after inserts").await;
    let mut conn = app.db.connect().await;
    diesel::sql_query(
        "UPDATE tips SET category = 'leadership', submitted_at = submitted_at - interval '2 days', \
         outbreak = NULL WHERE id = $1::uuid",
    )
    .bind::<Text, _>(&facts[0].id)
    .execute(&mut conn)
    .await
    .unwrap();
    compare("after an update").await;
    diesel::sql_query("DELETE FROM tip_events WHERE tip_id = $1::uuid")
        .bind::<Text, _>(&facts[1].id)
        .execute(&mut conn)
        .await
        .unwrap();
    diesel::sql_query("DELETE FROM notification_jobs WHERE tip_id = $1::uuid")
        .bind::<Text, _>(&facts[1].id)
        .execute(&mut conn)
        .await
        .unwrap();
    diesel::sql_query("DELETE FROM notification_digest_entries WHERE tip_id = $1::uuid")
        .bind::<Text, _>(&facts[1].id)
        .execute(&mut conn)
        .await
        .unwrap();
    diesel::sql_query("DELETE FROM tips WHERE id = $1::uuid")
        .bind::<Text, _>(&facts[1].id)
        .execute(&mut conn)
        .await
        .unwrap();
    compare("after a delete").await;

    // A multi-row insert (the row trigger counts each row), then the bulk-load recount: both
    // agree with the tips table.
    diesel::sql_query(
        "INSERT INTO tips (id, reference, channel, category, care_sector, region_code, \
         description, reporter_role, language, anonymous, receipt_code_hash, submitted_at, \
         priority, priority_rank, triage_score, team, due_at, feedback_due_at, triage, \
         triage_config_version) \
         SELECT gen_random_uuid(), 'T-2026-9' || lpad(g::text, 5, '0'), 'api', \
                CASE WHEN g % 2 = 0 THEN 'staffing' ELSE 'medication' END, 'primary_care', '12', \
                'Bemanningen räcker inte.', 'staff', 'sv', true, \
                sha256(g::text::bytea), timestamptz '2026-10-15 10:00+02' + g * interval '1 hour', \
                'normal', 2, 0, 'syd', now() + interval '5 days', now() + interval '90 days', \
                '[]'::jsonb, 'test' \
         FROM generate_series(1, 60) g",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    compare("after a multi-row insert").await;
    diesel::sql_query("SELECT tip_daily_counts_rebuild()")
        .execute(&mut conn)
        .await
        .unwrap();
    compare("after a recount").await;
}

/// Region 01: staffing 10, medication 2; region 03: staffing 6, medication 8.
async fn small_cell_tips(app: &TestApp) {
    let plan = [
        ("01", "0180", "staffing", 10),
        ("01", "0180", "medication", 2),
        ("03", "0380", "staffing", 6),
        ("03", "0380", "medication", 8),
    ];
    for (region, municipality, category, n) in plan {
        for i in 0..n {
            store(
                app,
                &Shape {
                    region,
                    municipality,
                    category,
                    sector: "primary_care",
                    role: "staff",
                    outbreak: None,
                    facility: "Vårdcentralen Ängen",
                    day: day("2026-10-05") + Duration::days(i % 5),
                    priority: "normal",
                    outcome: None,
                },
            )
            .await;
        }
    }
}

#[tokio::test]
async fn small_cells_and_the_cells_that_would_reveal_them_are_suppressed_except_for_leads() {
    let app = spawn_app().await;
    small_cell_tips(&app).await;
    let query = "from=2026-10-01&to=2026-10-31&group_by=region_code,category";
    let key = create_key(&app.db, &[Scope::StatsRead]).await;
    let analyst = people::signed_in(&app, "analys@ivo.example", &["analyst"], &[]).await;
    let lead = people::signed_in(&app, "lead@ivo.example", &["triage_lead"], &[]).await;

    let by_key: Value = stats(&app.client, &app, Some(&key), query)
        .await
        .json()
        .await
        .unwrap();
    let by_analyst: Value = analyst
        .get(&app, &format!("/api/v1/stats?{query}"))
        .await
        .json()
        .await
        .unwrap();
    for body in [&by_key, &by_analyst] {
        assert_eq!(body["suppression_applied"], true);
        assert_eq!(body["threshold"], 5);
        let cells = body["cells"].as_array().unwrap();
        assert_eq!(cells.len(), 4);
        // The 2 is primary; 10 (its row), 8 (its column) and then 6 are secondary: with any
        // one of them shown, the 2 follows from the län and category totals.
        for cell in cells {
            assert_eq!(cell["suppressed"], true, "{cell}");
            assert!(cell["tips"].is_null());
            assert_eq!(cell["display"], "<5");
        }
        assert_eq!(body["total"], 26);
    }
    // One dimension: the 2 and the smallest other category cell in län 01.
    let body: Value = stats(
        &app.client,
        &app,
        Some(&key),
        "from=2026-10-01&to=2026-10-31&group_by=category&region_code=01",
    )
    .await
    .json()
    .await
    .unwrap();
    let shown: Vec<(String, Value)> = body["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["dimensions"]["category"].as_str().unwrap().to_owned(),
                c["tips"].clone(),
            )
        })
        .collect();
    assert_eq!(
        shown,
        vec![
            ("medication".into(), Value::Null),
            ("staffing".into(), Value::Null)
        ]
    );
    // A lead sees every number.
    let by_lead: Value = lead
        .get(&app, &format!("/api/v1/stats?{query}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_lead["suppression_applied"], false);
    let mut counts: Vec<i64> = by_lead["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["tips"].as_i64().unwrap())
        .collect();
    counts.sort();
    assert_eq!(counts, vec![2, 6, 8, 10]);
}

#[tokio::test]
async fn a_configured_threshold_changes_what_is_suppressed() {
    let app = crate::helpers::spawn_app_with(|s| s.stats.suppression_threshold = 3).await;
    small_cell_tips(&app).await;
    let key = create_key(&app.db, &[Scope::StatsRead]).await;
    let body: Value = stats(
        &app.client,
        &app,
        Some(&key),
        "from=2026-10-01&to=2026-10-31&group_by=region_code,category",
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(body["threshold"], 3);
    // The 2 is below 3: it and its partners are hidden as "<3".
    assert!(
        body["cells"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["display"] == "<3")
    );
}

#[tokio::test]
async fn roles_limit_what_the_situation_report_shows() {
    let app = spawn_app().await;
    // Six tips about a facility in Stockholm (team ost), two about one in Malmö (team syd).
    for i in 0..6 {
        store(
            &app,
            &Shape {
                region: "01",
                municipality: "0180",
                category: "staffing",
                sector: "elderly_residential",
                role: "staff",
                outbreak: None,
                facility: "Solgläntans äldreboende",
                day: Utc::now().date_naive() - Duration::days(i),
                priority: "high",
                outcome: None,
            },
        )
        .await;
    }
    for i in 0..2 {
        store(
            &app,
            &Shape {
                region: "12",
                municipality: "1280",
                category: "medication",
                sector: "home_care",
                role: "relative",
                outbreak: None,
                facility: "Hemtjänsten Norra distriktet",
                day: Utc::now().date_naive() - Duration::days(i),
                priority: "normal",
                outcome: None,
            },
        )
        .await;
    }
    let analyst = people::signed_in(&app, "analys@ivo.example", &["analyst"], &[]).await;
    let inspector_syd = people::signed_in(&app, "syd@ivo.example", &["inspector"], &["syd"]).await;
    let inspector_nord =
        people::signed_in(&app, "nord@ivo.example", &["inspector"], &["nord"]).await;
    let lead = people::signed_in(&app, "lead@ivo.example", &["triage_lead"], &[]).await;
    let admin = people::signed_in(&app, "admin@ivo.example", &["admin"], &[]).await;

    let page = |person: &people::Person| {
        let app = &app;
        let client = person.client.clone();
        async move {
            let response = client
                .get(app.url("/inspektor/lagesbild"))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status().as_u16(), 200);
            response.text().await.unwrap()
        }
    };
    let description = valid_tip()["description"].as_str().unwrap().to_owned();

    // An analyst: the six-tip facility by name, the two-tip one without; no text, ever.
    let html = page(&analyst).await;
    assert!(
        html.contains("Solgläntans äldreboende"),
        "named above the threshold"
    );
    assert!(!html.contains("Hemtjänsten Norra distriktet"));
    assert!(!html.contains(&description));
    assert!(html.contains("&lt;5"), "small counts are suppressed");
    assert!(html.contains("role=\"img\""));

    // An inspector in syd sees the name of the facility in their team only.
    let html = page(&inspector_syd).await;
    assert!(html.contains("Hemtjänsten Norra distriktet"));
    assert!(!html.contains("Solgläntans äldreboende"));
    assert!(html.contains("&lt;5"));
    let html = page(&inspector_nord).await;
    assert!(
        !html.contains("Hemtjänsten Norra distriktet") && !html.contains("Solgläntans äldreboende")
    );

    // A lead sees everything unsuppressed.
    let html = page(&lead).await;
    assert!(
        html.contains("Hemtjänsten Norra distriktet") && html.contains("Solgläntans äldreboende")
    );
    assert!(!html.contains("&lt;5"));

    // An admin without another role may not read statistics; nor a key without stats:read;
    // nor anyone without credentials.
    let response = admin.get(&app, "/api/v1/stats").await;
    problem(response, 403).await;
    let response = admin.get(&app, "/inspektor/lagesbild").await;
    assert_eq!(response.status().as_u16(), 403);
    let reader = create_key(&app.db, &[Scope::TipsRead]).await;
    let body = problem(stats(&app.client, &app, Some(&reader), "").await, 403).await;
    assert!(body["detail"].as_str().unwrap().contains("stats:read"));
    problem(stats(&app.client, &app, None, "").await, 401).await;

    // An analyst may read statistics but not the queue or a tip.
    problem(analyst.get(&app, "/api/v1/tips").await, 403).await;
    // The short addresses lead to the page.
    for path in ["/lagesbild", "/en/situation-report"] {
        let response = analyst.manual.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 303, "{path}");
        assert_eq!(response.headers()["location"], "/inspektor/lagesbild");
    }
}

#[tokio::test]
async fn exports_are_csv_with_a_bom_or_json_and_every_export_is_audited() {
    let app = spawn_app().await;
    small_cell_tips(&app).await;
    let key = create_key(&app.db, &[Scope::StatsRead]).await;
    let base = "/api/v1/stats/export?from=2026-10-01&to=2026-10-31&group_by=region_code,category&period=week";
    let get = |path: String| {
        let app = &app;
        let key = key.clone();
        async move {
            app.client
                .get(app.url(&path))
                .bearer_auth(key)
                .send()
                .await
                .unwrap()
        }
    };
    let response = get(format!("{base}&format=csv&headers=sv")).await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"lagesbild-2026-10-01-2026-10-31.csv\"")
    );
    let bytes = response.bytes().await.unwrap();
    assert_eq!(&bytes[..3], b"\xEF\xBB\xBF", "UTF-8 byte-order mark");
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "Period;Periodens första dag;Län (kod);Län;Kategori (kod);Kategori;Antal tips"
    );
    let rows: Vec<&str> = lines.collect();
    assert!(rows.iter().any(|r| r.starts_with("2026-W41;2026-10-05;01;Stockholms län;medication;Läkemedel;<5")), "{rows:?}");
    assert!(
        !text.contains(";2\r\n") && !text.contains(";2\n"),
        "the 2 is suppressed"
    );

    let response = get(format!("{base}&format=csv&headers=en")).await;
    let text = response.text().await.unwrap();
    assert!(text.starts_with("\u{feff}Period,Period start,County (län) (code),County (län),Category (code),Category,Tips\r\n"), "{text}");

    let response = get(format!("{base}&format=json")).await;
    assert_eq!(response.status().as_u16(), 200);
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains(".json")
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["suppression_applied"], true);

    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        actor: String,
        #[diesel(sql_type = Text)]
        detail: String,
    }
    let mut conn = app.db.connect().await;
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT actor, detail FROM audit_log WHERE action = 'export' ORDER BY seq",
    )
    .load(&mut conn)
    .await
    .unwrap();
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| r.actor.starts_with("api_key:")));
    let detail: Value = serde_json::from_str(&rows[0].detail).unwrap();
    assert_eq!(detail["format"], "csv");
    assert_eq!(detail["selection"]["group_by"], "region_code,category");
}

#[tokio::test]
async fn bad_parameters_are_named_field_by_field() {
    let app = spawn_app().await;
    let cases = [
        (
            "group_by=region_code,shoe_size",
            "group_by",
            "unknown_dimension",
        ),
        ("group_by=category,category", "group_by", "repeated"),
        (
            "group_by=region_code,category,priority,outcome,channel",
            "group_by",
            "too_many",
        ),
        ("period=year", "period", "unknown_period"),
        ("from=2026-13-01", "from", "invalid_date"),
        ("from=2026-10-10&to=2026-10-01", "to", "before_from"),
        ("from=2020-01-01&to=2026-01-01", "to", "range_too_long"),
        ("category=plague", "category", "unknown_code"),
        ("region_code=,", "region_code", "empty"),
        ("colour=red", "colour", "unknown_field"),
        ("trend=maybe", "trend", "invalid_type"),
    ];
    for (query, field, code) in cases {
        let body = problem(app.get(&format!("/api/v1/stats?{query}")).await, 422).await;
        assert!(
            field_errors(&body).contains(&(field.to_owned(), code.to_owned())),
            "{query}: {body}"
        );
    }
    for (query, field, code) in [
        ("format=xlsx", "format", "unknown_format"),
        ("headers=de", "headers", "unknown_language"),
    ] {
        let body = problem(app.get(&format!("/api/v1/stats/export?{query}")).await, 422).await;
        assert!(
            field_errors(&body).contains(&(field.to_owned(), code.to_owned())),
            "{query}"
        );
    }
    // The page answers bad input with the form and its errors, not a 500.
    let lead = people::signed_in(&app, "lead@ivo.example", &["triage_lead"], &[]).await;
    let response = lead.get(&app, "/inspektor/lagesbild?from=nonsense").await;
    assert_eq!(response.status().as_u16(), 422);
    assert!(response.text().await.unwrap().contains("ÅÅÅÅ-MM-DD"));
}

#[tokio::test]
async fn deadlines_and_facility_signals_match_the_stored_tips() {
    let app = spawn_app().await;
    let today = Utc::now().date_naive();
    let mut facts = Vec::new();
    for i in 0..8 {
        facts.push(
            store(
                &app,
                &Shape {
                    region: "01",
                    municipality: "0180",
                    category: "staffing",
                    sector: "elderly_residential",
                    role: "staff",
                    outbreak: None,
                    facility: "Solgläntans äldreboende",
                    day: today - Duration::days(3),
                    priority: ["critical", "high"][i % 2],
                    outcome: None,
                },
            )
            .await,
        );
    }
    // Reviewed after 2, 4, 6 … 12 hours (deadline: one day), two never reviewed (late).
    let mut conn = app.db.connect().await;
    for (i, fact) in facts.iter().enumerate().take(6) {
        diesel::sql_query(
            "UPDATE tips SET first_reviewed_at = submitted_at + make_interval(hours => $1::int), status = 'in_review' WHERE id = $2::uuid",
        )
        .bind::<BigInt, _>(2 * (i as i64 + 1))
        .bind::<Text, _>(&fact.id)
        .execute(&mut conn)
        .await
        .unwrap();
    }
    let selection = tipsa::stats::Selection::default_for(today);
    let teams = tipsa::stats::deadlines::per_team(&mut conn, &selection, Utc::now(), true, 5)
        .await
        .unwrap();
    assert_eq!(teams.len(), 1);
    assert_eq!(teams[0].team, "ost");
    assert_eq!(teams[0].tips, Some(8));
    // Median of 2, 4, 6, 8, 10, 12 hours.
    assert_eq!(teams[0].median_hours, Some(7.0));
    // Six in time out of eight decided.
    assert_eq!(teams[0].share_in_time, Some(75.0));

    let disclosure = tipsa::auth::policy::StatsDisclosure {
        suppress: true,
        all_facility_names: false,
        facility_names_of_teams: Vec::new(),
        facility_names_above_threshold: true,
    };
    let signals = tipsa::stats::facilities::signals(&mut conn, &selection, &disclosure, 5)
        .await
        .unwrap();
    assert_eq!(signals.len(), 1);
    assert_eq!(signals[0].name.as_deref(), Some("Solgläntans äldreboende"));
    assert_eq!(signals[0].tips, Some(8));
    // Four critical, four high: both below 5, so both hidden.
    assert_eq!(signals[0].priorities, [None, None, Some(0), Some(0)]);
    assert_eq!(
        signals[0].clusters, 1,
        "three tips within the window form a cluster"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_works_in_a_browser_with_a_filter_and_passes_axe() {
    use crate::browser::Browser;
    let app = spawn_app().await;
    let today = Utc::now()
        .with_timezone(&chrono_tz::Europe::Stockholm)
        .date_naive();
    let places = [
        ("01", "0180"),
        ("03", "0380"),
        ("12", "1280"),
        ("14", "1480"),
    ];
    let categories = [
        "staffing",
        "medication",
        "infection_control",
        "neglect_abuse",
    ];
    let priorities = ["critical", "high", "normal", "normal", "low"];
    for i in 0..240usize {
        let (region, municipality) = places[(i * 7) % 4];
        store(
            &app,
            &Shape {
                region,
                municipality,
                category: categories[(i / 2) % 4],
                sector: ["elderly_residential", "primary_care", "home_care"][i % 3],
                role: "staff",
                outbreak: (i % 3 == 0).then_some("influenza-2026"),
                facility: ["Solgläntans äldreboende", "Vårdcentralen Ängen"][i % 2],
                day: today - Duration::days((i as i64 * 5) % 56),
                priority: priorities[i % 5],
                outcome: (i % 4 == 0).then_some("risk_signal"),
            },
        )
        .await;
    }
    people::create_person(&app, "analys@ivo.example", &["analyst"], &[]).await;

    let browser = Browser::start_sized(true, 1280, 2600).await;
    crate::inspector_browser::log_in(&browser, &app, "analys@ivo.example").await;
    browser.goto(&app.url("/inspektor/lagesbild")).await;
    assert_eq!(browser.text("h1").await, "Lägesbild");
    assert_eq!(browser.count("svg[role=img]").await, 5);
    assert_eq!(browser.count(".stats-chart table").await, 7);
    let violations = browser.axe_violations().await;
    assert!(violations.is_empty(), "{}", Value::Array(violations));
    let all = browser.text(".stats-summary .count").await;
    assert_eq!(all, "240");

    // Filter on Stockholms län: every chart follows.
    browser.select("#region_code", "01").await;
    browser
        .navigate_by("form.stats-filters button[type=submit]")
        .await;
    let in_01 = browser.text(".stats-summary .count").await;
    assert_eq!(in_01, "60");
    assert!(
        browser
            .exists("#region_code option[value='01'][selected]")
            .await
    );
    let violations = browser.axe_violations().await;
    assert!(violations.is_empty(), "{}", Value::Array(violations));
    browser.select("#region_code", "").await;
    browser
        .navigate_by("form.stats-filters button[type=submit]")
        .await;
    browser.screenshot("lagesbild.png").await;
    browser.close().await;
}

/// A tip about a facility, with the given category and priority, on a day.
fn facility_tip<'a>(
    (region, municipality): (&'a str, &'a str),
    facility: &'a str,
    category: &'a str,
    priority: &'a str,
    day: NaiveDate,
) -> Shape<'a> {
    Shape {
        region,
        municipality,
        category,
        sector: "elderly_residential",
        role: "staff",
        outbreak: None,
        facility,
        day,
        priority,
        outcome: None,
    }
}

#[tokio::test]
async fn zero_tip_periods_are_listed_in_order_in_the_api_and_the_export() {
    let app = spawn_app().await;
    // Week 41: staffing 3, medication 6; week 42: nothing; week 43: staffing 7, medication 8.
    let plan = [
        ("staffing", "2026-10-06", 3),
        ("medication", "2026-10-08", 6),
        ("staffing", "2026-10-20", 7),
        ("medication", "2026-10-25", 8),
    ];
    let mut facts = Vec::new();
    for (category, on, n) in plan {
        for _ in 0..n {
            let shape = facility_tip(
                ("01", "0180"),
                "Solgläntans äldreboende",
                category,
                "normal",
                day(on),
            );
            facts.push(store(&app, &shape).await);
        }
    }
    let lead = people::signed_in(&app, "lead@ivo.example", &["triage_lead"], &[]).await;
    let key = create_key(&app.db, &[Scope::StatsRead]).await;
    // From a Wednesday: the first week starts before the range, as in the counts.
    let query = "from=2026-10-07&to=2026-10-25&group_by=category&period=week";
    let body: Value = lead
        .get(&app, &format!("/api/v1/stats?{query}"))
        .await
        .json()
        .await
        .unwrap();
    let cells = body["cells"].as_array().unwrap();
    let periods: Vec<&str> = cells
        .iter()
        .map(|c| c["period"].as_str().unwrap())
        .collect();
    assert_eq!(
        periods,
        [
            "2026-W41", "2026-W41", "2026-W42", "2026-W42", "2026-W43", "2026-W43"
        ],
        "every week, in order, once per category"
    );
    let want = expected(
        &facts,
        &["category"],
        Some("week"),
        &[],
        (day("2026-10-07"), day("2026-10-25")),
    );
    // The 3 staffing tips of 6 October fall before the range.
    assert_eq!(
        want.get(&(Some("2026-10-05".into()), vec![Some("staffing".into())])),
        Some(&0)
    );
    assert_eq!(answered(&body, &["category"]), want);
    for cell in cells.iter().filter(|c| c["period"] == "2026-W42") {
        assert_eq!(cell["tips"], 0, "{cell}");
        assert_eq!(cell["display"], "0");
        assert_eq!(cell["suppressed"], false);
    }
    assert_eq!(body["total"], 21);

    // Suppressed: zeros stay 0; the small cells and their partners are hidden as before.
    let query = "from=2026-10-05&to=2026-10-25&group_by=category&period=week";
    let body: Value = stats(&app.client, &app, Some(&key), query)
        .await
        .json()
        .await
        .unwrap();
    let shown: Vec<(String, String, String)> = body["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["period"].as_str().unwrap().to_owned(),
                c["dimensions"]["category"].as_str().unwrap().to_owned(),
                c["display"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let row = |p: &str, c: &str, d: &str| (p.to_owned(), c.to_owned(), d.to_owned());
    assert_eq!(
        shown,
        vec![
            row("2026-W41", "medication", "<5"),
            row("2026-W41", "staffing", "<5"),
            row("2026-W42", "medication", "0"),
            row("2026-W42", "staffing", "0"),
            row("2026-W43", "medication", "<5"),
            row("2026-W43", "staffing", "<5"),
        ]
    );

    // The CSV export lists the empty week too, in order.
    let response = app
        .client
        .get(app.url(&format!(
            "/api/v1/stats/export?{query}&format=csv&headers=en"
        )))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let text = response.text().await.unwrap();
    let rows: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(
        rows,
        vec![
            "2026-W41,2026-10-05,medication,Medication,<5",
            "2026-W41,2026-10-05,staffing,Staffing and competence,<5",
            "2026-W42,2026-10-12,medication,Medication,0",
            "2026-W42,2026-10-12,staffing,Staffing and competence,0",
            "2026-W43,2026-10-19,medication,Medication,<5",
            "2026-W43,2026-10-19,staffing,Staffing and competence,<5",
        ],
        "{text}"
    );

    // Months and days are filled in too; groups without tips in the range stay out.
    let body: Value = lead
        .get(
            &app,
            "/api/v1/stats?from=2026-09-15&to=2026-11-02&group_by=category&period=month&category=staffing,infection_control",
        )
        .await
        .json()
        .await
        .unwrap();
    let months: Vec<(&str, i64)> = body["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            assert_eq!(c["dimensions"]["category"], "staffing");
            (c["period"].as_str().unwrap(), c["tips"].as_i64().unwrap())
        })
        .collect();
    assert_eq!(
        months,
        vec![("2026-09", 0), ("2026-10", 10), ("2026-11", 0)]
    );
    let body: Value = lead
        .get(
            &app,
            "/api/v1/stats?from=2026-10-18&to=2026-10-22&period=day",
        )
        .await
        .json()
        .await
        .unwrap();
    let days: Vec<(&str, i64)> = body["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["period"].as_str().unwrap(), c["tips"].as_i64().unwrap()))
        .collect();
    assert_eq!(
        days,
        vec![
            ("2026-10-18", 0),
            ("2026-10-19", 0),
            ("2026-10-20", 7),
            ("2026-10-21", 0),
            ("2026-10-22", 0)
        ]
    );
    // Nothing in the range: nothing to fill.
    let body: Value = lead
        .get(
            &app,
            "/api/v1/stats?from=2026-06-01&to=2026-06-30&period=week",
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["cells"], json!([]));
}

#[tokio::test]
async fn the_dashboard_lists_weeks_without_tips() {
    let app = spawn_app().await;
    for on in ["2026-10-06", "2026-10-20"] {
        for _ in 0..5 {
            let shape = facility_tip(
                ("01", "0180"),
                "Solgläntans äldreboende",
                "staffing",
                "normal",
                day(on),
            );
            store(&app, &shape).await;
        }
    }
    let lead = people::signed_in(&app, "lead@ivo.example", &["triage_lead"], &[]).await;
    let response = lead
        .get(
            &app,
            "/inspektor/lagesbild?from=2026-10-05&to=2026-10-25&period=week",
        )
        .await;
    assert_eq!(response.status().as_u16(), 200);
    let html = response.text().await.unwrap();
    // The tables beside the per-category chart and the outbreak share have a row for week
    // 42, between 41 and 43.
    let table = |id: &str| {
        let section = people::between(&html, &format!("id=\"{id}\""), "</table>").unwrap();
        people::between(section, "<tbody>", "</tbody>")
            .unwrap()
            .to_owned()
    };
    let category = table("chart-category");
    let weeks: Vec<usize> = [
        "<th scope=\"row\">2026-W41</th><td>5</td></tr>",
        "<th scope=\"row\">2026-W42</th><td>0</td></tr>",
        "<th scope=\"row\">2026-W43</th><td>5</td></tr>",
    ]
    .iter()
    .map(|w| {
        category
            .find(w)
            .unwrap_or_else(|| panic!("{w}: {category}"))
    })
    .collect();
    assert!(weeks.windows(2).all(|w| w[0] < w[1]), "weeks in order");
    let outbreak = table("chart-outbreak");
    assert!(
        outbreak.contains("<th scope=\"row\">2026-W42</th><td>0</td><td>0</td><td>–</td>"),
        "{outbreak}"
    );
}

#[tokio::test]
async fn facility_signals_over_the_api_follow_the_callers_disclosure() {
    let app = spawn_app().await;
    let stockholm = ("01", "0180");
    let uppsala = ("03", "0380");
    let malmo = ("12", "1280");
    // (place, facility, category, priority, how many): Solgläntan 11 (ost), Ängen 5 (mitt),
    // Hemtjänsten 2 (syd).
    let plan = [
        (stockholm, "Solgläntans äldreboende", "staffing", "high", 6),
        (
            stockholm,
            "Solgläntans äldreboende",
            "staffing",
            "normal",
            5,
        ),
        (uppsala, "Vårdcentralen Ängen", "staffing", "critical", 4),
        (uppsala, "Vårdcentralen Ängen", "staffing", "low", 1),
        (
            malmo,
            "Hemtjänsten Norra distriktet",
            "medication",
            "normal",
            2,
        ),
    ];
    for (i, (place, facility, category, priority, n)) in plan.into_iter().enumerate() {
        for j in 0..n {
            let on = day("2026-10-05") + Duration::days(((i + j) % 5) as i64);
            store(&app, &facility_tip(place, facility, category, priority, on)).await;
        }
    }
    // Computed here: tips and tips per priority by facility, most tips first.
    let facilities = [
        "Solgläntans äldreboende",
        "Vårdcentralen Ängen",
        "Hemtjänsten Norra distriktet",
    ];
    let priorities = ["critical", "high", "normal", "low"];
    let count = |facility: &str, priority: Option<&str>| -> i64 {
        plan.iter()
            .filter(|p| p.1 == facility && priority.is_none_or(|q| p.3 == q))
            .map(|p| p.4 as i64)
            .sum()
    };
    assert_eq!(
        facilities.map(|f| count(f, None)),
        [11, 5, 2],
        "the plan ranks them"
    );
    #[derive(diesel::QueryableByName)]
    struct Clusters {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let mut conn = app.db.connect().await;
    let mut clusters = Vec::new();
    for facility in facilities {
        let row: Clusters = diesel::sql_query(
            "SELECT count(DISTINCT cluster_id) AS n FROM tips WHERE facility_name = $1",
        )
        .bind::<Text, _>(facility)
        .get_result(&mut conn)
        .await
        .unwrap();
        clusters.push(row.n);
    }

    let key = create_key(&app.db, &[Scope::StatsRead]).await;
    let analyst = people::signed_in(&app, "analys@ivo.example", &["analyst"], &[]).await;
    let lead = people::signed_in(&app, "lead@ivo.example", &["triage_lead"], &[]).await;
    let syd = people::signed_in(&app, "syd@ivo.example", &["inspector"], &["syd"]).await;
    let query = "/api/v1/stats/facilities?from=2026-10-01&to=2026-10-31";
    let get_json = |response: reqwest::Response| async move {
        assert_eq!(response.status().as_u16(), 200);
        response.json::<Value>().await.unwrap()
    };
    let by_key = get_json(
        app.client
            .get(app.url(query))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let by_analyst = get_json(analyst.get(&app, query).await).await;
    let by_lead = get_json(lead.get(&app, query).await).await;
    let by_syd = get_json(syd.get(&app, query).await).await;

    // Common to every caller: rank, place, clusters, in the plan's order.
    for body in [&by_key, &by_analyst, &by_lead, &by_syd] {
        assert_eq!(body["from"], "2026-10-01");
        assert_eq!(body["to"], "2026-10-31");
        let list = body["facilities"].as_array().unwrap();
        assert_eq!(list.len(), 3, "{body}");
        for (i, entry) in list.iter().enumerate() {
            assert_eq!(entry["rank"], i + 1);
            assert_eq!(entry["clusters"], clusters[i]);
        }
        assert_eq!(list[0]["municipality_code"], "0180");
        assert_eq!(list[0]["region_code"], "01");
        assert_eq!(list[2]["region_code"], "12");
    }
    let names = |body: &Value| -> Vec<Value> {
        body["facilities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].clone())
            .collect()
    };

    // A key and an analyst: names of facilities with at least 5 tips; small counts "<5".
    for body in [&by_key, &by_analyst] {
        assert_eq!(body["suppression_applied"], true);
        assert_eq!(body["threshold"], 5);
        assert_eq!(
            names(body),
            vec![json!(facilities[0]), json!(facilities[1]), Value::Null]
        );
        let list = body["facilities"].as_array().unwrap();
        assert_eq!(list[0]["tips"], 11);
        assert_eq!(list[0]["display"], "11");
        assert_eq!(
            list[0]["priorities"],
            json!({"critical": 0, "high": 6, "normal": 5, "low": 0})
        );
        assert_eq!(list[1]["tips"], 5, "5 is not below the threshold");
        // 4 and 1 are both small: both hidden, the zeros shown.
        assert_eq!(
            list[1]["priorities"],
            json!({"critical": null, "high": 0, "normal": 0, "low": null})
        );
        assert_eq!(list[2]["tips"], Value::Null);
        assert_eq!(list[2]["suppressed"], true);
        assert_eq!(list[2]["display"], "<5");
        assert_eq!(
            list[2]["priorities"],
            json!({"critical": 0, "high": 0, "normal": null, "low": 0})
        );
    }

    // A lead: every name and exact small numbers.
    assert_eq!(by_lead["suppression_applied"], false);
    assert_eq!(names(&by_lead), facilities.map(|f| json!(f)).to_vec());
    for (entry, facility) in by_lead["facilities"]
        .as_array()
        .unwrap()
        .iter()
        .zip(facilities)
    {
        assert_eq!(entry["tips"], count(facility, None));
        assert_eq!(entry["suppressed"], false);
        for priority in priorities {
            assert_eq!(
                entry["priorities"][priority],
                count(facility, Some(priority)),
                "{facility} {priority}"
            );
        }
    }

    // An inspector in syd: only the name of the facility with tips in syd.
    assert_eq!(by_syd["suppression_applied"], true);
    assert_eq!(
        names(&by_syd),
        vec![Value::Null, Value::Null, json!(facilities[2])]
    );
    assert_eq!(by_syd["facilities"][2]["display"], "<5");

    // Filters and dates narrow the list like everything else in the report.
    let body = get_json(
        lead.get(&app, &format!("{query}&category=medication"))
            .await,
    )
    .await;
    assert_eq!(names(&body), vec![json!(facilities[2])]);
    let body = get_json(
        lead.get(
            &app,
            "/api/v1/stats/facilities?from=2026-11-01&to=2026-11-30",
        )
        .await,
    )
    .await;
    assert_eq!(body["facilities"], json!([]));
}

/// Sets when a tip was first reviewed and when it was due, in hours after it arrived.
async fn set_review(app: &TestApp, fact: &Fact, reviewed_after: Option<i64>, due_after: i64) {
    let mut conn = app.db.connect().await;
    diesel::sql_query(
        "UPDATE tips SET due_at = submitted_at + make_interval(hours => $1::int), \
         first_reviewed_at = submitted_at + make_interval(hours => $2::int), \
         status = CASE WHEN $2::int IS NULL THEN status ELSE 'in_review' END \
         WHERE id = $3::uuid",
    )
    .bind::<BigInt, _>(due_after)
    .bind::<diesel::sql_types::Nullable<BigInt>, _>(reviewed_after)
    .bind::<Text, _>(&fact.id)
    .execute(&mut conn)
    .await
    .unwrap();
}

/// The median of some hours (computed here, not by the database).
fn median(mut hours: Vec<f64>) -> f64 {
    hours.sort_by(f64::total_cmp);
    let n = hours.len();
    if n % 2 == 1 {
        hours[n / 2]
    } else {
        (hours[n / 2 - 1] + hours[n / 2]) / 2.0
    }
}

#[tokio::test]
async fn deadline_compliance_over_the_api_matches_hand_computed_figures() {
    let app = spawn_app().await;
    let today = Utc::now()
        .with_timezone(&chrono_tz::Europe::Stockholm)
        .date_naive();
    let arrived = today - Duration::days(3);
    // (reviewed after, due after), in hours. Team ost (län 01): seven tips, the last not yet
    // reviewed and not yet due (undecided). Team syd (län 12): two tips, both in time.
    let ost: [(Option<i64>, i64); 7] = [
        (Some(2), 24),
        (Some(4), 24),
        (Some(10), 8),
        (Some(30), 24),
        (Some(6), 4),
        (None, 24),
        (None, 24 * 8),
    ];
    let syd: [(Option<i64>, i64); 2] = [(Some(1), 24), (Some(3), 24)];
    for (place, plan) in [(("01", "0180"), &ost[..]), (("12", "1280"), &syd[..])] {
        for (reviewed, due) in plan {
            let fact = store(
                &app,
                &facility_tip(
                    place,
                    "Solgläntans äldreboende",
                    "staffing",
                    "normal",
                    arrived,
                ),
            )
            .await;
            set_review(&app, &fact, *reviewed, *due).await;
        }
    }
    // Hand-computed: ost reviewed after 2, 4, 6, 10, 30 h → median 6 h; decided: the five
    // reviewed and the one past its deadline; in time: 2 and 4 h → 2 of 6.
    let figures = |plan: &[(Option<i64>, i64)]| {
        let reviewed: Vec<f64> = plan.iter().filter_map(|p| p.0).map(|h| h as f64).collect();
        let hours_since = 3 * 24;
        let in_time = plan
            .iter()
            .filter(|(r, due)| r.is_some_and(|r| r <= *due))
            .count() as f64;
        let decided = plan
            .iter()
            .filter(|(r, due)| r.is_some() || *due < hours_since)
            .count() as f64;
        (median(reviewed), in_time * 100.0 / decided, decided)
    };
    assert_eq!(figures(&ost), (6.0, 100.0 / 3.0, 6.0));
    assert_eq!(figures(&syd), (2.0, 100.0, 2.0));

    let query = format!(
        "/api/v1/stats/deadlines?from={}&to={today}",
        today - Duration::days(10)
    );
    let close = |value: &Value, want: f64| {
        let got = value
            .as_f64()
            .unwrap_or_else(|| panic!("a number: {value}"));
        assert!((got - want).abs() < 1e-6, "{got} ≠ {want}");
    };

    // A lead sees every team unsuppressed.
    let lead = people::signed_in(&app, "lead@ivo.example", &["triage_lead"], &[]).await;
    let response = lead.get(&app, &query).await;
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["suppression_applied"], false);
    assert_eq!(body["to"], today.to_string());
    let teams = body["teams"].as_array().unwrap();
    assert_eq!(teams.len(), 2);
    for (entry, (team, plan)) in teams.iter().zip([("ost", &ost[..]), ("syd", &syd[..])]) {
        let (median_hours, share, decided) = figures(plan);
        assert_eq!(entry["team"], team);
        assert_eq!(entry["tips"], plan.len());
        close(&entry["median_hours_to_first_review"], median_hours);
        close(&entry["share_reviewed_in_time_percent"], share);
        assert_eq!(entry["decided"].as_f64(), Some(decided));
    }

    // A key: ost's figures rest on at least 5 tips each; syd's two tips hide everything.
    let key = create_key(&app.db, &[Scope::StatsRead]).await;
    let response = app
        .client
        .get(app.url(&query))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["suppression_applied"], true);
    let ost_entry = &body["teams"][0];
    assert_eq!(ost_entry["tips"], 7);
    close(&ost_entry["median_hours_to_first_review"], 6.0);
    close(&ost_entry["share_reviewed_in_time_percent"], 100.0 / 3.0);
    assert_eq!(ost_entry["decided"], 6);
    assert_eq!(
        body["teams"][1],
        json!({"team": "syd", "tips": null, "median_hours_to_first_review": null,
               "share_reviewed_in_time_percent": null, "decided": null})
    );

    // A filter that matches nothing: no teams.
    let response = lead
        .get(&app, &format!("{query}&category=medication"))
        .await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["teams"], json!([]));
}

#[tokio::test]
async fn the_facility_and_deadline_endpoints_refuse_bad_parameters_and_callers() {
    let app = spawn_app().await;
    let lead = people::signed_in(&app, "lead@ivo.example", &["triage_lead"], &[]).await;
    let admin = people::signed_in(&app, "admin@ivo.example", &["admin"], &[]).await;
    let reader = create_key(&app.db, &[Scope::TipsRead]).await;
    for path in ["/api/v1/stats/facilities", "/api/v1/stats/deadlines"] {
        let cases = [
            ("from=2026-13-01", "from", "invalid_date"),
            ("from=2026-10-10&to=2026-10-01", "to", "before_from"),
            ("from=2020-01-01&to=2026-01-01", "to", "range_too_long"),
            ("category=plague", "category", "unknown_code"),
            ("region_code=,", "region_code", "empty"),
            ("colour=red", "colour", "unknown_field"),
            ("group_by=region_code", "group_by", "unknown_field"),
            ("period=week", "period", "unknown_field"),
            ("trend=true", "trend", "unknown_field"),
            ("from=2026-10-01&from=2026-10-02", "from", "repeated"),
        ];
        for (query, field, code) in cases {
            let body = problem(lead.get(&app, &format!("{path}?{query}")).await, 422).await;
            assert!(
                field_errors(&body).contains(&(field.to_owned(), code.to_owned())),
                "{path}?{query}: {body}"
            );
        }
        // Every bad field at once.
        let body = problem(
            lead.get(&app, &format!("{path}?period=week&category=plague&from=x"))
                .await,
            422,
        )
        .await;
        let fields: Vec<String> = field_errors(&body).into_iter().map(|(f, _)| f).collect();
        for field in ["period", "category", "from"] {
            assert!(fields.contains(&field.to_owned()), "{field}: {body}");
        }

        // A key without stats:read: 403 naming the scope; an admin: 403; nobody: 401.
        let response = app
            .client
            .get(app.url(path))
            .bearer_auth(&reader)
            .send()
            .await
            .unwrap();
        let body = problem(response, 403).await;
        assert!(body["detail"].as_str().unwrap().contains("stats:read"));
        problem(admin.get(&app, path).await, 403).await;
        let response = app.client.get(app.url(path)).send().await.unwrap();
        problem(response, 401).await;
        // Other methods: 405.
        let response = app.client.post(app.url(path)).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 405, "{path}");
    }
}
