//! Who is calling: API keys for integrating systems (later also inspector sessions and roles).

pub mod api_keys;
pub mod key_cache;

pub use api_keys::{ApiCaller, ApiKeyError, Scope};
pub use key_cache::ApiKeyCache;
