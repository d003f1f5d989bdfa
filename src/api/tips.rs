//! `/api/v1/tips`: submit a tip, read a stored tip.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, NaiveDate, Utc};
use diesel_async::AsyncConnection;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::auth::require_scope;
use super::body::JsonBody;
use super::idempotency::{self, Outcome};
use super::problem::{ApiError, Problem};
use crate::auth::{ApiCaller, Scope};
use crate::db;
use crate::domain::{Channel, TipDraft, TipSubmission};
use crate::intake::{self, AcceptedTip, IntakeError, Submitter};
use crate::state::{AppState, today_in_sweden};

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
}

impl From<db::tips::TipRow> for TipResponse {
    fn from(row: db::tips::TipRow) -> Self {
        TipResponse {
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
    caller: ApiCaller,
    request: HttpRequest,
    body: JsonBody<TipDraft>,
) -> Result<HttpResponse, ApiError> {
    require_scope(&caller, Scope::TipsSubmit)?;
    let idempotency_key = idempotency::key_from_headers(request.headers())?;
    let submission = TipSubmission::parse(body.value, &state.taxonomy, today_in_sweden())
        .map_err(ApiError::Validation)?;

    let mut conn = state.connection().await?;
    let claim = match idempotency_key {
        None => None,
        Some(key) => match idempotency::begin(
            &mut conn,
            &state.crypto,
            caller.key_id,
            key,
            body.fingerprint.as_deref().unwrap_or_default(),
            state.settings.intake.idempotency_ttl_hours,
        )
        .await?
        {
            Outcome::Replay(response) => return Ok(response),
            Outcome::Proceed(claim) => Some(claim),
        },
    };

    let submitter = Submitter {
        channel: Channel::Api,
        api_key_id: Some(caller.key_id),
        actor: caller.actor(),
    };
    let crypto = &state.crypto;
    let Some(claim) = claim else {
        // One statement, atomic by itself: no transaction round trips needed.
        let accepted = intake::record_tip(&mut conn, crypto, &submission, &submitter).await?;
        let (location, body) = created_response(&accepted)?;
        return Ok(created(location, body));
    };
    let result = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let accepted = intake::record_tip(conn, crypto, &submission, &submitter).await?;
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
            Ok((location, body))
        })
        .await;
    match result {
        Ok((location, body)) => Ok(created(location, body)),
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
    caller: ApiCaller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    require_scope(&caller, Scope::TipsRead)?;
    let mut conn = state.connection().await?;
    let tip = db::tips::find(&mut conn, id.into_inner())
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(TipResponse::from(tip)))
}
