//! Single sign-on with OpenID Connect: the configured providers (discovery cached and
//! refreshed, keys refreshed on rotation), the authorization code flow with PKCE, the checks of
//! the ID token, and accounts kept in step with the provider's groups.

pub mod claims;
mod discovery;
pub mod flow;
pub mod provisioning;

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::StatusCode;
use anyhow::Context;
use openidconnect::{ClientId, ClientSecret, IssuerUrl, RedirectUrl};
use secrecy::ExposeSecret;

use crate::config::{LocalLogin, OidcSettings, ProviderSettings, Settings};
use claims::Mapping;

/// Why a sign-in through a provider did not succeed. Each has a page and a status of its own;
/// none carries a token, a code or a claim value (they are logged by `reason` only).
#[derive(Debug, thiserror::Error)]
pub enum SsoError {
    #[error("no such provider")]
    UnknownProvider,
    /// Discovery, the key set or the token endpoint could not be reached.
    #[error("the provider could not be reached ({0})")]
    Unreachable(&'static str),
    /// The provider answered something that is not OpenID Connect.
    #[error("the provider's answer was not usable ({0})")]
    BadResponse(&'static str),
    /// The provider sent the person back with an error (e.g. access_denied).
    #[error("the provider refused the sign-in ({0})")]
    Denied(&'static str),
    /// No, an unknown, a used or an expired state, or another browser's.
    #[error("the sign-in's state was not accepted ({0})")]
    State(&'static str),
    /// The token endpoint refused the code (expired, used, or not ours).
    #[error("the authorization code was refused")]
    CodeRefused,
    /// The ID token failed a check: signature, issuer, audience, expiry, issue time, nonce.
    #[error("the ID token was not accepted ({0})")]
    Token(&'static str),
    /// acr or amr do not meet the configured requirement (e.g. no MFA).
    #[error("the sign-in method is not strong enough ({0})")]
    AuthContext(&'static str),
    #[error("the ID token lacks a claim ({0})")]
    MissingClaim(&'static str),
    /// The groups map to no Tipsa role.
    #[error("the account has no role in Tipsa")]
    NoAccess,
    #[error("the account is disabled")]
    Disabled,
    /// An account with the email exists but is not linked to this identity.
    #[error("an unlinked account has this email address")]
    EmailTaken,
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl SsoError {
    pub fn status(&self) -> StatusCode {
        match self {
            SsoError::UnknownProvider => StatusCode::NOT_FOUND,
            SsoError::Unreachable(_) | SsoError::Database(_) | SsoError::Other(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            SsoError::BadResponse(_) => StatusCode::BAD_GATEWAY,
            SsoError::Denied(_)
            | SsoError::AuthContext(_)
            | SsoError::NoAccess
            | SsoError::Disabled => StatusCode::FORBIDDEN,
            SsoError::State(_) | SsoError::CodeRefused | SsoError::MissingClaim(_) => {
                StatusCode::BAD_REQUEST
            }
            SsoError::Token(_) => StatusCode::UNAUTHORIZED,
            SsoError::EmailTaken => StatusCode::CONFLICT,
        }
    }

    /// The page text explaining it (`locales/sso.*.toml`).
    pub fn message_key(&self) -> &'static str {
        match self {
            SsoError::UnknownProvider => "sso.error_unknown_provider",
            SsoError::Unreachable(_) | SsoError::BadResponse(_) => "sso.error_unreachable",
            SsoError::Denied(_) => "sso.error_denied",
            SsoError::State(_) | SsoError::CodeRefused => "sso.error_state",
            SsoError::Token(_) | SsoError::MissingClaim(_) => "sso.error_token",
            SsoError::AuthContext(_) => "sso.error_auth_context",
            SsoError::NoAccess => "sso.error_no_access",
            SsoError::Disabled => "sso.error_disabled",
            SsoError::EmailTaken => "sso.error_email_taken",
            SsoError::Database(_) | SsoError::Other(_) => "sso.error_unavailable",
        }
    }
}

/// One provider, ready to use.
pub struct Provider {
    pub id: String,
    pub display_name_sv: String,
    pub display_name_en: String,
    pub issuer: IssuerUrl,
    pub client_id: ClientId,
    client_secret: Option<ClientSecret>,
    pub redirect_url: RedirectUrl,
    pub post_logout_redirect_url: String,
    pub scopes: Vec<String>,
    pub settings: ProviderSettings,
    pub mapping: Mapping,
    discovery: discovery::Cache,
    http: openidconnect::reqwest::Client,
    skew: chrono::Duration,
    max_token_age: chrono::Duration,
}

impl Provider {
    pub fn display_name(&self, english: bool) -> &str {
        if english {
            &self.display_name_en
        } else {
            &self.display_name_sv
        }
    }
}

/// Every configured provider and the local sign-in policy.
pub struct Providers {
    list: Vec<Arc<Provider>>,
    settings: OidcSettings,
}

impl Providers {
    /// From configuration; mapped teams must be teams of the routing configuration.
    pub fn new(settings: &Settings, known_teams: &[&str]) -> anyhow::Result<Self> {
        let oidc = &settings.auth.oidc;
        let base = settings.notify.public_base_url.trim_end_matches('/');
        let http = openidconnect::reqwest::Client::builder()
            // Following redirects would open the back channel to SSRF.
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(oidc.http_timeout_seconds))
            .connect_timeout(Duration::from_secs(oidc.http_timeout_seconds))
            .build()
            .context("building the HTTP client for the OpenID providers")?;
        let mut list = Vec::new();
        for provider in &oidc.providers {
            let id = &provider.id;
            let secret = oidc
                .client_secret(provider)?
                .map(|s| ClientSecret::new(s.expose_secret().to_owned()));
            let redirect = provider
                .redirect_url
                .clone()
                .unwrap_or_else(|| format!("{base}/inspektor/sso/{id}/callback"));
            let mapping = Mapping::new(&provider.mappings, known_teams)
                .with_context(|| format!("auth.oidc.providers.{id}.mappings"))?;
            list.push(Arc::new(Provider {
                id: id.clone(),
                display_name_sv: provider.display_name_sv.clone(),
                display_name_en: provider.display_name_en.clone(),
                issuer: IssuerUrl::new(provider.issuer.clone())
                    .with_context(|| format!("auth.oidc.providers.{id}.issuer is not a URL"))?,
                client_id: ClientId::new(provider.client_id.clone()),
                client_secret: secret,
                redirect_url: RedirectUrl::new(redirect).with_context(|| {
                    format!("auth.oidc.providers.{id}.redirect_url is not a URL")
                })?,
                post_logout_redirect_url: provider
                    .post_logout_redirect_url
                    .clone()
                    .unwrap_or_else(|| format!("{base}/inspektor/logga-in?ut=1")),
                scopes: provider.scopes.clone(),
                settings: provider.clone(),
                mapping,
                discovery: discovery::Cache::new(Duration::from_secs(
                    oidc.discovery_refresh_minutes * 60,
                )),
                http: http.clone(),
                skew: chrono::Duration::seconds(i64::try_from(oidc.clock_skew_seconds)?),
                max_token_age: chrono::Duration::seconds(i64::try_from(
                    oidc.max_token_age_seconds,
                )?),
            }));
        }
        Ok(Providers {
            list,
            settings: oidc.clone(),
        })
    }

    pub fn all(&self) -> &[Arc<Provider>] {
        &self.list
    }

    pub fn get(&self, id: &str) -> Option<&Arc<Provider>> {
        self.list.iter().find(|p| p.id == id)
    }

    pub fn local_login(&self) -> LocalLogin {
        self.settings.local_login
    }

    pub fn flow_minutes(&self) -> i64 {
        self.settings.flow_minutes
    }

    /// Whether the password sign-in is open to this account: its own flag, and under
    /// `break_glass_only` the list of named accounts.
    pub fn local_login_allowed(&self, email: &str, account_allows: bool) -> bool {
        account_allows
            && match self.settings.local_login {
                LocalLogin::All => true,
                LocalLogin::BreakGlassOnly => self.settings.is_break_glass(email),
            }
    }
}
