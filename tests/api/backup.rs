//! Backup and restore as the README describes it: a database filled through the real HTTP
//! interface is dumped with `pg_dump -Fc`, restored with `pg_restore` into a fresh database and
//! served again with the same keys — and everything is still there and still opens.

use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use diesel::sql_types::Text;
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tipsa::crypto::Crypto;

use crate::files::uploaded_id;
use crate::helpers::{TestApp, TestDatabase, postgres_tool, spawn_app_on, valid_tip};
use crate::people::{Person, signed_in};

/// The service's two configured keys (the attachment key derives from the contact key in
/// `Crypto::from_keys`).
#[derive(Clone, Copy)]
pub struct Keys {
    receipt_hmac: [u8; 32],
    contact: [u8; 32],
}

impl Keys {
    pub fn random() -> Self {
        let mut bytes = [0u8; 64];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
        Keys {
            receipt_hmac: bytes[..32].try_into().unwrap(),
            contact: bytes[32..].try_into().unwrap(),
        }
    }

    pub fn crypto(self) -> Crypto {
        Crypto::from_keys(self.receipt_hmac, self.contact)
    }

    /// The same keys as configuration, as an operator would give them to `tipsa`.
    pub fn environment(self) -> Vec<(&'static str, String)> {
        let attachment: [u8; 32] = Sha256::digest(self.contact).into();
        vec![
            (
                "TIPSA__SECRETS__RECEIPT_HMAC_KEY",
                BASE64.encode(self.receipt_hmac),
            ),
            ("TIPSA__SECRETS__ACTIVE_CONTACT_KEY", "k1".into()),
            (
                "TIPSA__SECRETS__CONTACT_KEYS__K1",
                BASE64.encode(self.contact),
            ),
            ("TIPSA__SECRETS__ACTIVE_ATTACHMENT_KEY", "a1".into()),
            (
                "TIPSA__SECRETS__ATTACHMENT_KEYS__A1",
                BASE64.encode(attachment),
            ),
        ]
    }
}

#[derive(diesel::QueryableByName)]
struct Line {
    #[diesel(sql_type = Text)]
    line: String,
}

async fn lines(db: &TestDatabase, sql: &str) -> Vec<String> {
    let mut conn = db.connect().await;
    diesel::sql_query(sql)
        .load::<Line>(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .into_iter()
        .map(|l| l.line)
        .collect()
}

/// Every row of every table (as text, sorted) and every sequence's position.
async fn contents(db: &TestDatabase) -> Vec<(String, Vec<String>)> {
    let tables = lines(
        db,
        "SELECT tablename AS line FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
    )
    .await;
    let mut out = Vec::new();
    for table in tables {
        let rows = lines(
            db,
            &format!("SELECT t::text AS line FROM public.{table} t ORDER BY 1"),
        )
        .await;
        out.push((table, rows));
    }
    let sequences = lines(
        db,
        "SELECT sequencename || '=' || coalesce(last_value::text, '-') AS line \
         FROM pg_sequences WHERE schemaname = 'public' ORDER BY 1",
    )
    .await;
    out.push(("sequences".into(), sequences));
    out
}

fn run_tool(name: &str, args: &[&str]) {
    let output = Command::new(postgres_tool(name))
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `tipsa audit verify` on `db` with `keys` given as configuration; (success, output).
fn audit_verify(db: &TestDatabase, keys: Keys) -> (bool, String) {
    let config = std::env::temp_dir().join(format!("tipsa-backup-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&config).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_tipsa"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("TIPSA_CONFIG_DIR", &config)
        .env("TIPSA__ENVIRONMENT", "production")
        .env("TIPSA__NOTIFY__TRANSPORT", "smtp")
        .env("TIPSA__DATABASE__URL", &db.url)
        .envs(keys.environment())
        .args(["audit", "verify"])
        .output()
        .unwrap();
    std::fs::remove_dir_all(&config).unwrap();
    (
        output.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

fn small_png() -> Vec<u8> {
    let image =
        image::RgbImage::from_fn(24, 16, |x, y| image::Rgb([x as u8 * 10, y as u8 * 15, 90]));
    let mut png = Vec::new();
    image
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    png
}

async fn submit(app: &TestApp, body: &Value) -> Value {
    let response = app.submit(body).await;
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

async fn post(app: &TestApp, path: &str, token: Option<&str>, body: Value) -> reqwest::Response {
    let mut request = app.client.post(app.url(path)).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

async fn json_of(app: &TestApp, path: &str) -> Value {
    let response = app.get(path).await;
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

/// The inspector's tip page, then its form to reveal the contact details (with a reason).
async fn reveal_contact(person: &Person, app: &TestApp, tip_id: &str) -> reqwest::Response {
    let tip_path = format!("/inspektor/tips/{tip_id}");
    person
        .post_form(
            app,
            &tip_path,
            &format!("{tip_path}/kontakt"),
            &[("reason", "Behöver fråga om datum")],
        )
        .await
}

fn stats_query() -> String {
    let today = chrono::Utc::now().date_naive();
    format!(
        "/api/v1/stats?from={}&to={}&group_by=region_code",
        today - chrono::Days::new(2),
        today + chrono::Days::new(2)
    )
}

#[tokio::test]
async fn a_restored_dump_serves_the_same_tips_receipts_contacts_and_audit_chain() {
    let keys = Keys::random();
    let app = spawn_app_on(TestDatabase::new().await, keys.crypto(), |_| {}).await;

    // A tip with contact details and a picture, a question to its tipster and the reply.
    let picture = uploaded_id(&app, "foto.png", small_png()).await;
    let mut with_contact = valid_tip();
    with_contact["reporter"] =
        json!({"name": "Karin Lund", "email": "karin@example.se", "phone": "070-123 45 67"});
    with_contact["attachments"] = json!([picture]);
    let tip = submit(&app, &with_contact).await;
    let tip_id = tip["id"].as_str().unwrap().to_owned();
    let code = tip["receipt_code"].as_str().unwrap().to_owned();
    let asked = post(
        &app,
        &format!("/api/v1/tips/{tip_id}/messages"),
        Some(&app.token),
        json!({"body": "Vilken avdelning gäller det?"}),
    )
    .await;
    assert_eq!(asked.status(), 201);
    let replied = post(
        &app,
        "/api/v1/follow-up/messages",
        None,
        json!({"receipt_code": code, "body": "Avdelning 3, nattetid."}),
    )
    .await;
    assert_eq!(replied.status(), 201);
    // More tips: in the same region, one elsewhere and one tagged with an outbreak.
    let mut others = Vec::new();
    for n in 0..5 {
        let mut body = valid_tip();
        body["description"] = json!(format!("Tips nummer {n}: larmen besvaras inte nattetid."));
        others.push(submit(&app, &body).await);
    }
    let mut skane = valid_tip();
    skane["region_code"] = json!("12");
    skane["municipality_code"] = json!("1280");
    others.push(submit(&app, &skane).await);
    let mut outbreak = valid_tip();
    outbreak["outbreak"] = json!("covid-19");
    others.push(submit(&app, &outbreak).await);

    // An inspector reads the tip and reveals the contact details (both audited).
    let team = app.state.triage.team_for_region("01").to_owned();
    let anna = signed_in(&app, "anna@ivo.example", &["inspector"], &[team.as_str()]).await;
    let revealed = reveal_contact(&anna, &app, &tip_id).await;
    assert_eq!(revealed.status(), 200);
    assert!(revealed.text().await.unwrap().contains("karin@example.se"));

    // What the API says before the backup.
    let tip_paths: Vec<String> = std::iter::once(tip_id.clone())
        .chain(others.iter().map(|t| t["id"].as_str().unwrap().to_owned()))
        .map(|id| format!("/api/v1/tips/{id}"))
        .collect();
    let mut before_api = Vec::new();
    for path in &tip_paths {
        before_api.push(json_of(&app, path).await);
    }
    let before_stats = json_of(&app, &stats_query()).await;
    let files: Value = json_of(&app, &format!("/api/v1/tips/{tip_id}/attachments")).await;
    let download_path = files[0]["download_url"].as_str().unwrap().to_owned();
    let before_file = app.get(&download_path).await.bytes().await.unwrap();
    assert!(!before_file.is_empty());

    // The backup, a fresh database, the restore.
    let before = contents(&app.db).await;
    let dump = std::env::temp_dir().join(format!("tipsa-backup-{}.dump", uuid::Uuid::new_v4()));
    run_tool(
        "pg_dump",
        &[
            "-Fc",
            "--no-owner",
            "-f",
            dump.to_str().unwrap(),
            &app.db.url,
        ],
    );
    assert_eq!(
        contents(&app.db).await,
        before,
        "nothing moved during the dump"
    );
    let restored = TestDatabase::empty().await;
    run_tool(
        "pg_restore",
        &[
            "--no-owner",
            "--exit-on-error",
            "-d",
            &restored.url,
            dump.to_str().unwrap(),
        ],
    );
    std::fs::remove_file(&dump).unwrap();
    // Table by table, row by row — rollups (tip_daily_counts) were restored, not recounted by
    // their triggers, and every sequence stands where it stood.
    let after = contents(&restored).await;
    assert_eq!(after.len(), before.len());
    for ((table, rows), (restored_table, restored_rows)) in before.iter().zip(&after) {
        assert_eq!(table, restored_table);
        assert_eq!(rows, restored_rows, "table {table}");
    }
    let stored = |table: &str| before.iter().find(|(t, _)| t == table).unwrap().1.len();
    assert_eq!(stored("tips"), 8);
    assert!(stored("audit_log") >= 3 && stored("attachment_chunks") >= 1);
    assert!(stored("tip_daily_counts") >= 3);

    // Served again from the restored database with the same keys.
    let again = spawn_app_on(restored, keys.crypto(), |_| {}).await;
    for (path, before) in tip_paths.iter().zip(&before_api) {
        assert_eq!(&json_of(&again, path).await, before, "{path}");
    }
    let after_stats = json_of(&again, &stats_query()).await;
    assert_eq!(after_stats, before_stats);
    assert_eq!(after_stats["source"], "rollup");
    assert_eq!(after_stats["total"], 8, "{after_stats}");
    // The receipt code still opens the follow-up, with the conversation.
    let follow_up = post(
        &again,
        "/api/v1/follow-up",
        None,
        json!({"receipt_code": code}),
    )
    .await;
    assert_eq!(follow_up.status(), 200);
    let follow_up: Value = follow_up.json().await.unwrap();
    assert_eq!(
        follow_up["messages"][0]["body"],
        "Vilken avdelning gäller det?"
    );
    assert_eq!(follow_up["messages"][1]["body"], "Avdelning 3, nattetid.");
    // The contact details still open for the inspector (her session was restored too).
    let revealed = reveal_contact(&anna, &again, &tip_id).await;
    assert_eq!(revealed.status(), 200);
    let page = revealed.text().await.unwrap();
    assert!(page.contains("karin@example.se") && page.contains("Karin Lund"));
    // The picture downloads byte for byte.
    let after_file = again.get(&download_path).await.bytes().await.unwrap();
    assert_eq!(after_file, before_file);
    // A new tip continues the reference sequence instead of reusing a number.
    let next = submit(&again, &valid_tip()).await;
    let number = |reference: &str| {
        reference
            .rsplit('-')
            .next()
            .unwrap()
            .parse::<u32>()
            .unwrap()
    };
    let highest = before_api
        .iter()
        .map(|t| number(t["reference"].as_str().unwrap()))
        .max()
        .unwrap();
    assert_eq!(number(next["reference"].as_str().unwrap()), highest + 1);

    // The audit chain (keyed with the receipt HMAC key) verifies with the keys, and only so.
    let (ok, output) = audit_verify(&again.db, keys);
    assert!(ok, "{output}");
    assert!(output.contains("The audit log is intact"), "{output}");
    let (ok, output) = audit_verify(&again.db, Keys::random());
    assert!(!ok && output.contains("broken at row"), "{output}");
}
