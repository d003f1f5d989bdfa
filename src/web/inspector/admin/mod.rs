//! The admin pages: people (invitations, roles and teams, disabling, second-factor and
//! password resets, ending sessions), API keys, the loaded triage and routing configuration,
//! the audit log, dead notification jobs, and disposal (gallring).
//!
//! Every handler asks `auth::policy` through the signed-in person; every change commits
//! together with its audit row. Secrets (invitation and reset links, API keys) are shown once,
//! on the response to the POST that made them, and never written to the audit log.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde_json::json;
use uuid::Uuid;

use super::queue::local_time;
use super::{
    ADMIN, Chrome, Section, SignedIn, csrf_failed, encode_component, forbidden, message_page,
    signed_in,
};
use crate::audit::{self, AuditAction};
use crate::auth::accounts::{
    self, Account, AccountError, INVITATION_LINK_HOURS, LinkPurpose, NewAccount,
};
use crate::auth::api_keys::Scope;
use crate::auth::policy::{Action, Decision, Role};
use crate::db;
use crate::domain::{FieldError, Priority};
use crate::state::AppState;
use crate::telemetry;
use crate::triage::calendar::Span;
use crate::web::i18n::Texts;
use crate::web::views::Field;
use crate::web::{csrf, html, see_other, unavailable};

mod audit_log;
mod configuration;
mod dispatch;
mod disposal;
mod keys;
mod people;

use audit_log::*;
use configuration::*;
use dispatch::*;
use disposal::*;
use keys::*;
use people::*;

pub const PEOPLE: &str = "/inspektor/admin/personer";
pub const API_KEYS: &str = "/inspektor/admin/api-nycklar";
pub const CONFIGURATION: &str = "/inspektor/admin/konfiguration";
pub const AUDIT_LOG: &str = "/inspektor/admin/granskningslogg";
/// Dead notification jobs (the notification worker is built elsewhere).
pub const DISPATCH: &str = "/inspektor/admin/utskick";
/// Disposal (gallring): the rules in force, what is due, the runs.
pub const DISPOSAL: &str = "/inspektor/admin/gallring";
/// How long a password-reset link made on these pages stays valid.
pub const RESET_LINK_HOURS: i64 = 24;
/// Audit rows per page.
const AUDIT_PAGE_SIZE: i64 = 50;

/// Registers the admin pages.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(ADMIN, web::get().to(overview))
        .service(
            web::resource(PEOPLE)
                .route(web::get().to(people))
                .route(web::post().to(invite)),
        )
        .service(
            web::resource("/inspektor/admin/personer/{id}")
                .route(web::get().to(person))
                .route(web::post().to(change_person)),
        )
        .service(
            web::resource(API_KEYS)
                .route(web::get().to(api_keys_page))
                .route(web::post().to(create_api_key)),
        )
        .route(
            "/inspektor/admin/api-nycklar/{prefix}/aterkalla",
            web::post().to(revoke_api_key),
        )
        .route(CONFIGURATION, web::get().to(configuration))
        .route(AUDIT_LOG, web::get().to(audit_log))
        .route(DISPATCH, web::get().to(dispatch))
        .route(DISPOSAL, web::get().to(disposal_page))
        .route(
            "/inspektor/admin/utskick/{id}/forsok-igen",
            web::post().to(retry_notification),
        );
}

/// Form bodies as pairs: role, team and scope checkboxes repeat their name.
type Pairs = web::Form<Vec<(String, String)>>;

fn value<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn values(pairs: &[(String, String)], key: &str) -> Vec<String> {
    pairs
        .iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .collect()
}

/// The signed-in person if the policy allows `action`; the login redirect or 403 otherwise.
async fn allowed(
    request: &HttpRequest,
    state: &AppState,
    action: Action<'_>,
) -> Result<SignedIn, HttpResponse> {
    let who = signed_in(request, state).await?;
    if who.may(action) != Decision::Allow {
        return Err(forbidden(state, request, &who));
    }
    Ok(who)
}

/// As `allowed`, for a POST: the CSRF token is checked first, as on the tip pages.
async fn allowed_post(
    request: &HttpRequest,
    state: &AppState,
    action: Action<'_>,
    pairs: &[(String, String)],
) -> Result<SignedIn, HttpResponse> {
    let who = signed_in(request, state).await?;
    if !csrf::verify(request, value(pairs, csrf::FIELD)) {
        return Err(csrf_failed(state, request, &who));
    }
    if who.may(action) != Decision::Allow {
        return Err(forbidden(state, request, &who));
    }
    Ok(who)
}

/// Who did it and in which request, taken before a transaction (the request itself is not
/// `Send`, so it stays outside).
struct Auditor {
    actor: String,
    request_id: Option<String>,
}

impl Auditor {
    fn new(request: &HttpRequest, who: &SignedIn) -> Self {
        Auditor {
            actor: who.principal.actor(),
            request_id: telemetry::request_id(request),
        }
    }

    async fn record(
        &self,
        conn: &mut AsyncPgConnection,
        state: &AppState,
        action: AuditAction,
        detail: serde_json::Value,
    ) -> Result<(), diesel::result::Error> {
        audit::record(
            conn,
            &state.crypto,
            &audit::Entry {
                actor: &self.actor,
                action,
                tip_id: None,
                detail,
                request_id: self.request_id.as_deref(),
            },
        )
        .await
        .map(|_| ())
    }
}

/// A label and a value.
pub struct FactRow {
    pub label: String,
    pub value: String,
}

/// One checkbox (or radio button) of a group.
pub struct CheckView {
    pub id: String,
    pub value: String,
    pub label: String,
    pub checked: bool,
}

/// An error summary entry: the id to jump to and the message.
type SummaryError = (String, String);

fn role_label(t: &Texts, role: Role) -> String {
    t.get(&format!("admin_roles.{}", role.as_str())).to_owned()
}

fn team_name(state: &AppState, code: &str) -> String {
    state
        .triage
        .team(code)
        .map_or_else(|| code.to_owned(), |team| team.name.clone())
}

fn known_teams(state: &AppState) -> Vec<&str> {
    state.triage.teams.iter().map(|t| t.code.as_str()).collect()
}

fn role_checks(t: &Texts, checked: &[String]) -> Vec<CheckView> {
    Role::ALL
        .iter()
        .map(|role| CheckView {
            id: format!("role-{}", role.as_str()),
            value: role.as_str().to_owned(),
            label: role_label(t, *role),
            checked: checked.iter().any(|c| c == role.as_str()),
        })
        .collect()
}

fn team_checks(state: &AppState, checked: &[String]) -> Vec<CheckView> {
    state
        .triage
        .teams
        .iter()
        .map(|team| CheckView {
            id: format!("team-{}", team.code),
            value: team.code.clone(),
            label: format!("{} ({})", team.name, team.code),
            checked: checked.contains(&team.code),
        })
        .collect()
}

/// The message for an account field error, in the person's language.
fn account_error(t: &Texts, error: &FieldError) -> String {
    let key = format!("account_error.{}", error.code);
    if t.has(&key) {
        t.get(&key).to_owned()
    } else {
        t.get(&format!("admin_people.error_{}", error.code))
            .to_owned()
    }
}

fn error_for(errors: &[FieldError], field: &str, t: &Texts) -> Option<String> {
    errors
        .iter()
        .find(|e| e.field == field)
        .map(|e| account_error(t, e))
}

/// Where the summary's link for a field points (a group's first checkbox).
fn anchor(field: &str, first_check: impl FnOnce() -> Option<String>) -> String {
    match field {
        "roles" | "teams" | "language" | "scopes" => {
            first_check().unwrap_or_else(|| field.to_owned())
        }
        other => other.to_owned(),
    }
}

// ---------------------------------------------------------------------------------------
// Overview

pub struct SectionLink {
    pub href: &'static str,
    pub title: String,
    pub text: String,
}

#[derive(Template)]
#[template(path = "inspector/admin.html")]
pub struct OverviewPage<'a> {
    pub chrome: Chrome<'a>,
    pub t: &'a Texts,
    pub title: String,
    pub sections: Vec<SectionLink>,
}

/// GET /inspektor/admin: links to the sections the person may use.
pub async fn overview(request: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let who = match signed_in(&request, &state).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    let t = state.translations.texts(who.lang);
    let sections: Vec<SectionLink> = [
        (Action::ManageUsers, PEOPLE, "people"),
        (Action::ManageApiKeys, API_KEYS, "keys"),
        (Action::ReadConfiguration, CONFIGURATION, "config"),
        (Action::ReadAuditLog, AUDIT_LOG, "audit"),
        (Action::ManageNotifications, DISPATCH, "dispatch"),
        (Action::ReadDisposal, DISPOSAL, "disposal"),
    ]
    .into_iter()
    .filter(|(action, _, _)| who.may(*action) == Decision::Allow)
    .map(|(_, href, key)| SectionLink {
        href,
        title: t.get(&format!("admin.section_{key}")).to_owned(),
        text: t.get(&format!("admin.section_{key}_text")).to_owned(),
    })
    .collect();
    if sections.is_empty() {
        return forbidden(&state, &request, &who);
    }
    let (csrf_token, cookie) = csrf::token(&request);
    let chrome = Chrome::signed_in(&state, &request, &who, Section::Admin, csrf_token);
    let page = OverviewPage {
        title: t.get("admin.title").to_owned(),
        sections,
        t,
        chrome,
    };
    html(StatusCode::OK, &page, cookie)
}
