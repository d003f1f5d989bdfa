//! `Idempotency-Key` handling for POST requests (IETF httpapi-idempotency-key-header draft):
//! the first request with a key does the work and records its response; a replay with the same
//! body gets that response again; the same key with another body is refused (422); a duplicate
//! that arrives while the first is still being processed gets 409.
//!
//! The recorded response holds a receipt code, so it is sealed like contact details and
//! forgotten when the key expires.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderMap};
use chrono::{Duration, Utc};
use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use super::problem::ApiError;
use crate::crypto::Crypto;
use crate::db;
use crate::domain::FieldError;

pub const HEADER: &str = "Idempotency-Key";
/// An in-flight claim older than this belongs to a request that died; it may be taken over.
const STALE_AFTER_SECONDS: i64 = 60;

/// A claimed key: the work is ours to do.
pub struct Claim {
    pub api_key_id: Uuid,
    pub key: String,
}

/// What to do with a request that carries a key.
pub enum Start {
    /// Do the work, then `complete` (or `release` on failure).
    Proceed(Claim),
    /// Answer with the recorded response.
    Replay(HttpResponse),
}

/// The key from the request, if any. The draft defines it as a structured-field string
/// (`"abc"`); bare tokens are accepted too.
pub fn key_from_headers(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(HEADER) else {
        return Ok(None);
    };
    let invalid = || {
        ApiError::Validation(vec![FieldError::new(
            "Idempotency-Key",
            "invalid",
            "must be 1 to 255 visible ASCII characters",
        )])
    };
    let text = value.to_str().map_err(|_| invalid())?.trim();
    let text = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text);
    let valid = (1..=255).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_graphic());
    if valid {
        Ok(Some(text.to_owned()))
    } else {
        Err(invalid())
    }
}

/// Claims `key` for this request, or decides how to answer a duplicate.
pub async fn begin(
    conn: &mut AsyncPgConnection,
    crypto: &Crypto,
    api_key_id: Uuid,
    key: String,
    fingerprint: &[u8],
    ttl_hours: u32,
) -> Result<Start, ApiError> {
    let now = Utc::now();
    let claimed = db::idempotency::try_claim(
        conn,
        api_key_id,
        &key,
        fingerprint,
        now + Duration::hours(i64::from(ttl_hours)),
        now - Duration::seconds(STALE_AFTER_SECONDS),
    )
    .await?;
    if claimed {
        return Ok(Start::Proceed(Claim { api_key_id, key }));
    }
    let Some(existing) = db::idempotency::find(conn, api_key_id, &key).await? else {
        // Released by a failing request between our two statements.
        return Err(ApiError::Conflict(
            "a request with this Idempotency-Key was being processed; retry it",
        ));
    };
    if existing.request_hash != fingerprint {
        return Err(ApiError::IdempotencyMismatch(
            "this Idempotency-Key was already used with a different request body",
        ));
    }
    match (
        existing.state.as_str(),
        existing.response_status,
        existing.response_key_id,
        existing.response_ciphertext,
    ) {
        ("completed", Some(status), Some(key_id), Some(sealed)) => {
            let body = crypto.open(&key_id, &sealed, &context(api_key_id, &key))?;
            let status = StatusCode::from_u16(status as u16).map_err(|e| {
                ApiError::Internal(anyhow::Error::new(e).context("stored response status"))
            })?;
            let mut response = HttpResponse::build(status);
            response.content_type("application/json");
            response.insert_header((header::CACHE_CONTROL, "no-store"));
            response.insert_header(("Idempotent-Replayed", "true"));
            if let Some(location) = existing.response_location {
                response.insert_header((header::LOCATION, location));
            }
            Ok(Start::Replay(response.body(body)))
        }
        _ => Err(ApiError::Conflict(
            "a request with this Idempotency-Key is still being processed",
        )),
    }
}

/// Records the response in the transaction that did the work.
pub async fn complete(
    conn: &mut AsyncPgConnection,
    crypto: &Crypto,
    claim: &Claim,
    status: StatusCode,
    location: Option<&str>,
    body: &[u8],
) -> Result<(), ApiError> {
    let (key_id, sealed) = crypto.seal(body, &context(claim.api_key_id, &claim.key))?;
    db::idempotency::complete(
        conn,
        claim.api_key_id,
        &claim.key,
        status.as_u16() as i16,
        location,
        (&key_id, &sealed),
    )
    .await?;
    Ok(())
}

/// Gives the key back after the work failed, so a corrected retry can use it.
pub async fn release(conn: &mut AsyncPgConnection, claim: &Claim) {
    if let Err(error) = db::idempotency::release(conn, claim.api_key_id, &claim.key).await {
        // The claim goes stale and is taken over after STALE_AFTER_SECONDS.
        tracing::warn!(error = %error, "could not release an idempotency claim");
    }
}

fn context(api_key_id: Uuid, key: &str) -> Vec<u8> {
    let mut context = b"idempotency\0".to_vec();
    context.extend_from_slice(api_key_id.as_bytes());
    context.extend_from_slice(key.as_bytes());
    context
}
