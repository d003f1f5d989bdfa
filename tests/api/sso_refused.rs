//! Refused single sign-ons against the real provider: tampered ID tokens (another key, an
//! unknown key id, another audience, expired, another nonce, a replayed genuine token), replayed,
//! foreign and wrong callbacks, a used code, the provider's own refusal, MFA and acr
//! requirements, disabled and unlinked accounts; and logs without codes, states or tokens.

use reqwest::StatusCode;

use crate::helpers::CapturedLogs;
use crate::people;
use crate::sso::{account, anna, audit_count, count, refused};
use crate::sso_provider::{self, IdpUser, client, sign_in};

#[tokio::test]
async fn tampered_id_tokens_are_refused_and_real_ones_then_work() {
    let mut site = sso_provider::start(vec![anna()], |_| {}).await;
    for (mode, reason) in [
        ("foreign_key", "signature"),
        ("unknown_kid", "unknown key"),
        ("wrong_audience", "audience"),
        ("expired", "expired or issued at a wrong time"),
        ("wrong_nonce", "nonce"),
    ] {
        site.idp.tamper(Some(mode));
        let browser = client();
        let response = sign_in(&site, &browser).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{mode}");
        let page = response.text().await.unwrap();
        assert!(page.contains("could not be verified"), "{mode}: {page}");
        let session = browser
            .get(site.app.url("/inspektor"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            session.status(),
            StatusCode::SEE_OTHER,
            "{mode}: no session"
        );
        let logged = format!("the ID token was not accepted ({reason})");
        assert!(
            CapturedLogs::global().text().contains(&logged),
            "{mode}: refused by the {reason} check"
        );
    }
    let accounts = count(
        &site.app,
        "SELECT count(*) AS n FROM users WHERE email = $1",
        "anna@ivo.example",
    )
    .await;
    assert_eq!(accounts, 0, "no account from a refused token");
    assert!(
        CapturedLogs::global()
            .text()
            .contains("fetched the provider's signing keys again"),
        "an unknown key id fetches the keys once more"
    );

    site.idp.tamper(None);
    assert_eq!(sign_in(&site, &client()).await.status(), StatusCode::OK);
    // The genuine token of that sign-in, replayed at the next: its nonce is not this one's.
    site.idp.tamper(Some("replay_previous"));
    refused(
        sign_in(&site, &client()).await,
        StatusCode::UNAUTHORIZED,
        "could not be verified",
    )
    .await;
    site.idp.tamper(None);
    assert_eq!(sign_in(&site, &client()).await.status(), StatusCode::OK);
    assert_eq!(audit_count(&site.app, "sso_login_refused").await, 6);
    assert_eq!(audit_count(&site.app, "sso_login").await, 2);
}

#[tokio::test]
async fn replayed_foreign_and_wrong_callbacks_are_refused() {
    let site = sso_provider::start(vec![anna()], |_| {}).await;
    let browser = client();
    let url = sso_provider::callback_url(&site, &browser).await;
    // Another browser (with a sign-in of its own under way) opening this browser's callback
    // URL (login CSRF): refused, and the sign-in stays usable for the browser that started it.
    let other = client();
    sso_provider::callback_url(&site, &other).await;
    refused(
        sso_provider::open(&other, &url).await,
        StatusCode::BAD_REQUEST,
        "could not be matched",
    )
    .await;
    assert_eq!(
        sso_provider::open(&browser, &url).await.status(),
        StatusCode::OK
    );
    // The same callback again: the state is used up.
    refused(
        sso_provider::open(&browser, &url).await,
        StatusCode::BAD_REQUEST,
        "could not be matched",
    )
    .await;

    // A used code with a fresh, valid state: the provider refuses the code.
    let fresh = sso_provider::callback_url(&site, &browser).await;
    let state = pair(&fresh, "state");
    let mut reused = url.clone();
    reused.set_query(Some(&format!("code={}&state={state}", pair(&url, "code"))));
    refused(
        sso_provider::open(&browser, &reused).await,
        StatusCode::BAD_REQUEST,
        "could not be matched",
    )
    .await;

    // A wrong state, no state, and the provider's own refusal.
    let mut wrong = fresh.clone();
    wrong.set_query(Some(&format!(
        "code={}&state=not-the-state",
        pair(&fresh, "code")
    )));
    refused(
        sso_provider::open(&browser, &wrong).await,
        StatusCode::BAD_REQUEST,
        "could not be matched",
    )
    .await;
    let path = format!("/inspektor/sso/{}/callback", sso_provider::PROVIDER);
    let none = browser.get(site.app.url(&path)).send().await.unwrap();
    refused(none, StatusCode::BAD_REQUEST, "could not be matched").await;
    let denied_flow = sso_provider::callback_url(&site, &browser).await;
    let denied = browser
        .get(site.app.url(&format!(
            "{path}?error=access_denied&state={}",
            pair(&denied_flow, "state")
        )))
        .send()
        .await
        .unwrap();
    refused(denied, StatusCode::FORBIDDEN, "did not let you sign in").await;
    assert_eq!(
        count(
            &site.app,
            "SELECT count(*) AS n FROM sso_flows WHERE provider = $1",
            "idp"
        )
        .await,
        1,
        "every flow taken back is gone; the other browser's is left"
    );

    let logs = CapturedLogs::global().text();
    for secret in [
        pair(&url, "code"),
        pair(&url, "state"),
        pair(&fresh, "code"),
    ] {
        assert!(!logs.contains(&secret), "a code or state in the logs");
    }
    assert!(!logs.contains("eyJhbGci"), "a JWT in the logs");
}

fn pair(url: &reqwest::Url, name: &str) -> String {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("{name} in {url}"))
}

#[tokio::test]
async fn multi_factor_is_required_when_configured() {
    let mut site = sso_provider::start(vec![anna()], |_| {}).await;
    site.idp.set_amr("anna-sub-0001", &["pwd"]);
    refused(
        sign_in(&site, &client()).await,
        StatusCode::FORBIDDEN,
        "stronger sign-in",
    )
    .await;
    site.idp.set_amr("anna-sub-0001", &["pwd", "mfa"]);
    assert_eq!(sign_in(&site, &client()).await.status(), StatusCode::OK);

    // An acr requirement the provider's sign-in does not meet (it names no acr).
    let strict = sso_provider::start(vec![anna()], |settings| {
        settings.auth.oidc.providers[0].required_acr = vec!["urn:tipsa:test:loa3".into()];
    })
    .await;
    refused(
        sign_in(&strict, &client()).await,
        StatusCode::FORBIDDEN,
        "stronger sign-in",
    )
    .await;
}

#[tokio::test]
async fn disabled_and_unlinked_accounts_are_refused() {
    let mut site = sso_provider::start(
        vec![
            anna(),
            IdpUser::new("bo-sub-0002", "bo@ivo.example", &["tipsa-syd"]),
        ],
        |_| {},
    )
    .await;
    assert_eq!(sign_in(&site, &client()).await.status(), StatusCode::OK);
    let anna_id = account(&site.app, "anna@ivo.example").await.id;
    let mut conn = site.app.db.connect().await;
    tipsa::auth::accounts::set_active(&mut conn, anna_id, false)
        .await
        .unwrap();
    refused(
        sign_in(&site, &client()).await,
        StatusCode::FORBIDDEN,
        "disabled",
    )
    .await;

    // A local account with Bo's address is not taken over by the provider's Bo.
    people::create_person(&site.app, "bo@ivo.example", &["analyst"], &[]).await;
    site.idp.sign_in_as("bo-sub-0002");
    refused(
        sign_in(&site, &client()).await,
        StatusCode::CONFLICT,
        "not linked",
    )
    .await;
    let bo = account(&site.app, "bo@ivo.example").await;
    assert_eq!(bo.roles, "analyst", "the local account is unchanged");
    assert!(bo.local_login_allowed);
}
