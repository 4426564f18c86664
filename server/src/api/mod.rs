//! The HTTP interface: the trait and wire types generated from the spec (`generated`), the
//! extractors and the error envelope the trait is written against, and its implementation.

mod admission;
mod answer;
#[cfg(test)]
mod conformance;
pub(crate) mod convert;
mod cursor;
mod error;
mod etag;
mod extract;
#[rustfmt::skip]
mod generated;
mod handlers;
pub mod idempotency;
mod raw;
mod unwind;
mod validate;
mod webhooks;

pub(crate) use admission::RETRY_AFTER_UNAVAILABLE;
pub use answer::Answer;
pub use error::ApiError;
pub use extract::{HeaderParams, JsonBody, PathParams, QueryParams};
pub use generated::{LeadsApi, leads_api_mod, types};
pub use handlers::LeadsServer;
pub use raw::{RawResponse, Representation};
pub use validate::schema_problems;

/// The server's OpenAPI document, rendered from the generated trait.
pub fn openapi_document() -> Result<serde_json::Value, String> {
    let description = leads_api_mod::stub_api_description()
        .map_err(|error| format!("the API description does not build: {error}"))?;
    let version = semver::Version::parse(generated::API_VERSION)
        .map_err(|error| format!("the spec's info.version is not semver: {error}"))?;
    let document = description.openapi(generated::API_TITLE, version);
    let json = document
        .json()
        .map_err(|error| format!("the OpenAPI document does not render: {error}"))?;
    Ok(json)
}
