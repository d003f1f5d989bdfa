//! Migrations: idempotent, reversible, safe when two nodes start at once, and in step with
//! `schema.rs`.

use diesel::sql_types::Text;
use diesel_async::RunQueryDsl;
use tipsa::db::migrate;

use crate::helpers::{TestDatabase, admin_url};

#[derive(diesel::QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

async fn public_objects(db: &TestDatabase) -> Vec<String> {
    let mut conn = db.connect().await;
    let rows: Vec<Name> = diesel::sql_query(
        "SELECT c.relname::text AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'S', 'v', 'm')
         UNION ALL
         SELECT p.proname::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE n.nspname = 'public'
         ORDER BY 1",
    )
    .load(&mut conn)
    .await
    .unwrap();
    rows.into_iter().map(|r| r.name).collect()
}

#[tokio::test]
async fn running_migrations_again_applies_nothing() {
    let db = TestDatabase::new().await;
    let applied = migrate::run_pending(&db.url).await.unwrap();
    assert!(applied.is_empty(), "{applied:?}");
}

#[tokio::test]
async fn every_down_undoes_its_up() {
    let db = TestDatabase::new().await;
    // A submitted tip creates the per-year reference sequence, which down must drop too.
    let mut conn = db.connect().await;
    diesel::sql_query("SELECT next_tip_reference(now())")
        .execute(&mut conn)
        .await
        .unwrap();
    drop(conn);
    let before = public_objects(&db).await;
    assert!(before.iter().any(|n| n.starts_with("tip_reference_")));

    migrate::revert_all(&db.url).await.unwrap();
    assert_eq!(
        public_objects(&db).await,
        vec!["__diesel_schema_migrations"]
    );

    let applied = migrate::run_pending(&db.url).await.unwrap();
    assert_eq!(applied.len(), migrate::embedded_versions().len());
    let after = public_objects(&db).await;
    let without_sequences = |names: &[String]| -> Vec<String> {
        names
            .iter()
            .filter(|n| !n.starts_with("tip_reference_"))
            .cloned()
            .collect()
    };
    assert_eq!(without_sequences(&after), without_sequences(&before));
}

#[tokio::test]
async fn two_nodes_migrating_at_once_apply_each_migration_once() {
    // An empty database, not the template copy.
    let name = format!(
        "tipsa_test_{}_race",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    );
    let name = format!("{name}{}", uuid::Uuid::new_v4().simple());
    let mut admin =
        <diesel_async::AsyncPgConnection as diesel_async::AsyncConnection>::establish(admin_url())
            .await
            .unwrap();
    diesel::sql_query(format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let base = admin_url().rsplit_once('/').unwrap().0;
    let url = format!("{base}/{name}");
    let (a, b) = tokio::join!(migrate::run_pending(&url), migrate::run_pending(&url));
    let (a, b) = (a.unwrap(), b.unwrap());
    let total = migrate::embedded_versions().len();
    assert_eq!(a.len() + b.len(), total, "a: {a:?}, b: {b:?}");
    assert!(a.is_empty() || b.is_empty());
    diesel::sql_query(format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .unwrap();
}

#[tokio::test]
async fn schema_rs_matches_the_migrated_database() {
    let db = TestDatabase::new().await;
    let mut conn = db.connect().await;
    for (table, columns) in tipsa::db::schema::TABLE_COLUMNS {
        let rows: Vec<Name> = diesel::sql_query(
            "SELECT column_name::text AS name FROM information_schema.columns
             WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position",
        )
        .bind::<Text, _>(*table)
        .load(&mut conn)
        .await
        .unwrap();
        let actual: Vec<String> = rows.into_iter().map(|r| r.name).collect();
        assert_eq!(actual, *columns, "table {table}");
    }
}
