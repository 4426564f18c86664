//! Erasure of a lead: the lead and every copy of it the database keeps (the webhook events
//! about it, with their deliveries, and the idempotent answers that hold it), deleted in one
//! write, and then the WAL emptied, so that the bytes are gone from the files and not only
//! unreachable.
//!
//! The writer connection runs with `PRAGMA secure_delete = ON` (`super::open`):
//! SQLite zeroes every cell it deletes and every page it frees, including the older versions
//! of a lead that its updates replaced. What a deletion leaves in the WAL is older frames
//! holding the pages as they were: a `TRUNCATE` checkpoint copies the zeroed pages into the
//! database file and cuts the WAL to nothing.

use std::path::Path;

use chrono::{DateTime, Utc};
use rusqlite::Connection;
use uuid::Uuid;

use super::errors::Context;
use super::values::id_text;
use super::{leads, pool, webhooks};
use crate::domain::{Emission, EventType, OrganizationId, VersionCondition};
use crate::store::{ERASE_COPIES, StoreError};

/// Deletes the organization's lead if `condition` admits its version, erases its copies and
/// stores its `lead.deleted` deliveries, in the writer's transaction; whether there was such a
/// lead.
pub(super) fn delete(
    transaction: &Connection,
    organization: OrganizationId,
    id: Uuid,
    condition: Option<&VersionCondition>,
    now: DateTime<Utc>,
    events: &Emission,
) -> Result<bool, StoreError> {
    let Some(lead) = leads::select(transaction, organization, id)? else {
        return Ok(false);
    };
    let mut lead = leads::admitted(lead, condition)?;
    let key = id_text(id);
    for (doing, sql) in ERASE_COPIES {
        transaction
            .prepare_cached(sql)
            .and_then(|mut statement| statement.execute([&key]))
            .context(doing)?;
    }
    transaction
        .prepare_cached("DELETE FROM leads WHERE id = ? AND organization_id = ?")
        .and_then(|mut statement| statement.execute([&key, &id_text(organization.0)]))
        .context("deleting a lead")?;
    // The event's time is the deletion's; its body carries the id alone (the renderer's
    // business), so nothing personal is stored again.
    lead.updated_at = now;
    webhooks::emit(transaction, &[EventType::LeadDeleted], &lead, events)?;
    Ok(true)
}

/// How many times a `TRUNCATE` checkpoint is tried, [`TRUNCATE_PAUSE`] apart, while another
/// checkpoint holds the file's checkpoint lock: SQLite answers that at once, without its busy
/// handler, and the checkpointer thread (woken by the erasure's own commit) is often in one.
const TRUNCATE_ATTEMPTS: u32 = 100;
const TRUNCATE_PAUSE: std::time::Duration = std::time::Duration::from_millis(10);

/// Checkpoints the WAL of the database at `path` into its file and truncates it to zero
/// bytes, on a connection of its own (the writer's is inside its transactions). It waits,
/// within the busy timeout, for the writer and for readers of older snapshots, and tries
/// again while another checkpoint runs; whether it finished (if not, the WAL's older frames
/// stay until later writes overwrite them or the last connection closes).
pub(super) fn truncate_wal(path: &Path) -> Result<bool, StoreError> {
    let connection = Connection::open(path)
        .and_then(|connection| pool::configure(&connection).map(|()| connection))
        .context("opening a connection to truncate the WAL")?;
    for _ in 0..TRUNCATE_ATTEMPTS {
        let busy: i64 = connection
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| row.get(0))
            .context("truncating the WAL")?;
        if busy == 0 {
            return Ok(true);
        }
        std::thread::sleep(TRUNCATE_PAUSE);
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use rusqlite::Connection;
    use uuid::Uuid;

    use super::super::tests::{open, raw};
    use super::super::{MIGRATIONS, SqliteStore};
    use super::id_text;
    use crate::domain::{EventType, LeadChanges, OrganizationId, Subscription};
    use crate::store::prelude::*;
    use crate::store::suite::{at, lead};
    use crate::store::{IdempotentAnswer, SealedSecret};

    /// An address no other bytes of the file could hold by chance.
    const CANARY: &str = "erase-canary-5e1f9c@example.com";

    /// How many times `needle` is in the database file and in its WAL, byte for byte.
    fn occurrences(dir: &tempfile::TempDir, needle: &str) -> (usize, usize) {
        let count = |name: &str| {
            let bytes = std::fs::read(dir.path().join(name)).unwrap_or_default();
            bytes
                .windows(needle.len())
                .filter(|window| *window == needle.as_bytes())
                .count()
        };
        (count("leads.db"), count("leads.db-wal"))
    }

    fn subscription(organization: OrganizationId, event_type: EventType) -> Subscription {
        Subscription {
            id: Uuid::now_v7(),
            organization,
            event_type,
            target_url: "https://hooks.example.com/leads".to_owned(),
            created_at: at(0),
            disabled_at: None,
        }
    }

    /// The lead, an older version of it, its events and its kept answer all hold the email;
    /// after the delete neither file holds a byte of it.
    #[tokio::test]
    async fn an_erased_lead_leaves_no_byte_in_the_database_file_or_its_wal() {
        let (dir, store, organization) = open().await;
        for event in [EventType::LeadCreated, EventType::LeadUpdated] {
            let secret = SealedSecret {
                key_id: "k1".to_owned(),
                sealed: "sealed".to_owned(),
            };
            store
                .webhook_subscription_insert(subscription(organization, event), secret, 25)
                .await
                .expect("subscribe");
        }
        let created_at = at(1_000_000);
        let answer = IdempotentAnswer {
            organization,
            key: "create-1".to_owned(),
            fingerprint: [1; 32],
            status: 201,
            body: format!("{{\"data\":{{\"email\":\"{CANARY}\"}}}}").into_bytes(),
            created_at,
            expires_at: created_at + Duration::hours(24),
        };
        let stored = store
            .lead_insert(lead(organization, CANARY, created_at), Some(answer))
            .await
            .expect("insert");
        let rename = LeadChanges {
            full_name: Some("Renamed".to_owned()),
            ..LeadChanges::default()
        };
        store
            .lead_update(organization, stored.id, rename, None, at(2_000_000))
            .await
            .expect("update");
        // Copied into the file as well as in the WAL, as a checkpoint would have by then (tried
        // again while the checkpointer thread's own checkpoint holds the lock).
        let raw = raw(&dir);
        let copied = (0..100).any(|_| {
            let busy: i64 = raw
                .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| row.get(0))
                .expect("checkpoint");
            std::thread::sleep(std::time::Duration::from_millis(10));
            busy == 0
        });
        assert!(copied, "a checkpoint ran");
        let before = occurrences(&dir, CANARY);
        assert!(
            before.0 > 0 && before.1 > 0,
            "the email is in both files: {before:?}"
        );
        // Event bodies are stored deflated, where no grep finds the email: the events are
        // counted by their lead before the delete, and by every row after it, below.
        let events: i64 = raw
            .query_row(
                "SELECT count(*) FROM webhook_events WHERE lead_id = ?",
                [id_text(stored.id)],
                |row| row.get(0),
            )
            .expect("count");
        assert_eq!(events, 2, "the creation and the update");

        assert!(
            store
                .lead_delete(organization, stored.id, None, at(3_000_000))
                .await
                .expect("delete")
        );

        let after = occurrences(&dir, CANARY);
        eprintln!("the email's occurrences (file, WAL): before {before:?}, after {after:?}");
        assert_eq!(after, (0, 0), "the email is gone from the file and its WAL");
        // The lead, its events and its answer are gone from the tables too.
        let left: i64 = raw
            .query_row(
                "SELECT (SELECT count(*) FROM leads) + (SELECT count(*) FROM idempotent_answers) \
                 + (SELECT count(*) FROM webhook_events WHERE event_type <> 'lead.deleted')",
                [],
                |row| row.get(0),
            )
            .expect("count");
        assert_eq!(left, 0);
    }

    /// A file migrated from before erasure: its events and answers are matched to their
    /// leads, its subscriptions survive the rebuild with their deliveries' references, and
    /// `lead.deleted` may be subscribed to.
    #[tokio::test]
    async fn the_erasure_migration_keeps_subscriptions_and_matches_copies_to_leads() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("leads.db");
        let organization = Uuid::now_v7();
        let lead_id = Uuid::now_v7();
        let mut before = Connection::open(&path).expect("open");
        MIGRATIONS
            .to_version(&mut before, 9)
            .expect("the schema before erasure");
        before
            .execute_batch(&format!(
                "INSERT INTO organizations VALUES ('{organization}', 'acme', 0); \
                 INSERT INTO webhook_subscriptions (id, organization_id, event_type, target_url, \
                 secret, created_at) VALUES ('s1', '{organization}', 'lead.created', \
                 'https://hooks.example.com', 'plain', 0); \
                 INSERT INTO webhook_events (id, organization_id, event_type, body, created_at) \
                 VALUES ('e1', '{organization}', 'lead.created', \
                 '{{\"data\":{{\"id\":\"{lead_id}\"}}}}', 0); \
                 INSERT INTO webhook_deliveries (id, organization_id, subscription_id, \
                 event_id, status, created_at) VALUES ('d1', '{organization}', 's1', 'e1', \
                 'success', 0); \
                 INSERT INTO idempotent_answers VALUES ('{organization}', 'k', zeroblob(32), \
                 201, CAST('{{\"data\":{{\"id\":\"{lead_id}\"}}}}' AS BLOB), 0, 1);"
            ))
            .expect("rows stored before erasure");
        drop(before);

        let store = SqliteStore::open(&path, crate::store::test_events()).expect("migrate");
        let raw = Connection::open(&path).expect("raw");
        let matched: Vec<Option<String>> = ["webhook_events", "idempotent_answers"]
            .iter()
            .map(|table| {
                raw.query_row(&format!("SELECT lead_id FROM {table}"), [], |row| {
                    row.get(0)
                })
                .expect("lead_id")
            })
            .collect();
        assert_eq!(
            matched,
            [Some(lead_id.to_string()), Some(lead_id.to_string())]
        );
        let kept: String = raw
            .query_row(
                "SELECT secret FROM webhook_subscriptions WHERE id = 's1'",
                [],
                |row| row.get(0),
            )
            .expect("the subscription survived");
        assert_eq!(kept, "plain");
        // The deliveries still refer to the rebuilt table: a delivery to no subscription is
        // refused, as before.
        raw.pragma_update(None, "foreign_keys", "ON").expect("keys");
        let orphan = raw.execute(
            &format!(
                "INSERT INTO webhook_deliveries (id, organization_id, subscription_id, \
                 event_id, status, created_at) VALUES ('d2', '{organization}', 'nobody', 'e1', \
                 'pending', 0)"
            ),
            [],
        );
        assert!(orphan.is_err(), "{orphan:?}");
        store
            .webhook_subscription_insert(
                subscription(OrganizationId(organization), EventType::LeadDeleted),
                SealedSecret {
                    key_id: "k1".to_owned(),
                    sealed: "sealed".to_owned(),
                },
                25,
            )
            .await
            .expect("a subscription to lead.deleted");
    }
}
