//! The authorisation policy as a matrix: every inspector route and every tip route of the API,
//! for every role (and no session), on a tip of the person's own team and of another team.
//! Each cell's expected status is written below; the test prints the whole matrix.
//! Action requests are built to fail validation *after* authorisation (e.g. a priority change
//! without a reason → 422), so an allowed cell shows 422/412 and nothing is changed.

use std::fmt::Write as _;

use reqwest::{Client, Method};
use serde_json::json;
use uuid::Uuid;

use tipsa::auth::Scope;

use crate::files::{execute, identifying_jpeg, uploaded_id};
use crate::helpers::{TestApp, create_key, spawn_app};
use crate::inspector::tip_in;
use crate::people::{self, Person, csrf_token};

const ROLES: [&str; 5] = ["none", "inspector", "triage_lead", "analyst", "admin"];

/// How a route is called.
#[derive(Clone)]
enum Call {
    Get,
    /// A form post with these fields (plus the CSRF token).
    Form(&'static [(&'static str, &'static str)]),
    /// JSON with an optional If-Match.
    Json(Method, &'static str, Option<&'static str>),
}

struct Route {
    name: &'static str,
    path: &'static str,
    call: Call,
    /// Expected status per role (in `ROLES` order), for the own-team tip and the other team's.
    own: [u16; 5],
    other: [u16; 5],
}

/// Routes that take no tip have the same expectation in both columns.
fn plain(name: &'static str, path: &'static str, call: Call, expected: [u16; 5]) -> Route {
    Route {
        name,
        path,
        call,
        own: expected,
        other: expected,
    }
}

fn routes() -> Vec<Route> {
    const NO_REASON: &[(&str, &str)] = &[
        ("action", "priority"),
        ("priority", "high"),
        ("version", "1"),
    ];
    const BAD_VERSION: &[(&str, &str)] =
        &[("action", "assign"), ("assignee", ""), ("version", "x")];
    const EMPTY_BODY: &[(&str, &str)] = &[("body", "")];
    const EMPTY_REASON: &[(&str, &str)] = &[("reason", "")];
    const NO_TIPS: &[(&str, &str)] = &[("received_on", "2026-11-20"), ("tips", "")];
    const BAD_RANGE: &[(&str, &str)] = &[("version", "1"), ("range:0", "x")];
    const NO_VERSION: &[(&str, &str)] = &[("decision", "disclosed"), ("version", "x")];
    vec![
        //                                               none inspector lead analyst admin
        plain(
            "GET queue page",
            "/inspektor",
            Call::Get,
            [303, 200, 200, 403, 303],
        ),
        Route {
            name: "GET tip page",
            path: "/inspektor/tips/{tip}",
            call: Call::Get,
            own: [303, 200, 200, 404, 404],
            other: [303, 404, 200, 404, 404],
        },
        Route {
            name: "POST change priority",
            path: "/inspektor/tips/{tip}/andra",
            call: Call::Form(NO_REASON),
            own: [303, 422, 422, 404, 404],
            other: [303, 404, 422, 404, 404],
        },
        Route {
            name: "POST assign",
            path: "/inspektor/tips/{tip}/andra",
            call: Call::Form(BAD_VERSION),
            own: [303, 403, 422, 404, 404],
            other: [303, 404, 422, 404, 404],
        },
        Route {
            name: "POST ask tipster",
            path: "/inspektor/tips/{tip}/fraga",
            call: Call::Form(EMPTY_BODY),
            own: [303, 422, 422, 404, 404],
            other: [303, 404, 422, 404, 404],
        },
        Route {
            name: "POST reveal contact",
            path: "/inspektor/tips/{tip}/kontakt",
            call: Call::Form(EMPTY_REASON),
            own: [303, 422, 422, 404, 404],
            other: [303, 404, 422, 404, 404],
        },
        // The overview lists only what the person may use; a triage lead may read the
        // configuration, so the overview is open to them.
        plain(
            "GET admin",
            "/inspektor/admin",
            Call::Get,
            [303, 403, 200, 403, 200],
        ),
        plain(
            "GET admin people",
            "/inspektor/admin/personer",
            Call::Get,
            [303, 403, 403, 403, 200],
        ),
        plain(
            "GET admin API keys",
            "/inspektor/admin/api-nycklar",
            Call::Get,
            [303, 403, 403, 403, 200],
        ),
        plain(
            "GET admin configuration",
            "/inspektor/admin/konfiguration",
            Call::Get,
            [303, 403, 200, 403, 200],
        ),
        plain(
            "GET admin notifications",
            "/inspektor/admin/utskick",
            Call::Get,
            [303, 403, 403, 403, 200],
        ),
        plain(
            "GET admin audit log",
            "/inspektor/admin/granskningslogg",
            Call::Get,
            [303, 403, 403, 403, 200],
        ),
        plain(
            "GET situation report",
            "/inspektor/lagesbild",
            Call::Get,
            [303, 200, 200, 200, 403],
        ),
        plain(
            "API GET /stats",
            "/api/v1/stats",
            Call::Get,
            [401, 200, 200, 200, 403],
        ),
        plain(
            "API GET /stats/facilities",
            "/api/v1/stats/facilities",
            Call::Get,
            [401, 200, 200, 200, 403],
        ),
        plain(
            "API GET /stats/deadlines",
            "/api/v1/stats/deadlines",
            Call::Get,
            [401, 200, 200, 200, 403],
        ),
        plain(
            "API GET /tips (queue)",
            "/api/v1/tips",
            Call::Get,
            [401, 200, 200, 403, 403],
        ),
        Route {
            name: "API GET /tips/{id}",
            path: "/api/v1/tips/{tip}",
            call: Call::Get,
            own: [401, 200, 200, 404, 404],
            other: [401, 404, 200, 404, 404],
        },
        Route {
            name: "API GET /tips/{id}/events",
            path: "/api/v1/tips/{tip}/events",
            call: Call::Get,
            own: [401, 200, 200, 404, 404],
            other: [401, 404, 200, 404, 404],
        },
        Route {
            name: "API GET /tips/{id}/messages",
            path: "/api/v1/tips/{tip}/messages",
            call: Call::Get,
            own: [401, 200, 200, 404, 404],
            other: [401, 404, 200, 404, 404],
        },
        Route {
            name: "API PATCH /tips/{id} (stale)",
            path: "/api/v1/tips/{tip}",
            call: Call::Json(
                Method::PATCH,
                r#"{"priority":"high","reason":"matrix"}"#,
                Some("\"v999\""),
            ),
            own: [401, 412, 412, 404, 404],
            other: [401, 404, 412, 404, 404],
        },
        Route {
            name: "API POST /tips/{id}/retriage",
            path: "/api/v1/tips/{tip}/retriage",
            call: Call::Json(Method::POST, "{}", None),
            own: [401, 200, 200, 404, 404],
            other: [401, 404, 200, 404, 404],
        },
        Route {
            name: "GET tip file (download)",
            path: "/inspektor/tips/{tip}/bilagor/{file}",
            call: Call::Get,
            own: [303, 200, 200, 404, 404],
            other: [303, 404, 200, 404, 404],
        },
        Route {
            name: "GET tip file preview",
            path: "/inspektor/tips/{tip}/bilagor/{file}/forhandsvisning",
            call: Call::Get,
            own: [303, 200, 200, 404, 404],
            other: [303, 404, 200, 404, 404],
        },
        Route {
            name: "API GET /tips/{id}/attachments",
            path: "/api/v1/tips/{tip}/attachments",
            call: Call::Get,
            own: [401, 200, 200, 404, 404],
            other: [401, 404, 200, 404, 404],
        },
        Route {
            name: "API GET /tips/{id}/attachments/{a}",
            path: "/api/v1/tips/{tip}/attachments/{file}",
            call: Call::Get,
            own: [401, 200, 200, 404, 404],
            other: [401, 404, 200, 404, 404],
        },
        plain(
            "API POST /attachments (upload)",
            "/api/v1/attachments",
            Call::Json(Method::POST, "{}", None),
            [401, 403, 403, 403, 403],
        ),
        plain(
            "GET records hub",
            "/inspektor/allmanna-handlingar",
            Call::Get,
            [303, 200, 200, 403, 200],
        ),
        plain(
            "POST register request (no tips)",
            "/inspektor/allmanna-handlingar",
            Call::Form(NO_TIPS),
            [303, 422, 422, 403, 403],
        ),
        Route {
            name: "GET records request",
            path: "/inspektor/allmanna-handlingar/{request}",
            call: Call::Get,
            own: [303, 200, 200, 403, 403],
            other: [303, 404, 200, 403, 403],
        },
        Route {
            name: "GET records redaction view",
            path: "/inspektor/allmanna-handlingar/{request}/tips/{tip}",
            call: Call::Get,
            own: [303, 200, 200, 403, 403],
            other: [303, 404, 200, 403, 403],
        },
        Route {
            name: "POST redactions (bad range)",
            path: "/inspektor/allmanna-handlingar/{request}/tips/{tip}",
            call: Call::Form(BAD_RANGE),
            own: [303, 422, 422, 403, 403],
            other: [303, 404, 422, 403, 403],
        },
        Route {
            name: "POST records decision (no version)",
            path: "/inspektor/allmanna-handlingar/{request}/beslut",
            call: Call::Form(NO_VERSION),
            own: [303, 422, 422, 403, 403],
            other: [303, 404, 422, 403, 403],
        },
        Route {
            name: "GET records copy (undecided)",
            path: "/inspektor/allmanna-handlingar/{request}/kopia",
            call: Call::Get,
            own: [303, 409, 409, 403, 403],
            other: [303, 404, 409, 403, 403],
        },
        // Registry systems use the records API with keys; people work on the pages.
        plain(
            "API GET /records-requests",
            "/api/v1/records-requests",
            Call::Get,
            [401, 401, 401, 401, 401],
        ),
        Route {
            name: "API GET /records-requests/{id}",
            path: "/api/v1/records-requests/{request}",
            call: Call::Get,
            own: [401, 401, 401, 401, 401],
            other: [401, 401, 401, 401, 401],
        },
        plain(
            "API POST /tips (submit)",
            "/api/v1/tips",
            Call::Json(Method::POST, "{}", None),
            [401, 403, 403, 403, 403],
        ),
    ]
    .into_iter()
    .chain(hold_routes())
    .collect()
}

/// Legal holds: triage leads and admins (any tip); an inspector sees the hold but may not
/// change it. Every POST lacks its reason (422 where allowed), so nothing is written.
fn hold_routes() -> Vec<Route> {
    const NO_REASON: &[(&str, &str)] = &[("covers", "tip"), ("reason", "")];
    const LIFT_NO_REASON: &[(&str, &str)] = &[("hold", "{hold}"), ("reason", "")];
    vec![
        Route {
            name: "API GET /tips/{id}/legal-holds",
            path: "/api/v1/tips/{tip}/legal-holds",
            call: Call::Get,
            own: [401, 403, 200, 404, 200],
            other: [401, 404, 200, 404, 200],
        },
        Route {
            name: "API POST /tips/{id}/legal-holds",
            path: "/api/v1/tips/{tip}/legal-holds",
            call: Call::Json(Method::POST, r#"{"covers":"tip"}"#, None),
            own: [401, 403, 422, 404, 422],
            other: [401, 404, 422, 404, 422],
        },
        Route {
            name: "API GET /legal-holds/{id}",
            path: "/api/v1/legal-holds/{hold}",
            call: Call::Get,
            own: [401, 403, 200, 404, 200],
            other: [401, 404, 200, 404, 200],
        },
        Route {
            name: "API POST /legal-holds/{id}/lift",
            path: "/api/v1/legal-holds/{hold}/lift",
            call: Call::Json(Method::POST, "{}", None),
            own: [401, 403, 422, 404, 422],
            other: [401, 404, 422, 404, 422],
        },
        // On the tip page: only for those who may read the tip (admins may not).
        Route {
            name: "POST tip page place hold",
            path: "/inspektor/tips/{tip}/gallringssparr",
            call: Call::Form(NO_REASON),
            own: [303, 403, 422, 404, 404],
            other: [303, 404, 422, 404, 404],
        },
        Route {
            name: "POST tip page lift hold",
            path: "/inspektor/tips/{tip}/gallringssparr/hav",
            call: Call::Form(LIFT_NO_REASON),
            own: [303, 403, 422, 404, 404],
            other: [303, 404, 422, 404, 404],
        },
        plain(
            "GET holds page",
            "/inspektor/gallringssparrar",
            Call::Get,
            [303, 200, 200, 403, 200],
        ),
        plain(
            "POST holds page place by reference",
            "/inspektor/gallringssparrar",
            Call::Form(NO_REASON),
            [303, 403, 422, 403, 422],
        ),
        Route {
            name: "POST holds page lift",
            path: "/inspektor/gallringssparrar/{hold}/hav",
            call: Call::Form(&[("reason", "")]),
            own: [303, 403, 422, 403, 422],
            other: [303, 404, 422, 403, 422],
        },
    ]
}

async fn send(
    app: &TestApp,
    client: &Client,
    csrf: &str,
    route: &Route,
    (tip, file, hold, records_request): (Uuid, &str, &str, &str),
) -> u16 {
    let url = app.url(
        &route
            .path
            .replace("{tip}", &tip.to_string())
            .replace("{file}", file)
            .replace("{hold}", hold)
            .replace("{request}", records_request),
    );
    let request = match &route.call {
        Call::Get => client.get(url),
        Call::Form(fields) => {
            let mut form: Vec<(&str, &str)> = vec![("csrf_token", csrf)];
            form.extend(
                fields
                    .iter()
                    .map(|&(k, v)| (k, if v == "{hold}" { hold } else { v })),
            );
            client.post(url).form(&form)
        }
        Call::Json(method, body, if_match) => {
            let mut request = client
                .request(method.clone(), url)
                .header("Content-Type", "application/json")
                .body(*body);
            if let Some(etag) = if_match {
                request = request.header("If-Match", *etag);
            }
            request
        }
    };
    request.send().await.unwrap().status().as_u16()
}

/// Uploads a picture and makes it the tip's first file.
async fn file_of(app: &TestApp, tip: Uuid) -> String {
    let id = uploaded_id(app, "foto.jpg", identifying_jpeg(32, 24)).await;
    execute(
        app,
        &format!("UPDATE attachments SET tip_id = '{tip}', position = 1 WHERE id = '{id}'"),
    )
    .await;
    id
}

/// Places a legal hold on the tip directly in the database; its id.
async fn hold_on(app: &TestApp, tip: Uuid) -> String {
    let id = Uuid::new_v4();
    execute(
        app,
        &format!(
            "INSERT INTO legal_holds (id, tip_id, reason, placed_by) \
             VALUES ('{id}', '{tip}', 'matrix', 'cli:test')"
        ),
    )
    .await;
    id.to_string()
}

/// Registers a public-records request for the tip (with the all-scopes key); its id.
async fn records_request_for(app: &TestApp, tip: Uuid) -> String {
    let response = app
        .client
        .post(app.url("/api/v1/records-requests"))
        .bearer_auth(&app.token)
        .json(&json!({ "received_on": "2026-11-20", "tips": [tip.to_string()] }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let body: serde_json::Value = response.json().await.unwrap();
    body["id"].as_str().unwrap().to_owned()
}

/// Every records endpoint: 403 for a key without `records:write` (naming the scope), 2xx with
/// it — a second key approving, as the second-approval rule needs another principal.
#[tokio::test]
async fn records_endpoints_need_the_records_write_scope() {
    let config = crate::records_support::second_approval_config();
    let app = crate::helpers::spawn_app_with(|s| s.config_dir = config.clone()).await;
    let (tip, _) = tip_in(&app, "12", "1280", "Personalen räcker inte till på natten.").await;
    let others = crate::helpers::create_key(
        &app.db,
        &[
            Scope::TipsSubmit,
            Scope::TipsRead,
            Scope::TipsWrite,
            Scope::StatsRead,
        ],
    )
    .await;
    let registry = crate::helpers::create_key(&app.db, &[Scope::RecordsWrite]).await;
    let approver = crate::helpers::create_key(&app.db, &[Scope::RecordsWrite]).await;
    let request = records_request_for(&app, tip).await;
    let base = format!("/api/v1/records-requests/{request}");
    let calls: Vec<(Method, String, Option<serde_json::Value>, &str, u16)> = vec![
        (
            Method::POST,
            "/api/v1/records-requests".into(),
            Some(json!({ "received_on": "2026-11-20", "tips": [tip.to_string()] })),
            &registry,
            201,
        ),
        (
            Method::GET,
            "/api/v1/records-requests".into(),
            None,
            &registry,
            200,
        ),
        (Method::GET, base.clone(), None, &registry, 200),
        (
            Method::PUT,
            format!("{base}/tips/{tip}/redactions"),
            Some(json!({ "redactions": [] })),
            &registry,
            200,
        ),
        (
            Method::POST,
            format!("{base}/decision"),
            Some(json!({ "decision": "disclosed" })),
            &registry,
            200,
        ),
        (
            Method::POST,
            format!("{base}/approval"),
            Some(json!({ "approve": true })),
            &approver,
            200,
        ),
        (Method::GET, format!("{base}/copy"), None, &registry, 200),
    ];
    for (method, path, body, token, status) in calls {
        let version: serde_json::Value = app
            .client
            .get(app.url(&base))
            .bearer_auth(&registry)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let etag = format!("\"v{}\"", version["version"]);
        let build = |token: &str| {
            let mut request = app
                .client
                .request(method.clone(), app.url(&path))
                .bearer_auth(token)
                .header("If-Match", etag.clone());
            if let Some(body) = &body {
                request = request.json(body);
            }
            request
        };
        let refused = build(&others).send().await.unwrap();
        let problem = crate::helpers::problem(refused, 403).await;
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("records:write"),
            "{method} {path}: {problem}"
        );
        let allowed = build(token).send().await.unwrap();
        assert_eq!(allowed.status().as_u16(), status, "{method} {path}");
    }
}

#[tokio::test]
async fn every_route_for_every_role_on_own_and_other_teams_tips() {
    let app = spawn_app().await;
    let (own_tip, _) = tip_in(
        &app,
        "12",
        "1280",
        "Personalen på avdelningen räcker inte till på natten.",
    )
    .await;
    let (other_tip, _) = tip_in(
        &app,
        "01",
        "0180",
        "Läkemedel delas ut utan kontroll på boendet.",
    )
    .await;
    // Each tip has a picture (previewable, downloadable).
    let own_file = file_of(&app, own_tip).await;
    let other_file = file_of(&app, other_tip).await;
    // Each tip has a legal hold (to read and to lift).
    let own_hold = hold_on(&app, own_tip).await;
    let other_hold = hold_on(&app, other_tip).await;
    // A public-records request for each tip.
    let own_request = records_request_for(&app, own_tip).await;
    let other_request = records_request_for(&app, other_tip).await;
    let people: Vec<Person> = vec![
        people::signed_in(&app, "inspector@ivo.example", &["inspector"], &["syd"]).await,
        people::signed_in(&app, "lead@ivo.example", &["triage_lead"], &["syd"]).await,
        people::signed_in(&app, "analyst@ivo.example", &["analyst"], &["syd"]).await,
        people::signed_in(&app, "admin@ivo.example", &["admin"], &["syd"]).await,
    ];
    let anonymous = people::manual_client();
    let mut tokens = vec![String::new()];
    for person in &people {
        let page = person
            .client
            .get(app.url("/inspektor/logga-in"))
            .send()
            .await
            .unwrap();
        // Signed in: the login page forwards to the person's start page, which has the token.
        tokens.push(csrf_token(&page.text().await.unwrap()));
    }

    let mut table = String::new();
    let mut failures = Vec::new();
    let _ = write!(table, "\n{:<34}", "route \\ role (own | other team)");
    for role in ROLES {
        let _ = write!(table, " {role:>15}");
    }
    table.push('\n');
    for route in routes() {
        let _ = write!(table, "{:<34}", route.name);
        for (index, role) in ROLES.iter().enumerate() {
            let client = if index == 0 {
                &anonymous
            } else {
                &people[index - 1].manual
            };
            let own = send(
                &app,
                client,
                &tokens[index],
                &route,
                (own_tip, &own_file, &own_hold, &own_request),
            )
            .await;
            let other = send(
                &app,
                client,
                &tokens[index],
                &route,
                (other_tip, &other_file, &other_hold, &other_request),
            )
            .await;
            let mark = |got: u16, want: u16| {
                if got == want {
                    String::new()
                } else {
                    format!("(want {want})")
                }
            };
            let _ = write!(
                table,
                " {:>15}",
                format!(
                    "{own}{} | {other}{}",
                    mark(own, route.own[index]),
                    mark(other, route.other[index])
                )
            );
            if own != route.own[index] || other != route.other[index] {
                failures.push(format!(
                    "{} as {role}: own {own} (want {}), other {other} (want {})",
                    route.name, route.own[index], route.other[index]
                ));
            }
        }
        table.push('\n');
    }
    println!("{table}");
    assert!(
        failures.is_empty(),
        "policy matrix mismatches:\n{}{table}",
        failures.join("\n")
    );

    // Nothing the matrix sent changed a tip's triage or status except the allowed re-triage.
    let stored: serde_json::Value = app
        .get(&format!("/api/v1/tips/{other_tip}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stored["status"], json!("new"));
    // … and no hold was placed or lifted.
    assert_eq!(
        crate::files::count(&app, "SELECT 1 FROM legal_holds WHERE lifted_at IS NULL").await,
        2
    );
    assert_eq!(
        crate::files::count(&app, "SELECT 1 FROM legal_holds").await,
        2
    );
}

/// Hold endpoints for API keys: `records:write` decides (the key's owner knows tips exist, so
/// a missing scope is 403, not 404), and a key with it places, reads and lifts holds.
#[tokio::test]
async fn hold_endpoints_need_records_write_for_api_keys() {
    use tipsa::auth::Scope;
    let app = spawn_app().await;
    let (tip, _) = tip_in(
        &app,
        "12",
        "1280",
        "Personalen på avdelningen räcker inte till på natten.",
    )
    .await;
    let existing = hold_on(&app, tip).await;
    let without = create_key(
        &app.db,
        &[
            Scope::TipsSubmit,
            Scope::TipsRead,
            Scope::TipsWrite,
            Scope::StatsRead,
        ],
    )
    .await;
    let with = create_key(&app.db, &[Scope::RecordsWrite]).await;
    let call = async |token: &str, method: Method, path: &str, body: Option<serde_json::Value>| {
        let mut request = app.client.request(method, app.url(path)).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    };
    let holds = format!("/api/v1/tips/{tip}/legal-holds");
    let hold = format!("/api/v1/legal-holds/{existing}");
    let reason = || Some(json!({"reason": "Registratorn spärrar."}));
    for (method, path, body) in [
        (Method::GET, holds.clone(), None),
        (Method::POST, holds.clone(), reason()),
        (Method::GET, hold.clone(), None),
        (Method::POST, format!("{hold}/lift"), reason()),
    ] {
        let response = call(&without, method.clone(), &path, body).await;
        let problem = crate::helpers::problem(response, 403).await;
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("records:write"),
            "{method} {path}: {problem}"
        );
    }
    assert_eq!(call(&with, Method::GET, &holds, None).await.status(), 200);
    assert_eq!(call(&with, Method::GET, &hold, None).await.status(), 200);
    let lifted = call(&with, Method::POST, &format!("{hold}/lift"), reason()).await;
    assert_eq!(lifted.status(), 200);
    let placed = call(&with, Method::POST, &holds, reason()).await;
    assert_eq!(placed.status(), 201);
    assert_eq!(
        crate::files::count(&app, "SELECT 1 FROM legal_holds WHERE lifted_at IS NULL").await,
        1
    );
}

/// An inspector signed in through an OpenID provider (team syd from a group) gets the matrix's
/// inspector answers: the own team's tip, 404 for another team's, on the page and the API.
#[tokio::test]
async fn an_inspector_signed_in_through_the_provider_gets_the_inspector_column() {
    use crate::sso_provider::{self, IdpUser};
    let site = sso_provider::start(
        vec![IdpUser::new(
            "matrix-sub",
            "sso@ivo.example",
            &["tipsa-syd"],
        )],
        |_| {},
    )
    .await;
    let app = &site.app;
    let (own_tip, _) = tip_in(app, "12", "1280", "Personalen räcker inte till på natten.").await;
    let (other_tip, _) = tip_in(app, "01", "0180", "Läkemedel delas ut utan kontroll här.").await;
    let client = sso_provider::client();
    assert_eq!(sso_provider::sign_in(&site, &client).await.status(), 200);
    let inspector = ROLES.iter().position(|r| *r == "inspector").unwrap();
    let representative = ["GET tip page", "API GET /tips/{id}"];
    let routes: Vec<Route> = routes()
        .into_iter()
        .filter(|r| representative.contains(&r.name))
        .collect();
    assert_eq!(
        routes.len(),
        2,
        "the representative routes are in the matrix"
    );
    for route in &routes {
        let own = send(app, &client, "", route, (own_tip, "", "", "")).await;
        let other = send(app, &client, "", route, (other_tip, "", "", "")).await;
        assert_eq!(
            (own, other),
            (route.own[inspector], route.other[inspector]),
            "{}",
            route.name
        );
    }
}
