//! The page's model: what the template shows, read from the spec through
//! [`leads_spec::Document`]. Everything here is data; the markup is the template's.
//!
//! This module owns the page as a whole (its title, servers, served versions and groups of
//! operations) and the reading helpers the others share; an operation is read in
//! `operations`, its callbacks in `callbacks`, the security schemes in `security`, the error
//! codes table in `errors`.

mod callbacks;
mod errors;
mod operations;
mod security;

use leads_spec::Document;
use serde::Serialize;
use serde_json::Value;

use crate::ServedVersion;
use crate::curl;
use crate::markdown::{self, Heading};

pub use callbacks::Callback;
pub use errors::ErrorCode;
pub use operations::{Body, Example, Operation, Response};
pub use security::Scheme;

use errors::error_codes;
use operations::operation;
use security::schemes;

/// The whole page.
#[derive(Debug, Serialize)]
pub struct Page {
    pub title: String,
    pub version: String,
    /// `info.description`, rendered.
    pub introduction: String,
    /// The introduction's sections, for the navigation.
    pub sections: Vec<Heading>,
    pub servers: Vec<Server>,
    /// The versions the server serves, or `None` (no versions given): no such section.
    pub versions: Option<Versions>,
    pub schemes: Vec<Scheme>,
    pub errors: Vec<ErrorCode>,
    pub groups: Vec<Group>,
}

#[derive(Debug, Serialize)]
pub struct Server {
    pub url: String,
    pub description: String,
}

/// The versions the server serves, and how a request names one.
#[derive(Debug, Serialize)]
pub struct Versions {
    /// Oldest first, the newest last.
    pub rows: Vec<VersionRow>,
    /// The newest: what a request that names no version is served in.
    pub newest: String,
    /// A `curl` asking the first server for the document of a version: the oldest other
    /// than the one this page documents, or this one if it is the only one.
    pub request: String,
}

/// A row of the served versions' table.
#[derive(Debug, Serialize)]
pub struct VersionRow {
    pub version: String,
    /// `YYYY-MM-DD`, if announced.
    pub deprecated: Option<String>,
    /// `YYYY-MM-DD`, if announced.
    pub sunset: Option<String>,
    /// The version this page documents: the spec's `info.version`.
    pub documented: bool,
    /// The newest served version.
    pub newest: bool,
}

/// The operations of one tag, in the spec's order of tags.
#[derive(Debug, Serialize)]
pub struct Group {
    pub tag: String,
    pub description: String,
    pub operations: Vec<Operation>,
}

impl Page {
    /// The page of the OpenAPI document `spec`, listing `versions`, the versions the server
    /// serves (oldest first; none: no list).
    pub fn of(spec: &Value, versions: &[ServedVersion]) -> Self {
        let doc = Document::new(spec);
        let info = spec.get("info").unwrap_or(&Value::Null);
        let introduction =
            markdown::render_with_headings(str_at(info, "description"), 1, "introduction-");
        let servers: Vec<Server> = list(spec, "servers")
            .map(|server| Server {
                url: str_at(server, "url").to_string(),
                description: markdown::inline(str_at(server, "description")),
            })
            .collect();
        let base_url = servers.first().map_or("", |server| server.url.as_str());
        let operations: Vec<Operation> = doc
            .operations()
            .iter()
            .map(|op| operation(doc, op, base_url))
            .collect();
        let version = str_at(info, "version").to_string();
        Self {
            title: str_at(info, "title").to_string(),
            versions: served_versions(versions, &version, base_url),
            version,
            introduction: introduction.html,
            sections: introduction.headings,
            schemes: schemes(doc),
            errors: error_codes(doc),
            groups: groups(spec, &doc, operations),
            servers,
        }
    }
}

/// The table of served versions, `documented` being the one the page documents; `None` for
/// no versions.
fn served_versions(
    versions: &[ServedVersion],
    documented: &str,
    base_url: &str,
) -> Option<Versions> {
    let newest = versions.last()?;
    let example = versions
        .iter()
        .find(|served| served.version != documented)
        .unwrap_or(newest);
    let request = curl::command(&curl::Request {
        method: "get",
        base_url,
        path: "/openapi.yaml",
        authenticated: false,
        headers: &[("api-version", &example.version)],
        body: None,
    });
    Some(Versions {
        rows: versions
            .iter()
            .enumerate()
            .map(|(index, served)| VersionRow {
                version: served.version.clone(),
                deprecated: served.deprecated.clone(),
                sunset: served.sunset.clone(),
                documented: served.version == documented,
                newest: index + 1 == versions.len(),
            })
            .collect(),
        newest: newest.version.clone(),
        request,
    })
}

/// Operations grouped by their first tag, groups in the order of the spec's `tags`, then any
/// tag it does not list.
fn groups(spec: &Value, doc: &Document, operations: Vec<Operation>) -> Vec<Group> {
    let first_tags: Vec<String> = doc
        .operations()
        .iter()
        .map(|op| {
            list(op.value, "tags")
                .next()
                .and_then(Value::as_str)
                .unwrap_or("other")
                .to_string()
        })
        .collect();
    let mut groups: Vec<Group> = list(spec, "tags")
        .map(|tag| Group {
            tag: str_at(tag, "name").to_string(),
            description: markdown::render(str_at(tag, "description")),
            operations: Vec::new(),
        })
        .collect();
    for (operation, tag) in operations.into_iter().zip(first_tags) {
        if !groups.iter().any(|group| group.tag == tag) {
            groups.push(Group {
                tag: tag.clone(),
                description: String::new(),
                operations: Vec::new(),
            });
        }
        if let Some(group) = groups.iter_mut().find(|group| group.tag == tag) {
            group.operations.push(operation);
        }
    }
    groups.retain(|group| !group.operations.is_empty());
    groups
}

fn str_at<'a>(value: &'a Value, field: &str) -> &'a str {
    value.get(field).and_then(Value::as_str).unwrap_or_default()
}

fn list<'a>(value: &'a Value, field: &str) -> impl Iterator<Item = &'a Value> {
    value
        .get(field)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}
