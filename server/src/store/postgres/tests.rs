//! Fixtures of the PostgreSQL store's tests, and the tests of what only it has: migrations
//! under concurrent starts, and a schema newer than the build.
//!
//! Each test gets a database of its own, created in the server `LEADS_TEST_POSTGRES_URL`
//! names and dropped after it. Without that variable the tests pass after saying they were
//! skipped, unless `CI` is set: CI must run them.

use tokio_postgres::Config;

use super::*;
use crate::store::suite::{Subject, assert_internal, ensure_acme, full_lead};

const URL_VARIABLE: &str = "LEADS_TEST_POSTGRES_URL";

/// A database of its own for one test, dropped with this value.
pub(super) struct TestDatabase {
    /// The server's, to create and drop databases from.
    admin: Config,
    name: String,
}

impl TestDatabase {
    /// A new, empty database; `None`, once said on stderr, if no server is given.
    pub(super) async fn create() -> Option<TestDatabase> {
        let Some(url) = std::env::var_os(URL_VARIABLE) else {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must run the PostgreSQL store suite: set {URL_VARIABLE}=postgres://… \
                 (`eval \"$(.ci/postgres)\"` starts a throwaway server)"
            );
            eprintln!(
                "skipped: set {URL_VARIABLE}=postgres://… to run the PostgreSQL store suite \
                 (see README \"Running on PostgreSQL\")"
            );
            return None;
        };
        let admin: Config = url
            .to_str()
            .and_then(|url| url.parse().ok())
            .unwrap_or_else(|| panic!("{URL_VARIABLE} is not a PostgreSQL URL: {url:?}"));
        let name = format!("leads_test_{}", Uuid::new_v4().simple());
        execute(&admin, &format!("CREATE DATABASE {name}")).await;
        Some(TestDatabase { admin, name })
    }

    /// How to connect to it.
    pub(super) fn config(&self) -> Config {
        let mut config = self.admin.clone();
        config.dbname(&self.name);
        config
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let admin = self.admin.clone();
        // `FORCE` closes the connections a store dropped just before may still hold.
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        // A drop cannot await, and may run inside the test's runtime, which must not be
        // blocked on: a runtime of its own, on a thread of its own.
        let dropped = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime")
                .block_on(execute(&admin, &sql));
        })
        .join();
        if dropped.is_err() {
            eprintln!("test database {} was left behind", self.name);
        }
    }
}

/// Runs `sql` on a connection of its own to `config`'s database.
async fn execute(config: &Config, sql: &str) {
    let client = connect(config).await;
    client
        .batch_execute(sql)
        .await
        .unwrap_or_else(|error| panic!("{sql}: {error:?}"));
}

async fn connect(config: &Config) -> tokio_postgres::Client {
    let (client, connection) = config
        .connect(NoTls)
        .await
        .unwrap_or_else(|error| panic!("connecting to {URL_VARIABLE}: {error}"));
    tokio::spawn(connection);
    client
}

/// A connection of its own to the test's database, to look beneath the interface.
pub(super) async fn raw(database: &TestDatabase) -> tokio_postgres::Client {
    connect(&database.config()).await
}

/// A new, empty store for the backend-independent suite; `None` if skipped.
pub(super) async fn subject() -> Option<Subject> {
    let database = TestDatabase::create().await?;
    let store = PostgresStore::connect_with(database.config())
        .await
        .expect("connect");
    Some(Subject::new(store, database))
}

/// A new store, with the organization most tests work in; `None` if skipped.
pub(super) async fn open() -> Option<(TestDatabase, PostgresStore, OrganizationId)> {
    let database = TestDatabase::create().await?;
    let store = PostgresStore::connect_with(database.config())
        .await
        .expect("connect");
    let organization = ensure_acme(&store).await;
    Some((database, store, organization))
}

/// The versions `schema_migrations` records, in order.
async fn applied(database: &TestDatabase) -> Vec<i32> {
    raw(database)
        .await
        .query(
            "SELECT version FROM schema_migrations ORDER BY version",
            &[],
        )
        .await
        .expect("schema_migrations")
        .iter()
        .map(|row| row.get(0))
        .collect()
}

#[tokio::test]
async fn the_url_is_parsed_and_a_bad_one_refused() {
    assert_internal(PostgresStore::connect("no url at all").await.map(|_| ()));
}

#[tokio::test]
async fn a_new_database_is_migrated_once_and_connecting_again_changes_nothing() {
    let Some((database, store, organization)) = open().await else {
        return;
    };
    let every: Vec<i32> = (1..=schema::MIGRATIONS.len())
        .map(|version| i32::try_from(version).expect("few migrations"))
        .collect();
    assert_eq!(applied(&database).await, every);
    let lead = store
        .lead_insert(full_lead(organization), None)
        .await
        .expect("insert");
    drop(store);

    let store = PostgresStore::connect_with(database.config())
        .await
        .expect("connect again");
    assert_eq!(applied(&database).await, every);
    assert_eq!(
        store.lead_get(organization, lead.id).await.expect("get"),
        Some(lead)
    );
}

/// Replicas started at once on a new database all come up (the advisory lock).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stores_connected_at_once_to_a_new_database_all_come_up() {
    for _ in 0..5 {
        let Some(database) = TestDatabase::create().await else {
            return;
        };
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(4));
        let connecting: Vec<_> = (0..4)
            .map(|_| {
                let (config, barrier) = (database.config(), std::sync::Arc::clone(&barrier));
                tokio::spawn(async move {
                    barrier.wait().await;
                    PostgresStore::connect_with(config).await.map(|_| ())
                })
            })
            .collect();
        for store in connecting {
            store.await.expect("no panic").expect("the store connects");
        }
        assert_eq!(applied(&database).await.len(), schema::MIGRATIONS.len());
    }
}

#[tokio::test]
async fn a_schema_newer_than_the_server_is_refused() {
    let Some((database, store, _)) = open().await else {
        return;
    };
    drop(store);
    let future = i32::try_from(schema::MIGRATIONS.len() + 1).expect("few migrations");
    raw(&database)
        .await
        .execute(
            "INSERT INTO schema_migrations (version) VALUES ($1)",
            &[&future],
        )
        .await
        .expect("a future schema");
    assert_internal(
        PostgresStore::connect_with(database.config())
            .await
            .map(|_| ()),
    );
}

#[tokio::test]
async fn every_call_fails_while_the_fault_switch_is_on() {
    let Some((_database, store, organization)) = open().await else {
        return;
    };
    store.faults().set(true);
    assert_internal(store.health().await);
    assert_internal(store.organization_find("acme").await);
    store.faults().set(false);
    assert_eq!(
        store.organization_find("acme").await.expect("find"),
        Some(organization)
    );
}
