//! [`Answer`]: what every operation with a typed success returns, so that it can also answer
//! `304 Not Modified`, or an error that carries headers.
//!
//! dropshot 0.18 gives a handler one success status, and renders an error type through a
//! trait that is private to it, so an error answer cannot carry `Retry-After` or the
//! rate-limit headers. An [`Answer`] is a success to dropshot (which documents it as its
//! typed success `T`; the spec documents the rest) and builds the other answers itself: the
//! same error envelope [`ApiError`] serializes, with the headers added.

use dropshot::{ApiEndpointResponse, Body, HttpError, HttpResponse, HttpResponseError};
use http::header::{CONTENT_TYPE, ETAG, HeaderMap};
use http::{Response, StatusCode};

use super::error::ApiError;

/// The answer of an operation whose success is `T`.
#[derive(Debug)]
pub enum Answer<T> {
    /// The typed success, as the spec documents it.
    Success(T),
    /// `304 Not Modified`: the caller's copy, named by `etag`, is current.
    NotModified { etag: String },
    /// An error in the envelope, with `headers` besides the ones dropshot adds.
    Refused { error: ApiError, headers: HeaderMap },
    /// The answer of another operation, which the endpoint served in its place because
    /// dropshot's router gave it that operation's path (`xtask/src/generate/server/dispatch.rs`).
    Dispatched(Response<Body>),
}

impl<T> Answer<T> {
    /// The answer of the operation an endpoint dispatched to, as this endpoint's: its success
    /// rendered as that operation renders it, its error as any error.
    pub fn dispatched<U: HttpResponse>(answer: Result<U, ApiError>) -> Result<Self, ApiError> {
        Ok(Answer::Dispatched(answer?.to_result()?))
    }
}

impl<T: HttpResponse + Send + Sync + 'static> HttpResponse for Answer<T> {
    fn to_result(self) -> Result<Response<Body>, HttpError> {
        match self {
            Answer::Success(success) => success.to_result(),
            Answer::NotModified { etag } => Ok(Response::builder()
                .status(StatusCode::NOT_MODIFIED)
                .header(ETAG, etag)
                .body(Body::empty())?),
            Answer::Refused { error, headers } => envelope(&error, headers),
            Answer::Dispatched(response) => Ok(response),
        }
    }

    fn response_metadata() -> ApiEndpointResponse {
        T::response_metadata()
    }

    fn status_code(&self) -> StatusCode {
        match self {
            Answer::Success(success) => success.status_code(),
            Answer::NotModified { .. } => StatusCode::NOT_MODIFIED,
            Answer::Refused { error, .. } => error.status_code().as_status(),
            Answer::Dispatched(response) => response.status(),
        }
    }
}

/// The answer of `error`: the envelope, with `headers` besides the ones dropshot adds.
pub fn envelope(error: &ApiError, headers: HeaderMap) -> Result<Response<Body>, HttpError> {
    let body = super::versions::envelope_in_answered_version(error)?;
    let mut response = Response::builder()
        .status(error.status_code().as_status())
        .header(CONTENT_TYPE, dropshot::CONTENT_TYPE_JSON)
        .body(Body::from(body))?;
    response.headers_mut().extend(headers);
    Ok(response)
}

#[cfg(test)]
mod tests {
    use dropshot::HttpResponseOk;
    use http::HeaderValue;
    use http_body_util::BodyExt;

    use super::*;
    use crate::error::Error;

    async fn body(response: Response<Body>) -> Vec<u8> {
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec()
    }

    #[tokio::test]
    async fn a_refusal_is_the_envelope_with_its_headers() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("7"));
        let answer: Answer<HttpResponseOk<()>> = Answer::Refused {
            error: ApiError::new(Error::ServiceUnavailable, "req-1"),
            headers,
        };
        assert_eq!(answer.status_code(), StatusCode::SERVICE_UNAVAILABLE);
        let response = answer.to_result().unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()["retry-after"], "7");
        assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
        let expected = serde_json::to_vec(&ApiError::new(Error::ServiceUnavailable, "req-1"));
        assert_eq!(
            body(response).await,
            expected.unwrap(),
            "what dropshot would send"
        );
    }

    #[tokio::test]
    async fn not_modified_has_the_etag_and_no_body() {
        let answer: Answer<HttpResponseOk<()>> = Answer::NotModified {
            etag: "\"3\"".to_string(),
        };
        let response = answer.to_result().unwrap();
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(response.headers()[ETAG], "\"3\"");
        assert!(body(response).await.is_empty());
    }
}
