//! The server's interface, `server/src/api/generated.rs`: wire types, each served version's
//! schemas, and a `#[dropshot::api_description]` trait with the handlers the server writes and
//! the endpoints that serve them, for the working spec and every release of the support policy
//! ([`versions`]).
//!
//! What it emits:
//! - `types`: typify structs and enums for every component schema and for each operation's
//!   path, query and header parameters (`{Operation}Path`, `{Operation}Query`,
//!   `{Operation}Header`). typify makes them enforce `required`, `enum`, `pattern` and
//!   `additionalProperties: false` on their own.
//! - `SERVED_VERSIONS`: for each served version its number, policy dates, document and
//!   schemas, as the spec writes them and translated to JSON Schema. Each wire type's
//!   `JsonSchema` impl returns the first, in the version being rendered, so every version's
//!   document shows exactly its spec's schemas; request extractors validate against the
//!   second, which enforces what typify does not (`format`, `maximum`, `maxLength`, …).
//! - `{Prefix}Headers`: one struct per distinct set of documented success headers (bar
//!   [`leads_spec::ANSWER_HEADERS`], set on every answer), shared by the operations that
//!   document it and named by the rule of [`HeaderSet`](headers::HeaderSet); fields have the
//!   headers' types, an `Option` for a header only some answers carry (not `required`).
//! - `v4_0_0`, …: for each older served version, the types and header structs whose shapes
//!   differ from the working spec's ([`shapes`]).
//! - `LeadsApi`: the trait ([`api_trait`]). Bodies, paths, queries and headers come through the
//!   server's own extractors (`JsonBody`, `PathParams`, `QueryParams`, `HeaderParams`) and
//!   errors are its `ApiError`, so that every failure, extractor failures included, answers
//!   with the error envelope. An operation returns the server's `Answer` of its typed success
//!   (which can also be `304 Not Modified`, or an error with headers of its own, such as
//!   `Retry-After`, that dropshot's error path cannot send). One whose answer is not JSON, or
//!   is JSON with no component schema ([`leads_spec::Document::answers_raw`]), returns the
//!   server's `RawResponse` instead: its handler builds status, headers and body itself (a
//!   `200` with one media type at most). An operation on a literal path beside a variable one
//!   (`/v1/webhooks/deliveries` beside `/v1/webhooks/{id}`), which dropshot's router refuses,
//!   has no endpoint: the variable path's endpoint serves it when the segment is the literal
//!   ([`dispatch`]).
//!
//! | concern | module |
//! |---|---|
//! | reading operations from the spec, refusing what dropshot cannot serve | [`operations`] |
//! | typify wire types, their `JsonSchema` impls | [`types`] |
//! | success-header structs and their naming rule | [`headers`] |
//! | the served versions, what each shares with the working spec | [`versions`], [`shapes`] |
//! | the trait: handlers, adapters, versioned endpoints | [`api_trait`] |
//! | literal paths beside variable ones, served through the variable path's endpoint | [`dispatch`] |
//! | identifiers, docs, literals | [`names`] |

mod api_trait;
mod dispatch;
mod headers;
mod names;
mod operations;
mod shapes;
mod types;
mod versions;

use std::collections::BTreeSet;

use anyhow::Result;
use leads_spec::schema::to_json_schema;
use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use serde_json::{Map, Value};

use self::api_trait::api_trait;
use self::headers::{header_set_struct, header_value_helper};
use self::names::raw_json;
use self::types::{schema_impls, wire_types};
pub use self::versions::Release;
use self::versions::{Version, endpoints, own_schemas, served};
use super::{Generated, render};

pub const PATH: &str = "server/src/api/generated.rs";

/// The server's interface for the working `spec`, serving besides it every release in
/// `releases` (the support policy's) that is older.
pub fn generate(spec: &Value, releases: &[Release]) -> Result<Generated> {
    let served = served(spec, releases)?;
    let Some((newest, older)) = served.split_last() else {
        anyhow::bail!("no version to serve");
    };
    let no_shared = BTreeSet::new();
    let types = wire_types(&newest.schemas, &newest.operations, &no_shared)?;
    let schema_impls = schema_impls(&newest.schemas, &no_shared, &quote!(types));
    let header_structs = newest
        .header_sets
        .iter()
        .map(header_set_struct)
        .collect::<Result<Vec<_>>>()?;
    let has_headers = served.iter().any(|version| !version.header_sets.is_empty());
    let header_value = has_headers.then(header_value_helper);
    let release_modules = older
        .iter()
        .map(|version| release_module(version, newest))
        .collect::<Result<Vec<_>>>()?;
    let endpoints = endpoints(&served)?;
    let api_trait = api_trait(&served, &endpoints);
    let title = newest.doc.text("/info/title").unwrap_or_default();
    let versions = served
        .iter()
        .map(served_version)
        .collect::<Result<Vec<_>>>()?;
    let count = served.len();

    let tokens = quote! {
        //! The Leads API interface, generated from the spec and the support policy's releases:
        //! see `xtask/src/generate/server/`.
        #![allow(clippy::all, clippy::pedantic, unused_imports, unused_variables, missing_docs)]

        // The server's own extractors, error type, answers and versioning, which the trait
        // is written against.
        use super::{
            Answer, ApiError, HeaderParams, JsonBody, PathParams, QueryParams, RawResponse,
        };
        use super::versions::{
            ServedVersion, Served, dispatched, method_not_allowed, openapi_schema, serve, shared,
        };
        use super::observe::Observed;

        /// The spec's `info.title`.
        pub const API_TITLE: &str = #title;
        /// Every version the server serves, oldest first, the working spec's last: the
        /// support policy's releases older than the working spec, and the working spec.
        pub const SERVED_VERSIONS: [ServedVersion; #count] = [#(#versions),*];

        /// Wire types of the working spec: what requests and responses carry, generated by
        /// typify.
        pub mod types {
            #types
        }

        /// A wire type and the name of its schema in each version's schemas.
        pub trait SpecSchema {
            const SCHEMA_NAME: &'static str;
        }

        #(#schema_impls)*

        #(#header_structs)*

        #header_value

        #(#release_modules)*

        #api_trait
    };
    Ok(Generated {
        path: PATH,
        contents: render(tokens)?,
    })
}

/// The entry of [`SERVED_VERSIONS`] for `version`: its number, dates, schemas (as its spec
/// writes them, and as JSON Schema) and document.
fn served_version(version: &Version) -> Result<TokenStream> {
    let number = &version.number;
    let date = |date: &Option<String>| match date {
        Some(date) => quote!(Some(#date)),
        None => quote!(None),
    };
    let deprecated = date(&version.deprecated);
    let sunset = date(&version.sunset);
    let json_schemas: Map<String, Value> = version
        .schemas
        .iter()
        .map(|(name, schema)| (name.clone(), to_json_schema(schema)))
        .collect();
    let dispatched = version
        .dispatches
        .iter()
        .map(|dispatch| &dispatch.operation);
    let openapi_schemas = raw_json(&Value::Object(version.schemas.clone()))?;
    let json_schemas = raw_json(&Value::Object(json_schemas))?;
    // From `server/src/api/`, where the generated file lives.
    let document = format!("../../../{}", version.source);
    Ok(quote! {
        ServedVersion {
            version: #number,
            deprecated: #deprecated,
            sunset: #sunset,
            dispatched: &[#(#dispatched),*],
            openapi_schemas: #openapi_schemas,
            json_schemas: #json_schemas,
            document: include_str!(#document),
        }
    })
}

/// A release's module: the types and success-header structs whose shapes differ from the
/// working spec's, and the working spec's types for the rest.
fn release_module(version: &Version, newest: &Version) -> Result<TokenStream> {
    let module = format_ident!("{}", version.module());
    let own: BTreeSet<String> = own_schemas(version, newest)?.into_iter().collect();
    let shared: BTreeSet<String> = version
        .schemas
        .keys()
        .filter(|name| !own.contains(*name))
        .cloned()
        .collect();
    let own_schemas: Map<String, Value> = version
        .schemas
        .iter()
        .filter(|(name, _)| own.contains(*name))
        .map(|(name, schema)| (name.clone(), schema.clone()))
        .collect();
    let types = if own.is_empty() {
        TokenStream::new()
    } else {
        wire_types(&version.schemas, &version.operations, &shared)?
    };
    let impls = schema_impls(&own_schemas, &BTreeSet::new(), &quote!(#module::types));
    let header_structs = version
        .header_sets
        .iter()
        .filter(|set| {
            !newest
                .header_sets
                .iter()
                .any(|s| s.headers == set.headers && s.name == set.name)
        })
        .map(header_set_struct)
        .collect::<Result<Vec<_>>>()?;
    let doc = format!(
        " Version {}: the types and success-header structs whose shapes differ from the          working spec's, which serves the rest.",
        version.number
    );
    Ok(quote! {
        #[doc = #doc]
        pub mod #module {
            use super::*;

            /// The version's wire types: its own, and the working spec's it shares. Some of its
            /// own may be reached only from a callback (the events a version documents, which
            /// the server renders in the newest version's types for every subscriber): those
            /// describe its document and are never built, hence the `allow`.
            #[allow(dead_code)]
            pub mod types {
                pub use super::super::types::*;
                #types
            }

            #(#header_structs)*
        }

        #(#impls)*
    })
}
