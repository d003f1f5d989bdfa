//! Test support for the public-records tests: an identified tip with known contact details,
//! an identity number and a conversation; requests registered and changed over the API; the
//! text of an HTML copy by Python's `html.parser`; and what a redacted copy must (not) hold.

use std::io::Write as _;
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, valid_tip};

/// The description of the identified tip, sentence by sentence.
pub const KEPT_1: &str = "Nattetid är en undersköterska ensam med trettio boende på Solgläntan.";
pub const WITHHELD: &str = "Brukaren Åke Ström på rum 12 har svår demens och fick fel insulindos.";
pub const PNR_SENTENCE: &str = "Hans personnummer är 811218-9876 enligt journalen.";
pub const PNR: &str = "811218-9876";
pub const KEPT_2: &str = "Chefen säger att bemanningen inte räcker till.";
/// The reporter's contact details.
pub const NAME: &str = "Karin Lundqvist";
pub const EMAIL: &str = "karin.lundqvist@example.se";
pub const PHONE: &str = "070-987 65 43";
/// The conversation: a question, and an answer whose first part is withheld.
pub const QUESTION: &str = "Vilka nätter gäller det?";
pub const ANSWER_SECRET: &str = "Min kollega Berit Sjöholm";
pub const ANSWER_KEPT: &str = " såg det också alla nätter i veckan.";
/// Who asked for the documents.
pub const REQUESTER: &str = "Journalist Olle Granlund, olle.granlund@tidning.example";

pub fn description() -> String {
    format!("{KEPT_1} {WITHHELD}\n{PNR_SENTENCE} {KEPT_2}")
}

/// A tip with all the above.
pub struct Fixture {
    pub id: Uuid,
    pub reference: String,
    pub reply_id: Uuid,
}

/// Characters (not bytes) before `needle` in `haystack`.
pub fn char_offset(haystack: &str, needle: &str) -> i64 {
    let at = haystack.find(needle).expect("the needle is in the text");
    i64::try_from(haystack[..at].chars().count()).unwrap()
}

pub fn chars(text: &str) -> i64 {
    i64::try_from(text.chars().count()).unwrap()
}

async fn post(app: &TestApp, path: &str, token: Option<&str>, body: Value) -> reqwest::Response {
    let mut request = app.client.post(app.url(path)).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

/// Submits the identified tip (region 12: team syd) and has the conversation.
pub async fn identified_tip(app: &TestApp) -> Fixture {
    let mut body = valid_tip();
    body["region_code"] = json!("12");
    body["municipality_code"] = json!("1280");
    body["description"] = json!(description());
    body["reporter"] = json!({ "name": NAME, "email": EMAIL, "phone": PHONE });
    let created: Value = app.submit(&body).await.json().await.unwrap();
    let id: Uuid = created["id"].as_str().unwrap().parse().unwrap();
    let code = created["receipt_code"].as_str().unwrap().to_owned();
    let asked = post(
        app,
        &format!("/api/v1/tips/{id}/messages"),
        Some(&app.token),
        json!({ "body": QUESTION }),
    )
    .await;
    assert_eq!(asked.status(), 201);
    let replied = post(
        app,
        "/api/v1/follow-up/messages",
        None,
        json!({ "receipt_code": code, "body": format!("{ANSWER_SECRET}{ANSWER_KEPT}") }),
    )
    .await;
    assert!(replied.status().is_success(), "{}", replied.status());
    let messages: Value = app
        .get(&format!("/api/v1/tips/{id}/messages"))
        .await
        .json()
        .await
        .unwrap();
    let find = |body: &str| -> Uuid {
        messages
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["body"] == body)
            .unwrap_or_else(|| panic!("message {body:?} in {messages}"))["id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    Fixture {
        id,
        reference: created["reference"].as_str().unwrap().to_owned(),
        reply_id: find(&format!("{ANSWER_SECRET}{ANSWER_KEPT}")),
    }
}

/// POST /records-requests; the response.
pub async fn register(app: &TestApp, token: &str, body: Value) -> reqwest::Response {
    post(app, "/api/v1/records-requests", Some(token), body).await
}

/// Registers a request for `tips` and returns its JSON.
pub async fn registered(app: &TestApp, token: &str, tips: &[&str]) -> Value {
    let response = register(
        app,
        token,
        json!({ "received_on": "2026-11-20", "requester": REQUESTER, "tips": tips }),
    )
    .await;
    assert_eq!(response.status(), 201);
    assert!(response.headers().contains_key("location"));
    response.json().await.unwrap()
}

/// A change under `If-Match: "v<version>"`.
pub async fn send(
    app: &TestApp,
    token: &str,
    method: reqwest::Method,
    path: &str,
    version: &Value,
    body: Value,
) -> reqwest::Response {
    app.client
        .request(method, app.url(path))
        .bearer_auth(token)
        .header("If-Match", format!("\"v{version}\""))
        .json(&body)
        .send()
        .await
        .unwrap()
}

pub async fn put_redactions(
    app: &TestApp,
    token: &str,
    request: &Value,
    tip: Uuid,
    redactions: Value,
) -> reqwest::Response {
    send(
        app,
        token,
        reqwest::Method::PUT,
        &format!(
            "/api/v1/records-requests/{}/tips/{tip}/redactions",
            request["id"].as_str().unwrap()
        ),
        &request["version"],
        json!({ "redactions": redactions }),
    )
    .await
}

pub async fn decide(app: &TestApp, token: &str, request: &Value, body: Value) -> reqwest::Response {
    send(
        app,
        token,
        reqwest::Method::POST,
        &format!(
            "/api/v1/records-requests/{}/decision",
            request["id"].as_str().unwrap()
        ),
        &request["version"],
        body,
    )
    .await
}

pub async fn approve(
    app: &TestApp,
    token: &str,
    request: &Value,
    body: Value,
) -> reqwest::Response {
    send(
        app,
        token,
        reqwest::Method::POST,
        &format!(
            "/api/v1/records-requests/{}/approval",
            request["id"].as_str().unwrap()
        ),
        &request["version"],
        body,
    )
    .await
}

/// The visible text of an HTML document, by Python's `html.parser` (style contents left out,
/// attribute values and comments gathered separately so a test can look there too).
pub fn html_text(html: &str) -> (String, String) {
    const SCRIPT: &str = r#"
import sys, json
from html.parser import HTMLParser
class P(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.text, self.other, self.skip = [], [], 0
    def handle_starttag(self, tag, attrs):
        if tag in ("style", "script"): self.skip += 1
        self.other.extend(v or "" for _, v in attrs)
    def handle_endtag(self, tag):
        if tag in ("style", "script"): self.skip -= 1
    def handle_data(self, data):
        (self.other if self.skip else self.text).append(data)
    def handle_comment(self, data):
        self.other.append(data)
p = P()
p.feed(sys.stdin.read())
print(json.dumps({"text": "".join(p.text), "other": "\n".join(p.other)}))
"#;
    let mut child = Command::new("python3")
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 (for html.parser)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(html.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    let parsed: Value = serde_json::from_slice(&output.stdout).unwrap();
    (
        parsed["text"].as_str().unwrap().to_owned(),
        parsed["other"].as_str().unwrap().to_owned(),
    )
}

/// Asserts what a produced copy of the fixture's tip must and must not hold.
pub fn assert_redacted_copy(html: &str, fixture: &Fixture) {
    let (text, other) = html_text(html);
    for secret in [
        WITHHELD,
        PNR,
        "9876",
        ANSWER_SECRET,
        "Berit",
        "Åke Ström",
        NAME,
        EMAIL,
        PHONE,
        "Granlund",
    ] {
        assert!(!text.contains(secret), "{secret:?} in the copy's text");
        assert!(!other.contains(secret), "{secret:?} in the copy's markup");
        assert!(!html.contains(secret), "{secret:?} in the copy's bytes");
    }
    // Escaped forms of the withheld text are not there either.
    assert!(!html.contains("&#197;ke") && !html.contains("Str&ouml;m"));
    for kept in [
        KEPT_1,
        KEPT_2,
        "Hans personnummer är ",
        " enligt journalen.",
        QUESTION,
        ANSWER_KEPT.trim(),
        &fixture.reference,
    ] {
        assert!(
            text.contains(kept),
            "{kept:?} is missing from the copy: {text}"
        );
    }
    assert!(
        text.contains("[Uteslutet enligt OSL 25 kap. 1 §]"),
        "{text}"
    );
    assert!(
        text.contains("Uppgifter om anmälaren har uteslutits enligt OSL 25 kap. 1 §"),
        "{text}"
    );
    assert!(text.contains("Grunder för sekretess"));
    assert!(!html.contains("<script") && !html.contains("<link") && !html.contains("src="));
}

/// Settings whose records.toml requires a second approval.
pub fn second_approval_config() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tipsa-records-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let builtin = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/records.toml"),
    )
    .unwrap();
    let changed = builtin.replace(
        "require_second_approval = false",
        "require_second_approval = true",
    );
    assert_ne!(builtin, changed);
    std::fs::write(dir.join("records.toml"), changed).unwrap();
    dir
}
