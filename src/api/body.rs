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

/// A parsed JSON body, plus a fingerprint of its content when the request carries an
/// `Idempotency-Key` (computing it costs a second pass, so only then).
pub struct JsonBody<T> {
    pub value: T,
    /// SHA-256 of the canonical JSON (object keys sorted, whitespace dropped), so the same
    /// content sent with different formatting has the same fingerprint.
    pub fingerprint: Option<Vec<u8>>,
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
        let wants_fingerprint = req.headers().contains_key(super::idempotency::HEADER);
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
            parse(&bytes, wants_fingerprint)
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
pub fn parse<T: DeserializeOwned>(
    bytes: &[u8],
    fingerprint: bool,
) -> Result<JsonBody<T>, ApiError> {
    if !fingerprint {
        // The fast path: straight into `T`.
        let mut deserializer = serde_json::Deserializer::from_slice(bytes);
        if let Ok(value) = T::deserialize(&mut deserializer)
            && deserializer.end().is_ok()
        {
            return Ok(JsonBody {
                value,
                fingerprint: None,
            });
        }
        // Something is wrong: the full parse below says precisely what.
    }
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
    let value = serde_path_to_error::deserialize::<_, T>(document)
        .map_err(|error| ApiError::Validation(vec![shape_error(&error)]))?;
    Ok(JsonBody {
        value,
        fingerprint: fingerprint.then(|| Sha256::digest(&canonical).to_vec()),
    })
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
        let direct = parse::<TipDraft>(bytes.as_bytes(), false)
            .err()
            .map(|e| e.to_string());
        let via_document = parse::<TipDraft>(bytes.as_bytes(), true)
            .err()
            .map(|e| e.to_string());
        assert_eq!(direct, via_document, "both parsing paths agree on {bytes}");
        match parse::<TipDraft>(bytes.as_bytes(), false) {
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
        for fingerprint in [false, true] {
            for bad in [&b"{\"a\":"[..], b"", b"{} trailing", b"nul\x00"] {
                assert!(
                    matches!(
                        parse::<TipDraft>(bad, fingerprint),
                        Err(ApiError::MalformedJson(_))
                    ),
                    "{bad:?}"
                );
            }
        }
    }

    #[test]
    fn fingerprint_ignores_formatting_and_key_order() {
        let a = parse::<TipDraft>(br#"{"category":"x","ongoing":true}"#, true).unwrap();
        let b = parse::<TipDraft>(b"{ \"ongoing\" : true,\n \"category\" : \"x\" }", true).unwrap();
        let c = parse::<TipDraft>(br#"{"category":"y","ongoing":true}"#, true).unwrap();
        assert!(a.fingerprint.is_some());
        assert_eq!(a.fingerprint, b.fingerprint);
        assert_ne!(a.fingerprint, c.fingerprint);
        let plain = parse::<TipDraft>(br#"{"category":"x"}"#, false).unwrap();
        assert!(plain.fingerprint.is_none());
    }
}
