//! Who is calling the API: an integrating system with `Authorization: Bearer <API key>`, or a
//! signed-in inspector's session cookie (same policy, see `auth::policy`). Plus the helpers
//! that turn the policy's answers into API errors.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use super::problem::ApiError;
use crate::access::{self, Denied};
use crate::auth::policy::{self, Decision, TipVerb};
use crate::auth::{Action, ApiCaller, Principal, Scope, api_keys, sessions};
use crate::state::AppState;

fn bearer_token(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| token.trim().to_owned())
        })
}

fn state_of(req: &HttpRequest) -> Result<web::Data<AppState>, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("application state is not configured")))
}

async fn api_caller(state: &AppState, token: &str) -> Result<ApiCaller, ApiError> {
    if let Some(caller) = state.api_key_cache.get(token) {
        return Ok(caller);
    }
    let mut conn = state.connection().await?;
    let caller = api_keys::authenticate(&mut conn, token).await?;
    state.api_key_cache.put(token, &caller);
    Ok(caller)
}

impl FromRequest for ApiCaller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = bearer_token(req);
        let state = state_of(req);
        Box::pin(async move {
            let token = token.ok_or(ApiError::Unauthorized)?;
            let state = state?;
            api_caller(&state, &token).await
        })
    }
}

impl FromRequest for Principal {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = bearer_token(req);
        let session = req.cookie(sessions::COOKIE).map(|c| c.value().to_owned());
        let state = state_of(req);
        Box::pin(async move {
            let state = state?;
            if let Some(token) = token {
                return api_caller(&state, &token).await.map(Principal::System);
            }
            let session = session.ok_or(ApiError::Unauthorized)?;
            let mut conn = state.connection().await?;
            match sessions::load(&mut conn, &session, state.session_lifetimes()).await? {
                Some(found) if found.stage == sessions::Stage::Full => {
                    Ok(Principal::Person(found.account.person()))
                }
                _ => Err(ApiError::Unauthorized),
            }
        })
    }
}

/// The error for a refusal: a system is told which scope it lacks.
fn refusal(principal: &Principal, scope: Scope) -> ApiError {
    match principal {
        Principal::System(_) => ApiError::MissingScope(scope.as_str()),
        Principal::Person(_) => ApiError::Forbidden,
    }
}

/// Allows `action` or fails; `scope` is what a system would need.
pub fn authorize(principal: &Principal, action: Action<'_>, scope: Scope) -> Result<(), ApiError> {
    match policy::decide(principal, action) {
        Decision::Allow => Ok(()),
        Decision::NotFound => Err(ApiError::NotFound),
        Decision::Forbidden => Err(refusal(principal, scope)),
    }
}

/// Allows `verb` on the tip or fails (404 outside the caller's scope); returns its team.
pub async fn authorize_tip(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    tip_id: Uuid,
    verb: TipVerb,
    scope: Scope,
) -> Result<String, ApiError> {
    match access::tip(conn, principal, tip_id, verb).await? {
        Ok(team) => Ok(team),
        Err(Denied::NotFound) => Err(ApiError::NotFound),
        Err(Denied::Forbidden) => Err(refusal(principal, scope)),
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
