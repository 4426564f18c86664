//! The spec the server was built from, embedded at build time, and what the server serves of
//! it: the document as YAML (byte for byte the file), as JSON, and the reference page
//! rendered from it (`leads-reference`). Made once per process, when the first server
//! starts; a spec that does not parse or a page that does not render stops the start, never
//! a request.

use std::sync::{Arc, OnceLock};

use anyhow::{Context, Result, anyhow};
use http::header::{CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS};

use crate::api::Representation;

/// `openapi/leads.yaml`, as the server was compiled.
pub const SPEC_YAML: &str = include_str!("../../openapi/leads.yaml");

/// The three representations of the embedded spec.
#[derive(Debug)]
pub struct Reference {
    pub yaml: Representation,
    pub json: Representation,
    pub html: Representation,
}

impl Reference {
    /// The representations of the embedded spec, made on first use.
    pub fn embedded() -> Result<Arc<Self>> {
        static EMBEDDED: OnceLock<Result<Arc<Reference>, String>> = OnceLock::new();
        EMBEDDED
            .get_or_init(|| {
                Self::of(SPEC_YAML)
                    .map(Arc::new)
                    .map_err(|e| format!("{e:#}"))
            })
            .clone()
            .map_err(|error| anyhow!("the embedded spec: {error}"))
    }

    /// The representations of the spec `yaml`.
    pub fn of(yaml: &str) -> Result<Self> {
        let spec: serde_json::Value =
            serde_yaml_ng::from_str(yaml).context("parsing the spec as YAML")?;
        let json = serde_json::to_vec_pretty(&spec).context("writing the spec as JSON")?;
        let html = leads_reference::render(&spec)?;
        Ok(Self {
            yaml: Representation::new(yaml.to_string(), "application/yaml"),
            json: Representation::new(json, "application/json"),
            html: Representation::new(html, "text/html; charset=utf-8")
                .with_header(
                    CONTENT_SECURITY_POLICY,
                    leads_reference::CONTENT_SECURITY_POLICY,
                )
                .with_header(X_CONTENT_TYPE_OPTIONS, "nosniff")
                .with_header(REFERRER_POLICY, "no-referrer"),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// The JSON the server serves is the spec: the same document as the workspace's file.
    #[test]
    fn the_served_json_is_the_spec() {
        let reference = Reference::embedded().expect("the embedded spec renders");
        let served: serde_json::Value =
            serde_json::from_slice(reference.json.body()).expect("JSON");
        let spec = leads_spec::load_workspace_spec(Path::new(env!("CARGO_MANIFEST_DIR")))
            .expect("the spec loads");
        assert_eq!(served, spec);
        assert_eq!(reference.yaml.body().as_ref(), SPEC_YAML.as_bytes());
    }

    #[test]
    fn a_spec_that_is_not_yaml_stops_the_start() {
        let error = Reference::of("a: [").unwrap_err();
        assert!(
            format!("{error:#}").contains("parsing the spec"),
            "{error:#}"
        );
    }
}
