//! Small helpers over quick-xml's writer for the package's XML files: every value goes through
//! the writer's escaping, and characters XML 1.0 cannot carry at all are replaced first.

use std::borrow::Cow;
use std::io;

use chrono::{DateTime, SecondsFormat, Utc};
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};

pub const METS_NS: &str = "http://www.loc.gov/METS/";
pub const XLINK_NS: &str = "http://www.w3.org/1999/xlink";
pub const XSI_NS: &str = "http://www.w3.org/2001/XMLSchema-instance";
pub const CSIP_NS: &str = "https://DILCIS.eu/XML/METS/CSIPExtensionMETS";
pub const PREMIS_NS: &str = "http://www.loc.gov/premis/v3";
pub const DC_NS: &str = "http://purl.org/dc/elements/1.1/";
/// Tipsa's own namespace for the per-tip record (FGS Ärendehantering's element names).
pub const RECORD_NS: &str = "urn:tipsa:arkiv:arende:1";

pub type XmlWriter = Writer<Vec<u8>>;

/// A writer into memory, indented two spaces, that has written the XML declaration.
pub fn document() -> io::Result<XmlWriter> {
    let mut writer = Writer::new_with_indent(Vec::new(), b' ', 2);
    writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    Ok(writer)
}

/// The finished document's bytes, ending with a newline.
pub fn finish(writer: XmlWriter) -> Vec<u8> {
    let mut bytes = writer.into_inner();
    bytes.push(b'\n');
    bytes
}

/// `text` without the characters XML 1.0 forbids (the C0 controls but tab and line breaks,
/// U+FFFE and U+FFFF; a Rust string holds no lone surrogates): each becomes U+FFFD, so nothing is silently lost.
pub fn clean(text: &str) -> Cow<'_, str> {
    let allowed = |c: char| {
        matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
    };
    if text.chars().all(allowed) {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(
            text.chars()
                .map(|c| if allowed(c) { c } else { '\u{FFFD}' })
                .collect(),
        )
    }
}

/// `<name>text</name>`.
pub fn text_element(writer: &mut XmlWriter, name: &str, text: &str) -> io::Result<()> {
    writer
        .create_element(name)
        .write_text_content(BytesText::new(&clean(text)))?;
    Ok(())
}

/// `<name>text</name>` when there is a text.
pub fn optional_element(writer: &mut XmlWriter, name: &str, text: Option<&str>) -> io::Result<()> {
    match text {
        Some(text) => text_element(writer, name, text),
        None => Ok(()),
    }
}

/// An instant as xsd:dateTime in UTC, to the second: `2026-03-01T09:30:00Z`.
pub fn instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_characters_are_replaced_and_markup_is_escaped() {
        assert_eq!(clean("a\u{0}b\u{1B}c\td"), "a\u{FFFD}b\u{FFFD}c\td");
        assert!(matches!(clean("vanlig text åäö"), Cow::Borrowed(_)));
        let mut writer = document().unwrap();
        text_element(&mut writer, "t", "<b>&\"x\"</b>\u{7}").unwrap();
        let text = String::from_utf8(finish(writer)).unwrap();
        assert!(text.contains("<t>&lt;b&gt;&amp;"), "{text}");
        assert!(text.contains("&lt;/b&gt;\u{FFFD}</t>"), "{text}");
    }
}
