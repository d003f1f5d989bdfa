//! Ending sessions (this one, or every one of the person's) and choosing the workspace's
//! language.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::login::audit_login;
use super::{LOGIN, SignedIn, removed_session_cookie, safe_next, signed_in};
use crate::audit::AuditAction;
use crate::auth::accounts::{self};
use crate::auth::sessions::{self};
use crate::state::AppState;
use crate::web::{csrf, see_other, unavailable};

#[derive(Deserialize)]
pub struct LanguageForm {
    pub(super) csrf_token: Option<String>,
    #[serde(default)]
    pub(super) language: String,
    pub(super) back: Option<String>,
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    pub(super) csrf_token: Option<String>,
}

/// POST: end this session.
pub async fn logout(
    request: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<CsrfOnly>,
) -> HttpResponse {
    let who = match signed_in(&request, &state).await {
        Ok(who) => who,
        // No live session: nothing to end.
        Err(_) => return see_other(LOGIN, [removed_session_cookie(&request, &state)]),
    };
    if !csrf::verify(&request, form.csrf_token.as_deref()) {
        return super::csrf_failed(&state, &request, &who);
    }
    let mut provider_logout = None;
    if let (Some(token), Ok(mut conn)) =
        (request.cookie(sessions::COOKIE), state.connection().await)
    {
        // Read before the session (and its SSO row with it) is gone.
        provider_logout = super::sso::provider_logout_url(&state, &mut conn, token.value()).await;
        if sessions::end(&mut conn, token.value()).await.is_err() {
            return unavailable();
        }
    }
    audit_login(&state, &request, who.account.id, AuditAction::Logout).await;
    if let Some(url) = provider_logout {
        return super::sso::provider_logout_page(
            &request,
            &state,
            who.lang,
            url,
            removed_session_cookie(&request, &state),
        );
    }
    see_other(
        &format!("{LOGIN}?ut=1"),
        [removed_session_cookie(&request, &state)],
    )
}

/// POST: end every session of this person (all devices).
pub async fn logout_everywhere(
    request: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<CsrfOnly>,
) -> HttpResponse {
    let who = match signed_in(&request, &state).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    if !csrf::verify(&request, form.csrf_token.as_deref()) {
        return super::csrf_failed(&state, &request, &who);
    }
    let Ok(mut conn) = state.connection().await else {
        return unavailable();
    };
    if accounts::end_all_sessions(&mut conn, who.account.id)
        .await
        .is_err()
    {
        return unavailable();
    }
    audit_login(
        &state,
        &request,
        who.account.id,
        AuditAction::LogoutEverywhere,
    )
    .await;
    see_other(
        &format!("{LOGIN}?ut=1"),
        [removed_session_cookie(&request, &state)],
    )
}

/// POST: switch the workspace language (stored with the account).
pub async fn set_language(
    request: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<LanguageForm>,
) -> HttpResponse {
    let who: SignedIn = match signed_in(&request, &state).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    if !csrf::verify(&request, form.csrf_token.as_deref()) {
        return super::csrf_failed(&state, &request, &who);
    }
    let language = if form.language == "en" { "en" } else { "sv" };
    let Ok(mut conn) = state.connection().await else {
        return unavailable();
    };
    if accounts::set_language(&mut conn, who.account.id, language)
        .await
        .is_err()
    {
        return unavailable();
    }
    see_other(safe_next(form.back.as_deref()), [])
}
