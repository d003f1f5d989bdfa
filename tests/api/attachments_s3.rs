//! Attachments in S3-compatible object storage (`attachments.storage.kind = "s3"`) against a
//! real S3 server (moto, tests/api/s3.rs): each sealed chunk an object, nothing in
//! `attachment_chunks`, downloads whole, tampering caught, objects deleted by the housekeeper
//! after their tip (or an abandoned upload) is gone, and files stored in PostgreSQL before the
//! switch still open.

use diesel_async::RunQueryDsl;
use serde_json::{Value, json};
use tipsa::attachments::ScanStatus;
use tipsa::attachments::blob::BlobStore;
use tipsa::attachments::clean::FileKind;
use tipsa::attachments::maintenance::Housekeeper;
use tipsa::attachments::store::{self, NewFile, Owner};

use crate::files::{count, execute, upload, uploaded_id};
use crate::helpers::{TestApp, spawn_app_with, valid_tip};
use crate::s3::MotoServer;

const CHUNK: usize = 64 * 1024;

/// About 3.5 chunks of recognisable text (text is stored as sent).
fn long_text() -> String {
    (0..(3 * CHUNK + CHUNK / 2) / 32)
        .map(|i| format!("rad {i:08} i en hemlig logg ..\n"))
        .collect()
}

async fn s3_app(moto: &MotoServer, bucket: &str) -> TestApp {
    moto.create_bucket(bucket).await;
    spawn_app_with(|s| {
        moto.configure(s, bucket);
        s.attachments.chunk_bytes = CHUNK;
    })
    .await
}

async fn tip_with(app: &TestApp, ids: &[&str]) -> String {
    let mut tip = valid_tip();
    tip["attachments"] = json!(ids);
    let created = app.submit(&tip).await;
    assert_eq!(created.status(), 201);
    created.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn download(app: &TestApp, tip_id: &str, id: &str) -> reqwest::Response {
    app.get(&format!("/api/v1/tips/{tip_id}/attachments/{id}"))
        .await
}

async fn housekeeping(app: &TestApp) {
    Housekeeper::new(
        app.state.pool.clone(),
        app.state.crypto.clone(),
        &app.state.settings.attachments,
    )
    .unwrap()
    .round()
    .await
    .unwrap();
}

#[tokio::test]
async fn attachments_s3_chunks_are_sealed_objects_that_download_whole_and_go_with_the_tip() {
    let moto = MotoServer::start();
    let app = s3_app(&moto, "tipsa-files").await;
    let text = long_text();
    let id = uploaded_id(&app, "logg.txt", text.clone().into_bytes()).await;

    // The row says s3; PostgreSQL holds no chunk; the bucket holds one object per chunk.
    let in_s3 = format!("SELECT 1 FROM attachments WHERE id = '{id}' AND storage = 's3'");
    assert_eq!(count(&app, &in_s3).await, 1);
    let chunks = format!("SELECT 1 FROM attachment_chunks WHERE attachment_id = '{id}'");
    assert_eq!(count(&app, &chunks).await, 0);
    let names = moto
        .list("tipsa-files", &format!("attachments/{id}/"))
        .await;
    let expected: Vec<String> = (0..4)
        .map(|seq| format!("attachments/{id}/{seq}"))
        .collect();
    assert_eq!(names, expected);
    for name in &names {
        let sealed = moto.get("tipsa-files", name).await;
        assert!(sealed.len() > 1000, "{name} is {} bytes", sealed.len());
        let as_text = String::from_utf8_lossy(&sealed);
        assert!(
            !as_text.contains("hemlig logg") && !as_text.contains("rad 0000"),
            "{name} holds plaintext"
        );
    }

    let tip_id = tip_with(&app, &[&id]).await;
    let back = download(&app, &tip_id, &id).await;
    assert_eq!(back.status(), 200);
    let back = back.bytes().await.unwrap();
    assert_eq!(back.len(), text.len());
    assert!(
        back == text.as_bytes(),
        "the file comes back byte-identical"
    );

    // Chunks are sealed with their file and number, in a bucket as in PostgreSQL: an object
    // copied over another does not open.
    let second = moto.get("tipsa-files", &names[1]).await;
    let original_third = moto.get("tipsa-files", &names[2]).await;
    moto.put("tipsa-files", &names[2], second).await;
    let tampered = download(&app, &tip_id, &id).await.bytes().await;
    assert!(
        tampered.map(|b| b.len() < text.len()).unwrap_or(true),
        "a swapped chunk must not be served"
    );
    moto.put("tipsa-files", &names[2], original_third).await;
    assert_eq!(
        download(&app, &tip_id, &id).await.bytes().await.unwrap(),
        text.as_bytes()
    );

    // The tip is deleted (its files by cascade): the trigger queues the objects, which stay
    // until the housekeeper deletes them.
    execute(&app, &format!("DELETE FROM tips WHERE id = '{tip_id}'")).await;
    let queued = format!("SELECT 1 FROM attachment_object_deletions WHERE attachment_id = '{id}'");
    assert_eq!(count(&app, &queued).await, 1);
    assert_eq!(names.len(), 4);
    assert_eq!(
        moto.list("tipsa-files", "attachments/").await.len(),
        4,
        "nothing is deleted before the housekeeper's round"
    );
    housekeeping(&app).await;
    assert!(moto.list("tipsa-files", "attachments/").await.is_empty());
    assert_eq!(count(&app, &queued).await, 0);
}

#[tokio::test]
async fn attachments_s3_an_abandoned_upload_loses_its_objects_and_postgres_files_queue_nothing() {
    let moto = MotoServer::start();
    let app = s3_app(&moto, "tipsa-abandoned").await;
    let id = uploaded_id(
        &app,
        "utkast.txt",
        b"ett utkast som aldrig skickas".to_vec(),
    )
    .await;
    assert_eq!(
        moto.list("tipsa-abandoned", &format!("attachments/{id}/"))
            .await,
        [format!("attachments/{id}/0")]
    );
    // A file in PostgreSQL goes without queueing anything (the trigger is for s3 rows only).
    let pg = store_in_postgres(&app, b"i databasen").await;
    execute(&app, &format!("DELETE FROM attachments WHERE id = '{pg}'")).await;
    assert_eq!(
        count(&app, "SELECT 1 FROM attachment_object_deletions").await,
        0
    );

    // Still pending and young: kept.
    housekeeping(&app).await;
    assert_eq!(moto.list("tipsa-abandoned", "attachments/").await.len(), 1);
    execute(
        &app,
        &format!("UPDATE attachments SET created_at = now() - interval '2 days' WHERE id = '{id}'"),
    )
    .await;
    housekeeping(&app).await;
    assert_eq!(count(&app, "SELECT 1 FROM attachments").await, 0);
    assert!(
        moto.list("tipsa-abandoned", "attachments/")
            .await
            .is_empty()
    );
    assert_eq!(
        count(&app, "SELECT 1 FROM attachment_object_deletions").await,
        0
    );
}

/// Stores a text file as the PostgreSQL store did before the switch, pending for the app's key.
async fn store_in_postgres(app: &TestApp, bytes: &[u8]) -> uuid::Uuid {
    #[derive(diesel::QueryableByName)]
    struct Key {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        id: uuid::Uuid,
    }
    let mut conn = app.db.connect().await;
    let key: Key = diesel::sql_query("SELECT id FROM api_keys LIMIT 1")
        .get_result(&mut conn)
        .await
        .unwrap();
    let file = NewFile {
        kind: FileKind::Text,
        bytes,
        width: None,
        height: None,
        scan_status: ScanStatus::Unscanned,
    };
    let info = store::insert_pending(
        &mut conn,
        &app.state.crypto,
        &BlobStore::postgres(),
        &file,
        &Owner::ApiKey(key.id),
        CHUNK,
    )
    .await
    .unwrap();
    info.id
}

#[tokio::test]
async fn attachments_s3_files_stored_in_postgres_before_the_switch_still_open() {
    let moto = MotoServer::start();
    let app = s3_app(&moto, "tipsa-switch").await;
    let before = long_text();
    let old = store_in_postgres(&app, before.as_bytes()).await.to_string();
    let new = uploaded_id(&app, "ny.txt", b"skickad efter bytet".to_vec()).await;
    let storage = |id: &str| format!("SELECT 1 FROM attachments WHERE id = '{id}' AND storage = ");
    assert_eq!(
        count(&app, &format!("{}'postgres'", storage(&old))).await,
        1
    );
    assert_eq!(count(&app, &format!("{}'s3'", storage(&new))).await, 1);
    let old_chunks = format!("SELECT 1 FROM attachment_chunks WHERE attachment_id = '{old}'");
    assert_eq!(count(&app, &old_chunks).await, 4);
    assert!(
        moto.list("tipsa-switch", &format!("attachments/{old}/"))
            .await
            .is_empty()
    );

    let tip_id = tip_with(&app, &[&old, &new]).await;
    let old_back = download(&app, &tip_id, &old).await;
    assert_eq!(old_back.status(), 200);
    assert!(old_back.bytes().await.unwrap() == before.as_bytes());
    let new_back = download(&app, &tip_id, &new).await;
    assert_eq!(new_back.status(), 200);
    assert_eq!(new_back.bytes().await.unwrap(), &b"skickad efter bytet"[..]);
}

#[tokio::test]
async fn attachments_s3_an_upload_the_bucket_refuses_stores_nothing() {
    let moto = MotoServer::start();
    // The bucket is never created: every put fails.
    let app = spawn_app_with(|s| moto.configure(s, "tipsa-missing")).await;
    let response = upload(&app, "a.txt", b"ingen hink".to_vec()).await;
    assert_eq!(response.status(), 503);
    assert_eq!(count(&app, "SELECT 1 FROM attachments").await, 0);
    assert_eq!(
        count(&app, "SELECT 1 FROM attachment_object_deletions").await,
        0
    );
}
