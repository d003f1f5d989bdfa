//! `/api/v1/tips/{id}/legal-holds` and `/api/v1/legal-holds/{hold_id}`: place a legal hold
//! (gallringsspärr) on a tip or its cluster, read it, lift it; and the records status that the
//! tip's own JSON carries (the active hold, and whether and by which rule it was disposed of).
//! Triage leads and admins (sessions) and registry systems (`records:write`) may do this.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::body::JsonBody;
use super::problem::{ApiError, Problem};
use crate::access::Denied;
use crate::auth::{Principal, Scope};
use crate::records::hold::{self, Actor, Covers, HoldError, HoldReason, HoldRow};
use crate::state::AppState;
use crate::telemetry;

/// A hold as the API shows it.
#[derive(Serialize, ToSchema)]
pub struct LegalHoldResponse {
    pub id: Uuid,
    /// `tip` (the one tip) or `cluster` (every tip of the cluster, also later members).
    pub covers: Covers,
    /// The held tip (`covers` = tip).
    pub tip_id: Option<Uuid>,
    /// The held cluster (`covers` = cluster).
    pub cluster_id: Option<Uuid>,
    /// Why the hold was placed.
    pub reason: String,
    /// `user:<uuid>` or `api_key:<uuid>`.
    pub placed_by: String,
    pub placed_at: DateTime<Utc>,
    /// Until lifted, the tip (or cluster) is not disposed of.
    pub active: bool,
    pub lifted_by: Option<String>,
    pub lifted_at: Option<DateTime<Utc>>,
    /// Why the hold was lifted.
    pub lift_reason: Option<String>,
}

impl From<HoldRow> for LegalHoldResponse {
    fn from(row: HoldRow) -> Self {
        LegalHoldResponse {
            id: row.id,
            covers: row.covers(),
            active: row.is_active(),
            tip_id: row.tip_id,
            cluster_id: row.cluster_id,
            reason: row.reason,
            placed_by: row.placed_by,
            placed_at: row.placed_at,
            lifted_by: row.lifted_by,
            lifted_at: row.lifted_at,
            lift_reason: row.lift_reason,
        }
    }
}

/// The active hold in a tip's JSON (`legal_hold`).
#[derive(Serialize, ToSchema)]
pub struct LegalHoldSummary {
    pub id: Uuid,
    /// `tip`: the tip's own hold; `cluster`: its cluster's.
    pub covers: Covers,
    pub reason: String,
    pub placed_at: DateTime<Utc>,
}

/// What records management adds to a tip's JSON.
pub struct TipRecords {
    pub legal_hold: Option<LegalHoldSummary>,
    pub disposed_at: Option<DateTime<Utc>>,
    pub disposal_rule: Option<String>,
}

impl TipRecords {
    pub async fn load(
        conn: &mut AsyncPgConnection,
        tip_id: Uuid,
    ) -> Result<Self, diesel::result::Error> {
        let legal_hold = hold::active_for_tip(conn, tip_id)
            .await?
            .map(|h| LegalHoldSummary {
                id: h.id,
                covers: h.covers,
                reason: h.reason,
                placed_at: h.placed_at,
            });
        let disposal = hold::disposal_of(conn, tip_id).await?;
        let (disposed_at, disposal_rule) =
            disposal.map_or((None, None), |(at, rule)| (Some(at), Some(rule)));
        Ok(TipRecords {
            legal_hold,
            disposed_at,
            disposal_rule,
        })
    }
}

/// Place a hold.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaceLegalHoldRequest {
    /// Why (e.g. the supervision case or court order it serves): 1 to 1 000 characters with at
    /// least one visible, no NUL. Stored and audited as written.
    #[schema(required = true, value_type = String, min_length = 1, max_length = 1000)]
    pub reason: Option<String>,
    /// `tip` (default) or `cluster` (the tip must be in one).
    #[serde(default)]
    pub covers: Covers,
}

/// Lift a hold.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LiftLegalHoldRequest {
    /// Why the hold is no longer needed: 1 to 1 000 characters with at least one visible.
    #[schema(required = true, value_type = String, min_length = 1, max_length = 1000)]
    pub reason: Option<String>,
}

impl From<HoldError> for ApiError {
    fn from(error: HoldError) -> Self {
        match error {
            HoldError::TipNotFound | HoldError::HoldNotFound => ApiError::NotFound,
            HoldError::Disposed => ApiError::Conflict(
                "the tip's content has been disposed of; there is nothing left to hold",
            ),
            HoldError::AlreadyHeld { .. } | HoldError::AlreadyLifted(_) => {
                ApiError::ConflictWith(error.to_string())
            }
            HoldError::Invalid(field) => ApiError::Validation(vec![field]),
            HoldError::Database(e) => e.into(),
        }
    }
}

fn denied(principal: &Principal, denied: Denied) -> ApiError {
    match (denied, principal) {
        (Denied::NotFound, _) => ApiError::NotFound,
        (Denied::Forbidden, Principal::System(_)) => {
            ApiError::MissingScope(Scope::RecordsWrite.as_str())
        }
        (Denied::Forbidden, Principal::Person(_)) => ApiError::Forbidden,
    }
}

async fn authorize_tip(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    tip_id: Uuid,
) -> Result<(), ApiError> {
    hold::authorize_tip(conn, principal, tip_id)
        .await?
        .map(|_| ())
        .map_err(|d| denied(principal, d))
}

/// The hold, if it exists and the principal may manage it.
async fn authorized_hold(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    hold_id: Uuid,
) -> Result<HoldRow, ApiError> {
    let row = hold::find(conn, hold_id).await?.ok_or(ApiError::NotFound)?;
    hold::authorize_hold(conn, principal, &row)
        .await?
        .map_err(|d| denied(principal, d))?;
    Ok(row)
}

fn json_no_store(status: StatusCode, body: &impl Serialize) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}

/// Every hold that covers or covered the tip (its own and its cluster's), newest first.
#[utoipa::path(
    get,
    path = "/api/v1/tips/{id}/legal-holds",
    tag = "records",
    params(("id" = Uuid, Path, description = "The tip's id")),
    responses(
        (status = 200, description = "The holds, active and lifted", body = Vec<LegalHoldResponse>),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks records:write, or the person is neither a triage lead nor an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such tip", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["records:write"]))
)]
pub async fn list_for_tip(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let tip_id = id.into_inner();
    let mut conn = state.connection().await?;
    authorize_tip(&mut conn, &principal, tip_id).await?;
    let holds: Vec<LegalHoldResponse> = hold::for_tip(&mut conn, tip_id)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(json_no_store(StatusCode::OK, &holds))
}

/// Place a legal hold on the tip, or on its cluster: it is not disposed of until lifted.
#[utoipa::path(
    post,
    path = "/api/v1/tips/{id}/legal-holds",
    tag = "records",
    params(("id" = Uuid, Path, description = "The tip's id")),
    request_body(content = PlaceLegalHoldRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Placed", body = LegalHoldResponse,
            headers(("Location" = String, description = "/api/v1/legal-holds/{hold_id}"))),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks records:write, or the person is neither a triage lead nor an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such tip", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The tip (or cluster) already has an active hold, named in `detail`, or the tip's content has been disposed of", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields: a missing or blank reason, or `covers` = cluster for a tip in no cluster", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["records:write"]))
)]
pub async fn place(
    state: web::Data<AppState>,
    principal: Principal,
    request: HttpRequest,
    id: web::Path<Uuid>,
    body: JsonBody<PlaceLegalHoldRequest>,
) -> Result<HttpResponse, ApiError> {
    let tip_id = id.into_inner();
    let body = body.value;
    let mut conn = state.connection().await?;
    // Who may act is answered before what is wrong with the request.
    authorize_tip(&mut conn, &principal, tip_id).await?;
    let reason = HoldReason::parse("reason", body.reason.as_deref())
        .map_err(|e| ApiError::Validation(vec![e]))?;
    let actor = principal.actor();
    let request_id = telemetry::request_id(&request);
    let by = Actor {
        actor: &actor,
        request_id: request_id.as_deref(),
    };
    let row = hold::place(&mut conn, &state.crypto, by, tip_id, body.covers, &reason).await?;
    let location = format!("/api/v1/legal-holds/{}", row.id);
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(LegalHoldResponse::from(row)))
}

/// Read one hold.
#[utoipa::path(
    get,
    path = "/api/v1/legal-holds/{hold_id}",
    tag = "records",
    params(("hold_id" = Uuid, Path, description = "The hold's id")),
    responses(
        (status = 200, description = "The hold", body = LegalHoldResponse),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks records:write, or the person is neither a triage lead nor an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such hold", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["records:write"]))
)]
pub async fn get_hold(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.connection().await?;
    let row = authorized_hold(&mut conn, &principal, id.into_inner()).await?;
    Ok(json_no_store(StatusCode::OK, &LegalHoldResponse::from(row)))
}

/// Lift a hold (it is kept, with who lifted it, when and why).
#[utoipa::path(
    post,
    path = "/api/v1/legal-holds/{hold_id}/lift",
    tag = "records",
    params(("hold_id" = Uuid, Path, description = "The hold's id")),
    request_body(content = LiftLegalHoldRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Lifted", body = LegalHoldResponse),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks records:write, or the person is neither a triage lead nor an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such hold", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The hold was already lifted", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields: a missing or blank reason", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["records:write"]))
)]
pub async fn lift(
    state: web::Data<AppState>,
    principal: Principal,
    request: HttpRequest,
    id: web::Path<Uuid>,
    body: JsonBody<LiftLegalHoldRequest>,
) -> Result<HttpResponse, ApiError> {
    let hold_id = id.into_inner();
    let mut conn = state.connection().await?;
    authorized_hold(&mut conn, &principal, hold_id).await?;
    let reason = HoldReason::parse("reason", body.value.reason.as_deref())
        .map_err(|e| ApiError::Validation(vec![e]))?;
    let actor = principal.actor();
    let request_id = telemetry::request_id(&request);
    let by = Actor {
        actor: &actor,
        request_id: request_id.as_deref(),
    };
    let row = hold::lift(&mut conn, &state.crypto, by, hold_id, None, &reason).await?;
    Ok(json_no_store(StatusCode::OK, &LegalHoldResponse::from(row)))
}
