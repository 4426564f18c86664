//! Answers a handler builds itself: [`RawResponse`], for the operations the spec documents
//! with a body that is not JSON or with `304 Not Modified` (`Document::answers_raw`), and
//! [`Representation`], a fixed body served with a strong `ETag` that answers conditional
//! requests (`If-None-Match`) with `304`.

use bytes::Bytes;
use dropshot::{ApiEndpointResponse, Body, HttpError, HttpResponse};
use http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, HeaderMap, HeaderName, IF_NONE_MATCH};
use http::{Response, StatusCode};
use sha2::{Digest, Sha256};

use super::etag::if_none_match_hits;
use crate::error::Error;

/// A response whose status, headers and body the handler sets. dropshot documents it as a
/// `200` with any content (the conformance rule `raw-responses`).
#[derive(Debug)]
pub struct RawResponse(Response<Body>);

impl HttpResponse for RawResponse {
    fn to_result(self) -> Result<Response<Body>, HttpError> {
        Ok(self.0)
    }

    fn response_metadata() -> ApiEndpointResponse {
        ApiEndpointResponse {
            success: Some(StatusCode::OK),
            description: Some("successful operation".to_string()),
            ..ApiEndpointResponse::default()
        }
    }

    fn status_code(&self) -> StatusCode {
        self.0.status()
    }
}

/// A body that does not change while the server runs, with its media type, its strong
/// `ETag` (a SHA-256 digest of the bytes) and any further headers to send with it.
#[derive(Clone, Debug)]
pub struct Representation {
    body: Bytes,
    content_type: &'static str,
    etag: String,
    headers: Vec<(HeaderName, &'static str)>,
}

/// Caches may keep the answer but must revalidate it (cheaply, with the `ETag`) before use.
const CACHE_CONTROL_VALUE: &str = "no-cache";

impl Representation {
    pub fn new(body: impl Into<Bytes>, content_type: &'static str) -> Self {
        let body = body.into();
        let digest = Sha256::digest(&body);
        Self {
            body,
            content_type,
            etag: format!("\"{}\"", hex::encode(digest)),
            headers: Vec::new(),
        }
    }

    /// The same, sending `name: value` with every answer.
    pub fn with_header(mut self, name: HeaderName, value: &'static str) -> Self {
        self.headers.push((name, value));
        self
    }

    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The strong entity tag, quoted: `"…"`.
    pub fn etag(&self) -> &str {
        &self.etag
    }

    /// The answer to a GET with `request` headers: `304` with no body if its `If-None-Match`
    /// names this representation, else `200` with the body.
    pub fn answer(&self, request: &HeaderMap) -> Result<RawResponse, Error> {
        let not_modified = request
            .get_all(IF_NONE_MATCH)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .any(|value| if_none_match_hits(value, &self.etag));
        let mut builder = Response::builder()
            .header(ETAG, &self.etag)
            .header(CACHE_CONTROL, CACHE_CONTROL_VALUE);
        let response = if not_modified {
            builder.status(StatusCode::NOT_MODIFIED).body(Body::empty())
        } else {
            for (name, value) in &self.headers {
                builder = builder.header(name, *value);
            }
            builder
                .status(StatusCode::OK)
                .header(CONTENT_TYPE, self.content_type)
                .body(Body::from(self.body.clone()))
        };
        response
            .map(RawResponse)
            .map_err(|error| Error::Internal(format!("building a response: {error}")))
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    #[test]
    fn a_matching_etag_is_answered_304_without_a_body() {
        let representation = Representation::new("hello", "text/plain")
            .with_header(http::header::X_CONTENT_TYPE_OPTIONS, "nosniff");
        assert_eq!(representation.etag().len(), 66);
        let fresh = representation.answer(&HeaderMap::new()).unwrap().0;
        assert_eq!(fresh.status(), StatusCode::OK);
        assert_eq!(fresh.headers()[CONTENT_TYPE], "text/plain");
        assert_eq!(fresh.headers()["x-content-type-options"], "nosniff");
        let mut request = HeaderMap::new();
        request.insert(
            IF_NONE_MATCH,
            HeaderValue::from_str(representation.etag()).unwrap(),
        );
        let cached = representation.answer(&request).unwrap().0;
        assert_eq!(cached.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(cached.headers()[ETAG], representation.etag());
        assert_eq!(cached.headers()[CACHE_CONTROL], "no-cache");
        assert!(cached.headers().get(CONTENT_TYPE).is_none());
    }
}
