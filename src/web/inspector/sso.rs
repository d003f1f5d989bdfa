//! Single sign-on pages: "Sign in with …" starts a sign-in at the provider, the callback
//! finishes it (a full session: the provider did the second factor), refusals get a page of
//! their own, and logging out continues to the provider's end-session endpoint.
//!
//! The callback and the logout answer with a page that moves on by itself (meta refresh)
//! rather than a redirect: the session cookie is SameSite=Strict, so a redirect chain that began
//! at the provider's site would arrive without it, and `form-action 'self'` forbids the logout
//! form's redirect from leaving the site.

use actix_web::cookie::{Cookie, SameSite, time};
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use diesel_async::AsyncPgConnection;
use serde::Deserialize;

use super::{Chrome, LOGIN, encode_component, login_lang, safe_next, session_cookie};
use crate::auth::oidc::flow::{CallbackQuery, FLOW_COOKIE};
use crate::auth::oidc::provisioning::{self, Context};
use crate::auth::oidc::{Provider, SsoError};
use crate::auth::sessions::{self, Stage};
use crate::config::LocalLogin;
use crate::ratelimit::Action as Limited;
use crate::state::AppState;
use crate::telemetry;
use crate::web::i18n::{Lang, Texts};
use crate::web::{csrf, html};

/// `/inspektor/sso/{provider}` starts, `/inspektor/sso/{provider}/callback` finishes.
pub const PREFIX: &str = "/inspektor/sso";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(&format!("{PREFIX}/{{provider}}"), web::get().to(start))
        .route(
            &format!("{PREFIX}/{{provider}}/callback"),
            web::get().to(callback),
        );
}

/// A "Sign in with …" link on the login page.
pub struct ProviderLink {
    pub href: String,
    pub label: String,
}

/// What the login page offers.
pub struct LoginChoices {
    pub providers: Vec<ProviderLink>,
    pub local_form: bool,
    pub local_restricted: bool,
    pub break_glass_href: Option<String>,
}

/// The query that shows the password form when local sign-in is for break-glass accounts only.
const BREAK_GLASS_QUERY: &str = "lokal=1";

pub fn login_choices(
    request: &HttpRequest,
    state: &AppState,
    lang: Lang,
    next: &str,
) -> LoginChoices {
    let providers = state
        .sso
        .all()
        .iter()
        .map(|p| ProviderLink {
            href: format!("{PREFIX}/{}?next={}", p.id, encode_component(next)),
            label: p.display_name(lang == Lang::En).to_owned(),
        })
        .collect();
    let restricted = state.sso.local_login() == LocalLogin::BreakGlassOnly;
    let asked = request.method() == Method::POST
        || request
            .query_string()
            .split('&')
            .any(|p| p == BREAK_GLASS_QUERY);
    LoginChoices {
        providers,
        local_form: !restricted || asked,
        local_restricted: restricted,
        break_glass_href: (restricted && !asked).then(|| {
            format!(
                "{LOGIN}?{BREAK_GLASS_QUERY}&next={}",
                encode_component(next)
            )
        }),
    }
}

/// Whether this account may use the password sign-in (its flag, and break-glass-only).
pub async fn local_login_allowed(
    state: &AppState,
    conn: &mut AsyncPgConnection,
    user_id: uuid::Uuid,
) -> Result<bool, diesel::result::Error> {
    let (flag, email) = provisioning::local_login_flag(conn, user_id).await?;
    Ok(state.sso.local_login_allowed(&email, flag))
}

pub struct Link {
    pub href: String,
    pub label: String,
}

#[derive(Template)]
#[template(path = "inspector/sso_message.html")]
pub struct SsoMessagePage<'a> {
    pub chrome: Chrome<'a>,
    pub t: &'a Texts,
    pub title: String,
    pub message: String,
    /// Where the page moves on to by itself.
    pub refresh: Option<String>,
    pub link: Option<Link>,
    pub second_link: Option<Link>,
}

fn flow_cookie(request: &HttpRequest, state: &AppState, value: String) -> Cookie<'static> {
    // Lax, not Strict: it must come along on the provider's redirect back to the callback.
    Cookie::build(FLOW_COOKIE, value)
        .path(PREFIX)
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(super::secure(request, state))
        .max_age(time::Duration::minutes(state.sso.flow_minutes()))
        .finish()
}

fn removed_flow_cookie(request: &HttpRequest, state: &AppState) -> Cookie<'static> {
    let mut cookie = flow_cookie(request, state, String::new());
    cookie.make_removal();
    cookie
}

fn message_page(
    request: &HttpRequest,
    state: &AppState,
    lang: Lang,
    status: StatusCode,
    (title, message): (&str, &str),
    (refresh, link, second_link): (Option<String>, Option<Link>, Option<Link>),
    cookies: Vec<Cookie<'static>>,
) -> HttpResponse {
    let (token, csrf_cookie) = csrf::token(request);
    let mut chrome = Chrome::anonymous(state, lang, request, token);
    // The other language of these pages is the login page's (a callback URL works once).
    chrome.current_path = LOGIN.to_owned();
    let t = chrome.t;
    let page = SsoMessagePage {
        title: t.get(title).to_owned(),
        message: t.get(message).to_owned(),
        refresh,
        link,
        second_link,
        t,
        chrome,
    };
    html(status, &page, cookies.into_iter().chain(csrf_cookie))
}

/// The page for a refused or failed sign-in; logged by its reason only.
fn failure(
    request: &HttpRequest,
    state: &AppState,
    lang: Lang,
    provider: &str,
    error: &SsoError,
) -> HttpResponse {
    let status = error.status();
    tracing::warn!(provider, status = status.as_u16(), reason = %error, "a single sign-on did not succeed");
    let t = state.translations.texts(lang);
    let back = Link {
        href: LOGIN.to_owned(),
        label: t.get("sso.error_back").to_owned(),
    };
    let break_glass = (state.sso.local_login() == LocalLogin::BreakGlassOnly
        && matches!(error, SsoError::Unreachable(_) | SsoError::BadResponse(_)))
    .then(|| Link {
        href: format!("{LOGIN}?{BREAK_GLASS_QUERY}"),
        label: t.get("sso.break_glass_link").to_owned(),
    });
    message_page(
        request,
        state,
        lang,
        status,
        ("sso.error_title", error.message_key()),
        (None, Some(back), break_glass),
        vec![removed_flow_cookie(request, state)],
    )
}

#[derive(Deserialize)]
pub struct StartQuery {
    next: Option<String>,
}

fn provider_of<'a>(state: &'a AppState, id: &str) -> Result<&'a Provider, SsoError> {
    state
        .sso
        .get(id)
        .map(|p| p.as_ref())
        .ok_or(SsoError::UnknownProvider)
}

/// GET: a new sign-in at the provider (a link, not a form: `form-action 'self'` would stop a
/// form's redirect to another site).
pub async fn start(
    request: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<StartQuery>,
) -> HttpResponse {
    let lang = login_lang(&request);
    let provider = match provider_of(&state, &path) {
        Ok(provider) => provider,
        Err(error) => return failure(&request, &state, lang, "unknown", &error),
    };
    let address = crate::client_address::of(&request, state.settings.public.trust_forwarded_for);
    if state
        .rate_limiter
        .check(Limited::LoginAttempt, address)
        .is_err()
    {
        return message_page(
            &request,
            &state,
            lang,
            StatusCode::TOO_MANY_REQUESTS,
            ("sso.error_title", "login.too_many"),
            (None, None, None),
            Vec::new(),
        );
    }
    let next = safe_next(query.next.as_deref());
    let browser = request.cookie(FLOW_COOKIE).map(|c| c.value().to_owned());
    let begun = provider
        .begin(
            &state.pool,
            next,
            browser.as_deref(),
            state.sso.flow_minutes(),
        )
        .await;
    match begun {
        Ok(begun) => crate::web::see_other(
            &begun.authorize_url,
            [flow_cookie(&request, &state, begun.browser_token)],
        ),
        Err(error) => failure(&request, &state, lang, &provider.id, &error),
    }
}

/// Whether a refusal belongs in the audit log (the provider's or Tipsa's own outages do not).
fn audited(error: &SsoError) -> bool {
    !matches!(
        error,
        SsoError::Unreachable(_)
            | SsoError::BadResponse(_)
            | SsoError::Database(_)
            | SsoError::Other(_)
            | SsoError::UnknownProvider
    )
}

/// GET: the provider sends the person back here with a code (or an error).
pub async fn callback(
    request: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> HttpResponse {
    let lang = login_lang(&request);
    let provider = match provider_of(&state, &path) {
        Ok(provider) => provider,
        Err(error) => return failure(&request, &state, lang, "unknown", &error),
    };
    let fail = |error: &SsoError| failure(&request, &state, lang, &provider.id, error);
    let Ok(query) = serde_urlencoded::from_str::<CallbackQuery>(request.query_string()) else {
        return fail(&SsoError::State("malformed"));
    };
    let browser = request.cookie(FLOW_COOKIE).map(|c| c.value().to_owned());
    let request_id = telemetry::request_id(&request);
    let context = Context {
        provider: &provider.id,
        request_id: request_id.as_deref(),
    };
    // The connection goes back to the pool while the provider is asked.
    let flow = match state.connection().await {
        Ok(mut conn) => {
            provider
                .take_flow(&mut conn, query.state.as_deref(), browser.as_deref())
                .await
        }
        Err(_) => Err(SsoError::Other(anyhow::anyhow!("no database connection"))),
    };
    let flow = match flow {
        Ok(flow) => flow,
        Err(error) => return fail(&error),
    };
    let next = flow.next.clone();
    let verified = provider.finish(flow, &query).await;
    let Ok(mut conn) = state.connection().await else {
        return fail(&SsoError::Other(anyhow::anyhow!("no database connection")));
    };
    let signed_in = match verified {
        Ok(verified) => {
            match provisioning::sign_in(&mut conn, &state.crypto, &context, &verified.identity)
                .await
            {
                Ok(user_id) => Ok((user_id, verified.id_token)),
                Err((error, user)) => Err((error, user)),
            }
        }
        Err(error) => Err((error, None)),
    };
    let (user_id, id_token) = match signed_in {
        Ok(found) => found,
        Err((error, user)) => {
            if audited(&error) {
                let reason = error.to_string();
                provisioning::record_refusal(&mut conn, &state.crypto, &context, user, &reason)
                    .await;
            }
            return fail(&error);
        }
    };
    if let Some(old) = request.cookie(sessions::COOKIE) {
        let _ = sessions::end(&mut conn, old.value()).await;
    }
    let token =
        match sessions::start(&mut conn, user_id, Stage::Full, state.session_lifetimes()).await {
            Ok(token) => token,
            Err(error) => return fail(&SsoError::Database(error)),
        };
    if let Err(error) =
        provisioning::remember_session(&mut conn, &state.crypto, &token, &provider.id, &id_token)
            .await
    {
        // Signing in works without it; only the provider's logout goes without the hint.
        tracing::warn!(reason = %error, "keeping the ID token for logout failed");
    }
    tracing::info!(provider = %provider.id, "signed in through an OpenID provider");
    let t = state.translations.texts(lang);
    message_page(
        &request,
        &state,
        lang,
        StatusCode::OK,
        ("sso.continue_title", "sso.continue_text"),
        (
            Some(next.clone()),
            Some(Link {
                href: next,
                label: t.get("sso.continue_link").to_owned(),
            }),
            None,
        ),
        vec![
            session_cookie(&request, &state, token),
            removed_flow_cookie(&request, &state),
        ],
    )
}

/// Before a session ends: the provider's end-session URL if the session began there.
pub async fn provider_logout_url(
    state: &AppState,
    conn: &mut AsyncPgConnection,
    session_token: &str,
) -> Option<String> {
    let (provider, id_token) = provisioning::session_provider(conn, &state.crypto, session_token)
        .await
        .ok()??;
    state
        .sso
        .get(&provider)?
        .logout_url(id_token.as_deref())
        .await
}

/// After logout: on to the provider's end-session endpoint.
pub fn provider_logout_page(
    request: &HttpRequest,
    state: &AppState,
    lang: Lang,
    url: String,
    cookie: Cookie<'static>,
) -> HttpResponse {
    let t = state.translations.texts(lang);
    message_page(
        request,
        state,
        lang,
        StatusCode::OK,
        ("sso.logout_title", "sso.logout_text"),
        (
            Some(url.clone()),
            Some(Link {
                href: url,
                label: t.get("sso.logout_link").to_owned(),
            }),
            None,
        ),
        vec![cookie],
    )
}
