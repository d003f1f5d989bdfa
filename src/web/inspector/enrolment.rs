//! Enrolling the second factor after the first password: the TOTP secret and QR code, the
//! first code's check, and the recovery codes shown once.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::login::{CodeForm, audit_login, partial_session};
use super::{Chrome, LOGIN, SECOND_FACTOR, lang_of, removed_session_cookie, session_cookie};
use crate::audit::AuditAction;
use crate::auth::login::{self, LoginError};
use crate::auth::second_factor;
use crate::auth::sessions::{self, Stage};
use crate::state::AppState;
use crate::web::i18n::Texts;
use crate::web::views::Field;
use crate::web::{csrf, html, see_other, unavailable};

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
