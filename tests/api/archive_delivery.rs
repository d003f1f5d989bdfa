//! The archive package delivered otherwise: as one tar file (read back with GNU tar, checked
//! by `verify-package` from the tar itself), and with attachments kept in S3-compatible
//! object storage (moto, tests/api/s3.rs) rather than PostgreSQL.

use std::path::PathBuf;
use std::process::Command;

use serde_json::json;

use crate::archive_support::{Tipsa, close, closed_at, printed, read_package, submit, tip_with};
use crate::backup::Keys;
use crate::files::{count, uploaded_id};
use crate::helpers::spawn_app_with_crypto;
use crate::s3::MotoServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_package_can_be_delivered_as_one_tar_file_and_verified_as_such() {
    let keys = Keys::random();
    let app = spawn_app_with_crypto(|_| {}, keys.crypto()).await;
    let tipsa = Tipsa::new(&app, keys);
    let text_file = "Bemanningslista för december.\n".repeat(10).into_bytes();
    let file_id = uploaded_id(&app, "lista.txt", text_file.clone()).await;
    let mut case = tip_with(
        "Tips T: ett tillsynsärende som levereras som tar-fil.",
        None,
    );
    case["attachments"] = json!([file_id]);
    let (case_id, case_ref, _) = submit(&app, &case).await;
    close(&app, &case_id, "case_opened").await;
    closed_at(&app, &case_id, "2026-05-04 09:00:00+02").await;

    let out = tipsa.var.with_file_name("out");
    let exported = tipsa.run(&[
        "records",
        "archive",
        "--from",
        "2026-05-01",
        "--to",
        "2026-06-01",
        "--out",
        out.to_str().unwrap(),
        "--tar",
    ]);
    assert!(exported.status.success(), "{}", printed(&exported));
    let tar_path = PathBuf::from(
        String::from_utf8(exported.stdout.clone())
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    );
    let name = tar_path.file_name().unwrap().to_str().unwrap().to_owned();
    let package_id = name.strip_suffix(".tar").unwrap().to_owned();
    assert!(package_id.starts_with("tipsa-2026-05-01--2026-06-01-"));
    let left: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, vec![name.clone()], "only the tar file is delivered");

    // GNU tar reads it: one top-level directory, METS.xml first, the attachment inside.
    let listing = Command::new("tar")
        .arg("-tf")
        .arg(&tar_path)
        .output()
        .unwrap();
    assert!(listing.status.success());
    let entries: Vec<String> = String::from_utf8(listing.stdout)
        .unwrap()
        .lines()
        .map(|l| l.trim_end_matches('/').to_owned())
        .collect();
    assert_eq!(entries[0], package_id);
    assert_eq!(entries[1], format!("{package_id}/METS.xml"));
    assert!(entries.iter().all(|e| e.starts_with(&package_id)));
    let attachment =
        format!("{package_id}/representations/rep1/data/{case_ref}/attachments/bilaga-1.txt");
    assert!(entries.contains(&attachment), "{entries:?}");
    let extracted = Command::new("tar")
        .arg("-xOf")
        .arg(&tar_path)
        .arg(&attachment)
        .output()
        .unwrap();
    assert_eq!(extracted.stdout, text_file);

    let verify = || tipsa.run(&["records", "verify-package", tar_path.to_str().unwrap()]);
    let intact = verify();
    assert!(intact.status.success(), "{}", printed(&intact));
    assert!(printed(&intact).contains(&format!("Package {package_id} is intact")));

    // One byte of the tip's text changed inside the tar file is found and named.
    let mut bytes = std::fs::read(&tar_path).unwrap();
    let needle = "som levereras som tar-fil".as_bytes();
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap();
    bytes[at] ^= 0x01;
    std::fs::write(&tar_path, &bytes).unwrap();
    let tampered = verify();
    assert!(!tampered.status.success());
    assert!(
        printed(&tampered).contains(&format!(
            "representations/rep1/data/{case_ref}/record.xml: SHA-256 differs"
        )),
        "{}",
        printed(&tampered)
    );
}

/// Attachments kept in object storage are read from the bucket like those in PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachments_in_object_storage_are_archived_from_the_bucket() {
    let moto = MotoServer::start();
    let bucket = "tipsa-archive";
    moto.create_bucket(bucket).await;
    let keys = Keys::random();
    let app = spawn_app_with_crypto(
        |s| {
            moto.configure(s, bucket);
            s.attachments.chunk_bytes = 64 * 1024;
        },
        keys.crypto(),
    )
    .await;
    let tipsa = Tipsa::new(&app, keys);
    // Several chunks, so the file is put together from several objects.
    let text: Vec<u8> = (0..6000)
        .map(|i| format!("rad {i:06} i en loggbok från nattpasset\n"))
        .collect::<String>()
        .into_bytes();
    let file_id = uploaded_id(&app, "logg.txt", text.clone()).await;
    let mut case = tip_with("Tips S: bilagan ligger i objektlagringen.", None);
    case["attachments"] = json!([file_id]);
    let (case_id, case_ref, _) = submit(&app, &case).await;
    close(&app, &case_id, "case_opened").await;
    closed_at(&app, &case_id, "2026-02-02 09:00:00+01").await;
    assert_eq!(count(&app, "SELECT 1 FROM attachment_chunks").await, 0);
    assert!(count(&app, "SELECT 1 FROM attachments WHERE chunk_count > 2").await == 1);

    let storage: Vec<(String, String)> = [
        ("KIND", "s3".to_owned()),
        ("S3__BUCKET", bucket.to_owned()),
        ("S3__ENDPOINT", moto.endpoint()),
        ("S3__REGION", crate::s3::REGION.to_owned()),
        ("S3__ACCESS_KEY_ID", "tipsa-test".to_owned()),
        ("S3__SECRET_ACCESS_KEY", "tipsa-test-secret".to_owned()),
        ("S3__ALLOW_HTTP", "true".to_owned()),
        ("S3__PREFIX", "attachments/".to_owned()),
    ]
    .into_iter()
    .map(|(name, value)| (format!("TIPSA__ATTACHMENTS__STORAGE__{name}"), value))
    .collect();
    let out = tipsa.var.with_file_name("out");
    let exported = tipsa.run_with(
        &storage,
        &[
            "records",
            "archive",
            "--from",
            "2026-02-01",
            "--to",
            "2026-03-01",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(exported.status.success(), "{}", printed(&exported));
    let package = PathBuf::from(
        String::from_utf8(exported.stdout.clone())
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    );
    let archived = std::fs::read(package.join(format!(
        "representations/rep1/data/{case_ref}/attachments/bilaga-1.txt"
    )))
    .unwrap();
    assert_eq!(archived, text);
    let read = read_package(&package);
    let listed = read["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["href"].as_str().unwrap().ends_with("bilaga-1.txt"))
        .unwrap()
        .clone();
    assert_eq!(listed["actual_sha256"], listed["checksum"]);
    let verified = tipsa.run(&["records", "verify-package", package.to_str().unwrap()]);
    assert!(verified.status.success(), "{}", printed(&verified));
}
