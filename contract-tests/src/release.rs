//! A released version's own contract, `openapi/released/<version>.yaml`: what the answers to
//! that version's client are checked against (the `compat` scenarios), instead of the working
//! spec.
//!
//! Its answers do not count towards the working spec's coverage gate: they were asked for in
//! another version, and the gate is about what the working spec documents.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use leads_spec::{Document, SPEC_PATH};
use serde_json::{Map, Value};

use crate::coverage::{self, Documented, Pair};
use crate::exchange::Exchange;

/// Where released documents live, relative to the workspace root (as `cargo xtask release`
/// writes them).
const RELEASED_DIR: &str = "openapi/released";

/// The response header that names the version an answer was served in.
pub const API_VERSION_HEADER: &str = "api-version";

/// One released version's document, read to check answers against it.
pub struct Release {
    version: String,
    /// Its document, relative to the workspace root, for messages.
    path: String,
    /// For each documented (operationId, status): what its body is.
    responses: BTreeMap<Pair, Documented>,
    /// A validator per component schema of the document.
    validators: HashMap<String, jsonschema::Validator>,
}

impl Release {
    /// The released document of `version` (`4.0.0`), from the workspace.
    ///
    /// # Panics
    /// When the document is missing, does not parse, or one of its schemas does not compile.
    pub fn load(version: &str) -> Self {
        let path = format!("{RELEASED_DIR}/{version}.yaml");
        let spec = leads_spec::load(&workspace_root().join(&path))
            .unwrap_or_else(|error| panic!("{path} does not load: {error}"));
        Self {
            version: version.to_string(),
            responses: coverage::responses(&spec),
            validators: validators(&spec)
                .unwrap_or_else(|error| panic!("a schema of {path} does not compile: {error}")),
            path,
        }
    }

    /// The release's version, its document's `info.version`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Checks an answer to this version's client: its status is one this release documents,
    /// its body has this release's schema, an error answer the envelope; then that it was
    /// served in this version ([`assert_served_in_version`]). Panics, failing the test, if
    /// not.
    pub fn check(&self, exchange: &Exchange) {
        coverage::check(exchange, &self.path, &self.responses, &|schema, body| {
            self.schema_problems(schema, body)
        });
        assert_served_in_version(exchange, &self.version);
    }

    /// Every way `value` breaks the component schema `schema` of this release.
    fn schema_problems(&self, schema: &str, value: &Value) -> Vec<String> {
        let validator = self
            .validators
            .get(schema)
            .unwrap_or_else(|| panic!("{} has no schema {schema}", self.path));
        validator
            .iter_errors(value)
            .map(|error| format!("{}: {error}", error.instance_path()))
            .collect()
    }
}

/// The answer says, in its `api-version` response header, that it was served in `version`:
/// the version its request named in its own `api-version` header (which every generated
/// client sends).
///
/// # Panics
/// When the header is missing or names another version.
pub fn assert_served_in_version(exchange: &Exchange, version: &str) {
    let served_in = exchange
        .headers
        .get(API_VERSION_HEADER)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
    assert_eq!(
        served_in.as_deref(),
        Some(version),
        "{} {}: a request in version {version} must be answered in it, saying so in the \
         `{API_VERSION_HEADER}` response header",
        exchange.operation,
        exchange.status
    );
}

/// A JSON Schema validator for each component schema of `spec`, formats checked as the server
/// checks them (its own `iana-time-zone` and `cursor` included).
fn validators(spec: &Value) -> Result<HashMap<String, jsonschema::Validator>, String> {
    let definitions: Map<String, Value> = Document::new(spec)
        .components("schemas")
        .into_iter()
        .map(|(name, node)| {
            (
                name.to_string(),
                leads_spec::schema::to_json_schema(node.value),
            )
        })
        .collect();
    leads_server::api::validators(&definitions)
}

/// The workspace root: where [`SPEC_PATH`] is found, from this crate up.
fn workspace_root() -> PathBuf {
    let spec = leads_spec::workspace_spec(Path::new(env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|error| panic!("no workspace: {error}"));
    let depth = Path::new(SPEC_PATH).components().count();
    spec.ancestors()
        .nth(depth)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| panic!("{} has no workspace above it", spec.display()))
}

#[cfg(test)]
mod tests {
    use reqwest::header::{HeaderMap, HeaderValue};

    use serde_json::json;

    use super::*;

    #[test]
    fn a_release_reads_its_own_document() {
        let release = Release::load("4.0.0");
        assert_eq!(release.version(), "4.0.0");
        assert!(
            release
                .responses
                .contains_key(&("lead_create".to_string(), 201))
        );
        let lead = json!({"email": "a@example.com"});
        let problems = release.schema_problems("Lead", &lead);
        assert!(
            problems.iter().any(|problem| problem.contains("\"id\"")),
            "{problems:?}"
        );
        let zone = |zone: &str| {
            release.schema_problems(
                "LeadCreate",
                &json!({"email": "a@example.com", "timezone": zone}),
            )
        };
        assert_eq!(zone("Europe/Paris"), Vec::<String>::new());
        assert_eq!(zone("Mars/Olympus_Mons").len(), 1);
    }

    /// An answer to `lead_view` with an `api-version` response header of `served_in`, if any.
    fn answer(served_in: Option<&'static str>) -> Exchange {
        let mut headers = HeaderMap::new();
        if let Some(version) = served_in {
            headers.insert(API_VERSION_HEADER, HeaderValue::from_static(version));
        }
        Exchange::new("lead_view", 200, headers, Value::Null, "")
    }

    #[test]
    fn an_answer_served_in_the_version_asked_for_passes() {
        assert_served_in_version(&answer(Some("4.0.0")), "4.0.0");
    }

    #[test]
    #[should_panic(expected = "a request in version 4.0.0 must be answered in it")]
    fn an_answer_that_does_not_say_its_version_fails() {
        assert_served_in_version(&answer(None), "4.0.0");
    }

    #[test]
    #[should_panic(expected = "a request in version 4.0.0 must be answered in it")]
    fn an_answer_served_in_another_version_fails() {
        assert_served_in_version(&answer(Some("3.0.0")), "4.0.0");
    }
}
