//! The authorization code flow with PKCE: starting a sign-in (a server-side row holds the
//! state's hash, the nonce and the PKCE verifier, bound to the browser by a short-lived
//! cookie), taking it back once at the callback, exchanging the code and checking the ID token
//! (signature, issuer, audience, expiry and issue time with a bounded skew, nonce); and the
//! provider's end-session URL for RP-initiated logout.

use std::str::FromStr;

use chrono::{Duration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreErrorResponseType, CoreIdToken, CoreJwsSigningAlgorithm,
};
use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, CsrfToken, LogoutRequest, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, PostLogoutRedirectUrl, ProviderMetadataWithLogout, RequestTokenError, Scope,
    SignatureVerificationError, TokenResponse,
};
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::{Provider, SsoError, claims};
use crate::db::schema::sso_flows;

/// The cookie that binds a sign-in under way to the browser that started it.
pub const FLOW_COOKIE: &str = "tipsa_sso_flow";

/// A started sign-in: where to send the browser, and the flow cookie's value.
pub struct Begun {
    pub authorize_url: String,
    pub browser_token: String,
}

/// What the provider sends back to the redirect URL. Providers add parameters of their own
/// (session_state …); those are ignored.
#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    /// RFC 9207: the issuer of the response, when the provider names it (mix-up defence).
    pub iss: Option<String>,
}

/// A sign-in taken back at the callback (its row is gone: it works once).
pub struct Flow {
    pub provider: String,
    nonce: String,
    pkce_verifier: String,
    pub next: String,
}

/// What a verified sign-in yields.
pub struct Verified {
    pub identity: claims::Identity,
    /// The ID token itself, kept sealed with the session as the logout's id_token_hint.
    pub id_token: String,
}

const ASYMMETRIC: [CoreJwsSigningAlgorithm; 10] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EcdsaP521Sha512,
    CoreJwsSigningAlgorithm::EdDsa,
];

fn sha256(text: &str) -> Vec<u8> {
    Sha256::digest(text.as_bytes()).to_vec()
}

fn client(
    provider: &Provider,
    metadata: ProviderMetadataWithLogout,
) -> CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
> {
    CoreClient::from_provider_metadata(
        metadata,
        provider.client_id.clone(),
        provider.client_secret.clone(),
    )
    .set_redirect_uri(provider.redirect_url.clone())
}

impl Provider {
    /// Starts a sign-in: the provider's authorization URL, and a row for the callback.
    pub async fn begin(
        &self,
        pool: &crate::db::DbPool,
        next: &str,
        browser_token: Option<&str>,
        flow_minutes: i64,
    ) -> Result<Begun, SsoError> {
        let metadata = self
            .discovery
            .metadata(&self.http, &self.issuer, &self.id)
            .await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let client = client(self, metadata);
        let mut request = client.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        );
        for scope in self.scopes.iter().filter(|s| *s != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
        let browser_token = match browser_token {
            Some(token) if token.len() == 43 => token.to_owned(),
            _ => crate::auth::accounts::new_token().0,
        };
        // Only now a connection: none is held while the provider is asked.
        let mut conn = crate::db::checkout(pool)
            .await
            .map_err(|e| anyhow::anyhow!("no database connection: {e}"))?;
        let conn = &mut *conn;
        let now = Utc::now();
        // Sign-ins never finished are removed by the next one that starts.
        diesel::delete(sso_flows::table.filter(sso_flows::expires_at.lt(now)))
            .execute(conn)
            .await?;
        diesel::insert_into(sso_flows::table)
            .values((
                sso_flows::state_hash.eq(sha256(state.secret())),
                sso_flows::browser_hash.eq(sha256(&browser_token)),
                sso_flows::provider.eq(&self.id),
                sso_flows::nonce.eq(nonce.secret()),
                sso_flows::pkce_verifier.eq(verifier.secret()),
                sso_flows::next_path.eq(next),
                sso_flows::created_at.eq(now),
                sso_flows::expires_at.eq(now + Duration::minutes(flow_minutes)),
            ))
            .execute(conn)
            .await?;
        Ok(Begun {
            authorize_url: url.to_string(),
            browser_token,
        })
    }

    /// Takes the sign-in named by the callback's state, once; it must be this provider's, not
    /// expired, and started by this browser.
    pub async fn take_flow(
        &self,
        conn: &mut AsyncPgConnection,
        state: Option<&str>,
        browser_token: Option<&str>,
    ) -> Result<Flow, SsoError> {
        let state = state.ok_or(SsoError::State("missing"))?;
        let browser = browser_token.ok_or(SsoError::State("no flow cookie"))?;
        // Only the browser that started it can use it up (another's try leaves it in place).
        let row: Option<(String, String, String, String, chrono::DateTime<Utc>)> = diesel::delete(
            sso_flows::table
                .find(sha256(state))
                .filter(sso_flows::browser_hash.eq(sha256(browser))),
        )
        .returning((
            sso_flows::provider,
            sso_flows::nonce,
            sso_flows::pkce_verifier,
            sso_flows::next_path,
            sso_flows::expires_at,
        ))
        .get_result(conn)
        .await
        .optional()?;
        let (provider, nonce, pkce_verifier, next, expires_at) =
            row.ok_or(SsoError::State("unknown, used or another browser's"))?;
        if provider != self.id {
            return Err(SsoError::State("another provider's"));
        }
        if expires_at <= Utc::now() {
            return Err(SsoError::State("expired"));
        }
        Ok(Flow {
            provider,
            nonce,
            pkce_verifier,
            next,
        })
    }

    /// Exchanges the code (with the PKCE verifier) and checks the ID token; an unknown key id
    /// fetches the provider's keys once more, then refuses.
    pub async fn finish(&self, flow: Flow, query: &CallbackQuery) -> Result<Verified, SsoError> {
        if let Some(error) = &query.error {
            return Err(SsoError::Denied(known_error(error)));
        }
        if let Some(iss) = &query.iss
            && iss != self.issuer.as_str()
        {
            return Err(SsoError::State("another issuer's response"));
        }
        let code = query
            .code
            .as_deref()
            .filter(|c| !c.is_empty())
            .ok_or(SsoError::State("no code"))?;
        let metadata = self
            .discovery
            .metadata(&self.http, &self.issuer, &self.id)
            .await?;
        let response = client(self, metadata.clone())
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|_| SsoError::BadResponse("no token endpoint"))?
            .set_pkce_verifier(PkceCodeVerifier::new(flow.pkce_verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(|error| match error {
                RequestTokenError::ServerResponse(refusal)
                    if *refusal.error() == CoreErrorResponseType::InvalidGrant =>
                {
                    SsoError::CodeRefused
                }
                RequestTokenError::ServerResponse(_) => SsoError::BadResponse("token error"),
                RequestTokenError::Request(_) => SsoError::Unreachable("token endpoint"),
                RequestTokenError::Parse(..) => SsoError::BadResponse("token response"),
                RequestTokenError::Other(_) => SsoError::BadResponse("token endpoint"),
            })?;
        let id_token = response
            .id_token()
            .ok_or(SsoError::Token("no ID token"))?
            .clone();
        let claims = match self.verify(metadata, &id_token, &flow.nonce) {
            Err(SsoError::Token("unknown key")) => {
                let refreshed = self.discovery.refresh_keys(&self.http, &self.id).await?;
                self.verify(refreshed, &id_token, &flow.nonce)?
            }
            other => other?,
        };
        claims::check_auth_context(&claims, &self.settings)?;
        let identity = claims::identity(
            &claims,
            &self.settings.claims,
            self.issuer.as_str(),
            &self.mapping,
        )?;
        Ok(Verified {
            identity,
            id_token: id_token.to_string(),
        })
    }

    /// The library's checks, then the (now trusted) claims as JSON.
    fn verify(
        &self,
        metadata: ProviderMetadataWithLogout,
        id_token: &CoreIdToken,
        nonce: &str,
    ) -> Result<Map<String, Value>, SsoError> {
        let client = client(self, metadata);
        let (skew, max_age) = (self.skew, self.max_token_age);
        let verifier = client
            .id_token_verifier()
            // Public-key signatures only: never `none`, never an HMAC under the client secret.
            .set_allowed_algs(ASYMMETRIC)
            // exp may be up to the skew in the past.
            .set_time_fn(move || Utc::now() - skew)
            .set_issue_time_verifier_fn(move |iat| {
                let now = Utc::now();
                if iat > now + skew {
                    Err("issued in the future".to_owned())
                } else if iat < now - max_age - skew {
                    Err("issued too long ago".to_owned())
                } else {
                    Ok(())
                }
            });
        id_token
            .claims(&verifier, &Nonce::new(nonce.to_owned()))
            .map_err(|error| SsoError::Token(verification_reason(&error)))?;
        claims::payload(&id_token.to_string())
    }

    /// The provider's end-session URL, if its discovery names one (RP-initiated logout).
    pub async fn logout_url(&self, id_token: Option<&str>) -> Option<String> {
        let metadata = self
            .discovery
            .metadata(&self.http, &self.issuer, &self.id)
            .await
            .ok()?;
        let endpoint = metadata
            .additional_metadata()
            .end_session_endpoint
            .clone()?;
        let mut request = LogoutRequest::from(endpoint).set_client_id(self.client_id.clone());
        if let Ok(redirect) = PostLogoutRedirectUrl::new(self.post_logout_redirect_url.clone()) {
            request = request.set_post_logout_redirect_uri(redirect);
        }
        if let Some(token) = id_token.and_then(|t| CoreIdToken::from_str(t).ok()) {
            request = request.set_id_token_hint(&token);
        }
        Some(request.http_get_url().to_string())
    }
}

/// The error codes of OAuth 2.0 and OpenID Connect, for the log; anything else is "other".
fn known_error(code: &str) -> &'static str {
    const KNOWN: [&str; 12] = [
        "access_denied",
        "invalid_request",
        "unauthorized_client",
        "unsupported_response_type",
        "invalid_scope",
        "server_error",
        "temporarily_unavailable",
        "interaction_required",
        "login_required",
        "account_selection_required",
        "consent_required",
        "invalid_request_uri",
    ];
    KNOWN.into_iter().find(|k| *k == code).unwrap_or("other")
}

/// Which check failed, without the values the library's message would carry.
fn verification_reason(error: &ClaimsVerificationError) -> &'static str {
    match error {
        ClaimsVerificationError::Expired(_) => "expired or issued at a wrong time",
        ClaimsVerificationError::InvalidAudience(_) => "audience",
        ClaimsVerificationError::InvalidIssuer(_) => "issuer",
        ClaimsVerificationError::InvalidNonce(_) => "nonce",
        ClaimsVerificationError::InvalidAuthContext(_) => "acr",
        ClaimsVerificationError::InvalidAuthTime(_) => "auth_time",
        ClaimsVerificationError::InvalidSubject(_) => "subject",
        ClaimsVerificationError::SignatureVerification(
            SignatureVerificationError::NoMatchingKey,
        ) => "unknown key",
        ClaimsVerificationError::SignatureVerification(_) => "signature",
        ClaimsVerificationError::Unsupported(_) => "unsupported",
        _ => "other",
    }
}
