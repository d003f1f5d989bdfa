//! A disposed tip over the API and on the pages: frozen (changes, re-triage and messages are
//! a 409 with a clear problem on the API and a clear message on the pages), yet every page and
//! answer that shows it — tip page, queue, JSON, follow-up, situation report — still renders.
//! And the disposal admin page: the rules in force, what is due and held, the last runs;
//! admins only; axe-core clean.

use serde_json::{Value, json};

use crate::browser::Browser;
use crate::disposal::{ask, close, closed_months_ago, dispose_now, hold, left, patch, submit};
use crate::helpers::{TestApp, problem, spawn_app};
use crate::people::{self, csrf_token, signed_in};

const DISPOSAL_PAGE: &str = "/inspektor/admin/gallring";

/// A tip with contact details and a conversation, disposed of by the built-in rules.
async fn disposed_tip(app: &TestApp) -> crate::disposal::Tip {
    let tip = submit(
        app,
        "Nattetid är en undersköterska ensam med trettio boende, flera med fallrisk.",
        true,
    )
    .await;
    ask(app, &tip, "Vilka nätter gäller det?").await;
    close(app, &tip, "no_action", None).await;
    closed_months_ago(app, &tip, 25).await;
    let report = dispose_now(app, &app.state.records).await;
    assert_eq!(report.disposed, 1);
    assert!(left(app, tip.id).await.disposed);
    tip
}

#[tokio::test]
async fn a_disposed_tip_is_frozen_on_the_api_with_a_clear_problem() {
    let app = spawn_app().await;
    let tip = disposed_tip(&app).await;

    for body in [
        json!({"assignee": "anna@ivo.example"}),
        json!({"status": "in_review"}),
        json!({"priority": "high", "reason": "Ny information"}),
    ] {
        let refused = problem(patch(&app, tip.id, body.clone()).await, 409).await;
        assert_eq!(refused["type"], "urn:tipsa:problem:disposed", "{body}");
        assert_eq!(refused["title"], "Tip disposed of");
        assert!(
            refused["detail"].as_str().unwrap().contains("disposed of"),
            "{refused}"
        );
    }
    let retriage = app
        .client
        .post(app.url(&format!("/api/v1/tips/{}/retriage", tip.id)))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem(retriage, 409).await["type"],
        "urn:tipsa:problem:disposed"
    );
    let message = app
        .client
        .post(app.url(&format!("/api/v1/tips/{}/messages", tip.id)))
        .bearer_auth(&app.token)
        .json(&json!({"body": "En fråga till?"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem(message, 409).await["type"],
        "urn:tipsa:problem:disposed"
    );

    // What is left reads fine.
    let json: Value = app
        .get(&format!("/api/v1/tips/{}", tip.id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (json["description"].as_str(), json["status"].as_str()),
        (Some(""), Some("closed"))
    );
    let messages: Value = app
        .get(&format!("/api/v1/tips/{}/messages", tip.id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(messages, json!([]));
    assert_eq!(
        app.get(&format!("/api/v1/tips/{}/events", tip.id))
            .await
            .status(),
        200
    );
    let queue = app.get("/api/v1/tips?status=closed").await;
    assert_eq!(queue.status(), 200);
    assert!(queue.text().await.unwrap().contains(&tip.reference));

    // The tipster: the tip shows as closed, with no messages; a reply is refused.
    let view = app
        .client
        .post(app.url("/api/v1/follow-up"))
        .json(&json!({"receipt_code": tip.receipt_code}))
        .send()
        .await
        .unwrap();
    assert_eq!(view.status(), 200);
    let view: Value = view.json().await.unwrap();
    assert_eq!(
        (view["status"].as_str(), &view["messages"]),
        (Some("closed"), &json!([]))
    );
    let reply = app
        .client
        .post(app.url("/api/v1/follow-up/messages"))
        .json(&json!({"receipt_code": tip.receipt_code, "body": "Ett svar till"}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 409);
    assert_eq!(left(&app, tip.id).await.messages, 0, "nothing was stored");
}

#[tokio::test]
async fn the_pages_show_a_disposed_tip_and_refuse_changes_with_a_message() {
    let app = spawn_app().await;
    let tip = disposed_tip(&app).await;
    let lead = signed_in(&app, "lead@ivo.example", &["triage_lead"], &[]).await;
    let path = format!("/inspektor/tips/{}", tip.id);

    let page = lead.get(&app, &path).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains(&tip.reference));
    for (path, expected) in [
        ("/inspektor?status=closed", tip.reference.as_str()),
        ("/inspektor/lagesbild", "<svg"),
    ] {
        let response = lead.get(&app, path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert!(response.text().await.unwrap().contains(expected), "{path}");
    }

    let etag = crate::disposal::etag(&app, tip.id).await;
    let version = etag.trim_matches('"').trim_start_matches('v').to_owned();
    let changed = lead
        .client
        .post(app.url(&format!("{path}/andra")))
        .form(&[
            ("csrf_token", csrf_token(&html).as_str()),
            ("version", version.as_str()),
            ("action", "claim"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 409);
    assert!(
        changed
            .text()
            .await
            .unwrap()
            .contains("Tipset har gallrats")
    );
    let asked = lead
        .client
        .post(app.url(&format!("{path}/fraga")))
        .form(&[
            ("csrf_token", csrf_token(&html).as_str()),
            ("body", "En fråga till?"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(asked.status(), 409);
    assert!(asked.text().await.unwrap().contains("Tipset har gallrats"));
    assert_eq!(left(&app, tip.id).await.messages, 0);

    // The tipster's follow-up page: closed, nothing to read.
    let client = crate::web_pages::browser_like();
    let form = client
        .get(app.url("/uppfoljning"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let opened = client
        .post(app.url("/uppfoljning"))
        .form(&[
            ("csrf_token", crate::web_pages::csrf_token(&form).as_str()),
            ("receipt_code", tip.receipt_code.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(opened.status(), 303);
    let followed = client
        .get(app.url("/uppfoljning/tips"))
        .send()
        .await
        .unwrap();
    assert_eq!(followed.status(), 200);
    let text = followed.text().await.unwrap();
    assert!(text.contains(&tip.reference));
    assert!(
        !text.contains("Vilka nätter gäller det?"),
        "the messages are gone"
    );
}

/// The due/held/requested cells of a rule's row on the admin page.
fn due_row(html: &str, rule: &str) -> Option<String> {
    let html = people::between(html, "id=\"disposal-due\"", "</table>")?;
    let start = html.find(&format!(
        "<tr><th scope=\"row\"><code>{rule}</code></th><td>"
    ))?;
    let row = &html[start..];
    let end = row.find("</tr>")?;
    Some(
        row[..end]
            .split("<td>")
            .skip(1)
            .map(|cell| cell.trim_end_matches("</td>").to_owned())
            .collect::<Vec<_>>()
            .join("|"),
    )
}

#[tokio::test]
async fn the_admin_page_shows_the_rules_what_is_due_and_the_runs_to_admins_only() {
    let app = spawn_app().await;
    let mut tips = Vec::new();
    for _ in 0..3 {
        let tip = submit(
            &app,
            "Inkontinensskydd byts för sällan och flera har fått trycksår.",
            false,
        )
        .await;
        close(&app, &tip, "no_action", None).await;
        closed_months_ago(&app, &tip, 25).await;
        tips.push(tip);
    }
    hold(&app, Some(tips[0].id), None).await;
    let admin = signed_in(&app, "admin@ivo.example", &["admin"], &[]).await;

    let hub = admin
        .get(&app, "/inspektor/admin")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        hub.contains(&format!("href=\"{DISPOSAL_PAGE}\"")),
        "linked from the hub"
    );
    let page = admin.get(&app, DISPOSAL_PAGE).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    for text in [
        "case_opened_keep",
        "risk_signal_5y",
        "Gallras 24 månader efter avslut",
        "Bevaras",
    ] {
        assert!(html.contains(text), "{text}");
    }
    // The table of rules comes before what is due; the built-in rules dispose of content only.
    assert!(html.contains("Innehållet: fritext, kontaktuppgifter, bilagor och meddelanden"));
    assert_eq!(due_row(&html, "no_action_2y").as_deref(), Some("2|1|0"));
    assert_eq!(due_row(&html, "duplicate_1y").as_deref(), Some("0|0|0"));
    assert!(html.contains("id=\"disposal-no-runs\""));

    let report = dispose_now(&app, &app.state.records).await;
    assert_eq!(report.disposed, 2);
    let html = admin.get(&app, DISPOSAL_PAGE).await.text().await.unwrap();
    assert_eq!(due_row(&html, "no_action_2y").as_deref(), Some("0|1|0"));
    let runs = people::between(&html, "id=\"disposal-runs\"", "</table>").expect("the runs table");
    assert!(
        runs.contains("Klar") && runs.contains("<td>2</td><td>1</td><td>0</td>"),
        "{runs}"
    );
    assert!(runs.contains("cli:records-dispose"));

    for (email, roles) in [
        ("lead@ivo.example", &["triage_lead"][..]),
        ("inspector@ivo.example", &["inspector"][..]),
        ("analyst@ivo.example", &["analyst"][..]),
    ] {
        let teams: &[&str] = if roles == ["inspector"] {
            &["ost"]
        } else {
            &[]
        };
        let person = signed_in(&app, email, roles, teams).await;
        assert_eq!(
            person.get(&app, DISPOSAL_PAGE).await.status(),
            403,
            "{email}"
        );
    }
    // Not signed in: to the login page.
    let anonymous = people::manual_client();
    let response = anonymous.get(app.url(DISPOSAL_PAGE)).send().await.unwrap();
    assert_eq!(response.status(), 303);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_page_and_a_disposed_tip_pass_axe_in_a_browser() {
    let app = spawn_app().await;
    let tip = disposed_tip(&app).await;
    people::create_person(&app, "admin@ivo.example", &["admin", "triage_lead"], &[]).await;
    let browser = Browser::start(true).await;
    crate::inspector_browser::log_in(&browser, &app, "admin@ivo.example").await;
    let mut report = Vec::new();
    for path in [
        DISPOSAL_PAGE.to_owned(),
        format!("/inspektor/tips/{}", tip.id),
    ] {
        browser.goto(&app.url(&path)).await;
        assert!(browser.exists("main h1").await, "{path}");
        let violations = browser.axe_violations().await;
        if !violations.is_empty() {
            report.push(format!("{path}: {}", Value::Array(violations)));
        }
    }
    assert!(browser.text("main").await.contains(&tip.reference));
    browser.close().await;
    assert!(report.is_empty(), "{report:#?}");
}
