//! Database access: the connection pool, migrations, the embedded local cluster and the query
//! functions of each table. Query functions take `&mut AsyncPgConnection` so they compose inside
//! one transaction; their errors are `diesel::result::Error` (or `anyhow` for start-up work).

pub mod api_keys;
pub mod embedded;
pub mod idempotency;
pub mod messages;
pub mod migrate;
pub mod pool;
pub mod queue;
pub mod schema;
pub mod taxonomy;
pub mod tip_batch;
pub mod tips;

pub use diesel_async::AsyncPgConnection;
pub use pool::{DbPool, PooledConnection, build_pool, checkout};
