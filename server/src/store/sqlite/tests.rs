//! The SQLite backend's own tests: what only it has (files, migrations, its writer and
//! readers, concurrent processes on one file); the backend-independent suite runs from
//! `mod.rs`.

use tempfile::TempDir;

use super::*;
use crate::store::suite::{Subject, assert_internal, ensure_acme, full_lead};

/// A new store in a temporary directory.
fn create() -> (TempDir, SqliteStore) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store =
        SqliteStore::open(&dir.path().join("leads.db"), crate::store::test_events()).expect("open");
    (dir, store)
}

/// A new store, with the organization most tests work in.
pub(super) async fn open() -> (TempDir, SqliteStore, OrganizationId) {
    let (dir, store) = create();
    let organization = ensure_acme(&store).await;
    (dir, store, organization)
}

/// A new store holding one lead, with every field set.
pub(super) async fn open_with_a_lead() -> (TempDir, SqliteStore, Lead) {
    let (dir, store, organization) = open().await;
    let lead = store
        .lead_insert(full_lead(organization), None)
        .await
        .expect("insert");
    (dir, store, lead)
}

/// A connection of its own to the store's file, to look beneath the interface.
pub(super) fn raw(dir: &TempDir) -> Connection {
    Connection::open(dir.path().join("leads.db")).expect("raw connection")
}

/// How SQLite would run `sql`: its query plan's steps, joined.
pub(super) fn plan(raw: &Connection, sql: &str, parameters: impl rusqlite::Params) -> String {
    raw.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .and_then(|mut statement| {
            statement
                .query_map(parameters, |row| row.get::<_, String>(3))?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .expect("plan")
        .join("; ")
}

/// The first column of every row of `sql`, as text.
pub(super) fn first_column(connection: &Connection, sql: &str) -> Vec<String> {
    connection
        .prepare(sql)
        .and_then(|mut statement| {
            statement
                .query_map([], |row| row.get(0))?
                .collect::<rusqlite::Result<_>>()
        })
        .unwrap_or_else(|error| panic!("{sql}: {error}"))
}

/// A new, empty store for the backend-independent suite.
pub(super) async fn subject() -> Subject {
    let (dir, store) = create();
    Subject::new(store, dir)
}

/// A key found valid is remembered while the file does not change, and forgotten by the
/// next lookup after another process revokes it.
#[tokio::test]
async fn a_remembered_key_revoked_by_another_process_is_refused_at_once() {
    let (dir, store, organization) = open().await;
    let hash = [7; 32];
    let key = store
        .api_key_insert(NewApiKey {
            organization,
            hash,
            prefix: "aura_pk_live_cached00".to_owned(),
            created_at: Utc::now(),
        })
        .await
        .expect("insert");
    let found = Some((key, organization));
    assert_eq!(store.api_key_find(hash).await.expect("find"), found);
    let version = store.keys.version().expect("version");
    assert_eq!(store.keys.get(&hash, version), found);
    assert_eq!(store.api_key_find(hash).await.expect("find again"), found);

    let other_process =
        SqliteStore::open(&dir.path().join("leads.db"), crate::store::test_events()).expect("open");
    let outcome = other_process
        .api_key_revoke("aura_pk_live_cached00", Utc::now())
        .await
        .expect("revoke");
    assert_eq!(outcome, RevokeOutcome::Revoked(key));
    assert_eq!(store.api_key_find(hash).await.expect("find"), None);
}

/// Two servers started at once on a new file both come up (the migration race).
#[test]
fn stores_opened_at_once_on_a_new_file_all_come_up() {
    for _ in 0..10 {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("leads.db");
        let barrier = std::sync::Barrier::new(4);
        std::thread::scope(|scope| {
            let opened: Vec<_> = (0..4)
                .map(|_| {
                    scope.spawn(|| {
                        barrier.wait();
                        SqliteStore::open(&path, crate::store::test_events()).map(|_| ())
                    })
                })
                .collect();
            for store in opened {
                store.join().expect("no panic").expect("the store opens");
            }
        });
    }
}

#[tokio::test]
async fn a_new_file_is_migrated_in_wal_mode() {
    let (dir, store, _) = open().await;
    store.health().await.expect("health");
    let raw = raw(&dir);
    let version: i64 = raw
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .expect("user_version");
    assert_eq!(
        version,
        i64::try_from(MIGRATION_STEPS.len()).expect("few migrations")
    );
    let mode: String = raw
        .pragma_query_value(None, "journal_mode", |row| row.get(0))
        .expect("journal_mode");
    assert_eq!(mode, "wal");
    let tables = first_column(
        &raw,
        "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name",
    );
    assert_eq!(
        tables,
        [
            "api_keys",
            "idempotent_answers",
            "lead_changes",
            "leads",
            "organizations",
            "webhook_deliveries",
            "webhook_delivery_attempts",
            "webhook_events",
            "webhook_subscriptions"
        ]
    );
}

#[tokio::test]
async fn reopening_an_existing_file_keeps_its_data() {
    let (dir, store, stored) = open_with_a_lead().await;
    let organization = stored.organization_id;
    drop(store);

    let store = SqliteStore::open(&dir.path().join("leads.db"), crate::store::test_events())
        .expect("reopen");
    assert!(!store.is_empty().await.expect("is_empty"));
    assert_eq!(
        store.organization_ensure("acme").await.expect("ensure"),
        organization
    );
    assert_eq!(
        store.lead_get(organization, stored.id).await.expect("get"),
        Some(stored)
    );
}

#[tokio::test]
async fn closing_the_store_leaves_every_commit_in_the_database_file() {
    let (dir, store, lead) = open_with_a_lead().await;
    // A read too, since the pool opens a reader only when a read needs one.
    store
        .lead_get(lead.organization_id, lead.id)
        .await
        .expect("get");
    drop(store);
    // So a copy of the file alone is a complete backup.
    assert!(!dir.path().join("leads.db-wal").exists());
}

#[tokio::test]
async fn leads_stored_before_versions_start_at_version_1() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("leads.db");
    let id = Uuid::new_v4();
    let mut before = Connection::open(&path).expect("open");
    MIGRATIONS
        .to_version(&mut before, 2)
        .expect("the schema before versions");
    before
        .execute_batch(&format!(
            "INSERT INTO organizations VALUES ('{organization}', 'acme', 0); \
             INSERT INTO leads (id, organization_id, email, email_lower, status, notes, \
             created_at, updated_at) \
             VALUES ('{id}', '{organization}', 'old@example.com', 'old@example.com', \
             'new', '[]', 0, 0);",
            organization = Uuid::nil(),
        ))
        .expect("a lead stored before versions");
    drop(before);

    let store = SqliteStore::open(&path, crate::store::test_events()).expect("migrate");
    let lead = store
        .lead_get(OrganizationId(Uuid::nil()), id)
        .await
        .expect("get")
        .expect("the old lead");
    assert_eq!(lead.version, 1);
}

#[tokio::test]
async fn leads_stored_before_sync_are_in_the_changed_order_of_their_last_update() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("leads.db");
    let mut before = Connection::open(&path).expect("open");
    MIGRATIONS
        .to_version(&mut before, 9)
        .expect("the schema before sync");
    before
        .execute(
            "INSERT INTO organizations VALUES (?1, 'acme', 0)",
            [Uuid::nil().to_string()],
        )
        .expect("an organization");
    // Updated in the order 2, 0, 1; created in the order 0, 1, 2.
    let ids = [Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4()];
    for (n, (id, updated_at)) in (0_i64..).zip(ids.iter().zip([20_i64, 30, 10])) {
        before
            .execute(
                "INSERT INTO leads (id, organization_id, email, email_lower, status, notes, \
                 created_at, updated_at) VALUES (?1, ?2, ?3, ?3, 'new', '[]', ?4, ?5)",
                (
                    id.to_string(),
                    Uuid::nil().to_string(),
                    format!("old{n}@example.com"),
                    n,
                    updated_at,
                ),
            )
            .expect("a lead stored before sync");
    }
    drop(before);

    let store = SqliteStore::open(&path, crate::store::test_events()).expect("migrate");
    let organization = OrganizationId(Uuid::nil());
    let changed = store
        .lead_list_changed(organization, LeadFilter::default(), 0, 10)
        .await
        .expect("the changed order");
    let order: Vec<(Uuid, i64)> = changed.iter().map(|c| (c.lead.id, c.change)).collect();
    assert_eq!(order, [(ids[2], 1), (ids[0], 2), (ids[1], 3)]);
    // The next write continues the count.
    let lead = store
        .lead_insert(
            Lead::new(organization, "new@example.com".into(), Utc::now()),
            None,
        )
        .await
        .expect("insert");
    let next = store
        .lead_list_changed(organization, LeadFilter::default(), 3, 10)
        .await
        .expect("the changed order");
    assert_eq!(
        next.iter()
            .map(|c| (c.lead.id, c.change))
            .collect::<Vec<_>>(),
        [(lead.id, 4)]
    );
}

#[tokio::test]
async fn a_schema_newer_than_the_server_is_refused() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("leads.db");
    Connection::open(&path)
        .and_then(|raw| {
            let future = i64::try_from(MIGRATION_STEPS.len() + 1).expect("few migrations");
            raw.pragma_update(None, "user_version", future)
        })
        .expect("future schema");
    assert_internal(SqliteStore::open(&path, crate::store::test_events()).map(|_| ()));
}

/// An event's body is stored deflated, with its size as sent; a row stored before bodies
/// were deflated (its text, and `NULL` in the columns migration 0013 added) is sent from its
/// text, byte for byte, and the log gives its text's size.
#[tokio::test]
async fn a_body_is_stored_deflated_and_a_row_stored_before_still_sends() {
    let (dir, store) = create();
    let (queued, body) = crate::store::suite::webhooks::queue_the_largest_lead(&store).await;
    let raw = raw(&dir);
    let (text, deflated, size): (String, i64, i64) = raw
        .query_row(
            "SELECT body, length(body_deflated), body_size FROM webhook_events",
            [],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .expect("the stored event");
    eprintln!("stored {deflated} B of a {size} B body");
    assert_eq!((text.as_str(), size), ("", body.len() as i64));
    assert!(deflated * 3 < size, "{deflated} B");

    raw.execute(
        "UPDATE webhook_events SET body = ?, body_deflated = NULL, body_size = NULL",
        [&body],
    )
    .expect("the row as it was stored before 0013");
    let (sent, resent, delivery) =
        crate::store::suite::webhooks::send_then_resend(&store, &queued).await;
    assert!(sent == body && resent == body, "sent from its text");
    assert_eq!(delivery.payload_size_bytes, body.len() as u64);
}

/// A `201` is a promise: by default every commit is flushed before it is answered
/// (`synchronous=FULL`), and `NORMAL` only when asked for.
#[tokio::test]
async fn commits_reach_the_disk_before_they_are_answered_unless_told_otherwise() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let setting = |store: SqliteStore| async move {
        store
            .write(|connection| {
                connection
                    .query_row("PRAGMA synchronous", [], |row| row.get::<_, i64>(0))
                    .context("reading the setting")
            })
            .await
            .expect("the writer's setting")
    };
    let path = dir.path().join("leads.db");
    let default = SqliteStore::open(&path, crate::store::test_events()).expect("open");
    assert_eq!(setting(default).await, 2, "FULL");
    let normal = SqliteStore::open_with(&path, crate::store::test_events(), Synchronous::Normal)
        .expect("open");
    assert_eq!(setting(normal).await, 1, "NORMAL");
}
