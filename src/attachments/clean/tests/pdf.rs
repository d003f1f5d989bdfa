//! PDF cleaning and refusals.

use lopdf::{Document, Object, Stream, dictionary};

use super::super::{CleanLimits, FileKind, Refusal, clean};
use super::{Scratch, exif_json};

const XMP: &str = r#"<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:creator><rdf:Seq><rdf:li>Anna Andersson</rdf:li></rdf:Seq></dc:creator></rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>"#;

/// A one-page PDF with the author's name in /Info, in catalog and page XMP, and in
/// /PieceInfo; `catalog_extra` adds entries to the catalog.
fn identifying_pdf(catalog_extra: &[(&str, Object)]) -> Vec<u8> {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font_id = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Courier",
    });
    let content = b"BT /F1 24 Tf 100 600 Td (Tips om vardcentralen) Tj ET".to_vec();
    let content_id = doc.add_object(Stream::new(dictionary! {}, content));
    let xmp = || {
        Stream::new(
            dictionary! {"Type" => "Metadata", "Subtype" => "XML"},
            XMP.into(),
        )
    };
    let page_xmp = doc.add_object(xmp());
    let page_id = doc.add_object(dictionary! {
        "Type" => "Page",
        "Parent" => pages_id,
        "Contents" => content_id,
        "Metadata" => page_xmp,
        "PieceInfo" => dictionary! {"App" => dictionary! {"Private" => Object::string_literal("Anna Andersson")}},
        "Resources" => dictionary! {"Font" => dictionary! {"F1" => font_id}},
        "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
    });
    doc.objects.insert(
        pages_id,
        Object::Dictionary(
            dictionary! {"Type" => "Pages", "Kids" => vec![page_id.into()], "Count" => 1},
        ),
    );
    let xmp_id = doc.add_object(xmp());
    let mut catalog = dictionary! {"Type" => "Catalog", "Pages" => pages_id, "Metadata" => xmp_id};
    for (key, value) in catalog_extra {
        catalog.set(*key, value.clone());
    }
    let catalog_id = doc.add_object(catalog);
    let info_id = doc.add_object(dictionary! {
        "Author" => Object::string_literal("Anna Andersson"),
        "Creator" => Object::string_literal("Anna Andersson's Writer"),
        "Producer" => Object::string_literal("TipsaPhoneMaker PDF"),
        "Title" => Object::string_literal("Anna Andersson notes"),
    });
    doc.trailer.set("Root", catalog_id);
    doc.trailer.set("Info", info_id);
    doc.trailer.set(
        "ID",
        vec![
            Object::string_literal("SN-778899"),
            Object::string_literal("SN-778899"),
        ],
    );
    let mut out = Vec::new();
    doc.save_to(&mut out).expect("save fixture");
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn pdf_loses_info_xmp_piece_info_and_id() {
    let scratch = Scratch::new("pdf");
    let original = identifying_pdf(&[]);
    assert!(contains(&original, "Anna Andersson"));
    assert!(exif_json(&scratch, "before.pdf", &original).contains("Anna Andersson"));

    let cleaned = clean(&original, &CleanLimits::default()).expect("cleaned");

    assert_eq!(cleaned.kind, FileKind::Pdf);
    for value in [
        "Anna Andersson",
        "TipsaPhoneMaker",
        "SN-778899",
        "/Metadata",
        "/PieceInfo",
    ] {
        assert!(!contains(&cleaned.bytes, value), "{value} survived");
    }
    let json = exif_json(&scratch, "after.pdf", &cleaned.bytes);
    for tag in [
        "Anna Andersson",
        ":Author\"",
        ":Creator\"",
        ":Producer\"",
        ":Title\"",
    ] {
        assert!(!json.contains(tag), "{tag} survived:\n{json}");
    }
    // The page and its text are still there.
    let reloaded = Document::load_mem(&cleaned.bytes).expect("cleaned PDF loads");
    assert_eq!(reloaded.get_pages().len(), 1);
    assert!(contains(&cleaned.bytes, "Tips om vardcentralen"));
}

#[test]
fn pdf_with_javascript_open_action_is_active_content() {
    let action = Object::Dictionary(dictionary! {
        "S" => "JavaScript", "JS" => Object::string_literal("app.alert('hi')"),
    });
    let pdf = identifying_pdf(&[("OpenAction", action)]);
    assert!(matches!(
        clean(&pdf, &CleanLimits::default()),
        Err(Refusal::ActiveContent)
    ));
}

#[test]
fn pdf_with_launch_action_is_active_content() {
    let action = Object::Dictionary(
        dictionary! {"S" => "Launch", "F" => Object::string_literal("calc.exe")},
    );
    let pdf = identifying_pdf(&[("AA", Object::Dictionary(dictionary! {"O" => action}))]);
    assert!(matches!(
        clean(&pdf, &CleanLimits::default()),
        Err(Refusal::ActiveContent)
    ));
}

#[test]
fn pdf_with_embedded_files_is_active_content() {
    let names = dictionary! {"EmbeddedFiles" => dictionary! {"Names" => Vec::<Object>::new()}};
    let pdf = identifying_pdf(&[("Names", Object::Dictionary(names))]);
    assert!(matches!(
        clean(&pdf, &CleanLimits::default()),
        Err(Refusal::ActiveContent)
    ));
}

#[test]
fn damaged_pdf_is_refused() {
    let refused = clean(
        b"%PDF-1.7\nthis is not a pdf body at all",
        &CleanLimits::default(),
    );
    assert!(
        matches!(refused, Err(Refusal::Damaged(_))),
        "{:?}",
        refused.err()
    );
}
