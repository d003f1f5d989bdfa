//! DOCX, XLSX and ODT cleaning, zip bombs, macros and zips that are not Office files.

use std::io::{Cursor, Read, Write};

use quick_xml::Reader;
use quick_xml::events::Event;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use super::super::{CleanLimits, FileKind, Refusal, clean};
use super::{Scratch, exif_json, identifying_jpeg};

const CONTENT_TYPES: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Default Extension="jpeg" ContentType="image/jpeg"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/><Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/><Override PartName="/docProps/app.xml" ContentType="application/vnd.openxmlformats-officedocument.extended-properties+xml"/><Override PartName="/docProps/thumbnail.jpeg" ContentType="image/jpeg"/></Types>"#;

const RELS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/thumbnail" Target="docProps/thumbnail.jpeg"/><Relationship Id="rId3" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/></Relationships>"#;

const DOCUMENT: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p w:rsidR="00A1B2C3" w:rsidRDefault="00D4E5F6"><w:r w:rsidRPr="00112233"><w:t>Tips om vårdcentralen</w:t></w:r><w:ins w:id="1" w:author="Anna Andersson" w:date="2026-01-02T03:04:05Z"><w:r><w:t>tillagt</w:t></w:r></w:ins></w:p><w:sectPr w:rsidR="00A1B2C3"/></w:body></w:document>"#;

const CORE: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:creator>Anna Andersson</dc:creator><cp:lastModifiedBy>Anna Andersson</cp:lastModifiedBy></cp:coreProperties>"#;

const APP: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties"><Company>Kontoret Hemlig AB</Company><Manager>Anna Andersson</Manager><TotalTime>42</TotalTime></Properties>"#;

const CUSTOM: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/custom-properties" xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"><property fmtid="{D5CDD505-2E9C-101B-9397-08002B2CF9AE}" pid="2" name="Owner"><vt:lpwstr>Anna Andersson</vt:lpwstr></property></Properties>"#;

const COMMENTS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:comments xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:comment w:id="0" w:author="Anna Andersson" w:date="2026-01-02T03:04:05Z" w:initials="AA"><w:p w:rsidR="00A1B2C3"><w:r><w:t>kommentar</w:t></w:r></w:p></w:comment></w:comments>"#;

const SETTINGS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:settings xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:zoom w:percent="100"/><w:rsids><w:rsidRoot w:val="00A1B2C3"/><w:rsid w:val="00D4E5F6"/></w:rsids></w:settings>"#;

const PEOPLE: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w15:people xmlns:w15="http://schemas.microsoft.com/office/word/2012/wordml"><w15:person w15:author="Anna Andersson"><w15:presenceInfo w15:providerId="AD" w15:userId="anna@example.se"/></w15:person></w15:people>"#;

const FORBIDDEN: [&str; 8] = [
    "Anna Andersson",
    "rsid",
    "Kontoret Hemlig AB",
    "2026-01-02",
    "anna@example.se",
    "TipsaPhoneMaker",
    "SN-778899",
    "AA\"",
];

fn zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    for (name, data) in entries {
        let method = if *name == "mimetype" {
            CompressionMethod::Stored
        } else {
            CompressionMethod::Deflated
        };
        writer
            .start_file(
                *name,
                SimpleFileOptions::default().compression_method(method),
            )
            .expect("start entry");
        writer.write_all(data).expect("write entry");
    }
    writer.finish().expect("finish zip").into_inner()
}

/// Every entry of a zip, by name, in order.
fn unzip(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = ZipArchive::new(Cursor::new(bytes)).expect("cleaned output is a zip");
    (0..archive.len())
        .map(|index| {
            let mut file = archive.by_index(index).expect("entry");
            let mut data = Vec::new();
            file.read_to_end(&mut data).expect("entry reads");
            (file.name().expect("name").into_owned(), data)
        })
        .collect()
}

fn assert_well_formed(name: &str, data: &[u8]) {
    let text = std::str::from_utf8(data).expect("utf-8 part");
    let mut reader = Reader::from_str(text);
    loop {
        match reader.read_event() {
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(error) => panic!("{name} is not well-formed: {error}"),
        }
    }
}

/// Cleans, then checks every entry: XML well-formed, nothing identifying anywhere.
fn clean_and_check(bytes: &[u8], kind: FileKind) -> Vec<(String, Vec<u8>)> {
    let cleaned = clean(bytes, &CleanLimits::default()).expect("cleaned");
    assert_eq!(cleaned.kind, kind);
    let entries = unzip(&cleaned.bytes);
    for (name, data) in &entries {
        if name.ends_with(".xml") || name.ends_with(".rels") {
            assert_well_formed(name, data);
        }
        for value in FORBIDDEN {
            assert!(
                !data.windows(value.len()).any(|w| w == value.as_bytes()),
                "{value} survived in {name}"
            );
        }
    }
    entries
}

fn docx(picture: &[u8]) -> Vec<u8> {
    zip(&[
        ("[Content_Types].xml", CONTENT_TYPES.as_bytes()),
        ("_rels/.rels", RELS.as_bytes()),
        ("word/document.xml", DOCUMENT.as_bytes()),
        ("word/comments.xml", COMMENTS.as_bytes()),
        ("word/settings.xml", SETTINGS.as_bytes()),
        ("word/people.xml", PEOPLE.as_bytes()),
        ("word/media/image1.jpeg", picture),
        ("docProps/core.xml", CORE.as_bytes()),
        ("docProps/app.xml", APP.as_bytes()),
        ("docProps/custom.xml", CUSTOM.as_bytes()),
        ("docProps/thumbnail.jpeg", picture),
    ])
}

fn entry<'a>(entries: &'a [(String, Vec<u8>)], name: &str) -> &'a str {
    let (_, data) = entries.iter().find(|(n, _)| n == name).expect(name);
    std::str::from_utf8(data).expect("utf-8")
}

#[test]
fn docx_loses_authors_rsids_properties_thumbnail_and_picture_exif() {
    let scratch = Scratch::new("docx");
    let picture = identifying_jpeg(&scratch, "1");
    let original = docx(&picture);
    let before = exif_json(&scratch, "before.docx", &original);
    assert!(before.contains("Anna Andersson") && before.contains("Kontoret Hemlig AB"));

    let entries = clean_and_check(&original, FileKind::Docx);

    let names: Vec<&str> = entries.iter().map(|(name, _)| name.as_str()).collect();
    assert!(!names.contains(&"docProps/thumbnail.jpeg"));
    assert!(!entry(&entries, "_rels/.rels").contains("thumbnail"));
    assert!(!entry(&entries, "[Content_Types].xml").contains("thumbnail"));
    assert!(entry(&entries, "word/document.xml").contains("Tips om vårdcentralen"));
    assert!(entry(&entries, "word/document.xml").contains("w:author=\"Tipsa\""));
    assert!(!entry(&entries, "word/settings.xml").contains("w:rsids"));
    let json = exif_json(&scratch, "after.docx", &cleaned_bytes(&original));
    for tag in [
        ":Creator\"",
        ":LastModifiedBy\"",
        ":Company\"",
        "Anna Andersson",
    ] {
        assert!(!json.contains(tag), "{tag} survived:\n{json}");
    }
}

fn cleaned_bytes(original: &[u8]) -> Vec<u8> {
    clean(original, &CleanLimits::default())
        .expect("cleaned")
        .bytes
}

#[test]
fn xlsx_loses_comment_authors_and_persons() {
    let types = r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/></Types>"#;
    let workbook = r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:x15ac="http://schemas.microsoft.com/office/spreadsheetml/2010/11/ac"><x15ac:absPath url="C:\Users\Anna Andersson\Documents\"/><sheets><sheet name="Blad1" sheetId="1"/></sheets></workbook>"#;
    let comments = r#"<?xml version="1.0" encoding="UTF-8"?><comments xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><authors><author>Anna Andersson</author></authors><commentList><comment ref="A1" authorId="0"><text><t>hej</t></text></comment></commentList></comments>"#;
    let persons = r#"<?xml version="1.0" encoding="UTF-8"?><personList xmlns="http://schemas.microsoft.com/office/spreadsheetml/2018/threadedcomments"><person displayName="Anna Andersson" id="{1}" userId="anna@example.se" providerId="AD"/></personList>"#;
    let threaded = r#"<?xml version="1.0" encoding="UTF-8"?><ThreadedComments xmlns="http://schemas.microsoft.com/office/spreadsheetml/2018/threadedcomments"><threadedComment ref="A1" dT="2026-01-02T03:04:05.00" personId="{1}" id="{2}"><text>hej</text></threadedComment></ThreadedComments>"#;
    let original = zip(&[
        ("[Content_Types].xml", types.as_bytes()),
        ("xl/workbook.xml", workbook.as_bytes()),
        ("xl/comments1.xml", comments.as_bytes()),
        ("xl/persons/person.xml", persons.as_bytes()),
        (
            "xl/threadedComments/threadedComment1.xml",
            threaded.as_bytes(),
        ),
        ("docProps/core.xml", CORE.as_bytes()),
    ]);

    let entries = clean_and_check(&original, FileKind::Xlsx);

    assert!(entry(&entries, "xl/comments1.xml").contains("<author>Tipsa</author>"));
    assert!(entry(&entries, "xl/persons/person.xml").contains("id=\"{1}\""));
    assert!(entry(&entries, "xl/workbook.xml").contains("Blad1"));
}

#[test]
fn odt_loses_meta_annotation_authors_and_thumbnail_and_keeps_mimetype_first() {
    let manifest = r#"<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2"><manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.text"/><manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/><manifest:file-entry manifest:full-path="Thumbnails/thumbnail.png" manifest:media-type="image/png"/></manifest:manifest>"#;
    let content = r#"<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0"><office:body><office:text><text:p>Tips<office:annotation><dc:creator>Anna Andersson</dc:creator><dc:date>2026-01-02T03:04:05</dc:date><meta:creator-initials>AA</meta:creator-initials><text:p>notis</text:p></office:annotation></text:p></office:text></office:body></office:document-content>"#;
    let meta = r#"<?xml version="1.0" encoding="UTF-8"?><office:document-meta xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0"><office:meta><meta:initial-creator>Anna Andersson</meta:initial-creator></office:meta></office:document-meta>"#;
    let original = zip(&[
        ("mimetype", b"application/vnd.oasis.opendocument.text"),
        ("content.xml", content.as_bytes()),
        ("meta.xml", meta.as_bytes()),
        ("Thumbnails/thumbnail.png", b"\x89PNG not really"),
        ("META-INF/manifest.xml", manifest.as_bytes()),
    ]);

    let entries = clean_and_check(&original, FileKind::Odt);

    assert_eq!(entries[0].0, "mimetype");
    let cleaned = cleaned_bytes(&original);
    let mut archive = ZipArchive::new(Cursor::new(&cleaned[..])).expect("zip");
    assert_eq!(
        archive.by_index(0).expect("first").compression(),
        CompressionMethod::Stored
    );
    assert!(
        !entries
            .iter()
            .any(|(name, _)| name.starts_with("Thumbnails/"))
    );
    assert!(!entry(&entries, "META-INF/manifest.xml").contains("Thumbnails"));
    assert!(entry(&entries, "content.xml").contains("notis"));
}

#[test]
fn entry_inflating_past_the_limit_is_a_bomb() {
    let zeros = vec![0u8; 5 * 1024 * 1024];
    let bomb = zip(&[
        ("[Content_Types].xml", CONTENT_TYPES.as_bytes()),
        ("word/document.xml", DOCUMENT.as_bytes()),
        ("word/media/filler.bin", &zeros),
    ]);
    assert!(bomb.len() < 100 * 1024, "fixture compresses well");
    let limits = CleanLimits {
        max_unpacked_bytes: 1024 * 1024,
        ..CleanLimits::default()
    };
    assert!(matches!(
        clean(&bomb, &limits),
        Err(Refusal::TooLargeUnpacked)
    ));
    // The same file is fine within the default limits.
    assert!(clean(&bomb, &CleanLimits::default()).is_ok());
}

#[test]
fn too_many_entries_is_a_bomb() {
    let limits = CleanLimits {
        max_archive_entries: 2,
        ..CleanLimits::default()
    };
    assert!(matches!(
        clean(&docx(b"x"), &limits),
        Err(Refusal::TooLargeUnpacked)
    ));
}

#[test]
fn macro_enabled_document_is_active_content() {
    let docm = zip(&[
        ("[Content_Types].xml", CONTENT_TYPES.as_bytes()),
        ("word/document.xml", DOCUMENT.as_bytes()),
        ("word/vbaProject.bin", b"\xd0\xcf\x11\xe0 macro"),
    ]);
    assert!(matches!(
        clean(&docm, &CleanLimits::default()),
        Err(Refusal::ActiveContent)
    ));
}

#[test]
fn zip_that_is_not_an_office_file_is_unsupported() {
    let plain = zip(&[("notes.txt", b"hello"), ("photo.jpg", b"not really")]);
    match clean(&plain, &CleanLimits::default()) {
        Err(Refusal::Unsupported { detected }) => {
            assert_eq!(detected.as_deref(), Some("application/zip"))
        }
        other => panic!("{:?}", other.map(|cleaned| cleaned.kind)),
    }
}

#[test]
fn malformed_xml_part_refuses_the_document() {
    let broken = zip(&[
        ("[Content_Types].xml", CONTENT_TYPES.as_bytes()),
        ("word/document.xml", b"<w:document><w:body></w:document>"),
    ]);
    assert!(matches!(
        clean(&broken, &CleanLimits::default()),
        Err(Refusal::Damaged(_))
    ));
}
