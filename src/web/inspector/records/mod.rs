//! The public-records pages of the workspace (allmänna handlingar): the hub with the requests
//! and the register form (`list`), a request with its tips, decision and approval (`request`),
//! and marking a tip's passages to withhold, by sentence or character range, without
//! JavaScript (`redact`). The rules are `records::request` and `records::review`'s, shared
//! with the API.

pub mod list;
pub mod redact;
pub mod redact_form;
pub mod request;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use uuid::Uuid;

use super::{Chrome, Section, SignedIn, csrf_failed, forbidden, message_page, signed_in};
use crate::auth::accounts::Account;
use crate::auth::policy::{Action, Decision, Role};
use crate::domain::FieldError;
use crate::records::disclosure_copy::Labels;
use crate::records::request::Actor;
use crate::records::review::Context;
use crate::state::AppState;
use crate::web::csrf;
use crate::web::i18n::{Lang, Texts};

pub use super::RECORDS;

/// The legal holds list (another part of records management links back here).
pub const HOLDS: &str = "/inspektor/gallringssparrar";

pub fn request_path(id: Uuid) -> String {
    format!("{RECORDS}/{id}")
}

pub fn redact_path(id: Uuid, tip_id: Uuid) -> String {
    format!("{RECORDS}/{id}/tips/{tip_id}")
}

/// Registers the pages.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource(RECORDS)
            .route(web::get().to(list::show))
            .route(web::post().to(list::register)),
    )
    .route(
        "/inspektor/allmanna-handlingar/{id}",
        web::get().to(request::show),
    )
    .route(
        "/inspektor/allmanna-handlingar/{id}/beslut",
        web::post().to(request::decide),
    )
    .route(
        "/inspektor/allmanna-handlingar/{id}/godkannande",
        web::post().to(request::approve),
    )
    .route(
        "/inspektor/allmanna-handlingar/{id}/kopia",
        web::get().to(request::copy),
    )
    .service(
        web::resource("/inspektor/allmanna-handlingar/{id}/tips/{tip_id}")
            .route(web::get().to(redact::show))
            .route(web::post().to(redact::save)),
    );
}

/// The signed-in person, if they may work with requests; otherwise the page that says why not.
pub async fn handler(request: &HttpRequest, state: &AppState) -> Result<SignedIn, HttpResponse> {
    let who = signed_in(request, state).await?;
    if who.may(Action::ReadRecordsRequests) != Decision::Allow {
        return Err(forbidden(state, request, &who));
    }
    Ok(who)
}

/// As `handler`, for a form post: the CSRF token must check out too.
pub async fn posting(
    request: &HttpRequest,
    state: &AppState,
    token: Option<&str>,
) -> Result<SignedIn, HttpResponse> {
    let who = handler(request, state).await?;
    if !csrf::verify(request, token) {
        return Err(csrf_failed(state, request, &who));
    }
    Ok(who)
}

/// Admins see the hub (for the legal holds link) even when they do not handle requests.
pub fn sees_hub_only(who: &SignedIn) -> bool {
    who.may(Action::ReadRecordsRequests) != Decision::Allow && who.account.has(Role::Admin)
}

/// A request that does not exist, or covers a tip outside the person's teams.
pub fn not_found(state: &AppState, request: &HttpRequest, who: &SignedIn) -> HttpResponse {
    let (token, _) = csrf::token(request);
    let chrome = Chrome::signed_in(state, request, who, Section::Records, token);
    message_page(
        chrome,
        StatusCode::NOT_FOUND,
        "requests.not_found_title",
        "requests.not_found_text",
    )
}

/// The change context of a signed-in person.
pub fn context<'a>(state: &'a AppState, actor: Actor<'a>) -> Context<'a> {
    Context {
        crypto: &state.crypto,
        rules: &state.records,
        labels: Labels {
            taxonomy: &state.taxonomy,
            texts: state.translations.texts(Lang::Sv),
        },
        actor,
    }
}

/// A person's name for an actor string (`user:<id>`), "a system" for API keys.
pub fn actor_name(actor: &str, people: &[Account], t: &Texts) -> String {
    if let Some(id) = actor
        .strip_prefix("user:")
        .and_then(|id| id.parse::<Uuid>().ok())
    {
        return people.iter().find(|p| p.id == id).map_or_else(
            || t.get("tip.someone").to_owned(),
            |p| p.display_name.clone(),
        );
    }
    if actor.starts_with("api_key:") {
        return t.get("tip.actor_system").to_owned();
    }
    actor.to_owned()
}

/// A field error in the page's language (by its code; the API's English message otherwise).
pub fn error_text(t: &Texts, error: &FieldError) -> String {
    let key = format!("requests.error_{}", error.code);
    if t.has(&key) {
        t.get(&key).to_owned()
    } else {
        error.message.clone()
    }
}

/// The status label of a request.
pub fn status_label(t: &Texts, status: &str) -> String {
    t.get(&format!("requests.status_{status}")).to_owned()
}

/// The decision label.
pub fn decision_label(t: &Texts, decision: &str) -> String {
    t.get(&format!("requests.decision_{decision}")).to_owned()
}
