//! Test support for the inspector side: create accounts directly, and sign in through the real
//! pages (password, TOTP enrolment with the secret read off the page, or a TOTP code), keeping
//! the session in a cookie-holding client.

use reqwest::Client;
use tipsa::auth::accounts::{self, NewAccount};
use tipsa::auth::second_factor;
use totp_rs::Secret;
use uuid::Uuid;

use crate::helpers::{Site, TestApp};

pub const PASSWORD: &str = "en lång lösenfras för tester";

/// A signed-in person.
pub struct Person {
    pub id: Uuid,
    pub email: String,
    pub client: Client,
    /// The same cookies, without following redirects.
    pub manual: Client,
    /// The TOTP secret enrolled at first login.
    pub secret: Vec<u8>,
}

/// A client that keeps cookies and follows redirects, as a browser does.
pub fn browser_client() -> Client {
    Client::builder().cookie_store(true).build().unwrap()
}

/// Two clients over one cookie jar: one follows redirects, one shows them.
fn clients_sharing_cookies() -> (Client, Client) {
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let follow = Client::builder()
        .cookie_provider(jar.clone())
        .build()
        .unwrap();
    let manual = Client::builder()
        .cookie_provider(jar)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    (follow, manual)
}

/// A client that keeps cookies but shows redirects (to assert on them).
pub fn manual_client() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Creates an account with a password (no second factor yet).
pub async fn create_person(app: &TestApp, email: &str, roles: &[&str], teams: &[&str]) -> Uuid {
    let mut conn = app.db.connect().await;
    let known: Vec<&str> = app
        .state
        .triage
        .teams
        .iter()
        .map(|t| t.code.as_str())
        .collect();
    let roles: Vec<String> = roles.iter().map(|r| r.to_string()).collect();
    let teams: Vec<String> = teams.iter().map(|t| t.to_string()).collect();
    let account = NewAccount::parse(email, email, &roles, &teams, "sv", &known).unwrap();
    let phc = accounts::hash_password(PASSWORD).await.unwrap();
    accounts::create(&mut conn, &account, Some(&phc))
        .await
        .unwrap()
}

/// The value of `name="csrf_token"` on a page.
pub fn csrf_token(html: &str) -> String {
    let start = html
        .find("name=\"csrf_token\" value=\"")
        .expect("a CSRF field")
        + 25;
    html[start..].split('"').next().unwrap().to_owned()
}

/// Text between `start` and the next `end`.
pub fn between<'a>(html: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = html.find(start)? + start.len();
    html[from..].split(end).next()
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Posts the password form; the response after redirects.
pub async fn post_password(
    app: &impl Site,
    client: &Client,
    email: &str,
    password: &str,
) -> reqwest::Response {
    // `lokal=1` shows the form also where local sign-in is for break-glass accounts only.
    let page = client
        .get(app.url("/inspektor/logga-in?lokal=1"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    client
        .post(app.url("/inspektor/logga-in"))
        .form(&[
            ("csrf_token", csrf_token(&page).as_str()),
            ("email", email),
            ("password", password),
            ("next", "/inspektor"),
        ])
        .send()
        .await
        .unwrap()
}

/// Signs in for the first time: password, then enrolment with a code computed from the secret
/// shown on the page. Returns the person with their session.
pub async fn first_sign_in(app: &impl Site, id: Uuid, email: &str) -> Person {
    let (client, manual) = clients_sharing_cookies();
    let enrol = post_password(app, &client, email, PASSWORD).await;
    assert_eq!(enrol.status(), 200);
    assert!(
        enrol.url().path().ends_with("/tvastegsverifiering"),
        "{}",
        enrol.url()
    );
    let page = enrol.text().await.unwrap();
    let secret_text: String = between(&page, "id=\"totp-secret\" class=\"secret\">", "<")
        .expect("the secret on the page")
        .split_whitespace()
        .collect();
    let secret = Secret::Encoded(secret_text).to_bytes().unwrap();
    let code = second_factor::current_code(&secret, email, now()).unwrap();
    let codes = client
        .post(app.url("/inspektor/logga-in/tvastegsverifiering"))
        .form(&[
            ("csrf_token", csrf_token(&page).as_str()),
            ("code", code.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(codes.status(), 200);
    let page = codes.text().await.unwrap();
    assert!(page.contains("id=\"recovery-codes\""), "{page}");
    Person {
        id,
        email: email.to_owned(),
        client,
        manual,
        secret,
    }
}

/// Creates an account and signs it in.
pub async fn signed_in(app: &TestApp, email: &str, roles: &[&str], teams: &[&str]) -> Person {
    let id = create_person(app, email, roles, teams).await;
    first_sign_in(app, id, email).await
}

impl Person {
    pub async fn get(&self, app: &TestApp, path: &str) -> reqwest::Response {
        self.client.get(app.url(path)).send().await.unwrap()
    }

    /// Posts a form from the page at `page_path` (taking its CSRF token).
    pub async fn post_form(
        &self,
        app: &TestApp,
        page_path: &str,
        action: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let page = self.get(app, page_path).await.text().await.unwrap();
        let token = csrf_token(&page);
        let mut form: Vec<(&str, &str)> = vec![("csrf_token", token.as_str())];
        form.extend_from_slice(fields);
        self.client
            .post(app.url(action))
            .form(&form)
            .send()
            .await
            .unwrap()
    }
}
