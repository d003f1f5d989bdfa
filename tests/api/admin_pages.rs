//! The admin pages over real HTTP against real PostgreSQL: inviting people (the one-time link
//! works end to end), field errors, roles and teams, disabling, second-factor and password
//! resets, API keys created and revoked on the page, the configuration view, the audit log
//! with filters and paging, and refusals (403 for other roles, 403 without a CSRF token).

use diesel::sql_types::{BigInt, Text};
use diesel_async::RunQueryDsl;
use serde_json::json;
use tipsa::audit::{self, AuditAction};
use uuid::Uuid;

use crate::helpers::{TestApp, spawn_app, spawn_app_with, valid_tip};
use crate::inspector::tip_in;
use crate::people::{self, PASSWORD, Person, between, csrf_token, signed_in};

const PEOPLE: &str = "/inspektor/admin/personer";
const KEYS: &str = "/inspektor/admin/api-nycklar";
const CONFIG: &str = "/inspektor/admin/konfiguration";
const AUDIT: &str = "/inspektor/admin/granskningslogg";

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn count(app: &TestApp, sql: &str, bind: &str) -> i64 {
    let mut conn = app.db.connect().await;
    diesel::sql_query(sql)
        .bind::<Text, _>(bind)
        .get_result::<Count>(&mut conn)
        .await
        .unwrap()
        .n
}

async fn users_named(app: &TestApp, email: &str) -> i64 {
    count(
        app,
        "SELECT count(*) AS n FROM users WHERE email = $1",
        email,
    )
    .await
}

async fn audit_count(app: &TestApp, action: &str) -> i64 {
    count(
        app,
        "SELECT count(*) AS n FROM audit_log WHERE action = $1",
        action,
    )
    .await
}

/// The details of the newest audit row with this action.
async fn last_detail(app: &TestApp, action: &str) -> (String, String) {
    #[derive(diesel::QueryableByName)]
    struct Detail {
        #[diesel(sql_type = Text)]
        actor: String,
        #[diesel(sql_type = Text)]
        detail: String,
    }
    let mut conn = app.db.connect().await;
    let row = diesel::sql_query(
        "SELECT actor, detail FROM audit_log WHERE action = $1 ORDER BY seq DESC LIMIT 1",
    )
    .bind::<Text, _>(action)
    .get_result::<Detail>(&mut conn)
    .await
    .unwrap();
    (row.actor, row.detail)
}

async fn admin(app: &TestApp) -> Person {
    signed_in(app, "admin@ivo.example", &["admin"], &[]).await
}

/// The secret shown once on a response page.
fn shown_once(html: &str) -> String {
    between(html, "id=\"one-time-secret\">", "</code>")
        .unwrap_or_else(|| panic!("a one-time secret on the page: {html}"))
        .to_owned()
}

/// The `/inspektor/losenord/{token}` path inside a shown link.
fn link_path(link: &str) -> String {
    let start = link.find("/inspektor/losenord/").expect("a password link");
    link[start..].to_owned()
}

/// Sets a password through a one-time link, as the invited person does in a browser.
async fn set_password_with(app: &TestApp, path: &str, password: &str) -> reqwest::Response {
    let client = people::browser_client();
    let form = client.get(app.url(path)).send().await.unwrap();
    assert_eq!(form.status(), 200, "the link opens the password form");
    let page = form.text().await.unwrap();
    client
        .post(app.url(path))
        .form(&[
            ("csrf_token", csrf_token(&page).as_str()),
            ("password", password),
            ("password_again", password),
        ])
        .send()
        .await
        .unwrap()
}

/// The rows of the first table body on a page.
fn table_body(html: &str) -> &str {
    between(html, "<tbody>", "</tbody>").unwrap_or_default()
}

async fn user_id(app: &TestApp, email: &str) -> Uuid {
    let mut conn = app.db.connect().await;
    tipsa::auth::accounts::find_by_email(&mut conn, email)
        .await
        .unwrap()
        .expect("the account")
        .id
}

#[tokio::test]
async fn an_invited_person_sets_a_password_with_the_link_shown_once_and_signs_in() {
    let app = spawn_app().await;
    let admin = admin(&app).await;

    let form = admin.get(&app, PEOPLE).await;
    assert_eq!(form.status(), 200);
    let form = form.text().await.unwrap();
    // Every team of the routing configuration is offered.
    for team in &app.state.triage.teams {
        assert!(form.contains(&format!("id=\"team-{}\"", team.code)));
    }

    let created = admin
        .post_form(
            &app,
            PEOPLE,
            PEOPLE,
            &[
                ("email", "Ny.Person@IVO.example"),
                ("display_name", "Nina Persson"),
                ("roles", "inspector"),
                ("teams", "syd"),
                ("language", "sv"),
            ],
        )
        .await;
    assert_eq!(created.status(), 200);
    assert_eq!(
        created
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store"),
        "a page with a secret is never cached"
    );
    let page = created.text().await.unwrap();
    let path = link_path(&shown_once(&page));
    let token = path.trim_start_matches("/inspektor/losenord/").to_owned();
    assert!(token.len() >= 40, "{token}");

    // The link is not shown again: not on the list, not on the person's page.
    let list = admin.get(&app, PEOPLE).await.text().await.unwrap();
    assert!(list.contains("Nina Persson") && list.contains("ny.person@ivo.example"));
    assert!(!list.contains(&token));
    let id = user_id(&app, "ny.person@ivo.example").await;
    let person_page = admin
        .get(&app, &format!("{PEOPLE}/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(!person_page.contains(&token));

    // The audit row says who was created by whom, never the link.
    assert_eq!(audit_count(&app, "create_user").await, 1);
    let (actor, detail) = last_detail(&app, "create_user").await;
    assert_eq!(actor, format!("user:{}", admin.id));
    assert!(detail.contains(&id.to_string()) && detail.contains("inspector"));
    assert!(!detail.contains(&token));

    // The invited person chooses the test password and signs in with a second factor.
    let set = set_password_with(&app, &path, PASSWORD).await;
    assert_eq!(set.status(), 200);
    assert_eq!(set.url().path(), "/inspektor/logga-in");
    let nina = people::first_sign_in(&app, id, "ny.person@ivo.example").await;
    let queue = nina.get(&app, "/inspektor").await;
    assert_eq!(queue.status(), 200);
    assert_eq!(queue.url().path(), "/inspektor");

    // The link works once.
    let again = people::browser_client()
        .get(app.url(&path))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 404);
}

#[tokio::test]
async fn a_bad_invitation_shows_field_errors_and_creates_nothing() {
    let app = spawn_app().await;
    let admin = admin(&app).await;

    let response = admin
        .post_form(
            &app,
            PEOPLE,
            PEOPLE,
            &[
                ("email", "inte-en-adress"),
                ("display_name", "  "),
                ("teams", "atlantis"),
                ("language", "de"),
            ],
        )
        .await;
    assert_eq!(response.status(), 422);
    let page = response.text().await.unwrap();
    for message in [
        "Skriv en giltig e-postadress.",
        "Skriv mellan 1 och 200 tecken.",
        "Okänt team.",
        "Ogiltigt val.",
    ] {
        assert!(page.contains(message), "{message} in {page}");
    }
    // Roles: none chosen.
    assert!(page.contains("id=\"roles-error\""));
    assert!(page.contains("id=\"email\" name=\"email\" value=\"inte-en-adress\""));
    assert!(page.contains("aria-invalid=\"true\""));
    assert_eq!(users_named(&app, "inte-en-adress").await, 0);
    assert_eq!(audit_count(&app, "create_user").await, 0);

    // An address that already has an account is refused on the email field.
    let taken = admin
        .post_form(
            &app,
            PEOPLE,
            PEOPLE,
            &[
                ("email", "admin@ivo.example"),
                ("display_name", "Någon annan"),
                ("roles", "analyst"),
                ("language", "en"),
            ],
        )
        .await;
    assert_eq!(taken.status(), 422);
    let page = taken.text().await.unwrap();
    assert!(page.contains("Det finns redan ett konto med den e-postadressen."));
    assert_eq!(users_named(&app, "admin@ivo.example").await, 1);
    assert_eq!(audit_count(&app, "create_user").await, 0);
}

#[tokio::test]
async fn moving_an_inspector_from_syd_to_nord_changes_the_tips_they_see() {
    let app = spawn_app().await;
    let (_, syd_ref) = tip_in(
        &app,
        "12",
        "1280",
        "Personalen på avdelningen räcker inte till på natten.",
    )
    .await;
    let (nord_tip, nord_ref) = tip_in(
        &app,
        "25",
        "2580",
        "Boende får inte hjälp med mat och dryck på kvällarna.",
    )
    .await;
    let anna = signed_in(&app, "anna@ivo.example", &["inspector"], &["syd"]).await;
    let before = anna.get(&app, "/inspektor").await.text().await.unwrap();
    assert!(before.contains(&syd_ref) && !before.contains(&nord_ref));

    let admin = admin(&app).await;
    let person = format!("{PEOPLE}/{}", anna.id);
    let saved = admin
        .post_form(
            &app,
            &person,
            &person,
            &[
                ("action", "roles"),
                ("roles", "inspector"),
                ("teams", "nord"),
            ],
        )
        .await;
    assert_eq!(saved.status(), 200);
    assert_eq!(saved.url().path(), person);
    let page = saved.text().await.unwrap();
    assert!(page.contains("Roller och team är sparade."));
    assert!(page.contains("id=\"team-nord\" name=\"teams\" value=\"nord\" checked"));

    // Her very next request sees nord's tips and no longer syd's.
    let after = anna.get(&app, "/inspektor").await.text().await.unwrap();
    assert!(after.contains(&nord_ref) && !after.contains(&syd_ref));
    assert_eq!(
        anna.get(&app, &format!("/inspektor/tips/{nord_tip}"))
            .await
            .status(),
        200
    );
    let (_, detail) = last_detail(&app, "change_user").await;
    let detail: serde_json::Value = serde_json::from_str(&detail).unwrap();
    assert_eq!(detail["before"]["teams"], json!(["syd"]));
    assert_eq!(detail["after"]["teams"], json!(["nord"]));

    // No role at all is a field error, and nothing changes.
    let refused = admin
        .post_form(
            &app,
            &person,
            &person,
            &[("action", "roles"), ("teams", "syd")],
        )
        .await;
    assert_eq!(refused.status(), 422);
    assert!(refused.text().await.unwrap().contains("id=\"roles-error\""));
    let still = anna.get(&app, "/inspektor").await.text().await.unwrap();
    assert!(still.contains(&nord_ref));

    // A person who does not exist is a 404, not an error.
    let missing = admin
        .get(&app, &format!("{PEOPLE}/{}", Uuid::now_v7()))
        .await;
    assert_eq!(missing.status(), 404);

    // An admin cannot take away their own admin role.
    let own = format!("{PEOPLE}/{}", admin.id);
    let refused = admin
        .post_form(
            &app,
            &own,
            &own,
            &[("action", "roles"), ("roles", "analyst")],
        )
        .await;
    assert_eq!(refused.status(), 422);
    assert_eq!(admin.get(&app, PEOPLE).await.status(), 200);
}

#[tokio::test]
async fn disabling_a_person_ends_their_sessions_and_an_admin_cannot_disable_themself() {
    let app = spawn_app().await;
    let anna = signed_in(&app, "anna@ivo.example", &["inspector"], &["syd"]).await;
    assert_eq!(
        anna.get(&app, "/inspektor").await.url().path(),
        "/inspektor"
    );
    let admin = admin(&app).await;
    let person = format!("{PEOPLE}/{}", anna.id);

    let disabled = admin
        .post_form(&app, &person, &person, &[("action", "disable")])
        .await;
    assert_eq!(disabled.status(), 200);
    assert!(
        disabled
            .text()
            .await
            .unwrap()
            .contains("Kontot är inaktiverat")
    );
    // Her session is gone, and her password no longer lets her in.
    let bounced = anna.get(&app, "/inspektor").await;
    assert_eq!(bounced.url().path(), "/inspektor/logga-in");
    let refused =
        people::post_password(&app, &people::browser_client(), &anna.email, PASSWORD).await;
    assert_eq!(refused.status(), 401);
    let list = admin.get(&app, PEOPLE).await.text().await.unwrap();
    assert!(list.contains("Inaktiverat"));

    // Enabled again, the password step leads to the code step.
    let enabled = admin
        .post_form(&app, &person, &person, &[("action", "enable")])
        .await;
    assert_eq!(enabled.status(), 200);
    let step = people::post_password(&app, &people::browser_client(), &anna.email, PASSWORD).await;
    assert!(
        step.url().path().ends_with("/logga-in/kod"),
        "{}",
        step.url()
    );
    assert_eq!(audit_count(&app, "change_user").await, 2);

    // Not oneself.
    let own = format!("{PEOPLE}/{}", admin.id);
    let refused = admin
        .post_form(&app, &own, &own, &[("action", "disable")])
        .await;
    assert_eq!(refused.status(), 409);
    assert_eq!(admin.get(&app, PEOPLE).await.status(), 200);
    assert_eq!(audit_count(&app, "change_user").await, 2);
}

#[tokio::test]
async fn resetting_the_second_factor_forces_enrolment_and_a_reset_link_sets_a_new_password() {
    let app = spawn_app().await;
    let anna = signed_in(&app, "anna@ivo.example", &["inspector"], &["syd"]).await;
    let admin = admin(&app).await;
    let person = format!("{PEOPLE}/{}", anna.id);

    let reset = admin
        .post_form(&app, &person, &person, &[("action", "reset_second_factor")])
        .await;
    assert_eq!(reset.status(), 200);
    let page = reset.text().await.unwrap();
    assert!(page.contains("Tvåstegsverifieringen är återställd."));
    assert!(
        between(&page, "<dt>Tvåstegsverifiering</dt><dd>", "</dd>") == Some("Av"),
        "{page}"
    );
    assert_eq!(
        anna.get(&app, "/inspektor").await.url().path(),
        "/inspektor/logga-in",
        "the reset ends her sessions"
    );
    let step = people::post_password(&app, &people::browser_client(), &anna.email, PASSWORD).await;
    assert!(
        step.url().path().ends_with("/tvastegsverifiering"),
        "{}",
        step.url()
    );

    // A password-reset link, shown once; with it she chooses a new password.
    let made = admin
        .post_form(&app, &person, &person, &[("action", "reset_password")])
        .await;
    assert_eq!(made.status(), 200);
    let path = link_path(&shown_once(&made.text().await.unwrap()));
    let (_, detail) = last_detail(&app, "change_user").await;
    assert!(detail.contains("password_reset_link"));
    assert!(!detail.contains(path.trim_start_matches("/inspektor/losenord/")));
    let new_password = "ett helt nytt lösenord för anna";
    let set = set_password_with(&app, &path, new_password).await;
    assert_eq!(set.url().path(), "/inspektor/logga-in");
    let old = people::post_password(&app, &people::browser_client(), &anna.email, PASSWORD).await;
    assert_eq!(old.status(), 401);
    let new =
        people::post_password(&app, &people::browser_client(), &anna.email, new_password).await;
    assert!(new.url().path().ends_with("/tvastegsverifiering"));

    // Logging out everywhere ends a live session.
    let bob = signed_in(&app, "bob@ivo.example", &["analyst"], &[]).await;
    assert_eq!(bob.get(&app, "/inspektor").await.status(), 403);
    let bob_page = format!("{PEOPLE}/{}", bob.id);
    let ended = admin
        .post_form(&app, &bob_page, &bob_page, &[("action", "logout")])
        .await;
    assert!(ended.text().await.unwrap().contains("utloggad överallt"));
    assert_eq!(
        bob.get(&app, "/inspektor").await.url().path(),
        "/inspektor/logga-in"
    );
}

#[tokio::test]
async fn an_api_key_created_on_the_page_works_and_a_revoked_one_is_refused() {
    let app = spawn_app_with(|s| s.auth.api_key_cache_seconds = 0).await;
    let admin = admin(&app).await;

    let refused = admin
        .post_form(&app, KEYS, KEYS, &[("name", "Utan behörighet")])
        .await;
    assert_eq!(refused.status(), 422);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("Välj minst en behörighet.")
    );
    assert_eq!(audit_count(&app, "create_api_key").await, 0);

    let created = admin
        .post_form(
            &app,
            KEYS,
            KEYS,
            &[("name", "E-tjänst Region Skåne"), ("scopes", "tips:submit")],
        )
        .await;
    assert_eq!(created.status(), 200);
    let token = shown_once(&created.text().await.unwrap());
    assert!(token.starts_with("tipsa_"), "{token}");
    let prefix = token[6..14].to_owned();

    let submitted = app.submit_with(&valid_tip(), &token, None).await;
    assert_eq!(submitted.status(), 201);
    // Only the scope it was given.
    let read = app
        .client
        .get(app.url("/api/v1/tips"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 403);

    let list = admin.get(&app, KEYS).await.text().await.unwrap();
    assert!(list.contains("E-tjänst Region Skåne") && list.contains(&prefix));
    assert!(!list.contains(&token), "the token is never shown again");
    assert!(list.contains("id=\"cache-note\""));
    let (_, detail) = last_detail(&app, "create_api_key").await;
    assert!(detail.contains(&prefix) && !detail.contains(&token));

    let revoke = format!("{KEYS}/{prefix}/aterkalla");
    let revoked = admin.post_form(&app, KEYS, &revoke, &[]).await;
    assert_eq!(revoked.status(), 200);
    assert!(
        revoked
            .text()
            .await
            .unwrap()
            .contains("Nyckeln är återkallad.")
    );
    let after = app.submit_with(&valid_tip(), &token, None).await;
    assert_eq!(after.status(), 401);
    assert_eq!(audit_count(&app, "revoke_api_key").await, 1);

    // Revoking it again finds no active key.
    let again = admin.post_form(&app, KEYS, &revoke, &[]).await;
    assert_eq!(again.status(), 404);
    assert_eq!(audit_count(&app, "revoke_api_key").await, 1);
}

#[tokio::test]
async fn the_configuration_page_shows_every_team_and_the_triage_version() {
    let app = spawn_app().await;
    let admin = admin(&app).await;
    let response = admin.get(&app, CONFIG).await;
    assert_eq!(response.status(), 200);
    let page = response.text().await.unwrap();
    let rules = &app.state.triage;
    assert!(page.contains(&rules.version));
    assert!(!rules.teams.is_empty());
    for team in &rules.teams {
        assert!(
            page.contains(&format!("<code>{}</code>", team.code)),
            "{}",
            team.code
        );
        assert!(page.contains(&team.name));
        for address in &team.notify {
            assert!(page.contains(address.as_str()), "{address}");
        }
        for region in &team.regions {
            assert!(page.contains(&app.state.taxonomy.region_name(region)));
        }
    }
    for rule in &rules.base {
        assert!(page.contains(&rule.name), "{}", rule.name);
    }
    for term in &rules.urgency {
        assert!(page.contains(&term.name), "{}", term.name);
    }
    assert!(page.contains(&format!("({})</strong>", rules.fallback_team)));
    // In English on request.
    let english = admin
        .post_form(
            &app,
            CONFIG,
            "/inspektor/sprak",
            &[("language", "en"), ("back", CONFIG)],
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(english.contains("Routing to teams"), "{english}");
}

#[tokio::test]
async fn the_audit_log_lists_newest_first_filters_and_pages() {
    let app = spawn_app().await;
    let (tip, _) = tip_in(
        &app,
        "12",
        "1280",
        "Personalen på avdelningen räcker inte till på natten.",
    )
    .await;
    let anna = signed_in(&app, "anna@ivo.example", &["inspector"], &["syd"]).await;
    assert_eq!(
        anna.get(&app, &format!("/inspektor/tips/{tip}"))
            .await
            .status(),
        200
    );
    let admin = admin(&app).await;
    admin
        .post_form(
            &app,
            KEYS,
            KEYS,
            &[("name", "Statistik"), ("scopes", "stats:read")],
        )
        .await;

    let page = admin.get(&app, AUDIT).await.text().await.unwrap();
    let rows = table_body(&page);
    // Newest first: the key was created after the tip was read.
    let key_at = rows.find("Skapade API-nyckel").expect("the key row");
    let view_at = rows.find("Läste tips").expect("the view row");
    assert!(key_at < view_at);
    // The actor reads as the person, the tip links to its page.
    assert!(rows.contains("anna@ivo.example (anna@ivo.example)"));
    assert!(rows.contains(&format!("href=\"/inspektor/tips/{tip}\"")));

    let by_action = admin
        .get(&app, &format!("{AUDIT}?action=create_api_key"))
        .await
        .text()
        .await
        .unwrap();
    let rows = table_body(&by_action);
    assert!(rows.contains("Skapade API-nyckel") && !rows.contains("Läste tips"));

    let by_actor = admin
        .get(&app, &format!("{AUDIT}?actor=anna%40ivo.example"))
        .await
        .text()
        .await
        .unwrap();
    let rows = table_body(&by_actor);
    assert!(rows.contains("Läste tips") && !rows.contains("Skapade API-nyckel"));

    let by_tip = admin
        .get(&app, &format!("{AUDIT}?tip={tip}"))
        .await
        .text()
        .await
        .unwrap();
    let rows = table_body(&by_tip);
    assert!(rows.contains("Läste tips") && !rows.contains("Inloggning"));

    let bad = admin.get(&app, &format!("{AUDIT}?tip=inte-ett-id")).await;
    assert_eq!(bad.status(), 422);

    // Sixty more rows: fifty on the first page, the rest behind "older".
    let mut conn = app.db.connect().await;
    for n in 0..60 {
        audit::record(
            &mut conn,
            &app.state.crypto,
            &audit::Entry {
                actor: "cli:test",
                action: AuditAction::Export,
                tip_id: None,
                detail: json!({ "n": n }),
                request_id: None,
            },
        )
        .await
        .unwrap();
    }
    drop(conn);
    let first = admin
        .get(&app, &format!("{AUDIT}?actor=cli%3Atest"))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(table_body(&first).matches("<th scope=\"row\">").count(), 50);
    assert!(table_body(&first).contains("{&#34;n&#34;:59}"));
    let older = between(&first, "<a href=\"", "\" rel=\"next\"")
        .map(|href| {
            href.rsplit("<a href=\"")
                .next()
                .unwrap_or(href)
                .replace("&#38;", "&")
        })
        .expect("an older link");
    assert!(older.contains("before="), "{older}");
    let second = admin.get(&app, &older).await.text().await.unwrap();
    assert_eq!(
        table_body(&second).matches("<th scope=\"row\">").count(),
        10
    );
    assert!(table_body(&second).contains("{&#34;n&#34;:0}"));
    assert!(!second.contains("rel=\"next\""));
}

/// A POST route and the form that would change something there.
type Post = (String, Vec<(&'static str, &'static str)>);

/// Every admin GET route, and every POST route with a form that would change something.
fn admin_routes(target: Uuid, prefix: &str) -> (Vec<String>, Vec<Post>) {
    let gets = vec![
        "/inspektor/admin".to_owned(),
        PEOPLE.to_owned(),
        format!("{PEOPLE}/{target}"),
        KEYS.to_owned(),
        CONFIG.to_owned(),
        AUDIT.to_owned(),
        "/inspektor/admin/utskick".to_owned(),
    ];
    let posts = vec![
        (
            PEOPLE.to_owned(),
            vec![
                ("email", "intrang@ivo.example"),
                ("display_name", "Intrång"),
                ("roles", "admin"),
                ("language", "sv"),
            ],
        ),
        (format!("{PEOPLE}/{target}"), vec![("action", "disable")]),
        (
            KEYS.to_owned(),
            vec![("name", "Intrång"), ("scopes", "tips:read")],
        ),
        (format!("{KEYS}/{prefix}/aterkalla"), vec![]),
    ];
    (gets, posts)
}

#[tokio::test]
async fn other_roles_get_403_on_every_admin_route() {
    let app = spawn_app().await;
    let target = people::create_person(&app, "target@ivo.example", &["inspector"], &["syd"]).await;
    let prefix = app.token[6..14].to_owned();
    let (gets, posts) = admin_routes(target, &prefix);
    let inspector = signed_in(&app, "insp@ivo.example", &["inspector"], &["syd"]).await;
    let analyst = signed_in(&app, "analys@ivo.example", &["analyst"], &[]).await;
    let lead = signed_in(&app, "lead@ivo.example", &["triage_lead"], &[]).await;
    for (person, name) in [
        (&inspector, "inspector"),
        (&analyst, "analyst"),
        (&lead, "triage_lead"),
    ] {
        for path in &gets {
            let response = person.get(&app, path).await;
            // The policy lets triage leads read the configuration (and so the overview,
            // which then links to that section only).
            let allowed = name == "triage_lead" && (path == CONFIG || path == "/inspektor/admin");
            let expected = if allowed { 200 } else { 403 };
            assert_eq!(response.status(), expected, "{name} GET {path}");
            if !allowed {
                assert!(response.text().await.unwrap().contains("Ingen behörighet"));
            }
        }
        for (path, fields) in &posts {
            let response = person
                .post_form(&app, "/inspektor/admin", path, fields)
                .await;
            assert_eq!(response.status(), 403, "{name} POST {path}");
            assert!(response.text().await.unwrap().contains("Ingen behörighet"));
        }
    }
    let overview = lead
        .get(&app, "/inspektor/admin")
        .await
        .text()
        .await
        .unwrap();
    assert!(overview.contains(CONFIG) && !overview.contains(PEOPLE) && !overview.contains(KEYS));

    // Nothing changed.
    assert_eq!(users_named(&app, "intrang@ivo.example").await, 0);
    assert_eq!(
        count(
            &app,
            "SELECT count(*) AS n FROM api_keys WHERE name = $1",
            "Intrång"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) AS n FROM api_keys WHERE prefix = $1 AND revoked_at IS NULL",
            &prefix
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) AS n FROM users WHERE email = $1 AND active",
            "target@ivo.example"
        )
        .await,
        1
    );

    // Without a session: to the login page.
    let anonymous = people::manual_client()
        .get(app.url(PEOPLE))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 303);
}

#[tokio::test]
async fn every_admin_post_without_a_csrf_token_is_refused() {
    let app = spawn_app().await;
    let target = people::create_person(&app, "target@ivo.example", &["inspector"], &["syd"]).await;
    let prefix = app.token[6..14].to_owned();
    let admin = admin(&app).await;
    let (_, posts) = admin_routes(target, &prefix);
    for (path, fields) in &posts {
        let missing = admin
            .client
            .post(app.url(path))
            .form(fields)
            .send()
            .await
            .unwrap();
        assert_eq!(missing.status(), 403, "POST {path} without a token");
        assert!(
            missing
                .text()
                .await
                .unwrap()
                .contains("Formuläret kunde inte skickas")
        );
        let mut wrong = fields.clone();
        wrong.push(("csrf_token", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
        let wrong = admin
            .client
            .post(app.url(path))
            .form(&wrong)
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), 403, "POST {path} with a wrong token");
    }
    assert_eq!(users_named(&app, "intrang@ivo.example").await, 0);
    assert_eq!(
        count(
            &app,
            "SELECT count(*) AS n FROM api_keys WHERE prefix = $1 AND revoked_at IS NULL",
            &prefix
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) AS n FROM users WHERE email = $1 AND active",
            "target@ivo.example"
        )
        .await,
        1
    );
    assert_eq!(audit_count(&app, "create_user").await, 0);

    // The same forms with the page's token do go through (so the refusals above were CSRF).
    let revoke = format!("{KEYS}/{prefix}/aterkalla");
    let revoked = admin.post_form(&app, KEYS, &revoke, &[]).await;
    assert_eq!(revoked.status(), 200);
    assert_eq!(audit_count(&app, "revoke_api_key").await, 1);
}

/// A notification that gave up shows on the admin page; "try again" puts it back in the queue
/// and writes an audit row.
#[tokio::test]
async fn a_dead_notification_is_listed_and_retried_from_the_admin_page() {
    let app = spawn_app().await;
    let mut body = valid_tip();
    body["description"] = json!("En boende har uttryckt självmordstankar flera nätter i rad.");
    body["ongoing"] = json!(true);
    let created: serde_json::Value = app.submit(&body).await.json().await.unwrap();
    let reference = created["reference"].as_str().unwrap().to_owned();
    let mut conn = app.db.connect().await;
    let dead = diesel::sql_query(
        "UPDATE notification_jobs SET state = 'dead', attempts = 10, \
         last_error = '550 mailbox unavailable' WHERE kind = 'urgent_tip'",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    assert_eq!(dead, 1, "an urgent tip enqueued one urgent notification");

    let admin = signed_in(&app, "admin@ivo.example", &["admin"], &[]).await;
    let page = admin
        .get(&app, "/inspektor/admin/utskick")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&reference) && page.contains("550 mailbox unavailable"),
        "{page}"
    );
    let action = format!(
        "/inspektor/admin/utskick/{}",
        between(&page, "action=\"/inspektor/admin/utskick/", "\"").unwrap()
    );
    let retried = admin
        .client
        .post(app.url(&action))
        .form(&[("csrf_token", csrf_token(&page).as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(retried.status(), 200);
    let page = retried.text().await.unwrap();
    assert!(!page.contains("550 mailbox unavailable"), "no longer dead");
    assert_eq!(
        count(
            &app,
            "SELECT count(*) AS n FROM notification_jobs WHERE state = $1",
            "pending"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) AS n FROM audit_log WHERE action = $1",
            "retry_notification"
        )
        .await,
        1
    );
    // Other roles may not.
    let lead = signed_in(&app, "lead@ivo.example", &["triage_lead"], &[]).await;
    assert_eq!(
        lead.get(&app, "/inspektor/admin/utskick").await.status(),
        403
    );
}
