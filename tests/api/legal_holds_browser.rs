//! Legal holds in headless Chromium with JavaScript off: a triage lead places a hold on a
//! cluster from the tip page and lifts it, an admin holds a tip by reference on the holds page
//! and lifts it there; axe-core (in a second browser, with script) finds no WCAG 2.1 AA
//! violation on the tip page's hold block (empty, with an error, with a hold) nor on the holds
//! page.

use serde_json::Value;

use crate::browser::Browser;
use crate::helpers::spawn_app;
use crate::inspector_browser::log_in;
use crate::legal_holds::{audit_rows_of, cluster_in_syd, tip_about, tip_json};
use crate::people;

async fn axe(browser: &Browser, page: &str, report: &mut Vec<String>) {
    let violations = browser.axe_violations().await;
    if !violations.is_empty() {
        report.push(format!("{page}: {}", Value::Array(violations)));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holds_are_placed_and_lifted_without_javascript_and_pass_axe() {
    let app = spawn_app().await;
    let (members, _) = cluster_in_syd(&app).await;
    let lone = tip_about(&app, "12", "1280", "Solbackens vårdboende").await;
    let reference = tip_json(&app, lone).await["reference"]
        .as_str()
        .unwrap()
        .to_owned();
    // One person of each role works without JavaScript; a second, with it, runs axe-core
    // (which needs script) on the same pages.
    for (email, role) in [
        ("lead@ivo.example", "triage_lead"),
        ("lead.axe@ivo.example", "triage_lead"),
        ("admin@ivo.example", "admin"),
        ("admin.axe@ivo.example", "admin"),
    ] {
        people::create_person(&app, email, &[role], &[]).await;
    }
    let mut violations = Vec::new();
    let tip_page = |n: usize| app.url(&format!("/inspektor/tips/{}", members[n]));

    let browser = Browser::start(false).await;
    log_in(&browser, &app, "lead@ivo.example").await;
    let checker = Browser::start(true).await;
    log_in(&checker, &app, "lead.axe@ivo.example").await;
    checker.goto(&tip_page(0)).await;
    assert!(checker.exists("#no-hold").await);
    axe(&checker, "tip page, no hold", &mut violations).await;

    browser.goto(&tip_page(0)).await;
    // Nothing typed: the field says so, the summary links to it.
    browser.navigate_by("#place-hold-button").await;
    assert!(browser.exists("#hold-reason-error").await);
    assert!(browser.exists("#hold-errors a[href='#hold-reason']").await);
    checker.goto(&tip_page(0)).await;
    checker.navigate_by("#place-hold-button").await;
    assert!(checker.exists("#hold-reason-error").await);
    axe(
        &checker,
        "tip page, hold form with an error",
        &mut violations,
    )
    .await;
    browser.click("#covers-cluster").await;
    browser
        .fill(
            "#hold-reason",
            "Tillsyn av hela verksamheten, dnr 3.1-2026-88.",
        )
        .await;
    browser.navigate_by("#place-hold-button").await;
    assert!(
        browser
            .text(".notice")
            .await
            .contains("Gallringsspärren är satt")
    );
    assert!(browser.text(".legal-hold").await.contains("Hela klustret"));
    checker.goto(&tip_page(0)).await;
    axe(&checker, "tip page with a hold", &mut violations).await;
    checker.screenshot("tip-legal-hold.png").await;

    // Another member shows the cluster's hold; lift it there.
    browser.goto(&tip_page(1)).await;
    assert!(
        browser
            .text(".hold-reason")
            .await
            .contains("dnr 3.1-2026-88")
    );
    browser
        .fill("#lift-reason-0", "Tillsynen är avslutad.")
        .await;
    browser.navigate_by(".lift-hold").await;
    assert!(browser.text(".notice").await.contains("hävd"));
    assert!(browser.exists("#no-hold").await);
    browser.close().await;
    checker.close().await;

    // The admin: the holds page, a hold by reference, lifted from the list.
    let browser = Browser::start(false).await;
    log_in(&browser, &app, "admin@ivo.example").await;
    let checker = Browser::start(true).await;
    log_in(&checker, &app, "admin.axe@ivo.example").await;
    let holds_page = app.url("/inspektor/gallringssparrar");
    checker.goto(&holds_page).await;
    assert!(checker.exists("#no-holds").await);
    axe(&checker, "holds page, empty", &mut violations).await;
    browser.goto(&holds_page).await;
    browser.fill("#hold-reference", &reference).await;
    browser
        .fill(
            "#hold-reason",
            "Förvaltningsrätten har begärt handlingarna.",
        )
        .await;
    browser.navigate_by("#place-hold-button").await;
    assert!(browser.text("#holds-table").await.contains(&reference));
    checker.goto(&holds_page).await;
    axe(&checker, "holds page with a hold", &mut violations).await;
    checker.click("#holds-table summary").await;
    axe(&checker, "holds page, lift form open", &mut violations).await;
    checker.screenshot("legal-holds.png").await;
    browser.click("#holds-table summary").await;
    browser
        .fill("#lift-reason-0", "Handlingarna är utlämnade.")
        .await;
    browser.navigate_by(".lift-hold").await;
    assert!(browser.exists("#no-holds").await);
    browser.close().await;
    checker.close().await;

    assert_eq!(audit_rows_of(&app, "place_legal_hold").await.len(), 2);
    assert_eq!(audit_rows_of(&app, "lift_legal_hold").await.len(), 2);
    assert!(
        violations.is_empty(),
        "axe violations:\n{}",
        violations.join("\n")
    );
}
