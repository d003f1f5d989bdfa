//! The `ApiCaller` extractor: a request's `Authorization: Bearer` API key, verified.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};

use super::problem::ApiError;
use crate::auth::{ApiCaller, Scope, api_keys};
use crate::state::AppState;

impl FromRequest for ApiCaller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, token) = v.split_once(' ')?;
                scheme
                    .eq_ignore_ascii_case("bearer")
                    .then(|| token.trim().to_owned())
            });
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let token = token.ok_or(ApiError::Unauthorized)?;
            let state = state.ok_or_else(|| {
                ApiError::Internal(anyhow::anyhow!("application state is not configured"))
            })?;
            if let Some(caller) = state.api_key_cache.get(&token) {
                return Ok(caller);
            }
            let mut conn = state.connection().await?;
            let caller = api_keys::authenticate(&mut conn, &token).await?;
            state.api_key_cache.put(&token, &caller);
            Ok(caller)
        })
    }
}

/// Fails with 403 unless the caller holds `scope`.
pub fn require_scope(caller: &ApiCaller, scope: Scope) -> Result<(), ApiError> {
    if caller.has_scope(scope) {
        Ok(())
    } else {
        Err(ApiError::MissingScope(scope.as_str()))
    }
}
