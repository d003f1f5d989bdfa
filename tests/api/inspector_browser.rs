//! The inspector workspace in headless Chromium: log in with TOTP (enrolling from the page's
//! key, as an authenticator app would), filter the queue, open a tip, ask the tipster a
//! question that the tipster then reads on the follow-up page, close with an outcome; an
//! analyst cannot reach a tip; axe-core finds no WCAG 2.1 AA violation on any workspace page.

use serde_json::{Value, json};
use totp_rs::Secret;

use crate::browser::Browser;
use crate::helpers::{TestApp, spawn_app, valid_tip};
use crate::people;

/// Logs in through the pages; enrols the second factor on the first login.
pub(crate) async fn log_in(browser: &Browser, app: &TestApp, email: &str) {
    browser.goto(&app.url("/inspektor/logga-in")).await;
    browser.fill("#email", email).await;
    browser.fill("#password", people::PASSWORD).await;
    browser.navigate_by("main button[type=submit]").await;
    assert!(browser.exists("#totp-secret").await, "first login enrols");
    let secret_text: String = browser
        .text("#totp-secret")
        .await
        .split_whitespace()
        .collect();
    let secret = Secret::Encoded(secret_text).to_bytes().unwrap();
    let code = tipsa::auth::second_factor::current_code(&secret, email, people::now()).unwrap();
    browser.fill("#code", &code).await;
    browser.navigate_by("main button[type=submit]").await;
    assert_eq!(browser.count("#recovery-codes li").await, 10);
    browser.navigate_by("main a.button").await;
}

async fn assert_no_violations(browser: &Browser, page: &str, report: &mut Vec<String>) {
    let violations = browser.axe_violations().await;
    if !violations.is_empty() {
        report.push(format!("{page}: {}", Value::Array(violations)));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inspector_works_a_tip_from_login_to_outcome_in_the_browser() {
    let app = spawn_app().await;
    let mut body = valid_tip();
    body["description"] =
        json!("Nattetid är en undersköterska ensam med trettio boende på Solgläntan.");
    let submitted: Value = app.submit(&body).await.json().await.unwrap();
    let id = submitted["id"].as_str().unwrap().to_owned();
    let reference = submitted["reference"].as_str().unwrap().to_owned();
    let receipt_code = submitted["receipt_code"].as_str().unwrap().to_owned();
    let team = app
        .state
        .triage
        .team_for_region(body["region_code"].as_str().unwrap())
        .to_owned();
    people::create_person(&app, "anna@ivo.example", &["inspector"], &[team.as_str()]).await;

    let browser = Browser::start(true).await;
    let mut violations = Vec::new();
    browser.goto(&app.url("/inspektor")).await;
    assert!(browser.exists("#password").await, "the queue needs a login");
    assert_no_violations(&browser, "login", &mut violations).await;
    browser.fill("#email", "anna@ivo.example").await;
    browser.fill("#password", people::PASSWORD).await;
    browser.navigate_by("main button[type=submit]").await;
    assert_no_violations(&browser, "enrolment", &mut violations).await;
    let secret_text: String = browser
        .text("#totp-secret")
        .await
        .split_whitespace()
        .collect();
    let secret = Secret::Encoded(secret_text).to_bytes().unwrap();
    browser.fill("#code", "123").await;
    browser.navigate_by("main button[type=submit]").await;
    assert!(
        browser.exists("#code-error").await,
        "a wrong code is shown on the field"
    );
    assert_no_violations(&browser, "enrolment with an error", &mut violations).await;
    let code = tipsa::auth::second_factor::current_code(&secret, "anna@ivo.example", people::now())
        .unwrap();
    browser.fill("#code", &code).await;
    browser.navigate_by("main button[type=submit]").await;
    assert_no_violations(&browser, "recovery codes", &mut violations).await;
    browser.navigate_by("main a.button").await;

    // The queue, filtered by a word of the text.
    assert!(browser.text("main").await.contains(&reference));
    assert_no_violations(&browser, "queue", &mut violations).await;
    browser.fill("#q", "undersköterskor").await;
    browser.select("#priority", "").await;
    browser
        .navigate_by(".queue-filters button[type=submit]")
        .await;
    assert!(
        browser.text(".queue-table").await.contains(&reference),
        "Swedish stemming finds the tip"
    );
    browser.screenshot("workspace-queue.png").await;
    assert_no_violations(&browser, "queue filtered", &mut violations).await;
    browser.fill("#q", "brandlarm").await;
    browser
        .navigate_by(".queue-filters button[type=submit]")
        .await;
    assert!(
        !browser.exists(".queue-table").await,
        "no tip mentions fire alarms"
    );

    // Open the tip, ask the tipster a question.
    browser
        .goto(&app.url(&format!("/inspektor/tips/{id}")))
        .await;
    assert!(browser.text("h1").await.contains(&reference));
    assert_no_violations(&browser, "tip", &mut violations).await;
    browser.fill("#question", "Vilka nätter gäller det?").await;
    browser.navigate_by("#ask").await;
    assert!(
        browser
            .text(".messages")
            .await
            .contains("Vilka nätter gäller det?")
    );
    browser
        .client
        .execute("window.scrollTo(0, 0); return true;", vec![])
        .await
        .unwrap();
    browser.screenshot("workspace-tip.png").await;

    // The tipster reads it with the receipt code (a separate browser: no shared cookies).
    let tipster = Browser::start(false).await;
    tipster.goto(&app.url("/uppfoljning")).await;
    tipster.fill("#receipt_code", &receipt_code).await;
    tipster.navigate_by("main button[type=submit]").await;
    assert!(
        tipster
            .text(".messages")
            .await
            .contains("Vilka nätter gäller det?")
    );
    tipster.close().await;

    // Claim, then close with an outcome.
    browser.navigate_by("#claim").await;
    assert!(browser.text(".notice").await.contains("sparad"));
    browser.select("#new-status", "closed").await;
    browser.select("#outcome", "no_action").await;
    browser
        .fill("#status-reason", "Verksamheten har redan anmält bristen.")
        .await;
    browser.navigate_by("#save-status").await;
    let stored: Value = app
        .get(&format!("/api/v1/tips/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stored["status"], "closed");
    assert_eq!(stored["outcome"], "no_action");
    assert!(browser.text(".tip-summary").await.contains("Avslutad"));
    assert_no_violations(&browser, "closed tip", &mut violations).await;
    browser.close().await;
    assert!(
        violations.is_empty(),
        "axe violations:\n{}",
        violations.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_analyst_cannot_reach_a_tip_in_the_browser() {
    let app = spawn_app().await;
    let submitted: Value = app.submit(&valid_tip()).await.json().await.unwrap();
    let id = submitted["id"].as_str().unwrap().to_owned();
    people::create_person(&app, "ana@ivo.example", &["analyst"], &["syd"]).await;
    let browser = Browser::start(true).await;
    log_in(&browser, &app, "ana@ivo.example").await;
    assert!(browser.text("h1").await.contains("Ingen behörighet"));
    browser
        .goto(&app.url(&format!("/inspektor/tips/{id}")))
        .await;
    assert!(browser.text("h1").await.contains("Tipset finns inte"));
    assert!(!browser.text("main").await.contains("Solgläntan"));
    let mut violations = Vec::new();
    assert_no_violations(&browser, "not found", &mut violations).await;
    assert!(violations.is_empty(), "{violations:?}");
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_admin_page_passes_axe() {
    let app = spawn_app().await;
    people::create_person(
        &app,
        "admin@ivo.example",
        &["admin", "triage_lead"],
        &["syd"],
    )
    .await;
    let browser = Browser::start(true).await;
    log_in(&browser, &app, "admin@ivo.example").await;
    let mut violations = Vec::new();
    for path in [
        "/inspektor/admin",
        "/inspektor/admin/personer",
        "/inspektor/admin/api-nycklar",
        "/inspektor/admin/konfiguration",
        "/inspektor/admin/granskningslogg",
        "/inspektor/admin/utskick",
    ] {
        browser.goto(&app.url(path)).await;
        assert!(!browser.text("h1").await.is_empty(), "{path}");
        assert_no_violations(&browser, path, &mut violations).await;
    }
    // The English workspace too.
    browser
        .navigate_by("header form[action='/inspektor/sprak'] button")
        .await;
    assert_eq!(
        browser
            .client
            .execute("return document.documentElement.lang", vec![])
            .await
            .unwrap(),
        json!("en")
    );
    assert_no_violations(&browser, "admin (en)", &mut violations).await;
    browser.goto(&app.url("/inspektor")).await;
    assert_no_violations(&browser, "queue (en)", &mut violations).await;
    browser.close().await;
    assert!(
        violations.is_empty(),
        "axe violations:\n{}",
        violations.join("\n")
    );
}
