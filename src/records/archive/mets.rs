//! `METS.xml`, the package's manifest (E-ARK CSIP as FGS Paketstruktur builds on it): who made
//! the package, references with checksums to its descriptive and preservation metadata, every
//! content file with MIME type, size, creation time and SHA-256, and the CSIP structural map.

use std::io;

use chrono::{DateTime, Utc};
use quick_xml::events::BytesText;

use super::package::PackageFile;
use super::xml::{self, CSIP_NS, METS_NS, XLINK_NS, XSI_NS, XmlWriter, instant, text_element};

/// Riksarkivet's METS profile for FGS Paketstruktur (Common Specification Sweden).
pub const PROFILE: &str =
    "http://xml.ra.se/e-arkiv/METS/CommonSpecificationSwedenPackageProfile.xml";
/// The content category FGS uses for case management (ärendehantering).
pub const CONTENT_TYPE: &str = "ERMS";
/// What the records in the representation are.
pub const CONTENT_INFORMATION_TYPE: &str =
    "FGS Ärendehantering (Tipsa record.xml, urn:tipsa:arkiv:arende:1)";
/// The one representation: the records and their attachments.
pub const REPRESENTATION: &str = "representations/rep1";

const SCHEMA_LOCATION: &str = "http://www.loc.gov/METS/ http://www.loc.gov/standards/mets/mets.xsd \
     http://www.w3.org/1999/xlink http://www.loc.gov/standards/mets/xlink.xsd \
     https://DILCIS.eu/XML/METS/CSIPExtensionMETS https://earkcsip.dilcis.eu/schema/DILCISExtensionMETS.xsd";

pub struct MetsInput<'a> {
    pub package_id: &'a str,
    pub label: &'a str,
    pub created: DateTime<Utc>,
    pub organisation: &'a str,
    pub organisation_id: Option<&'a str>,
    pub submission_agreement: Option<&'a str>,
    /// `metadata/descriptive/dc.xml`.
    pub descriptive: &'a PackageFile,
    /// `metadata/preservation/premis.xml`.
    pub preservation: &'a PackageFile,
    /// Everything under `representations/`.
    pub content: &'a [PackageFile],
}

pub fn mets_xml(input: &MetsInput<'_>) -> io::Result<Vec<u8>> {
    let mut writer = xml::document()?;
    writer
        .create_element("mets:mets")
        .with_attribute(("xmlns:mets", METS_NS))
        .with_attribute(("xmlns:xlink", XLINK_NS))
        .with_attribute(("xmlns:xsi", XSI_NS))
        .with_attribute(("xmlns:csip", CSIP_NS))
        .with_attribute(("xsi:schemaLocation", SCHEMA_LOCATION))
        .with_attribute(("OBJID", input.package_id))
        .with_attribute(("LABEL", xml::clean(input.label).as_ref()))
        .with_attribute(("TYPE", CONTENT_TYPE))
        .with_attribute(("PROFILE", PROFILE))
        .with_attribute(("csip:CONTENTINFORMATIONTYPE", "OTHER"))
        .with_attribute(("csip:OTHERCONTENTINFORMATIONTYPE", CONTENT_INFORMATION_TYPE))
        .write_inner_content(|w| {
            header(w, input)?;
            metadata_reference(
                w,
                "mets:dmdSec",
                "dmd-dc",
                "DC",
                input.descriptive,
                input.created,
            )?;
            w.create_element("mets:amdSec")
                .with_attribute(("ID", "amd"))
                .write_inner_content(|w| {
                    metadata_reference(
                        w,
                        "mets:digiprovMD",
                        "digiprov-premis",
                        "PREMIS",
                        input.preservation,
                        input.created,
                    )
                })?;
            file_section(w, input.content)?;
            structural_map(w, input.package_id)
        })?;
    Ok(xml::finish(writer))
}

fn header(w: &mut XmlWriter, input: &MetsInput<'_>) -> io::Result<()> {
    let created = instant(input.created);
    w.create_element("mets:metsHdr")
        .with_attribute(("CREATEDATE", created.as_str()))
        .with_attribute(("RECORDSTATUS", "NEW"))
        .with_attribute(("csip:OAISPACKAGETYPE", "SIP"))
        .write_inner_content(|w| {
            // The authority both made the package and created the records in it.
            for role in ["CREATOR", "ARCHIVIST"] {
                w.create_element("mets:agent")
                    .with_attribute(("ROLE", role))
                    .with_attribute(("TYPE", "ORGANIZATION"))
                    .write_inner_content(|w| {
                        text_element(w, "mets:name", input.organisation)?;
                        if let Some(id) = input.organisation_id {
                            w.create_element("mets:note")
                                .with_attribute(("csip:NOTETYPE", "IDENTIFICATIONCODE"))
                                .write_text_content(BytesText::new(&xml::clean(&format!(
                                    "ORG:{id}"
                                ))))?;
                        }
                        Ok(())
                    })?;
            }
            w.create_element("mets:agent")
                .with_attribute(("ROLE", "CREATOR"))
                .with_attribute(("TYPE", "OTHER"))
                .with_attribute(("OTHERTYPE", "SOFTWARE"))
                .write_inner_content(|w| {
                    text_element(w, "mets:name", "Tipsa")?;
                    w.create_element("mets:note")
                        .with_attribute(("csip:NOTETYPE", "SOFTWARE VERSION"))
                        .write_text_content(BytesText::new(env!("CARGO_PKG_VERSION")))?;
                    Ok(())
                })?;
            if let Some(agreement) = input.submission_agreement {
                w.create_element("mets:altRecordID")
                    .with_attribute(("TYPE", "SUBMISSIONAGREEMENT"))
                    .write_text_content(BytesText::new(&xml::clean(agreement)))?;
            }
            text_element(w, "mets:metsDocumentID", "METS.xml")
        })?;
    Ok(())
}

/// A `dmdSec` or `digiprovMD` pointing at a metadata file, with its size and checksum.
fn metadata_reference(
    w: &mut XmlWriter,
    section: &str,
    id: &str,
    metadata_type: &str,
    file: &PackageFile,
    created: DateTime<Utc>,
) -> io::Result<()> {
    let section_created = instant(created);
    let file_created = instant(file.created);
    let size = file.size.to_string();
    w.create_element(section)
        .with_attribute(("ID", id))
        .with_attribute(("CREATED", section_created.as_str()))
        .with_attribute(("STATUS", "CURRENT"))
        .write_inner_content(|w| {
            w.create_element("mets:mdRef")
                .with_attribute(("LOCTYPE", "URL"))
                .with_attribute(("xlink:type", "simple"))
                .with_attribute(("xlink:href", file.path.as_str()))
                .with_attribute(("MDTYPE", metadata_type))
                .with_attribute(("MIMETYPE", file.format.mime()))
                .with_attribute(("SIZE", size.as_str()))
                .with_attribute(("CREATED", file_created.as_str()))
                .with_attribute(("CHECKSUM", file.sha256.as_str()))
                .with_attribute(("CHECKSUMTYPE", "SHA-256"))
                .write_empty()?;
            Ok(())
        })?;
    Ok(())
}

fn file_section(w: &mut XmlWriter, content: &[PackageFile]) -> io::Result<()> {
    w.create_element("mets:fileSec")
        .with_attribute(("ID", "filesec"))
        .write_inner_content(|w| {
            w.create_element("mets:fileGrp")
                .with_attribute(("ID", "filegrp-rep1"))
                .with_attribute(("USE", "Representations/rep1"))
                .with_attribute(("csip:CONTENTINFORMATIONTYPE", "OTHER"))
                .with_attribute(("csip:OTHERCONTENTINFORMATIONTYPE", CONTENT_INFORMATION_TYPE))
                .write_inner_content(|w| {
                    for (n, file) in content.iter().enumerate() {
                        let id = format!("file-{:06}", n + 1);
                        let size = file.size.to_string();
                        let created = instant(file.created);
                        w.create_element("mets:file")
                            .with_attribute(("ID", id.as_str()))
                            .with_attribute(("MIMETYPE", file.format.mime()))
                            .with_attribute(("SIZE", size.as_str()))
                            .with_attribute(("CREATED", created.as_str()))
                            .with_attribute(("CHECKSUM", file.sha256.as_str()))
                            .with_attribute(("CHECKSUMTYPE", "SHA-256"))
                            .write_inner_content(|w| {
                                w.create_element("mets:FLocat")
                                    .with_attribute(("LOCTYPE", "URL"))
                                    .with_attribute(("xlink:type", "simple"))
                                    .with_attribute(("xlink:href", file.path.as_str()))
                                    .write_empty()?;
                                Ok(())
                            })?;
                    }
                    Ok(())
                })?;
            Ok(())
        })?;
    Ok(())
}

fn structural_map(w: &mut XmlWriter, package_id: &str) -> io::Result<()> {
    w.create_element("mets:structMap")
        .with_attribute(("ID", "structmap-csip"))
        .with_attribute(("TYPE", "PHYSICAL"))
        .with_attribute(("LABEL", "CSIP"))
        .write_inner_content(|w| {
            w.create_element("mets:div")
                .with_attribute(("ID", "div-package"))
                .with_attribute(("LABEL", package_id))
                .write_inner_content(|w| {
                    w.create_element("mets:div")
                        .with_attribute(("ID", "div-metadata"))
                        .with_attribute(("LABEL", "Metadata"))
                        .with_attribute(("DMDID", "dmd-dc"))
                        .with_attribute(("ADMID", "digiprov-premis"))
                        .write_empty()?;
                    w.create_element("mets:div")
                        .with_attribute(("ID", "div-rep1"))
                        .with_attribute(("LABEL", "Representations/rep1"))
                        .write_inner_content(|w| {
                            w.create_element("mets:fptr")
                                .with_attribute(("FILEID", "filegrp-rep1"))
                                .write_empty()?;
                            Ok(())
                        })?;
                    Ok(())
                })?;
            Ok(())
        })?;
    Ok(())
}
