//! `metadata/descriptive/dc.xml`: a short Dublin Core description of the delivery as a whole
//! (title, creator, period, extent) — the archive's own finding aids (EAD) are made from it
//! and from the records, not by Tipsa.

use std::io;

use super::xml::{self, DC_NS, text_element};

const OAI_DC_NS: &str = "http://www.openarchives.org/OAI/2.0/oai_dc/";

pub struct Description<'a> {
    pub package_id: &'a str,
    pub organisation: &'a str,
    /// "2026-01-01 – 2026-12-31".
    pub period: &'a str,
    /// Closure dates as ISO 8601 interval: "2026-01-01/2026-12-31".
    pub interval: &'a str,
    pub tips: usize,
    pub files: usize,
}

pub fn dc_xml(description: &Description<'_>) -> io::Result<Vec<u8>> {
    let mut writer = xml::document()?;
    writer
        .create_element("oai_dc:dc")
        .with_attribute(("xmlns:oai_dc", OAI_DC_NS))
        .with_attribute(("xmlns:dc", DC_NS))
        .write_inner_content(|w| {
            text_element(
                w,
                "dc:title",
                &format!("Bevarade tips avslutade {}", description.period),
            )?;
            text_element(w, "dc:creator", description.organisation)?;
            text_element(w, "dc:publisher", description.organisation)?;
            text_element(w, "dc:date", description.interval)?;
            text_element(
                w,
                "dc:type",
                "Ärendehantering: tips (ärenden) med handlingar",
            )?;
            text_element(w, "dc:identifier", description.package_id)?;
            text_element(w, "dc:language", "swe")?;
            text_element(
                w,
                "dc:description",
                &format!(
                    "{} tips som enligt gallringsreglerna ska bevaras, med meddelanden och \
                     bilagor; {} filer. Ett ärende per tips i \
                     representations/rep1/data/<diarienummer>/record.xml.",
                    description.tips, description.files
                ),
            )?;
            text_element(
                w,
                "dc:rights",
                "Allmänna handlingar. Uppgifter kan omfattas av sekretess enligt offentlighets- \
                 och sekretesslagen (OSL), bland annat uppgiftslämnarens identitet.",
            )
        })?;
    Ok(xml::finish(writer))
}
