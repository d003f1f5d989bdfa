//! Single sign-on over plain HTTP against a real OpenID provider (oidc-provider): accounts
//! created and kept in step with the provider's groups, key rotation followed, the provider
//! down, break-glass local sign-in, RP-initiated logout, the local sign-in flag. Refused
//! sign-ins are in `sso_refused`.

use diesel::sql_types::{Text, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use reqwest::StatusCode;
use tipsa::config::LocalLogin;

use crate::helpers::TestApp;
use crate::inspector::tip_in;
use crate::people::{self, csrf_token};
use crate::sso_provider::{self, IdpUser, client, refresh_target, sign_in};

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

pub async fn count(app: &TestApp, sql: &str, bind: &str) -> i64 {
    let mut conn = app.db.connect().await;
    diesel::sql_query(sql)
        .bind::<Text, _>(bind)
        .get_result::<Count>(&mut conn)
        .await
        .unwrap()
        .n
}

#[derive(diesel::QueryableByName)]
pub struct AccountRow {
    #[diesel(sql_type = SqlUuid)]
    pub id: uuid::Uuid,
    #[diesel(sql_type = Text)]
    pub roles: String,
    #[diesel(sql_type = Text)]
    pub teams: String,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    pub local_login_allowed: bool,
}

pub async fn account(app: &TestApp, email: &str) -> AccountRow {
    let mut conn = app.db.connect().await;
    diesel::sql_query(
        "SELECT u.id, array_to_string(u.roles, ',') AS roles, u.local_login_allowed,
                coalesce((SELECT string_agg(team, ',' ORDER BY team) FROM user_teams t
                          WHERE t.user_id = u.id), '') AS teams
         FROM users u WHERE email = $1",
    )
    .bind::<Text, _>(email)
    .get_result(&mut conn)
    .await
    .unwrap()
}

pub async fn audit_count(app: &TestApp, action: &str) -> i64 {
    count(
        app,
        "SELECT count(*) AS n FROM audit_log WHERE action = $1",
        action,
    )
    .await
}

/// Tipsa's page for a refused sign-in: its status and text.
pub async fn refused(response: reqwest::Response, status: StatusCode, text: &str) {
    assert_eq!(response.status(), status, "{}", response.url());
    let page = response.text().await.unwrap();
    assert!(page.contains(text), "{text:?} in {page}");
}

pub fn anna() -> IdpUser {
    IdpUser::new("anna-sub-0001", "anna@ivo.example", &["tipsa-syd"])
}

#[tokio::test]
async fn the_first_sign_in_creates_the_account_with_the_mapped_roles_and_teams() {
    let site = sso_provider::start(vec![anna()], |_| {}).await;
    let app = &site.app;
    let (_, syd_ref) = tip_in(
        app,
        "12",
        "1280",
        "Personalen räcker inte till på natten här.",
    )
    .await;
    let (_, ost_ref) = tip_in(
        app,
        "01",
        "0180",
        "Läkemedel delas ut utan kontroll på boendet.",
    )
    .await;

    let browser = client();
    let done = sign_in(&site, &browser).await;
    let status = done.status();
    let page = done.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(refresh_target(&page), "/inspektor");

    let created = account(app, "anna@ivo.example").await;
    assert_eq!(created.roles, "inspector");
    assert_eq!(created.teams, "syd");
    assert!(
        !created.local_login_allowed,
        "no local password for an SSO account"
    );
    let identities = count(
        app,
        "SELECT count(*) AS n FROM user_identities WHERE subject = $1",
        "anna-sub-0001",
    )
    .await;
    assert_eq!(identities, 1);
    assert_eq!(audit_count(app, "create_user").await, 1);
    assert_eq!(audit_count(app, "sso_login").await, 1);

    let queue = browser.get(app.url("/inspektor")).send().await.unwrap();
    assert_eq!(
        queue.status(),
        StatusCode::OK,
        "a full session: no second step"
    );
    let queue = queue.text().await.unwrap();
    assert!(queue.contains(&syd_ref), "the mapped team's tip is listed");
    assert!(!queue.contains(&ost_ref), "another team's tip is not");
    assert!(
        queue.contains("Person anna-sub-0001"),
        "the provider's name"
    );
}

#[tokio::test]
async fn a_changed_group_takes_effect_at_the_next_sign_in_and_no_group_is_refused() {
    let mut site = sso_provider::start(vec![anna()], |_| {}).await;
    let (_, syd_ref) = tip_in(
        &site.app,
        "12",
        "1280",
        "Personalen räcker inte till på natten här.",
    )
    .await;
    let (_, ost_ref) = tip_in(
        &site.app,
        "01",
        "0180",
        "Läkemedel delas ut utan kontroll på boendet.",
    )
    .await;
    let first = client();
    assert_eq!(sign_in(&site, &first).await.status(), StatusCode::OK);

    site.idp
        .set_groups("anna-sub-0001", &["tipsa-ost", "tipsa-triage"]);
    let second = client();
    assert_eq!(sign_in(&site, &second).await.status(), StatusCode::OK);
    let changed = account(&site.app, "anna@ivo.example").await;
    assert_eq!(changed.roles, "inspector,triage_lead");
    assert_eq!(changed.teams, "ost");
    assert_eq!(audit_count(&site.app, "sso_mapping_changed").await, 1);
    let queue = second.get(site.app.url("/inspektor")).send().await.unwrap();
    let queue = queue.text().await.unwrap();
    assert!(
        queue.contains(&ost_ref) && queue.contains(&syd_ref),
        "a triage lead sees both"
    );

    site.idp.set_groups("anna-sub-0001", &["tipsa-ost"]);
    let third = client();
    assert_eq!(sign_in(&site, &third).await.status(), StatusCode::OK);
    let queue = third.get(site.app.url("/inspektor")).send().await.unwrap();
    let queue = queue.text().await.unwrap();
    assert!(queue.contains(&ost_ref) && !queue.contains(&syd_ref));

    site.idp.set_groups("anna-sub-0001", &["some-other-system"]);
    let fourth = client();
    refused(
        sign_in(&site, &fourth).await,
        StatusCode::FORBIDDEN,
        "no access to Tipsa",
    )
    .await;
    for earlier in [&first, &second, &third, &fourth] {
        let page = earlier
            .get(site.app.url("/inspektor"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            page.status(),
            StatusCode::SEE_OTHER,
            "every session has ended"
        );
    }
    assert_eq!(audit_count(&site.app, "sso_login_refused").await, 1);
    let still = account(&site.app, "anna@ivo.example").await;
    assert_eq!(still.teams, "ost", "a refused sign-in changes nothing");
}

#[tokio::test]
async fn key_rotation_at_the_provider_is_followed() {
    let mut site = sso_provider::start(vec![anna()], |_| {}).await;
    assert_eq!(sign_in(&site, &client()).await.status(), StatusCode::OK);
    site.idp.rotate_keys("key-2");
    let after = sign_in(&site, &client()).await;
    assert_eq!(after.status(), StatusCode::OK, "signed with the new key");
    assert_eq!(audit_count(&site.app, "sso_login").await, 2);
}

#[tokio::test]
async fn the_cli_turns_an_accounts_local_sign_in_off_and_on() {
    use crate::cli_accounts::{run, temp_dir, tipsa};
    let site = sso_provider::start(vec![anna()], |_| {}).await;
    let app = &site.app;
    people::create_person(app, "bo@ivo.example", &["inspector"], &["syd"]).await;
    let var = temp_dir("local-login");
    let set = |state: &str| {
        run(tipsa(&app.db.url, &var).args(["user", "set-local-login", "bo@ivo.example", state]))
    };
    let (ok, _, stderr) = set("off");
    assert!(ok, "{stderr}");
    let refused_local = people::post_password(
        app,
        &people::browser_client(),
        "bo@ivo.example",
        people::PASSWORD,
    )
    .await;
    assert_eq!(refused_local.status(), StatusCode::FORBIDDEN);
    assert!(!account(app, "bo@ivo.example").await.local_login_allowed);

    let (ok, _, stderr) = set("on");
    assert!(ok, "{stderr}");
    let allowed = people::post_password(
        app,
        &people::browser_client(),
        "bo@ivo.example",
        people::PASSWORD,
    )
    .await;
    assert_eq!(allowed.status(), StatusCode::OK);
    assert!(
        allowed.url().path().ends_with("/tvastegsverifiering"),
        "{}",
        allowed.url()
    );
    assert_eq!(audit_count(app, "change_user").await, 2);
    assert!(!set("maybe").0, "only on or off");
}

#[tokio::test]
async fn with_the_provider_down_the_page_says_so_and_break_glass_sign_in_still_works() {
    let mut site = sso_provider::start(vec![anna()], |settings| {
        settings.auth.oidc.local_login = LocalLogin::BreakGlassOnly;
        settings.auth.oidc.break_glass_accounts = vec!["Admin@IVO.example".into()];
    })
    .await;
    // Down in the middle of a sign-in: the code cannot be exchanged.
    let browser = client();
    let url = sso_provider::callback_url(&site, &browser).await;
    site.idp.stop();
    refused(
        sso_provider::open(&browser, &url).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "cannot be reached",
    )
    .await;

    let login = reqwest::get(site.app.url("/inspektor/logga-in?lang=en"))
        .await
        .unwrap();
    let page = login.text().await.unwrap();
    assert!(page.contains("Sign in with the test authority"), "{page}");
    assert!(
        !page.contains("id=\"password\""),
        "no password form for everyone"
    );
    assert!(page.contains("lokal=1"), "the break-glass link");
    let local = reqwest::get(site.app.url("/inspektor/logga-in?lang=en&lokal=1"))
        .await
        .unwrap();
    assert!(local.text().await.unwrap().contains("id=\"password\""));

    let admin = people::signed_in(&site.app, "admin@ivo.example", &["admin"], &[]).await;
    let home = admin.get(&site.app, "/inspektor/admin").await;
    assert_eq!(
        home.status(),
        StatusCode::OK,
        "break-glass admin signed in locally"
    );

    people::create_person(&site.app, "cecilia@ivo.example", &["inspector"], &["syd"]).await;
    let other = people::browser_client();
    let refused_local =
        people::post_password(&site.app, &other, "cecilia@ivo.example", people::PASSWORD).await;
    assert_eq!(refused_local.status(), StatusCode::FORBIDDEN);
    assert!(
        refused_local
            .text()
            .await
            .unwrap()
            .contains("Tipsa-lösenord")
    );
}

#[tokio::test]
async fn a_provider_never_reached_gives_a_503_page_with_the_break_glass_link() {
    let mut site = sso_provider::start(vec![anna()], |settings| {
        settings.auth.oidc.local_login = LocalLogin::BreakGlassOnly;
    })
    .await;
    site.idp.stop();
    let start = client()
        .get(site.app.url("/inspektor/sso/idp?next=/inspektor&lang=en"))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), StatusCode::SERVICE_UNAVAILABLE);
    let page = start.text().await.unwrap();
    assert!(
        page.contains("cannot be reached") && page.contains("lokal=1"),
        "{page}"
    );
    let unknown = client()
        .get(site.app.url("/inspektor/sso/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn logging_out_continues_to_the_providers_end_session_endpoint() {
    let site = sso_provider::start(vec![anna()], |_| {}).await;
    let browser = client();
    assert_eq!(sign_in(&site, &browser).await.status(), StatusCode::OK);
    let queue = browser
        .get(site.app.url("/inspektor"))
        .send()
        .await
        .unwrap();
    let token = csrf_token(&queue.text().await.unwrap());
    let out = browser
        .post(site.app.url("/inspektor/logga-ut"))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::OK);
    let target = refresh_target(&out.text().await.unwrap());
    let url = reqwest::Url::parse(&target).unwrap();
    assert!(
        target.starts_with(&format!("{}/session/end", site.idp.issuer)),
        "{target}"
    );
    assert!(
        url.query_pairs()
            .any(|(k, v)| k == "id_token_hint" && v.starts_with("eyJ"))
    );
    assert!(
        url.query_pairs()
            .any(|(k, v)| k == "post_logout_redirect_uri"
                && v == site.app.url("/inspektor/logga-in?ut=1")),
        "{target}"
    );
    let at_provider = browser.get(url).send().await.unwrap();
    assert_eq!(
        at_provider.status(),
        StatusCode::OK,
        "the provider accepts the hint"
    );
    assert!(at_provider.text().await.unwrap().contains("sign-out"));
    let after = browser
        .get(site.app.url("/inspektor"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        after.status(),
        StatusCode::SEE_OTHER,
        "the Tipsa session has ended"
    );
    assert_eq!(
        count(
            &site.app,
            "SELECT count(*) AS n FROM sso_sessions WHERE provider = $1",
            "idp"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn an_existing_account_linked_with_the_cli_is_the_one_the_provider_signs_in() {
    use crate::cli_accounts::{run, temp_dir, tipsa};
    let bo = IdpUser::new("bo-sub-0002", "bo.berg@region.example", &["tipsa-ost"]);
    let mut site = sso_provider::start(vec![anna(), bo], |_| {}).await;
    let app = &site.app;
    let local = people::create_person(app, "bo@ivo.example", &["analyst"], &[]).await;
    let var = temp_dir("link-identity");
    // The CLI reads the provider from its configuration directory.
    let config = var.join("no-config");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("local.toml"),
        format!(
            "[[auth.oidc.providers]]\nid = \"idp\"\ndisplay_name_sv = \"x\"\ndisplay_name_en = \"x\"\nissuer = \"{}\"\nclient_id = \"{}\"\n",
            site.idp.issuer,
            sso_provider::CLIENT_ID
        ),
    )
    .unwrap();
    let link = |subject: &str| {
        run(tipsa(&app.db.url, &var).args([
            "user",
            "link-identity",
            "bo@ivo.example",
            "--provider",
            "idp",
            "--subject",
            subject,
        ]))
    };
    let (ok, _, stderr) = link("bo-sub-0002");
    assert!(ok, "{stderr}");
    assert!(
        !link("bo-sub-0002").0,
        "an identity links to one account only"
    );

    site.idp.sign_in_as("bo-sub-0002");
    assert_eq!(sign_in(&site, &client()).await.status(), StatusCode::OK);
    let linked = account(app, "bo@ivo.example").await;
    assert_eq!(linked.id, local, "the existing account, not a new one");
    assert_eq!(
        (linked.roles.as_str(), linked.teams.as_str()),
        ("inspector", "ost")
    );
    let by_new_email = count(
        app,
        "SELECT count(*) AS n FROM users WHERE email = $1",
        "bo.berg@region.example",
    )
    .await;
    assert_eq!(by_new_email, 0);
}
