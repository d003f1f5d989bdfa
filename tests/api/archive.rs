//! The archive export end to end: tips created and worked through the real HTTP API, closed
//! into and around a period (closure times set with SQL), exported by the real
//! `tipsa records archive` binary, and the package then read back independently — METS,
//! PREMIS and every record parsed by Python's XML parser, every SHA-256 recomputed — before
//! `tipsa records verify-package` is shown to pass and to catch a changed, a missing and an
//! unlisted file.

use std::path::{Path, PathBuf};

use diesel::sql_types::Text;
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};

use crate::archive_support::{Tipsa, close, closed_at, printed, read_package, submit, tip_with};
use crate::backup::Keys;
use crate::files::{count, execute, identifying_jpeg, uploaded_id};
use crate::helpers::spawn_app_with_crypto;

/// Every byte of every file in the package, with its relative path.
fn all_files(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            all_files(root, &path, out);
        } else {
            let relative = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            out.push((relative, std::fs::read(&path).unwrap()));
        }
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

#[derive(diesel::QueryableByName)]
struct Detail {
    #[diesel(sql_type = Text)]
    actor: String,
    #[diesel(sql_type = Text)]
    detail: String,
}

const CASE_CONTACT: [&str; 3] = [
    "Ylva Kontaktsson",
    "ylva.kontakt@example.se",
    "070-111 22 33",
];
const RISK_CONTACT: [&str; 3] = [
    "Bertil Hemligsson",
    "bertil.hemlig@example.se",
    "070-444 55 66",
];
const DISPOSE_CONTACT: [&str; 3] = ["Doris Gallrad", "doris.gallrad@example.se", "070-777 88 99"];

fn contact(values: [&str; 3]) -> Option<Value> {
    Some(json!({"name": values[0], "email": values[1], "phone": values[2]}))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kept_tips_are_packaged_read_back_verified_and_tampering_is_caught() {
    let keys = Keys::random();
    let app = spawn_app_with_crypto(|_| {}, keys.crypto()).await;
    let tipsa = Tipsa::new(&app, keys);

    // A: a case (kept with contact details), with a text file and a photo, and a conversation.
    let text_file = "Schema vecka 47: natt 2 personal.\n"
        .repeat(20)
        .into_bytes();
    let text_id = uploaded_id(&app, "schema.txt", text_file.clone()).await;
    let photo_id = uploaded_id(&app, "IMG_2041.jpg", identifying_jpeg(64, 48)).await;
    let mut case = tip_with(
        "Tips A: nattpersonalen saknar rutiner för fallprevention på avdelning 3.",
        contact(CASE_CONTACT),
    );
    case["attachments"] = json!([text_id, photo_id]);
    let (case_id, case_ref, case_code) = submit(&app, &case).await;
    let question = "Vilken avdelning gäller det, och vilka nätter?";
    let asked = app
        .client
        .post(app.url(&format!("/api/v1/tips/{case_id}/messages")))
        .bearer_auth(&app.token)
        .json(&json!({"body": question}))
        .send()
        .await
        .unwrap();
    assert_eq!(asked.status(), 201);
    let reply = "Avdelning 3, alla nätter sedan i måndags.";
    let replied = app
        .client
        .post(app.url("/api/v1/follow-up/messages"))
        .json(&json!({"receipt_code": case_code, "body": reply}))
        .send()
        .await
        .unwrap();
    assert_eq!(replied.status(), 201);
    close(&app, &case_id, "case_opened").await;
    closed_at(&app, &case_id, "2026-01-01 00:30:00+01").await;
    // The photo as the service hands it out (cleaned of its metadata): the archive must hold
    // exactly these bytes.
    let listing: Value = app
        .get(&format!("/api/v1/tips/{case_id}/attachments"))
        .await
        .json()
        .await
        .unwrap();
    let photo_url = listing
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == photo_id.as_str())
        .unwrap()["download_url"]
        .as_str()
        .unwrap()
        .to_owned();
    let photo = app.get(&photo_url).await.bytes().await.unwrap().to_vec();

    // B: a risk signal, kept without the reporter's identity.
    let (risk_id, risk_ref, _) = submit(
        &app,
        &tip_with(
            "Tips B: upprepade klagomål på läkemedelshanteringen.",
            contact(RISK_CONTACT),
        ),
    )
    .await;
    close(&app, &risk_id, "risk_signal").await;
    closed_at(&app, &risk_id, "2026-06-15 12:00:00+02").await;
    // C: anonymous, referred: no rule matches, so it is kept.
    let (referred_id, referred_ref, _) = submit(
        &app,
        &tip_with(
            "Tips C: gäller egentligen en annan myndighets ansvar.",
            None,
        ),
    )
    .await;
    close(&app, &referred_id, "referred").await;
    closed_at(&app, &referred_id, "2026-12-31 23:59:00+01").await;
    // D: closed with no action, under a dispose rule: never archived.
    let dispose_text = "Tips D: ska gallras och får aldrig hamna i arkivet.";
    let (dispose_id, dispose_ref, _) =
        submit(&app, &tip_with(dispose_text, contact(DISPOSE_CONTACT))).await;
    close(&app, &dispose_id, "no_action").await;
    closed_at(&app, &dispose_id, "2026-03-01 10:00:00+01").await;
    // E: a case, but already disposed of (content gone): not archived.
    let (disposed_id, disposed_ref, _) =
        submit(&app, &tip_with("Tips E: redan gallrat innehåll.", None)).await;
    close(&app, &disposed_id, "case_opened").await;
    closed_at(&app, &disposed_id, "2026-04-01 10:00:00+02").await;
    execute(
        &app,
        &format!(
            "UPDATE tips SET disposed_at = now(), disposal_rule = 'test', description = '' \
             WHERE id = '{disposed_id}'"
        ),
    )
    .await;
    // F and G: cases closed just before the period and exactly at its (exclusive) end; H open.
    let (before_id, before_ref, _) =
        submit(&app, &tip_with("Tips F: avslutat före perioden.", None)).await;
    close(&app, &before_id, "case_opened").await;
    closed_at(&app, &before_id, "2025-12-31 23:59:00+01").await;
    let (after_id, after_ref, _) = submit(
        &app,
        &tip_with("Tips G: avslutat när perioden slutat.", None),
    )
    .await;
    close(&app, &after_id, "case_opened").await;
    closed_at(&app, &after_id, "2027-01-01 00:00:00+01").await;
    let (_, open_ref, _) = submit(
        &app,
        &tip_with("Tips H: fortfarande under handläggning.", None),
    )
    .await;

    let out = tipsa.var.with_file_name("out");
    let exported = tipsa.run(&[
        "records",
        "archive",
        "--from",
        "2026-01-01",
        "--to",
        "2027-01-01",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(exported.status.success(), "{}", printed(&exported));
    let stdout = String::from_utf8(exported.stdout.clone()).unwrap();
    let package = PathBuf::from(stdout.lines().next().unwrap());
    assert_eq!(package.parent().unwrap(), out);
    let package_id = package.file_name().unwrap().to_str().unwrap().to_owned();
    assert!(
        package_id.starts_with("tipsa-2026-01-01--2027-01-01-"),
        "{package_id}"
    );
    assert!(stdout.contains("3 tip(s)"), "{stdout}");

    // The manifest, read by another parser.
    let read = read_package(&package);
    assert_eq!(read["tag"], "{http://www.loc.gov/METS/}mets");
    assert_eq!(read["objid"], package_id.as_str());
    assert_eq!(read["type"], "ERMS");
    assert!(
        read["profile"]
            .as_str()
            .unwrap()
            .contains("CommonSpecificationSwedenPackageProfile")
    );
    assert_eq!(read["package_type"], "SIP");
    assert_eq!(read["structmaps"], json!(["CSIP"]));
    assert_eq!(
        read["divisions"],
        json!(["Metadata", "Representations/rep1"])
    );
    let agents = read["agents"].as_array().unwrap();
    assert!(agents.contains(&json!([
        "CREATOR",
        "ORGANIZATION",
        null,
        "Inspektionen för vård och omsorg"
    ])));
    assert!(agents.contains(&json!(["CREATOR", "OTHER", "SOFTWARE", "Tipsa"])));

    // Every listed file is there with its size and SHA-256, and PREMIS agrees.
    let files = read["files"].as_array().unwrap();
    let mdrefs = read["mdrefs"].as_array().unwrap();
    let premis = read["premis_objects"].as_object().unwrap();
    for file in files.iter().chain(mdrefs) {
        let href = file["href"].as_str().unwrap();
        assert_eq!(file["checksumtype"], "SHA-256", "{href}");
        assert_eq!(file["actual_sha256"], file["checksum"], "{href}");
        assert_eq!(
            file["actual_size"].to_string(),
            file["size"].as_str().unwrap(),
            "{href}"
        );
    }
    for file in files {
        let href = file["href"].as_str().unwrap();
        assert!(href.starts_with("representations/rep1/data/"), "{href}");
        assert_eq!(
            (file["loctype"].as_str(), file["xlink_type"].as_str()),
            (Some("URL"), Some("simple"))
        );
        let object = &premis[href];
        assert_eq!(object[0], "SHA-256", "{href}");
        assert_eq!(object[1], file["checksum"], "{href}");
        assert_eq!(object[2], file["size"], "{href}");
    }
    assert_eq!(premis.len(), files.len());
    // … and nothing else is in the package.
    let mut listed: Vec<String> = files
        .iter()
        .chain(mdrefs)
        .map(|f| f["href"].as_str().unwrap().to_owned())
        .chain(["METS.xml".to_owned()])
        .collect();
    listed.sort();
    assert_eq!(read["present"], json!(listed));
    assert!(
        stdout.contains(&format!("{} file(s)", listed.len())),
        "{stdout}"
    );

    // Exactly the kept tips, each as its case.
    let records = read["records"].as_object().unwrap();
    let mut references: Vec<&str> = records.keys().map(String::as_str).collect();
    references.sort();
    let mut expected = vec![case_ref.as_str(), risk_ref.as_str(), referred_ref.as_str()];
    expected.sort();
    assert_eq!(references, expected);
    for absent in [
        &dispose_ref,
        &disposed_ref,
        &before_ref,
        &after_ref,
        &open_ref,
    ] {
        assert!(!records.contains_key(absent.as_str()));
    }
    let case_record = &records[&case_ref];
    assert_eq!(case_record["outcome"], "case_opened");
    assert_eq!(case_record["rule"], "cases_with_contact");
    assert_eq!(case_record["closed"], "2025-12-31T23:30:00Z");
    assert_eq!(case_record["party"], json!(CASE_CONTACT));
    assert_eq!(
        case_record["documents"],
        json!([
            [
                "Tips",
                "Inkommande",
                null,
                "Tips A: nattpersonalen saknar rutiner för fallprevention på avdelning 3."
            ],
            ["Meddelande", "Utgående", "test client (API)", question],
            ["Meddelande", "Inkommande", "Uppgiftslämnaren", reply],
        ])
    );
    assert_eq!(records[&risk_ref]["party"], Value::Null);
    assert!(
        records[&risk_ref]["note"]
            .as_str()
            .unwrap()
            .contains("risk_signals")
    );
    assert_eq!(records[&referred_ref]["rule"], Value::Null);
    assert_eq!(records[&referred_ref]["note"], "Tipset lämnades anonymt.");

    // The attachments are byte for byte what the service holds, where the record says.
    let attachments = case_record["attachments"].as_array().unwrap();
    assert_eq!(attachments.len(), 2);
    let mut originals = vec![text_file.clone(), photo.clone()];
    for attachment in attachments {
        let bytes = std::fs::read(package.join(attachment[0].as_str().unwrap())).unwrap();
        assert_eq!(attachment[2], bytes.len().to_string());
        let position = originals
            .iter()
            .position(|o| *o == bytes)
            .expect("an uploaded file");
        originals.remove(position);
        let listed_file = files.iter().find(|f| f["href"] == attachment[0]).unwrap();
        assert_eq!(listed_file["checksum"], attachment[1]);
    }
    // One decryption event, for the case: its contact details and its two files.
    let decryptions: Vec<&Value> = read["premis_events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e[0] == "decryption")
        .collect();
    assert_eq!(decryptions.len(), 1);
    assert_eq!(decryptions[0][1].as_array().unwrap().len(), 3);

    // Contact details only where the rule archives them; nothing of the disposed-of tip.
    let mut everything = Vec::new();
    all_files(&package, &package, &mut everything);
    for (path, bytes) in &everything {
        for secret in RISK_CONTACT
            .iter()
            .chain(&DISPOSE_CONTACT)
            .chain([&dispose_text])
        {
            assert!(!contains(bytes, secret), "{secret} in {path}");
        }
        if contains(bytes, CASE_CONTACT[1]) {
            assert_eq!(path, case_record["path"].as_str().unwrap());
        }
    }

    // The export is in the audit chain, with counts and no content.
    let mut conn = app.db.connect().await;
    let rows: Vec<Detail> =
        diesel::sql_query("SELECT actor, detail FROM audit_log WHERE action = 'archive_export'")
            .load(&mut conn)
            .await
            .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].actor, "cli:records-archive");
    let detail: Value = serde_json::from_str(&rows[0].detail).unwrap();
    assert_eq!(detail["package"], package_id.as_str());
    assert_eq!(
        (detail["from"].as_str(), detail["to"].as_str()),
        (Some("2026-01-01"), Some("2027-01-01"))
    );
    assert_eq!(detail["tips"], 3);
    assert_eq!(detail["files"], listed.len());
    for secret in CASE_CONTACT {
        assert!(!rows[0].detail.contains(secret));
    }
    let chain = tipsa.run(&["audit", "verify"]);
    assert!(chain.status.success(), "{}", printed(&chain));

    // verify-package passes on the package as written …
    let verify = || tipsa.run(&["records", "verify-package", package.to_str().unwrap()]);
    let intact = verify();
    assert!(intact.status.success(), "{}", printed(&intact));
    assert!(printed(&intact).contains("is intact"));

    // … fails naming a record with one byte changed …
    let record_path = case_record["path"].as_str().unwrap().to_owned();
    let original = std::fs::read(package.join(&record_path)).unwrap();
    let mut changed = original.clone();
    let middle = changed.len() / 2;
    changed[middle] ^= 0x01;
    std::fs::write(package.join(&record_path), &changed).unwrap();
    let tampered = verify();
    assert!(!tampered.status.success());
    assert!(
        printed(&tampered).contains(&format!("{record_path}: SHA-256 differs")),
        "{}",
        printed(&tampered)
    );
    std::fs::write(package.join(&record_path), &original).unwrap();

    // … a missing file …
    let missing_path = records[&referred_ref]["path"].as_str().unwrap().to_owned();
    let kept = std::fs::read(package.join(&missing_path)).unwrap();
    std::fs::remove_file(package.join(&missing_path)).unwrap();
    let missing = verify();
    assert!(!missing.status.success());
    assert!(
        printed(&missing).contains(&format!("{missing_path}: missing")),
        "{}",
        printed(&missing)
    );
    std::fs::write(package.join(&missing_path), &kept).unwrap();

    // … and a file METS does not list.
    let stray = format!("representations/rep1/data/{case_ref}/attachments/extra.txt");
    std::fs::write(package.join(&stray), b"not part of the delivery").unwrap();
    let unlisted = verify();
    assert!(!unlisted.status.success());
    assert!(
        printed(&unlisted).contains(&format!("{stray}: in the package but not listed")),
        "{}",
        printed(&unlisted)
    );
    std::fs::remove_file(package.join(&stray)).unwrap();

    let restored = verify();
    assert!(restored.status.success(), "{}", printed(&restored));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_period_without_kept_tips_is_a_clear_error_and_writes_nothing() {
    let keys = Keys::random();
    let app = spawn_app_with_crypto(|_| {}, keys.crypto()).await;
    let tipsa = Tipsa::new(&app, keys);
    // In the period only a tip under a dispose rule; the kept one is closed before it.
    let (dispose_id, _, _) = submit(
        &app,
        &tip_with("Tips D: ska gallras, inte arkiveras.", None),
    )
    .await;
    close(&app, &dispose_id, "no_action").await;
    closed_at(&app, &dispose_id, "2030-01-15 10:00:00+01").await;
    let (case_id, _, _) = submit(
        &app,
        &tip_with("Tips A: ett tillsynsärende före perioden.", None),
    )
    .await;
    close(&app, &case_id, "case_opened").await;
    closed_at(&app, &case_id, "2029-12-31 12:00:00+01").await;

    let out = tipsa.var.with_file_name("out");
    let empty = tipsa.run(&[
        "records",
        "archive",
        "--from",
        "2030-01-01",
        "--to",
        "2030-02-01",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!empty.status.success());
    assert!(
        printed(&empty)
            .contains("no tip to be kept (bevaras) was closed from 2030-01-01 up to 2030-02-01"),
        "{}",
        printed(&empty)
    );
    assert!(!out.exists(), "no package, not even its directory");

    let backwards = tipsa.run(&[
        "records",
        "archive",
        "--from",
        "2030-02-01",
        "--to",
        "2030-01-01",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!backwards.status.success());
    assert!(printed(&backwards).contains("--from must be before --to"));
    let bad_date = tipsa.run(&[
        "records",
        "archive",
        "--from",
        "2030-13-01",
        "--to",
        "2031-01-01",
        "--out",
        "x",
    ]);
    assert!(!bad_date.status.success());
    assert!(
        printed(&bad_date).contains("--from"),
        "{}",
        printed(&bad_date)
    );
    assert_eq!(
        count(
            &app,
            "SELECT 1 FROM audit_log WHERE action = 'archive_export'"
        )
        .await,
        0
    );

    let not_a_package = tipsa.run(&["records", "verify-package", tipsa.config.to_str().unwrap()]);
    assert!(!not_a_package.status.success());
    assert!(
        printed(&not_a_package).contains("METS.xml"),
        "{}",
        printed(&not_a_package)
    );
}
