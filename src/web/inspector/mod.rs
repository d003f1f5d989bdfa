//! The inspector workspace (server-rendered, Swedish or English by the person's choice):
//! login with a second factor, the triage queue, a tip's detail and actions, and the admin
//! pages. Every page asks `auth::policy` through the signed-in principal.

pub mod admin;
pub mod enrolment;
pub mod holds;
pub mod login;
pub mod password_links;
pub mod queue;
pub mod records;
pub mod sign_out;
pub mod situation;
pub mod sso;
pub mod tip;
pub mod tip_files;
pub mod tip_records;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::i18n::{Lang, Texts};
use super::{csrf, html, see_other, unavailable};
use crate::auth::accounts::Account;
use crate::auth::policy::{self, Action, Decision, Principal, Role};
use crate::auth::sessions::{self, Stage};
use crate::domain::taxonomy::Label;
use crate::state::AppState;
use crate::web::views::Choice;

pub const HOME: &str = "/inspektor";
pub const LOGIN: &str = "/inspektor/logga-in";
pub const SECOND_FACTOR: &str = "/inspektor/logga-in/kod";
pub const ENROL: &str = "/inspektor/logga-in/tvastegsverifiering";
pub const LOGOUT: &str = "/inspektor/logga-ut";
pub const LOGOUT_EVERYWHERE: &str = "/inspektor/logga-ut-overallt";
pub const LANGUAGE: &str = "/inspektor/sprak";
pub const TIPS: &str = "/inspektor/tips";
pub const ADMIN: &str = "/inspektor/admin";
/// Public-records requests (allmänna handlingar); the requests pages live under it.
pub const RECORDS: &str = "/inspektor/allmanna-handlingar";

/// Registers every inspector page.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(HOME, web::get().to(queue::show))
        .service(
            web::resource(LOGIN)
                .route(web::get().to(login::form))
                .route(web::post().to(login::submit)),
        )
        .service(
            web::resource(SECOND_FACTOR)
                .route(web::get().to(login::second_factor_form))
                .route(web::post().to(login::second_factor_submit)),
        )
        .service(
            web::resource(ENROL)
                .route(web::get().to(enrolment::enrol_form))
                .route(web::post().to(enrolment::enrol_submit)),
        )
        .route(LOGOUT, web::post().to(sign_out::logout))
        .route(
            LOGOUT_EVERYWHERE,
            web::post().to(sign_out::logout_everywhere),
        )
        .route(LANGUAGE, web::post().to(sign_out::set_language))
        .service(
            web::resource("/inspektor/forsta-admin/{token}")
                .route(web::get().to(password_links::first_admin_form))
                .route(web::post().to(password_links::first_admin_submit)),
        )
        .service(
            web::resource("/inspektor/losenord/{token}")
                .route(web::get().to(password_links::password_form))
                .route(web::post().to(password_links::password_submit)),
        )
        .route("/inspektor/tips/{id}", web::get().to(tip::show))
        .route("/inspektor/tips/{id}/andra", web::post().to(tip::change))
        .route("/inspektor/tips/{id}/fraga", web::post().to(tip::ask))
        .route(
            "/inspektor/tips/{id}/bilagor/{file}",
            web::get().to(tip_files::download),
        )
        .route(
            "/inspektor/tips/{id}/bilagor/{file}/forhandsvisning",
            web::get().to(tip_files::preview),
        )
        .route(
            "/inspektor/tips/{id}/kontakt",
            web::post().to(tip::reveal_contact),
        )
        .route(situation::PATH, web::get().to(situation::show))
        // The short addresses of the situation report, in both languages, lead into the
        // workspace (which is in the person's language).
        .service(web::redirect("/lagesbild", situation::PATH).see_other())
        .service(web::redirect("/en/situation-report", situation::PATH).see_other());
    admin::configure(cfg);
    holds::configure(cfg);
    tip_records::configure(cfg);
    records::configure(cfg);
    sso::configure(cfg);
}

/// A person with a full session.
pub struct SignedIn {
    pub account: Account,
    pub principal: Principal,
    pub lang: Lang,
}

impl SignedIn {
    pub fn may(&self, action: Action<'_>) -> Decision {
        policy::decide(&self.principal, action)
    }
}

/// The session cookie: HttpOnly, SameSite=Strict, Secure over HTTPS and always in production.
pub fn session_cookie(request: &HttpRequest, state: &AppState, token: String) -> Cookie<'static> {
    Cookie::build(sessions::COOKIE, token)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure(request, state))
        .finish()
}

/// A cookie that removes the session cookie.
pub fn removed_session_cookie(request: &HttpRequest, state: &AppState) -> Cookie<'static> {
    let mut cookie = session_cookie(request, state, String::new());
    cookie.make_removal();
    cookie
}

fn secure(request: &HttpRequest, state: &AppState) -> bool {
    request.connection_info().scheme() == "https"
        || state.settings.environment == crate::config::DeploymentEnvironment::Production
}

pub fn lang_of(account: &Account) -> Lang {
    if account.language == "en" {
        Lang::En
    } else {
        Lang::Sv
    }
}

/// The signed-in person, or the response that sends them to log in (or to the second step).
pub async fn signed_in(request: &HttpRequest, state: &AppState) -> Result<SignedIn, HttpResponse> {
    let Some(token) = request
        .cookie(sessions::COOKIE)
        .map(|c| c.value().to_owned())
    else {
        return Err(to_login(request));
    };
    let mut conn = state.connection().await.map_err(|_| unavailable())?;
    let session = sessions::load(&mut conn, &token, state.session_lifetimes())
        .await
        .map_err(|error| {
            tracing::warn!(error = %error, "loading a session failed");
            unavailable()
        })?;
    match session {
        Some(session) if session.stage == Stage::Full => Ok(SignedIn {
            lang: lang_of(&session.account),
            principal: Principal::Person(session.account.person()),
            account: session.account,
        }),
        Some(_) => Err(see_other(SECOND_FACTOR, [])),
        None => Err(to_login(request)),
    }
}

/// To the login page, remembering where the person was going.
fn to_login(request: &HttpRequest) -> HttpResponse {
    let path = request.uri().path_and_query().map_or(HOME, |p| p.as_str());
    let location = format!("{LOGIN}?next={}", encode_component(path));
    see_other(&location, [])
}

/// Percent-encodes a query-string value.
pub fn encode_component(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~/".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A select filter of a workspace form (the queue, the situation report).
pub struct Filter {
    pub id: &'static str,
    pub label: String,
    pub choices: Vec<Choice>,
}

impl Filter {
    /// A select filter: "any" first (selected when nothing is), then `options`, the one named in
    /// the query (`selected`) selected.
    pub fn select(
        id: &'static str,
        label: &str,
        any_label: &str,
        selected: Option<&str>,
        options: impl IntoIterator<Item = (String, String)>,
    ) -> Filter {
        Filter {
            id,
            label: label.to_owned(),
            choices: choices(any_label, selected, options),
        }
    }
}

/// (code, label) pairs of codes whose labels are the page texts `{prefix}.{code}` (priorities,
/// statuses, outcomes).
pub fn text_labels<'a>(
    t: &Texts,
    prefix: &str,
    codes: impl IntoIterator<Item = &'a str>,
) -> Vec<(String, String)> {
    codes
        .into_iter()
        .map(|code| {
            (
                code.to_owned(),
                t.get(&format!("{prefix}.{code}")).to_owned(),
            )
        })
        .collect()
}

/// The län as (code, name) pairs.
pub fn region_labels(taxonomy: &crate::domain::Taxonomy) -> Vec<(String, String)> {
    taxonomy
        .regions
        .iter()
        .map(|r| (r.code.clone(), r.name.clone()))
        .collect()
}

/// The choices of a filter: "any" first (selected when nothing is), then `options`.
pub fn choices(
    any_label: &str,
    selected: Option<&str>,
    options: impl IntoIterator<Item = (String, String)>,
) -> Vec<Choice> {
    let mut list = vec![Choice {
        code: String::new(),
        label: any_label.to_owned(),
        selected: selected.is_none(),
    }];
    list.extend(options.into_iter().map(|(code, label)| Choice {
        selected: selected == Some(code.as_str()),
        code,
        label,
    }));
    list
}

/// (code, label) pairs of a code list in the page's language.
pub fn code_labels(list: &[Label], english: bool) -> Vec<(String, String)> {
    list.iter()
        .map(|l| {
            let label = if english { &l.label_en } else { &l.label_sv };
            (l.code.clone(), label.clone())
        })
        .collect()
}

/// A query string from key/value pairs, percent-encoded.
pub fn query_string(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode_component(k), encode_component(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Only paths inside the workspace are followed after login (no open redirect).
pub fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(path)
            if path.starts_with(HOME)
                && !path.contains("//")
                && !path.contains('\\')
                && !path.starts_with(LOGIN) =>
        {
            path
        }
        _ => HOME,
    }
}

/// A link in the workspace's navigation.
pub struct NavLink {
    pub href: &'static str,
    pub label: String,
    pub current: bool,
}

/// What every workspace page's layout needs.
pub struct Chrome<'a> {
    pub t: &'a Texts,
    pub lang: &'static str,
    pub csrf_token: String,
    /// The signed-in person's name; `None` on the login pages.
    pub user_name: Option<String>,
    pub nav: Vec<NavLink>,
    /// The other language, offered as a switch.
    pub switch_lang: &'static str,
    pub switch_label: String,
    pub current_path: String,
}

/// Which navigation entry a page belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Queue,
    Situation,
    /// Public-records requests and legal holds (`/inspector/records`).
    Records,
    Admin,
    None,
}

impl<'a> Chrome<'a> {
    /// For a signed-in page.
    pub fn signed_in(
        state: &'a AppState,
        request: &HttpRequest,
        who: &SignedIn,
        section: Section,
        csrf_token: String,
    ) -> Self {
        let t = state.translations.texts(who.lang);
        let mut nav = Vec::new();
        if who.may(Action::ReadQueue) == Decision::Allow {
            nav.push(NavLink {
                href: HOME,
                label: t.get("inspector.nav_queue").to_owned(),
                current: section == Section::Queue,
            });
        }
        if who.may(Action::ReadStats) == Decision::Allow {
            nav.push(NavLink {
                href: situation::PATH,
                label: t.get("stats_page.nav").to_owned(),
                current: section == Section::Situation,
            });
        }
        if who.may(Action::ReadRecordsRequests) == Decision::Allow || who.account.has(Role::Admin) {
            nav.push(NavLink {
                href: RECORDS,
                label: t.get("inspector.nav_records").to_owned(),
                current: section == Section::Records,
            });
        }
        if who.account.has(Role::Admin) {
            nav.push(NavLink {
                href: ADMIN,
                label: t.get("inspector.nav_admin").to_owned(),
                current: section == Section::Admin,
            });
        }
        Chrome {
            t,
            lang: who.lang.code(),
            csrf_token,
            user_name: Some(who.account.display_name.clone()),
            nav,
            switch_lang: who.lang.other().code(),
            switch_label: t.get("inspector.switch_language").to_owned(),
            current_path: request.path().to_owned(),
        }
    }

    /// For the login pages (language from `?lang=` or the browser).
    pub fn anonymous(
        state: &'a AppState,
        lang: Lang,
        request: &HttpRequest,
        csrf_token: String,
    ) -> Self {
        let t = state.translations.texts(lang);
        Chrome {
            t,
            lang: lang.code(),
            csrf_token,
            user_name: None,
            nav: Vec::new(),
            switch_lang: lang.other().code(),
            switch_label: t.get("inspector.switch_language").to_owned(),
            current_path: request.path().to_owned(),
        }
    }
}

/// The language of a login page: `?lang=en|sv`, else the browser's preference.
pub fn login_lang(request: &HttpRequest) -> Lang {
    let query = request.query_string();
    if query.split('&').any(|p| p == "lang=en") {
        Lang::En
    } else if query.split('&').any(|p| p == "lang=sv") {
        Lang::Sv
    } else {
        Lang::preferred(request)
    }
}

#[derive(Template)]
#[template(path = "inspector/message.html")]
pub struct MessagePage<'a> {
    pub chrome: Chrome<'a>,
    pub t: &'a Texts,
    pub title: String,
    pub message: String,
}

/// A plain page with a heading and a message (403, 404, 409, 429 …).
pub fn message_page(
    chrome: Chrome<'_>,
    status: StatusCode,
    title_key: &str,
    message_key: &str,
) -> HttpResponse {
    let t = chrome.t;
    let page = MessagePage {
        t,
        title: t.get(title_key).to_owned(),
        message: t.get(message_key).to_owned(),
        chrome,
    };
    html(status, &page, [])
}

/// The 404 a tip outside the person's scope gets (the same as for a tip that does not exist).
pub fn not_found(state: &AppState, request: &HttpRequest, who: &SignedIn) -> HttpResponse {
    let (token, _) = csrf::token(request);
    let chrome = Chrome::signed_in(state, request, who, Section::None, token);
    message_page(
        chrome,
        StatusCode::NOT_FOUND,
        "inspector.not_found_title",
        "inspector.not_found_text",
    )
}

/// The 403 for a page the person's role does not allow.
pub fn forbidden(state: &AppState, request: &HttpRequest, who: &SignedIn) -> HttpResponse {
    let (token, _) = csrf::token(request);
    let chrome = Chrome::signed_in(state, request, who, Section::None, token);
    message_page(
        chrome,
        StatusCode::FORBIDDEN,
        "inspector.forbidden_title",
        "inspector.forbidden_text",
    )
}

/// A form posted without a valid CSRF token.
pub fn csrf_failed(state: &AppState, request: &HttpRequest, who: &SignedIn) -> HttpResponse {
    let (token, cookie) = csrf::token(request);
    let chrome = Chrome::signed_in(state, request, who, Section::None, token);
    let t = chrome.t;
    let page = MessagePage {
        t,
        title: t.get("inspector.csrf_title").to_owned(),
        message: t.get("error.csrf").to_owned(),
        chrome,
    };
    html(StatusCode::FORBIDDEN, &page, cookie)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_workspace_paths_are_followed_after_login() {
        assert_eq!(safe_next(Some("/inspektor/tips/1")), "/inspektor/tips/1");
        assert_eq!(safe_next(Some("https://evil.example/")), HOME);
        assert_eq!(safe_next(Some("//evil.example/inspektor")), HOME);
        assert_eq!(safe_next(Some("/inspektor//evil")), HOME);
        assert_eq!(safe_next(Some("/inspektor/logga-in")), HOME);
        assert_eq!(safe_next(None), HOME);
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(
            encode_component("/inspektor?team=syd&q=fel dos"),
            "/inspektor%3Fteam%3Dsyd%26q%3Dfel%20dos"
        );
    }
}
