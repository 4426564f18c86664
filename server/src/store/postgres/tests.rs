//! Fixtures of the PostgreSQL store's tests, and the tests of what only it has: migrations
//! under concurrent starts, and a schema newer than the build.
//!
//! Each test gets a database of its own ([`ScratchDatabase`]), created in the server
//! `LEADS_TEST_POSTGRES_URL` names and dropped after it. Built without that variable, the tests
//! are ignored (`cfg(leads_postgres)`, see `server/build.rs`); with it, they fail if that
//! server cannot be reached.

use tokio_postgres::{Config, NoTls};

use super::*;
use crate::store::suite::{Subject, assert_internal, ensure_acme, full_lead};

pub(super) use crate::testing::postgres::ScratchDatabase;

/// A new, empty database of its own for one test.
async fn database() -> ScratchDatabase {
    ScratchDatabase::create()
        .await
        .unwrap_or_else(|error| panic!("a database of the test's own: {error:#}"))
}

async fn connect(config: &Config) -> tokio_postgres::Client {
    let (client, connection) = config
        .connect(NoTls)
        .await
        .unwrap_or_else(|error| panic!("connecting to the test database: {error}"));
    tokio::spawn(connection);
    client
}

/// A connection of its own to the test's database, to look beneath the interface.
pub(super) async fn raw(database: &ScratchDatabase) -> tokio_postgres::Client {
    connect(&database.config().expect("a URL")).await
}

/// A new, empty store on a database of its own.
async fn empty() -> (ScratchDatabase, PostgresStore) {
    let database = database().await;
    let store = PostgresStore::connect_with(
        database.config().expect("a URL"),
        Tls::Plain,
        crate::store::test_events(),
    )
    .await
    .expect("connect");
    (database, store)
}

/// A new, empty store for the backend-independent suite.
pub(super) async fn subject() -> Subject {
    let (database, store) = empty().await;
    Subject::new(store, database)
}

/// A new store, with the organization most tests work in.
pub(super) async fn open() -> (ScratchDatabase, PostgresStore, OrganizationId) {
    let (database, store) = empty().await;
    let organization = ensure_acme(&store).await;
    (database, store, organization)
}

/// A connection of its own to the test's database that plans as if its tables were large:
/// an empty table is cheapest to scan whole, or to fetch in a bitmap and sort, so both are
/// off, to show the plan an index read in order would give.
pub(super) async fn planner(database: &ScratchDatabase) -> tokio_postgres::Client {
    let planner = raw(database).await;
    planner
        .batch_execute("SET enable_seqscan = off; SET enable_bitmapscan = off")
        .await
        .expect("planning without sequential or bitmap scans");
    planner
}

/// `sql`'s plan for `values`, as `EXPLAIN` prints it, a line a step.
pub(super) async fn query_plan(
    planner: &tokio_postgres::Client,
    sql: &str,
    values: &[statements::Value],
) -> String {
    let plan: Vec<String> = planner
        .query(&format!("EXPLAIN {sql}"), &statements::bound(values))
        .await
        .expect("plan")
        .iter()
        .map(|row| row.get(0))
        .collect();
    plan.join("\n")
}

/// Asserts that a list query (`sql` and its parameters) reads `index` in the list order, with
/// no sort; and, if `seeks` (a page after a keyset), that the keyset is a condition of the
/// index, not a filter on every row read.
pub(super) async fn assert_reads_in_order(
    planner: &tokio_postgres::Client,
    (sql, values): (String, Vec<statements::Value>),
    index: &str,
    seeks: bool,
) {
    let plan = query_plan(planner, &sql, &values).await;
    assert!(plan.contains(index), "{sql}:\n{plan}");
    assert!(!plan.contains("Sort"), "{sql}:\n{plan}");
    if seeks {
        assert!(
            plan.contains("Index Cond: ") && plan.contains("created_at, id) <"),
            "{sql} seeks:\n{plan}"
        );
    }
}

/// The versions `schema_migrations` records, in order.
async fn applied(database: &ScratchDatabase) -> Vec<i32> {
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
    assert_internal(
        PostgresStore::connect("no url at all", crate::store::test_events())
            .await
            .map(|_| ()),
    );
}

#[cfg_attr(
    not(leads_postgres),
    ignore = "needs PostgreSQL: set LEADS_TEST_POSTGRES_URL"
)]
#[tokio::test]
async fn a_new_database_is_migrated_once_and_connecting_again_changes_nothing() {
    let (database, store, organization) = open().await;
    let every: Vec<i32> = (1..=schema::MIGRATIONS.len())
        .map(|version| i32::try_from(version).expect("few migrations"))
        .collect();
    assert_eq!(applied(&database).await, every);
    let lead = store
        .lead_insert(full_lead(organization), None)
        .await
        .expect("insert");
    drop(store);

    let store = PostgresStore::connect_with(
        database.config().expect("a URL"),
        Tls::Plain,
        crate::store::test_events(),
    )
    .await
    .expect("connect again");
    assert_eq!(applied(&database).await, every);
    assert_eq!(
        store.lead_get(organization, lead.id).await.expect("get"),
        Some(lead)
    );
}

/// Replicas started at once on a new database all come up (the advisory lock).
#[cfg_attr(
    not(leads_postgres),
    ignore = "needs PostgreSQL: set LEADS_TEST_POSTGRES_URL"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stores_connected_at_once_to_a_new_database_all_come_up() {
    for _ in 0..5 {
        let database = database().await;
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(4));
        let connecting: Vec<_> = (0..4)
            .map(|_| {
                let (config, barrier) = (
                    database.config().expect("a URL"),
                    std::sync::Arc::clone(&barrier),
                );
                tokio::spawn(async move {
                    barrier.wait().await;
                    PostgresStore::connect_with(config, Tls::Plain, crate::store::test_events())
                        .await
                        .map(|_| ())
                })
            })
            .collect();
        for store in connecting {
            store.await.expect("no panic").expect("the store connects");
        }
        assert_eq!(applied(&database).await.len(), schema::MIGRATIONS.len());
    }
}

#[cfg_attr(
    not(leads_postgres),
    ignore = "needs PostgreSQL: set LEADS_TEST_POSTGRES_URL"
)]
#[tokio::test]
async fn a_schema_newer_than_the_server_is_refused() {
    let (database, store, _) = open().await;
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
        PostgresStore::connect_with(
            database.config().expect("a URL"),
            Tls::Plain,
            crate::store::test_events(),
        )
        .await
        .map(|_| ()),
    );
}

/// `sslmode=verify-full` with the test server's CA: the connection is TLS. `sslmode=require`
/// without it: the test CA is no root the system trusts, so the certificate is refused and
/// nothing is connected.
#[cfg_attr(
    not(leads_postgres_tls),
    ignore = "needs PostgreSQL with TLS: set LEADS_TEST_POSTGRES_URL and LEADS_TEST_POSTGRES_CA \
              (`.ci/postgres` sets both)"
)]
#[tokio::test]
async fn tls_is_used_and_verified_when_the_url_asks_for_it() {
    let database = database().await;
    let ca = std::env::var("LEADS_TEST_POSTGRES_CA")
        .expect("LEADS_TEST_POSTGRES_CA names the test server's CA (`.ci/postgres` sets it)");
    let url = |parameters: &str| with_parameters(&database.url(), parameters);
    let store = PostgresStore::connect(
        &url(&format!("sslmode=verify-full&sslrootcert={ca}")),
        crate::store::test_events(),
    )
    .await
    .expect("a verified TLS connection");
    assert!(uses_tls(&store).await, "the connection is TLS");
    match PostgresStore::connect(&url("sslmode=require"), crate::store::test_events()).await {
        Err(StoreError::Internal(message)) => {
            assert!(message.contains("certificate"), "{message}");
        }
        Err(other) => panic!("{other:?}"),
        Ok(_) => panic!("connected with an unverified certificate"),
    }
}

/// Whether the store's connections are TLS, as the server sees them.
async fn uses_tls(store: &PostgresStore) -> bool {
    store
        .client()
        .await
        .expect("a connection")
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .expect("pg_stat_ssl")
        .get(0)
}

/// `url` with `parameters` (as written in a URL: the store reads `sslrootcert` undecoded)
/// added to its query.
fn with_parameters(url: &str, parameters: &str) -> String {
    if parameters.is_empty() {
        return url.to_owned();
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{parameters}")
}

/// The message of PostgreSQL's `SSLRequest`: its length (8), then the code 80877103.
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

/// A proxy on loopback in front of `database`'s server that answers every `SSLRequest` "no",
/// as a server without TLS does, and passes everything else through: the database's URL
/// through it.
async fn without_tls(database: &ScratchDatabase) -> String {
    let config = database.config().expect("a URL");
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let upstream = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let proxy = listener.local_addr().expect("its address");
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut first = [0u8; 8];
                client.read_exact(&mut first).await?;
                let mut server = tokio::net::TcpStream::connect(upstream).await?;
                if first == SSL_REQUEST {
                    client.write_all(b"N").await?;
                } else {
                    server.write_all(&first).await?;
                }
                tokio::io::copy_bidirectional(&mut client, &mut server).await
            });
        }
    });
    let mut url = url::Url::parse(&database.url()).expect("a URL");
    url.set_port(Some(proxy.port())).expect("a URL with a host");
    url.into()
}

/// libpq's default mode and `prefer` try TLS first: with the test server, which has TLS (its
/// certificate signed by a CA the system does not trust, and not checked in this mode, as
/// libpq does not), the connection is TLS; with a server that answers it has none, plain.
/// `disable` is plain; `require` with a server that has no TLS connects nothing.
#[cfg_attr(
    not(leads_postgres_tls),
    ignore = "needs PostgreSQL with TLS: set LEADS_TEST_POSTGRES_URL and LEADS_TEST_POSTGRES_CA \
              (`.ci/postgres` sets both)"
)]
#[tokio::test]
async fn prefer_and_no_sslmode_use_tls_if_the_server_has_it_and_plain_if_not() {
    let database = database().await;
    let connect = |url: String| async move {
        PostgresStore::connect(&url, crate::store::test_events())
            .await
            .unwrap_or_else(|error| panic!("connecting: {error}"))
    };
    let proxied = without_tls(&database).await;
    for parameters in ["", "sslmode=prefer"] {
        let direct = connect(with_parameters(&database.url(), parameters)).await;
        assert!(uses_tls(&direct).await, "{parameters:?}: TLS when offered");
        let plain = connect(with_parameters(&proxied, parameters)).await;
        assert!(!uses_tls(&plain).await, "{parameters:?}: plain when not");
    }
    let disabled = connect(with_parameters(&database.url(), "sslmode=disable")).await;
    assert!(!uses_tls(&disabled).await);
    match PostgresStore::connect(
        &with_parameters(&proxied, "sslmode=require"),
        crate::store::test_events(),
    )
    .await
    {
        Err(StoreError::Internal(message)) => assert!(message.contains("TLS"), "{message}"),
        Err(other) => panic!("{other:?}"),
        Ok(_) => panic!("connected without TLS though the URL requires it"),
    }
}

/// Under `SERIALIZABLE` isolation (CockroachDB's only one), an update that waited for a
/// concurrent one to commit is aborted by the database (a serialization failure) instead of
/// reading the row again; the store runs it again, so it meets the new version and answers
/// as under `READ COMMITTED`: the condition fails, nothing is lost.
#[cfg_attr(
    not(leads_postgres),
    ignore = "needs PostgreSQL: set LEADS_TEST_POSTGRES_URL"
)]
#[tokio::test]
async fn under_serializable_isolation_an_update_that_lost_a_race_is_run_again() {
    let database = database().await;
    raw(&database)
        .await
        .batch_execute(
            "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET default_transaction_isolation \
             = serializable', current_database()); END $$",
        )
        .await
        .expect("serializable by default");
    let store = std::sync::Arc::new(
        PostgresStore::connect_with(
            database.config().expect("a URL"),
            Tls::Plain,
            crate::store::test_events(),
        )
        .await
        .expect("connect"),
    );
    let organization = ensure_acme(&*store).await;
    let inserted = store
        .lead_insert(full_lead(organization), None)
        .await
        .expect("insert");
    // Another writer holds the row, mid-transaction.
    let other = raw(&database).await;
    other.batch_execute("BEGIN").await.expect("begin");
    other
        .execute(
            "UPDATE leads SET version = version + 1 WHERE id = $1",
            &[&inserted.id],
        )
        .await
        .expect("the other update");
    let waiting = {
        let store = std::sync::Arc::clone(&store);
        tokio::spawn(async move {
            let changes = LeadChanges {
                full_name: Some("Late Writer".to_owned()),
                ..LeadChanges::default()
            };
            store
                .lead_update(
                    organization,
                    inserted.id,
                    changes,
                    Some(VersionCondition::OneOf(vec![inserted.version])),
                    inserted.updated_at,
                )
                .await
        })
    };
    // Long enough for the update to be waiting on the row.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    other.batch_execute("COMMIT").await.expect("commit");
    let outcome = waiting.await.expect("no panic");
    assert!(
        matches!(outcome, Err(StoreError::VersionMismatch)),
        "{outcome:?}"
    );
}

/// Contention is tried again, twice at most; any other outcome is final at once. (No
/// database needed: the work here only counts its calls.)
#[tokio::test]
async fn work_abandoned_for_contention_is_tried_twice_more_and_nothing_else_is() {
    use std::sync::atomic::{AtomicU32, Ordering};

    use prometheus_client::metrics::counter::Counter;

    let calls = AtomicU32::new(0);
    let retries = Counter::default();
    let contended_twice = super::retrying(&retries, || async {
        match calls.fetch_add(1, Ordering::SeqCst) {
            0 | 1 => Err(StoreError::Contention("40P01".into())),
            _ => Ok(7),
        }
    })
    .await;
    assert_eq!(contended_twice.expect("the third try succeeds"), 7);
    assert_eq!(calls.swap(0, Ordering::SeqCst), 3);
    assert_eq!(retries.get(), 2, "each retry is counted");

    let always = super::retrying(&retries, || async {
        calls.fetch_add(1, Ordering::SeqCst);
        Err::<(), _>(StoreError::Contention("40001".into()))
    })
    .await;
    assert!(matches!(always, Err(StoreError::Contention(_))));
    assert_eq!(calls.swap(0, Ordering::SeqCst), 3, "once, then two retries");

    let broken = super::retrying(&retries, || async {
        calls.fetch_add(1, Ordering::SeqCst);
        Err::<(), _>(StoreError::Internal("gone".into()))
    })
    .await;
    assert!(matches!(broken, Err(StoreError::Internal(_))));
    assert_eq!(calls.load(Ordering::SeqCst), 1, "not retried");
    assert_eq!(retries.get(), 4);
}

/// Asks `condition` until it holds, for at most 10 s: a notification or a lost connection
/// takes effect when it arrives, not at a known time. Whether it came to hold.
async fn eventually<Fut: Future<Output = bool>>(mut condition: impl FnMut() -> Fut) -> bool {
    for _ in 0..200 {
        if condition().await {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    false
}

/// `store`, once its key cache listens (it connects in the background).
async fn listening(store: PostgresStore) -> PostgresStore {
    let listens = eventually(|| std::future::ready(store.keys.listening())).await;
    assert!(listens, "the key cache listens");
    store
}

/// A new key of `organization`'s in `store`, looked up once: its hash and prefix.
async fn a_key_found(
    store: &PostgresStore,
    organization: OrganizationId,
    prefix: &str,
    hash: KeyHash,
) -> ApiKeyId {
    let key = store
        .api_key_insert(crate::store::suite::organizations::new_key(
            organization,
            hash,
            prefix,
        ))
        .await
        .expect("insert");
    assert_eq!(
        store.api_key_find(hash).await.expect("find"),
        Some((key, organization))
    );
    key
}

/// Revokes the key of `hash` through `client`, beneath the store and with no notification:
/// what a lost notification would leave.
async fn revoke_silently(client: &tokio_postgres::Client, hash: KeyHash) {
    let revoked = client
        .execute(
            "UPDATE api_keys SET revoked_at = now() WHERE key_hash = $1",
            &[&hash.as_slice()],
        )
        .await
        .expect("revoked beneath the store");
    assert_eq!(revoked, 1);
}

/// Sends the notification of a revocation through `client`.
async fn notify(client: &tokio_postgres::Client) {
    client
        .execute("SELECT pg_notify($1, '')", &[&key_cache::CHANNEL])
        .await
        .expect("notify");
}

/// Whether `store` finds no key of `hash`.
async fn refuses(store: &PostgresStore, hash: KeyHash) -> bool {
    store.api_key_find(hash).await.expect("find").is_none()
}

/// A key found valid is answered from memory: revoked beneath the store without a
/// notification, it is still found; the notification makes the store forget it.
#[cfg_attr(
    not(leads_postgres),
    ignore = "needs PostgreSQL: set LEADS_TEST_POSTGRES_URL"
)]
#[tokio::test]
async fn a_key_found_valid_is_remembered_until_a_notification_arrives() {
    let (database, store, organization) = open().await;
    let (store, beneath) = (listening(store).await, raw(&database).await);
    let key = a_key_found(&store, organization, "aura_pk_live_mem1", [1; 32]).await;
    revoke_silently(&beneath, [1; 32]).await;
    assert_eq!(
        store.api_key_find([1; 32]).await.expect("find"),
        Some((key, organization)),
        "answered from memory"
    );
    notify(&beneath).await;
    assert!(eventually(|| refuses(&store, [1; 32])).await);
}

/// A key revoked through another replica is refused once the notification arrives; one
/// revoked through this replica, from the next lookup.
#[cfg_attr(
    not(leads_postgres),
    ignore = "needs PostgreSQL: set LEADS_TEST_POSTGRES_URL"
)]
#[tokio::test]
async fn a_key_revoked_through_another_replica_is_refused_once_notified() {
    let (database, store, organization) = open().await;
    let store = listening(store).await;
    let other = PostgresStore::connect_with(
        database.config().expect("a URL"),
        Tls::Plain,
        crate::store::test_events(),
    )
    .await
    .expect("another replica");
    let elsewhere = a_key_found(&store, organization, "aura_pk_live_else", [2; 32]).await;
    let here = a_key_found(&store, organization, "aura_pk_live_here", [3; 32]).await;
    for (through, prefix, key) in [
        (&other, "aura_pk_live_else", elsewhere),
        (&store, "aura_pk_live_here", here),
    ] {
        let revoked = through.api_key_revoke(prefix, Utc::now()).await;
        assert_eq!(revoked.expect("revoke"), RevokeOutcome::Revoked(key));
    }
    assert!(
        refuses(&store, [3; 32]).await,
        "its own revocation, at once"
    );
    assert!(eventually(|| refuses(&store, [2; 32])).await);
}

/// Lets new connections to the database of `beneath`, a connection to it, in (`true`) or
/// keeps every one out, the key cache's included; those already open stay. (From the
/// server's own database: a database cannot shut itself.)
async fn allow_connections(beneath: &tokio_postgres::Client, allowed: bool) {
    let name: String = beneath
        .query_one("SELECT current_database()", &[])
        .await
        .expect("the database's name")
        .get(0);
    let url = std::env::var("LEADS_TEST_POSTGRES_URL").expect("the server's URL");
    connect(&url.parse().expect("a URL"))
        .await
        .batch_execute(&format!(
            "ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS {allowed}"
        ))
        .await
        .expect("ALLOW_CONNECTIONS");
}

/// Once the listening connection is lost, every key is forgotten, so a revocation whose
/// notification never came is seen, and nothing is remembered until a new connection
/// listens; then keys are remembered again, and notifications work.
#[cfg_attr(
    not(leads_postgres),
    ignore = "needs PostgreSQL: set LEADS_TEST_POSTGRES_URL"
)]
#[tokio::test]
async fn once_the_listening_connection_is_lost_no_revoked_key_is_served() {
    let (database, store, organization) = open().await;
    let (store, beneath) = (listening(store).await, raw(&database).await);
    a_key_found(&store, organization, "aura_pk_live_lost", [4; 32]).await;
    revoke_silently(&beneath, [4; 32]).await;
    // The cache cannot listen again until allowed: the pool's open connection still serves.
    allow_connections(&beneath, false).await;
    let terminated: Vec<bool> = beneath
        .query(
            "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity \
             WHERE application_name = $1 AND datname = current_database()",
            &[&key_cache::APPLICATION_NAME],
        )
        .await
        .expect("terminate the listener")
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(terminated, [true], "one listener, terminated");
    assert!(eventually(|| refuses(&store, [4; 32])).await, "forgotten");
    assert!(!store.keys.listening());
    a_key_found(&store, organization, "aura_pk_live_down", [5; 32]).await;
    revoke_silently(&beneath, [5; 32]).await;
    assert!(
        refuses(&store, [5; 32]).await,
        "not remembered while not listening"
    );

    allow_connections(&beneath, true).await;
    let store = listening(store).await;
    assert!(refuses(&store, [4; 32]).await && refuses(&store, [5; 32]).await);
    let key = a_key_found(&store, organization, "aura_pk_live_back", [6; 32]).await;
    revoke_silently(&beneath, [6; 32]).await;
    assert_eq!(
        store.api_key_find([6; 32]).await.expect("find"),
        Some((key, organization)),
        "remembered again once listening"
    );
    notify(&beneath).await;
    assert!(eventually(|| refuses(&store, [6; 32])).await);
}
