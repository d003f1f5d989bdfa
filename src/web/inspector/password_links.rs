//! The one-time links: the first-run link that creates the first admin, and the invitation
//! and reset links that set a password.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;
use serde_json::json;

use super::login::field;
use super::{Chrome, LOGIN, login_lang, message_page};
use crate::audit::{self, AuditAction};
use crate::auth::accounts::{self, LinkPurpose, NewAccount};
use crate::auth::passwords;
use crate::domain::FieldError;
use crate::state::AppState;
use crate::telemetry;
use crate::web::i18n::Lang;
use crate::web::i18n::Texts;
use crate::web::views::Field;
use crate::web::{csrf, html, see_other, unavailable};

#[derive(Deserialize)]
pub struct PasswordForm {
    pub(super) csrf_token: Option<String>,
    #[serde(default)]
    pub(super) email: String,
    #[serde(default)]
    pub(super) display_name: String,
    #[serde(default)]
    pub(super) password: String,
    #[serde(default)]
    pub(super) password_again: String,
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
