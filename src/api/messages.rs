//! `/api/v1/tips/{id}/messages`: the inspectorate's side of the conversation with a tipster.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use diesel_async::AsyncConnection;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::auth::authorize_tip;
use super::body::JsonBody;
use super::problem::{ApiError, Problem};
use super::tips::audit_tip;
use crate::audit::AuditAction;
use crate::auth::policy::TipVerb;
use crate::auth::{Principal, Scope};
use crate::conversation::{self, MessageBody};
use crate::db;
use crate::state::AppState;

/// A question to the tipster.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostMessageRequest {
    /// 1 to 5 000 characters with at least one visible, no NUL. Tipsters read this on the
    /// follow-up page: no internal details.
    #[schema(required = true, value_type = String, min_length = 1, max_length = 5000)]
    pub body: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct MessageResponse {
    pub id: Uuid,
    /// `to_reporter` (from the inspectorate) or `from_reporter` (the tipster's reply).
    #[schema(example = "to_reporter")]
    pub direction: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
    /// When the recipient first saw the message.
    pub read_at: Option<DateTime<Utc>>,
}

impl From<db::messages::MessageRow> for MessageResponse {
    fn from(row: db::messages::MessageRow) -> Self {
        MessageResponse {
            id: row.id,
            direction: row.direction,
            body: row.body,
            created_at: row.created_at,
            read_at: row.read_at,
        }
    }
}

/// Ask the tipster a question; the tip's status becomes `awaiting_reporter`.
#[utoipa::path(
    post,
    path = "/api/v1/tips/{id}/messages",
    tag = "messages",
    params(("id" = Uuid, Path, description = "The tip's id")),
    request_body(content = PostMessageRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Sent", body = MessageResponse),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks tips:write", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such tip", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The tip is closed, or was disposed of (gallrad)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid body", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["tips:write"]))
)]
pub async fn post_message(
    state: web::Data<AppState>,
    principal: Principal,
    request: HttpRequest,
    id: web::Path<Uuid>,
    body: JsonBody<PostMessageRequest>,
) -> Result<HttpResponse, ApiError> {
    let message = MessageBody::parse("body", body.value.body.as_deref())
        .map_err(|e| ApiError::Validation(vec![e]))?;
    let tip_id = id.into_inner();
    let actor = principal.actor();
    let request_id = crate::telemetry::request_id(&request);
    let mut conn = state.connection().await?;
    let row = conn
        .transaction::<_, ApiError, _>(async |conn| {
            authorize_tip(conn, &principal, tip_id, TipVerb::Message, Scope::TipsWrite).await?;
            let row = conversation::ask_reporter(conn, tip_id, &actor, &message).await?;
            audit_tip(
                conn,
                &state,
                (&principal, request_id.as_deref()),
                AuditAction::MessageTipster,
                tip_id,
                serde_json::json!({ "message_id": row.id }),
            )
            .await?;
            Ok(row)
        })
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(MessageResponse::from(row)))
}

/// The conversation with the tipster, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/tips/{id}/messages",
    tag = "messages",
    params(("id" = Uuid, Path, description = "The tip's id")),
    responses(
        (status = 200, description = "Messages", body = Vec<MessageResponse>),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks tips:read", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such tip", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["tips:read"]))
)]
pub async fn list_messages(
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
    let messages: Vec<MessageResponse> = db::messages::for_tip(&mut conn, tip_id)
        .await?
        .into_iter()
        .map(MessageResponse::from)
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(messages))
}
