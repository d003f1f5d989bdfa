//! A provider's discovery document and signing keys, fetched when first needed, kept for the
//! configured time, and the keys fetched again at once when an ID token names a key that is
//! not among them (the provider rotated its keys).

use std::time::{Duration, Instant};

use openidconnect::core::CoreJsonWebKeySet;
use openidconnect::{DiscoveryError, IssuerUrl, ProviderMetadataWithLogout};
use tokio::sync::Mutex;

use super::SsoError;

/// A stale copy is still used for this long when the provider cannot be reached for a refresh
/// (a short outage of its discovery endpoint does not stop sign-ins that would work).
const STALE_GRACE: Duration = Duration::from_secs(24 * 3600);

struct Cached {
    metadata: ProviderMetadataWithLogout,
    fetched: Instant,
}

pub(super) struct Cache {
    // Held while fetching, so concurrent sign-ins wait for one fetch instead of each making one.
    state: Mutex<Option<Cached>>,
    refresh_after: Duration,
}

fn failure<E: std::error::Error>(error: &DiscoveryError<E>) -> SsoError {
    match error {
        DiscoveryError::Request(_) => SsoError::Unreachable("request"),
        DiscoveryError::Response(status, _, _) if status.is_server_error() => {
            SsoError::Unreachable("server error")
        }
        DiscoveryError::Response(..) => SsoError::BadResponse("status"),
        DiscoveryError::Parse(_) => SsoError::BadResponse("not JSON metadata"),
        DiscoveryError::Validation(_) => SsoError::BadResponse("metadata do not match the issuer"),
        _ => SsoError::BadResponse("discovery"),
    }
}

impl Cache {
    pub(super) fn new(refresh_after: Duration) -> Self {
        Cache {
            state: Mutex::new(None),
            refresh_after,
        }
    }

    /// The discovery document with its key set: cached, fetched again when old.
    pub(super) async fn metadata(
        &self,
        http: &openidconnect::reqwest::Client,
        issuer: &IssuerUrl,
        provider: &str,
    ) -> Result<ProviderMetadataWithLogout, SsoError> {
        let mut state = self.state.lock().await;
        if let Some(cached) = state.as_ref()
            && cached.fetched.elapsed() < self.refresh_after
        {
            return Ok(cached.metadata.clone());
        }
        match ProviderMetadataWithLogout::discover_async(issuer.clone(), http).await {
            Ok(metadata) => {
                *state = Some(Cached {
                    metadata: metadata.clone(),
                    fetched: Instant::now(),
                });
                tracing::info!(provider, "fetched the OpenID provider's discovery document");
                Ok(metadata)
            }
            Err(error) => {
                let refused = failure(&error);
                match state.as_ref() {
                    Some(cached) if cached.fetched.elapsed() < STALE_GRACE => {
                        tracing::warn!(provider, reason = %refused, "refreshing discovery failed; using the copy kept");
                        Ok(cached.metadata.clone())
                    }
                    _ => {
                        tracing::warn!(provider, reason = %refused, "OpenID discovery failed");
                        Err(refused)
                    }
                }
            }
        }
    }

    /// Fetches the key set again (an ID token named an unknown key); the metadata with the new
    /// keys.
    pub(super) async fn refresh_keys(
        &self,
        http: &openidconnect::reqwest::Client,
        provider: &str,
    ) -> Result<ProviderMetadataWithLogout, SsoError> {
        let mut state = self.state.lock().await;
        let Some(cached) = state.as_mut() else {
            return Err(SsoError::BadResponse("no discovery document"));
        };
        let keys = CoreJsonWebKeySet::fetch_async(cached.metadata.jwks_uri(), http)
            .await
            .map_err(|error| {
                let refused = failure(&error);
                tracing::warn!(provider, reason = %refused, "fetching the provider's keys failed");
                refused
            })?;
        tracing::info!(
            provider,
            keys = keys.keys().len(),
            "fetched the provider's signing keys again (unknown key id)"
        );
        cached.metadata = cached.metadata.clone().set_jwks(keys);
        Ok(cached.metadata.clone())
    }
}
