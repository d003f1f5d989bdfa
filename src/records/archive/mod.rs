//! The archive export (arkivleverans): the tips to be kept (bevaras) that were closed in a
//! period, as one submission information package following the Swedish National Archives'
//! FGS Paketstruktur on E-ARK CSIP — `METS.xml` at the root, PREMIS preservation metadata, a
//! Dublin Core description, and per tip an FGS Ärendehantering-style `record.xml` with its
//! attachments. Sealed fields are opened only where the keeping rule says they are archived.
//!
//! Layout of `<package id>/`:
//! ```text
//! METS.xml
//! metadata/descriptive/dc.xml
//! metadata/preservation/premis.xml
//! representations/rep1/data/<reference>/record.xml
//! representations/rep1/data/<reference>/attachments/bilaga-<n>.<ext>
//! ```

pub mod descriptive;
pub mod mets;
pub mod package;
pub mod premis;
pub mod record;
pub mod select;
pub mod tarball;
pub mod verify;
mod xml;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Europe::Stockholm;
use diesel_async::AsyncPgConnection;
use serde_json::json;

use self::package::{Format, PackageFile, Staging};
use self::premis::Decryption;
use self::record::{ArchivedAttachment, Reporter};
use self::select::{Candidate, TipRecord};
use crate::attachments::blob::BlobStore;
use crate::attachments::store;
use crate::audit::{self, AuditAction};
use crate::crypto::Crypto;
use crate::domain::{ReporterContact, Taxonomy};
use crate::records::RecordsRules;
use crate::web::i18n::Texts;

/// Who the export names, and with what.
pub struct Sources<'a> {
    pub crypto: &'a Crypto,
    pub blobs: &'a BlobStore,
    pub rules: &'a RecordsRules,
    pub taxonomy: &'a Taxonomy,
    /// Swedish labels for the records.
    pub texts: &'a Texts,
}

/// What to export: tips closed from `from` up to (not including) `to`, Stockholm dates.
pub struct Request<'a> {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// The package directory is created inside.
    pub out_dir: &'a Path,
    /// Audit actor, e.g. `cli:records-archive`.
    pub actor: &'a str,
}

/// The finished package.
#[derive(Debug)]
pub struct Summary {
    pub package_id: String,
    pub path: PathBuf,
    pub tips: usize,
    /// Every file in the package, METS.xml included.
    pub files: usize,
    pub bytes: u64,
}

/// Midnight at the start of `date` in Stockholm (never in a DST gap: Sweden changes at 02:00).
fn start_of(date: NaiveDate) -> anyhow::Result<DateTime<Utc>> {
    Stockholm
        .from_local_datetime(&date.and_time(chrono::NaiveTime::MIN))
        .earliest()
        .map(|at| at.with_timezone(&Utc))
        .with_context(|| format!("{date} has no midnight in Europe/Stockholm"))
}

/// Writes the package for `request` and records the export in the audit log.
pub async fn export(
    conn: &mut AsyncPgConnection,
    sources: &Sources<'_>,
    request: &Request<'_>,
) -> anyhow::Result<Summary> {
    anyhow::ensure!(
        request.from < request.to,
        "--from must be before --to (the period runs from --from up to, not including, --to)"
    );
    let last = request.to.pred_opt().unwrap_or(request.to);
    let plan = Plan {
        package_id: format!(
            "tipsa-{}--{}-{}",
            request.from,
            request.to,
            uuid::Uuid::now_v7()
        ),
        period: format!("{} – {last}", request.from),
        interval: format!("{}/{last}", request.from),
        start: start_of(request.from)?,
        end: start_of(request.to)?,
    };
    // One snapshot for the whole package: a tip changed or disposed of meanwhile is either
    // wholly in it or not at all.
    let (staging, mut summary) = conn
        .build_transaction()
        .repeatable_read()
        .read_only()
        .run(async |conn| build(conn, sources, request, &plan).await)
        .await?;
    audit::record(
        conn,
        sources.crypto,
        &audit::Entry {
            actor: request.actor,
            action: AuditAction::ArchiveExport,
            tip_id: None,
            detail: json!({
                "package": plan.package_id,
                "from": request.from.to_string(),
                "to": request.to.to_string(),
                "tips": summary.tips,
                "files": summary.files,
                "bytes": summary.bytes,
            }),
            request_id: None,
        },
    )
    .await
    .context("writing the audit row")?;
    summary.path = staging.finish()?;
    Ok(summary)
}

struct Plan {
    package_id: String,
    period: String,
    interval: String,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

async fn build(
    conn: &mut AsyncPgConnection,
    sources: &Sources<'_>,
    request: &Request<'_>,
    plan: &Plan,
) -> anyhow::Result<(Staging, Summary)> {
    let candidates = select::candidates(conn, sources.rules, plan.start, plan.end).await?;
    anyhow::ensure!(
        !candidates.is_empty(),
        "no tip to be kept (bevaras) was closed from {} up to {}: no package was written",
        request.from,
        request.to
    );
    let staging = Staging::create(request.out_dir, &plan.package_id)?;
    let organisation = sources.rules.archive.creator.as_deref().unwrap_or("Tipsa");
    let mut content = Vec::new();
    let mut decryptions = Vec::new();
    for candidate in &candidates {
        let record = select::load(conn, candidate.id).await?;
        let tip =
            TipFiles::write(conn, sources, &staging, candidate, &record, organisation).await?;
        content.extend(tip.files);
        decryptions.extend(tip.decryption);
    }
    let created = Utc::now();
    let descriptive = staging.write(
        "metadata/descriptive/dc.xml",
        Format::Xml,
        &descriptive::dc_xml(&descriptive::Description {
            package_id: &plan.package_id,
            organisation,
            period: &plan.period,
            interval: &plan.interval,
            tips: candidates.len(),
            files: content.len(),
        })?,
    )?;
    let preservation = staging.write(
        "metadata/preservation/premis.xml",
        Format::Xml,
        &premis::premis_xml(&premis::PremisInput {
            package_id: &plan.package_id,
            created,
            period: &plan.period,
            actor: request.actor,
            organisation,
            organisation_id: sources.rules.archive.creator_id.as_deref(),
            files: &content,
            decryptions: &decryptions,
        })?,
    )?;
    let label = format!("Bevarade tips avslutade {}", plan.period);
    let manifest = staging.write(
        "METS.xml",
        Format::Xml,
        &mets::mets_xml(&mets::MetsInput {
            package_id: &plan.package_id,
            label: &label,
            created,
            organisation,
            organisation_id: sources.rules.archive.creator_id.as_deref(),
            submission_agreement: sources.rules.archive.submission_agreement.as_deref(),
            descriptive: &descriptive,
            preservation: &preservation,
            content: &content,
        })?,
    )?;
    let all = content.len() + 3;
    let bytes = content.iter().map(|f| f.size).sum::<u64>()
        + descriptive.size
        + preservation.size
        + manifest.size;
    let summary = Summary {
        package_id: plan.package_id.clone(),
        path: staging.final_path().to_owned(),
        tips: candidates.len(),
        files: all,
        bytes,
    };
    Ok((staging, summary))
}

/// One tip's files in the package and what was opened to write them.
struct TipFiles {
    files: Vec<PackageFile>,
    decryption: Option<Decryption>,
}

impl TipFiles {
    async fn write(
        conn: &mut AsyncPgConnection,
        sources: &Sources<'_>,
        staging: &Staging,
        candidate: &Candidate,
        record: &TipRecord,
        organisation: &str,
    ) -> anyhow::Result<TipFiles> {
        let tip = &record.tip;
        let reference = &tip.reference;
        // The reference names a directory: only what Tipsa itself writes (T-2026-000123).
        anyhow::ensure!(
            !reference.is_empty()
                && reference
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-'),
            "tip {} has a reference that cannot name a directory",
            tip.id
        );
        let dir = format!("{}/data/{reference}", mets::REPRESENTATION);
        let mut attachments = Vec::new();
        let mut archived = HashMap::new();
        for info in record
            .attachments
            .iter()
            .filter(|a| a.scan_status.may_open())
        {
            let path = format!("{dir}/attachments/{}", info.neutral_name());
            let mut out = staging.open(&path, Format::Attachment(info.kind))?;
            for seq in 0..info.chunk_count {
                let piece = store::read_chunk(conn, sources.crypto, sources.blobs, info, seq)
                    .await
                    .with_context(|| format!("reading {} of {reference}", info.neutral_name()))?;
                out.write(&piece)?;
            }
            let file = out.finish()?;
            anyhow::ensure!(
                i64::try_from(file.size).ok() == Some(info.size_bytes),
                "{} of {reference}: {} bytes stored, {} read",
                info.neutral_name(),
                info.size_bytes,
                file.size
            );
            archived.insert(
                info.id,
                ArchivedAttachment {
                    path: file.path.clone(),
                    sha256: file.sha256.clone(),
                    size: file.size,
                },
            );
            attachments.push(file);
        }
        let sealed = tip
            .contact_key_id
            .as_deref()
            .zip(tip.contact_ciphertext.as_deref());
        let contact = match sealed {
            Some((key_id, ciphertext)) if candidate.archive_contact => {
                let plaintext = sources
                    .crypto
                    .open(key_id, ciphertext, tip.id.as_bytes())
                    .with_context(|| format!("opening the contact details of {reference}"))?;
                let contact: ReporterContact = serde_json::from_slice(&plaintext)
                    .with_context(|| format!("reading the contact details of {reference}"))?;
                Some(contact)
            }
            _ => None,
        };
        let reporter = match (&contact, sealed) {
            (Some(contact), _) => Reporter::Archived(contact),
            (None, Some(_)) => Reporter::Withheld,
            (None, None) => Reporter::Anonymous,
        };
        let xml = record::record_xml(&record::RecordInput {
            record,
            taxonomy: sources.taxonomy,
            texts: sources.texts,
            rule: candidate.rule.as_deref(),
            reporter,
            files: &archived,
            organisation,
        })?;
        let record_file = staging.write(&format!("{dir}/record.xml"), Format::Xml, &xml)?;
        let decryption = (contact.is_some() || !attachments.is_empty()).then(|| {
            let mut objects: Vec<String> = Vec::new();
            if contact.is_some() {
                objects.push(record_file.path.clone());
            }
            objects.extend(attachments.iter().map(|f| f.path.clone()));
            Decryption {
                reference: reference.clone(),
                at: Utc::now(),
                contact: contact.is_some(),
                attachments: attachments.len(),
                objects,
            }
        });
        let mut files = vec![record_file];
        files.extend(attachments);
        Ok(TipFiles { files, decryption })
    }
}
