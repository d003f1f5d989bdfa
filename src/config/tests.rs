//! Unit tests of loading and checking the settings (`mod.rs`).

use super::*;
use secrecy::ExposeSecret;

fn write(dir: &Path, name: &str, body: &str) {
    std::fs::write(dir.join(name), body).unwrap();
}

#[test]
fn defaults_load_without_files() {
    let dir = std::env::temp_dir().join(format!("tipsa-cfg-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let settings = Settings::load_from(&dir, "development", false).unwrap();
    assert_eq!(settings.server.port, 8080);
    assert!(settings.database.url.is_none());
    assert!(
        settings
            .intake
            .outbreaks
            .iter()
            .any(|o| o.code == "covid-19")
    );
}

#[test]
fn environment_file_overrides_defaults_and_secrets_do_not_print() {
    let dir = std::env::temp_dir().join(format!("tipsa-cfg-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    write(
        &dir,
        "staging.toml",
        "[database]\nurl = \"postgres://u:hunter2@db/tipsa\"\n[server]\nport = 9000\n",
    );
    let settings = Settings::load_from(&dir, "staging", false).unwrap();
    assert_eq!(settings.server.port, 9000);
    let url = settings.database.url.as_ref().unwrap();
    assert!(url.expose_secret().contains("hunter2"));
    assert!(!format!("{settings:?}").contains("hunter2"));
}

#[test]
fn production_refuses_embedded_defaults() {
    let dir = std::env::temp_dir().join(format!("tipsa-cfg-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    write(&dir, "production.toml", "environment = \"production\"\n");
    let err = Settings::load_from(&dir, "production", false).unwrap_err();
    assert!(err.to_string().contains("database.url"), "{err}");
}

#[test]
fn unknown_settings_are_rejected() {
    let dir = std::env::temp_dir().join(format!("tipsa-cfg-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    write(&dir, "local.toml", "[server]\nprot = 1\n");
    let err = Settings::load_from(&dir, "development", false).unwrap_err();
    assert!(format!("{err:#}").contains("prot"), "{err:#}");
}

fn load_local(body: &str) -> anyhow::Result<Settings> {
    let dir = std::env::temp_dir().join(format!("tipsa-cfg-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    write(&dir, "local.toml", body);
    Settings::load_from(&dir, "development", false)
}

#[test]
fn attachments_storage_defaults_to_postgres_and_s3_is_checked() {
    let defaults = load_local("").unwrap();
    assert_eq!(defaults.attachments.storage.kind, StorageKind::Postgres);
    assert_eq!(defaults.attachments.storage.s3.prefix, "attachments/");
    assert!(!defaults.attachments.storage.s3.allow_http);

    let s3 = "[attachments.storage]\nkind = \"s3\"\n[attachments.storage.s3]\n";
    let full = format!(
        "{s3}bucket = \"b\"\nregion = \"us-east-1\"\nendpoint = \"http://127.0.0.1:9000\"\naccess_key_id = \"id\"\nsecret_access_key = \"hunter2\"\nallow_http = true\n"
    );
    let settings = load_local(&full).unwrap();
    assert_eq!(settings.attachments.storage.kind, StorageKind::S3);
    assert!(!format!("{settings:?}").contains("hunter2"));

    for (body, needle) in [
        (format!("{s3}region = \"r\"\n"), "bucket"),
        (format!("{s3}bucket = \"b\"\n"), "region"),
        (
            format!("{s3}bucket = \"b\"\nregion = \"r\"\naccess_key_id = \"id\"\n"),
            "secret_access_key",
        ),
        (
            format!("{s3}bucket = \"b\"\nregion = \"r\"\nprefix = \"files\"\n"),
            "prefix",
        ),
        (
            format!("{s3}bucket = \"b\"\nregion = \"r\"\nendpoint = \"minio:9000\"\n"),
            "endpoint",
        ),
        (
            format!("{s3}bucket = \"b\"\nregion = \"r\"\nbuckets = \"x\"\n"),
            "buckets",
        ),
        (
            "[attachments.storage]\nkind = \"disk\"\n".to_owned(),
            "disk",
        ),
    ] {
        let err = load_local(&body).unwrap_err();
        assert!(format!("{err:#}").contains(needle), "{needle}: {err:#}");
    }
}
