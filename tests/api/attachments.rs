//! Attachments over the API: upload, name in a tip, list, download — with the metadata gone
//! (read back independently with exiftool), the content sealed at rest (a full `pg_dump`),
//! downloads served safely and audited, idempotent submissions, and the per-tip limits.

use std::time::Duration;

use serde_json::{Value, json};

use crate::files::{
    IDENTIFYING, count, execute, identifying_jpeg, identifying_pdf, metadata_of, stored_files,
    upload, upload_with, uploaded_id,
};
use crate::helpers::{create_key, field_errors, problem, spawn_app, spawn_app_with, valid_tip};
use crate::notifications::wait_until;
use crate::web_pages::pg_dump;

async fn submit_with_files(app: &crate::helpers::TestApp, ids: &[&str]) -> reqwest::Response {
    let mut tip = valid_tip();
    tip["attachments"] = json!(ids);
    app.submit(&tip).await
}

#[tokio::test]
async fn a_photo_is_cleaned_sealed_listed_and_downloaded_safely() {
    let app = spawn_app().await;
    let original = identifying_jpeg(64, 48);
    let response = upload(&app, "IMG_2041 Anna på Lindgården.jpg", original.clone()).await;
    assert_eq!(response.status(), 201);
    let uploaded: Value = response.json().await.unwrap();
    assert_eq!(uploaded["media_type"], "image/jpeg");
    assert_eq!(uploaded["scan_status"], "unscanned");
    assert_eq!(
        (uploaded["width"].as_i64(), uploaded["height"].as_i64()),
        (Some(64), Some(48))
    );
    let id = uploaded["id"].as_str().unwrap().to_owned();

    let created = submit_with_files(&app, &[&id]).await;
    assert_eq!(created.status(), 201);
    let tip: Value = created.json().await.unwrap();
    let tip_id = tip["id"].as_str().unwrap();

    let list: Value = app
        .get(&format!("/api/v1/tips/{tip_id}/attachments"))
        .await
        .json()
        .await
        .unwrap();
    let files = list.as_array().unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0]["name"], "bilaga-1.jpg");
    assert_eq!(files[0]["id"], id.as_str());
    let url = files[0]["download_url"].as_str().unwrap().to_owned();
    assert!(
        !list.to_string().contains("IMG_2041"),
        "the original name is never shown"
    );

    let download = app.get(&url).await;
    assert_eq!(download.status(), 200);
    let headers = download.headers().clone();
    assert_eq!(headers["content-type"], "image/jpeg");
    assert_eq!(
        headers["content-disposition"],
        "attachment; filename=\"bilaga-1.jpg\""
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("sandbox") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    let cleaned = download.bytes().await.unwrap().to_vec();
    assert_ne!(cleaned, original);

    // An independent reader finds none of the identifying values, and the picture is intact.
    let metadata = metadata_of(&cleaned, "jpg");
    for value in IDENTIFYING {
        assert!(!metadata.contains(value), "{value} survived: {metadata}");
    }
    for tag in [
        "GPS",
        "Make",
        "SerialNumber",
        "Artist",
        "Creator",
        "By-line",
    ] {
        assert!(
            !metadata.contains(&format!("\"{tag}")),
            "{tag} survived: {metadata}"
        );
    }
    let decoded = image::load_from_memory(&cleaned).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (64, 48));

    // The same bytes every time.
    let again = app.get(&url).await.bytes().await.unwrap().to_vec();
    assert_eq!(again, cleaned);

    // Neither the file nor its metadata is readable in the database.
    let dump = pg_dump(&app.db.url);
    let sample = hex::encode(&cleaned[cleaned.len() / 2..cleaned.len() / 2 + 48]);
    assert!(!dump.contains(&sample), "plaintext file bytes in the dump");
    for value in IDENTIFYING {
        assert!(!dump.contains(value), "{value} in the dump");
    }

    // Both downloads are in the audit log, naming the file by its neutral name only.
    let audited = count(
        &app,
        &format!(
            "SELECT 1 FROM audit_log WHERE action = 'download_attachment' AND tip_id = '{tip_id}'"
        ),
    )
    .await;
    assert_eq!(audited, 2);
}

#[tokio::test]
async fn a_pdf_loses_its_author_and_text_files_pass_unchanged() {
    let app = spawn_app().await;
    let pdf = uploaded_id(&app, "rapport.pdf", identifying_pdf()).await;
    let text = "Schema vecka 47: natt 2 personal.\n".repeat(20);
    let txt = uploaded_id(&app, "schema.txt", text.clone().into_bytes()).await;
    let created = submit_with_files(&app, &[&txt, &pdf]).await;
    assert_eq!(created.status(), 201);
    let tip_id = created.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let list: Value = app
        .get(&format!("/api/v1/tips/{tip_id}/attachments"))
        .await
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["bilaga-1.txt", "bilaga-2.pdf"],
        "numbered in the order named"
    );
    assert_eq!(list[0]["media_type"], "text/plain; charset=utf-8");

    let txt_back = app
        .get(list[0]["download_url"].as_str().unwrap())
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(txt_back, text);
    let pdf_back = app
        .get(list[1]["download_url"].as_str().unwrap())
        .await
        .bytes()
        .await
        .unwrap();
    assert!(pdf_back.starts_with(b"%PDF"));
    assert!(!pdf_back.windows(14).any(|w| w == b"Anna Andersson"));
    let metadata = metadata_of(&pdf_back, "pdf");
    for value in ["Anna Andersson", "TipsaModel9", "TipsaPhoneMaker"] {
        assert!(!metadata.contains(value), "{value} survived: {metadata}");
    }
    lopdf::Document::load_mem(&pdf_back).expect("the cleaned PDF still opens");
}

#[tokio::test]
async fn a_large_file_is_stored_in_many_chunks_and_comes_back_whole() {
    // 3.5 chunks of 1 MiB: the last chunk is short, and the file is byte-identical.
    let app = spawn_app().await;
    let text: String = (0..(3 * 1024 * 1024 + 512 * 1024) / 32)
        .map(|i| format!("rad {i:08} i en lång logg ....\n"))
        .collect::<String>();
    let id = uploaded_id(&app, "logg.txt", text.clone().into_bytes()).await;
    assert_eq!(
        count(
            &app,
            &format!("SELECT 1 FROM attachment_chunks WHERE attachment_id = '{id}'")
        )
        .await,
        4
    );
    let created = submit_with_files(&app, &[&id]).await;
    let tip_id = created.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let back = app
        .get(&format!("/api/v1/tips/{tip_id}/attachments/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(back.len(), text.len());
    assert!(back == text);

    // A chunk swapped between positions does not open (sealed with its number).
    for (from, to) in [(1, 100), (2, 1), (100, 2)] {
        execute(
            &app,
            &format!(
                "UPDATE attachment_chunks SET seq = {to} WHERE attachment_id = '{id}' AND seq = {from}"
            ),
        )
        .await;
    }
    let tampered = app
        .get(&format!("/api/v1/tips/{tip_id}/attachments/{id}"))
        .await;
    let body = tampered.bytes().await;
    assert!(
        body.map(|b| b.len() < text.len()).unwrap_or(true),
        "a reordered file must not be served whole"
    );
}

#[tokio::test]
async fn a_tip_takes_only_its_own_keys_pending_uploads_within_the_limits() {
    let app = spawn_app_with(|s| {
        s.attachments.max_files_per_tip = 2;
        s.attachments.max_tip_bytes = 26_214_400;
    })
    .await;
    let other_key = create_key(&app.db, &[tipsa::auth::Scope::TipsSubmit]).await;
    let response = upload_with(
        &app,
        &other_key,
        "a.txt",
        b"text from another system".to_vec(),
    )
    .await;
    let foreign = response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let unknown = uuid::Uuid::now_v7().to_string();
    let mine = uploaded_id(&app, "b.txt", b"my own text file here".to_vec()).await;

    let refused = problem(
        submit_with_files(&app, &[&mine, &foreign, &unknown, &mine]).await,
        422,
    )
    .await;
    assert_eq!(
        field_errors(&refused),
        [
            ("attachments[1]".to_owned(), "unknown_attachment".to_owned()),
            ("attachments[2]".to_owned(), "unknown_attachment".to_owned()),
            (
                "attachments[3]".to_owned(),
                "duplicate_attachment".to_owned()
            ),
        ]
    );
    assert_eq!(app.count_tips().await, 0, "no tip without its files");

    let more = uploaded_id(&app, "c.txt", b"a third text file".to_vec()).await;
    let most = uploaded_id(&app, "d.txt", b"a fourth text file".to_vec()).await;
    let too_many = problem(submit_with_files(&app, &[&mine, &more, &most]).await, 422).await;
    assert_eq!(
        field_errors(&too_many),
        [("attachments".to_owned(), "too_many_files".to_owned())]
    );
    assert!(
        too_many["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("at most 2")
    );
    assert_eq!(app.count_tips().await, 0);
    assert_eq!(
        count(&app, "SELECT 1 FROM attachments WHERE tip_id IS NULL").await,
        4,
        "still pending"
    );

    // Within the limits the tip is stored, and an upload cannot be used twice.
    assert_eq!(submit_with_files(&app, &[&mine, &more]).await.status(), 201);
    let reused = problem(submit_with_files(&app, &[&mine]).await, 422).await;
    assert_eq!(
        field_errors(&reused),
        [("attachments[0]".to_owned(), "unknown_attachment".to_owned())]
    );
    assert_eq!(app.count_tips().await, 1);
}

#[tokio::test]
async fn an_idempotent_submission_with_files_replays_and_attaches_once() {
    let app = spawn_app().await;
    let id = uploaded_id(&app, "a.txt", b"the inspectorate should see this".to_vec()).await;
    let mut tip = valid_tip();
    tip["attachments"] = json!([id]);
    let first = app.submit_with(&tip, &app.token, Some("files-4711")).await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let second = app.submit_with(&tip, &app.token, Some("files-4711")).await;
    assert_eq!(second.status(), 201);
    let second: Value = second.json().await.unwrap();
    assert_eq!(first, second, "the replay is the original answer");
    assert_eq!(app.count_tips().await, 1);
    assert_eq!(
        count(
            &app,
            &format!(
                "SELECT 1 FROM attachments WHERE tip_id = '{}'",
                first["id"].as_str().unwrap()
            )
        )
        .await,
        1
    );
}

#[tokio::test]
async fn deleting_a_tip_deletes_its_files() {
    let app = spawn_app().await;
    let id = uploaded_id(&app, "a.txt", b"a file that goes with its tip".to_vec()).await;
    let created = submit_with_files(&app, &[&id]).await;
    assert_eq!(created.status(), 201);
    assert_eq!(stored_files(&app).await, (1, 1));
    execute(&app, "DELETE FROM tips").await;
    assert_eq!(stored_files(&app).await, (0, 0));
}

#[tokio::test]
async fn the_notification_says_how_many_files_and_nothing_about_them() {
    let app = spawn_app_with(|s| {
        s.notify.worker_in_serve = true;
        s.notify.poll_interval_ms = 200;
    })
    .await;
    let a = uploaded_id(
        &app,
        "Anna Andersson.txt",
        b"first file of the tip here".to_vec(),
    )
    .await;
    let b = uploaded_id(&app, "b.txt", b"second file of the tip here".to_vec()).await;
    let mut tip = valid_tip();
    // Urgent: an immediate notification to the team.
    tip["description"] = json!("En boende avled efter att ha legat på golvet hela natten.");
    tip["attachments"] = json!([a, b]);
    assert_eq!(app.submit(&tip).await.status(), 201);
    let mail_dir = app.state.settings.var_dir.join("mail");
    let read_mail = || {
        std::fs::read_dir(&mail_dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
            .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
            .collect::<Vec<_>>()
    };
    wait_until("an .eml file", Duration::from_secs(30), || async {
        !read_mail().is_empty()
    })
    .await;
    let mail = read_mail().join("\n");
    assert!(mail.contains("Bilagor: 2"), "{mail}");
    assert!(
        !mail.contains("Anna Andersson") && !mail.contains("bilaga-1"),
        "{mail}"
    );
}
