//! Logging in and out: password, then the second factor (or its enrolment, with recovery codes
//! shown once); a new session token at each step; logout here or everywhere; the language
//! choice; the first-run link that creates the first admin and the links that set a password.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;
use serde_json::json;

use super::{
    Chrome, ENROL, LOGIN, SECOND_FACTOR, SignedIn, lang_of, login_lang, message_page,
    removed_session_cookie, safe_next, session_cookie, signed_in,
};
use crate::audit::{self, AuditAction};
use crate::auth::accounts::{self, LinkPurpose, NewAccount};
use crate::auth::login::{self, LoginError};
use crate::auth::sessions::{self, Stage};
use crate::auth::{passwords, second_factor};
use crate::domain::FieldError;
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

#[derive(Template)]
#[template(path = "inspector/enrol.html")]
pub struct EnrolPage<'a> {
    pub chrome: Chrome<'a>,
    pub t: &'a Texts,
    pub title: String,
    pub qr_svg: String,
    pub secret_text: String,
    pub code: Field,
}

#[derive(Template)]
#[template(path = "inspector/recovery_codes.html")]
pub struct RecoveryCodesPage<'a> {
    pub chrome: Chrome<'a>,
    pub t: &'a Texts,
    pub title: String,
    pub codes: Vec<String>,
}

#[derive(Template)]
#[template(path = "inspector/set_password.html")]
pub struct SetPasswordPage<'a> {
    pub chrome: Chrome<'a>,
    pub t: &'a Texts,
    pub title: String,
    pub intro: String,
    pub action: String,
    /// Only for the first admin: email and name.
    pub account_fields: Vec<Field>,
    /// The password and its repetition.
    pub password_fields: Vec<Field>,
    pub errors: Vec<(String, String)>,
}

#[derive(Deserialize)]
pub struct LoginForm {
    csrf_token: Option<String>,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct CodeForm {
    csrf_token: Option<String>,
    #[serde(default)]
    code: String,
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    csrf_token: Option<String>,
}

#[derive(Deserialize)]
pub struct LanguageForm {
    csrf_token: Option<String>,
    #[serde(default)]
    language: String,
    back: Option<String>,
}

#[derive(Deserialize)]
pub struct PasswordForm {
    csrf_token: Option<String>,
    #[serde(default)]
    email: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_again: String,
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
    #[serde(rename = "ut")]
    logged_out: Option<String>,
    #[serde(rename = "klart")]
    password_set: Option<String>,
}

fn field(id: &'static str, label: &str, value: String, error: Option<String>) -> Field {
    Field {
        id,
        label: label.to_owned(),
        hint: None,
        value,
        error,
    }
}

async fn audit_login(
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

fn login_page(
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
    let page = LoginPage {
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
async fn partial_session(
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

fn second_factor_page(
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

async fn enrol_page(
    request: &HttpRequest,
    state: &AppState,
    session: &sessions::Session,
    error_key: Option<&str>,
    status: StatusCode,
) -> HttpResponse {
    let Ok(mut conn) = state.connection().await else {
        return unavailable();
    };
    let enrolment = match login::begin_enrolment(&mut conn, &state.crypto, session.account.id).await
    {
        Ok(enrolment) => enrolment,
        Err(error) => {
            tracing::warn!(error = %error, "starting an enrolment failed");
            return unavailable();
        }
    };
    let lang = lang_of(&session.account);
    let (csrf_token, cookie) = csrf::token(request);
    let chrome = Chrome::anonymous(state, lang, request, csrf_token);
    let t = chrome.t;
    let Ok(qr_svg) = second_factor::qr_svg(
        &enrolment.secret,
        &enrolment.account,
        t.get("enrol.qr_title"),
    ) else {
        return unavailable();
    };
    let page = EnrolPage {
        title: t.get("enrol.title").to_owned(),
        qr_svg,
        secret_text: second_factor::secret_text(&enrolment.secret),
        code: Field {
            id: "code",
            label: t.get("enrol.code").to_owned(),
            hint: Some(t.get("enrol.code_hint").to_owned()),
            value: String::new(),
            error: error_key.map(|k| t.get(k).to_owned()),
        },
        t,
        chrome,
    };
    html(status, &page, cookie)
}

/// GET: enrol a second factor (first login, or after an admin reset it).
pub async fn enrol_form(request: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    match partial_session(&request, &state).await {
        Ok(Some((_, session))) if !session.account.second_factor => {
            enrol_page(&request, &state, &session, None, StatusCode::OK).await
        }
        Ok(Some(_)) => see_other(SECOND_FACTOR, []),
        Ok(None) => see_other(LOGIN, []),
        Err(response) => response,
    }
}

/// POST: confirm with a code; show the recovery codes once; the session becomes full.
pub async fn enrol_submit(
    request: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<CodeForm>,
) -> HttpResponse {
    let (token, session) = match partial_session(&request, &state).await {
        Ok(Some(found)) if !found.1.account.second_factor => found,
        Ok(Some(_)) => return see_other(SECOND_FACTOR, []),
        Ok(None) => return see_other(LOGIN, []),
        Err(response) => return response,
    };
    if !csrf::verify(&request, form.csrf_token.as_deref()) {
        return enrol_page(
            &request,
            &state,
            &session,
            Some("error.csrf"),
            StatusCode::FORBIDDEN,
        )
        .await;
    }
    let Ok(mut conn) = state.connection().await else {
        return unavailable();
    };
    let user_id = session.account.id;
    match login::confirm_enrolment(
        &mut conn,
        &state.crypto,
        user_id,
        &form.code,
        state.lockout(),
    )
    .await
    {
        Ok(codes) => {
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
            let lang = lang_of(&session.account);
            let (csrf_token, cookie) = csrf::token(&request);
            let chrome = Chrome::anonymous(&state, lang, &request, csrf_token);
            let t = chrome.t;
            let page = RecoveryCodesPage {
                title: t.get("enrol.codes_title").to_owned(),
                codes,
                t,
                chrome,
            };
            let cookies = [session_cookie(&request, &state, full)]
                .into_iter()
                .chain(cookie);
            html(StatusCode::OK, &page, cookies)
        }
        Err(LoginError::Locked { .. }) => {
            let _ = sessions::end(&mut conn, &token).await;
            see_other(LOGIN, [removed_session_cookie(&request, &state)])
        }
        Err(LoginError::Rejected) => {
            enrol_page(
                &request,
                &state,
                &session,
                Some("login.code_rejected"),
                StatusCode::UNAUTHORIZED,
            )
            .await
        }
        Err(error) => {
            tracing::warn!(error = %error, "confirming an enrolment failed");
            unavailable()
        }
    }
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
    if let (Some(token), Ok(mut conn)) =
        (request.cookie(sessions::COOKIE), state.connection().await)
        && sessions::end(&mut conn, token.value()).await.is_err()
    {
        return unavailable();
    }
    audit_login(&state, &request, who.account.id, AuditAction::Logout).await;
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

/// Which one-time link a password page serves.
async fn link_purpose(state: &AppState, token: &str) -> Option<LinkPurpose> {
    let mut conn = state.connection().await.ok()?;
    for purpose in [LinkPurpose::Invitation, LinkPurpose::PasswordReset] {
        if let Ok(Some(Some(_))) = accounts::check_link(&mut conn, purpose, token).await {
            return Some(purpose);
        }
    }
    None
}

#[allow(clippy::too_many_arguments)]
fn password_page(
    request: &HttpRequest,
    state: &AppState,
    lang: Lang,
    first_admin: bool,
    action: String,
    form: Option<&PasswordForm>,
    errors: &[FieldError],
    status: StatusCode,
) -> HttpResponse {
    let (csrf_token, cookie) = csrf::token(request);
    let chrome = Chrome::anonymous(state, lang, request, csrf_token);
    let t = chrome.t;
    let error_for = |id: &str| {
        errors
            .iter()
            .find(|e| e.field == id)
            .map(|e| t.get(&format!("account_error.{}", e.code)).to_owned())
    };
    let value =
        |f: fn(&PasswordForm) -> &String| form.map(|form| f(form).clone()).unwrap_or_default();
    let account_fields = if first_admin {
        vec![
            field(
                "email",
                t.get("password.email"),
                value(|f| &f.email),
                error_for("email"),
            ),
            field(
                "display_name",
                t.get("password.display_name"),
                value(|f| &f.display_name),
                error_for("display_name"),
            ),
        ]
    } else {
        Vec::new()
    };
    let mut password = field(
        "password",
        t.get("password.password"),
        String::new(),
        error_for("password"),
    );
    password.hint = Some(t.get("password.password_hint").to_owned());
    let page = SetPasswordPage {
        title: t
            .get(if first_admin {
                "password.first_admin_title"
            } else {
                "password.title"
            })
            .to_owned(),
        intro: t
            .get(if first_admin {
                "password.first_admin_intro"
            } else {
                "password.intro"
            })
            .to_owned(),
        action,
        errors: errors
            .iter()
            .map(|e| {
                (
                    e.field.clone(),
                    t.get(&format!("account_error.{}", e.code)).to_owned(),
                )
            })
            .collect(),
        account_fields,
        password_fields: vec![
            password,
            field(
                "password_again",
                t.get("password.password_again"),
                String::new(),
                error_for("password_again"),
            ),
        ],
        t,
        chrome,
    };
    html(status, &page, cookie)
}

fn link_gone(request: &HttpRequest, state: &AppState, lang: Lang) -> HttpResponse {
    let (csrf_token, _) = csrf::token(request);
    let chrome = Chrome::anonymous(state, lang, request, csrf_token);
    message_page(
        chrome,
        StatusCode::NOT_FOUND,
        "password.link_gone_title",
        "password.link_gone",
    )
}

fn check_passwords(form: &PasswordForm, email: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Err(error) = passwords::check_new("password", &form.password, email) {
        errors.push(error);
    } else if form.password != form.password_again {
        errors.push(FieldError::new(
            "password_again",
            "mismatch",
            "must repeat the password",
        ));
    }
    errors
}

/// GET: the first-run form (only while no account exists).
pub async fn first_admin_form(
    request: HttpRequest,
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> HttpResponse {
    let lang = login_lang(&request);
    let Ok(mut conn) = state.connection().await else {
        return unavailable();
    };
    match accounts::check_link(&mut conn, LinkPurpose::FirstAdmin, &token).await {
        Ok(Some(None)) => password_page(
            &request,
            &state,
            lang,
            true,
            request.path().to_owned(),
            None,
            &[],
            StatusCode::OK,
        ),
        Ok(_) => link_gone(&request, &state, lang),
        Err(_) => unavailable(),
    }
}

/// POST: create the first admin (admin and triage lead, every team).
pub async fn first_admin_submit(
    request: HttpRequest,
    state: web::Data<AppState>,
    token: web::Path<String>,
    form: web::Form<PasswordForm>,
) -> HttpResponse {
    let lang = login_lang(&request);
    let action = request.path().to_owned();
    let again = |errors: &[FieldError], status| {
        password_page(
            &request,
            &state,
            lang,
            true,
            action.clone(),
            Some(&form),
            errors,
            status,
        )
    };
    if !csrf::verify(&request, form.csrf_token.as_deref()) {
        return again(
            &[FieldError::new("csrf", "csrf", "")],
            StatusCode::FORBIDDEN,
        );
    }
    let teams: Vec<String> = state.triage.teams.iter().map(|t| t.code.clone()).collect();
    let known: Vec<&str> = teams.iter().map(String::as_str).collect();
    let roles = ["admin".to_owned(), "triage_lead".to_owned()];
    let account = NewAccount::parse(
        &form.email,
        &form.display_name,
        &roles,
        &teams,
        lang.code(),
        &known,
    );
    let mut errors = match &account {
        Ok(_) => Vec::new(),
        Err(errors) => errors.clone(),
    };
    errors.extend(check_passwords(&form, &form.email));
    let account = match account {
        Ok(account) if errors.is_empty() => account,
        _ => return again(&errors, StatusCode::UNPROCESSABLE_ENTITY),
    };
    let Ok(mut conn) = state.connection().await else {
        return unavailable();
    };
    match accounts::create_first_admin(&mut conn, &token, &account, &form.password).await {
        Ok(Some(user_id)) => {
            let request_id = telemetry::request_id(&request);
            let actor = format!("user:{user_id}");
            let _ = audit::record(
                &mut conn,
                &state.crypto,
                &audit::Entry {
                    actor: &actor,
                    action: AuditAction::CreateUser,
                    tip_id: None,
                    detail: json!({ "user": user_id, "roles": ["admin", "triage_lead"], "first_run": true }),
                    request_id: request_id.as_deref(),
                },
            )
            .await;
            see_other(&format!("{LOGIN}?klart=1"), [])
        }
        Ok(None) => link_gone(&request, &state, lang),
        Err(error) => {
            tracing::warn!(error = %error, "creating the first admin failed");
            unavailable()
        }
    }
}

/// GET: choose a password from an invitation or reset link.
pub async fn password_form(
    request: HttpRequest,
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> HttpResponse {
    let lang = login_lang(&request);
    match link_purpose(&state, &token).await {
        Some(_) => password_page(
            &request,
            &state,
            lang,
            false,
            request.path().to_owned(),
            None,
            &[],
            StatusCode::OK,
        ),
        None => link_gone(&request, &state, lang),
    }
}

/// POST: set the password; the link is used up and every session of the account ends.
pub async fn password_submit(
    request: HttpRequest,
    state: web::Data<AppState>,
    token: web::Path<String>,
    form: web::Form<PasswordForm>,
) -> HttpResponse {
    let lang = login_lang(&request);
    let action = request.path().to_owned();
    let again = |errors: &[FieldError], status| {
        password_page(
            &request,
            &state,
            lang,
            false,
            action.clone(),
            Some(&form),
            errors,
            status,
        )
    };
    if !csrf::verify(&request, form.csrf_token.as_deref()) {
        return again(
            &[FieldError::new("csrf", "csrf", "")],
            StatusCode::FORBIDDEN,
        );
    }
    let Some(purpose) = link_purpose(&state, &token).await else {
        return link_gone(&request, &state, lang);
    };
    let Ok(mut conn) = state.connection().await else {
        return unavailable();
    };
    let Ok(Some(Some(user_id))) = accounts::check_link(&mut conn, purpose, &token).await else {
        return link_gone(&request, &state, lang);
    };
    let Ok(Some(account)) = accounts::find(&mut conn, user_id).await else {
        return link_gone(&request, &state, lang);
    };
    let errors = check_passwords(&form, &account.email);
    if !errors.is_empty() {
        return again(&errors, StatusCode::UNPROCESSABLE_ENTITY);
    }
    match accounts::set_password_from_link(&mut conn, purpose, &token, user_id, &form.password)
        .await
    {
        Ok(true) => see_other(&format!("{LOGIN}?klart=1"), []),
        Ok(false) => link_gone(&request, &state, lang),
        Err(error) => {
            tracing::warn!(error = %error, "setting a password failed");
            unavailable()
        }
    }
}
