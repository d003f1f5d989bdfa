//! One tip as an archival record (`record.xml`), shaped like an FGS Ärendehantering case
//! (ärende) with its documents (handlingar): the tip itself, every message, every attachment
//! with its checksum and place in the package, and the reporter as a party only when the rule
//! keeping the tip says their contact details go to the archive.

use std::collections::HashMap;
use std::io;

use quick_xml::events::BytesText;
use uuid::Uuid;

use super::select::TipRecord;
use super::xml::{self, RECORD_NS, XmlWriter, instant, optional_element, text_element};
use crate::attachments::AttachmentInfo;
use crate::domain::{ReporterContact, Taxonomy};
use crate::web::i18n::Texts;

/// An attachment as it went into the package.
#[derive(Debug, Clone)]
pub struct ArchivedAttachment {
    /// Relative to the package root.
    pub path: String,
    pub sha256: String,
    pub size: u64,
}

/// What the record says about the reporter.
pub enum Reporter<'a> {
    /// The tip was anonymous.
    Anonymous,
    /// Identified, and the rule keeps the contact details in the archive.
    Archived(&'a ReporterContact),
    /// Identified, and the rule keeps the identity out of the archive.
    Withheld,
}

/// What the record is written from, besides the tip.
pub struct RecordInput<'a> {
    pub record: &'a TipRecord,
    pub taxonomy: &'a Taxonomy,
    /// Swedish labels (outcomes, statuses, events), from the inspector workspace's locale.
    pub texts: &'a Texts,
    /// The rule that keeps the tip (`None`: no rule matched; kept by default).
    pub rule: Option<&'a str>,
    pub reporter: Reporter<'a>,
    /// The attachments written into the package, by id; one missing here was withheld.
    pub files: &'a HashMap<Uuid, ArchivedAttachment>,
    /// The authority, for the case's agents.
    pub organisation: &'a str,
}

/// A Swedish label by locale key (the key itself when there is none).
fn label(texts: &Texts, key: &str) -> String {
    texts.get(key).to_owned()
}

/// `record.xml` of one tip.
pub fn record_xml(input: &RecordInput<'_>) -> io::Result<Vec<u8>> {
    let mut writer = xml::document()?;
    writer
        .create_element("Leveransobjekt")
        .with_attribute(("xmlns", RECORD_NS))
        .write_inner_content(|w| {
            w.create_element("ArkivobjektListaArenden")
                .write_inner_content(|w| arende(w, input))?;
            Ok(())
        })?;
    Ok(xml::finish(writer))
}

fn arende(w: &mut XmlWriter, input: &RecordInput<'_>) -> io::Result<()> {
    let record = input.record;
    let tip = &record.tip;
    let texts = input.texts;
    let category = input.taxonomy.category_label(&tip.category, false);
    let sector = input.taxonomy.care_sector_label(&tip.care_sector, false);
    let id = tip.id.to_string();
    w.create_element("ArkivobjektArende")
        .with_attribute(("Systemidentifierare", id.as_str()))
        .write_inner_content(|w| {
            text_element(w, "ArkivobjektID", &tip.reference)?;
            text_element(w, "ArendeTyp", "Tips")?;
            text_element(
                w,
                "Arendemening",
                &arendemening(&category, &sector, tip.facility_name.as_deref()),
            )?;
            text_element(w, "Skapad", &instant(tip.submitted_at))?;
            text_element(w, "Inkommen", &instant(tip.submitted_at))?;
            if let Some(closed) = tip.closed_at {
                text_element(w, "Avslutat", &instant(closed))?;
            }
            let status = label(texts, &format!("tip_status.{}", tip.status));
            w.create_element("StatusArande")
                .with_attribute(("kod", tip.status.as_str()))
                .write_text_content(BytesText::new(&status))?;
            if let Some(outcome) = &tip.outcome {
                let outcome_label = label(texts, &format!("outcome.{outcome}"));
                w.create_element("Utfall")
                    .with_attribute(("kod", outcome.as_str()))
                    .write_text_content(BytesText::new(&outcome_label))?;
            }
            w.create_element("Klass")
                .with_attribute(("kod", tip.category.as_str()))
                .write_text_content(BytesText::new(&xml::clean(&category)))?;
            let mut gallring = w
                .create_element("Gallring")
                .with_attribute(("Gallras", "false"));
            if let Some(rule) = input.rule {
                gallring = gallring.with_attribute(("Regel", rule));
            }
            gallring.write_empty()?;
            if let Some(assignee) = &tip.assignee {
                agent(
                    w,
                    "Handläggare",
                    record.name_of(assignee),
                    input.organisation,
                )?;
            }
            uppgifter(w, input)?;
            parter(w, input)?;
            w.create_element("ArkivobjektListaHandlingar")
                .write_inner_content(|w| handlingar(w, input))?;
            atgarder(w, input)
        })?;
    Ok(())
}

/// "Patientsäkerhet – Särskilt boende för äldre – Solgläntans äldreboende".
fn arendemening(category: &str, sector: &str, facility: Option<&str>) -> String {
    let mut parts = vec![category, sector];
    parts.extend(facility);
    parts.join(" – ")
}

fn agent(w: &mut XmlWriter, role: &str, name: &str, organisation: &str) -> io::Result<()> {
    w.create_element("Agent").write_inner_content(|w| {
        text_element(w, "Roll", role)?;
        text_element(w, "Namn", name)?;
        text_element(w, "Organisationsnamn", organisation)
    })?;
    Ok(())
}

/// The tip's coded facts (what the situation report counts), with Swedish labels.
fn uppgifter(w: &mut XmlWriter, input: &RecordInput<'_>) -> io::Result<()> {
    let tip = &input.record.tip;
    let taxonomy = input.taxonomy;
    let coded = |w: &mut XmlWriter, name: &str, code: &str, label: &str| -> io::Result<()> {
        w.create_element(name)
            .with_attribute(("kod", code))
            .write_text_content(BytesText::new(&xml::clean(label)))?;
        Ok(())
    };
    w.create_element("Uppgifter").write_inner_content(|w| {
        let channel = label(input.texts, &format!("tip.channel_{}", tip.channel));
        coded(w, "Kanal", &tip.channel, &channel)?;
        coded(
            w,
            "Verksamhetsomrade",
            &tip.care_sector,
            &taxonomy.care_sector_label(&tip.care_sector, false),
        )?;
        coded(
            w,
            "Lan",
            &tip.region_code,
            &taxonomy.region_name(&tip.region_code),
        )?;
        if let Some(code) = &tip.municipality_code {
            coded(w, "Kommun", code, &taxonomy.municipality_name(code))?;
        }
        optional_element(w, "Verksamhet", tip.facility_name.as_deref())?;
        optional_element(w, "Huvudman", tip.care_provider.as_deref())?;
        if let Some(day) = tip.occurred_on {
            text_element(w, "Handelsedatum", &day.to_string())?;
        }
        text_element(w, "Pagaende", if tip.ongoing { "true" } else { "false" })?;
        coded(
            w,
            "Uppgiftslamnarroll",
            &tip.reporter_role,
            &taxonomy.reporter_role_label(&tip.reporter_role, false),
        )?;
        if let Some(code) = &tip.outbreak {
            coded(w, "Utbrott", code, &taxonomy.outbreak_label(code, false))?;
        }
        coded(
            w,
            "Prioritet",
            &tip.priority,
            &label(input.texts, &format!("priority.{}", tip.priority)),
        )?;
        text_element(w, "Enhet", &tip.team)?;
        text_element(w, "Sprak", &tip.language)?;
        optional_element(w, "DubblettAv", input.record.duplicate_of.as_deref())
    })?;
    Ok(())
}

/// The reporter: a party with contact details, or a note saying why there is none.
fn parter(w: &mut XmlWriter, input: &RecordInput<'_>) -> io::Result<()> {
    match input.reporter {
        Reporter::Archived(contact) => {
            w.create_element("Motpart").write_inner_content(|w| {
                text_element(w, "Roll", "Uppgiftslämnare")?;
                optional_element(w, "Namn", contact.name.as_deref())?;
                optional_element(w, "Epostadress", contact.email.as_deref())?;
                optional_element(w, "Telefonnummer", contact.phone.as_deref())
            })?;
        }
        Reporter::Withheld => {
            let rule = input.rule.unwrap_or("-");
            note(
                w,
                "uppgiftslamnare",
                &format!(
                    "Uppgiftslämnaren lämnade kontaktuppgifter. Enligt regel {rule} arkiveras \
                     inte uppgiftslämnarens identitet; kontaktuppgifterna ingår inte i leveransen."
                ),
            )?;
        }
        Reporter::Anonymous => note(w, "uppgiftslamnare", "Tipset lämnades anonymt.")?,
    }
    Ok(())
}

fn note(w: &mut XmlWriter, kind: &str, text: &str) -> io::Result<()> {
    w.create_element("Anteckning")
        .with_attribute(("typ", kind))
        .write_text_content(BytesText::new(text))?;
    Ok(())
}

/// The tip itself, then each message in order, each with its attachments.
fn handlingar(w: &mut XmlWriter, input: &RecordInput<'_>) -> io::Result<()> {
    let record = input.record;
    let tip = &record.tip;
    let own: Vec<&AttachmentInfo> = record
        .attachments
        .iter()
        .filter(|a| a.message_id.is_none())
        .collect();
    let tip_id = tip.id.to_string();
    w.create_element("ArkivobjektHandling")
        .with_attribute(("Systemidentifierare", tip_id.as_str()))
        .write_inner_content(|w| {
            text_element(w, "ArkivobjektID", &format!("{}-1", tip.reference))?;
            text_element(w, "Lopnummer", "1")?;
            text_element(w, "Handlingstyp", "Tips")?;
            text_element(w, "Riktning", "Inkommande")?;
            text_element(w, "StatusHandling", "Inkommen")?;
            text_element(w, "Inkommen", &instant(tip.submitted_at))?;
            text_element(w, "Beskrivning", &tip.description)?;
            bilagor(w, input, &own)
        })?;
    for (index, message) in record.messages.iter().enumerate() {
        let number = index + 2;
        let inbound = message.direction == "from_reporter";
        let files: Vec<&AttachmentInfo> = record
            .attachments
            .iter()
            .filter(|a| a.message_id == Some(message.id))
            .collect();
        let message_id = message.id.to_string();
        w.create_element("ArkivobjektHandling")
            .with_attribute(("Systemidentifierare", message_id.as_str()))
            .write_inner_content(|w| {
                text_element(w, "ArkivobjektID", &format!("{}-{number}", tip.reference))?;
                text_element(w, "Lopnummer", &number.to_string())?;
                text_element(w, "Handlingstyp", "Meddelande")?;
                let at = instant(message.created_at);
                if inbound {
                    text_element(w, "Riktning", "Inkommande")?;
                    text_element(w, "StatusHandling", "Inkommen")?;
                    text_element(w, "Inkommen", &at)?;
                    text_element(w, "Avsandare", "Uppgiftslämnaren")?;
                } else {
                    text_element(w, "Riktning", "Utgående")?;
                    text_element(w, "StatusHandling", "Expedierad")?;
                    text_element(w, "Expedierad", &at)?;
                    if let Some(author) = &message.author {
                        text_element(w, "Avsandare", record.name_of(author))?;
                    }
                    text_element(w, "Mottagare", "Uppgiftslämnaren")?;
                }
                text_element(w, "Beskrivning", &message.body)?;
                bilagor(w, input, &files)
            })?;
    }
    Ok(())
}

/// `<Bilaga>` per file: where it is in the package with its checksum, or why it is not there.
fn bilagor(
    w: &mut XmlWriter,
    input: &RecordInput<'_>,
    files: &[&AttachmentInfo],
) -> io::Result<()> {
    for info in files {
        let name = info.neutral_name();
        let mime = super::package::Format::Attachment(info.kind).mime();
        match input.files.get(&info.id) {
            Some(file) => {
                let size = file.size.to_string();
                w.create_element("Bilaga")
                    .with_attribute(("Namn", name.as_str()))
                    .with_attribute(("Lank", file.path.as_str()))
                    .with_attribute(("Storlek", size.as_str()))
                    .with_attribute(("Mimetyp", mime))
                    .with_attribute(("Checksumma", file.sha256.as_str()))
                    .with_attribute(("ChecksummaMetod", "SHA256"))
                    .write_empty()?;
            }
            None => {
                let size = info.size_bytes.to_string();
                w.create_element("Bilaga")
                    .with_attribute(("Namn", name.as_str()))
                    .with_attribute(("Storlek", size.as_str()))
                    .with_attribute(("Mimetyp", mime))
                    .with_attribute(("Utelamnad", "true"))
                    .write_text_content(BytesText::new(&withheld_reason(info)))?;
            }
        }
    }
    Ok(())
}

/// Why a file is not in the package: the virus scanner quarantined it or never cleared it.
pub fn withheld_reason(info: &AttachmentInfo) -> String {
    use crate::attachments::ScanStatus;
    match info.scan_status {
        ScanStatus::Infected => format!(
            "Filen ingår inte: virusskanningen fann skadlig kod ({}).",
            info.scan_signature.as_deref().unwrap_or("okänd signatur")
        ),
        _ => "Filen ingår inte: den hade inte passerat virusskanningen.".to_owned(),
    }
}

/// The tip's history (åtgärder): what was done, when and by whom — never the free text
/// stored with an event (reasons are in the case system's own log, not in the record).
fn atgarder(w: &mut XmlWriter, input: &RecordInput<'_>) -> io::Result<()> {
    let record = input.record;
    w.create_element("Atgarder").write_inner_content(|w| {
        for event in &record.events {
            w.create_element("Atgard")
                .with_attribute(("kod", event.kind.as_str()))
                .write_inner_content(|w| {
                    text_element(
                        w,
                        "Beskrivning",
                        &label(input.texts, &format!("event.{}", event.kind)),
                    )?;
                    text_element(w, "Tidpunkt", &instant(event.created_at))?;
                    text_element(w, "Utforare", record.name_of(&event.actor))
                })?;
        }
        Ok(())
    })?;
    Ok(())
}
