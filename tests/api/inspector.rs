//! The inspector workspace over real HTTP: login with a second factor, the queue scoped to the
//! person's teams, the tip page and its audit row, actions under the ETag, sessions.

use diesel::sql_types::{BigInt, Text, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, spawn_app, valid_tip};
use crate::people::{self, PASSWORD, Person, csrf_token, manual_client, signed_in};

/// Submits a tip in `region` (12 = Skåne → team syd, 01 = Stockholm → team ost).
pub async fn tip_in(
    app: &TestApp,
    region: &str,
    municipality: &str,
    description: &str,
) -> (Uuid, String) {
    let mut body = valid_tip();
    body["region_code"] = json!(region);
    body["municipality_code"] = json!(municipality);
    body["description"] = json!(description);
    let response = app.submit(&body).await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    (
        created["id"].as_str().unwrap().parse().unwrap(),
        created["reference"].as_str().unwrap().to_owned(),
    )
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

pub async fn audit_rows(app: &TestApp, action: &str, tip: Uuid) -> i64 {
    let mut conn = app.db.connect().await;
    diesel::sql_query("SELECT count(*) AS n FROM audit_log WHERE action = $1 AND tip_id = $2")
        .bind::<Text, _>(action)
        .bind::<SqlUuid, _>(tip)
        .get_result::<Count>(&mut conn)
        .await
        .unwrap()
        .n
}

#[tokio::test]
async fn an_inspector_logs_in_with_totp_and_sees_only_their_teams_queue() {
    let app = spawn_app().await;
    let (_, syd_ref) = tip_in(
        &app,
        "12",
        "1280",
        "Personalen på avdelningen räcker inte till på natten.",
    )
    .await;
    let (_, ost_ref) = tip_in(
        &app,
        "01",
        "0180",
        "Läkemedel delas ut utan kontroll på boendet.",
    )
    .await;
    let anna = signed_in(&app, "anna@ivo.example", &["inspector"], &["syd"]).await;

    let queue = anna.get(&app, "/inspektor").await;
    assert_eq!(queue.status(), 200);
    let page = queue.text().await.unwrap();
    assert!(page.contains(&syd_ref), "own team's tip is listed");
    assert!(!page.contains(&ost_ref), "another team's tip is not");

    // A triage lead sees both.
    let lead = signed_in(&app, "lead@ivo.example", &["triage_lead"], &[]).await;
    let page = lead.get(&app, "/inspektor").await.text().await.unwrap();
    assert!(page.contains(&syd_ref) && page.contains(&ost_ref));

    // Filters narrow it: region 01 only.
    let page = lead
        .get(&app, "/inspektor?region_code=01&category=&q=")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains(&ost_ref) && !page.contains(&syd_ref));
}

#[tokio::test]
async fn a_second_login_asks_for_the_code_and_a_wrong_code_is_refused() {
    let app = spawn_app().await;
    let anna = signed_in(&app, "anna@ivo.example", &["inspector"], &["syd"]).await;
    let client = people::browser_client();
    let step = people::post_password(&app, &client, &anna.email, PASSWORD).await;
    assert!(
        step.url().path().ends_with("/logga-in/kod"),
        "{}",
        step.url()
    );
    let page = step.text().await.unwrap();
    let wrong = client
        .post(app.url("/inspektor/logga-in/kod"))
        .form(&[
            ("csrf_token", csrf_token(&page).as_str()),
            ("code", "000000"),
            ("next", "/inspektor"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let page = wrong.text().await.unwrap();
    let code =
        tipsa::auth::second_factor::current_code(&anna.secret, &anna.email, people::now()).unwrap();
    let right = client
        .post(app.url("/inspektor/logga-in/kod"))
        .form(&[
            ("csrf_token", csrf_token(&page).as_str()),
            ("code", code.as_str()),
            ("next", "/inspektor"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), 200);
    assert_eq!(right.url().path(), "/inspektor");
}

#[tokio::test]
async fn a_wrong_password_is_refused_without_saying_which_part_was_wrong() {
    let app = spawn_app().await;
    people::create_person(&app, "anna@ivo.example", &["inspector"], &["syd"]).await;
    let client = people::browser_client();
    let wrong_password =
        people::post_password(&app, &client, "anna@ivo.example", "fel lösenord här").await;
    assert_eq!(wrong_password.status(), 401);
    let a = wrong_password.text().await.unwrap();
    let unknown =
        people::post_password(&app, &client, "nobody@ivo.example", "fel lösenord här").await;
    assert_eq!(unknown.status(), 401);
    let b = unknown.text().await.unwrap();
    let message = "E-postadressen eller lösenordet stämmer inte.";
    assert!(a.contains(message) && b.contains(message));
}

#[tokio::test]
async fn five_wrong_passwords_lock_the_account() {
    let app = spawn_app().await;
    people::create_person(&app, "anna@ivo.example", &["inspector"], &["syd"]).await;
    let client = people::browser_client();
    for _ in 0..5 {
        let response =
            people::post_password(&app, &client, "anna@ivo.example", "fel lösenord här").await;
        assert_eq!(response.status(), 401);
    }
    // Even the right password is refused while locked.
    let locked = people::post_password(&app, &client, "anna@ivo.example", PASSWORD).await;
    assert_eq!(locked.status(), 429);
}

#[tokio::test]
async fn reading_a_tip_writes_exactly_one_audit_row_and_other_teams_tips_are_404() {
    let app = spawn_app().await;
    let (syd_tip, syd_ref) = tip_in(
        &app,
        "12",
        "1280",
        "Personalen på avdelningen räcker inte till på natten.",
    )
    .await;
    let (ost_tip, _) = tip_in(
        &app,
        "01",
        "0180",
        "Läkemedel delas ut utan kontroll på boendet.",
    )
    .await;
    let anna = signed_in(&app, "anna@ivo.example", &["inspector"], &["syd"]).await;

    let page = anna.get(&app, &format!("/inspektor/tips/{syd_tip}")).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains(&syd_ref));
    assert!(html.contains("Personalen på avdelningen räcker inte till på natten."));
    assert_eq!(audit_rows(&app, "view_tip", syd_tip).await, 1);

    let other = anna.get(&app, &format!("/inspektor/tips/{ost_tip}")).await;
    assert_eq!(other.status(), 404);
    assert_eq!(audit_rows(&app, "view_tip", ost_tip).await, 0);
    let missing = anna
        .get(&app, &format!("/inspektor/tips/{}", Uuid::now_v7()))
        .await;
    assert_eq!(missing.status(), 404);
}

async fn act(
    person: &Person,
    app: &TestApp,
    tip: Uuid,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let page_path = format!("/inspektor/tips/{tip}");
    let page = person.get(app, &page_path).await.text().await.unwrap();
    let version = people::between(&page, "name=\"version\" value=\"", "\"")
        .unwrap()
        .to_owned();
    let token = csrf_token(&page);
    let mut form = vec![
        ("csrf_token", token.as_str()),
        ("version", version.as_str()),
    ];
    form.extend_from_slice(fields);
    person
        .client
        .post(app.url(&format!("/inspektor/tips/{tip}/andra")))
        .form(&form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_inspector_claims_and_closes_a_tip_and_a_stale_form_does_not_overwrite() {
    let app = spawn_app().await;
    let (tip, _) = tip_in(
        &app,
        "12",
        "1280",
        "Personalen på avdelningen räcker inte till på natten.",
    )
    .await;
    let anna = signed_in(&app, "anna@ivo.example", &["inspector"], &["syd"]).await;
    let bo = signed_in(&app, "bo@ivo.example", &["inspector"], &["syd"]).await;

    // Bo reads the page (version 1) and keeps it open.
    let bo_page = bo
        .get(&app, &format!("/inspektor/tips/{tip}"))
        .await
        .text()
        .await
        .unwrap();
    let bo_version = people::between(&bo_page, "name=\"version\" value=\"", "\"")
        .unwrap()
        .to_owned();

    let claimed = act(&anna, &app, tip, &[("action", "claim")]).await;
    assert_eq!(claimed.status(), 200);
    assert!(
        claimed
            .url()
            .query()
            .unwrap_or_default()
            .contains("saved=1")
    );
    let stored: Value = app
        .get(&format!("/api/v1/tips/{tip}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stored["status"], "in_review");
    assert_eq!(stored["assignee"], "anna@ivo.example");

    // Bo's form still carries version 1: refused with 409, nothing overwritten.
    let stale = bo
        .client
        .post(app.url(&format!("/inspektor/tips/{tip}/andra")))
        .form(&[
            ("csrf_token", csrf_token(&bo_page).as_str()),
            ("version", bo_version.as_str()),
            ("action", "claim"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 409);
    let stored: Value = app
        .get(&format!("/api/v1/tips/{tip}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stored["assignee"], "anna@ivo.example");

    // Closing needs an outcome.
    let no_outcome = act(
        &anna,
        &app,
        tip,
        &[("action", "status"), ("status", "closed"), ("outcome", "")],
    )
    .await;
    assert_eq!(no_outcome.status(), 422);
    let closed = act(
        &anna,
        &app,
        tip,
        &[
            ("action", "status"),
            ("status", "closed"),
            ("outcome", "risk_signal"),
        ],
    )
    .await;
    assert_eq!(closed.status(), 200);
    let stored: Value = app
        .get(&format!("/api/v1/tips/{tip}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stored["status"], "closed");
    assert_eq!(stored["outcome"], "risk_signal");
    assert_eq!(audit_rows(&app, "change_tip", tip).await, 2);
}

#[tokio::test]
async fn revealing_contact_details_needs_a_reason_and_is_audited() {
    let app = spawn_app().await;
    let mut body = valid_tip();
    body["reporter"] =
        json!({ "name": "Karin Lund", "email": "karin@example.se", "phone": "070-123 45 67" });
    let created: Value = app.submit(&body).await.json().await.unwrap();
    let tip: Uuid = created["id"].as_str().unwrap().parse().unwrap();
    let team: String = app
        .state
        .triage
        .team_for_region(body["region_code"].as_str().unwrap())
        .to_owned();
    let anna = signed_in(&app, "anna@ivo.example", &["inspector"], &[team.as_str()]).await;

    let page = anna
        .get(&app, &format!("/inspektor/tips/{tip}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(!page.contains("karin@example.se"), "hidden until revealed");
    let tip_path = format!("/inspektor/tips/{tip}");
    let without = anna
        .post_form(
            &app,
            &tip_path,
            &format!("{tip_path}/kontakt"),
            &[("reason", " ")],
        )
        .await;
    assert_eq!(without.status(), 422);
    assert_eq!(audit_rows(&app, "reveal_contact", tip).await, 0);
    let revealed = anna
        .client
        .post(app.url(&format!("/inspektor/tips/{tip}/kontakt")))
        .form(&[
            ("csrf_token", csrf_token(&page).as_str()),
            ("reason", "Behöver fråga om datum"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(revealed.status(), 200);
    let html = revealed.text().await.unwrap();
    assert!(html.contains("karin@example.se") && html.contains("Karin Lund"));
    assert_eq!(audit_rows(&app, "reveal_contact", tip).await, 1);
}

#[tokio::test]
async fn every_inspector_form_refuses_a_missing_csrf_token() {
    let app = spawn_app().await;
    let (tip, _) = tip_in(
        &app,
        "12",
        "1280",
        "Personalen på avdelningen räcker inte till på natten.",
    )
    .await;
    let anna = signed_in(&app, "anna@ivo.example", &["inspector"], &["syd"]).await;
    for (action, fields) in [
        (
            format!("/inspektor/tips/{tip}/andra"),
            vec![("action", "claim"), ("version", "1")],
        ),
        (
            format!("/inspektor/tips/{tip}/fraga"),
            vec![("body", "Hur många är i tjänst?")],
        ),
        (
            format!("/inspektor/tips/{tip}/kontakt"),
            vec![("reason", "test")],
        ),
        ("/inspektor/logga-ut".to_owned(), vec![]),
        ("/inspektor/logga-ut-overallt".to_owned(), vec![]),
        ("/inspektor/sprak".to_owned(), vec![("language", "en")]),
    ] {
        let response = anna
            .client
            .post(app.url(&action))
            .form(&fields)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{action}");
    }
    let stored: Value = app
        .get(&format!("/api/v1/tips/{tip}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stored["status"], "new");
}

#[tokio::test]
async fn each_login_step_issues_a_new_session_token_and_logout_ends_it() {
    let app = spawn_app().await;
    let id = people::create_person(&app, "anna@ivo.example", &["inspector"], &["syd"]).await;
    let anna = people::first_sign_in(&app, id, "anna@ivo.example").await;
    let client = manual_client();
    // A session cookie planted before login (fixation attempt) is not the one after.
    let page = client
        .get(app.url("/inspektor/logga-in"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let planted = "planted-by-an-attacker";
    let response = client
        .post(app.url("/inspektor/logga-in"))
        .header(
            "Cookie",
            format!("tipsa_session={planted}; tipsa_csrf={}", csrf_token(&page)),
        )
        .form(&[
            ("csrf_token", csrf_token(&page).as_str()),
            ("email", "anna@ivo.example"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let partial = session_cookie(&response).expect("a new session cookie");
    assert_ne!(partial, planted);
    // The partial session does not open the queue.
    let queue = client
        .get(app.url("/inspektor"))
        .header("Cookie", format!("tipsa_session={partial}"))
        .send()
        .await
        .unwrap();
    assert_eq!(queue.status(), 303);
    assert_eq!(queue.headers()["location"], "/inspektor/logga-in/kod");

    // Logout ends the session on the server: the old cookie no longer works.
    let page = anna.get(&app, "/inspektor").await.text().await.unwrap();
    let out = anna
        .client
        .post(app.url("/inspektor/logga-ut"))
        .form(&[("csrf_token", csrf_token(&page).as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 200);
    assert!(out.url().path().ends_with("/logga-in"));
    let mut conn = app.db.connect().await;
    let sessions: Count = diesel::sql_query(
        "SELECT count(*) AS n FROM sessions WHERE user_id = $1 AND stage = 'full'",
    )
    .bind::<SqlUuid, _>(id)
    .get_result(&mut conn)
    .await
    .unwrap();
    assert_eq!(sessions.n, 0);
}

fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("tipsa_session="))
        .map(|v| v.split(';').next().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn logout_everywhere_ends_every_session_of_the_person() {
    let app = spawn_app().await;
    let id = people::create_person(&app, "anna@ivo.example", &["inspector"], &["syd"]).await;
    let laptop = people::first_sign_in(&app, id, "anna@ivo.example").await;
    // A second device logs in with a code.
    let phone = people::browser_client();
    let step = people::post_password(&app, &phone, "anna@ivo.example", PASSWORD).await;
    let page = step.text().await.unwrap();
    let code =
        tipsa::auth::second_factor::current_code(&laptop.secret, "anna@ivo.example", people::now())
            .unwrap();
    let done = phone
        .post(app.url("/inspektor/logga-in/kod"))
        .form(&[
            ("csrf_token", csrf_token(&page).as_str()),
            ("code", code.as_str()),
            ("next", "/inspektor"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(done.url().path(), "/inspektor");

    let page = laptop.get(&app, "/inspektor").await.text().await.unwrap();
    laptop
        .client
        .post(app.url("/inspektor/logga-ut-overallt"))
        .form(&[("csrf_token", csrf_token(&page).as_str())])
        .send()
        .await
        .unwrap();
    let after = phone.get(app.url("/inspektor")).send().await.unwrap();
    assert!(after.url().path().ends_with("/logga-in"), "{}", after.url());
    let mut conn = app.db.connect().await;
    let left: Count = diesel::sql_query("SELECT count(*) AS n FROM sessions WHERE user_id = $1")
        .bind::<SqlUuid, _>(laptop.id)
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(left.n, 0);
}

#[tokio::test]
async fn an_analyst_cannot_reach_the_queue_or_a_tip() {
    let app = spawn_app().await;
    let (tip, _) = tip_in(
        &app,
        "12",
        "1280",
        "Personalen på avdelningen räcker inte till på natten.",
    )
    .await;
    let analyst = signed_in(&app, "ana@ivo.example", &["analyst"], &["syd"]).await;
    assert_eq!(analyst.get(&app, "/inspektor").await.status(), 403);
    assert_eq!(
        analyst
            .get(&app, &format!("/inspektor/tips/{tip}"))
            .await
            .status(),
        404
    );
    assert_eq!(audit_rows(&app, "view_tip", tip).await, 0);
}

#[tokio::test]
async fn idle_and_expired_sessions_send_the_person_back_to_login() {
    let app = spawn_app().await;
    let anna = signed_in(&app, "anna@ivo.example", &["inspector"], &["syd"]).await;
    assert_eq!(anna.get(&app, "/inspektor").await.status(), 200);
    let mut conn = app.db.connect().await;
    // Idle longer than session_idle_minutes (30):
    diesel::sql_query(
        "UPDATE sessions SET last_seen_at = now() - interval '31 minutes' WHERE user_id = $1",
    )
    .bind::<SqlUuid, _>(anna.id)
    .execute(&mut conn)
    .await
    .unwrap();
    let idle = anna.manual.get(app.url("/inspektor")).send().await.unwrap();
    assert_eq!(idle.status(), 303);
    assert!(
        idle.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/inspektor/logga-in")
    );
    // The idle session is gone from the table, not just refused.
    let left: Count = diesel::sql_query("SELECT count(*) AS n FROM sessions WHERE user_id = $1")
        .bind::<SqlUuid, _>(anna.id)
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(left.n, 0);

    // Past the absolute lifetime, however active:
    let bo = signed_in(&app, "bo@ivo.example", &["inspector"], &["syd"]).await;
    diesel::sql_query(
        "UPDATE sessions SET expires_at = now() - interval '1 second' WHERE user_id = $1",
    )
    .bind::<SqlUuid, _>(bo.id)
    .execute(&mut conn)
    .await
    .unwrap();
    let expired = bo.manual.get(app.url("/api/v1/tips")).send().await.unwrap();
    assert_eq!(
        expired.status(),
        401,
        "the API refuses an expired session too"
    );
}

#[tokio::test]
async fn workspace_pages_carry_the_security_headers_and_are_never_cached() {
    let app = spawn_app().await;
    let anna = signed_in(&app, "anna@ivo.example", &["inspector"], &["syd"]).await;
    for path in ["/inspektor/logga-in", "/inspektor"] {
        let response = anna.manual.get(app.url(path)).send().await.unwrap();
        let headers = response.headers();
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("default-src 'none'")
                && csp.contains("frame-ancestors 'none'")
                && !csp.contains("unsafe-inline"),
            "{path}: {csp}"
        );
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(headers["cache-control"], "no-store", "{path}");
    }
    // The session cookie is HttpOnly and SameSite=Strict.
    let client = people::manual_client();
    let page = client
        .get(app.url("/inspektor/logga-in"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let response = client
        .post(app.url("/inspektor/logga-in"))
        .form(&[
            ("csrf_token", csrf_token(&page).as_str()),
            ("email", "anna@ivo.example"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    let cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("tipsa_session="))
        .unwrap()
        .to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
}

#[tokio::test]
async fn an_inspector_session_works_on_the_api_with_the_same_scope() {
    let app = spawn_app().await;
    let (syd_tip, _) = tip_in(
        &app,
        "12",
        "1280",
        "Personalen på avdelningen räcker inte till på natten.",
    )
    .await;
    let (ost_tip, _) = tip_in(
        &app,
        "01",
        "0180",
        "Läkemedel delas ut utan kontroll på boendet.",
    )
    .await;
    let anna = signed_in(&app, "anna@ivo.example", &["inspector"], &["syd"]).await;
    let queue: Value = anna.get(&app, "/api/v1/tips").await.json().await.unwrap();
    let ids: Vec<&str> = queue["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![syd_tip.to_string().as_str()]);
    assert_eq!(
        anna.get(&app, &format!("/api/v1/tips/{ost_tip}"))
            .await
            .status(),
        404
    );
    let own = anna.get(&app, &format!("/api/v1/tips/{syd_tip}")).await;
    assert_eq!(own.status(), 200);
    assert_eq!(audit_rows(&app, "view_tip", syd_tip).await, 1);
}
