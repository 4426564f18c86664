//! The retry policy: which failures are worth another attempt, how many attempts a request
//! gets, and how long the client waits before each. [`RetryPolicy`] decides; the client's
//! hooks (`hooks`) send.

use std::error::Error as _;
use std::io;
use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};

/// When a rate limit's window resets, in Unix seconds; the server's 429 may carry it.
const RATE_LIMIT_RESET: &str = "x-ratelimit-reset";

/// How a [`Client`](crate::Client) retries a request that failed for a passing reason.
///
/// **What is retried**: connection errors (the connection could not be made, or it was
/// dropped before the answer came), `429 Too Many Requests` and `503 Service Unavailable`.
/// Nothing else: every other answer, 4xx included, is returned at once, and so is any other
/// error (a timeout, say). A request whose body cannot be cloned (a stream) is sent once.
///
/// **How long the client waits** before retry *n* (counting from 0): what the server asks
/// for, in `Retry-After` (seconds or an HTTP-date) or, on a 429 without it,
/// `X-RateLimit-Reset` (Unix seconds); else full-jitter exponential backoff, a random
/// duration between zero and `min(max_delay, base_delay × 2ⁿ)`, so that clients turned away
/// together do not come back together.
///
/// **No wait is longer than `max_delay`.** When the server asks for longer, the client does
/// not retry: it returns that 429 or 503 at once, whose headers tell the caller when to come
/// back. A call is never held for longer than its caller could expect from the policy.
///
/// `lead_create` is safe to retry: the client gives every create an `Idempotency-Key` of its
/// own (a random UUID) unless the request has one, and sends the same key on each attempt.
///
/// ```
/// use std::time::Duration;
/// use leads_client::{Client, RetryPolicy};
///
/// // The default: 3 retries, 100 ms base delay, waits of at most 5 s.
/// assert_eq!(RetryPolicy::default().max_retries(), 3);
///
/// let patient = RetryPolicy::default()
///     .with_max_retries(5)
///     .with_base_delay(Duration::from_millis(250))
///     .with_max_delay(Duration::from_secs(30));
/// let client = Client::with_api_key("http://127.0.0.1:8080", "aura_pk_live_…")?
///     .with_retry_policy(patient);
/// assert_eq!(client.retry_policy().max_retries(), 5);
///
/// // Every request sent once, whatever happens.
/// let once = Client::with_api_key("http://127.0.0.1:8080", "aura_pk_live_…")?
///     .with_retry_policy(RetryPolicy::none());
/// # Ok::<(), leads_client::BuildError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    max_retries: u32,
    base_delay: Duration,
    max_delay: Duration,
}

impl Default for RetryPolicy {
    /// 3 retries (4 attempts), 100 ms base delay, waits of at most 5 s.
    ///
    /// Backoff alone then adds at most 0.1 + 0.2 + 0.4 = 0.7 s to a call, enough to ride out
    /// a dropped connection or a server restarting; a server that asks for a pause of a few
    /// seconds (`Retry-After`) is obeyed, one that asks for longer is left to the caller.
    fn default() -> Self {
        Self {
            max_retries: 3,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// No retries: every request is sent once.
    pub fn none() -> Self {
        Self::default().with_max_retries(0)
    }

    /// The same policy with at most `max_retries` attempts after the first.
    pub fn with_max_retries(mut self, max_retries: u32) -> Self {
        self.max_retries = max_retries;
        self
    }

    /// The same policy with backoff starting from `base_delay` (doubling with each retry).
    pub fn with_base_delay(mut self, base_delay: Duration) -> Self {
        self.base_delay = base_delay;
        self
    }

    /// The same policy with no wait longer than `max_delay`, backoff or asked by the server.
    pub fn with_max_delay(mut self, max_delay: Duration) -> Self {
        self.max_delay = max_delay;
        self
    }

    /// How many attempts a request gets after the first.
    pub fn max_retries(&self) -> u32 {
        self.max_retries
    }

    /// The backoff of the first retry, before jitter; each retry doubles it.
    pub fn base_delay(&self) -> Duration {
        self.base_delay
    }

    /// The longest the client waits before an attempt.
    pub fn max_delay(&self) -> Duration {
        self.max_delay
    }

    /// How long to wait before retry number `retry` (from 0) after `outcome`, or `None` when
    /// `outcome` is final.
    pub(crate) fn wait_before_retry(
        &self,
        outcome: &reqwest::Result<reqwest::Response>,
        retry: u32,
    ) -> Option<Duration> {
        if retry >= self.max_retries {
            return None;
        }
        let asked = match outcome {
            Err(error) if is_connection_error(error) => None,
            Err(_) => return None,
            Ok(response) if is_retried(response.status()) => {
                asked_wait(response.status(), response.headers(), SystemTime::now())
            }
            Ok(_) => return None,
        };
        match asked {
            Some(wait) if wait > self.max_delay => None,
            Some(wait) => Some(wait),
            None => Some(self.backoff(retry)),
        }
    }

    /// Full jitter: a random wait between zero and `min(max_delay, base_delay × 2^retry)`.
    fn backoff(&self, retry: u32) -> Duration {
        let ceiling = self
            .base_delay
            .saturating_mul(2u32.saturating_pow(retry))
            .min(self.max_delay);
        rand::random_range(Duration::ZERO..=ceiling)
    }
}

/// Whether an answer with this status is worth another attempt.
fn is_retried(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE
}

/// Whether the request failed on its connection: none could be made, or it was dropped (reset,
/// closed) before the whole answer came.
fn is_connection_error(error: &reqwest::Error) -> bool {
    if error.is_connect() {
        return true;
    }
    std::iter::successors(error.source(), |&cause| cause.source()).any(|cause| {
        cause
            .downcast_ref::<hyper::Error>()
            .is_some_and(hyper::Error::is_incomplete_message)
            || cause.downcast_ref::<io::Error>().is_some_and(|io| {
                matches!(
                    io.kind(),
                    io::ErrorKind::ConnectionReset
                        | io::ErrorKind::ConnectionAborted
                        | io::ErrorKind::BrokenPipe
                )
            })
    })
}

/// The wait a 429 or 503 asks for, at `now`: its `Retry-After`, else a 429's
/// `X-RateLimit-Reset`. A time already past asks for no wait.
fn asked_wait(status: StatusCode, headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let header = |name| headers.get(name)?.to_str().ok().map(str::trim);
    if let Some(retry_after) = header(RETRY_AFTER.as_str()) {
        if let Ok(seconds) = retry_after.parse::<u64>() {
            return Some(Duration::from_secs(seconds));
        }
        if let Ok(date) = httpdate::parse_http_date(retry_after) {
            return Some(date.duration_since(now).unwrap_or_default());
        }
    }
    if status == StatusCode::TOO_MANY_REQUESTS {
        let reset = header(RATE_LIMIT_RESET)?.parse::<u64>().ok()?;
        let at = SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(reset))?;
        return Some(at.duration_since(now).unwrap_or_default());
    }
    None
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).expect("a header value"));
        }
        map
    }

    /// 2026-01-01T00:00:00Z.
    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600)
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date_is_the_wait() {
        let seconds = headers(&[("retry-after", "2")]);
        let date = headers(&[("retry-after", "Thu, 01 Jan 2026 00:00:03 GMT")]);
        let past = headers(&[("retry-after", "Wed, 31 Dec 2025 23:00:00 GMT")]);
        for status in [
            StatusCode::TOO_MANY_REQUESTS,
            StatusCode::SERVICE_UNAVAILABLE,
        ] {
            assert_eq!(
                asked_wait(status, &seconds, now()),
                Some(Duration::from_secs(2))
            );
            assert_eq!(
                asked_wait(status, &date, now()),
                Some(Duration::from_secs(3))
            );
            assert_eq!(asked_wait(status, &past, now()), Some(Duration::ZERO));
        }
    }

    #[test]
    fn a_rate_limit_reset_is_the_wait_of_a_429_without_retry_after() {
        let reset = headers(&[("x-ratelimit-reset", "1767225604")]);
        assert_eq!(
            asked_wait(StatusCode::TOO_MANY_REQUESTS, &reset, now()),
            Some(Duration::from_secs(4))
        );
        assert_eq!(
            asked_wait(StatusCode::SERVICE_UNAVAILABLE, &reset, now()),
            None
        );
        let both = headers(&[("retry-after", "1"), ("x-ratelimit-reset", "1767225604")]);
        assert_eq!(
            asked_wait(StatusCode::TOO_MANY_REQUESTS, &both, now()),
            Some(Duration::from_secs(1))
        );
        let garbage = headers(&[("retry-after", "soon")]);
        assert_eq!(
            asked_wait(StatusCode::TOO_MANY_REQUESTS, &garbage, now()),
            None
        );
    }

    #[test]
    fn backoff_is_jittered_below_the_doubling_ceiling_and_the_cap() {
        let policy = RetryPolicy::default()
            .with_base_delay(Duration::from_millis(100))
            .with_max_delay(Duration::from_millis(300));
        for _ in 0..200 {
            assert!(policy.backoff(0) <= Duration::from_millis(100));
            assert!(policy.backoff(1) <= Duration::from_millis(200));
            assert!(policy.backoff(2) <= Duration::from_millis(300));
            assert!(policy.backoff(u32::MAX) <= Duration::from_millis(300));
        }
        // Full jitter spreads the waits: 200 draws are not all the same.
        let draws: std::collections::BTreeSet<Duration> =
            (0..200).map(|_| policy.backoff(3)).collect();
        assert!(draws.len() > 1);
    }
}
