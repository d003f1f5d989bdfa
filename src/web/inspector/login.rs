//! Logging in: the password step (with the per-account lock-out), then the second factor, a
//! new session token at each step. Enrolment is in `enrolment`, logout and the language choice
//! in `sign_out`, the one-time links in `password_links`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;
use serde_json::json;

use super::{Chrome, ENROL, LOGIN, SECOND_FACTOR, lang_of, login_lang, safe_next, session_cookie};
use crate::audit::{self, AuditAction};
use crate::auth::login::{self, LoginError};
use crate::auth::sessions::{self, Stage};
use crate::ratelimit::Action as Limited;
use crate::state::AppState;
use crate::telemetry;
use crate::web::i18n::{Lang, Texts};
use crate::web::views::Field;
use crate::web::{csrf, html, see_other, unavailable};

#[derive(Template)]
#[template(path = "inspector/login.html")]
pub struct LoginPage<'a> {
    pub chrome: Chrome<'a>,
    pub t: &'a Texts,
    pub title: String,
    pub next: String,
    pub email: Field,
    pub password: Field,
    pub error: Option<String>,
    pub notice: Option<String>,
    /// "Sign in with …" per configured provider.
    pub providers: Vec<super::sso::ProviderLink>,
    /// The password form is shown (always, unless local sign-in is break-glass only).
    pub local_form: bool,
    /// Local sign-in is for the named break-glass accounts only.
    pub local_restricted: bool,
    /// Under break-glass-only, the link that shows the password form.
    pub break_glass_href: Option<String>,
}

#[derive(Template)]
#[template(path = "inspector/second_factor.html")]
pub struct SecondFactorPage<'a> {
    pub chrome: Chrome<'a>,
    pub t: &'a Texts,
    pub title: String,
    pub next: String,
    pub code: Field,
}

#[derive(Deserialize)]
pub struct LoginForm {
    pub(super) csrf_token: Option<String>,
    #[serde(default)]
    pub(super) email: String,
    #[serde(default)]
    pub(super) password: String,
    pub(super) next: Option<String>,
}

#[derive(Deserialize)]
pub struct CodeForm {
    pub(super) csrf_token: Option<String>,
    #[serde(default)]
    pub(super) code: String,
    pub(super) next: Option<String>,
}

#[derive(Deserialize)]
pub struct NextQuery {
    pub(super) next: Option<String>,
    #[serde(rename = "ut")]
    pub(super) logged_out: Option<String>,
    #[serde(rename = "klart")]
    pub(super) password_set: Option<String>,
}

pub(super) fn field(id: &'static str, label: &str, value: String, error: Option<String>) -> Field {
    Field {
        id,
        label: label.to_owned(),
        hint: None,
        value,
        error,
    }
}

pub(super) async fn audit_login(
    state: &AppState,
    request: &HttpRequest,
    user_id: uuid::Uuid,
    action: AuditAction,
) {
    let Ok(mut conn) = state.connection().await else {
        return;
    };
    let actor = format!("user:{user_id}");
    let request_id = telemetry::request_id(request);
    let entry = audit::Entry {
        actor: &actor,
        action,
        tip_id: None,
        detail: json!({}),
        request_id: request_id.as_deref(),
    };
    if let Err(error) = audit::record(&mut conn, &state.crypto, &entry).await {
        tracing::warn!(error = %error, "writing a login audit row failed");
    }
}

pub(super) fn login_page(
    request: &HttpRequest,
    state: &AppState,
    lang: Lang,
    next: &str,
    email: String,
    (error_key, notice_key): (Option<&str>, Option<&str>),
    status: StatusCode,
) -> HttpResponse {
    let (csrf_token, cookie) = csrf::token(request);
    let chrome = Chrome::anonymous(state, lang, request, csrf_token);
    let t = chrome.t;
    let sso = super::sso::login_choices(request, state, lang, next);
    let page = LoginPage {
        providers: sso.providers,
        local_form: sso.local_form,
        local_restricted: sso.local_restricted,
        break_glass_href: sso.break_glass_href,
        title: t.get("login.title").to_owned(),
        next: next.to_owned(),
        email: field("email", t.get("login.email"), email, None),
        password: field("password", t.get("login.password"), String::new(), None),
        error: error_key.map(|k| t.get(k).to_owned()),
        notice: notice_key.map(|k| t.get(k).to_owned()),
        t,
        chrome,
    };
    html(status, &page, cookie)
}

/// GET: the login form (or straight on, when already signed in).
pub async fn form(
    request: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<NextQuery>,
) -> HttpResponse {
    let next = safe_next(query.next.as_deref());
    if let Ok(mut conn) = state.connection().await
        && let Some(token) = request.cookie(sessions::COOKIE)
        && let Ok(Some(session)) =
            sessions::load(&mut conn, token.value(), state.session_lifetimes()).await
        && session.stage == Stage::Full
    {
        return see_other(next, []);
    }
    let notice = if query.logged_out.is_some() {
        Some("login.logged_out")
    } else if query.password_set.is_some() {
        Some("login.password_set")
    } else {
        None
    };
    let lang = login_lang(&request);
    login_page(
        &request,
        &state,
        lang,
        next,
        String::new(),
        (None, notice),
        StatusCode::OK,
    )
}

/// POST: the password step.
pub async fn submit(
    request: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<LoginForm>,
) -> HttpResponse {
    let lang = login_lang(&request);
    let next = safe_next(form.next.as_deref()).to_owned();
    let again = |error: &str, status| {
        login_page(
            &request,
            &state,
            lang,
            &next,
            form.email.clone(),
            (Some(error), None),
            status,
        )
    };
    if !csrf::verify(&request, form.csrf_token.as_deref()) {
        return again("error.csrf", StatusCode::FORBIDDEN);
    }
    let address = crate::client_address::of(&request, state.settings.public.trust_forwarded_for);
    if state
        .rate_limiter
        .check(Limited::LoginAttempt, address)
        .is_err()
    {
        return again("login.too_many", StatusCode::TOO_MANY_REQUESTS);
    }
    let Ok(mut conn) = state.connection().await else {
        return unavailable();
    };
    match login::check_password(&mut conn, &form.email, &form.password, state.lockout()).await {
        Ok(accepted) => {
            match super::sso::local_login_allowed(&state, &mut conn, accepted.user_id).await {
                Ok(true) => {
                    if state.sso.local_login() == crate::config::LocalLogin::BreakGlassOnly {
                        // For the alerting: the emergency way in is being used.
                        tracing::warn!(user = %accepted.user_id, "a break-glass account passed the password step");
                    }
                }
                Ok(false) => {
                    audit_login(&state, &request, accepted.user_id, AuditAction::LoginFailed).await;
                    return again("sso.local_refused", StatusCode::FORBIDDEN);
                }
                Err(_) => return unavailable(),
            }
            // A fresh token for the new stage; any earlier session cookie is ended.
            if let Some(old) = request.cookie(sessions::COOKIE) {
                let _ = sessions::end(&mut conn, old.value()).await;
            }
            let token = match sessions::start(
                &mut conn,
                accepted.user_id,
                Stage::Partial,
                state.session_lifetimes(),
            )
            .await
            {
                Ok(token) => token,
                Err(_) => return unavailable(),
            };
            let step = if accepted.second_factor_enrolled {
                SECOND_FACTOR
            } else {
                ENROL
            };
            let location = format!("{step}?next={}", super::encode_component(&next));
            see_other(&location, [session_cookie(&request, &state, token)])
        }
        Err(LoginError::Rejected) => again("login.rejected", StatusCode::UNAUTHORIZED),
        Err(LoginError::Locked { .. }) => again("login.locked", StatusCode::TOO_MANY_REQUESTS),
        Err(error) => {
            tracing::warn!(error = %error, "a login failed");
            unavailable()
        }
    }
}

/// The partial session of the request (after the password), if any.
pub(super) async fn partial_session(
    request: &HttpRequest,
    state: &AppState,
) -> Result<Option<(String, sessions::Session)>, HttpResponse> {
    let Some(token) = request
        .cookie(sessions::COOKIE)
        .map(|c| c.value().to_owned())
    else {
        return Ok(None);
    };
    let mut conn = state.connection().await.map_err(|_| unavailable())?;
    match sessions::load(&mut conn, &token, state.session_lifetimes()).await {
        Ok(Some(session)) if session.stage == Stage::Partial => Ok(Some((token, session))),
        Ok(_) => Ok(None),
        Err(_) => Err(unavailable()),
    }
}

pub(super) fn second_factor_page(
    request: &HttpRequest,
    state: &AppState,
    lang: Lang,
    next: &str,
    error_key: Option<&str>,
    status: StatusCode,
) -> HttpResponse {
    let (csrf_token, cookie) = csrf::token(request);
    let chrome = Chrome::anonymous(state, lang, request, csrf_token);
    let t = chrome.t;
    let page = SecondFactorPage {
        title: t.get("login.second_factor_title").to_owned(),
        next: next.to_owned(),
        code: Field {
            id: "code",
            label: t.get("login.code").to_owned(),
            hint: Some(t.get("login.code_hint").to_owned()),
            value: String::new(),
            error: error_key.map(|k| t.get(k).to_owned()),
        },
        t,
        chrome,
    };
    html(status, &page, cookie)
}

/// GET: the second step.
pub async fn second_factor_form(
    request: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<NextQuery>,
) -> HttpResponse {
    match partial_session(&request, &state).await {
        Ok(Some((_, session))) => second_factor_page(
            &request,
            &state,
            lang_of(&session.account),
            safe_next(query.next.as_deref()),
            None,
            StatusCode::OK,
        ),
        Ok(None) => see_other(LOGIN, []),
        Err(response) => response,
    }
}

/// POST: check the code; on success the session becomes full (with a new token).
pub async fn second_factor_submit(
    request: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<CodeForm>,
) -> HttpResponse {
    let (token, session) = match partial_session(&request, &state).await {
        Ok(Some(found)) => found,
        Ok(None) => return see_other(LOGIN, []),
        Err(response) => return response,
    };
    let lang = lang_of(&session.account);
    let next = safe_next(form.next.as_deref()).to_owned();
    let again =
        |key: &str, status| second_factor_page(&request, &state, lang, &next, Some(key), status);
    if !csrf::verify(&request, form.csrf_token.as_deref()) {
        return again("error.csrf", StatusCode::FORBIDDEN);
    }
    let address = crate::client_address::of(&request, state.settings.public.trust_forwarded_for);
    if state
        .rate_limiter
        .check(Limited::LoginAttempt, address)
        .is_err()
    {
        return again("login.too_many", StatusCode::TOO_MANY_REQUESTS);
    }
    let Ok(mut conn) = state.connection().await else {
        return unavailable();
    };
    let user_id = session.account.id;
    match login::check_second_factor(
        &mut conn,
        &state.crypto,
        user_id,
        &form.code,
        state.lockout(),
    )
    .await
    {
        Ok(()) => {
            let Ok(full) = sessions::advance(
                &mut conn,
                &token,
                user_id,
                Stage::Full,
                state.session_lifetimes(),
            )
            .await
            else {
                return unavailable();
            };
            audit_login(&state, &request, user_id, AuditAction::Login).await;
            see_other(&next, [session_cookie(&request, &state, full)])
        }
        Err(LoginError::Rejected) => {
            audit_login(&state, &request, user_id, AuditAction::LoginFailed).await;
            again("login.code_rejected", StatusCode::UNAUTHORIZED)
        }
        Err(LoginError::Locked { .. }) => {
            // The partial session is of no further use.
            let _ = sessions::end(&mut conn, &token).await;
            login_page(
                &request,
                &state,
                lang,
                &next,
                String::new(),
                (Some("login.locked"), None),
                StatusCode::TOO_MANY_REQUESTS,
            )
        }
        Err(error) => {
            tracing::warn!(error = %error, "checking a second factor failed");
            unavailable()
        }
    }
}
