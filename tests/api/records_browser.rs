//! The public-records pages in headless Chromium: with JavaScript off, a sentence withheld by
//! ticking its checkbox and saving the plain form, the decision and the produced copy; and
//! axe-core (which needs JavaScript) finds no WCAG 2.1 AA violation on the hub, the request,
//! the redaction view, the copy, and the English hub.

use serde_json::Value;

use crate::browser::Browser;
use crate::helpers::spawn_app;
use crate::inspector_browser::log_in;
use crate::people;
use crate::records_support::{
    WITHHELD, char_offset, chars, description, identified_tip, registered,
};

async fn check_axe(browser: &Browser, page: &str, report: &mut Vec<String>) {
    let violations = browser.axe_violations().await;
    if !violations.is_empty() {
        report.push(format!("{page}: {}", Value::Array(violations)));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sentence_is_withheld_by_checkbox_without_javascript_and_every_page_passes_axe() {
    let app = spawn_app().await;
    let fixture = identified_tip(&app).await;
    let request = registered(&app, &app.token, &[&fixture.reference]).await;
    let id = request["id"].as_str().unwrap().to_owned();
    people::create_person(&app, "anna@ivo.example", &["inspector"], &["syd"]).await;

    // axe-core runs as a script, so it needs a browser with JavaScript on (the pages have
    // none of their own); the marking itself is done in one with JavaScript off.
    people::create_person(&app, "berit@ivo.example", &["inspector"], &["syd"]).await;
    let checker = Browser::start(true).await;
    log_in(&checker, &app, "berit@ivo.example").await;
    let mut violations = Vec::new();
    let request_url = app.url(&format!("/inspektor/allmanna-handlingar/{id}"));
    let redact_url = format!("{request_url}/tips/{}", fixture.id);
    for (name, url) in [
        ("hub", app.url("/inspektor/allmanna-handlingar")),
        ("request", request_url.clone()),
        ("redaction view", redact_url.clone()),
    ] {
        checker.goto(&url).await;
        check_axe(&checker, name, &mut violations).await;
    }

    let browser = Browser::start(false).await;
    log_in(&browser, &app, "anna@ivo.example").await;
    browser
        .goto(&app.url("/inspektor/allmanna-handlingar"))
        .await;
    assert!(
        browser
            .text("#pending-requests")
            .await
            .contains(request["reference"].as_str().unwrap())
    );
    browser.navigate_by("#pending-requests a").await;
    assert!(
        browser
            .text("h1")
            .await
            .contains(request["reference"].as_str().unwrap())
    );
    browser.navigate_by("#request-tips a.redact-link").await;

    let text = description();
    let start = char_offset(&text, WITHHELD);
    let checkbox = format!("#w-0-{start}-{}", start + chars(WITHHELD));
    browser.click(&checkbox).await;
    browser.navigate_by("#save-redactions").await;
    assert!(browser.text(".notice").await.contains("sparade"));
    let preview = browser.text("#preview-text-0").await;
    assert!(
        preview.contains("[Uteslutet enligt OSL 25 kap. 1 §]"),
        "{preview}"
    );
    assert!(!preview.contains("Åke Ström"), "{preview}");
    assert!(
        browser
            .client
            .find(fantoccini::Locator::Css(&checkbox))
            .await
            .unwrap()
            .is_selected()
            .await
            .unwrap(),
        "saved as ticked"
    );
    checker.goto(&redact_url).await;
    check_axe(&checker, "redaction view saved", &mut violations).await;

    browser.goto(&request_url).await;
    browser.select("#decision", "partly_disclosed").await;
    browser.fill("#note", "Uppgifter om enskildas hälsa.").await;
    browser.navigate_by("#decide").await;
    assert!(browser.exists("#copy-link").await);
    browser.navigate_by("#copy-link").await;
    let copy = browser.text("body").await;
    assert!(copy.contains("Uppgifter om anmälaren har uteslutits"));
    assert!(!copy.contains("Åke Ström") && !copy.contains("811218-9876"));
    browser.close().await;
    checker.goto(&request_url).await;
    check_axe(&checker, "decided request", &mut violations).await;
    checker.goto(&format!("{request_url}/kopia")).await;
    assert!(
        checker
            .text("h1")
            .await
            .contains(request["reference"].as_str().unwrap())
    );
    check_axe(&checker, "copy", &mut violations).await;

    // The English workspace, too.
    checker
        .goto(&app.url("/inspektor/allmanna-handlingar"))
        .await;
    checker
        .navigate_by("header form[action='/inspektor/sprak'] button")
        .await;
    assert!(checker.text("h1").await.contains("Public records"));
    check_axe(&checker, "hub (en)", &mut violations).await;
    checker.close().await;
    assert!(
        violations.is_empty(),
        "axe violations:\n{}",
        violations.join("\n")
    );
}
