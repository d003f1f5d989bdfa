//! The copy handed out when a public-records request is decided (disclosed in full or in part):
//! a self-contained HTML print page (its only styling inline, no script, no link) in Swedish,
//! the authority's language. Every marked passage is cut out of the text before rendering and
//! replaced by a visible marker naming its ground — the withheld characters are not in the
//! file at all — and the reporter's identity and contact details are never read. Produced once,
//! with its SHA-256, and kept as handed out (`disclosure_copies`); reading it is audited.

use askama::Template;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::RecordsRules;
use super::redaction::{self, Checked, Part, Segment};
use super::request::{self, Actor, Loaded, Outcome, RequestError, RequestTip, Status};
use crate::audit::AuditAction;
use crate::crypto::Crypto;
use crate::db::schema::disclosure_copies;
use crate::domain::Taxonomy;
use crate::web::i18n::Texts;

/// The media type the copy is stored and served as.
pub const MEDIA_TYPE: &str = "text/html";

/// The decision the copy records.
pub struct Decided<'a> {
    pub outcome: Outcome,
    pub note: Option<&'a str>,
    pub decided_at: DateTime<Utc>,
}

/// What the copy's labels come from: the code lists and the Swedish page texts.
#[derive(Clone, Copy)]
pub struct Labels<'a> {
    pub taxonomy: &'a Taxonomy,
    pub texts: &'a Texts,
}

pub struct SegmentView {
    pub withheld: bool,
    pub text: String,
}

pub struct FactView {
    pub label: String,
    pub value: String,
}

pub struct MessageView {
    pub heading: String,
    pub segments: Vec<SegmentView>,
}

pub struct TipView {
    pub reference: String,
    pub facts: Vec<FactView>,
    pub disposed: bool,
    pub description: Vec<SegmentView>,
    pub messages: Vec<MessageView>,
    /// "bild, 120 kB" per attachment (no file names: they may name people).
    pub attachments: Vec<String>,
}

pub struct GroundView {
    pub code: String,
    pub label: String,
}

#[derive(Template)]
#[template(path = "records/disclosure_copy.html")]
pub struct CopyPage<'a> {
    pub t: &'a Texts,
    pub reference: String,
    pub received_on: String,
    pub decision: String,
    pub decided_on: String,
    pub note: Option<String>,
    pub reporter_ground: String,
    pub tips: Vec<TipView>,
    pub grounds: Vec<GroundView>,
}

fn date(at: DateTime<Utc>) -> String {
    at.with_timezone(&chrono_tz::Europe::Stockholm)
        .format("%Y-%m-%d")
        .to_string()
}

/// The marker that stands where a passage was cut out.
pub fn marker(t: &Texts, ground: &str) -> String {
    format!("[{} {ground}]", t.get("requests.copy_withheld_under"))
}

fn segment_views(t: &Texts, text: &str, redactions: &[&Checked]) -> Vec<SegmentView> {
    redaction::segments(text, redactions)
        .into_iter()
        .map(|segment| match segment {
            Segment::Kept(text) => SegmentView {
                withheld: false,
                text,
            },
            Segment::Withheld { ground } => SegmentView {
                withheld: true,
                text: marker(t, &ground),
            },
        })
        .collect()
}

fn tip_view(labels: Labels<'_>, tip: &RequestTip) -> TipView {
    let (t, taxonomy) = (labels.texts, labels.taxonomy);
    let f = &tip.facts;
    let mut facts = vec![
        FactView {
            label: t.get("requests.copy_registered").to_owned(),
            value: date(f.submitted_at),
        },
        FactView {
            label: t.get("tip.channel").to_owned(),
            value: t.get(&format!("tip.channel_{}", f.channel)).to_owned(),
        },
        FactView {
            label: t.get("tip.category").to_owned(),
            value: taxonomy.category_label(&f.category, false),
        },
        FactView {
            label: t.get("tip.care_sector").to_owned(),
            value: taxonomy.care_sector_label(&f.care_sector, false),
        },
        FactView {
            label: t.get("tip.region").to_owned(),
            value: taxonomy.region_name(&f.region_code),
        },
    ];
    let optional = [
        (
            "tip.municipality",
            f.municipality_code
                .as_deref()
                .map(|c| taxonomy.municipality_name(c)),
        ),
        ("tip.facility", f.facility_name.clone()),
        ("tip.care_provider", f.care_provider.clone()),
        ("tip.occurred_on", f.occurred_on.map(|d| d.to_string())),
        (
            "tip.outcome",
            f.outcome
                .as_deref()
                .map(|o| t.get(&format!("outcome.{o}")).to_owned()),
        ),
    ];
    for (key, value) in optional {
        if let Some(value) = value {
            facts.push(FactView {
                label: t.get(key).to_owned(),
                value,
            });
        }
    }
    let of_part = |part: Part| -> Vec<&Checked> {
        tip.redactions.iter().filter(|r| r.part == part).collect()
    };
    let messages = tip
        .messages
        .iter()
        .map(|m| {
            let from = if m.direction == "to_reporter" {
                "requests.copy_message_to_reporter"
            } else {
                "requests.copy_message_from_reporter"
            };
            MessageView {
                heading: format!("{} {}", t.get(from), date(m.created_at)),
                segments: segment_views(t, &m.body, &of_part(Part::Message(m.id))),
            }
        })
        .collect();
    TipView {
        reference: f.reference.clone(),
        facts,
        disposed: f.disposed_at.is_some(),
        description: segment_views(t, &f.description, &of_part(Part::Description)),
        messages,
        attachments: tip
            .attachments
            .iter()
            .map(|(kind, size)| {
                format!(
                    "{}, {} kB",
                    t.get(&format!("requests.copy_kind_{}", kind_group(kind))),
                    (size + 999) / 1000
                )
            })
            .collect(),
    }
}

/// The kind of file in words, by its media type's first part.
fn kind_group(kind: &str) -> &'static str {
    match kind.split('/').next().unwrap_or_default() {
        "image" => "image",
        "audio" => "audio",
        "video" => "video",
        _ => "document",
    }
}

/// Renders the copy of a request as decided.
pub fn render(
    rules: &RecordsRules,
    labels: Labels<'_>,
    loaded: &Loaded,
    decided: &Decided<'_>,
) -> Result<String, askama::Error> {
    let t = labels.texts;
    let disclosure = &rules.disclosure;
    // The grounds used: the reporter's always, then each marked range's, in the list's order.
    let used: Vec<&str> = disclosure
        .grounds
        .iter()
        .map(|g| g.code.as_str())
        .filter(|code| {
            *code == disclosure.reporter_ground
                || loaded
                    .tips
                    .iter()
                    .any(|tip| tip.redactions.iter().any(|r| r.ground == *code))
        })
        .collect();
    let page = CopyPage {
        t,
        reference: loaded.request.reference.clone(),
        received_on: loaded.request.received_on.to_string(),
        decision: t
            .get(&format!("requests.decision_{}", decided.outcome.as_str()))
            .to_owned(),
        decided_on: date(decided.decided_at),
        note: decided.note.map(str::to_owned),
        reporter_ground: disclosure.reporter_ground.clone(),
        tips: loaded
            .tips
            .iter()
            .map(|tip| tip_view(labels, tip))
            .collect(),
        grounds: used
            .into_iter()
            .filter_map(|code| disclosure.ground(code))
            .map(|g| GroundView {
                code: g.code.clone(),
                label: g.sv.clone(),
            })
            .collect(),
    };
    page.render()
}

/// Renders and stores the copy; its SHA-256.
pub async fn produce(
    conn: &mut AsyncPgConnection,
    rules: &RecordsRules,
    labels: Labels<'_>,
    loaded: &Loaded,
    decided: &Decided<'_>,
) -> Result<Vec<u8>, RequestError> {
    let html =
        render(rules, labels, loaded, decided).map_err(|e| RequestError::Render(e.to_string()))?;
    let bytes = html.into_bytes();
    let sha256 = Sha256::digest(&bytes).to_vec();
    diesel::insert_into(disclosure_copies::table)
        .values((
            disclosure_copies::request_id.eq(loaded.request.id),
            disclosure_copies::media_type.eq(MEDIA_TYPE),
            disclosure_copies::content.eq(&bytes),
            disclosure_copies::sha256.eq(&sha256),
        ))
        .execute(conn)
        .await?;
    Ok(sha256)
}

/// What is known of a stored copy without reading it.
#[derive(Debug, Clone, Queryable)]
pub struct CopyMeta {
    pub media_type: String,
    pub sha256: Vec<u8>,
    pub produced_at: DateTime<Utc>,
    pub size: i32,
}

pub async fn meta(
    conn: &mut AsyncPgConnection,
    request_id: Uuid,
) -> Result<Option<CopyMeta>, diesel::result::Error> {
    disclosure_copies::table
        .find(request_id)
        .select((
            disclosure_copies::media_type,
            disclosure_copies::sha256,
            disclosure_copies::produced_at,
            diesel::dsl::sql::<diesel::sql_types::Integer>("octet_length(content)"),
        ))
        .first(conn)
        .await
        .optional()
}

/// A stored copy as handed out.
pub struct StoredCopy {
    pub reference: String,
    pub media_type: String,
    pub content: Vec<u8>,
    pub sha256: Vec<u8>,
}

/// Reads the copy of a request the principal may see (one audit row). A request not yet
/// decided, or refused, has none (409).
pub async fn read(
    conn: &mut AsyncPgConnection,
    crypto: &Crypto,
    actor: Actor<'_>,
    id: Uuid,
) -> Result<StoredCopy, RequestError> {
    let loaded = request::load(conn, actor.principal, id, false).await?;
    if loaded.request.status() != Status::Decided {
        return Err(RequestError::Conflict(
            "the request is not decided yet; the copy is produced with the decision",
        ));
    }
    if loaded.request.decision.as_deref() == Some(Outcome::Refused.as_str()) {
        return Err(RequestError::Conflict(
            "the request was refused; no copy was produced",
        ));
    }
    let (media_type, content, sha256): (String, Vec<u8>, Vec<u8>) = disclosure_copies::table
        .find(id)
        .select((
            disclosure_copies::media_type,
            disclosure_copies::content,
            disclosure_copies::sha256,
        ))
        .first(conn)
        .await?;
    actor
        .audit(
            conn,
            crypto,
            AuditAction::ReadDisclosureCopy,
            json!({
                "records_request": id,
                "reference": loaded.request.reference,
                "sha256": hex::encode(&sha256),
            }),
        )
        .await?;
    Ok(StoredCopy {
        reference: loaded.request.reference,
        media_type,
        content,
        sha256,
    })
}
