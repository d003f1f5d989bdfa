//! Bad files and bad upload bodies: each gets a field-level 4xx in problem+json naming the
//! file, never a 5xx, and nothing of it is stored (no pending upload, no chunk).

use std::io::Write;

use crate::files::{identifying_jpeg, stored_files, upload};
use crate::helpers::{CapturedLogs, TestApp, field_errors, problem, spawn_app_with};

async fn app() -> TestApp {
    spawn_app_with(|s| {
        s.attachments.max_file_bytes = 1_000_000;
        s.attachments.max_unpacked_bytes = 1024 * 1024;
    })
    .await
}

/// Expects a 422 whose one error is on `file` with `code`, naming the file.
async fn refused(app: &TestApp, name: &str, bytes: Vec<u8>, code: &str) {
    let body = problem(upload(app, name, bytes).await, 422).await;
    assert_eq!(
        field_errors(&body),
        [("file".to_owned(), code.to_owned())],
        "{name}: {body}"
    );
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.starts_with(name),
        "the message names the file: {message}"
    );
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A tiny real PNG whose header then claims 100 000 × 100 000 pixels (with a valid CRC).
fn png_bomb() -> Vec<u8> {
    let mut png = Vec::new();
    image::RgbImage::new(1, 1)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    // Signature (8), IHDR length (4), "IHDR" (4), width and height (8), …, CRC after 13 bytes.
    png[16..20].copy_from_slice(&100_000u32.to_be_bytes());
    png[20..24].copy_from_slice(&100_000u32.to_be_bytes());
    let crc = crc32(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    png
}

/// A DOCX whose one media entry inflates to 5 MiB of zeros (the limit here is 1 MiB).
fn docx_bomb() -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut out);
    let options = zip::write::SimpleFileOptions::default();
    zip.start_file("[Content_Types].xml", options).unwrap();
    zip.write_all(br#"<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>"#).unwrap();
    zip.start_file("word/document.xml", options).unwrap();
    zip.write_all(br#"<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body/></w:document>"#).unwrap();
    zip.start_file("word/media/big.bin", options).unwrap();
    zip.write_all(&vec![0u8; 5 * 1024 * 1024]).unwrap();
    zip.finish().unwrap();
    out.into_inner()
}

fn pdf_with_javascript() -> Vec<u8> {
    use lopdf::{Document, Object, dictionary};
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let page_id = doc.add_object(dictionary! { "Type" => "Page", "Parent" => pages_id });
    doc.objects.insert(
        pages_id,
        Object::Dictionary(
            dictionary! { "Type" => "Pages", "Kids" => vec![page_id.into()], "Count" => 1 },
        ),
    );
    let action = doc.add_object(dictionary! {
        "S" => "JavaScript",
        "JS" => Object::string_literal("app.alert('x')"),
    });
    let catalog = doc.add_object(
        dictionary! { "Type" => "Catalog", "Pages" => pages_id, "OpenAction" => action },
    );
    doc.trailer.set("Root", catalog);
    let mut bytes = Vec::new();
    doc.save_to(&mut bytes).unwrap();
    bytes
}

fn gif() -> Vec<u8> {
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;".to_vec()
}

#[tokio::test]
async fn files_that_cannot_be_accepted_or_cleaned_are_refused_by_name() {
    let app = app().await;
    let jpeg = identifying_jpeg(64, 48);
    let mut polyglot = jpeg.clone();
    polyglot.extend_from_slice(&docx_bomb()[..2000]);
    let truncated = jpeg[..jpeg.len() / 2].to_vec();

    refused(&app, "hemlig-Anna.jpg", gif(), "unsupported_type").await;
    refused(
        &app,
        "program.pdf",
        b"MZ\x90\x00\x03\x00\x00\x00\x04\x00".repeat(50),
        "unsupported_type",
    )
    .await;
    refused(&app, "both.jpg", polyglot, "polyglot").await;
    refused(&app, "half.jpg", truncated, "damaged").await;
    refused(&app, "huge.png", png_bomb(), "decompression_bomb").await;
    refused(&app, "bomb.docx", docx_bomb(), "decompression_bomb").await;
    refused(&app, "script.pdf", pdf_with_javascript(), "active_content").await;
    refused(&app, "empty.txt", Vec::new(), "empty").await;
    refused(
        &app,
        "binary.txt",
        b"text\x00with a NUL".to_vec(),
        "unsupported_type",
    )
    .await;
    let heic = [&[0, 0, 0, 24][..], b"ftypheic", &[0, 0, 0, 0], b"mif1heic"].concat();
    refused(&app, "IMG_0001.HEIC", heic, "heic_unsupported").await;

    assert_eq!(
        stored_files(&app).await,
        (0, 0),
        "nothing of a refused file is kept"
    );
    let logs = CapturedLogs::global().text();
    assert!(
        !logs.contains("hemlig-Anna"),
        "file names never reach the logs"
    );
}

/// Sends a hand-written multipart body.
async fn raw(app: &TestApp, content_type: &str, body: Vec<u8>) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/attachments"))
        .bearer_auth(&app.token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

fn part(disposition: &str, content: &[u8]) -> Vec<u8> {
    [
        b"--XyZ\r\nContent-Disposition: form-data".as_slice(),
        disposition.as_bytes(),
        b"\r\nContent-Type: application/octet-stream\r\n\r\n",
        content,
        b"\r\n",
    ]
    .concat()
}

const MULTIPART: &str = "multipart/form-data; boundary=XyZ";

#[tokio::test]
async fn malformed_upload_bodies_get_a_clear_4xx_and_store_nothing() {
    let app = app().await;
    let text = "Det här är en vanlig textfil med anteckningar."
        .as_bytes()
        .to_vec();

    // Over the per-file limit: 413 naming the limit.
    let big = problem(upload(&app, "big.txt", vec![b'a'; 1_500_000]).await, 413).await;
    assert!(big["detail"].as_str().unwrap().contains("1 MB"), "{big}");

    // Cut off in the middle of the file.
    let mut cut = part("; name=\"file\"; filename=\"a.txt\"", &text);
    cut.truncate(cut.len() - 10);
    problem(raw(&app, MULTIPART, cut).await, 400).await;

    // A part without a name.
    let unnamed = [part("; filename=\"a.txt\"", &text), b"--XyZ--\r\n".to_vec()].concat();
    let body = problem(raw(&app, MULTIPART, unnamed).await, 422).await;
    assert_eq!(
        field_errors(&body),
        [("file".to_owned(), "unnamed_part".to_owned())]
    );

    // Two files in one upload.
    let twice = [
        part("; name=\"file\"; filename=\"a.txt\"", &text),
        part("; name=\"file\"; filename=\"b.txt\"", &text),
        b"--XyZ--\r\n".to_vec(),
    ]
    .concat();
    let body = problem(raw(&app, MULTIPART, twice).await, 422).await;
    assert_eq!(
        field_errors(&body),
        [("file".to_owned(), "duplicate_part".to_owned())]
    );

    // Path traversal and control characters in the file name.
    // (A control character makes the part's header itself unreadable.)
    for (name, code) in [
        ("../../etc/passwd", "bad_file_name"),
        ("..\\windows\\x.txt", "bad_file_name"),
        ("a\u{1b}[31m.txt", "bad_part_header"),
    ] {
        let body = problem(upload(&app, name, text.clone()).await, 422).await;
        assert_eq!(
            field_errors(&body),
            [("file".to_owned(), code.to_owned())],
            "{name:?}"
        );
    }

    // No file at all; another part; not multipart.
    let none = [part("; name=\"note\"", b"hello"), b"--XyZ--\r\n".to_vec()].concat();
    let body = problem(raw(&app, MULTIPART, none).await, 422).await;
    assert_eq!(
        field_errors(&body),
        [("note".to_owned(), "unknown_part".to_owned())]
    );
    let empty = b"--XyZ--\r\n".to_vec();
    let body = problem(raw(&app, MULTIPART, empty).await, 422).await;
    assert_eq!(
        field_errors(&body),
        [("file".to_owned(), "required".to_owned())]
    );
    problem(raw(&app, "application/json", b"{}".to_vec()).await, 415).await;

    assert_eq!(stored_files(&app).await, (0, 0));
}
