//! Who is calling and what they may do: API keys for integrating systems, inspector accounts
//! with passwords, a second factor and database sessions, and the one policy that decides.

pub mod accounts;
pub mod api_keys;
pub mod key_cache;
pub mod login;
pub mod oidc;
pub mod passwords;
pub mod policy;
pub mod second_factor;
pub mod sessions;

pub use api_keys::{ApiCaller, ApiKeyError, Scope};
pub use key_cache::ApiKeyCache;
pub use policy::{Action, Decision, Principal, Role, TipScope};
