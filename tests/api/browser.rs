//! The public pages in a real browser (headless Chromium through chromedriver): the tip form
//! with and without JavaScript, the identity-number guard, follow-up with a receipt code, and
//! an axe-core accessibility scan (WCAG 2.1 A and AA) of every public page.
//!
//! Needs `chromium` and `chromium-driver` (Debian packages). Set `TIPSA_SCREENSHOTS_DIR` to also
//! save screenshots of the form and the receipt.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app, spawn_app_with, valid_tip};

const AXE: &str = include_str!("vendor/axe.min.js");

/// A chromedriver process and a browser session on it.
pub struct Browser {
    pub client: Client,
    driver: Child,
}

impl Browser {
    pub async fn start(javascript: bool) -> Browser {
        Self::start_sized(javascript, 1280, 1000).await
    }

    pub async fn start_sized(javascript: bool, width: u32, height: u32) -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new(chromedriver())
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting chromedriver (apt-get install chromium chromium-driver)");
        let mut options = json!({
            "binary": chromium(),
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--disable-quic", "--disable-extensions",
                format!("--window-size={width},{height}"),
            ],
        });
        if !javascript {
            options["prefs"] = json!({"profile.managed_default_content_settings.javascript": 2});
        }
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("goog:chromeOptions".into(), options);
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        let client = loop {
            match ClientBuilder::new(connector.clone())
                .capabilities(capabilities.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
            {
                Ok(client) => break client,
                Err(error) if Instant::now() < deadline => {
                    let _ = error;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(error) => panic!("connecting to chromedriver: {error}"),
            }
        };
        Browser { client, driver }
    }

    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    pub async fn fill(&self, css: &str, text: &str) {
        let element = self.client.find(Locator::Css(css)).await.unwrap();
        element.clear().await.unwrap();
        element.send_keys(text).await.unwrap();
    }

    pub async fn select(&self, css: &str, value: &str) {
        let element = self.client.find(Locator::Css(css)).await.unwrap();
        element.select_by_value(value).await.unwrap();
    }

    /// Clicks something that loads a new page, and waits until the new page is there.
    pub async fn navigate_by(&self, css: &str) {
        self.client
            .execute("window.__tipsaOldPage = true; return true;", vec![])
            .await
            .unwrap();
        self.click(css).await;
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let state = self
                .client
                .execute(
                    "return window.__tipsaOldPage === true ? 'old' : document.readyState;",
                    vec![],
                )
                .await
                .unwrap_or(Value::Null);
            if state == "complete" {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no new page after clicking {css}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .click()
            .await
            .unwrap();
    }

    pub async fn text(&self, css: &str) -> String {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .text()
            .await
            .unwrap()
    }

    pub async fn exists(&self, css: &str) -> bool {
        self.client.find(Locator::Css(css)).await.is_ok()
    }

    pub async fn count(&self, css: &str) -> usize {
        self.client.find_all(Locator::Css(css)).await.unwrap().len()
    }

    /// Runs axe-core on the current page; returns the violations (id, impact, targets).
    pub async fn axe_violations(&self) -> Vec<Value> {
        self.client.execute(AXE, vec![]).await.unwrap();
        let result = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})
                   .then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                      nodes: v.nodes.map(n => n.target.join(' '))}))))
                   .catch(e => done([{id: 'axe-error', help: String(e)}]));",
                vec![],
            )
            .await
            .unwrap();
        result.as_array().cloned().unwrap_or_default()
    }

    /// Saves a PNG of the page when `TIPSA_SCREENSHOTS_DIR` is set.
    pub async fn screenshot(&self, name: &str) {
        if let Ok(dir) = std::env::var("TIPSA_SCREENSHOTS_DIR") {
            let png = self.client.screenshot().await.unwrap();
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(std::path::Path::new(&dir).join(name), png).unwrap();
        }
    }
}

fn chromium() -> String {
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .iter()
    .find(|p| std::path::Path::new(p).exists())
    .map(|p| p.to_string())
    .expect("Chromium is needed for the browser tests: apt-get install chromium chromium-driver")
}

fn chromedriver() -> String {
    ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        .iter()
        .find(|p| std::path::Path::new(p).exists())
        .map(|p| p.to_string())
        .expect("chromedriver is needed for the browser tests: apt-get install chromium-driver")
}

/// Fills the form with a valid tip (municipality inside the region).
pub(crate) async fn fill_valid_tip(browser: &Browser, description: &str) {
    browser.select("#category", "staffing").await;
    browser.select("#care_sector", "elderly_residential").await;
    browser.select("#region_code", "12").await;
    browser.select("#municipality_code", "1280").await;
    browser
        .fill("#facility_name", "Solgläntans äldreboende")
        .await;
    browser.fill("#description", description).await;
    browser.click("#reporter_role-staff").await;
}

async fn stored_tip(app: &TestApp, reference: &str) -> (String, bool, String) {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        channel: String,
        #[diesel(sql_type = diesel::sql_types::Bool)]
        anonymous: bool,
        #[diesel(sql_type = diesel::sql_types::Text)]
        municipality_code: String,
    }
    let mut conn = app.db.connect().await;
    let row: Row = diesel_async::RunQueryDsl::get_result(
        diesel::sql_query(
            "SELECT channel, anonymous, municipality_code FROM tips WHERE reference = $1",
        )
        .bind::<diesel::sql_types::Text, _>(reference),
        &mut conn,
    )
    .await
    .unwrap();
    (row.channel, row.anonymous, row.municipality_code)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_anonymous_tip_with_javascript_and_its_follow_up() {
    let app = spawn_app().await;
    let browser = Browser::start(true).await;
    browser.goto(&app.url("/tipsa")).await;
    // Before a län is chosen every kommun is offered; after, only the län's.
    assert_eq!(browser.count("#municipality_code optgroup").await, 21);
    browser.select("#region_code", "12").await;
    assert_eq!(browser.count("#municipality_code optgroup").await, 1);
    assert_eq!(
        browser.count("#municipality_code option").await,
        1 + 33,
        "Skåne has 33 kommuner"
    );

    fill_valid_tip(
        &browser,
        "Nattetid är en undersköterska ensam med trettio boende.",
    )
    .await;
    browser.navigate_by("#preview").await;
    assert!(browser.text("h1").await.contains("Granska"));
    browser.navigate_by("#send").await;

    let reference = browser.text("#reference").await;
    let code = browser.text("#receipt-code").await;
    assert!(tipsa::domain::ReceiptCode::parse(&code).is_some(), "{code}");
    let current = browser.client.current_url().await.unwrap();
    assert!(
        !current.as_str().contains(&code),
        "the code is never in a URL"
    );
    let (channel, anonymous, municipality) = stored_tip(&app, &reference).await;
    assert_eq!(
        (channel.as_str(), anonymous, municipality.as_str()),
        ("web", true, "1280")
    );

    // Follow up with the code.
    browser.goto(&app.url("/uppfoljning")).await;
    browser.fill("#receipt_code", &code.to_lowercase()).await;
    browser.navigate_by("main button[type=submit]").await;
    assert_eq!(browser.text("#status").await, "Mottaget");
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_identified_tip_without_javascript_in_english() {
    let app = spawn_app().await;
    let browser = Browser::start(false).await;
    browser.goto(&app.url("/en/report")).await;
    // No script: all kommuner are listed and the server checks the pair.
    assert_eq!(browser.count("#municipality_code option").await, 1 + 290);
    browser.select("#category", "medication").await;
    browser.select("#care_sector", "home_care").await;
    browser.select("#region_code", "01").await;
    browser.select("#municipality_code", "1280").await; // Malmö is not in Stockholms län
    browser
        .fill(
            "#description",
            "Medication is given to the wrong person on the evening round.",
        )
        .await;
    browser.click("#reporter_role-relative").await;
    browser.fill("#reporter_email", "not-an-email").await;
    browser.navigate_by("#preview").await;

    // Errors: summary at the top linking to the fields, messages at the fields, values kept.
    assert!(
        browser
            .exists("#error-summary a[href='#municipality_code']")
            .await
    );
    assert!(
        browser
            .exists("#error-summary a[href='#reporter_email']")
            .await
    );
    assert!(
        browser
            .text("#municipality_code-error")
            .await
            .contains("not in the chosen county")
    );
    let kept = browser
        .client
        .find(Locator::Css("#description"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(kept.starts_with("Medication is given"));

    browser.select("#municipality_code", "0180").await;
    browser.fill("#reporter_email", "relative@example.se").await;
    browser.navigate_by("#preview").await;
    assert!(browser.text("main").await.contains("relative@example.se"));
    browser.navigate_by("#send").await;
    let reference = browser.text("#reference").await;
    let (channel, anonymous, _) = stored_tip(&app, &reference).await;
    assert_eq!((channel.as_str(), anonymous), ("web", false));
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_form_warns_about_a_personal_identity_number() {
    let app = spawn_app().await;
    let browser = Browser::start(true).await;
    browser.goto(&app.url("/tipsa")).await;
    fill_valid_tip(
        &browser,
        "Patienten 811218-9876 lämnas ensam hela natten utan tillsyn.",
    )
    .await;
    browser.navigate_by("#preview").await;
    assert!(browser.exists("#identity-number-warning").await);
    assert_eq!(app.count_tips().await, 0);

    // Edit the text: the warning goes away.
    browser
        .fill(
            "#description",
            "Patienten lämnas ensam hela natten utan tillsyn.",
        )
        .await;
    browser.navigate_by("#preview").await;
    assert!(!browser.exists("#identity-number-warning").await);
    browser.navigate_by("#edit").await;

    // Or confirm that the digits are something else.
    browser
        .fill(
            "#description",
            "Avdelningens larmnummer 811218-9876 går inte fram.",
        )
        .await;
    browser.navigate_by("#preview").await;
    assert!(browser.exists("#identity-number-warning").await);
    browser.click("#confirm_no_identity_number").await;
    browser.navigate_by("#preview").await;
    browser.navigate_by("#send").await;
    assert!(browser.exists("#receipt-code").await);
    assert_eq!(app.count_tips().await, 1);
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tipster_reads_a_question_and_answers_it() {
    let app = spawn_app().await;
    let submitted: Value = app.submit(&valid_tip()).await.json().await.unwrap();
    let id = submitted["id"].as_str().unwrap();
    let code = submitted["receipt_code"].as_str().unwrap();
    let asked = app
        .client
        .post(app.url(&format!("/api/v1/tips/{id}/messages")))
        .bearer_auth(&app.token)
        .json(&json!({"body": "Vilka nätter gäller det?"}))
        .send()
        .await
        .unwrap();
    assert_eq!(asked.status().as_u16(), 201);

    let browser = Browser::start(true).await;
    browser.goto(&app.url("/uppfoljning")).await;
    browser.fill("#receipt_code", "0000-0000-0000-0000").await;
    browser.navigate_by("main button[type=submit]").await;
    assert!(
        browser
            .text("#receipt_code-error")
            .await
            .contains("hittar inget tips")
    );

    browser.fill("#receipt_code", code).await;
    browser.navigate_by("main button[type=submit]").await;
    assert_eq!(browser.text("#status").await, "Vi har en fråga till dig");
    assert!(
        browser
            .text(".messages")
            .await
            .contains("Vilka nätter gäller det?")
    );
    browser.fill("#reply", "Alla nätter sedan i måndags.").await;
    browser
        .navigate_by("main form button.button:not(.secondary)")
        .await;
    assert!(browser.text("main").await.contains("Ditt svar är skickat"));
    assert_eq!(browser.text("#status").await, "Under bedömning");

    let tip: Value = app
        .get(&format!("/api/v1/tips/{id}/messages"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(tip[1]["body"], "Alla nätter sedan i måndags.");

    // Closing the session: the tip page needs the code again.
    browser.navigate_by(".end-session button").await;
    browser.goto(&app.url("/uppfoljning/tips")).await;
    assert!(browser.exists("#receipt_code").await);
    browser.close().await;
}

/// Every public page, in both languages where it matters, including the form with errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_public_page_passes_axe() {
    let app = spawn_app_with(|s| s.public.receipt_code_attempts_per_window = 100).await;
    let submitted: Value = app.submit(&valid_tip()).await.json().await.unwrap();
    let code = submitted["receipt_code"].as_str().unwrap().to_owned();
    let browser = Browser::start(true).await;
    let mut scanned = Vec::new();
    let mut failures = Vec::new();
    let mut scan = async |browser: &Browser, name: &str| {
        let violations = browser.axe_violations().await;
        scanned.push(name.to_owned());
        if !violations.is_empty() {
            failures.push(format!(
                "{name}: {}",
                serde_json::to_string_pretty(&violations).unwrap()
            ));
        }
    };

    for path in [
        "/",
        "/en",
        "/tipsa",
        "/en/report",
        "/uppfoljning",
        "/en/follow-up",
        "/finns-inte",
    ] {
        browser
            .goto(&app.url(&format!(
                "{path}{}",
                if path == "/" { "?lang=sv" } else { "" }
            )))
            .await;
        scan(&browser, path).await;
    }
    browser.goto(&app.url("/tipsa")).await;
    browser.screenshot("form-desktop.png").await;
    browser.navigate_by("#preview").await;
    assert!(browser.exists("#error-summary").await);
    scan(&browser, "/tipsa with errors").await;

    browser.goto(&app.url("/tipsa")).await;
    fill_valid_tip(
        &browser,
        "Patienten 811218-9876 lämnas ensam hela natten utan tillsyn.",
    )
    .await;
    browser.navigate_by("#preview").await;
    scan(&browser, "/tipsa with the identity-number warning").await;
    browser.click("#confirm_no_identity_number").await;
    browser.navigate_by("#preview").await;
    scan(&browser, "preview").await;
    browser.navigate_by("#send").await;
    scan(&browser, "receipt").await;
    browser.screenshot("receipt.png").await;

    browser.goto(&app.url("/uppfoljning")).await;
    browser.fill("#receipt_code", "0000-0000-0000-0000").await;
    browser.navigate_by("main button[type=submit]").await;
    scan(&browser, "follow-up with a wrong code").await;
    browser.fill("#receipt_code", &code).await;
    browser.navigate_by("main button[type=submit]").await;
    scan(&browser, "follow-up tip page").await;
    browser.close().await;

    println!(
        "axe-core WCAG 2.1 A/AA scan: {} pages: {}",
        scanned.len(),
        scanned.join(", ")
    );
    assert!(
        failures.is_empty(),
        "axe violations:\n{}",
        failures.join("\n")
    );
    assert_eq!(scanned.len(), 13);
}

/// The form at 320 px: nothing wider than the viewport (WCAG reflow).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_form_reflows_at_320_pixels() {
    let app = spawn_app().await;
    let browser = Browser::start_sized(true, 320, 900).await;
    for path in ["/tipsa", "/", "/uppfoljning"] {
        browser.goto(&app.url(path)).await;
        let overflow = browser
            .client
            .execute(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
                vec![],
            )
            .await
            .unwrap();
        assert!(
            overflow.as_i64().unwrap_or(1) <= 0,
            "{path} scrolls sideways by {overflow}"
        );
    }
    browser.goto(&app.url("/tipsa")).await;
    browser.screenshot("form-320px.png").await;
    browser.close().await;
}
