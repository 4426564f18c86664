//! Rate limits: so many requests a minute per API key and per organization, enforced with
//! GCRA (the `governor` crate). A limit of `n` a minute is a bucket of `n` requests that
//! refills one request every `60/n` seconds, so no caller can make twice its limit across a
//! boundary, as fixed one-minute windows allowed.
//!
//! The `X-RateLimit-*` headers describe whichever limit is closer to refusing: its size, the
//! requests it still allows at once, and when it is full again (Unix seconds).
//!
//! One process serving its database alone (SQLite) counts in memory ([`InProcess`]). Replicas
//! sharing a database (PostgreSQL) count in it ([`shared`]), so that a key's limit holds across
//! all of them: each request then costs a database round trip per limit.
//!
//! Before a key is known, its requests are limited by the client's address instead
//! ([`AddressLimiter`]): each key the server has not yet seen valid costs a database lookup,
//! and a flood of made-up keys must not be able to queue those lookups ahead of everyone's.
//! That limit protects each process's own lookups, so each counts it alone.

mod shared;

use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use governor::clock::{Clock, DefaultClock};
use governor::middleware::{StateInformationMiddleware, StateSnapshot};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{NotUntil, Quota};

use crate::domain::{ApiKeyId, OrganizationId};
use crate::error::{Error, Limit};
use crate::store::Store;

/// How many requests a minute each caller may make.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub per_key: u32,
    pub per_organization: u32,
    /// Keys not yet seen valid that one client address may present a minute; `0` for no
    /// limit (behind a proxy, where every client shares the proxy's address).
    pub unfamiliar_keys_per_address: u32,
}

impl Default for Limits {
    /// Aura's documented limits.
    fn default() -> Self {
        Self {
            per_key: 100,
            per_organization: 1000,
            unfamiliar_keys_per_address: 600,
        }
    }
}

/// Where a caller stands: the `X-RateLimit-*` headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimitStatus {
    /// The limit that applies (the one closer to refusing), in requests a minute.
    pub limit: u32,
    /// Requests it still allows at once.
    pub remaining: u32,
    /// When it is full again, in Unix seconds.
    pub reset: u64,
}

type Keyed<K, C> =
    governor::RateLimiter<K, DefaultKeyedStateStore<K>, C, StateInformationMiddleware>;

/// The limits of every key and organization, counted where the store says they must be.
pub enum RateLimiter {
    /// In this process's memory: the database has no other server.
    InProcess(Box<InProcess>),
    /// In the database, shared by every replica serving it.
    Shared(shared::Shared),
}

impl RateLimiter {
    /// Counts in `store`'s shared buckets if it has them, else in memory.
    pub fn for_store(store: &Arc<dyn Store>, limits: Limits) -> Self {
        match Arc::clone(store).shared_rate_limits() {
            Some(buckets) => Self::Shared(shared::Shared::new(buckets, limits)),
            None => Self::InProcess(Box::new(InProcess::new(limits))),
        }
    }

    /// Counts one request of `key`; `Err` saying when to retry if a limit refuses it. The key's
    /// limit is asked first, so a refused key costs its organization nothing.
    pub async fn admit(
        &self,
        key: ApiKeyId,
        organization: OrganizationId,
    ) -> Result<RateLimitStatus, Error> {
        match self {
            Self::InProcess(limiter) => limiter.admit(key, organization),
            Self::Shared(limiter) => limiter.admit(key, organization).await,
        }
    }
}

/// The limits of every key and organization, counted in this process.
pub struct InProcess<C: Clock = DefaultClock> {
    keys: Keyed<ApiKeyId, C>,
    organizations: Keyed<OrganizationId, C>,
    clock: C,
}

impl InProcess {
    pub fn new(limits: Limits) -> Self {
        Self::with_clock(limits, DefaultClock::default())
    }
}

impl<C: Clock + Clone> InProcess<C> {
    fn with_clock(limits: Limits, clock: C) -> Self {
        Self {
            keys: keyed(limits.per_key, &clock),
            organizations: keyed(limits.per_organization, &clock),
            clock,
        }
    }

    /// As [`RateLimiter::admit`].
    pub fn admit(
        &self,
        key: ApiKeyId,
        organization: OrganizationId,
    ) -> Result<RateLimitStatus, Error> {
        let key = self
            .keys
            .check_key(&key)
            .map_err(|n| refusal(&self.clock, &n, Limit::Caller))?;
        let organization = self
            .organizations
            .check_key(&organization)
            .map_err(|n| refusal(&self.clock, &n, Limit::Caller))?;
        let applies = if key.remaining_burst_capacity() <= organization.remaining_burst_capacity() {
            key
        } else {
            organization
        };
        Ok(status(&applies, unix_now()))
    }
}

/// How many addresses the [`AddressLimiter`] tracks before it forgets those whose budget has
/// refilled, so that a flood from many addresses cannot grow its memory without bound.
const TRACKED_ADDRESSES: usize = 100_000;

/// A limit per client address on the keys it presents that the server has not yet seen valid.
/// An IPv6 client is counted by its /64, the block one host is usually given, so that it
/// cannot escape the limit by changing the low bits of its address.
pub struct AddressLimiter<C: Clock = DefaultClock> {
    addresses: Option<Keyed<IpAddr, C>>,
    clock: C,
}

impl AddressLimiter {
    /// `per_minute` unfamiliar keys a minute per address; `0` for no limit.
    pub fn new(per_minute: u32) -> Self {
        Self::with_clock(per_minute, DefaultClock::default())
    }
}

impl<C: Clock + Clone> AddressLimiter<C> {
    fn with_clock(per_minute: u32, clock: C) -> Self {
        let addresses = (per_minute > 0).then(|| keyed(per_minute, &clock));
        Self { addresses, clock }
    }

    /// Counts one unfamiliar key presented from `address`; `Err` saying when to retry if the
    /// address has presented too many.
    pub fn admit(&self, address: IpAddr) -> Result<(), Error> {
        let Some(addresses) = &self.addresses else {
            return Ok(());
        };
        if addresses.len() >= TRACKED_ADDRESSES {
            addresses.retain_recent();
        }
        addresses
            .check_key(&counted_as(address))
            .map(drop)
            .map_err(|not_until| refusal(&self.clock, &not_until, Limit::Address))
    }
}

/// The address a client is counted as: IPv4 as it is, IPv6 by its /64.
pub(crate) fn counted_as(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((v6.to_bits() & !u128::from(u64::MAX)).into()),
        },
    }
}

/// The `429` of a limit that refused until `not_until`.
fn refusal<C: Clock>(clock: &C, not_until: &NotUntil<C::Instant>, limit: Limit) -> Error {
    let wait = not_until.wait_time_from(clock.now());
    let quota = not_until.quota();
    let burst = quota.burst_size().get();
    // Empty now; the first request refills after `wait`, the rest one interval apart.
    let until_full = wait + quota.replenish_interval() * burst.saturating_sub(1);
    Error::RateLimited {
        retry_after: ceil_seconds(wait).max(1),
        limit,
        standing: RateLimitStatus {
            limit: burst,
            remaining: 0,
            reset: ceil_seconds(unix_now() + until_full),
        },
    }
}

/// A GCRA limiter of `per_minute` requests a minute per `K` (at least one).
fn keyed<K: Clone + Hash + Eq, C: Clock + Clone>(per_minute: u32, clock: &C) -> Keyed<K, C> {
    let quota = Quota::per_minute(NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN));
    governor::RateLimiter::new(quota, DefaultKeyedStateStore::default(), clock.clone())
}

/// The headers' view of a limit's state after a request it let through.
fn status(state: &StateSnapshot, now: Duration) -> RateLimitStatus {
    let quota = state.quota();
    let limit = quota.burst_size().get();
    let remaining = state.remaining_burst_capacity();
    // Each request taken refills after one replenish interval.
    let until_full = quota.replenish_interval() * limit.saturating_sub(remaining);
    RateLimitStatus {
        limit,
        remaining,
        reset: ceil_seconds(now + until_full),
    }
}

fn unix_now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

fn ceil_seconds(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use governor::clock::FakeRelativeClock;
    use uuid::Uuid;

    use super::*;

    fn ids() -> (ApiKeyId, OrganizationId) {
        (ApiKeyId(Uuid::new_v4()), OrganizationId(Uuid::new_v4()))
    }

    fn limiter(
        per_key: u32,
        per_organization: u32,
    ) -> (InProcess<FakeRelativeClock>, FakeRelativeClock) {
        let clock = FakeRelativeClock::default();
        let limits = Limits {
            per_key,
            per_organization,
            ..Limits::default()
        };
        (InProcess::with_clock(limits, clock.clone()), clock)
    }

    #[test]
    fn a_key_gets_its_limit_then_one_request_per_interval() {
        let (limiter, clock) = limiter(2, 10);
        let (key, org) = ids();
        let first = limiter.admit(key, org).unwrap();
        assert_eq!((first.limit, first.remaining), (2, 1));
        assert_eq!(limiter.admit(key, org).unwrap().remaining, 0);
        let Error::RateLimited {
            retry_after,
            limit,
            standing,
        } = limiter.admit(key, org).unwrap_err()
        else {
            panic!("not a rate limit");
        };
        assert_eq!((retry_after, limit), (30, Limit::Caller));
        assert_eq!((standing.limit, standing.remaining), (2, 0));
        // Empty: one request back in 30 s, the other 30 s later.
        let expected = ceil_seconds(unix_now() + Duration::from_secs(60));
        assert!(standing.reset.abs_diff(expected) <= 1, "{standing:?}");
        clock.advance(Duration::from_secs(30));
        assert_eq!(limiter.admit(key, org).unwrap().remaining, 0);
        assert!(limiter.admit(key, org).is_err());
    }

    /// Fixed windows let 2 × the limit through around a boundary; GCRA never more than the
    /// limit in any minute.
    #[test]
    fn no_double_burst_at_any_boundary() {
        let (limiter, clock) = limiter(60, 1000);
        let (key, org) = ids();
        let mut admitted = 0;
        // A burst just before a fixed window would end, and another just after.
        for _ in 0..60 {
            admitted += u32::from(limiter.admit(key, org).is_ok());
        }
        assert_eq!(admitted, 60);
        clock.advance(Duration::from_secs(59));
        let mut in_the_next_second = 0;
        for _ in 0..60 {
            in_the_next_second += u32::from(limiter.admit(key, org).is_ok());
        }
        assert_eq!(in_the_next_second, 59, "only what refilled in 59 s");
    }

    #[test]
    fn the_organization_limit_spans_its_keys_and_is_reported_when_closer() {
        let (limiter, _) = limiter(5, 3);
        let org = OrganizationId(Uuid::new_v4());
        let first = limiter.admit(ApiKeyId(Uuid::new_v4()), org).unwrap();
        assert_eq!(
            (first.limit, first.remaining),
            (3, 2),
            "the organization's is closer"
        );
        for _ in 0..2 {
            limiter.admit(ApiKeyId(Uuid::new_v4()), org).unwrap();
        }
        assert!(limiter.admit(ApiKeyId(Uuid::new_v4()), org).is_err());
        let (other_key, other_org) = ids();
        assert!(limiter.admit(other_key, other_org).is_ok());
    }

    #[test]
    fn reset_is_when_the_bucket_is_full_again() {
        let (limiter, _) = limiter(60, 1000);
        let (key, org) = ids();
        limiter.admit(key, org).unwrap();
        let second = limiter.admit(key, org).unwrap();
        // Two taken, one a second back: full again 2 s after now.
        let expected = ceil_seconds(unix_now() + Duration::from_secs(2));
        assert!(second.reset.abs_diff(expected) <= 1, "{second:?}");
    }

    #[test]
    fn an_address_gets_its_unfamiliar_keys_then_one_per_interval() {
        let clock = FakeRelativeClock::default();
        let limiter = AddressLimiter::with_clock(2, clock.clone());
        let address: IpAddr = [192, 0, 2, 1].into();
        assert!(limiter.admit(address).is_ok());
        assert!(limiter.admit(address).is_ok());
        assert!(matches!(
            limiter.admit(address),
            Err(Error::RateLimited {
                retry_after: 30,
                limit: Limit::Address,
                standing: RateLimitStatus {
                    limit: 2,
                    remaining: 0,
                    ..
                },
            })
        ));
        assert!(
            limiter.admit([192, 0, 2, 2].into()).is_ok(),
            "another address"
        );
        clock.advance(Duration::from_secs(30));
        assert!(limiter.admit(address).is_ok());
    }

    #[test]
    fn no_limit_when_zero() {
        let limiter = AddressLimiter::new(0);
        for _ in 0..10_000 {
            assert!(limiter.admit([192, 0, 2, 1].into()).is_ok());
        }
    }

    #[test]
    fn an_ipv6_host_is_counted_by_its_64() {
        let limiter = AddressLimiter::new(1);
        let host: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let same_64: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other_64: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert!(limiter.admit(host).is_ok());
        assert!(limiter.admit(same_64).is_err());
        assert!(limiter.admit(other_64).is_ok());
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert!(limiter.admit(mapped).is_ok());
        assert!(
            limiter.admit([192, 0, 2, 7].into()).is_err(),
            "the same IPv4 host"
        );
    }
}
