//! The public pages over plain HTTP: headers and cookies, CSRF, server-side validation with the
//! values kept, the rate limit, the follow-up session, and the anonymity promise checked
//! against a full database dump and the logs.

use std::process::Command;

use serde_json::Value;

use crate::helpers::{CapturedLogs, Site, spawn_app, spawn_app_with, valid_tip};

/// A client that keeps cookies and does not follow redirects, like a careful browser.
pub fn browser_like() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub fn csrf_token(html: &str) -> String {
    html.split("name=\"csrf_token\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a CSRF field")
        .to_owned()
}

pub fn valid_form(token: &str) -> Vec<(&'static str, String)> {
    vec![
        ("csrf_token", token.to_owned()),
        ("category", "staffing".into()),
        ("care_sector", "elderly_residential".into()),
        ("region_code", "01".into()),
        ("municipality_code", "0180".into()),
        (
            "description",
            "Nattetid är en undersköterska ensam med trettio boende.".into(),
        ),
        ("reporter_role", "staff".into()),
    ]
}

pub async fn form_token(app: &impl Site, client: &reqwest::Client) -> String {
    let html = client
        .get(app.url("/tipsa"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    csrf_token(&html)
}

#[tokio::test]
async fn pages_are_private_strict_and_fully_translated() {
    let app = spawn_app().await;
    for path in [
        "/?lang=sv",
        "/en",
        "/tipsa",
        "/en/report",
        "/uppfoljning",
        "/en/follow-up",
    ] {
        let response = reqwest::get(app.url(path)).await.unwrap();
        assert_eq!(response.status().as_u16(), 200, "{path}");
        let headers = response.headers().clone();
        assert_eq!(headers["cache-control"], "no-store", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer");
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        // The only cookie is the CSRF token: HttpOnly, SameSite=Strict.
        for cookie in headers.get_all("set-cookie") {
            let cookie = cookie.to_str().unwrap();
            assert!(cookie.starts_with("tipsa_csrf="), "{path}: {cookie}");
            assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
        }
        let html = response.text().await.unwrap();
        for section in [
            "site.",
            "home.",
            "report.",
            "preview.",
            "receipt.",
            "follow_up.",
            "error.",
            "status.",
        ] {
            // A key looks like `report.some_key`: the section, then a lowercase letter.
            let shows_key = html.match_indices(section).any(|(at, _)| {
                // (not a file name such as /static/site.css)
                !html[..at].ends_with('/')
                    && html[at + section.len()..]
                        .chars()
                        .next()
                        .is_some_and(|c| c.is_ascii_lowercase())
            });
            assert!(!shows_key, "{path} shows an untranslated {section}… key");
        }
        // Nothing from another origin.
        assert!(
            !html.contains("src=\"http") && !html.contains("href=\"http"),
            "{path}"
        );
        assert!(
            !html.contains("<script>") && !html.contains(" style=\""),
            "{path}: inline script or style"
        );
    }
    let english = reqwest::Client::new()
        .get(app.url("/"))
        .header("accept-language", "en-GB,en;q=0.9")
        .send()
        .await
        .unwrap();
    assert!(
        english.url().path() == "/en",
        "Accept-Language leads English readers to /en"
    );
}

#[tokio::test]
async fn a_post_without_the_csrf_token_is_refused() {
    let app = spawn_app().await;
    let client = browser_like();
    let token = form_token(&app, &client).await;
    let mut form = valid_form(&token);
    form[0].1 = "forged".into();
    let response = client
        .post(app.url("/tipsa/skicka"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 403);
    // A client without the cookie (another site posting the form) is refused too.
    let response = reqwest::Client::new()
        .post(app.url("/tipsa/skicka"))
        .form(&valid_form(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 403);
    assert_eq!(app.count_tips().await, 0);
}

#[tokio::test]
async fn invalid_input_is_explained_at_each_field_with_the_values_kept() {
    let app = spawn_app().await;
    let client = browser_like();
    let token = form_token(&app, &client).await;
    let mut form = valid_form(&token);
    form.retain(|(name, _)| *name != "category" && *name != "municipality_code");
    form.push(("municipality_code", "1280".into()));
    form.push(("reporter_email", "inte-en-adress".into()));
    form.push(("facility_name", "Björkens <gruppboende>".into()));
    let response = client
        .post(app.url("/tipsa/granska"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 422);
    let html = response.text().await.unwrap();
    for id in ["category", "reporter_email"] {
        assert!(
            html.contains(&format!("href=\"#{id}\"")),
            "summary links {id}"
        );
        assert!(
            html.contains(&format!("id=\"{id}-error\"")),
            "message at {id}"
        );
    }
    assert!(html.contains("aria-invalid=\"true\""));
    assert!(
        html.contains("value=\"inte-en-adress\""),
        "the entered email is kept"
    );
    assert!(
        html.contains("Björkens &#60;gruppboende&#62;")
            || html.contains("Björkens &lt;gruppboende&gt;"),
        "kept and escaped"
    );
    assert_eq!(app.count_tips().await, 0);
}

#[tokio::test]
async fn submissions_from_one_address_are_rate_limited() {
    let app = spawn_app_with(|s| s.public.submit_tip_per_window = 2).await;
    let client = browser_like();
    let token = form_token(&app, &client).await;
    for _ in 0..2 {
        let response = client
            .post(app.url("/tipsa/skicka"))
            .form(&valid_form(&token))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
    }
    let limited = client
        .post(app.url("/tipsa/skicka"))
        .form(&valid_form(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(limited.status().as_u16(), 429);
    assert_eq!(app.count_tips().await, 2);
}

#[tokio::test]
async fn the_follow_up_session_is_short_lived_and_cannot_be_forged() {
    let app = spawn_app().await;
    let submitted: Value = app.submit(&valid_tip()).await.json().await.unwrap();
    let code = submitted["receipt_code"].as_str().unwrap();
    let client = browser_like();
    let html = client
        .get(app.url("/uppfoljning"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = csrf_token(&html);
    let opened = client
        .post(app.url("/uppfoljning"))
        .form(&[("csrf_token", token.as_str()), ("receipt_code", code)])
        .send()
        .await
        .unwrap();
    assert_eq!(opened.status().as_u16(), 303);
    assert_eq!(opened.headers()["location"], "/uppfoljning/tips");
    let cookie = opened.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("tipsa_uppfoljning="));
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Strict")
            && cookie.contains("Max-Age=900")
    );
    assert!(!cookie.contains(code) && !cookie.contains(&code.replace('-', "")));
    let page = client
        .get(app.url("/uppfoljning/tips"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(submitted["reference"].as_str().unwrap()));

    // A made-up or altered cookie opens nothing.
    let forged = reqwest::Client::new()
        .get(app.url("/uppfoljning/tips"))
        .header("cookie", "tipsa_uppfoljning=local1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!forged.contains(submitted["reference"].as_str().unwrap()));
    assert!(
        forged.contains("id=\"receipt_code\""),
        "asked for the code instead"
    );
}

/// Submits through the web with a distinctive user agent, referrer and forwarded address, then
/// searches a full `pg_dump` of the database and the service's logs for them and for the
/// receipt code.
#[tokio::test]
async fn a_web_submission_leaves_no_trace_of_who_sent_it() {
    let app = spawn_app_with(|s| s.public.trust_forwarded_for = true).await;
    let user_agent = "TipsaAnonymityProbe/7.1 (X11; distinctive-ua-8d41)";
    let address = "198.51.100.203";
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .user_agent(user_agent)
        .build()
        .unwrap();
    let html = client
        .get(app.url("/tipsa"))
        .header("x-forwarded-for", address)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = csrf_token(&html);
    let receipt = client
        .post(app.url("/tipsa/skicka"))
        .header("x-forwarded-for", address)
        .header("referer", "https://intranet.example/secret-ward-page")
        .form(&valid_form(&token))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let code = receipt
        .split("id=\"receipt-code\" class=\"receipt-code\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .expect("a receipt code on the page")
        .to_owned();
    // A follow-up attempt with the code from the same address.
    let follow_up_html = client
        .get(app.url("/uppfoljning"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let _ = client
        .post(app.url("/uppfoljning"))
        .header("x-forwarded-for", address)
        .form(&[
            ("csrf_token", csrf_token(&follow_up_html)),
            ("receipt_code", code.clone()),
        ])
        .send()
        .await
        .unwrap();

    let dump = pg_dump(&app.db.url);
    assert!(
        dump.contains("Nattetid är en undersköterska"),
        "the dump holds the tip"
    );
    let logs = CapturedLogs::global().text();
    assert!(logs.contains("/tipsa/skicka"), "the request was logged");
    for secret in [
        code.as_str(),
        &code.replace('-', ""),
        user_agent,
        "distinctive-ua-8d41",
        address,
        "intranet.example",
        &token,
    ] {
        assert!(
            !dump.contains(secret),
            "{secret:?} found in the database dump"
        );
        let leaking: Vec<&str> = logs.lines().filter(|l| l.contains(secret)).collect();
        assert!(
            leaking.is_empty(),
            "{secret:?} found in the logs: {leaking:?}"
        );
    }
}

pub fn pg_dump(url: &str) -> String {
    let output = Command::new(crate::helpers::postgres_tool("pg_dump"))
        .args(["--data-only", "--inserts", "--no-owner", url])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}
