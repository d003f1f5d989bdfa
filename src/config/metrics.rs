//! The Prometheus metrics settings (`[metrics]`): whether metrics are recorded, where each kind
//! of process exposes them, and the optional bearer token.

use anyhow::{Context, bail};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// `/metrics` in the Prometheus text format, on a listener of its own (not the public router).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    /// Off: nothing is recorded (the instrumentation costs nothing) and nothing listens.
    pub enabled: bool,
    /// `host:port` of `tipsa serve`'s metrics listener; port 0 picks a free one (tests).
    pub listen: String,
    /// `host:port` of `tipsa worker`'s metrics listener (a worker on the same host as a node
    /// needs a port of its own).
    pub worker_listen: String,
    /// If set, a scrape must send `Authorization: Bearer <token>`.
    pub token: Option<SecretString>,
}

impl MetricsSettings {
    pub(super) fn check(&self) -> anyhow::Result<()> {
        if !self.enabled {
            return Ok(());
        }
        for (name, address) in [
            ("listen", &self.listen),
            ("worker_listen", &self.worker_listen),
        ] {
            address
                .parse::<std::net::SocketAddr>()
                .with_context(|| {
                    format!("metrics.{name} must be an address and port such as 127.0.0.1:9464, not {address:?}")
                })?;
        }
        if let Some(token) = &self.token
            && token.expose_secret().len() < 16
        {
            bail!("metrics.token must be at least 16 characters (or unset)");
        }
        Ok(())
    }
}
