//! `/api/v1/tips`: submit a tip, read a stored tip.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, NaiveDate, Utc};
use diesel_async::AsyncConnection;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::auth::{authorize, authorize_tip};
use super::body::JsonBody;
use super::idempotency::{self, Start};
use super::problem::{ApiError, Problem};
use crate::attachments::link::{self, Selection};
use crate::audit::{self, AuditAction};
use crate::auth::policy::TipVerb;
use crate::auth::{Action, Principal, Scope};
use crate::db;
use crate::domain::{Channel, FieldError, Outcome, Priority, TipDraft, TipStatus, TipSubmission};
use crate::intake::{self, AcceptedTip, IntakeError, PreparedTip, Submitter};
use crate::state::{AppState, today_in_sweden};
use crate::telemetry;
use crate::workflow::{self, TipChange};

/// The answer to a submission. `receipt_code` appears here once and is stored nowhere.
#[derive(Serialize, ToSchema)]
pub struct SubmitTipResponse {
    pub id: Uuid,
    #[schema(example = "T-2026-000123")]
    pub reference: String,
    /// Shown once: the tipster needs it to follow up. Never stored, logged or put in a URL.
    #[schema(example = "7XQ4-M2KD-9RTB-0HCZ")]
    pub receipt_code: String,
    /// Always `received` for a new tip.
    #[schema(example = "received")]
    pub status: &'static str,
    pub anonymous: bool,
    pub submitted_at: DateTime<Utc>,
}

/// A stored tip as an integrating system sees it: no receipt code, no contact details.
#[derive(Serialize, ToSchema)]
pub struct TipResponse {
    pub id: Uuid,
    pub reference: String,
    /// `web` or `api`.
    pub channel: String,
    pub category: String,
    pub care_sector: String,
    pub region_code: String,
    pub municipality_code: Option<String>,
    pub facility_name: Option<String>,
    pub care_provider: Option<String>,
    pub occurred_on: Option<NaiveDate>,
    pub ongoing: bool,
    pub description: String,
    pub reporter_role: String,
    pub outbreak: Option<String>,
    pub language: String,
    pub anonymous: bool,
    /// `new`, `in_review`, `awaiting_reporter` or `closed`.
    pub status: String,
    pub outcome: Option<String>,
    pub submitted_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// critical, high, normal or low.
    pub priority: String,
    /// Priority steps the rules added above the base priority.
    pub triage_score: i32,
    /// The team that triages it (routing by region).
    pub team: String,
    /// First review is due.
    pub due_at: DateTime<Utc>,
    /// The first review is late.
    pub overdue: bool,
    /// Identified reporters are acknowledged by then.
    pub acknowledgement_due_at: Option<DateTime<Utc>>,
    /// Feedback is due by then.
    pub feedback_due_at: Option<DateTime<Utc>>,
    /// The rules that fired.
    #[schema(value_type = Vec<crate::triage::RuleHit>)]
    pub triage: serde_json::Value,
    /// Version of the rules the triage ran with.
    pub triage_config_version: String,
    /// Tips linked by a repeat signal about the same facility.
    pub cluster: Option<ClusterResponse>,
    pub assignee: Option<String>,
    pub duplicate_of: Option<Uuid>,
    /// The active legal hold that keeps the tip from disposal (its own, else its cluster's).
    pub legal_hold: Option<super::legal_holds::LegalHoldSummary>,
    /// When the tip's content was disposed of (gallrad); null unless disposed.
    pub disposed_at: Option<DateTime<Utc>>,
    /// The disposal rule it was disposed of under; null unless disposed.
    pub disposal_rule: Option<String>,
    /// Changes with every update; also the ETag.
    pub version: i32,
}

#[derive(Serialize, ToSchema)]
pub struct ClusterResponse {
    pub id: Uuid,
    pub members: Vec<ClusterMember>,
}

#[derive(Serialize, ToSchema)]
pub struct ClusterMember {
    pub id: Uuid,
    pub reference: String,
    pub submitted_at: DateTime<Utc>,
}

impl TipResponse {
    fn new(
        row: db::tips::TipRow,
        cluster: Option<ClusterResponse>,
        records: super::legal_holds::TipRecords,
    ) -> Self {
        TipResponse {
            legal_hold: records.legal_hold,
            disposed_at: records.disposed_at,
            disposal_rule: records.disposal_rule,
            overdue: row.status == "new" && row.due_at < Utc::now(),
            priority: row.priority,
            triage_score: row.triage_score,
            team: row.team,
            due_at: row.due_at,
            acknowledgement_due_at: row.acknowledgement_due_at,
            feedback_due_at: row.feedback_due_at,
            triage: row.triage,
            triage_config_version: row.triage_config_version,
            cluster,
            assignee: row.assignee,
            duplicate_of: row.duplicate_of,
            version: row.version,
            id: row.id,
            reference: row.reference,
            channel: row.channel,
            category: row.category,
            care_sector: row.care_sector,
            region_code: row.region_code,
            municipality_code: row.municipality_code,
            facility_name: row.facility_name,
            care_provider: row.care_provider,
            occurred_on: row.occurred_on,
            ongoing: row.ongoing,
            description: row.description,
            reporter_role: row.reporter_role,
            outbreak: row.outbreak,
            language: row.language,
            anonymous: row.anonymous,
            status: row.status,
            outcome: row.outcome,
            submitted_at: row.submitted_at,
            updated_at: row.updated_at,
        }
    }
}

impl From<IntakeError> for ApiError {
    fn from(error: IntakeError) -> Self {
        match error {
            IntakeError::Database(e) => e.into(),
            IntakeError::Crypto(e) => e.into(),
            IntakeError::Unavailable(reason) => ApiError::Unavailable(reason),
        }
    }
}

/// Submit a tip.
#[utoipa::path(
    post,
    path = "/api/v1/tips",
    tag = "tips",
    request_body(content = TipDraft, content_type = "application/json"),
    params(
        ("Idempotency-Key" = Option<String>, Header,
            description = "Makes retries safe: a replay with the same body returns the original response")
    ),
    responses(
        (status = 201, description = "Stored", body = SubmitTipResponse,
            headers(("Location" = String, description = "/api/v1/tips/{id}"))),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks tips:submit", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Same Idempotency-Key still in flight", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, or Idempotency-Key reused with another body", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["tips:submit"]))
)]
pub async fn submit_tip(
    state: web::Data<AppState>,
    principal: Principal,
    request: HttpRequest,
    body: JsonBody<TipDraft>,
) -> Result<HttpResponse, ApiError> {
    authorize(&principal, Action::SubmitTip, Scope::TipsSubmit)?;
    let Principal::System(caller) = principal else {
        return Err(ApiError::Forbidden);
    };
    let idempotency_key = idempotency::key_from_headers(request.headers())?;
    let mut draft = body.value;
    let files = draft.attachments.take().unwrap_or_default();
    let submission = TipSubmission::parse(draft, &state.taxonomy, today_in_sweden())
        .map_err(ApiError::Validation)?;
    let selection = Selection::Ids {
        ids: &files,
        api_key: caller.key_id,
    };

    let submitter = Submitter {
        channel: Channel::Api,
        api_key_id: Some(caller.key_id),
        actor: caller.actor(),
    };
    let crypto = &state.crypto;
    let prepared = PreparedTip::new(crypto, submission, submitter)?;
    let limits = link::Limits::of(&state.settings.attachments);
    let Some(key) = idempotency_key else {
        let accepted = if files.is_empty() {
            // Stored with whatever else is arriving (`intake::batch`); no connection is held
            // while it waits.
            state.intake.submit(prepared).await?
        } else {
            // Tip and files in one transaction: the 201 means both are committed.
            let mut conn = state.connection().await?;
            conn.transaction::<_, ApiError, _>(async |conn| {
                let accepted = intake::record_tip(conn, &state.triage, prepared).await?;
                link::attach(conn, accepted.id, None, &selection, limits).await?;
                Ok(accepted)
            })
            .await?
        };
        if accepted.enqueued_due_jobs {
            state.worker_waker.wake();
        }
        crate::monitoring::tip_stored(Channel::Api.as_str(), &accepted.triage);
        let (location, body) = created_response(&accepted)?;
        return Ok(created(location, body));
    };
    let mut conn = state.connection().await?;
    let claim = match idempotency::begin(
        &mut conn,
        crypto,
        caller.key_id,
        key,
        body.fingerprint.as_deref().unwrap_or_default(),
        state.settings.intake.idempotency_ttl_hours,
    )
    .await?
    {
        Start::Replay(response) => return Ok(response),
        Start::Proceed(claim) => claim,
    };
    let result = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let accepted = intake::record_tip(conn, &state.triage, prepared).await?;
            if !files.is_empty() {
                link::attach(conn, accepted.id, None, &selection, limits).await?;
            }
            let (location, body) = created_response(&accepted)?;
            idempotency::complete(
                conn,
                crypto,
                &claim,
                StatusCode::CREATED,
                Some(&location),
                &body,
            )
            .await?;
            Ok((location, body, accepted))
        })
        .await;
    match result {
        Ok((location, body, accepted)) => {
            if accepted.enqueued_due_jobs {
                state.worker_waker.wake();
            }
            crate::monitoring::tip_stored(Channel::Api.as_str(), &accepted.triage);
            Ok(created(location, body))
        }
        Err(error) => {
            idempotency::release(&mut conn, &claim).await;
            Err(error)
        }
    }
}

/// The `Location` and JSON body answering an accepted tip.
fn created_response(accepted: &AcceptedTip) -> Result<(String, Vec<u8>), ApiError> {
    let location = format!("/api/v1/tips/{}", accepted.id);
    let body = serde_json::to_vec(&SubmitTipResponse {
        id: accepted.id,
        reference: accepted.reference.clone(),
        receipt_code: accepted.receipt_code.display_form(),
        status: "received",
        anonymous: accepted.anonymous,
        submitted_at: accepted.submitted_at,
    })
    .map_err(|e| ApiError::Internal(e.into()))?;
    Ok((location, body))
}

fn created(location: String, body: Vec<u8>) -> HttpResponse {
    HttpResponse::Created()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type("application/json")
        .body(body)
}

/// Read a stored tip.
#[utoipa::path(
    get,
    path = "/api/v1/tips/{id}",
    tag = "tips",
    params(("id" = Uuid, Path, description = "The tip's id")),
    responses(
        (status = 200, description = "The tip", body = TipResponse),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks tips:read", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such tip", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["tips:read"]))
)]
pub async fn get_tip(
    state: web::Data<AppState>,
    principal: Principal,
    request: HttpRequest,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let tip_id = id.into_inner();
    let mut conn = state.connection().await?;
    let request_id = telemetry::request_id(&request);
    let tip = conn
        .transaction::<_, ApiError, _>(async |conn| {
            authorize_tip(conn, &principal, tip_id, TipVerb::Read, Scope::TipsRead).await?;
            let audit = (&principal, request_id.as_deref());
            audit_tip(conn, &state, audit, AuditAction::ViewTip, tip_id, json!({})).await?;
            load_tip(conn, tip_id).await
        })
        .await?;
    Ok(tip_response(tip))
}

/// Appends an audit row about a tip (in the caller's transaction).
pub(super) async fn audit_tip(
    conn: &mut diesel_async::AsyncPgConnection,
    state: &AppState,
    (principal, request_id): (&Principal, Option<&str>),
    action: AuditAction,
    tip_id: Uuid,
    detail: serde_json::Value,
) -> Result<(), ApiError> {
    let actor = principal.actor();
    audit::record(
        conn,
        &state.crypto,
        &audit::Entry {
            actor: &actor,
            action,
            tip_id: Some(tip_id),
            detail,
            request_id,
        },
    )
    .await?;
    Ok(())
}

/// The stored tip with its cluster, and its version (for the ETag).
async fn load_tip(
    conn: &mut diesel_async::AsyncPgConnection,
    id: Uuid,
) -> Result<(TipResponse, i32), ApiError> {
    let tip = db::tips::find(conn, id).await?.ok_or(ApiError::NotFound)?;
    let cluster = match tip.cluster_id {
        Some(cluster_id) => Some(ClusterResponse {
            id: cluster_id,
            members: db::tips::cluster_members(conn, cluster_id)
                .await?
                .into_iter()
                .map(|(id, reference, submitted_at)| ClusterMember {
                    id,
                    reference,
                    submitted_at,
                })
                .collect(),
        }),
        None => None,
    };
    let version = tip.version;
    let records = super::legal_holds::TipRecords::load(conn, id).await?;
    Ok((TipResponse::new(tip, cluster, records), version))
}

/// A tip as JSON with its ETag, never cached.
fn tip_response((tip, version): (TipResponse, i32)) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(header::ETag(etag(version)))
        .json(tip)
}

pub(super) fn etag(version: i32) -> header::EntityTag {
    header::EntityTag::new_strong(format!("v{version}"))
}

/// The version an `If-Match` header names: 428 without one; 422 (naming the header) when it
/// is not an entity tag this service sends, since that is a malformed request, not a stale
/// one (412 is for a well-formed ETag of another version, which needs the tip's state to tell).
pub(super) fn expected_version(request: &HttpRequest) -> Result<i32, ApiError> {
    let value = request
        .headers()
        .get(header::IF_MATCH)
        .ok_or(ApiError::PreconditionRequired)?;
    value
        .to_str()
        .ok()
        .map(str::trim)
        .map(|v| v.trim_start_matches("W/").trim_matches('"'))
        .and_then(|v| v.strip_prefix('v'))
        .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| {
            ApiError::Validation(vec![FieldError::new(
                "If-Match",
                "invalid_format",
                "must be the ETag of the last read, like \"v3\"",
            )])
        })
}

/// A change to a tip: status, outcome, duplicate, priority override, assignee.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchTipRequest {
    /// in_review, awaiting_reporter or closed (allowed moves: new → in_review → awaiting_reporter ⇄ in_review → closed).
    pub status: Option<String>,
    /// Required to close: case_opened, risk_signal, referred, no_action or duplicate.
    pub outcome: Option<String>,
    /// With outcome duplicate: the tip this one repeats.
    pub duplicate_of: Option<Uuid>,
    /// Overrides the triaged priority (needs `reason`).
    pub priority: Option<Priority>,
    /// Who works the tip; null unassigns.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub assignee: Option<Option<String>>,
    /// Why; stored with the change.
    pub reason: Option<String>,
}

/// Distinguishes a field set to null (`Some(None)`) from one left out (`None`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// Change a tip. Needs `If-Match` with the ETag from the last read.
#[utoipa::path(
    patch,
    path = "/api/v1/tips/{id}",
    tag = "queue",
    params(
        ("id" = Uuid, Path, description = "The tip's id"),
        ("If-Match" = String, Header, description = "The ETag of the version being changed, as GET sent it",
            pattern = r#"^(W/)?"v[0-9]{1,9}"$"#),
    ),
    request_body(content = PatchTipRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Changed; the new version", body = TipResponse),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks tips:write", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such tip", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The tip was disposed of (gallrad) and can no longer be changed", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The tip changed since it was read", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Illegal transition, invalid fields, or an If-Match that is not an ETag", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match missing", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["tips:write"]))
)]
pub async fn patch_tip(
    state: web::Data<AppState>,
    principal: Principal,
    request: HttpRequest,
    id: web::Path<Uuid>,
    body: JsonBody<PatchTipRequest>,
) -> Result<HttpResponse, ApiError> {
    let expected = expected_version(&request)?;
    let body = body.value;
    let mut errors = Vec::new();
    let status = body.status.as_deref().and_then(|s| {
        let parsed = TipStatus::parse(s);
        if parsed.is_none() {
            errors.push(FieldError::new("status", "unknown_code", "is not a status"));
        }
        parsed
    });
    let outcome = body.outcome.as_deref().and_then(|o| {
        let parsed = Outcome::parse(o);
        if parsed.is_none() {
            errors.push(FieldError::new(
                "outcome",
                "unknown_code",
                "is not an outcome",
            ));
        }
        parsed
    });
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let change = TipChange {
        status,
        outcome,
        duplicate_of: body.duplicate_of,
        priority: body.priority,
        assignee: body.assignee,
        reason: body.reason,
    };
    let tip_id = id.into_inner();
    let mut conn = state.connection().await?;
    let request_id = telemetry::request_id(&request);
    let tip = conn
        .transaction::<_, ApiError, _>(async |conn| {
            authorize_tip(conn, &principal, tip_id, TipVerb::Change, Scope::TipsWrite).await?;
            if change.assignee.is_some() {
                authorize_tip(
                    conn,
                    &principal,
                    tip_id,
                    TipVerb::Reassign,
                    Scope::TipsWrite,
                )
                .await?;
            }
            let actor = principal.actor();
            workflow::change_tip(conn, &state.triage, tip_id, expected, &change, &actor).await?;
            let audit = (&principal, request_id.as_deref());
            audit_tip(
                conn,
                &state,
                audit,
                AuditAction::ChangeTip,
                tip_id,
                change.summary(),
            )
            .await?;
            load_tip(conn, tip_id).await
        })
        .await?;
    Ok(tip_response(tip))
}

/// Triage the tip again with the current rules (records a `retriaged` event).
#[utoipa::path(
    post,
    path = "/api/v1/tips/{id}/retriage",
    tag = "queue",
    params(("id" = Uuid, Path, description = "The tip's id")),
    responses(
        (status = 200, description = "Re-triaged", body = TipResponse),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks tips:write", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such tip", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The tip was disposed of (gallrad) and can no longer be changed", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["tips:write"]))
)]
pub async fn retriage_tip(
    state: web::Data<AppState>,
    principal: Principal,
    request: HttpRequest,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let tip_id = id.into_inner();
    let mut conn = state.connection().await?;
    let request_id = telemetry::request_id(&request);
    let tip = conn
        .transaction::<_, ApiError, _>(async |conn| {
            authorize_tip(conn, &principal, tip_id, TipVerb::Change, Scope::TipsWrite).await?;
            workflow::retriage(conn, &state.triage, tip_id, &principal.actor()).await?;
            let audit = (&principal, request_id.as_deref());
            audit_tip(
                conn,
                &state,
                audit,
                AuditAction::RetriageTip,
                tip_id,
                json!({}),
            )
            .await?;
            load_tip(conn, tip_id).await
        })
        .await?;
    Ok(tip_response(tip))
}

#[derive(Serialize, ToSchema)]
pub struct EventResponse {
    pub id: i64,
    /// submitted, status_changed, closed, priority_overridden, assigned, question_asked,
    /// reporter_replied, retriaged.
    pub kind: String,
    pub actor: String,
    /// before, after and reason where they apply.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

/// Everything that happened to a tip, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/tips/{id}/events",
    tag = "queue",
    params(("id" = Uuid, Path, description = "The tip's id")),
    responses(
        (status = 200, description = "The history", body = Vec<EventResponse>),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks tips:read", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such tip", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["tips:read"]))
)]
pub async fn list_events(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let tip_id = id.into_inner();
    let mut conn = state.connection().await?;
    authorize_tip(
        &mut conn,
        &principal,
        tip_id,
        TipVerb::Read,
        Scope::TipsRead,
    )
    .await?;
    let events: Vec<EventResponse> = db::tips::events(&mut conn, tip_id)
        .await?
        .into_iter()
        .map(|e| EventResponse {
            id: e.id,
            kind: e.kind,
            actor: e.actor,
            data: e.data,
            created_at: e.created_at,
        })
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(events))
}

impl From<workflow::ChangeError> for ApiError {
    fn from(error: workflow::ChangeError) -> Self {
        match error {
            workflow::ChangeError::NotFound => ApiError::NotFound,
            workflow::ChangeError::Stale { .. } => ApiError::PreconditionFailed,
            workflow::ChangeError::Invalid(errors) => ApiError::Validation(errors),
            workflow::ChangeError::Disposed => ApiError::Disposed,
            workflow::ChangeError::Database(e) => e.into(),
        }
    }
}
