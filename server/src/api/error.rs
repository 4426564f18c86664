//! The one place where errors become the wire envelope:
//! `{"success": false, "error", "code", "requestId", "details"?}` with the matching status.
//!
//! [`ApiError`] is the error type of every endpoint. It carries the request id, so that the
//! envelope's `requestId` equals the `x-request-id` header. It serializes as, and documents
//! itself with the schema of, the generated `ErrorResponse`. Errors dropshot raises on its own
//! (`From<HttpError>`) are mapped here too; they happen only where no request id is known (a
//! response that cannot be serialized), and then say `unknown`.
//!
//! dropshot 0.18 gives an error type no way to add headers to its response (the trait that
//! would is private); handlers answer errors that carry headers (`Retry-After`,
//! `X-RateLimit-*`) through [`super::Answer`], which sends this same envelope.

use std::fmt;

use dropshot::{ErrorStatusCode, HttpError, HttpResponseError};
use schemars::JsonSchema;
use schemars::r#gen::SchemaGenerator;
use schemars::schema::Schema;
use serde::{Serialize, Serializer};

use super::types::{ErrorCode, ErrorResponse, FieldError};
use crate::error::Error;

/// An error answer: the error and the request it answers.
#[derive(Debug)]
pub struct ApiError {
    error: Error,
    request_id: Option<String>,
}

impl ApiError {
    /// The answer to request `request_id`.
    pub fn new(error: Error, request_id: &str) -> Self {
        Self {
            error,
            request_id: Some(request_id.to_string()),
        }
    }

    /// The internal detail of a 500, for the log.
    pub fn internal_detail(&self) -> Option<&str> {
        match &self.error {
            Error::Internal(detail) => Some(detail),
            _ => None,
        }
    }

    /// The wire code and HTTP status of the error: the one table of them.
    fn classify(&self) -> (ErrorCode, ErrorStatusCode) {
        match self.error {
            Error::Validation { .. } => (ErrorCode::ValidationError, ErrorStatusCode::BAD_REQUEST),
            Error::Unauthorized => (ErrorCode::Unauthorized, ErrorStatusCode::UNAUTHORIZED),
            Error::NotFound => (ErrorCode::NotFound, ErrorStatusCode::NOT_FOUND),
            Error::WebhookNotFound => (ErrorCode::WebhookNotFound, ErrorStatusCode::NOT_FOUND),
            Error::EmailTaken { .. } => (ErrorCode::Conflict, ErrorStatusCode::CONFLICT),
            Error::WebhookDeliveryNotFound => (
                ErrorCode::WebhookDeliveryNotFound,
                ErrorStatusCode::NOT_FOUND,
            ),
            Error::WebhookDisabled => (ErrorCode::WebhookDisabled, ErrorStatusCode::CONFLICT),
            Error::WebhookLimitReached { .. } => {
                (ErrorCode::WebhookLimitReached, ErrorStatusCode::CONFLICT)
            }
            Error::PayloadTooLarge { .. } => (
                ErrorCode::PayloadTooLarge,
                ErrorStatusCode::PAYLOAD_TOO_LARGE,
            ),
            Error::RateLimited { .. } => {
                (ErrorCode::RateLimited, ErrorStatusCode::TOO_MANY_REQUESTS)
            }
            Error::PreconditionFailed => (
                ErrorCode::PreconditionFailed,
                ErrorStatusCode::PRECONDITION_FAILED,
            ),
            Error::IdempotencyKeyInUse => {
                (ErrorCode::IdempotencyKeyInUse, ErrorStatusCode::CONFLICT)
            }
            Error::IdempotencyKeyReused => (
                ErrorCode::IdempotencyKeyReused,
                ErrorStatusCode::UNPROCESSABLE_ENTITY,
            ),
            Error::ServiceUnavailable | Error::TooManyConnections(_) => (
                ErrorCode::ServiceUnavailable,
                ErrorStatusCode::SERVICE_UNAVAILABLE,
            ),
            Error::Internal(_) => (
                ErrorCode::InternalError,
                ErrorStatusCode::INTERNAL_SERVER_ERROR,
            ),
        }
    }

    fn body(&self) -> ErrorResponse {
        let details = match &self.error {
            Error::Validation { details, .. } => details
                .iter()
                .map(|problem| FieldError {
                    field: problem.field.clone(),
                    message: problem.message.clone(),
                })
                .collect(),
            _ => Vec::new(),
        };
        ErrorResponse {
            code: self.classify().0,
            details,
            error: self.error.to_string(),
            lead_id: match self.error {
                Error::EmailTaken { holder } => holder,
                _ => None,
            },
            request_id: self
                .request_id
                .clone()
                .unwrap_or_else(|| "unknown".to_string()),
            success: false,
        }
    }
}

impl Serialize for ApiError {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.body().serialize(serializer)
    }
}

impl JsonSchema for ApiError {
    fn schema_name() -> String {
        ErrorResponse::schema_name()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        ErrorResponse::json_schema(generator)
    }
}

impl fmt::Display for ApiError {
    /// What dropshot logs for the request: the internal detail included.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.error {
            Error::Internal(detail) => write!(f, "internal error: {detail}"),
            error => write!(f, "{error}"),
        }
    }
}

impl From<HttpError> for ApiError {
    fn from(error: HttpError) -> Self {
        let error = match error.status_code.as_u16() {
            413 => Error::PayloadTooLarge {
                limit: crate::config::MAX_BODY_BYTES,
            },
            400..=499 => Error::invalid(error.external_message),
            _ => Error::Internal(error.internal_message),
        };
        Self {
            error,
            request_id: None,
        }
    }
}

impl HttpResponseError for ApiError {
    fn status_code(&self) -> ErrorStatusCode {
        self.classify().1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{FieldProblem, Limit};
    use crate::ratelimit::RateLimitStatus;

    #[test]
    fn every_error_has_its_code_and_status() {
        let cases = [
            (
                Error::invalid_field("phone", "bad"),
                "VALIDATION_ERROR",
                400,
            ),
            (Error::Unauthorized, "UNAUTHORIZED", 401),
            (Error::NotFound, "NOT_FOUND", 404),
            (Error::WebhookNotFound, "WEBHOOK_NOT_FOUND", 404),
            (Error::EmailTaken { holder: None }, "CONFLICT", 409),
            (
                Error::WebhookDeliveryNotFound,
                "WEBHOOK_DELIVERY_NOT_FOUND",
                404,
            ),
            (Error::WebhookDisabled, "WEBHOOK_DISABLED", 409),
            (
                Error::WebhookLimitReached { max: 25 },
                "WEBHOOK_LIMIT_REACHED",
                409,
            ),
            (
                Error::PayloadTooLarge { limit: 1 },
                "PAYLOAD_TOO_LARGE",
                413,
            ),
            (
                Error::RateLimited {
                    retry_after: 3,
                    limit: Limit::Caller,
                    standing: RateLimitStatus {
                        limit: 100,
                        remaining: 0,
                        reset: 1,
                    },
                },
                "RATE_LIMITED",
                429,
            ),
            (Error::PreconditionFailed, "PRECONDITION_FAILED", 412),
            (Error::IdempotencyKeyInUse, "IDEMPOTENCY_KEY_IN_USE", 409),
            (Error::IdempotencyKeyReused, "IDEMPOTENCY_KEY_REUSED", 422),
            (Error::ServiceUnavailable, "SERVICE_UNAVAILABLE", 503),
            (
                Error::Internal("disk on fire".into()),
                "INTERNAL_ERROR",
                500,
            ),
        ];
        for (error, code, status) in cases {
            let api = ApiError::new(error, "req-1");
            assert_eq!(api.status_code().as_u16(), status);
            let body = serde_json::to_value(api.body()).unwrap();
            assert_eq!(body["code"], code);
            assert_eq!(body["success"], false);
            assert_eq!(body["requestId"], "req-1");
        }
    }

    #[test]
    fn internal_detail_is_logged_but_not_sent() {
        let api = ApiError::new(Error::Internal("disk on fire".into()), "r");
        assert_eq!(api.body().error, "Internal server error");
        assert!(api.to_string().contains("disk on fire"));
    }

    #[test]
    fn validation_details_are_sent() {
        let error = Error::Validation {
            message: "Invalid request body".into(),
            details: vec![FieldProblem::new("phone", "must be E.164")],
        };
        let body = serde_json::to_value(ApiError::new(error, "r").body()).unwrap();
        assert_eq!(
            body["details"],
            serde_json::json!([{"field": "phone", "message": "must be E.164"}])
        );
    }
}
