//! `/api/v1/follow-up`: the tipster's side, authenticated by nothing but the receipt code in
//! the body (never in a URL). Attempts are rate limited per client address.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use diesel_async::AsyncConnection;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::body::JsonBody;
use super::problem::{ApiError, Problem};
use crate::conversation::{self, MessageBody, ReporterView};
use crate::domain::{FieldError, ReceiptCode, ReporterStatus};
use crate::ratelimit::Action;
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FollowUpRequest {
    /// The receipt code from the submission, e.g. `7XQ4-M2KD-9RTB-0HCZ`: 16 Crockford base32
    /// characters in any case, with or without dashes and spaces (O reads as 0, I and L as 1).
    #[schema(required = true, value_type = String, example = "7XQ4-M2KD-9RTB-0HCZ",
        pattern = r"^[- ]*(?:[0-9A-TV-Za-tv-z][- ]*){16}$")]
    pub receipt_code: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FollowUpReplyRequest {
    /// The receipt code, as in `POST /api/v1/follow-up`.
    #[schema(required = true, value_type = String, example = "7XQ4-M2KD-9RTB-0HCZ",
        pattern = r"^[- ]*(?:[0-9A-TV-Za-tv-z][- ]*){16}$")]
    pub receipt_code: Option<String>,
    /// The tipster's answer, 1 to 5 000 characters with at least one visible, no NUL.
    #[schema(required = true, value_type = String, min_length = 1, max_length = 5000)]
    pub body: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct FollowUpMessage {
    /// `inspectorate` or `you`.
    #[schema(example = "inspectorate")]
    pub from: &'static str,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

/// What a tipster may know about their tip.
#[derive(Serialize, ToSchema)]
pub struct FollowUpResponse {
    #[schema(example = "T-2026-000123")]
    pub reference: String,
    pub status: ReporterStatus,
    pub messages: Vec<FollowUpMessage>,
}

impl From<ReporterView> for FollowUpResponse {
    fn from(view: ReporterView) -> Self {
        FollowUpResponse {
            reference: view.reference,
            status: view.status,
            messages: view
                .messages
                .into_iter()
                .map(|m| FollowUpMessage {
                    from: if m.from_inspectorate {
                        "inspectorate"
                    } else {
                        "you"
                    },
                    body: m.body,
                    created_at: m.created_at,
                })
                .collect(),
        }
    }
}

fn parse_code(text: Option<&str>) -> Result<ReceiptCode, ApiError> {
    let text = text.ok_or_else(|| {
        ApiError::Validation(vec![FieldError::new(
            "receipt_code",
            "required",
            "is required",
        )])
    })?;
    ReceiptCode::parse(text).ok_or_else(|| {
        ApiError::Validation(vec![FieldError::new(
            "receipt_code",
            "invalid_format",
            "must be 16 characters like XXXX-XXXX-XXXX-XXXX",
        )])
    })
}

/// Counts the attempt against the client's budget before anything else happens.
fn count_attempt(state: &AppState, request: &HttpRequest) -> Result<(), ApiError> {
    let address = crate::client_address::of(request, state.settings.public.trust_forwarded_for);
    Ok(state
        .rate_limiter
        .check(Action::ReceiptCodeAttempt, address)?)
}

/// See the status of a tip and the inspectorate's messages.
#[utoipa::path(
    post,
    path = "/api/v1/follow-up",
    tag = "follow-up",
    request_body(content = FollowUpRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The tip's coarse status and messages", body = FollowUpResponse),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No tip has this receipt code", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a receipt code", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn follow_up(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: JsonBody<FollowUpRequest>,
) -> Result<HttpResponse, ApiError> {
    count_attempt(&state, &request)?;
    let code = parse_code(body.value.receipt_code.as_deref())?;
    let crypto = &state.crypto;
    let mut conn = state.connection().await?;
    let view = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let tip_id = conversation::tip_for_receipt_code(conn, crypto, &code)
                .await?
                .ok_or(ApiError::NotFound)?;
            Ok(conversation::reporter_view(conn, tip_id).await?)
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(FollowUpResponse::from(view)))
}

/// Answer the inspectorate.
#[utoipa::path(
    post,
    path = "/api/v1/follow-up/messages",
    tag = "follow-up",
    request_body(content = FollowUpReplyRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Sent; the updated conversation", body = FollowUpResponse),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No tip has this receipt code", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The tip is closed (or was disposed of)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn reply(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: JsonBody<FollowUpReplyRequest>,
) -> Result<HttpResponse, ApiError> {
    count_attempt(&state, &request)?;
    let code = parse_code(body.value.receipt_code.as_deref())?;
    let message = MessageBody::parse("body", body.value.body.as_deref())
        .map_err(|e| ApiError::Validation(vec![e]))?;
    let crypto = &state.crypto;
    let mut conn = state.connection().await?;
    let view = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let tip_id = conversation::tip_for_receipt_code(conn, crypto, &code)
                .await?
                .ok_or(ApiError::NotFound)?;
            conversation::reply_from_reporter(conn, tip_id, &message).await?;
            Ok(conversation::reporter_view(conn, tip_id).await?)
        })
        .await?;
    // The reply enqueued a notification job, due now.
    state.worker_waker.wake();
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(FollowUpResponse::from(view)))
}
