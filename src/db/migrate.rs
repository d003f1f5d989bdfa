//! Embedded diesel migrations, run under a PostgreSQL advisory lock so that several nodes
//! starting at once migrate exactly once, and the readiness check that they have been run.

use std::collections::BTreeSet;

use anyhow::Context;
use diesel::Connection;
use diesel_async::AsyncPgConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Arbitrary constant identifying Tipsa's migration lock among advisory locks.
const MIGRATION_LOCK_KEY: i64 = 0x7469_7073_615f_6d67; // "tipsa_mg"

/// Runs all pending migrations and returns the versions it applied (empty when up to date).
pub async fn run_pending(database_url: &str) -> anyhow::Result<Vec<String>> {
    let url = database_url.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::establish(&url)
            .context("connecting to PostgreSQL to run migrations")?;
        diesel::RunQueryDsl::execute(
            diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})")),
            &mut conn,
        )
        .context("taking the migration lock")?;
        let result = conn
            .run_pending_migrations(MIGRATIONS)
            .map(|versions| versions.iter().map(ToString::to_string).collect::<Vec<_>>())
            .map_err(|e| anyhow::anyhow!("running migrations: {e}"));
        // Closing the connection would release the lock too; unlocking says so explicitly.
        let _ = diesel::RunQueryDsl::execute(
            diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})")),
            &mut conn,
        );
        result
    })
    .await
    .context("migration task panicked")?
}

/// Reverts every migration (used by the test that checks each `down.sql` undoes its `up.sql`).
pub async fn revert_all(database_url: &str) -> anyhow::Result<()> {
    let url = database_url.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::establish(&url)
            .context("connecting to PostgreSQL to revert migrations")?;
        conn.revert_all_migrations(MIGRATIONS)
            .map_err(|e| anyhow::anyhow!("reverting migrations: {e}"))?;
        Ok(())
    })
    .await
    .context("migration task panicked")?
}

/// Versions of all embedded migrations as diesel records them (`20261122000001`, …).
pub fn embedded_versions() -> BTreeSet<String> {
    use diesel::migration::MigrationSource;
    MigrationSource::<diesel::pg::Pg>::migrations(&MIGRATIONS)
        .map(|migrations| {
            migrations
                .iter()
                .map(|m| m.name().version().to_string().replace('-', ""))
                .collect()
        })
        .unwrap_or_default()
}

/// True when every embedded migration has been applied to the connected database.
pub async fn is_up_to_date(
    conn: &mut AsyncPgConnection,
    expected: &BTreeSet<String>,
) -> Result<bool, diesel::result::Error> {
    use diesel::sql_types::Text;
    use diesel_async::RunQueryDsl;

    #[derive(diesel::QueryableByName)]
    struct Applied {
        #[diesel(sql_type = Text)]
        version: String,
    }
    let applied: BTreeSet<String> =
        diesel::sql_query("SELECT version FROM __diesel_schema_migrations")
            .load::<Applied>(conn)
            .await?
            .into_iter()
            .map(|row| row.version.replace('-', ""))
            .collect();
    Ok(expected.is_subset(&applied))
}
