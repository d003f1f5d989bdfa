//! Test files made in the test (nothing binary is committed) and helpers for the attachment
//! tests: a JPEG carrying identifying metadata written by exiftool, an independent reading of
//! a file's metadata with exiftool, uploads over the API, and row counts.

use std::path::PathBuf;
use std::process::Command;

use diesel_async::RunQueryDsl;
use serde_json::Value;

use crate::helpers::TestApp;

/// Values written into the fixtures; none may survive cleaning.
pub const IDENTIFYING: [&str; 6] = [
    "Anna Andersson",
    "TipsaPhoneMaker",
    "TipsaModel9",
    "SN-778899",
    "59.3293",
    "Lindgården-Syd",
];

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tipsa-files-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn exiftool(args: &[&str]) -> std::process::Output {
    Command::new("exiftool")
        .args(args)
        .output()
        .expect("exiftool (Debian package libimage-exiftool-perl)")
}

/// A `width`×`height` gradient JPEG with GPS, make, model, serial, artist, XMP creator,
/// IPTC by-line, a date and a caption naming a place — all written by exiftool.
pub fn identifying_jpeg(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x * 255 / width) as u8, (y * 255 / height) as u8, 128])
    });
    let path = scratch("photo.jpg");
    image.save(&path).unwrap();
    let path_text = path.to_str().unwrap();
    let output = exiftool(&[
        "-overwrite_original",
        "-GPSLatitude=59.3293",
        "-GPSLatitudeRef=N",
        "-GPSLongitude=18.0686",
        "-GPSLongitudeRef=E",
        "-Make=TipsaPhoneMaker",
        "-Model=TipsaModel9",
        "-SerialNumber=SN-778899",
        "-Artist=Anna Andersson",
        "-XMP-dc:Creator=Anna Andersson",
        "-IPTC:By-line=Anna Andersson",
        "-ImageDescription=Lindgården-Syd",
        "-DateTimeOriginal=2026:01:02 03:04:05",
        path_text,
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let bytes = std::fs::read(&path).unwrap();
    // The fixture really carries what the test claims it does.
    let before = metadata_of(&bytes, "jpg");
    for value in IDENTIFYING {
        assert!(before.contains(value), "fixture lacks {value}: {before}");
    }
    bytes
}

/// exiftool's reading of every tag in `bytes` (JSON text, all groups).
pub fn metadata_of(bytes: &[u8], extension: &str) -> String {
    let path = scratch(&format!("file.{extension}"));
    std::fs::write(&path, bytes).unwrap();
    let output = exiftool(&["-j", "-a", "-G1", "-n", path.to_str().unwrap()]);
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A one-page PDF whose Info dictionary and XMP name the author.
pub fn identifying_pdf() -> Vec<u8> {
    use lopdf::{Document, Object, Stream, dictionary};
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let content = Stream::new(
        dictionary! {},
        b"BT /F1 12 Tf 72 712 Td (Rapport) Tj ET".to_vec(),
    );
    let content_id = doc.add_object(content);
    let page_id = doc.add_object(dictionary! {
        "Type" => "Page",
        "Parent" => pages_id,
        "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        "Contents" => content_id,
    });
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages",
            "Kids" => vec![page_id.into()],
            "Count" => 1,
        }),
    );
    let xmp = Stream::new(
        dictionary! { "Type" => "Metadata", "Subtype" => "XML" },
        b"<x:xmpmeta xmlns:x='adobe:ns:meta/'><dc:creator>Anna Andersson</dc:creator></x:xmpmeta>"
            .to_vec(),
    );
    let xmp_id = doc.add_object(xmp);
    let catalog_id = doc.add_object(dictionary! {
        "Type" => "Catalog",
        "Pages" => pages_id,
        "Metadata" => xmp_id,
    });
    let info_id = doc.add_object(dictionary! {
        "Author" => Object::string_literal("Anna Andersson"),
        "Creator" => Object::string_literal("TipsaModel9"),
        "Producer" => Object::string_literal("TipsaPhoneMaker"),
    });
    doc.trailer.set("Root", catalog_id);
    doc.trailer.set("Info", info_id);
    let mut bytes = Vec::new();
    doc.save_to(&mut bytes).unwrap();
    bytes
}

/// POST /api/v1/attachments with one `file` part.
pub async fn upload(app: &TestApp, file_name: &str, bytes: Vec<u8>) -> reqwest::Response {
    upload_with(app, &app.token, file_name, bytes).await
}

pub async fn upload_with(
    app: &TestApp,
    token: &str,
    file_name: &str,
    bytes: Vec<u8>,
) -> reqwest::Response {
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(bytes).file_name(file_name.to_owned()),
    );
    app.client
        .post(app.url("/api/v1/attachments"))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap()
}

/// Uploads and returns the new attachment's id (asserting 201).
pub async fn uploaded_id(app: &TestApp, file_name: &str, bytes: Vec<u8>) -> String {
    let response = upload(app, file_name, bytes).await;
    assert_eq!(response.status(), 201, "upload of {file_name}");
    let body: Value = response.json().await.unwrap();
    body["id"].as_str().unwrap().to_owned()
}

/// `SELECT count(*)` of a query over the test database.
pub async fn count(app: &TestApp, sql: &str) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = app.db.connect().await;
    diesel::sql_query(format!("SELECT count(*) AS n FROM ({sql}) AS counted"))
        .get_result::<Count>(&mut conn)
        .await
        .unwrap()
        .n
}

/// Rows in `attachments` and `attachment_chunks`.
pub async fn stored_files(app: &TestApp) -> (i64, i64) {
    (
        count(app, "SELECT 1 FROM attachments").await,
        count(app, "SELECT 1 FROM attachment_chunks").await,
    )
}

/// Runs SQL on the test database.
pub async fn execute(app: &TestApp, sql: &str) {
    let mut conn = app.db.connect().await;
    diesel::sql_query(sql).execute(&mut conn).await.unwrap();
}
