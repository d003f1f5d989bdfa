//! The single sign-on settings (`[auth.oidc]`, `[[auth.oidc.providers]]`): the OpenID
//! providers inspectors sign in with, how their claims map to roles and teams, and whether the
//! local password sign-in stays open to everyone or only to named break-glass accounts.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use anyhow::{Context, bail};
use secrecy::SecretString;
use serde::Deserialize;

use crate::auth::Role;

/// Who may still sign in with a Tipsa password (and TOTP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LocalLogin {
    /// Every account whose own flag allows it (the embedded default).
    All,
    /// Only the accounts listed in `break_glass_accounts` (and whose flag allows it).
    BreakGlassOnly,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcSettings {
    pub local_login: LocalLogin,
    /// Email addresses that keep the local sign-in when `local_login = "break_glass_only"`.
    #[serde(default)]
    pub break_glass_accounts: Vec<String>,
    /// How far the provider's clock may be off (exp, iat).
    pub clock_skew_seconds: u64,
    /// An ID token issued longer ago than this (plus the skew) is refused.
    pub max_token_age_seconds: u64,
    /// Discovery documents and key sets are fetched again after this long.
    pub discovery_refresh_minutes: u64,
    /// A sign-in must come back from the provider within this long.
    pub flow_minutes: i64,
    /// Each request to a provider (discovery, keys, token) gives up after this long.
    pub http_timeout_seconds: u64,
    /// Client secrets by provider id, for the environment:
    /// `TIPSA__AUTH__OIDC__CLIENT_SECRETS__<ID>`.
    #[serde(default)]
    pub client_secrets: BTreeMap<String, SecretString>,
    #[serde(default)]
    pub providers: Vec<ProviderSettings>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSettings {
    /// A slug (a-z, 0-9, _): part of the sign-in and callback paths.
    pub id: String,
    pub display_name_sv: String,
    pub display_name_en: String,
    /// The issuer URL; discovery is `{issuer}/.well-known/openid-configuration`.
    pub issuer: String,
    pub client_id: String,
    /// At most one of `client_secret`, `client_secret_file` and `client_secrets.<id>`; none
    /// makes a public client (PKCE only).
    pub client_secret: Option<SecretString>,
    pub client_secret_file: Option<PathBuf>,
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// Unset: `{notify.public_base_url}/inspektor/sso/{id}/callback`.
    pub redirect_url: Option<String>,
    /// Unset: `{notify.public_base_url}/inspektor/logga-in?ut=1`.
    pub post_logout_redirect_url: Option<String>,
    #[serde(default)]
    pub claims: ClaimNames,
    /// The ID token's `acr` must be one of these (empty: not checked).
    #[serde(default)]
    pub required_acr: Vec<String>,
    /// The ID token's `amr` must hold at least one of these, e.g. ["mfa"] (empty: not checked).
    #[serde(default)]
    pub required_amr: Vec<String>,
    /// Group or role values and the Tipsa roles and teams they give.
    #[serde(default)]
    pub mappings: Vec<GroupMapping>,
}

fn default_scopes() -> Vec<String> {
    ["openid", "profile", "email"].map(String::from).to_vec()
}

/// Which claims of the ID token carry what.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClaimNames {
    /// The stable identifier (with the issuer, it is the link to the account): `sub`, or e.g.
    /// `oid` for Entra ID.
    pub subject: String,
    pub display_name: String,
    pub email: String,
    /// A list of strings (or one string): groups or app roles.
    pub groups: String,
}

impl Default for ClaimNames {
    fn default() -> Self {
        ClaimNames {
            subject: "sub".into(),
            display_name: "name".into(),
            email: "email".into(),
            groups: "groups".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupMapping {
    /// A value of the groups claim.
    pub group: String,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub teams: Vec<String>,
}

fn is_slug(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 50
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

impl OidcSettings {
    pub(super) fn check(&self, production: bool) -> anyhow::Result<()> {
        if !(1..=300).contains(&self.clock_skew_seconds) {
            bail!("auth.oidc.clock_skew_seconds must be 1 to 300");
        }
        if !(60..=3600).contains(&self.max_token_age_seconds) {
            bail!("auth.oidc.max_token_age_seconds must be 60 to 3600");
        }
        if !(1..=60).contains(&self.flow_minutes)
            || self.http_timeout_seconds == 0
            || self.discovery_refresh_minutes == 0
        {
            bail!(
                "auth.oidc.flow_minutes must be 1 to 60; http_timeout_seconds and discovery_refresh_minutes at least 1"
            );
        }
        if self.local_login == LocalLogin::BreakGlassOnly && self.providers.is_empty() {
            bail!("auth.oidc.local_login = \"break_glass_only\" needs at least one provider");
        }
        let mut ids = HashSet::new();
        for provider in &self.providers {
            let id = &provider.id;
            if !is_slug(id) {
                bail!("auth.oidc.providers: id {id:?} must be 1 to 50 of a-z, 0-9 and _");
            }
            if !ids.insert(id) {
                bail!("auth.oidc.providers: id {id:?} is listed twice");
            }
            // Plain http only for development (a provider on this machine, the tests).
            let plain_allowed = !production && provider.issuer.starts_with("http://");
            if !(provider.issuer.starts_with("https://") || plain_allowed) {
                bail!("auth.oidc.providers.{id}: issuer must be an https:// URL");
            }
            if provider.client_id.trim().is_empty() {
                bail!("auth.oidc.providers.{id}: client_id is required");
            }
            if provider.display_name_sv.trim().is_empty()
                || provider.display_name_en.trim().is_empty()
            {
                bail!("auth.oidc.providers.{id}: display_name_sv and display_name_en are required");
            }
            if !provider.scopes.iter().any(|s| s == "openid") {
                bail!("auth.oidc.providers.{id}: scopes must include \"openid\"");
            }
            let sources = [
                provider.client_secret.is_some(),
                provider.client_secret_file.is_some(),
                self.client_secrets.contains_key(id),
            ];
            if sources.iter().filter(|set| **set).count() > 1 {
                bail!(
                    "auth.oidc.providers.{id}: give the client secret one way only (client_secret, client_secret_file or auth.oidc.client_secrets.{id})"
                );
            }
            for mapping in &provider.mappings {
                for role in &mapping.roles {
                    if Role::parse(role).is_none() {
                        bail!(
                            "auth.oidc.providers.{id}: mapping {:?}: {role:?} is not one of inspector, triage_lead, analyst, admin",
                            mapping.group
                        );
                    }
                }
            }
        }
        for secret_id in self.client_secrets.keys() {
            if !ids.contains(secret_id) {
                bail!("auth.oidc.client_secrets.{secret_id}: no provider has this id");
            }
        }
        Ok(())
    }

    /// The configured client secret of a provider, read from its file if it names one.
    pub fn client_secret(
        &self,
        provider: &ProviderSettings,
    ) -> anyhow::Result<Option<SecretString>> {
        if let Some(secret) = provider
            .client_secret
            .clone()
            .or_else(|| self.client_secrets.get(&provider.id).cloned())
        {
            return Ok(Some(secret));
        }
        match &provider.client_secret_file {
            Some(path) => {
                let text = std::fs::read_to_string(path).with_context(|| {
                    format!(
                        "reading auth.oidc.providers.{}.client_secret_file {}",
                        provider.id,
                        path.display()
                    )
                })?;
                Ok(Some(SecretString::from(text.trim().to_owned())))
            }
            None => Ok(None),
        }
    }

    /// Whether an email address is a named break-glass account.
    pub fn is_break_glass(&self, email: &str) -> bool {
        let email = email.trim().to_lowercase();
        self.break_glass_accounts
            .iter()
            .any(|listed| listed.trim().to_lowercase() == email)
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Settings;

    fn load(toml: &str) -> anyhow::Result<Settings> {
        let dir = std::env::temp_dir().join(format!("tipsa-oidc-cfg-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("test.toml"), toml).unwrap();
        Settings::load_from(&dir, "test", false)
    }

    const PROVIDER: &str = r#"
[[auth.oidc.providers]]
id = "entra"
display_name_sv = "Myndighetens inloggning"
display_name_en = "the authority's sign-in"
issuer = "https://login.example/tenant/v2.0"
client_id = "tipsa"
client_secret = "hunter2-hunter2"
required_amr = ["mfa"]
[[auth.oidc.providers.mappings]]
group = "g-syd"
roles = ["inspector"]
teams = ["syd"]
"#;

    #[test]
    fn no_provider_by_default_and_one_loads_with_its_secret_hidden() {
        let defaults = load("").unwrap();
        assert!(defaults.auth.oidc.providers.is_empty());
        assert_eq!(defaults.auth.oidc.local_login, super::LocalLogin::All);
        let settings = load(PROVIDER).unwrap();
        let provider = &settings.auth.oidc.providers[0];
        assert_eq!(provider.claims.subject, "sub");
        assert_eq!(provider.scopes, ["openid", "profile", "email"]);
        assert!(
            settings
                .auth
                .oidc
                .client_secret(provider)
                .unwrap()
                .is_some()
        );
        assert!(!format!("{settings:?}").contains("hunter2"));
    }

    #[test]
    fn a_secret_file_is_read_and_bad_providers_are_refused() {
        let secret =
            std::env::temp_dir().join(format!("tipsa-oidc-secret-{}", uuid::Uuid::new_v4()));
        std::fs::write(&secret, "from-a-file\n").unwrap();
        let with_file = PROVIDER.replace(
            "client_secret = \"hunter2-hunter2\"",
            &format!("client_secret_file = {:?}", secret.display().to_string()),
        );
        let settings = load(&with_file).unwrap();
        let read = settings
            .auth
            .oidc
            .client_secret(&settings.auth.oidc.providers[0])
            .unwrap()
            .unwrap();
        assert_eq!(secrecy::ExposeSecret::expose_secret(&read), "from-a-file");

        let refused = [
            (
                PROVIDER.replace("id = \"entra\"", "id = \"Entra ID\""),
                "a-z",
            ),
            (format!("{PROVIDER}{}", PROVIDER), "listed twice"),
            (
                PROVIDER.replace("[\"inspector\"]", "[\"boss\"]"),
                "not one of",
            ),
            (
                PROVIDER.replace(
                    "client_id = \"tipsa\"",
                    "client_id = \"tipsa\"\nclient_secret_file = \"/x\"",
                ),
                "one way only",
            ),
            (
                "[auth.oidc]\nlocal_login = \"break_glass_only\"\n".to_owned(),
                "needs at least one provider",
            ),
        ];
        for (toml, message) in refused {
            let error = format!("{:#}", load(&toml).unwrap_err());
            assert!(error.contains(message), "{message}: {error}");
        }
    }
}
