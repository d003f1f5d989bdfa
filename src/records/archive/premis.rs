//! `metadata/preservation/premis.xml` (PREMIS 3): one object per content file with its SHA-256
//! fixity, size and format; the events — the package's creation and, per tip, the decryption of
//! the sealed fields that went into it — and the agents that took part.

use std::io;

use chrono::{DateTime, Utc};
use quick_xml::events::BytesText;

use super::package::PackageFile;
use super::xml::{self, PREMIS_NS, XSI_NS, XmlWriter, instant, text_element};

/// Sealed fields of one tip opened for the package.
#[derive(Debug, Clone)]
pub struct Decryption {
    pub reference: String,
    pub at: DateTime<Utc>,
    /// The reporter's contact details were opened (the rule archives them).
    pub contact: bool,
    /// Attachments opened (their content is sealed at rest).
    pub attachments: usize,
    /// The package files holding what was opened.
    pub objects: Vec<String>,
}

pub struct PremisInput<'a> {
    pub package_id: &'a str,
    pub created: DateTime<Utc>,
    /// The period as people read it, e.g. "2026-01-01 – 2026-12-31".
    pub period: &'a str,
    /// `cli:records-archive` (who ran the export).
    pub actor: &'a str,
    pub organisation: &'a str,
    pub organisation_id: Option<&'a str>,
    pub files: &'a [PackageFile],
    pub decryptions: &'a [Decryption],
}

const SOFTWARE_AGENT: &str = "tipsa";
const ORGANISATION_AGENT: &str = "arkivbildare";

pub fn premis_xml(input: &PremisInput<'_>) -> io::Result<Vec<u8>> {
    let mut writer = xml::document()?;
    writer
        .create_element("premis:premis")
        .with_attribute(("xmlns:premis", PREMIS_NS))
        .with_attribute(("xmlns:xsi", XSI_NS))
        .with_attribute((
            "xsi:schemaLocation",
            "http://www.loc.gov/premis/v3 https://www.loc.gov/standards/premis/premis.xsd",
        ))
        .with_attribute(("version", "3.0"))
        .write_inner_content(|w| {
            for file in input.files {
                object(w, file)?;
            }
            creation_event(w, input)?;
            for (n, decryption) in input.decryptions.iter().enumerate() {
                decryption_event(w, input, n + 1, decryption)?;
            }
            agents(w, input)
        })?;
    Ok(xml::finish(writer))
}

fn identifier(w: &mut XmlWriter, element: &str, kind: &str, value: &str) -> io::Result<()> {
    w.create_element(element).write_inner_content(|w| {
        let prefix = element.trim_start_matches("premis:");
        text_element(w, &format!("premis:{prefix}Type"), kind)?;
        text_element(w, &format!("premis:{prefix}Value"), value)
    })?;
    Ok(())
}

fn object(w: &mut XmlWriter, file: &PackageFile) -> io::Result<()> {
    w.create_element("premis:object")
        .with_attribute(("xsi:type", "premis:file"))
        .write_inner_content(|w| {
            identifier(w, "premis:objectIdentifier", "local", &file.path)?;
            w.create_element("premis:objectCharacteristics")
                .write_inner_content(|w| {
                    text_element(w, "premis:compositionLevel", "0")?;
                    w.create_element("premis:fixity").write_inner_content(|w| {
                        text_element(w, "premis:messageDigestAlgorithm", "SHA-256")?;
                        text_element(w, "premis:messageDigest", &file.sha256)?;
                        text_element(w, "premis:messageDigestOriginator", "Tipsa")
                    })?;
                    text_element(w, "premis:size", &file.size.to_string())?;
                    w.create_element("premis:format").write_inner_content(|w| {
                        w.create_element("premis:formatDesignation")
                            .write_inner_content(|w| {
                                text_element(w, "premis:formatName", file.format.name())
                            })?;
                        if let Some(key) = file.format.pronom() {
                            w.create_element("premis:formatRegistry")
                                .write_inner_content(|w| {
                                    text_element(w, "premis:formatRegistryName", "PRONOM")?;
                                    text_element(w, "premis:formatRegistryKey", key)
                                })?;
                        }
                        Ok(())
                    })?;
                    Ok(())
                })?;
            Ok(())
        })?;
    Ok(())
}

struct Event<'a> {
    id: String,
    kind: &'a str,
    at: DateTime<Utc>,
    detail: String,
    objects: Vec<&'a str>,
}

fn event(w: &mut XmlWriter, input: &PremisInput<'_>, event: &Event<'_>) -> io::Result<()> {
    w.create_element("premis:event").write_inner_content(|w| {
        identifier(w, "premis:eventIdentifier", "local", &event.id)?;
        text_element(w, "premis:eventType", event.kind)?;
        text_element(w, "premis:eventDateTime", &instant(event.at))?;
        w.create_element("premis:eventDetailInformation")
            .write_inner_content(|w| text_element(w, "premis:eventDetail", &event.detail))?;
        w.create_element("premis:eventOutcomeInformation")
            .write_inner_content(|w| text_element(w, "premis:eventOutcome", "success"))?;
        for (agent, role) in [
            (SOFTWARE_AGENT, "executing program"),
            (input.actor, "implementer"),
            (ORGANISATION_AGENT, "authorizer"),
        ] {
            w.create_element("premis:linkingAgentIdentifier")
                .write_inner_content(|w| {
                    text_element(w, "premis:linkingAgentIdentifierType", "local")?;
                    text_element(w, "premis:linkingAgentIdentifierValue", agent)?;
                    text_element(w, "premis:linkingAgentRole", role)
                })?;
        }
        for object in &event.objects {
            identifier(w, "premis:linkingObjectIdentifier", "local", object)?;
        }
        Ok(())
    })?;
    Ok(())
}

fn creation_event(w: &mut XmlWriter, input: &PremisInput<'_>) -> io::Result<()> {
    let created = Event {
        id: format!("{}-creation", input.package_id),
        kind: "creation",
        at: input.created,
        detail: format!(
            "Arkivpaket (SIP) skapat av Tipsa med de bevarade tipsen avslutade {}; \
             kontrollsummor (SHA-256) beräknade när filerna skrevs.",
            input.period
        ),
        objects: input.files.iter().map(|f| f.path.as_str()).collect(),
    };
    event(w, input, &created)
}

fn decryption_event(
    w: &mut XmlWriter,
    input: &PremisInput<'_>,
    number: usize,
    decryption: &Decryption,
) -> io::Result<()> {
    let mut opened = Vec::new();
    if decryption.contact {
        opened.push("uppgiftslämnarens kontaktuppgifter".to_owned());
    }
    match decryption.attachments {
        0 => {}
        1 => opened.push("1 bilaga".to_owned()),
        n => opened.push(format!("{n} bilagor")),
    }
    let opened_event = Event {
        id: format!("{}-decryption-{number}", input.package_id),
        kind: "decryption",
        at: decryption.at,
        detail: format!(
            "Krypterat lagrade uppgifter i {} öppnade för arkivering: {}.",
            decryption.reference,
            opened.join(", ")
        ),
        objects: decryption.objects.iter().map(String::as_str).collect(),
    };
    event(w, input, &opened_event)
}

fn agents(w: &mut XmlWriter, input: &PremisInput<'_>) -> io::Result<()> {
    let version = env!("CARGO_PKG_VERSION");
    w.create_element("premis:agent").write_inner_content(|w| {
        identifier(w, "premis:agentIdentifier", "local", SOFTWARE_AGENT)?;
        text_element(w, "premis:agentName", "Tipsa")?;
        text_element(w, "premis:agentType", "software")?;
        text_element(w, "premis:agentVersion", version)
    })?;
    w.create_element("premis:agent").write_inner_content(|w| {
        identifier(w, "premis:agentIdentifier", "local", input.actor)?;
        text_element(w, "premis:agentName", input.actor)?;
        text_element(w, "premis:agentType", "software")?;
        w.create_element("premis:agentNote").write_text_content(BytesText::new(
            "Kommandot tipsa records archive, kört av den som har tillgång till tjänstens nycklar.",
        ))?;
        Ok(())
    })?;
    w.create_element("premis:agent").write_inner_content(|w| {
        identifier(w, "premis:agentIdentifier", "local", ORGANISATION_AGENT)?;
        if let Some(id) = input.organisation_id {
            identifier(w, "premis:agentIdentifier", "organisationsnummer", id)?;
        }
        text_element(w, "premis:agentName", input.organisation)?;
        text_element(w, "premis:agentType", "organization")
    })?;
    Ok(())
}
