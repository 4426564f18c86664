//! The `idempotent_answers` table: the answer kept for each organization's `Idempotency-Key`
//! until it expires, stored with the lead it created, found by retries, and swept once
//! expired.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use uuid::Uuid;

use super::errors::Context;
use super::statements::{execute, query_opt};
use crate::domain::OrganizationId;
use crate::store::{IdempotentAnswer, StoreError};

/// How many expired answers one sweep statement deletes: a batch at a time keeps each
/// statement's locks few and short, so requests' writes never wait behind a large sweep.
pub(super) const SWEEP_BATCH: u32 = 1000;

/// Stores `answer`, which holds the lead `lead` (what erasing the lead finds it by),
/// replacing an answer under its key that has expired by the answer's `created_at`;
/// [`StoreError::IdempotencyKeyTaken`] if one under its key has not.
pub(super) async fn keep(
    client: &impl GenericClient,
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
    // One statement decides, under the primary key: a concurrent insert of the same key waits
    // for this one and then finds it. An unexpired answer fails the `WHERE`, so no row changes.
    let stored = execute(
        client,
        "storing an idempotent answer",
        "INSERT INTO idempotent_answers (organization_id, idempotency_key, fingerprint, \
         status, body, created_at, expires_at, lead_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (organization_id, idempotency_key) DO UPDATE SET \
         fingerprint = excluded.fingerprint, status = excluded.status, \
         body = excluded.body, created_at = excluded.created_at, \
         expires_at = excluded.expires_at, lead_id = excluded.lead_id \
         WHERE idempotent_answers.expires_at <= excluded.created_at",
        &[
            &organization.0,
            key,
            &fingerprint.as_slice(),
            &i32::from(*status),
            body,
            created_at,
            expires_at,
            &lead,
        ],
    )
    .await?;
    if stored == 0 {
        return Err(StoreError::IdempotencyKeyTaken);
    }
    Ok(())
}

/// The organization's answer under `key`, unless it has expired at `now`.
pub(super) async fn find(
    client: &impl GenericClient,
    organization: OrganizationId,
    key: &str,
    now: DateTime<Utc>,
) -> Result<Option<IdempotentAnswer>, StoreError> {
    let doing = "finding an idempotent answer";
    let Some(row) = query_opt(
        client,
        doing,
        "SELECT fingerprint, status, body, created_at, expires_at FROM idempotent_answers \
         WHERE organization_id = $1 AND idempotency_key = $2 AND expires_at > $3",
        &[&organization.0, &key, &now],
    )
    .await?
    else {
        return Ok(None);
    };
    let read = |row: Row| {
        Ok::<_, tokio_postgres::Error>((
            row.try_get::<_, Vec<u8>>(0)?,
            row.try_get::<_, i32>(1)?,
            row.try_get(2)?,
            row.try_get(3)?,
            row.try_get(4)?,
        ))
    };
    let (fingerprint, status, body, created_at, expires_at) = read(row).context(doing)?;
    let corrupt = |column: &str| {
        StoreError::Internal(format!(
            "the answer under {key:?} has a corrupt idempotent_answers.{column}"
        ))
    };
    Ok(Some(IdempotentAnswer {
        organization,
        key: key.to_owned(),
        fingerprint: fingerprint.try_into().map_err(|_| corrupt("fingerprint"))?,
        status: u16::try_from(status).map_err(|_| corrupt("status"))?,
        body,
        created_at,
        expires_at,
    }))
}

/// Deletes at most [`SWEEP_BATCH`] answers expired at `now`, of any organization, and returns
/// how many: fewer than a batch once none is left.
pub(super) async fn sweep_batch(
    client: &impl GenericClient,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    // `DELETE … LIMIT` is not PostgreSQL's; selecting the keys first is, and CockroachDB's.
    execute(
        client,
        "sweeping expired idempotent answers",
        "DELETE FROM idempotent_answers WHERE (organization_id, idempotency_key) IN \
         (SELECT organization_id, idempotency_key FROM idempotent_answers \
          WHERE expires_at <= $1 LIMIT $2)",
        &[&now, &i64::from(SWEEP_BATCH)],
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::super::tests::{open, raw};
    use super::*;
    use crate::store::prelude::*;
    use crate::store::suite::{T0, at};

    #[cfg_attr(
        not(leads_postgres),
        ignore = "needs PostgreSQL: set LEADS_TEST_POSTGRES_URL"
    )]
    #[tokio::test]
    async fn a_sweep_of_more_than_a_batch_deletes_every_expired_answer() {
        let (database, store, organization) = open().await;
        let expired = 2 * i64::from(SWEEP_BATCH) + 7;
        let raw = raw(&database).await;
        // The last three expire after the sweep's `now`.
        raw.execute(
            "INSERT INTO idempotent_answers \
             SELECT $1, 'key-' || n, decode(repeat('00', 32), 'hex'), 201, '', \
             $2::timestamptz, CASE WHEN n <= $4::bigint THEN $2 ELSE $3::timestamptz END \
             FROM generate_series(1, $4::bigint + 3) AS n",
            &[&organization.0, &at(T0), &at(T0 + 2), &expired],
        )
        .await
        .expect("insert");
        assert_eq!(
            store
                .idempotent_answers_sweep(at(T0 + 1))
                .await
                .expect("sweep"),
            expired.unsigned_abs()
        );
        let left: i64 = raw
            .query_one("SELECT count(*) FROM idempotent_answers", &[])
            .await
            .expect("count")
            .get(0);
        assert_eq!(left, 3);
    }
}
