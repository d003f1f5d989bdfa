//! The bodies, answers and query of `/api/v1/records-requests` (see `records_requests`): what
//! a registry system sends and gets back, and how a loaded request becomes its JSON — per tip
//! the parts and their lengths, the redactions and pre-marks, never the requester or the text.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::problem::ApiError;
use crate::domain::FieldError;
use crate::records::disclosure_copy::CopyMeta;
use crate::records::redaction::{Part, Redaction};
use crate::records::request::{self, Cursor, Loaded, RequestError, Status};
use crate::state::AppState;

/// A new request.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRecordsRequest {
    /// The day the request came in (Swedish date), not later than today.
    pub received_on: NaiveDate,
    /// Who asked — name, address or email as given; leave out for an anonymous requester.
    /// Sealed at rest and never returned.
    #[schema(max_length = 500)]
    pub requester: Option<String>,
    /// The tips asked for, by id or reference (`T-2026-000123`): 1 to 50, each once, each one
    /// the key may handle.
    #[schema(min_items = 1, max_items = 50)]
    pub tips: Vec<String>,
}

/// One text of a tip that can be redacted.
#[derive(Serialize, ToSchema)]
pub struct PartResponse {
    /// `description` or `message:<uuid>`.
    pub part: String,
    /// `description`, `message_to_reporter` or `message_from_reporter`.
    pub kind: &'static str,
    /// Length in characters (Unicode scalar values): ranges end at most here.
    pub length: usize,
    /// When the message was written (messages only).
    pub created_at: Option<DateTime<Utc>>,
}

/// An identity number found in a text (suggested for withholding; stored as a redaction when
/// the request was registered).
#[derive(Serialize, ToSchema)]
pub struct PreMarkResponse {
    pub part: String,
    pub start: usize,
    pub end: usize,
}

#[derive(Serialize, ToSchema)]
pub struct RequestTipResponse {
    pub tip_id: Uuid,
    pub reference: String,
    /// The texts and their lengths (the texts themselves: `GET /api/v1/tips/{id}` and its
    /// messages, with `tips:read`).
    pub parts: Vec<PartResponse>,
    /// The passages marked to withhold, by part and start.
    pub redactions: Vec<Redaction>,
    pub pre_marks: Vec<PreMarkResponse>,
    /// Attachments are not part of the copy (listed in it as omitted).
    pub attachments: usize,
}

#[derive(Serialize, ToSchema)]
pub struct CopyResponse {
    /// `text/html`.
    pub media_type: String,
    /// SHA-256 of the stored bytes, hex.
    pub sha256: String,
    pub size: i32,
    pub produced_at: DateTime<Utc>,
    /// Where to fetch it.
    pub href: String,
}

/// A request as a registry system sees it.
#[derive(Serialize, ToSchema)]
pub struct RecordsRequestResponse {
    pub id: Uuid,
    #[schema(example = "R-2026-0001")]
    pub reference: String,
    pub received_on: NaiveDate,
    /// Whether a requester was recorded (who it is is never returned).
    pub requester_given: bool,
    pub registered_by: String,
    pub registered_at: DateTime<Utc>,
    /// `open`, `awaiting_approval` or `decided`.
    pub status: String,
    /// `disclosed`, `partly_disclosed` or `refused` once proposed.
    pub decision: Option<String>,
    pub decision_note: Option<String>,
    pub proposed_by: Option<String>,
    pub proposed_at: Option<DateTime<Utc>>,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    /// Changes with every change; also the ETag.
    pub version: i32,
    /// The ground the reporter's identity and contact details are always withheld under.
    pub reporter_ground: String,
    pub tips: Vec<RequestTipResponse>,
    /// The produced copy (disclosed or partly disclosed requests).
    pub copy: Option<CopyResponse>,
}

#[derive(Serialize, ToSchema)]
pub struct RecordsRequestSummary {
    pub id: Uuid,
    pub reference: String,
    pub received_on: NaiveDate,
    pub status: String,
    pub decision: Option<String>,
    pub registered_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    /// References of the tips it covers.
    pub tips: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct RecordsRequestPage {
    pub items: Vec<RecordsRequestSummary>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// One tip's redactions, replacing those stored.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedactionsRequest {
    /// Non-overlapping ranges per part; an empty list withholds nothing but the reporter's data.
    pub redactions: Vec<Redaction>,
}

#[derive(Deserialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum DecisionCode {
    Disclosed,
    PartlyDisclosed,
    Refused,
}

impl DecisionCode {
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionCode::Disclosed => "disclosed",
            DecisionCode::PartlyDisclosed => "partly_disclosed",
            DecisionCode::Refused => "refused",
        }
    }
}

/// The decision on a request.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    /// `disclosed` only when no passage is marked (the reporter's data is always withheld and
    /// does not count).
    pub decision: DecisionCode,
    /// The reasoning; required for `partly_disclosed` and `refused`.
    #[schema(max_length = 2000)]
    pub note: Option<String>,
}

/// The second person's answer to a proposed decision.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalRequest {
    /// true: decided as proposed (the copy is produced); false: back to open.
    pub approve: bool,
    /// Required when sending back: why.
    #[schema(max_length = 2000)]
    pub note: Option<String>,
}

/// Filters of the list (all optional).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents the query string; parsing is by hand for field-level errors
pub struct ListParams {
    /// open, awaiting_approval or decided; comma-separated; all when left out.
    #[param(value_type = Option<Vec<String>>, min_items = 1)]
    status: Option<String>,
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page: where a page ends (registration time in
    /// microseconds and the id); any value of this form is a place in the list.
    #[param(
        min_length = 34,
        max_length = 49,
        pattern = r"^[0-9]{1,16}_[0-9a-f]{32}$"
    )]
    cursor: Option<String>,
}

impl From<RequestError> for ApiError {
    fn from(error: RequestError) -> Self {
        match error {
            RequestError::NotFound => ApiError::NotFound,
            RequestError::Invalid(errors) => ApiError::Validation(errors),
            RequestError::Conflict(message) => ApiError::Conflict(message),
            RequestError::Stale => ApiError::PreconditionFailed,
            RequestError::Database(e) => e.into(),
            RequestError::Crypto(e) => e.into(),
            RequestError::Render(message) => {
                ApiError::Internal(anyhow::anyhow!(message).context("rendering a disclosure copy"))
            }
        }
    }
}

fn part_kind(
    part: Part,
    loaded_tip: &request::RequestTip,
) -> (&'static str, Option<DateTime<Utc>>) {
    match part {
        Part::Description => ("description", None),
        Part::Message(id) => {
            let message = loaded_tip.messages.iter().find(|m| m.id == id);
            let kind = match message.map(|m| m.direction.as_str()) {
                Some("to_reporter") => "message_to_reporter",
                _ => "message_from_reporter",
            };
            (kind, message.map(|m| m.created_at))
        }
    }
}

/// The JSON of a loaded request.
pub fn response(
    state: &AppState,
    loaded: &Loaded,
    copy: Option<CopyMeta>,
) -> RecordsRequestResponse {
    let r = &loaded.request;
    RecordsRequestResponse {
        id: r.id,
        reference: r.reference.clone(),
        received_on: r.received_on,
        requester_given: r.requester_given(),
        registered_by: r.registered_by.clone(),
        registered_at: r.registered_at,
        status: r.status.clone(),
        decision: r.decision.clone(),
        decision_note: r.decision_note.clone(),
        proposed_by: r.proposed_by.clone(),
        proposed_at: r.proposed_at,
        decided_by: r.decided_by.clone(),
        decided_at: r.decided_at,
        version: r.version,
        reporter_ground: state.records.disclosure.reporter_ground.clone(),
        tips: loaded
            .tips
            .iter()
            .map(|tip| {
                let texts = tip.texts();
                RequestTipResponse {
                    tip_id: tip.facts.id,
                    reference: tip.facts.reference.clone(),
                    parts: texts
                        .parts
                        .iter()
                        .map(|(part, text)| {
                            let (kind, created_at) = part_kind(*part, tip);
                            PartResponse {
                                part: part.code(),
                                kind,
                                length: text.chars().count(),
                                created_at,
                            }
                        })
                        .collect(),
                    redactions: tip.redactions.iter().map(|c| c.to_redaction()).collect(),
                    pre_marks: texts
                        .pre_marks()
                        .into_iter()
                        .map(|(part, range)| PreMarkResponse {
                            part: part.code(),
                            start: range.start,
                            end: range.end,
                        })
                        .collect(),
                    attachments: tip.attachments.len(),
                }
            })
            .collect(),
        copy: copy.map(|c| CopyResponse {
            media_type: c.media_type,
            sha256: hex::encode(c.sha256),
            size: c.size,
            produced_at: c.produced_at,
            href: format!("/api/v1/records-requests/{}/copy", r.id),
        }),
    }
}

/// Parses the list's query string.
pub fn list_query(
    pairs: &[(String, String)],
) -> Result<(Vec<Status>, Option<Cursor>, i64), Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut statuses = Vec::new();
    let mut cursor = None;
    let mut limit = 50;
    for (name, value) in pairs {
        match name.as_str() {
            "status" => {
                for code in value.split(',') {
                    match Status::parse(code.trim()) {
                        Some(status) if !statuses.contains(&status) => statuses.push(status),
                        Some(_) => {}
                        None => errors.push(FieldError::new(
                            "status",
                            "unknown_code",
                            "must be open, awaiting_approval or decided",
                        )),
                    }
                }
            }
            "limit" => match value.parse::<i64>() {
                Ok(n) if (1..=200).contains(&n) => limit = n,
                _ => errors.push(FieldError::new("limit", "out_of_range", "must be 1 to 200")),
            },
            "cursor" => match Cursor::decode(value) {
                Some(c) => cursor = Some(c),
                None => errors.push(FieldError::new(
                    "cursor",
                    "invalid",
                    "pass next_cursor of the previous page",
                )),
            },
            _ => errors.push(FieldError::new(
                name.clone(),
                "unknown_parameter",
                "is not a parameter of this list",
            )),
        }
    }
    if errors.is_empty() {
        Ok((statuses, cursor, limit))
    } else {
        Err(errors)
    }
}
