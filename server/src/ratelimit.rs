//! Rate limits: so many requests a minute per API key and per organization, in fixed
//! one-minute windows (what `X-RateLimit-Reset` can describe exactly).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::domain::{ApiKeyId, OrganizationId};
use crate::error::Error;

/// The length of a window, in seconds.
const WINDOW_SECONDS: u64 = 60;

/// How many requests a window admits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub per_key: u32,
    pub per_organization: u32,
}

impl Default for Limits {
    /// Aura's documented limits.
    fn default() -> Self {
        Self {
            per_key: 100,
            per_organization: 1000,
        }
    }
}

/// Where a caller stands in the current window: the `X-RateLimit-*` headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimitStatus {
    pub limit: u32,
    pub remaining: u32,
    /// When the window ends, in Unix seconds.
    pub reset: u64,
}

/// Counts requests per key and per organization in the current window.
pub struct RateLimiter {
    limits: Limits,
    window: Mutex<Window>,
}

#[derive(Default)]
struct Window {
    /// Which window the counts are for (Unix seconds / [`WINDOW_SECONDS`]).
    index: u64,
    keys: HashMap<ApiKeyId, u32>,
    organizations: HashMap<OrganizationId, u32>,
}

impl RateLimiter {
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            window: Mutex::new(Window::default()),
        }
    }

    /// Counts one request of `key`; `Err` with the status to report if it is over a limit.
    pub fn admit(
        &self,
        key: ApiKeyId,
        organization: OrganizationId,
    ) -> Result<RateLimitStatus, Error> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs());
        self.admit_at(key, organization, now)
    }

    fn admit_at(
        &self,
        key: ApiKeyId,
        organization: OrganizationId,
        now: u64,
    ) -> Result<RateLimitStatus, Error> {
        let index = now / WINDOW_SECONDS;
        let reset = (index + 1) * WINDOW_SECONDS;
        // A poisoned lock only means another request panicked mid-count; the counts are
        // still usable.
        let mut window = self
            .window
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if window.index != index {
            *window = Window {
                index,
                ..Window::default()
            };
        }
        let key_count = window.keys.get(&key).copied().unwrap_or(0);
        let organization_count = window
            .organizations
            .get(&organization)
            .copied()
            .unwrap_or(0);
        let remaining = |key_count: u32, organization_count: u32| {
            (self.limits.per_key.saturating_sub(key_count)).min(
                self.limits
                    .per_organization
                    .saturating_sub(organization_count),
            )
        };
        if key_count >= self.limits.per_key || organization_count >= self.limits.per_organization {
            let retry_after = reset.saturating_sub(now).max(1);
            return Err(Error::RateLimited { retry_after });
        }
        window.keys.insert(key, key_count + 1);
        window
            .organizations
            .insert(organization, organization_count + 1);
        Ok(RateLimitStatus {
            limit: self.limits.per_key,
            remaining: remaining(key_count + 1, organization_count + 1),
            reset,
        })
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    fn ids() -> (ApiKeyId, OrganizationId) {
        (ApiKeyId(Uuid::new_v4()), OrganizationId(Uuid::new_v4()))
    }

    #[test]
    fn a_key_gets_its_limit_then_waits_for_the_next_window() {
        let limiter = RateLimiter::new(Limits {
            per_key: 2,
            per_organization: 10,
        });
        let (key, org) = ids();
        let first = limiter.admit_at(key, org, 120).unwrap();
        assert_eq!(
            first,
            RateLimitStatus {
                limit: 2,
                remaining: 1,
                reset: 180
            }
        );
        assert_eq!(limiter.admit_at(key, org, 130).unwrap().remaining, 0);
        let error = limiter.admit_at(key, org, 135).unwrap_err();
        assert_eq!(error, Error::RateLimited { retry_after: 45 });
        assert_eq!(limiter.admit_at(key, org, 180).unwrap().remaining, 1);
    }

    #[test]
    fn the_organization_limit_spans_its_keys() {
        let limiter = RateLimiter::new(Limits {
            per_key: 5,
            per_organization: 3,
        });
        let org = OrganizationId(Uuid::new_v4());
        for _ in 0..3 {
            limiter.admit_at(ApiKeyId(Uuid::new_v4()), org, 0).unwrap();
        }
        assert!(limiter.admit_at(ApiKeyId(Uuid::new_v4()), org, 1).is_err());
        let (other_key, other_org) = ids();
        assert!(limiter.admit_at(other_key, other_org, 1).is_ok());
    }
}
