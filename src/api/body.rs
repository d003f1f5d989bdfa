//! `JsonBody<T>`: reads a JSON request body with the configured size limit and turns every way
//! it can be wrong into the right status — 415 wrong media type, 413 too large, 400 not JSON,
//! 422 JSON of the wrong shape (naming the field, including unknown fields).

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use super::problem::ApiError;
use crate::domain::FieldError;
use crate::state::AppState;

/// A parsed JSON body plus a fingerprint of its content (for `Idempotency-Key`).
pub struct JsonBody<T> {
    pub value: T,
    /// SHA-256 of the canonical JSON (object keys sorted, whitespace dropped), so the same
    /// content sent with different formatting has the same fingerprint.
    pub fingerprint: Vec<u8>,
}

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<web::Data<AppState>>()
            .map(|state| state.settings.server.body_limit_bytes)
            .unwrap_or(64 * 1024);
        let content_type_ok = is_json_content_type(req);
        let declared_length = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let mut payload = payload.take();
        Box::pin(async move {
            if !content_type_ok {
                return Err(ApiError::UnsupportedMediaType);
            }
            if declared_length.is_some_and(|len| len > limit) {
                return Err(ApiError::PayloadTooLarge(limit));
            }
            let mut bytes = web::BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|e| ApiError::MalformedJson(e.to_string()))?;
                if bytes.len() + chunk.len() > limit {
                    return Err(ApiError::PayloadTooLarge(limit));
                }
                bytes.extend_from_slice(&chunk);
            }
            parse(&bytes)
        })
    }
}

fn is_json_content_type(req: &HttpRequest) -> bool {
    let Some(value) = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Parses bytes into `T`: syntax errors are 400, shape errors 422 on the offending field.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<JsonBody<T>, ApiError> {
    let document: serde_json::Value = serde_json::from_slice(bytes)
        // serde's message names a line and column, never the content.
        .map_err(|e| ApiError::MalformedJson(e.to_string()))?;
    if !document.is_object() {
        return Err(ApiError::Validation(vec![FieldError::new(
            "",
            "invalid_type",
            "the body must be a JSON object",
        )]));
    }
    // serde_json's Value keeps object keys sorted, so this serialisation is canonical.
    let canonical = serde_json::to_vec(&document)
        .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("re-serialising JSON")))?;
    let fingerprint = Sha256::digest(&canonical).to_vec();
    let value = serde_path_to_error::deserialize::<_, T>(document)
        .map_err(|error| ApiError::Validation(vec![shape_error(&error)]))?;
    Ok(JsonBody { value, fingerprint })
}

/// Describes a shape error: which field and what was wrong, without echoing the content.
fn shape_error(error: &serde_path_to_error::Error<serde_json::Error>) -> FieldError {
    let message = error.inner().to_string();
    let mut path = error.path().to_string();
    if path == "." {
        path.clear();
    }
    if message.starts_with("unknown field `") {
        // The path already ends with the unknown field's name.
        return FieldError::new(path, "unknown_field", "is not a field of this request");
    }
    let expected = message
        .split_once(", expected ")
        .map(|(_, expected)| expected.to_owned());
    let text = match expected {
        Some(expected) => format!("has the wrong type; expected {expected}"),
        None if message.starts_with("unknown variant") => {
            let allowed = message
                .split_once("expected ")
                .map(|(_, a)| a)
                .unwrap_or("");
            format!("is not an allowed value; expected {allowed}")
        }
        None => "has the wrong type".to_owned(),
    };
    FieldError::new(path, "invalid_type", text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::TipDraft;

    fn errors(bytes: &str) -> Vec<(String, String)> {
        match parse::<TipDraft>(bytes.as_bytes()) {
            Err(ApiError::Validation(errors)) => {
                errors.into_iter().map(|e| (e.field, e.code)).collect()
            }
            Err(other) => vec![("".into(), other.to_string())],
            Ok(_) => vec![],
        }
    }

    #[test]
    fn unknown_and_mistyped_fields_are_named() {
        assert_eq!(
            errors(r#"{"colour": 1}"#),
            vec![("colour".into(), "unknown_field".into())]
        );
        assert_eq!(
            errors(r#"{"reporter": {"fax": "1"}}"#),
            vec![("reporter.fax".into(), "unknown_field".into())]
        );
        assert_eq!(
            errors(r#"{"ongoing": "yes"}"#),
            vec![("ongoing".into(), "invalid_type".into())]
        );
        assert_eq!(
            errors(r#"{"language": "de"}"#),
            vec![("language".into(), "invalid_type".into())]
        );
        assert_eq!(
            errors(r#"[1, 2]"#),
            vec![("".into(), "invalid_type".into())]
        );
    }

    #[test]
    fn syntax_errors_are_malformed_json() {
        assert!(matches!(
            parse::<TipDraft>(b"{\"a\":"),
            Err(ApiError::MalformedJson(_))
        ));
        assert!(matches!(
            parse::<TipDraft>(b""),
            Err(ApiError::MalformedJson(_))
        ));
    }

    #[test]
    fn fingerprint_ignores_formatting_and_key_order() {
        let a = parse::<TipDraft>(br#"{"category":"x","ongoing":true}"#).unwrap();
        let b = parse::<TipDraft>(b"{ \"ongoing\" : true,\n \"category\" : \"x\" }").unwrap();
        let c = parse::<TipDraft>(br#"{"category":"y","ongoing":true}"#).unwrap();
        assert_eq!(a.fingerprint, b.fingerprint);
        assert_ne!(a.fingerprint, c.fingerprint);
    }
}
