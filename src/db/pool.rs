//! The diesel-async connection pool (deadpool), with per-connection session settings.

use std::time::Duration;

use anyhow::Context;
use diesel::ConnectionError;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use futures_util::FutureExt;

use crate::config::DatabaseSettings;

pub type DbPool = Pool<AsyncPgConnection>;
pub type PooledConnection = Object<AsyncPgConnection>;

/// A pooled connection for a request or a group-commit lane; a wait that times out or a
/// connection the database refuses is counted (`tipsa_db_pool_timeouts_total`), as it becomes
/// a 503.
pub async fn checkout(
    pool: &DbPool,
) -> Result<PooledConnection, diesel_async::pooled_connection::deadpool::PoolError> {
    let connection = pool.get().await;
    if connection.is_err() {
        crate::monitoring::pool_wait_failed();
    }
    connection
}

/// Builds the pool. Connections are opened lazily; each gets a `statement_timeout` so a stuck
/// query cannot hold a connection forever.
pub fn build_pool(url: &str, settings: &DatabaseSettings) -> anyhow::Result<DbPool> {
    let statement_timeout_ms = settings.statement_timeout_ms;
    // Checked by Settings to be digits and a unit, so it is safe in the SET statement.
    let work_mem = settings.work_mem.clone();
    let connect_timeout = Duration::from_millis(settings.connect_timeout_ms);
    let mut manager_config = ManagerConfig::<AsyncPgConnection>::default();
    // A broken connection surfaces as an error on first use (503), which is cheaper than a
    // `SELECT 1` round trip on every checkout.
    manager_config.recycling_method = RecyclingMethod::Fast;
    manager_config.custom_setup = Box::new(move |url| {
        let url = url.to_owned();
        let work_mem = work_mem.clone();
        async move {
            let mut conn =
                tokio::time::timeout(connect_timeout, AsyncPgConnection::establish(&url))
                    .await
                    .map_err(|_| {
                        ConnectionError::BadConnection("timed out connecting to PostgreSQL".into())
                    })??;
            conn.batch_execute(&format!(
                "SET statement_timeout = {statement_timeout_ms}; SET work_mem = '{work_mem}'; \
                 SET application_name = 'tipsa'"
            ))
            .await
            .map_err(ConnectionError::CouldntSetupConfiguration)?;
            Ok(conn)
        }
        .boxed()
    });
    let manager =
        AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(url, manager_config);
    let acquire_timeout = Duration::from_millis(settings.acquire_timeout_ms);
    Pool::builder(manager)
        .max_size(settings.pool_size)
        .wait_timeout(Some(acquire_timeout))
        .create_timeout(Some(connect_timeout))
        .recycle_timeout(Some(connect_timeout))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .context("building the database pool")
}
