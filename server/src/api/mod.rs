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
pub mod observe;
mod raw;
mod recovery;
mod unwind;
mod validate;
pub mod versions;
mod webhooks;

pub(crate) use admission::RETRY_AFTER_UNAVAILABLE;
pub use answer::Answer;
pub use error::ApiError;
pub use extract::{HeaderParams, JsonBody, PathParams, QueryParams};
pub use generated::{LeadsApi, SERVED_VERSIONS, leads_api_mod, types};
pub use handlers::LeadsServer;
pub use raw::{RawResponse, Representation};
pub use validate::{schema_problems, validators};

/// The server's OpenAPI document of served version `version` (an index into
/// [`SERVED_VERSIONS`]), rendered from the generated trait: the endpoints of that version,
/// showing its schemas.
pub fn openapi_document(version: usize) -> Result<serde_json::Value, String> {
    let served = SERVED_VERSIONS
        .get(version)
        .ok_or_else(|| format!("no served version {version}"))?;
    let number = semver::Version::parse(served.version)
        .map_err(|error| format!("version {} is not semver: {error}", served.version))?;
    // The description too is built while rendering: dropshot takes the schemas of path and
    // query parameters when an endpoint is registered.
    versions::rendering(version, || {
        leads_api_mod::stub_api_description()
            .map_err(|error| format!("the API description does not build: {error}"))?
            .openapi(generated::API_TITLE, number)
            .json()
            .map_err(|error| format!("the OpenAPI document does not render: {error}"))
    })
}
