//! Running an operation for an admitted caller: admission (key, rate limit, a place among
//! the requests in flight), and the headers every answer to a recognized key carries, errors
//! included: the rate-limit headers, and `Retry-After` on `429` and `503`.

use std::future::Future;

use dropshot::{HttpCodedResponse, HttpResponse, HttpResponseHeaders, RequestContext};
use http::HeaderValue;
use http::header::{HeaderMap, HeaderName, RETRY_AFTER};

use super::answer::Answer;
use super::error::ApiError;
use super::generated::RateLimitHeaders;
use super::observe::note_organization;
use super::unwind::caught;
use crate::context::{Admitted, AppContext};
use crate::error::{Error, Limit};
use crate::metrics::Refusal;
use crate::ratelimit::RateLimitStatus;

/// Seconds a client is asked to wait after a `503`: the requests in flight finish within
/// milliseconds, so a second is ample without keeping it waiting long.
pub(crate) const RETRY_AFTER_UNAVAILABLE: u64 = 1;

/// Runs `work` for the caller `admission` admitted (decided by a body extractor before it
/// read the body), or admits the request here when there is none. Every error, admission's
/// included, is answered in the envelope with the headers [`error_headers`] gives it.
pub async fn authenticated<'a, R, F, Fut>(
    rqctx: &'a RequestContext<AppContext>,
    admission: Option<Result<Admitted, Error>>,
    work: F,
) -> Result<Answer<R>, ApiError>
where
    R: HttpResponse,
    F: FnOnce(&'a AppContext, Admitted) -> Fut,
    Fut: Future<Output = Result<Answer<R>, Error>>,
{
    let app = rqctx.context();
    let admission = match admission {
        Some(admission) => admission,
        None => caught(app.admit(&rqctx.request)).await,
    };
    let admitted = match admission {
        Ok(admitted) => admitted,
        Err(error) => return Ok(refused(rqctx, error, None)),
    };
    note_organization(admitted.caller.organization);
    let standing = admitted.rate_limit;
    let outcome = match app.in_flight() {
        Ok(_in_flight) => caught(work(app, admitted)).await,
        Err(error) => Err(error),
    };
    Ok(outcome.unwrap_or_else(|error| refused(rqctx, error, Some(standing))))
}

/// The error answer to this request, with its headers; internal errors are logged with their
/// detail here.
pub fn refused<R>(
    rqctx: &RequestContext<AppContext>,
    error: Error,
    standing: Option<RateLimitStatus>,
) -> Answer<R> {
    if let Some(refusal) = refusal(&error) {
        rqctx.context().refusals.count(refusal);
    }
    let headers = error_headers(&error, standing);
    Answer::Refused {
        error: api_error(rqctx, error),
        headers,
    }
}

/// Which refusal `error` is, if it turns the request away for want of room or allowance
/// rather than for what it asks.
fn refusal(error: &Error) -> Option<Refusal> {
    match error {
        Error::RateLimited {
            limit: Limit::Caller,
            ..
        } => Some(Refusal::RateLimit),
        Error::RateLimited {
            limit: Limit::Address,
            ..
        } => Some(Refusal::UnfamiliarKeys),
        Error::ServiceUnavailable => Some(Refusal::Overload),
        _ => None,
    }
}

/// The error answer to this request, for dropshot's error path; internal errors are logged
/// with their detail here.
pub fn api_error(rqctx: &RequestContext<AppContext>, error: Error) -> ApiError {
    let api_error = ApiError::new(error, &rqctx.request_id);
    if let Some(detail) = api_error.internal_detail() {
        slog::error!(rqctx.log, "internal error"; "detail" => detail);
    }
    api_error
}

/// The headers of an error answer: the rate-limit headers of the limit that refused, or of
/// the caller's standing once its key was recognized (`standing`), and `Retry-After` where
/// waiting helps.
fn error_headers(error: &Error, standing: Option<RateLimitStatus>) -> HeaderMap {
    let (standing, retry_after) = match error {
        Error::RateLimited {
            retry_after,
            standing,
            ..
        } => (Some(*standing), Some(*retry_after)),
        Error::ServiceUnavailable | Error::TooManyConnections(_) => {
            (standing, Some(RETRY_AFTER_UNAVAILABLE))
        }
        _ => (standing, None),
    };
    let mut headers = HeaderMap::new();
    if let Some(seconds) = retry_after {
        headers.insert(RETRY_AFTER, HeaderValue::from(seconds));
    }
    if let Some(standing) = standing {
        let fields = RateLimitFields::from(standing);
        for (name, value) in [
            ("x-ratelimit-limit", fields.limit),
            ("x-ratelimit-remaining", fields.remaining),
            ("x-ratelimit-reset", fields.reset),
        ] {
            headers.insert(HeaderName::from_static(name), HeaderValue::from(value));
        }
    }
    headers
}

/// An answer whose success carries the `X-RateLimit-*` headers.
pub type Headed<R> = Answer<HttpResponseHeaders<R, RateLimitHeaders>>;

/// A success `response` with the `X-RateLimit-*` headers of the caller's `standing`.
pub fn headed<R: HttpCodedResponse>(response: R, standing: RateLimitStatus) -> Headed<R> {
    let RateLimitFields {
        limit,
        remaining,
        reset,
    } = standing.into();
    let headers = RateLimitHeaders {
        x_rate_limit_limit: limit,
        x_rate_limit_remaining: remaining,
        x_rate_limit_reset: reset,
    };
    Answer::Success(HttpResponseHeaders::new(response, headers))
}

/// The values of the `X-RateLimit-*` headers, typed as the spec types them, for the success
/// header structs (each built by a struct literal, so that a header added to the spec fails
/// to compile until it is filled).
pub struct RateLimitFields {
    pub limit: i64,
    pub remaining: i64,
    pub reset: i64,
}

impl From<RateLimitStatus> for RateLimitFields {
    fn from(status: RateLimitStatus) -> Self {
        Self {
            limit: status.limit.into(),
            remaining: status.remaining.into(),
            // Unix seconds fit an i64 for the next 292 billion years.
            reset: i64::try_from(status.reset).unwrap_or(i64::MAX),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Limit;

    const STANDING: RateLimitStatus = RateLimitStatus {
        limit: 100,
        remaining: 7,
        reset: 1_768_636_860,
    };

    #[test]
    fn a_429_says_when_to_retry_and_which_limit_refused() {
        let error = Error::RateLimited {
            retry_after: 42,
            limit: Limit::Caller,
            standing: RateLimitStatus {
                remaining: 0,
                ..STANDING
            },
        };
        let headers = error_headers(&error, None);
        assert_eq!(headers[RETRY_AFTER], "42");
        assert_eq!(headers["x-ratelimit-limit"], "100");
        assert_eq!(headers["x-ratelimit-remaining"], "0");
        assert_eq!(headers["x-ratelimit-reset"], "1768636860");
    }

    #[test]
    fn errors_after_admission_carry_the_standing_and_a_503_a_retry_after() {
        let not_found = error_headers(&Error::NotFound, Some(STANDING));
        assert_eq!(not_found["x-ratelimit-remaining"], "7");
        assert!(not_found.get(RETRY_AFTER).is_none());
        let busy = error_headers(&Error::ServiceUnavailable, Some(STANDING));
        assert_eq!(busy[RETRY_AFTER], "1");
        assert!(error_headers(&Error::Unauthorized, None).is_empty());
    }
}
