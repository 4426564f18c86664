//! The one error type of the server's own code. Every failure becomes an [`Error`]; the API
//! layer turns it into the wire envelope in one place (`api::error`).

use std::fmt;

use uuid::Uuid;

use crate::ratelimit::RateLimitStatus;

/// One offending field of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldProblem {
    /// The field's name, or its dotted path (`metadata.latitude`).
    pub field: String,
    pub message: String,
}

impl FieldProblem {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Why a request failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// The request is malformed or breaks a rule; `details` names the fields.
    Validation {
        message: String,
        details: Vec<FieldProblem>,
    },
    /// No, a malformed, or an unknown API key.
    Unauthorized,
    /// No lead of the caller's organization has this id.
    NotFound,
    /// No webhook subscription of the caller's organization has this id.
    WebhookNotFound,
    /// Another lead of the organization has the email: `holder`, if it was still there when
    /// looked up.
    EmailTaken { holder: Option<Uuid> },
    /// The subscription has no delivery with this id.
    WebhookDeliveryNotFound,
    /// The subscription is disabled, so nothing would be sent to it.
    WebhookDisabled,
    /// The organization has `max` webhook subscriptions, the most it may have.
    WebhookLimitReached { max: u32 },
    /// The body is larger than `limit` bytes.
    PayloadTooLarge { limit: usize },
    /// Too many requests; the caller may retry after `retry_after` seconds. `standing`
    /// describes the limit that refused.
    RateLimited {
        retry_after: u64,
        limit: Limit,
        standing: RateLimitStatus,
    },
    /// The lead's version is not one the request's `If-Match` names; nothing was changed.
    PreconditionFailed,
    /// A request with the same idempotency key is still being answered.
    IdempotencyKeyInUse,
    /// The idempotency key was used for a request with a different body.
    IdempotencyKeyReused,
    /// Too many requests are in flight; the caller may retry shortly.
    ServiceUnavailable,
    /// A connection was not let in, as the bound named says; the caller may retry shortly.
    TooManyConnections(ConnectionBound),
    /// A failure of ours. The detail is logged, never sent.
    Internal(String),
}

/// Which bound on connections refused one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectionBound {
    /// The client address's.
    Address,
    /// The server's, every connection having sent a request.
    Server,
}

/// Which rate limit refused a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// The key's or its organization's.
    Caller,
    /// The client address's, on keys the server has not yet seen valid.
    Address,
}

impl Error {
    /// A validation error about the request as a whole, naming no field.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::Validation {
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// A validation error about one field.
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        let problem = FieldProblem::new(field, message);
        Self::Validation {
            message: format!("Invalid {}: {}", problem.field, problem.message),
            details: vec![problem],
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Validation { message, .. } => f.write_str(message),
            Error::Unauthorized => f.write_str("Missing or invalid API key"),
            Error::NotFound => f.write_str("Lead not found"),
            Error::WebhookNotFound => f.write_str("Webhook subscription not found"),
            Error::EmailTaken { .. } => f.write_str("A lead with this email already exists"),
            Error::WebhookDeliveryNotFound => f.write_str("Webhook delivery not found"),
            Error::WebhookDisabled => f.write_str(
                "The webhook subscription is disabled: enable it first \
                 (POST /v1/webhooks/{id}/enable)",
            ),
            Error::WebhookLimitReached { max } => write!(
                f,
                "Your organization has {max} webhook subscriptions, the most it may have: delete \
                 one first"
            ),
            Error::PayloadTooLarge { limit } => {
                write!(f, "Request body is larger than {limit} bytes")
            }
            Error::RateLimited {
                retry_after,
                limit: Limit::Caller,
                ..
            } => write!(f, "Rate limit exceeded, retry in {retry_after} seconds"),
            Error::RateLimited {
                retry_after,
                limit: Limit::Address,
                ..
            } => write!(
                f,
                "Too many unrecognized API keys from this address, retry in {retry_after} seconds"
            ),
            Error::PreconditionFailed => {
                f.write_str("The lead has changed since the version in If-Match")
            }
            Error::IdempotencyKeyInUse => f.write_str(
                "A request with this Idempotency-Key is still being answered; retry shortly",
            ),
            Error::IdempotencyKeyReused => {
                f.write_str("This Idempotency-Key was used for a different request")
            }
            Error::ServiceUnavailable => {
                f.write_str("The service is busy with other requests; retry shortly")
            }
            Error::TooManyConnections(ConnectionBound::Address) => f.write_str(
                "Too many connections from this address; reuse or close some, then retry",
            ),
            Error::TooManyConnections(ConnectionBound::Server) => {
                f.write_str("The server holds as many connections as it may; retry shortly")
            }
            Error::Internal(_) => f.write_str("Internal server error"),
        }
    }
}

impl From<crate::store::StoreError> for Error {
    fn from(error: crate::store::StoreError) -> Self {
        match error {
            // The application step names the holder (`AppContext::lead_write_refused`).
            crate::store::StoreError::EmailTaken => Error::EmailTaken { holder: None },
            crate::store::StoreError::Internal(detail) => Error::Internal(detail),
            // Busy, not broken: `503` says to retry shortly.
            crate::store::StoreError::Contention(_) => Error::ServiceUnavailable,
            crate::store::StoreError::VersionMismatch => Error::PreconditionFailed,
            // `lead_create` handles a taken key itself (it answers with the kept answer).
            crate::store::StoreError::SubscriptionLimitReached(max) => {
                Error::WebhookLimitReached { max }
            }
            crate::store::StoreError::IdempotencyKeyTaken => {
                Error::Internal("an idempotency key taken where none was given".to_string())
            }
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreError;

    /// A database that keeps abandoning a transaction for contention is busy, not broken:
    /// the client is told to retry (`503` with `Retry-After`), not that the server failed.
    #[test]
    fn contention_is_busy_and_a_failure_is_internal() {
        let busy = Error::from(StoreError::Contention("40001".to_owned()));
        assert!(matches!(busy, Error::ServiceUnavailable), "{busy:?}");
        let broken = Error::from(StoreError::Internal("disk".to_owned()));
        assert!(matches!(broken, Error::Internal(_)), "{broken:?}");
    }
}
