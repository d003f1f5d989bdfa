//! API keys: generation, verification and scopes.
//!
//! A key reads `tipsa_<prefix>_<secret>`. The prefix is public and finds the row; only a SHA-256
//! hash of the 160-bit secret is stored, compared in constant time.

use std::fmt;
use std::str::FromStr;

use diesel_async::AsyncPgConnection;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::db;

const TOKEN_PREFIX: &str = "tipsa_";
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
const PREFIX_CHARS: usize = 8;
const SECRET_CHARS: usize = 32;

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Submit tips (`POST /api/v1/tips`).
    TipsSubmit,
    /// Read tips and the queue.
    TipsRead,
    /// Change tips and message tipsters.
    TipsWrite,
    /// Read aggregates.
    StatsRead,
    /// Legal holds and public-records requests (registry systems).
    RecordsWrite,
}

impl Scope {
    pub const ALL: [Scope; 5] = [
        Scope::TipsSubmit,
        Scope::TipsRead,
        Scope::TipsWrite,
        Scope::StatsRead,
        Scope::RecordsWrite,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::TipsSubmit => "tips:submit",
            Scope::TipsRead => "tips:read",
            Scope::TipsWrite => "tips:write",
            Scope::StatsRead => "stats:read",
            Scope::RecordsWrite => "records:write",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| {
                let known: Vec<_> = Scope::ALL.iter().map(|s| s.as_str()).collect();
                format!("unknown scope {s:?}; known scopes: {}", known.join(", "))
            })
    }
}

/// An authenticated integrating system.
#[derive(Debug, Clone)]
pub struct ApiCaller {
    pub key_id: Uuid,
    pub name: String,
    pub scopes: Vec<Scope>,
}

impl ApiCaller {
    pub fn has_scope(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }

    /// How this caller appears in tip events.
    pub fn actor(&self) -> String {
        format!("api_key:{}", self.key_id)
    }
}

/// Why a key was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum ApiKeyError {
    #[error("the API key is malformed")]
    Malformed,
    #[error("the API key is unknown or revoked")]
    Rejected,
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

/// A freshly created key; `token` is shown once and never stored.
pub struct CreatedApiKey {
    pub id: Uuid,
    pub prefix: String,
    pub token: String,
}

fn random_chars(count: usize) -> String {
    let mut bytes = vec![0u8; count];
    rand::rng().fill_bytes(&mut bytes);
    bytes
        .iter()
        .map(|b| ALPHABET[usize::from(b & 0x1f)] as char)
        .collect()
}

fn hash_secret(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// Splits `tipsa_<prefix>_<secret>`.
fn split_token(token: &str) -> Option<(&str, &str)> {
    let rest = token.strip_prefix(TOKEN_PREFIX)?;
    let (prefix, secret) = rest.split_once('_')?;
    let valid = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| ALPHABET.contains(&b));
    (valid(prefix, PREFIX_CHARS) && valid(secret, SECRET_CHARS)).then_some((prefix, secret))
}

/// Creates and stores a key with the given scopes.
pub async fn create(
    conn: &mut AsyncPgConnection,
    name: &str,
    scopes: &[Scope],
) -> Result<CreatedApiKey, diesel::result::Error> {
    let prefix = random_chars(PREFIX_CHARS);
    let secret = random_chars(SECRET_CHARS);
    let id = Uuid::now_v7();
    let mut scope_names: Vec<String> = scopes.iter().map(|s| s.as_str().to_owned()).collect();
    scope_names.sort();
    scope_names.dedup();
    db::api_keys::insert(
        conn,
        &db::api_keys::NewApiKey {
            id,
            prefix: &prefix,
            name,
            secret_hash: &hash_secret(&secret),
            scopes: &scope_names,
        },
    )
    .await?;
    Ok(CreatedApiKey {
        id,
        token: format!("{TOKEN_PREFIX}{prefix}_{secret}"),
        prefix,
    })
}

/// Checks a presented key and returns the caller it belongs to.
pub async fn authenticate(
    conn: &mut AsyncPgConnection,
    token: &str,
) -> Result<ApiCaller, ApiKeyError> {
    let (prefix, secret) = split_token(token).ok_or(ApiKeyError::Malformed)?;
    let row = db::api_keys::find_by_prefix(conn, prefix)
        .await?
        .ok_or(ApiKeyError::Rejected)?;
    let matches: bool = hash_secret(secret).ct_eq(&row.secret_hash).into();
    if !matches || row.revoked_at.is_some() {
        return Err(ApiKeyError::Rejected);
    }
    Ok(ApiCaller {
        key_id: row.id,
        name: row.name,
        // Unknown names cannot be stored (a CHECK constraint), so nothing is dropped here.
        scopes: row.scopes.iter().filter_map(|s| s.parse().ok()).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_split_into_prefix_and_secret() {
        let token = format!("tipsa_{}_{}", random_chars(8), random_chars(32));
        let (prefix, secret) = split_token(&token).unwrap();
        assert_eq!(prefix.len(), 8);
        assert_eq!(secret.len(), 32);
        for bad in [
            "",
            "tipsa_",
            "tipsa_abcdefgh",
            "tipsa_abcdefgh_short",
            "other_abcdefgh_0123456789abcdefghjkmnpqrstvwxyz",
            "tipsa_ABCDEFGH_0123456789abcdefghjkmnpqrstvwxyz",
            "tipsa_abcdefgh_0123456789abcdefghjkmnpqrstvwxyzu",
        ] {
            assert!(split_token(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn scopes_parse_and_print() {
        for scope in Scope::ALL {
            assert_eq!(scope.as_str().parse::<Scope>(), Ok(scope));
        }
        let err = "tips:delete".parse::<Scope>().unwrap_err();
        assert!(err.contains("tips:submit"), "{err}");
    }
}
