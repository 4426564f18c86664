//! Rate limits counted in the database, for replicas that share it.
//!
//! The store keeps each bucket's GCRA state, its theoretical arrival time (TAT), and takes
//! a request from the key's and then the organization's in one round trip
//! ([`SharedRateLimits::rate_limit_take`]); this module
//! turns the TATs it returns into the same answers [`super::InProcess`] gives: the standing
//! of the limit closer to refusing, or a `429` saying when to retry.
//!
//! Every process reads the time from its own clock: replicas' clocks agree to within
//! milliseconds (NTP), and a limit's interval is a fraction of a minute.

use std::sync::Arc;
use std::time::Duration;

use crate::domain::{ApiKeyId, OrganizationId};
use crate::error::{Error, Limit};
use crate::store::{BucketTake, GcraQuota, RateBucket, SharedRateLimits, StoreError};

use super::{Limits, RateLimitStatus, ceil_seconds, unix_now};

const MICROS_PER_MINUTE: i64 = 60_000_000;

/// The limits of every key and organization, counted in the database.
pub struct Shared {
    buckets: Arc<dyn SharedRateLimits>,
    per_key: GcraQuota,
    per_organization: GcraQuota,
}

impl Shared {
    pub fn new(buckets: Arc<dyn SharedRateLimits>, limits: Limits) -> Self {
        Self {
            buckets,
            per_key: per_minute(limits.per_key),
            per_organization: per_minute(limits.per_organization),
        }
    }

    /// As [`super::RateLimiter::admit`].
    pub async fn admit(
        &self,
        key: ApiKeyId,
        organization: OrganizationId,
    ) -> Result<RateLimitStatus, Error> {
        let now = micros(unix_now());
        let (key, organization) = self
            .buckets
            .rate_limit_take(
                (RateBucket::Key(key), self.per_key),
                (
                    RateBucket::Organization(organization),
                    self.per_organization,
                ),
                now,
            )
            .await?;
        let key = standing(key, self.per_key, now)?;
        let organization = match organization {
            Some(take) => standing(take, self.per_organization, now)?,
            None => {
                return Err(StoreError::Internal(
                    "a rate-limit take skipped the organization after taking from the key"
                        .to_string(),
                )
                .into());
            }
        };
        Ok(if key.remaining <= organization.remaining {
            key
        } else {
            organization
        })
    }
}

/// A GCRA quota of `per_minute` requests a minute (at least one), as `governor` counts it,
/// to the microsecond: a limit over 60 million a minute counts as 60 million (an interval
/// of zero would let a bucket refuse requests a clock's jitter apart).
fn per_minute(per_minute: u32) -> GcraQuota {
    let burst = per_minute.max(1);
    GcraQuota {
        interval_micros: (MICROS_PER_MINUTE / i64::from(burst)).max(1),
        burst,
    }
}

/// The standing after a take at `now`, or the `429` of a refused one.
fn standing(take: BucketTake, quota: GcraQuota, now: i64) -> Result<RateLimitStatus, Error> {
    match take {
        BucketTake::Taken { tat_micros } => {
            let room = quota.capacity_micros() - (tat_micros - now);
            let remaining = (room / quota.interval_micros.max(1)).clamp(0, i64::from(quota.burst));
            Ok(RateLimitStatus {
                limit: quota.burst,
                remaining: u32::try_from(remaining).unwrap_or(0),
                reset: unix_seconds_up(tat_micros),
            })
        }
        BucketTake::Refused { tat_micros } => {
            // Room for one request once `max(tat, t) + interval <= t + capacity`.
            let wait = tat_micros + quota.interval_micros - quota.capacity_micros() - now;
            Err(Error::RateLimited {
                retry_after: ceil_seconds(duration(wait)).max(1),
                limit: Limit::Caller,
                standing: RateLimitStatus {
                    limit: quota.burst,
                    remaining: 0,
                    reset: unix_seconds_up(tat_micros),
                },
            })
        }
    }
}

fn micros(since_epoch: Duration) -> i64 {
    i64::try_from(since_epoch.as_micros()).unwrap_or(i64::MAX)
}

fn duration(micros: i64) -> Duration {
    Duration::from_micros(u64::try_from(micros).unwrap_or(0))
}

fn unix_seconds_up(micros: i64) -> u64 {
    ceil_seconds(duration(micros))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bucket as the store's contract defines it, in memory.
    fn take(tat: &mut Option<i64>, quota: GcraQuota, now: i64) -> BucketTake {
        let next = tat.unwrap_or(now).max(now) + quota.interval_micros;
        if next <= now + quota.capacity_micros() {
            *tat = Some(next);
            BucketTake::Taken { tat_micros: next }
        } else {
            BucketTake::Refused {
                tat_micros: tat.unwrap_or(now),
            }
        }
    }

    const NOW: i64 = 1_700_000_000_000_000;

    #[test]
    fn a_bucket_gives_its_limit_then_one_request_per_interval() {
        let quota = per_minute(2);
        assert_eq!(quota.interval_micros, 30_000_000);
        let mut tat = None;
        let first = standing(take(&mut tat, quota, NOW), quota, NOW).unwrap();
        assert_eq!((first.limit, first.remaining), (2, 1));
        let second = standing(take(&mut tat, quota, NOW), quota, NOW).unwrap();
        assert_eq!(second.remaining, 0);
        // Empty: full again a minute from now.
        assert_eq!(second.reset, 1_700_000_060);
        let Err(Error::RateLimited {
            retry_after,
            limit,
            standing: refused,
        }) = standing(take(&mut tat, quota, NOW), quota, NOW)
        else {
            panic!("not refused");
        };
        assert_eq!((retry_after, limit), (30, Limit::Caller));
        assert_eq!(
            (refused.limit, refused.remaining, refused.reset),
            (2, 0, 1_700_000_060)
        );
        let later = NOW + 30_000_000;
        assert_eq!(
            standing(take(&mut tat, quota, later), quota, later)
                .unwrap()
                .remaining,
            0
        );
        assert!(standing(take(&mut tat, quota, later), quota, later).is_err());
    }

    #[test]
    fn a_refusal_never_says_to_retry_in_less_than_a_second() {
        let quota = per_minute(6_000);
        let mut tat = None;
        while standing(take(&mut tat, quota, NOW), quota, NOW).is_ok() {}
        let Err(Error::RateLimited { retry_after, .. }) =
            standing(take(&mut tat, quota, NOW), quota, NOW)
        else {
            panic!("not refused");
        };
        assert_eq!(retry_after, 1);
    }

    /// The benchmark's "out of reach" limit must stay out of reach.
    #[test]
    fn a_huge_limit_is_never_reached() {
        let quota = per_minute(u32::MAX);
        assert_eq!(quota.interval_micros, 1);
        let mut tat = None;
        for jitter in [0, 5, -3, 2, -4, 1, 0] {
            let now = NOW + jitter;
            assert!(standing(take(&mut tat, quota, now), quota, now).is_ok());
        }
    }

    #[test]
    fn a_quota_of_zero_counts_as_one() {
        assert_eq!(
            per_minute(0),
            GcraQuota {
                interval_micros: MICROS_PER_MINUTE,
                burst: 1
            }
        );
    }
}
