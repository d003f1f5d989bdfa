//! Public-records requests (begäran om allmän handling): registering one against tips (with
//! the identity numbers in their texts pre-marked for withholding), reading a request back
//! with its tips, texts and redactions, and listing requests. The changes after registration
//! (redactions, decision, approval) are in `review`; the produced copy in `disclosure_copy`.
//!
//! A request is visible to a principal only when it may handle every tip the request covers
//! (`Action::HandleRecordsRequest`); otherwise it does not exist for them (not found), as a
//! tip outside their teams does not.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::json;
use uuid::Uuid;

use super::redaction::{Checked, Part, TipTexts, from_stored};
use crate::audit::{self, AuditAction};
use crate::auth::policy::{self, Action, Decision as PolicyDecision, Principal};
use crate::crypto::{Crypto, CryptoError};
use crate::db::schema::{attachments, records_request_tips, records_requests, tip_messages, tips};
use crate::domain::FieldError;
use crate::domain::text::is_blank;

pub use super::request_list::{Cursor, ListRow, list};

/// At most this many tips in one request (a larger one is split by the registrar).
pub const MAX_TIPS: usize = 50;
/// The requester's name, address or email as typed, at most this many characters.
pub const MAX_REQUESTER_CHARS: usize = 500;
/// The reasoning of a decision, and the reason for sending one back.
pub const MAX_NOTE_CHARS: usize = 2000;

/// Where a request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Open,
    AwaitingApproval,
    Decided,
}

impl Status {
    pub const ALL: [Status; 3] = [Status::Open, Status::AwaitingApproval, Status::Decided];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::AwaitingApproval => "awaiting_approval",
            Status::Decided => "decided",
        }
    }

    pub fn parse(text: &str) -> Option<Status> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// What was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Disclosed,
    PartlyDisclosed,
    Refused,
}

impl Outcome {
    pub const ALL: [Outcome; 3] = [
        Outcome::Disclosed,
        Outcome::PartlyDisclosed,
        Outcome::Refused,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Disclosed => "disclosed",
            Outcome::PartlyDisclosed => "partly_disclosed",
            Outcome::Refused => "refused",
        }
    }

    pub fn parse(text: &str) -> Option<Outcome> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// Why a request operation did not happen. Nothing was written in any of these cases.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("no such request")]
    NotFound,
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    #[error("{0}")]
    Conflict(&'static str),
    #[error("the request has changed since it was read")]
    Stale,
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error("producing the disclosure copy failed: {0}")]
    Render(String),
}

/// Who acts, for the policy and the audit log.
#[derive(Clone, Copy)]
pub struct Actor<'a> {
    pub principal: &'a Principal,
    /// The HTTP request's id, for the audit row.
    pub request_id: Option<&'a str>,
}

impl Actor<'_> {
    pub async fn audit(
        &self,
        conn: &mut AsyncPgConnection,
        crypto: &Crypto,
        action: AuditAction,
        detail: serde_json::Value,
    ) -> Result<(), diesel::result::Error> {
        let actor = self.principal.actor();
        audit::record(
            conn,
            crypto,
            &audit::Entry {
                actor: &actor,
                action,
                tip_id: None,
                detail,
                request_id: self.request_id,
            },
        )
        .await
        .map(|_| ())
    }
}

/// A request to register, as typed or sent.
#[derive(Debug, Clone)]
pub struct Registration {
    pub received_on: Option<NaiveDate>,
    pub requester: Option<String>,
    /// Tip ids or references, one per entry.
    pub tips: Vec<String>,
}

/// A stored request (without the sealed requester).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = records_requests)]
pub struct RequestRow {
    pub id: Uuid,
    pub reference: String,
    pub received_on: NaiveDate,
    pub requester_key_id: Option<String>,
    pub registered_by: String,
    pub registered_at: DateTime<Utc>,
    pub status: String,
    pub decision: Option<String>,
    pub decision_note: Option<String>,
    pub proposed_by: Option<String>,
    pub proposed_at: Option<DateTime<Utc>>,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub version: i32,
}

impl RequestRow {
    pub fn requester_given(&self) -> bool {
        self.requester_key_id.is_some()
    }

    pub fn status(&self) -> Status {
        Status::parse(&self.status).unwrap_or(Status::Open)
    }
}

/// What a copy and the pages show of a tip (no contact details, no receipt hash).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = tips)]
pub struct TipFacts {
    pub id: Uuid,
    pub reference: String,
    pub team: String,
    pub channel: String,
    pub category: String,
    pub care_sector: String,
    pub region_code: String,
    pub municipality_code: Option<String>,
    pub facility_name: Option<String>,
    pub care_provider: Option<String>,
    pub occurred_on: Option<NaiveDate>,
    pub outcome: Option<String>,
    pub submitted_at: DateTime<Utc>,
    pub description: String,
    pub disposed_at: Option<DateTime<Utc>>,
}

/// One message of a tip, as a redactable part.
#[derive(Debug, Clone, Queryable)]
pub struct MessageFacts {
    pub id: Uuid,
    /// `to_reporter` (the inspectorate's question) or `from_reporter`.
    pub direction: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

/// A tip of a request with its texts and redactions.
#[derive(Debug, Clone)]
pub struct RequestTip {
    pub facts: TipFacts,
    pub messages: Vec<MessageFacts>,
    /// (kind, size in bytes) of each attachment, in order.
    pub attachments: Vec<(String, i64)>,
    pub redactions: Vec<Checked>,
}

impl RequestTip {
    pub fn texts(&self) -> TipTexts {
        let mut parts = vec![(Part::Description, self.facts.description.clone())];
        parts.extend(
            self.messages
                .iter()
                .map(|m| (Part::Message(m.id), m.body.clone())),
        );
        TipTexts { parts }
    }
}

/// A request with everything about it.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub request: RequestRow,
    pub tips: Vec<RequestTip>,
}

impl Loaded {
    /// All marked ranges of all tips (the reporter's data is not among them: it is withheld
    /// always and separately).
    pub fn redaction_count(&self) -> usize {
        self.tips.iter().map(|t| t.redactions.len()).sum()
    }
}

/// Whether `principal` may handle a tip of `team`.
fn may_handle(principal: &Principal, team: &str) -> bool {
    policy::decide(principal, Action::HandleRecordsRequest { team }) == PolicyDecision::Allow
}

/// Checks and stores a new request; the new request's id. Every tip must be one the
/// principal may handle; the identity numbers in the tips' texts become its first
/// redactions, under the reporter ground (see the README: they identify a person, as the
/// reporter's own data does, and the registrar changes the ground where another applies).
pub async fn register(
    conn: &mut AsyncPgConnection,
    crypto: &Crypto,
    rules: &super::RecordsRules,
    actor: Actor<'_>,
    registration: &Registration,
    today: NaiveDate,
) -> Result<Uuid, RequestError> {
    conn.transaction::<_, RequestError, _>(async |conn| {
        let mut errors = Vec::new();
        match registration.received_on {
            None => errors.push(FieldError::new(
                "received_on",
                "required",
                "give the date the request was received",
            )),
            Some(date) if date > today => errors.push(FieldError::new(
                "received_on",
                "in_future",
                "cannot be later than today",
            )),
            Some(_) => {}
        }
        let requester = registration
            .requester
            .as_deref()
            .map(str::trim)
            .filter(|r| !is_blank(r));
        if let Some(requester) = requester {
            if requester.chars().count() > MAX_REQUESTER_CHARS {
                errors.push(FieldError::new(
                    "requester",
                    "too_long",
                    format!("must be at most {MAX_REQUESTER_CHARS} characters"),
                ));
            } else if requester.contains('\0') {
                errors.push(FieldError::new(
                    "requester",
                    "invalid_character",
                    "must not contain NUL",
                ));
            }
        }
        let tips = resolve_tips(conn, actor.principal, &registration.tips, &mut errors).await?;
        if !errors.is_empty() {
            return Err(RequestError::Invalid(errors));
        }
        let id = Uuid::now_v7();
        let number: i64 = diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
            "nextval('records_request_number')",
        ))
        .get_result(conn)
        .await?;
        let reference = format!("R-{}-{number:04}", today.format("%Y"));
        let sealed = match requester {
            Some(text) => Some(crypto.seal(text.as_bytes(), id.as_bytes())?),
            None => None,
        };
        let actor_name = actor.principal.actor();
        diesel::insert_into(records_requests::table)
            .values((
                records_requests::id.eq(id),
                records_requests::reference.eq(&reference),
                records_requests::received_on.eq(registration.received_on.unwrap_or(today)),
                records_requests::requester_key_id.eq(sealed.as_ref().map(|(k, _)| k.as_str())),
                records_requests::requester_ciphertext
                    .eq(sealed.as_ref().map(|(_, c)| c.as_slice())),
                records_requests::registered_by.eq(&actor_name),
            ))
            .execute(conn)
            .await?;
        let ground = &rules.disclosure.reporter_ground;
        let mut pre_marked = 0;
        for (tip_id, _) in &tips {
            let texts = load_tip(conn, *tip_id).await?.texts();
            let marks = texts.pre_mark_redactions(ground);
            pre_marked += marks.len();
            diesel::insert_into(records_request_tips::table)
                .values((
                    records_request_tips::request_id.eq(id),
                    records_request_tips::tip_id.eq(tip_id),
                    records_request_tips::redactions.eq(json!(marks)),
                ))
                .execute(conn)
                .await?;
        }
        let tip_ids: Vec<Uuid> = tips.iter().map(|(id, _)| *id).collect();
        actor
            .audit(
                conn,
                crypto,
                AuditAction::RegisterRecordsRequest,
                json!({
                    "records_request": id,
                    "reference": reference,
                    "tip_ids": tip_ids,
                    "pre_marked": pre_marked,
                    "requester_given": requester.is_some(),
                }),
            )
            .await?;
        Ok(id)
    })
    .await
}

/// The tips named by id or reference, each one the principal may handle, no repeats.
async fn resolve_tips(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    named: &[String],
    errors: &mut Vec<FieldError>,
) -> Result<Vec<(Uuid, String)>, diesel::result::Error> {
    let named: Vec<&str> = named
        .iter()
        .map(|t| t.trim())
        .filter(|t| !t.is_empty())
        .collect();
    if named.is_empty() {
        errors.push(FieldError::new(
            "tips",
            "required",
            "name at least one tip by its reference or id",
        ));
        return Ok(Vec::new());
    }
    if named.len() > MAX_TIPS {
        errors.push(FieldError::new(
            "tips",
            "too_many",
            format!("at most {MAX_TIPS} tips in one request"),
        ));
        return Ok(Vec::new());
    }
    let mut found: Vec<(Uuid, String)> = Vec::new();
    for (index, name) in named.iter().enumerate() {
        let field = format!("tips[{index}]");
        let query = tips::table.select((tips::id, tips::reference, tips::team));
        // No reference is longer, and PostgreSQL text cannot even hold a NUL to compare.
        let plausible = name.chars().count() <= 100 && !name.contains('\0');
        let row: Option<(Uuid, String, String)> = match Uuid::parse_str(name) {
            _ if !plausible => None,
            Ok(id) => query.filter(tips::id.eq(id)).first(conn).await.optional()?,
            Err(_) => query
                .filter(tips::reference.eq(name.to_uppercase()))
                .first(conn)
                .await
                .optional()?,
        };
        match row {
            // A tip outside the principal's teams is answered like one that does not exist.
            Some((id, reference, team)) if may_handle(principal, &team) => {
                if found.iter().any(|(seen, _)| *seen == id) {
                    errors.push(FieldError::new(
                        field,
                        "duplicate",
                        format!("{reference} is named twice"),
                    ));
                } else {
                    found.push((id, reference));
                }
            }
            _ => errors.push(FieldError::new(
                field,
                "unknown_tip",
                format!("no tip you may handle has the reference or id {name:?}"),
            )),
        }
    }
    Ok(found)
}

/// A tip's facts, messages and attachments (no redactions yet).
async fn load_tip(
    conn: &mut AsyncPgConnection,
    tip_id: Uuid,
) -> Result<RequestTip, diesel::result::Error> {
    let facts: TipFacts = tips::table
        .find(tip_id)
        .select(TipFacts::as_select())
        .first(conn)
        .await?;
    let messages: Vec<MessageFacts> = tip_messages::table
        .filter(tip_messages::tip_id.eq(tip_id))
        .order((tip_messages::created_at.asc(), tip_messages::id.asc()))
        .select((
            tip_messages::id,
            tip_messages::direction,
            tip_messages::body,
            tip_messages::created_at,
        ))
        .load(conn)
        .await?;
    let files: Vec<(String, i64)> = attachments::table
        .filter(attachments::tip_id.eq(tip_id))
        .order(attachments::position.asc())
        .select((attachments::kind, attachments::size_bytes))
        .load(conn)
        .await?;
    Ok(RequestTip {
        facts,
        messages,
        attachments: files,
        redactions: Vec::new(),
    })
}

/// A request with its tips, if the principal may see it. `for_update` locks the request row
/// (the changes in `review` hold it while they check and write).
pub async fn load(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    id: Uuid,
    for_update: bool,
) -> Result<Loaded, RequestError> {
    let query = records_requests::table
        .find(id)
        .select(RequestRow::as_select());
    let request: Option<RequestRow> = if for_update {
        query.for_update().first(conn).await.optional()?
    } else {
        query.first(conn).await.optional()?
    };
    let request = request.ok_or(RequestError::NotFound)?;
    let covered: Vec<(Uuid, serde_json::Value, String, String)> = records_request_tips::table
        .inner_join(tips::table)
        .filter(records_request_tips::request_id.eq(id))
        .order(tips::reference.asc())
        .select((
            records_request_tips::tip_id,
            records_request_tips::redactions,
            tips::team,
            tips::reference,
        ))
        .load(conn)
        .await?;
    if covered
        .iter()
        .any(|(_, _, team, _)| !may_handle(principal, team))
    {
        return Err(RequestError::NotFound);
    }
    let mut tips = Vec::with_capacity(covered.len());
    for (tip_id, redactions, _, _) in covered {
        let mut tip = load_tip(conn, tip_id).await?;
        tip.redactions = from_stored(&redactions);
        tips.push(tip);
    }
    Ok(Loaded { request, tips })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_parse_back() {
        for status in Status::ALL {
            assert_eq!(Status::parse(status.as_str()), Some(status));
        }
        for outcome in Outcome::ALL {
            assert_eq!(Outcome::parse(outcome.as_str()), Some(outcome));
        }
        assert_eq!(Outcome::parse("granted"), None);
    }
}
