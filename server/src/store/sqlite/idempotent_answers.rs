//! The `idempotent_answers` table: the answer kept for each organization's `Idempotency-Key`
//! until it expires, stored with the lead it created, found by retries, and swept once
//! expired.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension};
use uuid::Uuid;

use super::errors::Context;
use super::values::{from_micros, id_text, micros};
use crate::domain::OrganizationId;
use crate::store::{IdempotentAnswer, StoreError};

/// How many expired answers one sweep statement deletes: the sweep gives the writer back
/// between batches, so that requests' writes need not wait for a large sweep to finish.
pub(super) const SWEEP_BATCH: u32 = 1000;

/// The organization's answer under a key, unless expired at a time.
const FIND: &str = "SELECT fingerprint, status, body, created_at, expires_at \
    FROM idempotent_answers \
    WHERE organization_id = ? AND idempotency_key = ? AND expires_at > ?";

/// Deletes at most a number of answers expired at a time. A plain `DELETE … LIMIT` needs a
/// compile-time option of SQLite; the subquery does not.
const SWEEP_BATCH_SQL: &str = "DELETE FROM idempotent_answers WHERE rowid IN \
    (SELECT rowid FROM idempotent_answers WHERE expires_at <= ? LIMIT ?)";

/// Stores `answer`, which holds the lead `lead` (what erasing the lead finds it by),
/// replacing an answer under its key that has expired by the answer's `created_at`;
/// [`StoreError::IdempotencyKeyTaken`] if one under its key has not.
pub(super) fn keep(
    connection: &Connection,
    answer: &IdempotentAnswer,
    lead: Uuid,
) -> Result<(), StoreError> {
    let IdempotentAnswer {
        organization,
        key,
        fingerprint,
        status,
        body,
        created_at,
        expires_at,
    } = answer;
    // One statement decides, under the primary key: no answer can slip in between a check
    // and the insert. An unexpired answer fails the `WHERE`, so no row changes.
    let stored = connection
        .prepare_cached(
            "INSERT INTO idempotent_answers (organization_id, idempotency_key, fingerprint, \
             status, body, created_at, expires_at, lead_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (organization_id, idempotency_key) DO UPDATE SET \
             fingerprint = excluded.fingerprint, status = excluded.status, \
             body = excluded.body, created_at = excluded.created_at, \
             expires_at = excluded.expires_at, lead_id = excluded.lead_id \
             WHERE idempotent_answers.expires_at <= excluded.created_at",
        )
        .and_then(|mut statement| {
            statement.execute((
                id_text(organization.0),
                key,
                fingerprint,
                i64::from(*status),
                body,
                micros(*created_at),
                micros(*expires_at),
                id_text(lead),
            ))
        })
        .context("storing an idempotent answer")?;
    if stored == 0 {
        return Err(StoreError::IdempotencyKeyTaken);
    }
    Ok(())
}

/// The organization's answer under `key`, unless it has expired at `now`.
pub(super) fn find(
    connection: &Connection,
    organization: OrganizationId,
    key: &str,
    now: DateTime<Utc>,
) -> Result<Option<IdempotentAnswer>, StoreError> {
    type Row = ([u8; 32], i64, Vec<u8>, i64, i64);
    let found: Option<Row> = connection
        .prepare_cached(FIND)
        .and_then(|mut statement| {
            statement
                .query_row((id_text(organization.0), key, micros(now)), |row| {
                    row.try_into()
                })
                .optional()
        })
        .context("finding an idempotent answer")?;
    found
        .map(|(fingerprint, status, body, created_at, expires_at)| {
            Ok(IdempotentAnswer {
                organization,
                key: key.to_owned(),
                fingerprint,
                status: u16::try_from(status).map_err(|_| {
                    StoreError::Internal(format!(
                        "idempotent_answers.status {status} is not an HTTP status"
                    ))
                })?,
                body,
                created_at: from_micros(created_at, "idempotent_answers.created_at")?,
                expires_at: from_micros(expires_at, "idempotent_answers.expires_at")?,
            })
        })
        .transpose()
}

/// Deletes at most [`SWEEP_BATCH`] answers expired at `now`, of any organization, and returns
/// how many: fewer than a batch once none is left.
pub(super) fn sweep_batch(connection: &Connection, now: DateTime<Utc>) -> Result<u64, StoreError> {
    let deleted = connection
        .prepare_cached(SWEEP_BATCH_SQL)
        .and_then(|mut statement| statement.execute((micros(now), SWEEP_BATCH)))
        .context("sweeping expired idempotent answers")?;
    u64::try_from(deleted)
        .map_err(|error| StoreError::Internal(format!("counting swept answers: {error}")))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{open, plan, raw};
    use super::*;
    use crate::store::prelude::*;
    use crate::store::suite::{T0, at};

    #[tokio::test]
    async fn a_sweep_of_more_than_a_batch_deletes_every_expired_answer() {
        let (dir, store, organization) = open().await;
        let expired = 2 * u64::from(SWEEP_BATCH) + 7;
        let mut raw = raw(&dir);
        let transaction = raw.transaction().expect("transaction");
        for n in 0..expired + 3 {
            // The last three expire after the sweep's `now`.
            let expires_at = if n < expired { T0 } else { T0 + 2 };
            transaction
                .execute(
                    "INSERT INTO idempotent_answers VALUES (?, ?, zeroblob(32), 201, x'', ?, ?, NULL)",
                    (id_text(organization.0), format!("key-{n}"), T0, expires_at),
                )
                .expect("insert");
        }
        transaction.commit().expect("commit");
        assert_eq!(
            store
                .idempotent_answers_sweep(at(T0 + 1))
                .await
                .expect("sweep"),
            expired
        );
        let left: i64 = raw
            .query_row("SELECT count(*) FROM idempotent_answers", [], |row| {
                row.get(0)
            })
            .expect("count");
        assert_eq!(left, 3);
    }

    #[tokio::test]
    async fn find_and_sweep_each_search_an_index() {
        let (dir, _store, _) = open().await;
        let raw = raw(&dir);
        // The primary key's index, on both of its columns.
        let find = plan(&raw, FIND, ("o", "k", 0));
        assert!(
            find.contains(
                "sqlite_autoindex_idempotent_answers_1 (organization_id=? AND idempotency_key=?)"
            ),
            "{find}"
        );
        let sweep = plan(&raw, SWEEP_BATCH_SQL, (0, SWEEP_BATCH));
        assert!(sweep.contains("idempotent_answers_by_expiry"), "{sweep}");
        assert!(!sweep.contains("SCAN idempotent_answers"), "{sweep}");
    }
}
