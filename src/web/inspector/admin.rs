//! The admin pages: people (invitations, roles and teams, disabling, second-factor and
//! password resets, ending sessions), API keys, the loaded triage and routing configuration,
//! the audit log, and a reserved place for dead notification jobs.
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
use super::{ADMIN, Chrome, Section, SignedIn, csrf_failed, forbidden, message_page, signed_in};
use crate::audit::{self, AuditAction};
use crate::auth::accounts::{
    self, Account, AccountError, INVITATION_LINK_HOURS, LinkPurpose, NewAccount,
};
use crate::auth::api_keys::{self, Scope};
use crate::auth::policy::{Action, Decision, Role};
use crate::db;
use crate::domain::{FieldError, Priority};
use crate::state::AppState;
use crate::telemetry;
use crate::triage::calendar::Span;
use crate::web::i18n::Texts;
use crate::web::views::Field;
use crate::web::{csrf, html, see_other, unavailable};

pub const PEOPLE: &str = "/inspektor/admin/personer";
pub const API_KEYS: &str = "/inspektor/admin/api-nycklar";
pub const CONFIGURATION: &str = "/inspektor/admin/konfiguration";
pub const AUDIT_LOG: &str = "/inspektor/admin/granskningslogg";
/// Dead notification jobs (the notification worker is built elsewhere).
pub const DISPATCH: &str = "/inspektor/admin/utskick";
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

// ---------------------------------------------------------------------------------------
// People

pub struct PersonRow {
    pub href: String,
    pub name: String,
    pub email: String,
    pub roles: String,
    pub teams: String,
    pub active: bool,
    pub second_factor: bool,
    pub has_password: bool,
}

/// The invitation form, as typed.
pub struct InviteView {
    pub email: Field,
    pub display_name: Field,
    pub roles: Vec<CheckView>,
    pub roles_error: Option<String>,
    pub teams: Vec<CheckView>,
    pub teams_error: Option<String>,
    pub languages: Vec<CheckView>,
    pub language_error: Option<String>,
}

#[derive(Template)]
#[template(path = "inspector/admin_people.html")]
pub struct PeoplePage<'a> {
    pub chrome: Chrome<'a>,
    pub t: &'a Texts,
    pub title: String,
    pub rows: Vec<PersonRow>,
    pub errors: Vec<SummaryError>,
    pub invite: InviteView,
    pub invitation_hours: i64,
}

fn invite_view(
    state: &AppState,
    t: &Texts,
    pairs: &[(String, String)],
    errors: &[FieldError],
) -> InviteView {
    let field = |id: &'static str, label: &str, hint: Option<&str>| Field {
        id,
        label: t.get(label).to_owned(),
        hint: hint.map(|h| t.get(h).to_owned()),
        value: value(pairs, id).unwrap_or_default().to_owned(),
        error: error_for(errors, id, t),
    };
    let language = value(pairs, "language").unwrap_or("sv");
    InviteView {
        email: field("email", "admin_people.email", None),
        display_name: field("display_name", "admin_people.name", None),
        roles: role_checks(t, &values(pairs, "roles")),
        roles_error: error_for(errors, "roles", t),
        teams: team_checks(state, &values(pairs, "teams")),
        teams_error: error_for(errors, "teams", t),
        languages: ["sv", "en"]
            .into_iter()
            .map(|code| CheckView {
                id: format!("language-{code}"),
                value: code.to_owned(),
                label: t.get(&format!("admin_people.language_{code}")).to_owned(),
                checked: language == code,
            })
            .collect(),
        language_error: error_for(errors, "language", t),
    }
}

fn summary(
    t: &Texts,
    errors: &[FieldError],
    first_check: impl Fn(&str) -> Option<String>,
) -> Vec<SummaryError> {
    errors
        .iter()
        .map(|e| {
            (
                anchor(&e.field, || first_check(&e.field)),
                account_error(t, e),
            )
        })
        .collect()
}

async fn people_page(
    request: &HttpRequest,
    state: &AppState,
    who: &SignedIn,
    pairs: &[(String, String)],
    errors: &[FieldError],
    status: StatusCode,
) -> HttpResponse {
    let Ok(mut conn) = state.connection().await else {
        return unavailable();
    };
    let list = match accounts::list(&mut conn).await {
        Ok(list) => list,
        Err(error) => {
            tracing::warn!(error = %error, "listing accounts failed");
            return unavailable();
        }
    };
    drop(conn);
    let t = state.translations.texts(who.lang);
    let rows = list
        .iter()
        .map(|a| PersonRow {
            href: format!("{PEOPLE}/{}", a.id),
            name: a.display_name.clone(),
            email: a.email.clone(),
            roles: a
                .roles
                .iter()
                .map(|r| role_label(t, *r))
                .collect::<Vec<_>>()
                .join(", "),
            teams: a
                .teams
                .iter()
                .map(|code| team_name(state, code))
                .collect::<Vec<_>>()
                .join(", "),
            active: a.active,
            second_factor: a.second_factor,
            has_password: a.has_password,
        })
        .collect();
    let first_team = state.triage.teams.first().map(|t| t.code.clone());
    let errors_summary = summary(t, errors, |field| match field {
        "roles" => Some(format!("role-{}", Role::ALL[0].as_str())),
        "teams" => first_team.as_ref().map(|code| format!("team-{code}")),
        "language" => Some("language-sv".to_owned()),
        _ => None,
    });
    let (csrf_token, cookie) = csrf::token(request);
    let chrome = Chrome::signed_in(state, request, who, Section::Admin, csrf_token);
    let page = PeoplePage {
        title: t.get("admin_people.title").to_owned(),
        rows,
        errors: errors_summary,
        invite: invite_view(state, t, pairs, errors),
        invitation_hours: INVITATION_LINK_HOURS,
        t,
        chrome,
    };
    html(status, &page, cookie)
}

/// GET: everyone, and the invitation form.
pub async fn people(request: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let who = match allowed(&request, &state, Action::ManageUsers).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    people_page(&request, &state, &who, &[], &[], StatusCode::OK).await
}

/// A secret shown once: an invitation or reset link, or a new API key.
#[derive(Template)]
#[template(path = "inspector/admin_once.html")]
pub struct OncePage<'a> {
    pub chrome: Chrome<'a>,
    pub t: &'a Texts,
    pub title: String,
    pub intro: String,
    pub secret_label: String,
    pub secret: String,
    pub note: String,
    pub back_href: String,
    pub back_label: String,
}

/// The full address of a password link, as the admin's browser reached this service.
fn link_address(request: &HttpRequest, token: &str) -> String {
    let info = request.connection_info();
    format!(
        "{}://{}/inspektor/losenord/{token}",
        info.scheme(),
        info.host()
    )
}

/// POST: creates an account without a password and shows its invitation link once.
pub async fn invite(request: HttpRequest, state: web::Data<AppState>, form: Pairs) -> HttpResponse {
    let who = match allowed_post(&request, &state, Action::ManageUsers, &form).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    let known = known_teams(&state);
    let account = match NewAccount::parse(
        value(&form, "email").unwrap_or_default(),
        value(&form, "display_name").unwrap_or_default(),
        &values(&form, "roles"),
        &values(&form, "teams"),
        value(&form, "language").unwrap_or_default(),
        &known,
    ) {
        Ok(account) => account,
        Err(errors) => {
            return people_page(
                &request,
                &state,
                &who,
                &form,
                &errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let Ok(mut conn) = state.connection().await else {
        return unavailable();
    };
    let auditor = Auditor::new(&request, &who);
    let result = conn
        .transaction::<_, AccountError, _>(async |conn| {
            let id = accounts::create(conn, &account, None).await?;
            let token = accounts::issue_link(
                conn,
                LinkPurpose::Invitation,
                Some(id),
                INVITATION_LINK_HOURS,
            )
            .await?;
            let roles: Vec<&str> = account.roles.iter().map(|r| r.as_str()).collect();
            // What was created, never the link itself.
            auditor
                .record(
                    conn,
                    &state,
                    AuditAction::CreateUser,
                    json!({
                        "user_id": id,
                        "email": account.email,
                        "roles": roles,
                        "teams": account.teams,
                        "language": account.language,
                        "invitation_valid_hours": INVITATION_LINK_HOURS,
                    }),
                )
                .await?;
            Ok((id, token))
        })
        .await;
    drop(conn);
    let (id, token) = match result {
        Ok(created) => created,
        Err(AccountError::Invalid(errors)) => {
            return people_page(
                &request,
                &state,
                &who,
                &form,
                &errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
        Err(error) => {
            tracing::warn!(error = %error, "inviting a person failed");
            return unavailable();
        }
    };
    let t = state.translations.texts(who.lang);
    let (csrf_token, cookie) = csrf::token(&request);
    let chrome = Chrome::signed_in(&state, &request, &who, Section::Admin, csrf_token);
    let page = OncePage {
        title: t.get("admin_people.invited_title").to_owned(),
        intro: t
            .get("admin_people.invited_intro")
            .replace("{name}", &account.display_name)
            .replace("{email}", &account.email),
        secret_label: t.get("admin_people.invitation_link").to_owned(),
        secret: link_address(&request, &token),
        note: t
            .get("admin.shown_once_link")
            .replace("{hours}", &INVITATION_LINK_HOURS.to_string()),
        back_href: format!("{PEOPLE}/{id}"),
        back_label: t.get("admin_people.to_person").to_owned(),
        t,
        chrome,
    };
    html(StatusCode::OK, &page, cookie)
}

#[derive(Template)]
#[template(path = "inspector/admin_person.html")]
pub struct PersonPage<'a> {
    pub chrome: Chrome<'a>,
    pub t: &'a Texts,
    pub title: String,
    pub action: String,
    pub notice: Option<String>,
    pub errors: Vec<SummaryError>,
    pub facts: Vec<FactRow>,
    pub roles: Vec<CheckView>,
    pub roles_error: Option<String>,
    pub teams: Vec<CheckView>,
    pub teams_error: Option<String>,
    pub active: bool,
    pub is_self: bool,
    pub reset_hours: i64,
}

fn person_id(path: &str) -> Option<Uuid> {
    path.parse().ok()
}

fn person_not_found(state: &AppState, request: &HttpRequest, who: &SignedIn) -> HttpResponse {
    let (token, _) = csrf::token(request);
    let chrome = Chrome::signed_in(state, request, who, Section::Admin, token);
    message_page(
        chrome,
        StatusCode::NOT_FOUND,
        "admin_person.not_found_title",
        "admin_person.not_found_text",
    )
}

/// What a re-rendered person page carries besides the account.
#[derive(Default)]
struct PersonExtras<'a> {
    notice_key: Option<String>,
    errors: Vec<FieldError>,
    /// The roles and teams as submitted (after an error).
    submitted: Option<&'a [(String, String)]>,
}

fn person_page(
    request: &HttpRequest,
    state: &AppState,
    who: &SignedIn,
    account: &Account,
    extras: PersonExtras<'_>,
    status: StatusCode,
) -> HttpResponse {
    let t = state.translations.texts(who.lang);
    let yes_no = |b: bool| t.get(if b { "admin.yes" } else { "admin.no" }).to_owned();
    let facts = vec![
        FactRow {
            label: t.get("admin_people.email").to_owned(),
            value: account.email.clone(),
        },
        FactRow {
            label: t.get("admin_people.language").to_owned(),
            value: t
                .get(&format!("admin_people.language_{}", account.language))
                .to_owned(),
        },
        FactRow {
            label: t.get("admin_people.col_active").to_owned(),
            value: yes_no(account.active),
        },
        FactRow {
            label: t.get("admin_people.has_password").to_owned(),
            value: yes_no(account.has_password),
        },
        FactRow {
            label: t.get("admin_people.col_second_factor").to_owned(),
            value: t
                .get(if account.second_factor {
                    "admin_people.second_factor_on"
                } else {
                    "admin_people.second_factor_off"
                })
                .to_owned(),
        },
        FactRow {
            label: t.get("admin_people.created").to_owned(),
            value: local_time(account.created_at),
        },
    ];
    let (roles, teams) = match extras.submitted {
        Some(pairs) => (values(pairs, "roles"), values(pairs, "teams")),
        None => (
            account
                .roles
                .iter()
                .map(|r| r.as_str().to_owned())
                .collect(),
            account.teams.clone(),
        ),
    };
    let first_team = state.triage.teams.first().map(|t| t.code.clone());
    let errors = summary(t, &extras.errors, |field| match field {
        "roles" => Some(format!("role-{}", Role::ALL[0].as_str())),
        "teams" => first_team.as_ref().map(|code| format!("team-{code}")),
        _ => None,
    });
    let (csrf_token, cookie) = csrf::token(request);
    let chrome = Chrome::signed_in(state, request, who, Section::Admin, csrf_token);
    let page = PersonPage {
        title: account.display_name.clone(),
        action: format!("{PEOPLE}/{}", account.id),
        notice: extras.notice_key.map(|k| t.get(&k).to_owned()),
        roles_error: error_for(&extras.errors, "roles", t),
        teams_error: error_for(&extras.errors, "teams", t),
        errors,
        facts,
        roles: role_checks(t, &roles),
        teams: team_checks(state, &teams),
        active: account.active,
        is_self: account.id == who.account.id,
        reset_hours: RESET_LINK_HOURS,
        t,
        chrome,
    };
    html(status, &page, cookie)
}

async fn load_account(state: &AppState, id: Uuid) -> Result<Option<Account>, HttpResponse> {
    let mut conn = state.connection().await.map_err(|_| unavailable())?;
    accounts::find(&mut conn, id).await.map_err(|error| {
        tracing::warn!(error = %error, "loading an account failed");
        unavailable()
    })
}

/// The changes a person page can post, as `?klart=` after the redirect.
const DONE: [&str; 5] = [
    "roles",
    "disable",
    "enable",
    "reset_second_factor",
    "logout",
];

/// GET: one person, with the forms to change them.
pub async fn person(
    request: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<Vec<(String, String)>>,
) -> HttpResponse {
    let who = match allowed(&request, &state, Action::ManageUsers).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    let Some(id) = person_id(&path) else {
        return person_not_found(&state, &request, &who);
    };
    let account = match load_account(&state, id).await {
        Ok(Some(account)) => account,
        Ok(None) => return person_not_found(&state, &request, &who),
        Err(response) => return response,
    };
    let notice_key = value(&query, "klart")
        .filter(|done| DONE.contains(done))
        .map(|done| format!("admin_person.done_{done}"));
    let extras = PersonExtras {
        notice_key,
        ..PersonExtras::default()
    };
    person_page(&request, &state, &who, &account, extras, StatusCode::OK)
}

/// POST: one change to a person, named by the form's `action`.
pub async fn change_person(
    request: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: Pairs,
) -> HttpResponse {
    let who = match allowed_post(&request, &state, Action::ManageUsers, &form).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    let Some(id) = person_id(&path) else {
        return person_not_found(&state, &request, &who);
    };
    let account = match load_account(&state, id).await {
        Ok(Some(account)) => account,
        Ok(None) => return person_not_found(&state, &request, &who),
        Err(response) => return response,
    };
    let refuse = |errors: Vec<FieldError>, status| {
        let extras = PersonExtras {
            errors,
            submitted: Some(&form),
            ..PersonExtras::default()
        };
        person_page(&request, &state, &who, &account, extras, status)
    };
    let is_self = account.id == who.account.id;
    let action = value(&form, "action").unwrap_or_default().to_owned();
    let Ok(mut conn) = state.connection().await else {
        return unavailable();
    };
    let auditor = Auditor::new(&request, &who);
    let result: Result<(), AccountError> = match action.as_str() {
        "roles" => {
            let known = known_teams(&state);
            let roles = accounts::parse_roles("roles", &values(&form, "roles"));
            let teams = accounts::parse_teams("teams", &values(&form, "teams"), &known);
            let (roles, teams) = match (roles, teams) {
                (Ok(roles), Ok(teams)) => (roles, teams),
                (roles, teams) => {
                    let errors = [roles.err(), teams.err()].into_iter().flatten().collect();
                    return refuse(errors, StatusCode::UNPROCESSABLE_ENTITY);
                }
            };
            // Nobody removes their own admin role: the last admin could lock everyone out.
            if is_self && account.has(Role::Admin) && !roles.contains(&Role::Admin) {
                return refuse(
                    vec![FieldError::new(
                        "roles",
                        "own_admin_role",
                        "you cannot remove your own admin role",
                    )],
                    StatusCode::UNPROCESSABLE_ENTITY,
                );
            }
            let names = |roles: &[Role]| -> Vec<&'static str> {
                roles.iter().map(|r| r.as_str()).collect()
            };
            let detail = json!({
                "user_id": id,
                "change": "roles_and_teams",
                "before": { "roles": names(&account.roles), "teams": account.teams },
                "after": { "roles": names(&roles), "teams": teams },
            });
            conn.transaction::<_, AccountError, _>(async |conn| {
                accounts::set_roles_and_teams(conn, id, &roles, &teams).await?;
                auditor
                    .record(conn, &state, AuditAction::ChangeUser, detail)
                    .await?;
                Ok(())
            })
            .await
        }
        "disable" | "enable" => {
            let active = action == "enable";
            if is_self && !active {
                return refuse(
                    vec![FieldError::new(
                        "active",
                        "own_account",
                        "you cannot disable your own account",
                    )],
                    StatusCode::CONFLICT,
                );
            }
            let detail = json!({
                "user_id": id,
                "change": "active",
                "before": account.active,
                "after": active,
            });
            conn.transaction::<_, AccountError, _>(async |conn| {
                accounts::set_active(conn, id, active).await?;
                auditor
                    .record(conn, &state, AuditAction::ChangeUser, detail)
                    .await?;
                Ok(())
            })
            .await
        }
        "reset_second_factor" => {
            let detail = json!({
                "user_id": id,
                "change": "second_factor_reset",
                "had_second_factor": account.second_factor,
            });
            conn.transaction::<_, AccountError, _>(async |conn| {
                accounts::reset_second_factor(conn, id).await?;
                auditor
                    .record(conn, &state, AuditAction::ChangeUser, detail)
                    .await?;
                Ok(())
            })
            .await
        }
        "logout" => {
            conn.transaction::<_, AccountError, _>(async |conn| {
                let ended = accounts::end_all_sessions(conn, id).await?;
                auditor
                    .record(
                        conn,
                        &state,
                        AuditAction::ChangeUser,
                        json!({ "user_id": id, "change": "sessions_ended", "sessions": ended }),
                    )
                    .await?;
                Ok(())
            })
            .await
        }
        "reset_password" => {
            let issued = conn
                .transaction::<_, AccountError, _>(async |conn| {
                    let token = accounts::issue_link(
                        conn,
                        LinkPurpose::PasswordReset,
                        Some(id),
                        RESET_LINK_HOURS,
                    )
                    .await?;
                    // That a link was made, never the link.
                    auditor
                        .record(
                            conn,
                            &state,
                            AuditAction::ChangeUser,
                            json!({
                                "user_id": id,
                                "change": "password_reset_link",
                                "valid_hours": RESET_LINK_HOURS,
                            }),
                        )
                        .await?;
                    Ok(token)
                })
                .await;
            drop(conn);
            return match issued {
                Ok(token) => reset_link_page(&request, &state, &who, &account, &token),
                Err(error) => {
                    tracing::warn!(error = %error, "issuing a reset link failed");
                    unavailable()
                }
            };
        }
        _ => {
            return refuse(
                vec![FieldError::new(
                    "action",
                    "unknown_action",
                    "is not an action",
                )],
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    };
    match result {
        Ok(()) => see_other(&format!("{PEOPLE}/{id}?klart={action}"), []),
        Err(AccountError::NotFound) => person_not_found(&state, &request, &who),
        Err(AccountError::Invalid(errors)) => refuse(errors, StatusCode::UNPROCESSABLE_ENTITY),
        Err(error) => {
            tracing::warn!(error = %error, "changing a person failed");
            unavailable()
        }
    }
}

fn reset_link_page(
    request: &HttpRequest,
    state: &AppState,
    who: &SignedIn,
    account: &Account,
    token: &str,
) -> HttpResponse {
    let t = state.translations.texts(who.lang);
    let (csrf_token, cookie) = csrf::token(request);
    let chrome = Chrome::signed_in(state, request, who, Section::Admin, csrf_token);
    let page = OncePage {
        title: t.get("admin_person.reset_title").to_owned(),
        intro: t
            .get("admin_person.reset_intro")
            .replace("{name}", &account.display_name)
            .replace("{email}", &account.email),
        secret_label: t.get("admin_person.reset_link").to_owned(),
        secret: link_address(request, token),
        note: t
            .get("admin.shown_once_link")
            .replace("{hours}", &RESET_LINK_HOURS.to_string()),
        back_href: format!("{PEOPLE}/{}", account.id),
        back_label: t.get("admin_people.to_person").to_owned(),
        t,
        chrome,
    };
    html(StatusCode::OK, &page, cookie)
}

// ---------------------------------------------------------------------------------------
// API keys

pub struct KeyRow {
    pub name: String,
    pub prefix: String,
    pub scopes: String,
    pub created: String,
    pub revoked: Option<String>,
    pub revoke_action: String,
}

#[derive(Template)]
#[template(path = "inspector/admin_api_keys.html")]
pub struct ApiKeysPage<'a> {
    pub chrome: Chrome<'a>,
    pub t: &'a Texts,
    pub title: String,
    pub notice: Option<String>,
    pub errors: Vec<SummaryError>,
    pub rows: Vec<KeyRow>,
    pub name: Field,
    pub scopes: Vec<CheckView>,
    pub scopes_error: Option<String>,
    pub cache_note: String,
}

fn cache_note(state: &AppState, t: &Texts) -> String {
    t.get("admin_keys.cache_note").replace(
        "{seconds}",
        &state.settings.auth.api_key_cache_seconds.to_string(),
    )
}

async fn api_keys_render(
    request: &HttpRequest,
    state: &AppState,
    who: &SignedIn,
    pairs: &[(String, String)],
    errors: &[FieldError],
    notice_key: Option<&str>,
    status: StatusCode,
) -> HttpResponse {
    let Ok(mut conn) = state.connection().await else {
        return unavailable();
    };
    let keys = match db::api_keys::list(&mut conn).await {
        Ok(keys) => keys,
        Err(error) => {
            tracing::warn!(error = %error, "listing API keys failed");
            return unavailable();
        }
    };
    drop(conn);
    let t = state.translations.texts(who.lang);
    let rows = keys
        .into_iter()
        .rev()
        .map(|key| KeyRow {
            revoke_action: format!("{API_KEYS}/{}/aterkalla", key.prefix),
            name: key.name,
            scopes: key.scopes.join(", "),
            created: local_time(key.created_at),
            revoked: key.revoked_at.map(local_time),
            prefix: key.prefix,
        })
        .collect();
    let submitted = values(pairs, "scopes");
    let scopes = Scope::ALL
        .iter()
        .map(|scope| CheckView {
            id: format!("scope-{}", scope.as_str().replace(':', "-")),
            value: scope.as_str().to_owned(),
            label: format!(
                "{} ({})",
                t.get(&format!(
                    "admin_keys.scope_{}",
                    scope.as_str().replace(':', "_")
                )),
                scope.as_str()
            ),
            checked: submitted.iter().any(|s| s == scope.as_str()),
        })
        .collect();
    let summary_errors = summary(t, errors, |field| match field {
        "scopes" => Some("scope-tips-submit".to_owned()),
        _ => None,
    });
    let (csrf_token, cookie) = csrf::token(request);
    let chrome = Chrome::signed_in(state, request, who, Section::Admin, csrf_token);
    let page = ApiKeysPage {
        title: t.get("admin_keys.title").to_owned(),
        notice: notice_key.map(|k| t.get(k).to_owned()),
        errors: summary_errors,
        rows,
        name: Field {
            id: "name",
            label: t.get("admin_keys.name").to_owned(),
            hint: Some(t.get("admin_keys.name_hint").to_owned()),
            value: value(pairs, "name").unwrap_or_default().to_owned(),
            error: error_for(errors, "name", t),
        },
        scopes,
        scopes_error: error_for(errors, "scopes", t),
        cache_note: cache_note(state, t),
        t,
        chrome,
    };
    html(status, &page, cookie)
}

/// GET: every key, the form for a new one, and a revoke button per active key.
pub async fn api_keys_page(
    request: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<Vec<(String, String)>>,
) -> HttpResponse {
    let who = match allowed(&request, &state, Action::ManageApiKeys).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    let notice = (value(&query, "aterkallad") == Some("1")).then_some("admin_keys.revoked_notice");
    api_keys_render(&request, &state, &who, &[], &[], notice, StatusCode::OK).await
}

fn parse_key_form(pairs: &[(String, String)]) -> Result<(String, Vec<Scope>), Vec<FieldError>> {
    let mut errors = Vec::new();
    let name = value(pairs, "name").unwrap_or_default().trim().to_owned();
    if !(1..=200).contains(&name.chars().count()) {
        errors.push(FieldError::new(
            "name",
            "invalid_length",
            "must be 1 to 200 characters",
        ));
    }
    let mut scopes = Vec::new();
    for text in values(pairs, "scopes") {
        match text.parse::<Scope>() {
            Ok(scope) => scopes.push(scope),
            Err(message) => {
                errors.push(FieldError::new("scopes", "unknown_scope", message));
            }
        }
    }
    // A key without a scope could do nothing at all.
    if scopes.is_empty() && !errors.iter().any(|e| e.field == "scopes") {
        errors.push(FieldError::new(
            "scopes",
            "no_scope",
            "choose at least one scope",
        ));
    }
    if errors.is_empty() {
        Ok((name, scopes))
    } else {
        Err(errors)
    }
}

/// POST: creates a key and shows its token once.
pub async fn create_api_key(
    request: HttpRequest,
    state: web::Data<AppState>,
    form: Pairs,
) -> HttpResponse {
    let who = match allowed_post(&request, &state, Action::ManageApiKeys, &form).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    let (name, scopes) = match parse_key_form(&form) {
        Ok(parsed) => parsed,
        Err(errors) => {
            return api_keys_render(
                &request,
                &state,
                &who,
                &form,
                &errors,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let Ok(mut conn) = state.connection().await else {
        return unavailable();
    };
    let auditor = Auditor::new(&request, &who);
    let created = conn
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            let key = api_keys::create(conn, &name, &scopes).await?;
            let scope_names: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
            // The prefix identifies the key; the token is never recorded.
            auditor
                .record(
                    conn,
                    &state,
                    AuditAction::CreateApiKey,
                    json!({
                        "key_id": key.id,
                        "prefix": key.prefix,
                        "name": name,
                        "scopes": scope_names,
                    }),
                )
                .await?;
            Ok(key)
        })
        .await;
    drop(conn);
    let key = match created {
        Ok(key) => key,
        Err(error) => {
            tracing::warn!(error = %error, "creating an API key failed");
            return unavailable();
        }
    };
    let t = state.translations.texts(who.lang);
    let (csrf_token, cookie) = csrf::token(&request);
    let chrome = Chrome::signed_in(&state, &request, &who, Section::Admin, csrf_token);
    let scope_names: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
    let page = OncePage {
        title: t.get("admin_keys.created_title").to_owned(),
        intro: t
            .get("admin_keys.created_intro")
            .replace("{name}", &name)
            .replace("{prefix}", &key.prefix)
            .replace("{scopes}", &scope_names.join(", ")),
        secret_label: t.get("admin_keys.token").to_owned(),
        secret: key.token,
        note: t.get("admin_keys.shown_once").to_owned(),
        back_href: API_KEYS.to_owned(),
        back_label: t.get("admin_keys.back").to_owned(),
        t,
        chrome,
    };
    html(StatusCode::OK, &page, cookie)
}

/// POST: revokes one key (named by its public prefix).
pub async fn revoke_api_key(
    request: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: Pairs,
) -> HttpResponse {
    let who = match allowed_post(&request, &state, Action::ManageApiKeys, &form).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    let prefix = path.into_inner();
    let Ok(mut conn) = state.connection().await else {
        return unavailable();
    };
    let auditor = Auditor::new(&request, &who);
    let revoked = conn
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            let Some(key) = db::api_keys::find_by_prefix(conn, &prefix).await? else {
                return Ok(false);
            };
            if !db::api_keys::revoke(conn, &prefix).await? {
                return Ok(false);
            }
            state.api_key_cache.forget(key.id);
            auditor
                .record(
                    conn,
                    &state,
                    AuditAction::RevokeApiKey,
                    json!({ "key_id": key.id, "prefix": key.prefix, "name": key.name }),
                )
                .await?;
            Ok(true)
        })
        .await;
    drop(conn);
    match revoked {
        Ok(true) => see_other(&format!("{API_KEYS}?aterkallad=1"), []),
        Ok(false) => {
            api_keys_render(
                &request,
                &state,
                &who,
                &[],
                &[],
                Some("admin_keys.no_such_key"),
                StatusCode::NOT_FOUND,
            )
            .await
        }
        Err(error) => {
            tracing::warn!(error = %error, "revoking an API key failed");
            unavailable()
        }
    }
}

// ---------------------------------------------------------------------------------------
// Configuration

pub struct BaseRuleRow {
    pub name: String,
    pub category: String,
    pub care_sector: String,
    pub priority: String,
}

pub struct UrgencyRow {
    pub name: String,
    pub raise: u32,
    pub stems: String,
    pub words: String,
}

pub struct TeamRow {
    pub code: String,
    pub name: String,
    pub regions: String,
    pub notify: String,
    pub fallback: bool,
}

#[derive(Template)]
#[template(path = "inspector/admin_config.html")]
pub struct ConfigPage<'a> {
    pub chrome: Chrome<'a>,
    pub t: &'a Texts,
    pub title: String,
    pub general: Vec<FactRow>,
    pub base: Vec<BaseRuleRow>,
    pub urgency: Vec<UrgencyRow>,
    pub signals: Vec<FactRow>,
    pub deadlines: Vec<FactRow>,
    pub teams: Vec<TeamRow>,
    pub fallback_team: String,
}

fn span_text(t: &Texts, span: &Span) -> String {
    let (count, key) = match span {
        Span::Hours(n) => (n, "hours"),
        Span::WorkingDays(n) => (n, "working_days"),
        Span::Days(n) => (n, "days"),
        Span::Months(n) => (n, "months"),
    };
    t.get(&format!("admin_config.span_{key}"))
        .replace("{n}", &count.to_string())
}

fn priority_label(t: &Texts, priority: Priority) -> String {
    t.get(&format!("priority.{}", priority.as_str())).to_owned()
}

/// GET: the triage and routing rules this process loaded at start (read-only).
pub async fn configuration(request: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let who = match allowed(&request, &state, Action::ReadConfiguration).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    let t = state.translations.texts(who.lang);
    let english = who.lang.code() == "en";
    let rules = &state.triage;
    let taxonomy = &state.taxonomy;
    let fact = |key: &str, value: String| FactRow {
        label: t.get(key).to_owned(),
        value,
    };
    let general = vec![
        fact("admin_config.version", rules.version.clone()),
        fact(
            "admin_config.default_priority",
            priority_label(t, rules.default_priority),
        ),
        fact(
            "admin_config.ongoing_raise",
            format!("+{}", rules.ongoing_raise),
        ),
    ];
    let any = t.get("admin_config.any");
    let base = rules
        .base
        .iter()
        .map(|rule| BaseRuleRow {
            name: rule.name.clone(),
            category: rule
                .category
                .as_deref()
                .map_or_else(|| any.to_owned(), |c| taxonomy.category_label(c, english)),
            care_sector: rule.care_sector.as_deref().map_or_else(
                || any.to_owned(),
                |c| taxonomy.care_sector_label(c, english),
            ),
            priority: priority_label(t, rule.priority),
        })
        .collect();
    let urgency = rules
        .urgency
        .iter()
        .map(|term| UrgencyRow {
            name: term.name.clone(),
            raise: term.raise,
            stems: term
                .stems
                .iter()
                .map(|words| format!("{}…", words.join(" ")))
                .collect::<Vec<_>>()
                .join(", "),
            words: term.words.join(", "),
        })
        .collect();
    let signals = vec![
        fact(
            "admin_config.repeat_threshold",
            rules.repeat.threshold.to_string(),
        ),
        fact(
            "admin_config.repeat_window",
            t.get("admin_config.span_days")
                .replace("{n}", &rules.repeat.window_days.to_string()),
        ),
        fact(
            "admin_config.repeat_raise",
            format!("+{}", rules.repeat.raise),
        ),
    ];
    let mut deadlines: Vec<FactRow> = rules
        .first_review
        .iter()
        .map(|(priority, span)| FactRow {
            label: format!(
                "{} – {}",
                t.get("admin_config.first_review"),
                priority_label(t, *priority)
            ),
            value: span_text(t, span),
        })
        .collect();
    deadlines.push(fact(
        "admin_config.acknowledgement",
        t.get("admin_config.span_days")
            .replace("{n}", &rules.acknowledgement_days.to_string()),
    ));
    deadlines.push(fact(
        "admin_config.feedback",
        t.get("admin_config.span_months")
            .replace("{n}", &rules.feedback_months.to_string()),
    ));
    let teams = rules
        .teams
        .iter()
        .map(|team| TeamRow {
            code: team.code.clone(),
            name: team.name.clone(),
            regions: team
                .regions
                .iter()
                .map(|code| format!("{} ({code})", taxonomy.region_name(code)))
                .collect::<Vec<_>>()
                .join(", "),
            notify: team.notify.join(", "),
            fallback: team.code == rules.fallback_team,
        })
        .collect();
    let (csrf_token, cookie) = csrf::token(&request);
    let chrome = Chrome::signed_in(&state, &request, &who, Section::Admin, csrf_token);
    let page = ConfigPage {
        title: t.get("admin_config.title").to_owned(),
        general,
        base,
        urgency,
        signals,
        deadlines,
        teams,
        fallback_team: format!(
            "{} ({})",
            team_name(&state, &rules.fallback_team),
            rules.fallback_team
        ),
        t,
        chrome,
    };
    html(StatusCode::OK, &page, cookie)
}

// ---------------------------------------------------------------------------------------
// Audit log

pub struct AuditRowView {
    pub seq: i64,
    pub time: String,
    pub actor: String,
    pub action: String,
    pub tip_href: Option<String>,
    pub tip: String,
    pub detail: String,
    pub request_id: String,
}

pub struct ActionChoice {
    pub code: &'static str,
    pub label: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "inspector/admin_audit.html")]
pub struct AuditPage<'a> {
    pub chrome: Chrome<'a>,
    pub t: &'a Texts,
    pub title: String,
    pub errors: Vec<SummaryError>,
    pub actor: Field,
    pub actions: Vec<ActionChoice>,
    pub tip: Field,
    pub rows: Vec<AuditRowView>,
    pub older_href: Option<String>,
    pub newest_href: Option<String>,
}

/// How an actor reads: a person's name, an API key's name, or the stored text.
fn actor_label(
    actor: &str,
    people: &HashMap<Uuid, &Account>,
    keys: &HashMap<Uuid, String>,
    t: &Texts,
) -> String {
    if let Some(id) = actor
        .strip_prefix("user:")
        .and_then(|id| id.parse::<Uuid>().ok())
        && let Some(account) = people.get(&id)
    {
        return format!("{} ({})", account.display_name, account.email);
    }
    if let Some(id) = actor
        .strip_prefix("api_key:")
        .and_then(|id| id.parse::<Uuid>().ok())
        && let Some(name) = keys.get(&id)
    {
        return format!("{}: {name}", t.get("admin_audit.api_key"));
    }
    actor.to_owned()
}

/// The actor filter as stored: an email address or a name of an account means that person.
fn actor_filter(text: &str, people: &[Account]) -> String {
    let wanted = text.trim();
    people
        .iter()
        .find(|a| {
            a.email.eq_ignore_ascii_case(wanted)
                || a.display_name.to_lowercase() == wanted.to_lowercase()
        })
        .map_or_else(|| wanted.to_owned(), |a| format!("user:{}", a.id))
}

fn encode_pairs(pairs: &[(&str, String)]) -> String {
    pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", super::encode_component(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// GET: the audit log, newest first, with filters and an "older" link.
pub async fn audit_log(
    request: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<Vec<(String, String)>>,
) -> HttpResponse {
    let who = match allowed(&request, &state, Action::ReadAuditLog).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    let t = state.translations.texts(who.lang);
    let text = |key: &str| value(&query, key).unwrap_or_default().trim().to_owned();
    let (actor_text, action_text, tip_text) = (text("actor"), text("action"), text("tip"));
    let mut errors = Vec::new();
    let action = match action_text.as_str() {
        "" => None,
        code => {
            let parsed = AuditAction::parse(code);
            if parsed.is_none() {
                errors.push(FieldError::new(
                    "action",
                    "invalid_choice",
                    "unknown action",
                ));
            }
            parsed
        }
    };
    let tip_id = match tip_text.as_str() {
        "" => None,
        id => {
            let parsed = id.parse::<Uuid>().ok();
            if parsed.is_none() {
                errors.push(FieldError::new("tip", "invalid_tip_id", "is not a tip id"));
            }
            parsed
        }
    };
    let before_seq = value(&query, "before").and_then(|b| b.parse::<i64>().ok());

    let Ok(mut conn) = state.connection().await else {
        return unavailable();
    };
    let people = match accounts::list(&mut conn).await {
        Ok(people) => people,
        Err(error) => {
            tracing::warn!(error = %error, "listing accounts failed");
            return unavailable();
        }
    };
    let keys: HashMap<Uuid, String> = match db::api_keys::list(&mut conn).await {
        Ok(keys) => keys.into_iter().map(|k| (k.id, k.name)).collect(),
        Err(error) => {
            tracing::warn!(error = %error, "listing API keys failed");
            return unavailable();
        }
    };
    let filter = audit::Filter {
        actor: (!actor_text.is_empty()).then(|| actor_filter(&actor_text, &people)),
        action,
        tip_id,
        before_seq,
    };
    // One row more than a page tells whether there are older ones.
    let mut rows = if errors.is_empty() {
        match audit::list(&mut conn, &filter, AUDIT_PAGE_SIZE + 1).await {
            Ok(rows) => rows,
            Err(error) => {
                tracing::warn!(error = %error, "reading the audit log failed");
                return unavailable();
            }
        }
    } else {
        Vec::new()
    };
    drop(conn);
    let has_older = rows.len() as i64 > AUDIT_PAGE_SIZE;
    rows.truncate(AUDIT_PAGE_SIZE as usize);
    let by_id: HashMap<Uuid, &Account> = people.iter().map(|a| (a.id, a)).collect();
    let filters = [
        ("actor", actor_text.clone()),
        ("action", action_text.clone()),
        ("tip", tip_text.clone()),
    ];
    let older_href = match rows.last() {
        Some(last) if has_older => {
            let mut pairs = filters.to_vec();
            pairs.push(("before", last.seq.to_string()));
            Some(format!("{AUDIT_LOG}?{}", encode_pairs(&pairs)))
        }
        _ => None,
    };
    let newest_href = before_seq.map(|_| format!("{AUDIT_LOG}?{}", encode_pairs(&filters)));
    let rows = rows
        .into_iter()
        .map(|row| AuditRowView {
            seq: row.seq,
            time: row
                .at
                .with_timezone(&chrono_tz::Europe::Stockholm)
                .format("%Y-%m-%d %H:%M:%S")
                .to_string(),
            actor: actor_label(&row.actor, &by_id, &keys, t),
            action: AuditAction::parse(&row.action).map_or_else(
                || row.action.clone(),
                |a| {
                    t.get(&format!("admin_audit.action_{}", a.as_str()))
                        .to_owned()
                },
            ),
            tip_href: row.tip_id.map(|id| format!("/inspektor/tips/{id}")),
            tip: row.tip_id.map(|id| id.to_string()).unwrap_or_default(),
            detail: if row.detail == "{}" {
                String::new()
            } else {
                row.detail
            },
            request_id: row.request_id.unwrap_or_default(),
        })
        .collect();
    let mut actions = vec![ActionChoice {
        code: "",
        label: t.get("admin_audit.any_action").to_owned(),
        selected: action.is_none(),
    }];
    actions.extend(AuditAction::ALL.iter().map(|a| {
        ActionChoice {
            code: a.as_str(),
            label: t
                .get(&format!("admin_audit.action_{}", a.as_str()))
                .to_owned(),
            selected: action == Some(*a),
        }
    }));
    let errors_summary = errors
        .iter()
        .map(|e| {
            (
                e.field.clone(),
                t.get(&format!("admin_audit.error_{}", e.field)).to_owned(),
            )
        })
        .collect();
    let error_of = |field: &str| {
        errors
            .iter()
            .any(|e| e.field == field)
            .then(|| t.get(&format!("admin_audit.error_{field}")).to_owned())
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let (csrf_token, cookie) = csrf::token(&request);
    let chrome = Chrome::signed_in(&state, &request, &who, Section::Admin, csrf_token);
    let page = AuditPage {
        title: t.get("admin_audit.title").to_owned(),
        errors: errors_summary,
        actor: Field {
            id: "actor",
            label: t.get("admin_audit.filter_actor").to_owned(),
            hint: Some(t.get("admin_audit.filter_actor_hint").to_owned()),
            value: actor_text,
            error: None,
        },
        actions,
        tip: Field {
            id: "tip",
            label: t.get("admin_audit.filter_tip").to_owned(),
            hint: None,
            value: tip_text,
            error: error_of("tip"),
        },
        rows,
        older_href,
        newest_href,
        t,
        chrome,
    };
    html(status, &page, cookie)
}

// ---------------------------------------------------------------------------------------
// Dead notification jobs

/// One dead job as the page shows it.
pub struct DeadJobView {
    pub id: String,
    pub kind: String,
    pub team: String,
    pub tip_reference: String,
    pub attempts: i32,
    pub last_error: String,
    pub failed_at: String,
    pub retry_action: String,
}

#[derive(Template)]
#[template(path = "inspector/admin_dispatch.html")]
pub struct DispatchPage<'a> {
    pub chrome: Chrome<'a>,
    pub t: &'a Texts,
    pub title: String,
    pub notice: Option<String>,
    pub jobs: Vec<DeadJobView>,
}

/// GET: notification jobs that failed for good, each with a retry button.
pub async fn dispatch(
    request: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<Vec<(String, String)>>,
) -> HttpResponse {
    let who = match allowed(&request, &state, Action::ManageNotifications).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    let notice = match value(&query, "status") {
        Some("retried") => Some("admin_dispatch.retried"),
        Some("gone") => Some("admin_dispatch.gone"),
        _ => None,
    };
    dispatch_render(&request, &state, &who, notice, StatusCode::OK).await
}

async fn dispatch_render(
    request: &HttpRequest,
    state: &AppState,
    who: &SignedIn,
    notice: Option<&str>,
    status: StatusCode,
) -> HttpResponse {
    let Ok(mut conn) = state.connection().await else {
        return unavailable();
    };
    let dead = match crate::notify::admin::list_dead(&mut conn, 200).await {
        Ok(dead) => dead,
        Err(error) => {
            tracing::warn!(error = %error, "listing dead notification jobs failed");
            return unavailable();
        }
    };
    let t = state.translations.texts(who.lang);
    let (csrf_token, cookie) = csrf::token(request);
    let chrome = Chrome::signed_in(state, request, who, Section::Admin, csrf_token);
    let page = DispatchPage {
        title: t.get("admin_dispatch.title").to_owned(),
        notice: notice.map(|k| t.get(k).to_owned()),
        jobs: dead
            .into_iter()
            .map(|job| DeadJobView {
                retry_action: format!("{DISPATCH}/{}/forsok-igen", job.id),
                id: job.id.to_string(),
                kind: t
                    .get(&format!("admin_dispatch.kind_{}", job.kind))
                    .to_owned(),
                team: job.team.unwrap_or_default(),
                tip_reference: job.tip_reference.unwrap_or_default(),
                attempts: job.attempts,
                last_error: job.last_error.unwrap_or_default(),
                failed_at: super::queue::local_time(job.failed_at),
            })
            .collect(),
        t,
        chrome,
    };
    html(status, &page, cookie)
}

/// POST: put a dead job back in the queue (audited).
pub async fn retry_notification(
    request: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: Pairs,
) -> HttpResponse {
    let who = match allowed_post(&request, &state, Action::ManageNotifications, &form).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    let Ok(job_id) = path.parse::<Uuid>() else {
        return see_other(&format!("{DISPATCH}?status=gone"), []);
    };
    let Ok(mut conn) = state.connection().await else {
        return unavailable();
    };
    let auditor = Auditor::new(&request, &who);
    let retried = conn
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            if !crate::notify::admin::retry(conn, job_id).await? {
                return Ok(false);
            }
            auditor
                .record(
                    conn,
                    &state,
                    AuditAction::RetryNotification,
                    json!({ "job_id": job_id }),
                )
                .await?;
            Ok(true)
        })
        .await;
    match retried {
        Ok(true) => see_other(&format!("{DISPATCH}?status=retried"), []),
        Ok(false) => see_other(&format!("{DISPATCH}?status=gone"), []),
        Err(error) => {
            tracing::warn!(error = %error, "retrying a notification job failed");
            unavailable()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_key_needs_a_name_and_known_scopes() {
        let (name, scopes) = parse_key_form(&pairs(&[
            ("name", "  E-tjänst  "),
            ("scopes", "tips:submit"),
            ("scopes", "stats:read"),
        ]))
        .unwrap();
        assert_eq!(name, "E-tjänst");
        assert_eq!(scopes, vec![Scope::TipsSubmit, Scope::StatsRead]);

        let errors = parse_key_form(&pairs(&[("name", " ")])).unwrap_err();
        let codes: Vec<&str> = errors.iter().map(|e| e.code.as_str()).collect();
        assert_eq!(codes, ["invalid_length", "no_scope"]);

        let errors =
            parse_key_form(&pairs(&[("name", "x"), ("scopes", "tips:delete")])).unwrap_err();
        let codes: Vec<&str> = errors.iter().map(|e| e.code.as_str()).collect();
        assert_eq!(codes, ["unknown_scope"]);
    }

    #[test]
    fn query_values_in_paging_links_are_encoded_and_empty_ones_dropped() {
        let query = encode_pairs(&[
            ("actor", "user:1 2".to_owned()),
            ("action", String::new()),
            ("before", "51".to_owned()),
        ]);
        assert_eq!(query, "actor=user%3A1%202&before=51");
    }
}
