//! The client's address, used for nothing but the in-memory rate limits (see `ratelimit`).
//! It is never logged, stored or passed further.

use std::net::IpAddr;

use actix_web::HttpRequest;

/// The peer address, or the first X-Forwarded-For entry when the service runs behind a
/// proxy that is trusted to set it.
pub fn of(request: &HttpRequest, trust_forwarded_for: bool) -> Option<IpAddr> {
    if trust_forwarded_for {
        let forwarded = request
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .and_then(|v| v.trim().parse().ok());
        if forwarded.is_some() {
            return forwarded;
        }
    }
    request.peer_addr().map(|addr| addr.ip())
}
