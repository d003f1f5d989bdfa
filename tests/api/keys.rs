//! Key rotation end to end: a new contact key and a new attachment key become active,
//! `tipsa keys reseal` re-seals what the old ones sealed (contact details, a TOTP secret, a
//! file), and afterwards a service configured with only the new keys opens all of it.

use std::collections::BTreeMap;
use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use secrecy::SecretString;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tipsa::config::SecretSettings;
use tipsa::crypto::Crypto;
use tipsa::db::schema::{attachments, tips, users};
use tipsa::startup::Application;

use crate::files::{identifying_jpeg, uploaded_id};
use crate::helpers::{base_settings, spawn_app_with_crypto, valid_tip};
use crate::people;

fn random_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut key);
    key
}

fn reseal(db_url: &str, keys: &[(&str, String)], args: &[&str]) -> String {
    let var = std::env::temp_dir().join(format!("tipsa-keys-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&var).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_tipsa"));
    command
        .args(["keys", "reseal"])
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("TIPSA_CONFIG_DIR", var.join("no-config"))
        .env("TIPSA__VAR_DIR", &var)
        .env("TIPSA__DATABASE__URL", db_url);
    for (name, value) in keys {
        command.env(format!("TIPSA__SECRETS__{name}"), value);
    }
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test]
async fn resealing_moves_everything_to_the_new_keys_and_the_old_ones_can_go() {
    let (hmac, old_contact) = (random_key(), random_key());
    // What `Crypto::from_keys` uses: contact key "k1", attachment key "a1" derived from it.
    let old_attachment: [u8; 32] = Sha256::digest(old_contact).into();
    let app = spawn_app_with_crypto(|_| {}, Crypto::from_keys(hmac, old_contact)).await;

    let file = uploaded_id(&app, "foto.jpg", identifying_jpeg(32, 24)).await;
    let mut tip = valid_tip();
    tip["reporter"] = json!({"name": "Anna Andersson", "email": "anna@example.se"});
    tip["attachments"] = json!([file]);
    let created = app.submit(&tip).await;
    assert_eq!(created.status(), 201);
    let tip_id: uuid::Uuid = created.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let person = people::signed_in(&app, "totp@ivo.example", &["inspector"], &["syd"]).await;
    let download = format!("/api/v1/tips/{tip_id}/attachments/{file}");
    let before = app.get(&download).await;
    assert_eq!(before.status(), 200);
    let cleaned = before.bytes().await.unwrap();

    let (new_contact, new_attachment) = (random_key(), random_key());
    let both = vec![
        ("RECEIPT_HMAC_KEY", BASE64.encode(hmac)),
        ("CONTACT_KEYS__K1", BASE64.encode(old_contact)),
        ("CONTACT_KEYS__K2", BASE64.encode(new_contact)),
        ("ACTIVE_CONTACT_KEY", "k2".to_owned()),
        ("ATTACHMENT_KEYS__A1", BASE64.encode(old_attachment)),
        ("ATTACHMENT_KEYS__A2", BASE64.encode(new_attachment)),
        ("ACTIVE_ATTACHMENT_KEY", "a2".to_owned()),
    ];
    let planned = reseal(&app.db.url, &both, &["--dry-run"]);
    for line in [
        "contact details to re-seal: 1",
        "TOTP secrets to re-seal: 1",
        "attachments to re-seal: 1",
    ] {
        assert!(planned.contains(line), "{planned}");
    }
    let mut conn = app.db.connect().await;
    let still_old: Option<String> = tips::table
        .find(tip_id)
        .select(tips::contact_key_id)
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        still_old.as_deref(),
        Some("k1"),
        "a dry run changes nothing"
    );

    let done = reseal(&app.db.url, &both, &["--batch", "1"]);
    for line in [
        "contact details re-sealed: 1",
        "TOTP secrets re-sealed: 1",
        "attachments re-sealed: 1",
    ] {
        assert!(done.contains(line), "{done}");
    }
    let again = reseal(&app.db.url, &both, &[]);
    assert!(again.contains("contact details re-sealed: 0"), "{again}");
    assert!(again.contains("attachments re-sealed: 0"), "{again}");

    // Only the new keys from here on.
    let new_only = Crypto::load(
        &SecretSettings {
            receipt_hmac_key: Some(BASE64.encode(hmac).into()),
            active_contact_key: Some("k2".into()),
            contact_keys: BTreeMap::from([(
                "k2".to_owned(),
                SecretString::from(BASE64.encode(new_contact)),
            )]),
            active_attachment_key: Some("a2".into()),
            attachment_keys: BTreeMap::from([(
                "a2".to_owned(),
                SecretString::from(BASE64.encode(new_attachment)),
            )]),
        },
        &std::env::temp_dir(),
    )
    .unwrap();
    let (key_id, sealed): (Option<String>, Option<Vec<u8>>) = tips::table
        .find(tip_id)
        .select((tips::contact_key_id, tips::contact_ciphertext))
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(key_id.as_deref(), Some("k2"));
    let contact = new_only
        .open("k2", &sealed.unwrap(), tip_id.as_bytes())
        .unwrap();
    assert!(
        String::from_utf8(contact)
            .unwrap()
            .contains("anna@example.se")
    );
    let (user_id, totp_key, totp): (uuid::Uuid, Option<String>, Option<Vec<u8>>) = users::table
        .filter(users::email.eq("totp@ivo.example"))
        .select((users::id, users::totp_key_id, users::totp_ciphertext))
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(totp_key.as_deref(), Some("k2"));
    assert_eq!(
        new_only
            .open("k2", &totp.unwrap(), user_id.as_bytes())
            .unwrap(),
        person.secret
    );
    let file_key: String = attachments::table
        .find(file.parse::<uuid::Uuid>().unwrap())
        .select(attachments::key_id)
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(file_key, "a2");

    // A service holding only the new keys serves the file byte for byte as before.
    let mut settings = base_settings();
    settings.server.port = 0;
    settings.server.workers = 1;
    settings.notify.worker_in_serve = false;
    let rotated = Application::build_with_crypto(settings, &app.db.url, new_only)
        .await
        .unwrap();
    let address = format!("http://127.0.0.1:{}", rotated.port());
    tokio::spawn(rotated.run_until_stopped());
    let after = app
        .client
        .get(format!("{address}{download}"))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 200);
    assert_eq!(after.bytes().await.unwrap(), cleaned);
}
