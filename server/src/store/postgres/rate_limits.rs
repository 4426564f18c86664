//! The `rate_limit_buckets` table: the GCRA state of every key's and organization's limit,
//! shared by the replicas serving the database ([`SharedRateLimits`]).
//!
//! A request's two takes (its key's, then its organization's) are one statement, so they cost
//! one round trip, and each is atomic however many replicas take from the bucket at once: an
//! upsert's `WHERE` refuses a full bucket without changing it, and returns no row then. The
//! organization's upsert runs only if the key's returned a row. The final `SELECT` reads the
//! table as it was before the statement (data-modifying `WITH` clauses are not visible to it),
//! which is a refused bucket's TAT: it only says when to retry.
//!
//! The statement runs on the store's rate-limit connections, which do not wait for the commit
//! to reach the disk (`synchronous_commit = off`, [`super::RATE_LIMIT_CONNECTION_OPTIONS`]): a
//! database crash may forget the last fraction of a second of counts, which lets a few
//! requests too many through, while every request's count is a write.

use async_trait::async_trait;

use super::errors::Context;
use super::statements::query;
use super::{PostgresStore, retrying};
use crate::store::{BucketTake, GcraQuota, RateBucket, SharedRateLimits, StoreError};

/// Takes from `$1` (quota `$3`, `$4`) and, if it had room, from `$2` (quota `$5`, `$6`) at
/// `$7`: taken if `max(tat, now) + interval <= now + capacity`. A new bucket's first take
/// always fits (interval <= capacity).
const TAKE: &str = "\
    WITH first AS ( \
        INSERT INTO rate_limit_buckets AS b (bucket, tat) VALUES ($1, $7::bigint + $3::bigint) \
        ON CONFLICT (bucket) DO UPDATE SET tat = GREATEST(b.tat, $7) + $3 \
        WHERE GREATEST(b.tat, $7) + $3 <= $7::bigint + $4::bigint \
        RETURNING tat \
    ), then_ AS ( \
        INSERT INTO rate_limit_buckets AS b (bucket, tat) \
        SELECT $2, $7::bigint + $5::bigint WHERE EXISTS (SELECT 1 FROM first) \
        ON CONFLICT (bucket) DO UPDATE SET tat = GREATEST(b.tat, $7) + $5 \
        WHERE GREATEST(b.tat, $7) + $5 <= $7::bigint + $6::bigint \
        RETURNING tat \
    ) \
    SELECT (SELECT tat FROM first), (SELECT tat FROM then_), \
           (SELECT tat FROM rate_limit_buckets WHERE bucket = $1), \
           (SELECT tat FROM rate_limit_buckets WHERE bucket = $2)";

/// The bucket's name in the table.
fn name(bucket: RateBucket) -> String {
    match bucket {
        RateBucket::Key(key) => format!("key:{}", key.0),
        RateBucket::Organization(organization) => format!("organization:{}", organization.0),
    }
}

/// A take's outcome from the TAT it set (if taken) and the TAT before the statement (if the
/// bucket existed); `now` stands for a bucket that did not.
fn outcome(taken: Option<i64>, before: Option<i64>, now: i64) -> BucketTake {
    match taken {
        Some(tat_micros) => BucketTake::Taken { tat_micros },
        None => BucketTake::Refused {
            tat_micros: before.unwrap_or(now),
        },
    }
}

#[async_trait]
impl SharedRateLimits for PostgresStore {
    async fn rate_limit_take(
        &self,
        (first, first_quota): (RateBucket, GcraQuota),
        (then, then_quota): (RateBucket, GcraQuota),
        now_micros: i64,
    ) -> Result<(BucketTake, Option<BucketTake>), StoreError> {
        let (first_name, then_name) = (name(first), name(then));
        let rows = retrying(&self.metrics.contention_retries, || async {
            let client = self.rate_limit_client().await?;
            query(
                &client,
                "taking from rate-limit buckets",
                TAKE,
                &[
                    &first_name,
                    &then_name,
                    &first_quota.interval_micros,
                    &first_quota.capacity_micros(),
                    &then_quota.interval_micros,
                    &then_quota.capacity_micros(),
                    &now_micros,
                ],
            )
            .await
        })
        .await?;
        let row = rows
            .first()
            .ok_or_else(|| StoreError::Internal("a rate-limit take returned no row".into()))?;
        let column = |index: usize| -> Result<Option<i64>, StoreError> {
            row.try_get(index).context("reading a rate-limit bucket")
        };
        let first = outcome(column(0)?, column(2)?, now_micros);
        let then = match first {
            BucketTake::Taken { .. } => Some(outcome(column(1)?, column(3)?, now_micros)),
            BucketTake::Refused { .. } => None,
        };
        Ok((first, then))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use uuid::Uuid;

    use super::super::tests::open;
    use super::*;
    use crate::domain::{ApiKeyId, OrganizationId};

    const NOW: i64 = 1_700_000_000_000_000;
    const TWO_A_MINUTE: GcraQuota = GcraQuota {
        interval_micros: 30_000_000,
        burst: 2,
    };
    const THREE_A_MINUTE: GcraQuota = GcraQuota {
        interval_micros: 20_000_000,
        burst: 3,
    };

    fn key() -> (RateBucket, GcraQuota) {
        (RateBucket::Key(ApiKeyId(Uuid::new_v4())), TWO_A_MINUTE)
    }

    fn organization() -> (RateBucket, GcraQuota) {
        (
            RateBucket::Organization(OrganizationId(Uuid::new_v4())),
            THREE_A_MINUTE,
        )
    }

    const fn taken(tat_micros: i64) -> BucketTake {
        BucketTake::Taken { tat_micros }
    }

    #[cfg_attr(
        not(leads_postgres),
        ignore = "needs PostgreSQL: set LEADS_TEST_POSTGRES_URL"
    )]
    #[tokio::test]
    async fn a_bucket_gives_its_burst_then_one_request_per_interval() {
        let (_database, store, _) = open().await;
        let (key, organization) = (key(), organization());
        let take = |now| store.rate_limit_take(key, organization, now);
        let half_a_minute = 30_000_000;
        assert_eq!(
            take(NOW).await.unwrap(),
            (taken(NOW + half_a_minute), Some(taken(NOW + 20_000_000)))
        );
        assert_eq!(
            take(NOW).await.unwrap(),
            (
                taken(NOW + 2 * half_a_minute),
                Some(taken(NOW + 40_000_000))
            )
        );
        let refused = BucketTake::Refused {
            tat_micros: NOW + 2 * half_a_minute,
        };
        assert_eq!(
            take(NOW + 1).await.unwrap(),
            (refused, None),
            "a refused key changes nothing, and costs its organization nothing"
        );
        assert_eq!(
            take(NOW + half_a_minute).await.unwrap(),
            (
                taken(NOW + 3 * half_a_minute),
                Some(taken(NOW + 60_000_000))
            )
        );
        // Long unused: full again, as if new.
        let later = NOW + 3_600_000_000;
        assert_eq!(
            take(later).await.unwrap(),
            (
                taken(later + half_a_minute),
                Some(taken(later + 20_000_000))
            )
        );
    }

    /// The organization's limit spans its keys; a key it refuses has still used its own.
    #[cfg_attr(
        not(leads_postgres),
        ignore = "needs PostgreSQL: set LEADS_TEST_POSTGRES_URL"
    )]
    #[tokio::test]
    async fn the_organization_refuses_once_its_keys_together_used_it_up() {
        let (_database, store, _) = open().await;
        let organization = organization();
        for _ in 0..3 {
            let (first, then) = store
                .rate_limit_take(key(), organization, NOW)
                .await
                .unwrap();
            assert!(matches!(first, BucketTake::Taken { .. }));
            assert!(matches!(then, Some(BucketTake::Taken { .. })));
        }
        let (first, then) = store
            .rate_limit_take(key(), organization, NOW)
            .await
            .unwrap();
        assert!(matches!(first, BucketTake::Taken { .. }));
        assert_eq!(
            then,
            Some(BucketTake::Refused {
                tat_micros: NOW + 60_000_000
            })
        );
    }

    /// However many connections take at once, a bucket gives exactly its burst.
    #[cfg_attr(
        not(leads_postgres),
        ignore = "needs PostgreSQL: set LEADS_TEST_POSTGRES_URL"
    )]
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_takes_never_exceed_the_burst() {
        let (_database, store, _) = open().await;
        let store = Arc::new(store);
        let key = (
            RateBucket::Key(ApiKeyId(Uuid::new_v4())),
            GcraQuota {
                interval_micros: 6_000_000,
                burst: 10,
            },
        );
        let organization = (
            organization().0,
            GcraQuota {
                interval_micros: 1,
                burst: 1_000_000,
            },
        );
        let takes: Vec<_> = (0..50)
            .map(|_| {
                let store = Arc::clone(&store);
                tokio::spawn(async move { store.rate_limit_take(key, organization, NOW).await })
            })
            .collect();
        let mut taken = 0;
        for take in takes {
            if let (BucketTake::Taken { .. }, _) = take.await.unwrap().unwrap() {
                taken += 1;
            }
        }
        assert_eq!(taken, 10);
    }

    /// Counts are not flushed before the answer; the data's writes always are.
    #[cfg_attr(
        not(leads_postgres),
        ignore = "needs PostgreSQL: set LEADS_TEST_POSTGRES_URL"
    )]
    #[tokio::test]
    async fn only_rate_limit_connections_commit_without_waiting_for_the_disk() {
        let (_database, store, _) = open().await;
        let setting = |row: Vec<tokio_postgres::Row>| -> String { row[0].get(0) };
        let limits = store.rate_limit_client().await.unwrap();
        let data = store.client().await.unwrap();
        let show = "SHOW synchronous_commit";
        assert_eq!(setting(limits.query(show, &[]).await.unwrap()), "off");
        assert_eq!(setting(data.query(show, &[]).await.unwrap()), "on");
    }
}
