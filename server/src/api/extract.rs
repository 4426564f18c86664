//! Request extractors that hold on to their failure instead of answering it.
//!
//! dropshot's own extractors answer a bad request with its own error body, and converting
//! their `HttpError` cannot see the request id. These never fail: each holds
//! `Result<T, Error>`, and the handler's `into_inner()?` turns a failure into the envelope,
//! request id included.
//!
//! Each one reads its part of the request as JSON, validates it against the spec's schema for
//! `T` (see [`validate`]), and only then deserializes `T`. The schema check enforces every
//! constraint the spec states and names each offending field in `details`; `T` itself, a
//! typify type, enforces `required`, `enum`, `pattern` and unknown fields again.
//!
//! [`JsonBody`] also admits the request (API key, rate limit) before it reads the body: the
//! body of a request without a valid key is never read or parsed.

use std::any::Any;
use std::collections::BTreeMap;

use async_trait::async_trait;
use dropshot::{
    ApiEndpointBodyContentType, ExclusiveExtractor, ExtractorMetadata, HttpError, RequestContext,
    ServerContext, SharedExtractor,
};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::generated::SpecSchema;
use super::observe::{note_organization, noting_organization};
use super::unwind::caught;
use super::validate;
use super::versions;
use crate::context::{Admitted, AppContext};
use crate::domain::OrganizationId;
use crate::error::{Error, FieldProblem};
use crate::metrics::Refusal;

/// What an extractor reads: a generated wire type with its schema in the spec.
pub trait WireType: DeserializeOwned + JsonSchema + SpecSchema + Send + Sync + 'static {}

impl<T: DeserializeOwned + JsonSchema + SpecSchema + Send + Sync + 'static> WireType for T {}

/// The JSON body of a request, validated against the spec, with the JSON as sent; and the
/// request's admission, decided before the body was read (see [`JsonBody::admission`]).
pub struct JsonBody<T> {
    admission: Option<Result<Admitted, Error>>,
    /// The organization of the key, once known, even if the admission then refused it.
    organization: Option<OrganizationId>,
    body: Result<(T, Value), Error>,
}

/// The path parameters of a request, validated against the spec.
pub struct PathParams<T>(Result<T, Error>);

/// The query parameters of a request, validated against the spec.
pub struct QueryParams<T>(Result<T, Error>);

/// The header parameters of a request (the headers the spec documents for its operation),
/// validated against the spec.
pub struct HeaderParams<T>(Result<T, Error>);

macro_rules! into_inner {
    ($($extractor:ident),*) => {$(
        impl<T> $extractor<T> {
            /// The value, or why the request is invalid.
            pub fn into_inner(self) -> Result<T, Error> {
                self.0
            }
        }
    )*};
}
into_inner!(PathParams, QueryParams, HeaderParams);

impl<T> JsonBody<T> {
    /// The request's admission (its key and rate limit), decided before a byte of the body
    /// was read: `None` only where the server's context is not an [`AppContext`]. Notes the
    /// key's organization for the request's log line, refused or not.
    pub fn admission(&mut self) -> Option<Result<Admitted, Error>> {
        if let Some(organization) = self.organization {
            note_organization(organization);
        }
        self.admission.take()
    }

    /// The value and the JSON it was read from, or why the request is invalid.
    pub fn into_parts(self) -> Result<(T, Value), Error> {
        self.body
    }
}

#[async_trait]
impl<T: WireType> ExclusiveExtractor for JsonBody<T> {
    /// Admits the request first (key, rate limit) and reads the body only if it is admitted,
    /// so that requests without a valid key never cost a body read or a parse.
    async fn from_request<Context: ServerContext>(
        rqctx: &RequestContext<Context>,
        request: http::Request<dropshot::Body>,
    ) -> Result<Self, HttpError> {
        // dropshot's extractors are generic over the context; this server's is `AppContext`.
        let app = (rqctx.context() as &dyn Any).downcast_ref::<AppContext>();
        let (admission, organization) = match app {
            Some(app) => {
                let (admission, organization) =
                    noting_organization(caught(app.admit(&rqctx.request))).await;
                (Some(admission), organization)
            }
            None => (None, None),
        };
        let body = match &admission {
            Some(Err(refused)) => Err(refused.clone()),
            _ => read_json_body(rqctx, request, app).await,
        };
        Ok(Self {
            admission,
            organization,
            body,
        })
    }

    fn metadata(content_type: ApiEndpointBodyContentType) -> ExtractorMetadata {
        <dropshot::TypedBody<T> as ExclusiveExtractor>::metadata(content_type)
    }
}

/// Reads, validates and deserializes the body; one that has not arrived within the server's
/// `body_read_timeout` is cut off (and counted as refused).
async fn read_json_body<Context: ServerContext, T>(
    rqctx: &RequestContext<Context>,
    request: http::Request<dropshot::Body>,
    app: Option<&AppContext>,
) -> Result<(T, Value), Error>
where
    T: DeserializeOwned + SpecSchema,
{
    let (parts, body) = request.into_parts();
    if let Some(content_type) = parts.headers.get(http::header::CONTENT_TYPE) {
        let is_json = content_type
            .to_str()
            .ok()
            .and_then(|value| value.split(';').next())
            .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
        if !is_json {
            return Err(Error::invalid(
                "Content-Type must be application/json".to_string(),
            ));
        }
    }
    let limit = rqctx.request_body_max_bytes();
    let collect = Limited::new(body, limit).collect();
    let collected = match app {
        Some(app) => {
            let timeout = app.body_read_timeout;
            tokio::time::timeout(timeout, collect).await.map_err(|_| {
                app.refusals.count(Refusal::BodyTimeout);
                Error::invalid(format!(
                    "The request body did not arrive within {} seconds",
                    timeout.as_secs_f64()
                ))
            })?
        }
        None => collect.await,
    };
    let bytes = match collected {
        Ok(collected) => collected.to_bytes(),
        Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => {
            return Err(Error::PayloadTooLarge { limit });
        }
        Err(error) => {
            return Err(Error::invalid(format!(
                "Could not read the request body: {error}"
            )));
        }
    };
    let value: Value = serde_json::from_slice(&bytes)
        .map_err(|error| Error::invalid(format!("Request body is not valid JSON: {error}")))?;
    let version = versions::read_in(&parts.headers);
    let typed = validate::deserialize(version, T::SCHEMA_NAME, &value, "Invalid request body")?;
    Ok((typed, value))
}

#[async_trait]
impl<T: WireType> SharedExtractor for PathParams<T> {
    async fn from_request<Context: ServerContext>(
        rqctx: &RequestContext<Context>,
    ) -> Result<Self, HttpError> {
        let parsed =
            match <dropshot::Path<BTreeMap<String, String>> as SharedExtractor>::from_request(rqctx)
                .await
            {
                Ok(path) => {
                    let values = path
                        .into_inner()
                        .into_iter()
                        .map(|(k, v)| (k, Value::String(v)));
                    validate::deserialize(
                        versions::read_in(rqctx.request.headers()),
                        T::SCHEMA_NAME,
                        &Value::Object(values.collect()),
                        "Invalid path parameter",
                    )
                }
                Err(error) => Err(Error::invalid(format!(
                    "Invalid path: {}",
                    error.external_message
                ))),
            };
        Ok(Self(parsed))
    }

    fn metadata(content_type: ApiEndpointBodyContentType) -> ExtractorMetadata {
        <dropshot::Path<T> as SharedExtractor>::metadata(content_type)
    }
}

#[async_trait]
impl<T: WireType> SharedExtractor for QueryParams<T> {
    async fn from_request<Context: ServerContext>(
        rqctx: &RequestContext<Context>,
    ) -> Result<Self, HttpError> {
        let query = rqctx.request.uri().query().unwrap_or_default();
        let version = versions::read_in(rqctx.request.headers());
        let parsed = query_object(version, T::SCHEMA_NAME, query).and_then(|object| {
            validate::deserialize(
                version,
                T::SCHEMA_NAME,
                &Value::Object(object),
                "Invalid query parameter",
            )
        });
        Ok(Self(parsed))
    }

    fn metadata(content_type: ApiEndpointBodyContentType) -> ExtractorMetadata {
        <dropshot::Query<T> as SharedExtractor>::metadata(content_type)
    }
}

#[async_trait]
impl<T: WireType> SharedExtractor for HeaderParams<T> {
    async fn from_request<Context: ServerContext>(
        rqctx: &RequestContext<Context>,
    ) -> Result<Self, HttpError> {
        let headers = rqctx.request.headers();
        let version = versions::read_in(headers);
        let parsed = header_object(version, T::SCHEMA_NAME, headers).and_then(|object| {
            validate::deserialize(
                version,
                T::SCHEMA_NAME,
                &Value::Object(object),
                "Invalid header",
            )
        });
        Ok(Self(parsed))
    }

    fn metadata(content_type: ApiEndpointBodyContentType) -> ExtractorMetadata {
        <dropshot::Header<T> as SharedExtractor>::metadata(content_type)
    }
}

/// The documented headers of the schema `schema_name` that the request carries, as a JSON
/// object of strings under their documented names. A header sent more than once counts as
/// one, its values joined by `, ` (RFC 9110 §5.3).
fn header_object(
    version: usize,
    schema_name: &str,
    headers: &http::HeaderMap,
) -> Result<Map<String, Value>, Error> {
    let mut object = Map::new();
    for name in validate::property_names(version, schema_name) {
        let values = headers
            .get_all(name)
            .iter()
            .map(|value| {
                value.to_str().map_err(|_| {
                    Error::invalid_field(
                        name,
                        "must be printable ASCII (visible characters and spaces)",
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if !values.is_empty() {
            object.insert(name.to_string(), Value::String(values.join(", ")));
        }
    }
    Ok(object)
}

/// The query string as a JSON object, each value typed as the schema declares it, so that
/// `limit=abc` is reported as "must be an integer" rather than a parse error.
fn query_object(
    version: usize,
    schema_name: &str,
    query: &str,
) -> Result<Map<String, Value>, Error> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
        .map_err(|error| Error::invalid(format!("Malformed query string: {error}")))?;
    let mut object = Map::new();
    for (name, text) in pairs {
        let value = match validate::property_type(version, schema_name, &name) {
            Some("integer") => text.parse::<i64>().map(Value::from).ok(),
            Some("number") => text
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number),
            Some("boolean") => text.parse::<bool>().map(Value::Bool).ok(),
            _ => None,
        }
        .unwrap_or(Value::String(text));
        if object.insert(name.clone(), value).is_some() {
            return Err(Error::Validation {
                message: format!("Invalid query parameter: {name} is given more than once"),
                details: vec![FieldProblem::new(name, "must be given at most once")],
            });
        }
    }
    Ok(object)
}
