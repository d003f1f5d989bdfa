//! The short-lived follow-up session: after a correct receipt code, an HttpOnly,
//! SameSite=Strict cookie holds the tip id and an expiry, sealed with the service's key so it
//! can be neither read nor forged. Nothing about it is stored on the server.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::crypto::Crypto;

pub const COOKIE: &str = "tipsa_uppfoljning";
const CONTEXT: &[u8] = b"tipsa follow-up session v1";

#[derive(Serialize, Deserialize)]
struct Claims {
    tip: Uuid,
    expires: u64,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A cookie opening `tip_id` for `lifetime`.
pub fn start(
    crypto: &Crypto,
    request: &HttpRequest,
    tip_id: Uuid,
    lifetime: Duration,
) -> Result<Cookie<'static>, crate::crypto::CryptoError> {
    let claims = Claims {
        tip: tip_id,
        expires: now() + lifetime.as_secs(),
    };
    let plaintext = serde_json::to_vec(&claims).map_err(|_| crate::crypto::CryptoError::Damaged)?;
    let (key_id, sealed) = crypto.seal(&plaintext, CONTEXT)?;
    let value = format!("{key_id}.{}", URL_SAFE_NO_PAD.encode(sealed));
    Ok(Cookie::build(COOKIE, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(request.connection_info().scheme() == "https")
        .max_age(actix_web::cookie::time::Duration::seconds(
            lifetime.as_secs() as i64,
        ))
        .finish())
}

/// The tip the request's session opens, if the cookie is genuine and unexpired.
pub fn tip(crypto: &Crypto, request: &HttpRequest) -> Option<Uuid> {
    let cookie = request.cookie(COOKIE)?;
    let (key_id, sealed) = cookie.value().split_once('.')?;
    let sealed = URL_SAFE_NO_PAD.decode(sealed).ok()?;
    let plaintext = crypto.open(key_id, &sealed, CONTEXT).ok()?;
    let claims: Claims = serde_json::from_slice(&plaintext).ok()?;
    (claims.expires > now()).then_some(claims.tip)
}

/// A cookie that removes the session.
pub fn end() -> Cookie<'static> {
    let mut cookie = Cookie::build(COOKIE, "")
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .finish();
    cookie.make_removal();
    cookie
}
