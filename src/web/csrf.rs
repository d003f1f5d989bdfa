//! CSRF protection for the public forms (double submit): a random token in an HttpOnly,
//! SameSite=Strict cookie, repeated in a hidden form field; a POST is accepted only when both
//! match. The cookie is the only one the public pages set before a receipt code is entered.

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use subtle::ConstantTimeEq;

pub const COOKIE: &str = "tipsa_csrf";
pub const FIELD: &str = "csrf_token";

/// The request's token, or a new one with the cookie that carries it.
pub fn token(request: &HttpRequest) -> (String, Option<Cookie<'static>>) {
    if let Some(existing) = request.cookie(COOKIE)
        && is_well_formed(existing.value())
    {
        return (existing.value().to_owned(), None);
    }
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let cookie = Cookie::build(COOKIE, token.clone())
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(request.connection_info().scheme() == "https")
        .finish();
    (token, Some(cookie))
}

/// True when the submitted field matches the cookie.
pub fn verify(request: &HttpRequest, submitted: Option<&str>) -> bool {
    match (request.cookie(COOKIE), submitted) {
        (Some(cookie), Some(submitted)) if is_well_formed(cookie.value()) => {
            cookie.value().as_bytes().ct_eq(submitted.as_bytes()).into()
        }
        _ => false,
    }
}

fn is_well_formed(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
