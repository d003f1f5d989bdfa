//! The changes to a registered public-records request, each in one transaction under the
//! version the person or system last read: marking a tip's redactions (while open), proposing
//! the decision, and — when `disclosure.require_second_approval` — another person approving it
//! or sending it back. A decision to disclose (in full or in part) produces the copy.

use chrono::Utc;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::json;
use uuid::Uuid;

use super::RecordsRules;
use super::disclosure_copy;
use super::redaction::{self, Redaction};
use super::request::{self, Actor, Loaded, MAX_NOTE_CHARS, Outcome, RequestError, Status};
use crate::audit::AuditAction;
use crate::crypto::Crypto;
use crate::db::schema::{records_request_tips, records_requests};
use crate::domain::FieldError;
use crate::domain::text::is_blank;

/// What a change needs besides the connection.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    pub crypto: &'a Crypto,
    pub rules: &'a RecordsRules,
    pub labels: disclosure_copy::Labels<'a>,
    pub actor: Actor<'a>,
}

/// Loads and locks the request, and checks it is in `status` and at `expected` version.
async fn locked(
    conn: &mut AsyncPgConnection,
    ctx: Context<'_>,
    id: Uuid,
    expected: i32,
    status: Status,
) -> Result<Loaded, RequestError> {
    let loaded = request::load(conn, ctx.actor.principal, id, true).await?;
    let current = loaded.request.status();
    if current != status {
        return Err(RequestError::Conflict(match (status, current) {
            (Status::Open, Status::AwaitingApproval) => {
                "the request awaits approval of its decision; it can only be approved or sent back"
            }
            (Status::Open, _) => "the request is decided; its redactions and decision are final",
            (Status::AwaitingApproval, Status::Open) => {
                "no decision has been proposed for this request yet"
            }
            _ => "the request is decided; its redactions and decision are final",
        }));
    }
    if loaded.request.version != expected {
        return Err(RequestError::Stale);
    }
    Ok(loaded)
}

async fn bump(conn: &mut AsyncPgConnection, id: Uuid) -> Result<(), diesel::result::Error> {
    diesel::update(records_requests::table.find(id))
        .set(records_requests::version.eq(records_requests::version + 1))
        .execute(conn)
        .await
        .map(|_| ())
}

/// Replaces one tip's redactions.
pub async fn set_redactions(
    conn: &mut AsyncPgConnection,
    ctx: Context<'_>,
    id: Uuid,
    tip_id: Uuid,
    expected: i32,
    proposed: &[Redaction],
) -> Result<(), RequestError> {
    conn.transaction::<_, RequestError, _>(async |conn| {
        let loaded = locked(conn, ctx, id, expected, Status::Open).await?;
        let tip = loaded
            .tips
            .iter()
            .find(|t| t.facts.id == tip_id)
            .ok_or(RequestError::NotFound)?;
        let checked = redaction::check(proposed, &tip.texts(), &ctx.rules.disclosure)
            .map_err(RequestError::Invalid)?;
        let stored: Vec<Redaction> = checked.iter().map(|c| c.to_redaction()).collect();
        diesel::update(
            records_request_tips::table
                .filter(records_request_tips::request_id.eq(id))
                .filter(records_request_tips::tip_id.eq(tip_id)),
        )
        .set(records_request_tips::redactions.eq(json!(stored)))
        .execute(conn)
        .await?;
        bump(conn, id).await?;
        ctx.actor
            .audit(
                conn,
                ctx.crypto,
                AuditAction::ChangeRecordsRequest,
                json!({
                    "records_request": id,
                    "reference": loaded.request.reference,
                    "tip_id": tip_id,
                    "ranges": checked.len(),
                    "grounds": redaction::ground_counts(&checked),
                }),
            )
            .await?;
        Ok(())
    })
    .await
}

/// A decision as proposed.
#[derive(Debug, Clone)]
pub struct Proposal {
    pub decision: Option<String>,
    pub note: Option<String>,
}

/// Checks a proposal against the request's redactions.
fn check_proposal(
    proposal: &Proposal,
    loaded: &Loaded,
) -> Result<(Outcome, Option<String>), Vec<FieldError>> {
    let mut errors = Vec::new();
    let outcome = match proposal.decision.as_deref().map(str::trim) {
        None | Some("") => {
            errors.push(FieldError::new(
                "decision",
                "required",
                "choose disclosed, partly_disclosed or refused",
            ));
            None
        }
        Some(code) => {
            let parsed = Outcome::parse(code);
            if parsed.is_none() {
                errors.push(FieldError::new(
                    "decision",
                    "unknown_code",
                    "must be disclosed, partly_disclosed or refused",
                ));
            }
            parsed
        }
    };
    let note = proposal
        .note
        .as_deref()
        .map(str::trim)
        .filter(|n| !is_blank(n))
        .map(str::to_owned);
    if let Some(note) = &note {
        if note.chars().count() > MAX_NOTE_CHARS {
            errors.push(FieldError::new(
                "note",
                "too_long",
                format!("must be at most {MAX_NOTE_CHARS} characters"),
            ));
        } else if note.contains('\0') {
            errors.push(FieldError::new(
                "note",
                "invalid_character",
                "must not contain NUL",
            ));
        }
    }
    match outcome {
        // Disclosure in full leaves nothing out but the reporter's data, which is always
        // withheld and is not a marked range.
        Some(Outcome::Disclosed) if loaded.redaction_count() > 0 => {
            errors.push(FieldError::new(
                "decision",
                "inconsistent",
                format!(
                    "{} passages are marked to withhold: choose partly_disclosed, or remove the marks",
                    loaded.redaction_count()
                ),
            ));
        }
        // A refusal or a partial disclosure must say why (the reasoning goes to the requester).
        Some(Outcome::Refused | Outcome::PartlyDisclosed) if note.is_none() => {
            errors.push(FieldError::new(
                "note",
                "required",
                "give the reasoning of a refusal or a partial disclosure",
            ));
        }
        _ => {}
    }
    match (outcome, errors.is_empty()) {
        (Some(outcome), true) => Ok((outcome, note)),
        _ => Err(errors),
    }
}

/// Proposes the decision: decided at once, or awaiting another person's approval.
pub async fn propose(
    conn: &mut AsyncPgConnection,
    ctx: Context<'_>,
    id: Uuid,
    expected: i32,
    proposal: &Proposal,
) -> Result<Status, RequestError> {
    conn.transaction::<_, RequestError, _>(async |conn| {
        let loaded = locked(conn, ctx, id, expected, Status::Open).await?;
        let (outcome, note) = check_proposal(proposal, &loaded).map_err(RequestError::Invalid)?;
        let actor = ctx.actor.principal.actor();
        let now = Utc::now();
        let second = ctx.rules.disclosure.require_second_approval;
        let next = if second {
            Status::AwaitingApproval
        } else {
            Status::Decided
        };
        // One statement: the table's checks tie the status to the decision and its time.
        diesel::update(records_requests::table.find(id))
            .set((
                records_requests::status.eq(next.as_str()),
                records_requests::decision.eq(outcome.as_str()),
                records_requests::decision_note.eq(&note),
                records_requests::proposed_by.eq(&actor),
                records_requests::proposed_at.eq(now),
                records_requests::decided_by.eq((!second).then_some(&actor)),
                records_requests::decided_at.eq((!second).then_some(now)),
                records_requests::version.eq(records_requests::version + 1),
            ))
            .execute(conn)
            .await?;
        if second {
            ctx.actor
                .audit(
                    conn,
                    ctx.crypto,
                    AuditAction::DecideRecordsRequest,
                    json!({
                        "records_request": id,
                        "reference": loaded.request.reference,
                        "stage": "proposed",
                        "decision": outcome.as_str(),
                    }),
                )
                .await?;
            return Ok(Status::AwaitingApproval);
        }
        finish(conn, ctx, &loaded, outcome, note.as_deref(), now, "decided").await?;
        Ok(Status::Decided)
    })
    .await
}

/// After the request was marked decided at `now`: produces the copy unless refused, and
/// writes the audit row.
async fn finish(
    conn: &mut AsyncPgConnection,
    ctx: Context<'_>,
    loaded: &Loaded,
    outcome: Outcome,
    note: Option<&str>,
    now: chrono::DateTime<Utc>,
    stage: &str,
) -> Result<(), RequestError> {
    let id = loaded.request.id;
    let sha256 = if outcome == Outcome::Refused {
        None
    } else {
        let decided = disclosure_copy::Decided {
            outcome,
            note,
            decided_at: now,
        };
        Some(disclosure_copy::produce(conn, ctx.rules, ctx.labels, loaded, &decided).await?)
    };
    ctx.actor
        .audit(
            conn,
            ctx.crypto,
            AuditAction::DecideRecordsRequest,
            json!({
                "records_request": id,
                "reference": loaded.request.reference,
                "stage": stage,
                "decision": outcome.as_str(),
                "copy_sha256": sha256.map(hex::encode),
            }),
        )
        .await?;
    Ok(())
}

/// The second person's answer to a proposed decision.
#[derive(Debug, Clone)]
pub struct Approval {
    pub approve: bool,
    pub note: Option<String>,
}

/// Approves the proposed decision (it is then decided and the copy produced) or sends the
/// request back to open with a reason. The proposer cannot approve their own proposal.
pub async fn answer(
    conn: &mut AsyncPgConnection,
    ctx: Context<'_>,
    id: Uuid,
    expected: i32,
    approval: &Approval,
) -> Result<Status, RequestError> {
    conn.transaction::<_, RequestError, _>(async |conn| {
        let loaded = locked(conn, ctx, id, expected, Status::AwaitingApproval).await?;
        let actor = ctx.actor.principal.actor();
        if loaded.request.proposed_by.as_deref() == Some(actor.as_str()) {
            return Err(RequestError::Conflict(
                "the decision must be approved by someone other than the person (or API key) who proposed it",
            ));
        }
        let note = approval
            .note
            .as_deref()
            .map(str::trim)
            .filter(|n| !is_blank(n))
            .map(str::to_owned);
        if let Some(note) = &note
            && (note.chars().count() > MAX_NOTE_CHARS || note.contains('\0'))
        {
            return Err(RequestError::Invalid(vec![FieldError::new(
                "note",
                "too_long",
                format!("must be at most {MAX_NOTE_CHARS} characters, without NUL"),
            )]));
        }
        if !approval.approve {
            let Some(reason) = note else {
                return Err(RequestError::Invalid(vec![FieldError::new(
                    "note",
                    "required",
                    "say why the decision is sent back",
                )]));
            };
            diesel::update(records_requests::table.find(id))
                .set((
                    records_requests::status.eq(Status::Open.as_str()),
                    records_requests::decision.eq(None::<String>),
                    records_requests::decision_note.eq(None::<String>),
                    records_requests::proposed_by.eq(None::<String>),
                    records_requests::proposed_at.eq(None::<chrono::DateTime<Utc>>),
                    records_requests::version.eq(records_requests::version + 1),
                ))
                .execute(conn)
                .await?;
            ctx.actor
                .audit(
                    conn,
                    ctx.crypto,
                    AuditAction::DecideRecordsRequest,
                    json!({
                        "records_request": id,
                        "reference": loaded.request.reference,
                        "stage": "sent_back",
                        "reason": reason,
                    }),
                )
                .await?;
            return Ok(Status::Open);
        }
        let outcome = loaded
            .request
            .decision
            .as_deref()
            .and_then(Outcome::parse)
            .ok_or(RequestError::Conflict("the proposed decision is missing"))?;
        let now = Utc::now();
        diesel::update(records_requests::table.find(id))
            .set((
                records_requests::status.eq(Status::Decided.as_str()),
                records_requests::decided_by.eq(&actor),
                records_requests::decided_at.eq(now),
                records_requests::version.eq(records_requests::version + 1),
            ))
            .execute(conn)
            .await?;
        let note = loaded.request.decision_note.as_deref();
        finish(conn, ctx, &loaded, outcome, note, now, "approved").await?;
        Ok(Status::Decided)
    })
    .await
}
