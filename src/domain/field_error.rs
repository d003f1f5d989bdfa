//! A validation failure tied to one input field, shared by the API (problem+json `errors[]`)
//! and the web forms (messages next to each field).

use serde::Serialize;

/// One failing field: a dotted path (`reporter.email`), a stable machine code and an English
/// message for API clients (the web forms translate by `code`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    #[schema(example = "reporter.email")]
    pub field: String,
    #[schema(example = "invalid_email")]
    pub code: String,
    #[schema(example = "must be an email address")]
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: &str, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            code: code.to_owned(),
            message: message.into(),
        }
    }
}
