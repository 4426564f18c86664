//! The `rate_limit_buckets` table: the GCRA state of every key's and organization's limit,
//! shared by the replicas serving the database ([`SharedRateLimits`]).
//!
//! A take is one statement, so it is atomic however many replicas take from the bucket at
//! once: the upsert's `WHERE` refuses a full bucket without changing it, and returns no row
//! then; a second read gives the refused bucket's TAT, which only says when to retry.

use async_trait::async_trait;

use super::PostgresStore;
use super::errors::{Context, internal};
use super::statements::query_opt;
use crate::store::{BucketTake, GcraQuota, RateBucket, SharedRateLimits, StoreError};

/// The bucket's name in the table.
fn name(bucket: RateBucket) -> String {
    match bucket {
        RateBucket::Key(key) => format!("key:{}", key.0),
        RateBucket::Organization(organization) => format!("organization:{}", organization.0),
    }
}

#[async_trait]
impl SharedRateLimits for PostgresStore {
    async fn rate_limit_take(
        &self,
        bucket: RateBucket,
        quota: GcraQuota,
        now_micros: i64,
    ) -> Result<BucketTake, StoreError> {
        let client = self.client().await?;
        let bucket = name(bucket);
        // $2 now, $3 the interval, $4 the capacity: taken if max(tat, now) + interval <= now +
        // capacity. A new bucket's first take always fits (interval <= capacity).
        let taken = query_opt(
            &client,
            "taking from a rate-limit bucket",
            "INSERT INTO rate_limit_buckets AS b (bucket, tat) \
             VALUES ($1, $2::bigint + $3::bigint) \
             ON CONFLICT (bucket) DO UPDATE SET tat = GREATEST(b.tat, $2) + $3 \
             WHERE GREATEST(b.tat, $2) + $3 <= $2::bigint + $4::bigint \
             RETURNING tat",
            &[
                &bucket,
                &now_micros,
                &quota.interval_micros,
                &quota.capacity_micros(),
            ],
        )
        .await?;
        if let Some(row) = taken {
            let tat_micros = row.try_get(0).context("reading a bucket")?;
            return Ok(BucketTake::Taken { tat_micros });
        }
        let full = query_opt(
            &client,
            "reading a full rate-limit bucket",
            "SELECT tat FROM rate_limit_buckets WHERE bucket = $1",
            &[&bucket],
        )
        .await?
        .ok_or_else(|| internal("a bucket that refused a request has no row"))?;
        let tat_micros = full.try_get(0).context("reading a bucket")?;
        Ok(BucketTake::Refused { tat_micros })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use uuid::Uuid;

    use super::super::tests::open;
    use super::*;
    use crate::domain::ApiKeyId;

    const NOW: i64 = 1_700_000_000_000_000;
    const TWO_A_MINUTE: GcraQuota = GcraQuota {
        interval_micros: 30_000_000,
        burst: 2,
    };

    fn new_bucket() -> RateBucket {
        RateBucket::Key(ApiKeyId(Uuid::new_v4()))
    }

    #[tokio::test]
    async fn a_bucket_gives_its_burst_then_one_request_per_interval() {
        let Some((_database, store, _)) = open().await else {
            return;
        };
        let bucket = new_bucket();
        let take = |now| store.rate_limit_take(bucket, TWO_A_MINUTE, now);
        assert_eq!(
            take(NOW).await.unwrap(),
            BucketTake::Taken {
                tat_micros: NOW + 30_000_000
            }
        );
        assert_eq!(
            take(NOW).await.unwrap(),
            BucketTake::Taken {
                tat_micros: NOW + 60_000_000
            }
        );
        assert_eq!(
            take(NOW + 1).await.unwrap(),
            BucketTake::Refused {
                tat_micros: NOW + 60_000_000
            },
            "a refusal changes nothing"
        );
        assert_eq!(
            take(NOW + 30_000_000).await.unwrap(),
            BucketTake::Taken {
                tat_micros: NOW + 90_000_000
            }
        );
        // Long unused: full again, as if new.
        let later = NOW + 3_600_000_000;
        assert_eq!(
            take(later).await.unwrap(),
            BucketTake::Taken {
                tat_micros: later + 30_000_000
            }
        );
        let other = store
            .rate_limit_take(new_bucket(), TWO_A_MINUTE, NOW)
            .await
            .unwrap();
        assert!(matches!(other, BucketTake::Taken { .. }), "another bucket");
    }

    /// However many connections take at once, a bucket gives exactly its burst.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_takes_never_exceed_the_burst() {
        let Some((_database, store, _)) = open().await else {
            return;
        };
        let store = Arc::new(store);
        let (bucket, quota) = (
            new_bucket(),
            GcraQuota {
                interval_micros: 6_000_000,
                burst: 10,
            },
        );
        let takes: Vec<_> = (0..50)
            .map(|_| {
                let store = Arc::clone(&store);
                tokio::spawn(async move { store.rate_limit_take(bucket, quota, NOW).await })
            })
            .collect();
        let mut taken = 0;
        for take in takes {
            if let BucketTake::Taken { .. } = take.await.unwrap().unwrap() {
                taken += 1;
            }
        }
        assert_eq!(taken, 10);
    }
}
