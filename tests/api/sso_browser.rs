//! Single sign-on in headless Chromium against the real OpenID provider: "Sign in with …" on
//! the login page, through the provider and back into the queue (the SameSite=Strict session
//! cookie arrives), logout on to the provider's end-session page; axe-core finds nothing on the
//! login page with providers, the break-glass form and the error pages.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::browser::Browser;
use crate::sso_provider::{self, IdpUser};

async fn assert_no_violations(browser: &Browser, page: &str, report: &mut Vec<String>) {
    let violations = browser.axe_violations().await;
    if !violations.is_empty() {
        report.push(format!("{page}: {}", Value::Array(violations)));
    }
}

/// Waits until the browser shows a page whose URL starts with `prefix` (after redirects and
/// meta refreshes), fully loaded.
async fn wait_for_url(browser: &Browser, prefix: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let url = browser.client.current_url().await.unwrap().to_string();
        let ready = browser
            .client
            .execute("return document.readyState;", vec![])
            .await
            .unwrap_or(Value::Null);
        if url.starts_with(prefix) && ready == "complete" {
            return url;
        }
        assert!(
            Instant::now() < deadline,
            "still at {url}, waiting for {prefix}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inspector_signs_in_with_the_provider_and_out_again_in_the_browser() {
    let mut site = sso_provider::start(
        vec![IdpUser::new(
            "anna-sub-0001",
            "anna@ivo.example",
            &["tipsa-syd"],
        )],
        |settings| {
            settings.auth.oidc.local_login = tipsa::config::LocalLogin::BreakGlassOnly;
            settings.auth.oidc.break_glass_accounts = vec!["admin@ivo.example".into()];
        },
    )
    .await;
    let app = &site.app;
    let browser = Browser::start(true).await;
    let mut violations = Vec::new();

    browser.goto(&app.url("/inspektor")).await;
    assert!(browser.exists(".sso-providers a").await, "a sign-in button");
    assert!(
        !browser.exists("#password").await,
        "break-glass only: no password form"
    );
    assert_no_violations(&browser, "login with a provider", &mut violations).await;
    browser.screenshot("sso-login.png").await;
    browser.goto(&app.url("/inspektor/logga-in?lokal=1")).await;
    assert!(browser.exists("#password").await, "the break-glass form");
    assert_no_violations(&browser, "break-glass login", &mut violations).await;

    // Down before Tipsa ever reached it: a page that says so, with the break-glass link.
    site.idp.stop();
    browser.goto(&app.url("/inspektor/logga-in")).await;
    browser.navigate_by(".sso-providers a").await;
    assert!(
        browser.exists("main a[href*='lokal=1']").await,
        "the break-glass link"
    );
    assert_no_violations(&browser, "provider unreachable", &mut violations).await;
    site.idp.restart();

    browser.goto(&app.url("/inspektor/logga-in")).await;
    browser.click(".sso-providers a").await;
    let url = wait_for_url(&browser, &app.url("/inspektor")).await;
    assert!(!url.contains("logga-in") && !url.contains("/sso/"), "{url}");
    assert_eq!(
        browser.text(".user-name").await,
        "Person anna-sub-0001",
        "signed in: the session cookie came along"
    );

    browser
        .navigate_by("form[action='/inspektor/logga-ut'] button")
        .await;
    let at_provider = wait_for_url(&browser, &format!("{}/session/end", site.idp.issuer)).await;
    assert!(at_provider.contains("/session/end"), "{at_provider}");

    browser
        .goto(&app.url("/inspektor/sso/idp/callback?state=forged&code=forged"))
        .await;
    assert!(browser.exists("main h1").await);
    assert_no_violations(&browser, "refused sign-in", &mut violations).await;

    site.idp.set_groups("anna-sub-0001", &[]);
    browser.goto(&app.url("/inspektor/logga-in")).await;
    browser.click(".sso-providers a").await;
    wait_for_url(&browser, &app.url("/inspektor/sso/idp/callback")).await;
    let message = browser.text("main p").await;
    assert!(
        message.contains("no access") || message.contains("ingen behörighet"),
        "{message}"
    );
    assert_no_violations(&browser, "no access", &mut violations).await;
    browser.screenshot("sso-no-access.png").await;

    browser.close().await;
    assert!(violations.is_empty(), "axe-core: {violations:#?}");
}
