//! Test support for single sign-on: a real OpenID provider (the `oidc-provider` npm package,
//! tests/support/oidc/provider.mjs) on a port of its own with users, signing keys and a
//! tampering mode the test controls, Tipsa configured for it, and the sign-in followed over
//! plain HTTP redirect by redirect.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::{Client, Response, StatusCode, Url};
use serde_json::{Value, json};
use tipsa::config::{ClaimNames, GroupMapping, LocalLogin, ProviderSettings, Settings};

use crate::helpers::{TestApp, free_port, spawn_app_with, wait_for_server};

/// The provider's id in Tipsa's configuration (and in the paths).
pub const PROVIDER: &str = "idp";
pub const CLIENT_ID: &str = "tipsa-test";
pub const CLIENT_SECRET: &str = "a client secret only the tests know";

fn support_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/oidc");
    install_provider(&dir);
    dir
}

/// `npm ci` the pinned provider once per test run when it is not installed yet, so a plain
/// `cargo test` on a fresh machine (with Node and npm) needs no separate step.
fn install_provider(dir: &std::path::Path) {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        if dir.join("node_modules/oidc-provider/package.json").exists() {
            return;
        }
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(dir)
            .status()
            .expect("running npm ci in tests/support/oidc (are Node.js and npm installed?)");
        assert!(
            status.success(),
            "npm ci in tests/support/oidc failed: {status}"
        );
    });
}

/// A new private RSA signing key (JWK), made by the provider script.
pub fn new_key(kid: &str) -> Value {
    let output = Command::new("node")
        .arg(support_dir().join("provider.mjs"))
        .args(["genkey", kid])
        .output()
        .expect("running node (is Node.js installed, and npm ci run in tests/support/oidc?)");
    assert!(output.status.success(), "genkey: {output:?}");
    serde_json::from_slice(&output.stdout).unwrap()
}

/// A person at the provider.
#[derive(Clone)]
pub struct IdpUser {
    pub sub: String,
    pub name: String,
    pub email: String,
    pub groups: Vec<String>,
    pub amr: Vec<String>,
}

impl IdpUser {
    pub fn new(sub: &str, email: &str, groups: &[&str]) -> Self {
        IdpUser {
            sub: sub.to_owned(),
            name: format!("Person {sub}"),
            email: email.to_owned(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            amr: vec!["pwd".into(), "mfa".into()],
        }
    }

    fn json(&self) -> Value {
        json!({"sub": self.sub, "name": self.name, "email": self.email,
               "groups": self.groups, "amr": self.amr})
    }
}

/// The provider process and the files it reads.
pub struct TestProvider {
    pub port: u16,
    pub issuer: String,
    dir: PathBuf,
    child: Option<Child>,
    users: Vec<IdpUser>,
    current: String,
    tamper: Option<String>,
    keys: Vec<Value>,
}

impl TestProvider {
    /// Starts a provider whose client is Tipsa at `tipsa_base`.
    pub fn start(tipsa_base: &str, users: Vec<IdpUser>) -> Self {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("tipsa-test-idp-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = json!({
            "port": port,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "redirect_uris": [format!("{tipsa_base}/inspektor/sso/{PROVIDER}/callback")],
            "post_logout_redirect_uris": [format!("{tipsa_base}/inspektor/logga-in?ut=1")],
            "users_file": dir.join("users.json"),
            "jwks_file": dir.join("jwks.json"),
        });
        std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
        let mut provider = TestProvider {
            port,
            issuer: format!("http://127.0.0.1:{port}"),
            dir,
            child: None,
            current: users.first().map(|u| u.sub.clone()).unwrap_or_default(),
            users,
            tamper: None,
            keys: vec![new_key("key-1")],
        };
        provider.write_users();
        provider.run();
        provider
    }

    fn write_users(&self) {
        let users: Vec<Value> = self.users.iter().map(IdpUser::json).collect();
        let file = json!({"current": self.current, "tamper": self.tamper, "users": users});
        std::fs::write(self.dir.join("users.json"), file.to_string()).unwrap();
    }

    fn run(&mut self) {
        std::fs::write(
            self.dir.join("jwks.json"),
            json!({ "keys": self.keys }).to_string(),
        )
        .unwrap();
        let log = std::fs::File::create(self.dir.join("provider.log")).unwrap();
        let mut child = Command::new("node")
            .arg(support_dir().join("provider.mjs"))
            .arg("serve")
            .arg(self.dir.join("config.json"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("starting the OpenID provider");
        let discovery = format!("{}/.well-known/openid-configuration", self.issuer);
        let up = wait_for_server(Some(&mut child), Duration::from_secs(20), || {
            std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
        });
        assert!(
            up,
            "the OpenID provider did not start ({discovery}): {}",
            std::fs::read_to_string(self.dir.join("provider.log")).unwrap_or_default()
        );
        self.child = Some(child);
    }

    /// Stops the provider (it is down until `restart`).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn restart(&mut self) {
        self.stop();
        self.run();
    }

    /// A new signing key first, the old one still published (as providers rotate), restarted.
    pub fn rotate_keys(&mut self, kid: &str) {
        self.keys.insert(0, new_key(kid));
        self.restart();
    }

    /// Who signs in next (the person at the keyboard).
    pub fn sign_in_as(&mut self, sub: &str) {
        self.current = sub.to_owned();
        self.write_users();
    }

    /// Changes a person's groups at the provider.
    pub fn set_groups(&mut self, sub: &str, groups: &[&str]) {
        for user in self.users.iter_mut().filter(|u| u.sub == sub) {
            user.groups = groups.iter().map(|g| g.to_string()).collect();
        }
        self.write_users();
    }

    pub fn set_amr(&mut self, sub: &str, amr: &[&str]) {
        for user in self.users.iter_mut().filter(|u| u.sub == sub) {
            user.amr = amr.iter().map(|g| g.to_string()).collect();
        }
        self.write_users();
    }

    /// A test-only change to the ID token in the token response (None: real tokens).
    pub fn tamper(&mut self, mode: Option<&str>) {
        self.tamper = mode.map(str::to_owned);
        self.write_users();
    }
}

impl Drop for TestProvider {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Tipsa's configuration of the test provider: groups map to roles and teams.
pub fn provider_settings(issuer: &str) -> ProviderSettings {
    let mapping = |group: &str, roles: &[&str], teams: &[&str]| GroupMapping {
        group: group.to_owned(),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        teams: teams.iter().map(|t| t.to_string()).collect(),
    };
    ProviderSettings {
        id: PROVIDER.to_owned(),
        display_name_sv: "Testmyndighetens inloggning".to_owned(),
        display_name_en: "the test authority's sign-in".to_owned(),
        issuer: issuer.to_owned(),
        client_id: CLIENT_ID.to_owned(),
        client_secret: Some(CLIENT_SECRET.to_owned().into()),
        client_secret_file: None,
        scopes: ["openid", "profile", "email", "groups"]
            .map(String::from)
            .to_vec(),
        redirect_url: None,
        post_logout_redirect_url: None,
        claims: ClaimNames::default(),
        required_acr: vec![],
        required_amr: vec!["mfa".into()],
        mappings: vec![
            mapping("tipsa-syd", &["inspector"], &["syd"]),
            mapping("tipsa-ost", &["inspector"], &["ost"]),
            mapping("tipsa-triage", &["triage_lead"], &[]),
            mapping("tipsa-admin", &["admin"], &[]),
        ],
    }
}

/// Tipsa and its provider.
pub struct SsoSite {
    pub app: TestApp,
    pub idp: TestProvider,
}

/// Starts a provider with `users` and Tipsa configured for it; `adjust` changes the rest.
pub async fn start(users: Vec<IdpUser>, adjust: impl FnOnce(&mut Settings)) -> SsoSite {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let idp = TestProvider::start(&base, users);
    let issuer = idp.issuer.clone();
    let app = spawn_app_with(|settings| {
        settings.server.port = port;
        settings.notify.public_base_url = base.clone();
        settings.auth.oidc.providers = vec![provider_settings(&issuer)];
        settings.auth.oidc.local_login = LocalLogin::All;
        adjust(settings);
    })
    .await;
    SsoSite { app, idp }
}

/// A client that keeps cookies and shows every redirect (followed by hand); it prefers
/// English pages.
pub fn client() -> Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::ACCEPT_LANGUAGE,
        reqwest::header::HeaderValue::from_static("en"),
    );
    Client::builder()
        .default_headers(headers)
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn location(response: &Response) -> Url {
    let location = response
        .headers()
        .get("location")
        .unwrap_or_else(|| panic!("a redirect from {}", response.url()))
        .to_str()
        .unwrap();
    response.url().join(location).unwrap()
}

/// Starts a sign-in at Tipsa and follows the provider's redirects until it sends the browser
/// back to Tipsa; the callback URL (with the code and state), not yet opened.
pub async fn callback_url(site: &SsoSite, client: &Client) -> Url {
    let start = client
        .get(
            site.app
                .url(&format!("/inspektor/sso/{PROVIDER}?next=/inspektor")),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), StatusCode::SEE_OTHER, "starting a sign-in");
    let mut url = location(&start);
    assert!(
        url.as_str().starts_with(&site.idp.issuer),
        "to the provider"
    );
    for _ in 0..10 {
        if url.as_str().starts_with(&site.app.address) {
            return url;
        }
        let response = client.get(url.clone()).send().await.unwrap();
        if !response.status().is_redirection() {
            let (status, path) = (response.status(), response.url().path().to_owned());
            let body = response.text().await.unwrap_or_default();
            panic!("the provider answered {status} at {path}: {body}");
        }
        url = location(&response);
    }
    panic!("the provider never sent the browser back");
}

/// Opens the callback URL.
pub async fn open(client: &Client, url: &Url) -> Response {
    client.get(url.clone()).send().await.unwrap()
}

/// A whole sign-in; the callback's answer.
pub async fn sign_in(site: &SsoSite, client: &Client) -> Response {
    let url = callback_url(site, client).await;
    open(client, &url).await
}

/// The URL a page moves on to by itself (meta refresh), unescaped.
pub fn refresh_target(page: &str) -> String {
    let start = page
        .find("content=\"0;url=")
        .unwrap_or_else(|| panic!("a meta refresh in {page}"))
        + "content=\"0;url=".len();
    let end = start + page[start..].find('"').unwrap();
    unescape(&page[start..end])
}

/// Undoes the HTML escaping of an attribute value (named and numeric references).
pub fn unescape(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let Some(end) = rest[at..].find(';') else {
            break;
        };
        let entity = &rest[at + 1..at + end];
        let decoded = match entity {
            "amp" => Some('&'),
            "quot" => Some('"'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => out.push(c),
            None => out.push_str(&rest[at..=at + end]),
        }
        rest = &rest[at + end + 1..];
    }
    out.push_str(rest);
    out
}
