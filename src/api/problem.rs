//! `ApiError`, the one error type of the REST edge, rendered as RFC 9457 problem+json.
//!
//! Client errors say precisely what is wrong; server errors say nothing about their cause in the
//! body — the cause chain (Display only, which never holds request content) goes to the log.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::ApiKeyError;
use crate::domain::FieldError;

/// Seconds a client should wait before retrying after a 503.
const RETRY_AFTER_SECONDS: &str = "5";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the request body is not valid JSON: {0}")]
    MalformedJson(String),
    #[error("the request body is malformed: {0}")]
    MalformedBody(String),
    #[error("a valid API key is required")]
    Unauthorized,
    #[error("the API key lacks the scope {0}")]
    MissingScope(&'static str),
    #[error("your role does not allow this")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed(&'static str),
    #[error("{0}")]
    Conflict(&'static str),
    /// A conflict whose message names what it conflicts with (e.g. an existing record's id).
    #[error("{0}")]
    ConflictWith(String),
    #[error(
        "the tip's content was disposed of (gallrad) under the records rules; a disposed tip can no longer be changed, messaged or reopened"
    )]
    Disposed,
    #[error("it has changed since it was read; read it again (If-Match did not match)")]
    PreconditionFailed,
    #[error("send If-Match with the ETag of the version you are changing")]
    PreconditionRequired,
    #[error("request body larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("the file is larger than the limit of {mb} MB ({0} bytes)", mb = .0 / 1_000_000)]
    FileTooLarge(u64),
    #[error("the body must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("{0}")]
    IdempotencyMismatch(&'static str),
    #[error("too many attempts; try again later")]
    TooManyRequests(std::time::Duration),
    #[error("the service is temporarily unavailable")]
    Unavailable(String),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

/// The problem+json body.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// Stable identifier of the kind of problem.
    #[schema(example = "urn:tipsa:problem:validation")]
    #[serde(rename = "type")]
    pub problem_type: String,
    #[schema(example = "Validation failed")]
    pub title: String,
    #[schema(example = 422)]
    pub status: u16,
    pub detail: String,
    /// Present on validation errors: every failing field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
}

impl ApiError {
    fn code_and_title(&self) -> (&'static str, &'static str) {
        match self {
            ApiError::MalformedJson(_) => ("malformed-json", "Malformed JSON"),
            ApiError::MalformedBody(_) => ("malformed-body", "Malformed request body"),
            ApiError::Unauthorized => ("unauthorized", "Authentication required"),
            ApiError::MissingScope(_) => ("forbidden", "Missing scope"),
            ApiError::Forbidden => ("forbidden", "Forbidden"),
            ApiError::NotFound => ("not-found", "Not found"),
            ApiError::MethodNotAllowed(_) => ("method-not-allowed", "Method not allowed"),
            ApiError::Conflict(_) | ApiError::ConflictWith(_) => ("conflict", "Conflict"),
            ApiError::Disposed => ("disposed", "Tip disposed of"),
            ApiError::PreconditionFailed => ("precondition-failed", "Precondition failed"),
            ApiError::PreconditionRequired => ("precondition-required", "Precondition required"),
            ApiError::PayloadTooLarge(_) => ("payload-too-large", "Payload too large"),
            ApiError::FileTooLarge(_) => ("file-too-large", "File too large"),
            ApiError::UnsupportedMediaType => ("unsupported-media-type", "Unsupported media type"),
            ApiError::Validation(_) => ("validation", "Validation failed"),
            ApiError::IdempotencyMismatch(_) => {
                ("idempotency-key-mismatch", "Idempotency key reused")
            }
            ApiError::TooManyRequests(_) => ("too-many-requests", "Too many requests"),
            ApiError::Unavailable(_) => ("unavailable", "Service unavailable"),
            ApiError::Internal(_) => ("internal", "Internal server error"),
        }
    }

    /// The body a client sees.
    pub fn problem(&self) -> Problem {
        let (code, title) = self.code_and_title();
        let detail = match self {
            ApiError::Validation(errors) => {
                let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
                format!("invalid fields: {}", fields.join(", "))
            }
            ApiError::Unavailable(_) => {
                "the service is temporarily unavailable; try again shortly".to_owned()
            }
            ApiError::Internal(_) => "an unexpected error occurred; it has been logged".to_owned(),
            other => other.to_string(),
        };
        Problem {
            problem_type: format!("urn:tipsa:problem:{code}"),
            title: title.to_owned(),
            status: self.status_code().as_u16(),
            detail,
            errors: match self {
                ApiError::Validation(errors) => Some(errors.clone()),
                _ => None,
            },
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::MalformedJson(_) | ApiError::MalformedBody(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::MissingScope(_) | ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) | ApiError::ConflictWith(_) | ApiError::Disposed => {
                StatusCode::CONFLICT
            }
            ApiError::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            ApiError::PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
            ApiError::PayloadTooLarge(_) | ApiError::FileTooLarge(_) => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Validation(_) | ApiError::IdempotencyMismatch(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            ApiError::Internal(cause) => {
                tracing::error!(error = %format!("{cause:#}"), "internal error")
            }
            ApiError::Unavailable(cause) => tracing::warn!(error = %cause, "database unavailable"),
            _ => {}
        }
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CONTENT_TYPE, "application/problem+json"));
        response.insert_header((header::CACHE_CONTROL, "no-store"));
        match self {
            ApiError::Unauthorized => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"tipsa\""));
            }
            ApiError::MethodNotAllowed(allow) => {
                response.insert_header((header::ALLOW, HeaderValue::from_static(allow)));
            }
            ApiError::Unavailable(_) => {
                response.insert_header((header::RETRY_AFTER, RETRY_AFTER_SECONDS));
            }
            ApiError::TooManyRequests(wait) => {
                response.insert_header((header::RETRY_AFTER, wait.as_secs().max(1).to_string()));
            }
            _ => {}
        }
        response.json(self.problem())
    }
}

/// Whether a database error means "the database is not reachable" rather than a bug.
fn is_connection_failure(error: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    match error {
        // No SQLSTATE at all: the connection itself failed (closed socket, I/O error).
        Error::DatabaseError(
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
            _,
        ) => true,
        Error::DatabaseError(DatabaseErrorKind::Unknown, info) => {
            // Shutdown, restart, lost connection, connection limits, statement timeout.
            const TRANSIENT: &[&str] = &[
                "terminating connection",
                "the database system is",
                "too many clients",
                "canceling statement due to statement timeout",
                "connection closed",
                "connection reset",
                "broken pipe",
                "error communicating with the server",
                "server closed the connection",
                "does not allow connections",
                "unexpected eof",
            ];
            let message = info.message().to_ascii_lowercase();
            TRANSIENT.iter().any(|m| message.contains(m))
        }
        Error::BrokenTransactionManager => true,
        _ => false,
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(error: diesel::result::Error) -> Self {
        if is_connection_failure(&error) {
            ApiError::Unavailable(error.to_string())
        } else {
            ApiError::Internal(anyhow::Error::new(error).context("database query failed"))
        }
    }
}

impl From<crate::stats::TableError> for ApiError {
    fn from(error: crate::stats::TableError) -> Self {
        use crate::stats::TableError;
        match error {
            TableError::Database(e) => e.into(),
            TableError::TooManyCells(too_many) => ApiError::Validation(vec![FieldError::new(
                "period",
                "too_many_cells",
                format!(
                    "{too_many}; choose a longer period, a shorter range or fewer group_by dimensions"
                ),
            )]),
        }
    }
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for ApiError {
    fn from(error: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        ApiError::Unavailable(format!("no database connection: {error}"))
    }
}

impl From<ApiKeyError> for ApiError {
    fn from(error: ApiKeyError) -> Self {
        match error {
            ApiKeyError::Malformed | ApiKeyError::Rejected => ApiError::Unauthorized,
            ApiKeyError::Database(e) => e.into(),
        }
    }
}

impl From<crate::multipart::MultipartProblem> for ApiError {
    fn from(problem: crate::multipart::MultipartProblem) -> Self {
        use crate::multipart::MultipartProblem;
        let field_error = |field: &str, code: &str| {
            ApiError::Validation(vec![FieldError::new(field, code, problem.to_string())])
        };
        match &problem {
            MultipartProblem::NotMultipart => ApiError::UnsupportedMediaType,
            MultipartProblem::Malformed => ApiError::MalformedBody(problem.to_string()),
            MultipartProblem::UnnamedPart => field_error("file", "unnamed_part"),
            MultipartProblem::BadPartHeader => field_error("file", "bad_part_header"),
            MultipartProblem::FileTooLarge(limit) => ApiError::FileTooLarge(*limit),
            MultipartProblem::TextTooLarge(name) => field_error(name, "too_long"),
            MultipartProblem::BadFileName => field_error("file", "bad_file_name"),
        }
    }
}

impl From<crate::attachments::link::LinkError> for ApiError {
    fn from(error: crate::attachments::link::LinkError) -> Self {
        use crate::attachments::link::LinkError;
        match error {
            LinkError::Database(e) => e.into(),
            LinkError::Rejected(errors) => ApiError::Validation(errors),
        }
    }
}

impl From<crate::attachments::store::StoreError> for ApiError {
    fn from(error: crate::attachments::store::StoreError) -> Self {
        use crate::attachments::store::StoreError;
        match error {
            StoreError::Database(e) => e.into(),
            // The bucket is down or unreachable: like the database, a 503 worth retrying.
            StoreError::Object(e) => ApiError::Unavailable(format!("object storage: {e}")),
            other => ApiError::Internal(anyhow::Error::new(other)),
        }
    }
}

impl From<crate::crypto::CryptoError> for ApiError {
    fn from(error: crate::crypto::CryptoError) -> Self {
        ApiError::Internal(anyhow::Error::new(error).context("sealing or opening a value"))
    }
}

impl From<crate::conversation::ConversationError> for ApiError {
    fn from(error: crate::conversation::ConversationError) -> Self {
        use crate::conversation::ConversationError;
        match error {
            ConversationError::NotFound => ApiError::NotFound,
            ConversationError::Closed => {
                ApiError::Conflict("the tip is closed and takes no more messages")
            }
            ConversationError::Disposed => ApiError::Disposed,
            ConversationError::Database(e) => e.into(),
        }
    }
}

impl From<crate::ratelimit::RetryAfter> for ApiError {
    fn from(retry: crate::ratelimit::RetryAfter) -> Self {
        ApiError::TooManyRequests(retry.0)
    }
}
