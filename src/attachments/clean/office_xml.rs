//! The XML side of Office cleaning: empty replacements for the metadata parts, and a
//! streaming quick-xml rewrite of every other part that removes revision ids, authors, dates
//! and references to dropped parts.

use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};
use quick_xml::{Reader, Writer};

use super::{Refusal, office};

/// Who a comment or tracked change is attributed to after cleaning.
const NEUTRAL_AUTHOR: &str = "Tipsa";
/// A valid date for elements and attributes the formats require.
const NEUTRAL_DATE: &str = "1970-01-01T00:00:00Z";

const CORE_XML: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" xmlns:dcmitype="http://purl.org/dc/dcmitype/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/>"#;

const APP_XML: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties" xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"/>"#;

const CUSTOM_XML: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/custom-properties" xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"/>"#;

const ODF_META_XML: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<office:document-meta xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0" xmlns:dc="http://purl.org/dc/elements/1.1/" office:version="1.2"><office:meta/></office:document-meta>"#;

/// What happens to an element.
enum Action {
    Keep,
    /// Removed with everything inside it.
    Drop,
    /// Kept, its text replaced.
    ReplaceText(&'static str),
}

/// The fixed content of a metadata part, if `name` is one.
pub(super) fn replacement(name: &str) -> Option<&'static str> {
    match name {
        "docProps/core.xml" => Some(CORE_XML),
        "docProps/app.xml" => Some(APP_XML),
        "docProps/custom.xml" => Some(CUSTOM_XML),
        // Embedded ODF objects (`Object 1/meta.xml`) have their own meta.xml.
        _ if name == "meta.xml" || name.ends_with("/meta.xml") => Some(ODF_META_XML),
        _ => None,
    }
}

/// Rewrites one XML part. A part that is not well-formed UTF-8 XML refuses the document.
pub(super) fn rewrite(part: &str, data: &[u8]) -> Result<Vec<u8>, Refusal> {
    let data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    let text = std::str::from_utf8(data)
        .map_err(|_| Refusal::cannot_clean("a document part is not UTF-8 XML"))?;
    let people = part == "word/people.xml";
    let mut reader = Reader::from_str(text);
    let mut writer = Writer::new(Vec::with_capacity(data.len()));
    loop {
        match reader.read_event().map_err(|_| malformed())? {
            Event::Eof => break,
            Event::Start(start) => match action(&start, people) {
                Action::Keep => write(&mut writer, Event::Start(clean_attributes(&start)?))?,
                Action::Drop => skip(&mut reader, &start)?,
                Action::ReplaceText(replacement) => {
                    skip(&mut reader, &start)?;
                    write(&mut writer, Event::Start(clean_attributes(&start)?))?;
                    write(&mut writer, Event::Text(BytesText::new(replacement)))?;
                    write(&mut writer, Event::End(BytesEnd::new(start.name().0)))?;
                }
            },
            Event::Empty(start) => match action(&start, people) {
                Action::Drop => {}
                _ => write(&mut writer, Event::Empty(clean_attributes(&start)?))?,
            },
            other => write(&mut writer, other)?,
        }
    }
    Ok(writer.into_inner())
}

fn action(element: &BytesStart<'_>, people: bool) -> Action {
    let qname = element.name().0;
    let local = element.local_name();
    match (qname, local.as_ref()) {
        // Revision session ids: link the edits to the editing sessions (and machines).
        (_, "rsids") => Action::Drop,
        // word/people.xml lists everyone who commented or tracked changes.
        (_, "person") if people => Action::Drop,
        // The folder the file was last saved in, usually with the user's name in it.
        (_, "absPath") => Action::Drop,
        // The template's path (and its relationship below) also names the user's folders.
        ("w:attachedTemplate", _) => Action::Drop,
        ("dc:creator" | "meta:creator-initials" | "meta:initial-creator", _) => {
            Action::ReplaceText("")
        }
        ("dc:date" | "meta:creation-date", _) => Action::ReplaceText(NEUTRAL_DATE),
        // XLSX comment authors: `<authors><author>…</author></authors>`.
        ("author", _) => Action::ReplaceText(NEUTRAL_AUTHOR),
        _ if refers_to_dropped(element) || is_printer_setting(element) => Action::Drop,
        _ => Action::Keep,
    }
}

/// Content-type overrides, relationships and ODF manifest entries of dropped parts, and the
/// relationship to an attached template (an external path).
fn refers_to_dropped(element: &BytesStart<'_>) -> bool {
    let local = element.local_name();
    if !matches!(local.as_ref(), "Override" | "Relationship" | "file-entry") {
        return false;
    }
    element.attributes().flatten().any(|attribute| {
        let value = attribute.value.as_ref();
        office::is_thumbnail(value.trim_start_matches('/')) || value.ends_with("/attachedTemplate")
    })
}

/// ODF settings.xml stores the printer's name and driver settings.
fn is_printer_setting(element: &BytesStart<'_>) -> bool {
    element.local_name().as_ref() == "config-item"
        && element.attributes().flatten().any(|attribute| {
            attribute.key.0 == "config:name"
                && matches!(attribute.value.as_ref(), "PrinterName" | "PrinterSetup")
        })
}

/// What happens to an attribute: kept, dropped, or given a neutral value.
fn attribute_replacement(qname: &str) -> Option<Option<&'static str>> {
    let local = qname.rsplit(':').next().unwrap_or(qname);
    if local.starts_with("rsid") {
        return Some(None);
    }
    match (qname, local) {
        ("w:author", _) | (_, "displayName" | "userId" | "userName") => Some(Some(NEUTRAL_AUTHOR)),
        ("w:initials", _) => Some(Some("")),
        (_, "providerId") => Some(Some("None")),
        // Dates of tracked changes and comments; `dT` of threaded comments is required.
        ("w:date", _) | (_, "dateUtc") => Some(None),
        (_, "dT") => Some(Some(NEUTRAL_DATE)),
        _ => None,
    }
}

fn clean_attributes(element: &BytesStart<'_>) -> Result<BytesStart<'static>, Refusal> {
    let mut cleaned = BytesStart::new(element.name().0.to_owned());
    for attribute in element.attributes() {
        let attribute = attribute.map_err(|_| malformed())?;
        let key = attribute.key.0;
        match attribute_replacement(key) {
            None => cleaned.push_attribute(Attribute {
                key: attribute.key,
                value: attribute.value,
            }),
            Some(Some(value)) => cleaned.push_attribute((key, value)),
            Some(None) => {}
        }
    }
    Ok(cleaned)
}

/// Consumes the rest of an element that has been started.
fn skip(reader: &mut Reader<&[u8]>, start: &BytesStart<'_>) -> Result<(), Refusal> {
    reader.read_to_end(start.name()).map_err(|_| malformed())?;
    Ok(())
}

fn write(writer: &mut Writer<Vec<u8>>, event: Event<'_>) -> Result<(), Refusal> {
    writer
        .write_event(event)
        .map_err(|_| Refusal::cannot_clean("a document part could not be written again"))
}

fn malformed() -> Refusal {
    Refusal::damaged("a document part is not well-formed XML")
}
