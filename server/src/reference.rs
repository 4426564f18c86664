//! The spec of every served version, embedded at build time, and what the server serves of
//! each: the document as YAML (byte for byte the file), as JSON, and the reference page
//! rendered from it (`leads-reference`). Made once per process, when the first server
//! starts; a spec that does not parse or a page that does not render stops the start, never
//! a request.

use std::sync::{Arc, OnceLock};

use anyhow::{Context, Result, anyhow};
use http::header::{CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS};

use crate::api::{Representation, SERVED_VERSIONS};

/// The representations of every served version's spec, in the order of
/// [`SERVED_VERSIONS`].
#[derive(Debug)]
pub struct References {
    versions: Vec<Reference>,
}

impl References {
    /// The representations of every served version, made on first use.
    pub fn embedded() -> Result<Arc<Self>> {
        static EMBEDDED: OnceLock<Result<Arc<References>, String>> = OnceLock::new();
        EMBEDDED
            .get_or_init(|| {
                let listed = served_versions();
                SERVED_VERSIONS
                    .iter()
                    .map(|served| {
                        Reference::of(served.document, &listed)
                            .with_context(|| format!("version {}", served.version))
                    })
                    .collect::<Result<Vec<_>>>()
                    .map(|versions| Arc::new(References { versions }))
                    .map_err(|e| format!("{e:#}"))
            })
            .clone()
            .map_err(|error| anyhow!("the embedded spec: {error}"))
    }

    /// The representations of served version `version` (an index into
    /// [`SERVED_VERSIONS`]); the newest's for any other index.
    pub fn of_version(&self, version: usize) -> Option<&Reference> {
        self.versions.get(version).or_else(|| self.versions.last())
    }
}

/// Every served version, as each version's reference page lists them.
pub fn served_versions() -> Vec<leads_reference::ServedVersion> {
    SERVED_VERSIONS
        .iter()
        .map(|served| leads_reference::ServedVersion {
            version: served.version.to_string(),
            deprecated: served.deprecated.map(String::from),
            sunset: served.sunset.map(String::from),
        })
        .collect()
}

/// The three representations of one version's spec.
#[derive(Debug)]
pub struct Reference {
    pub yaml: Representation,
    pub json: Representation,
    pub html: Representation,
}

impl Reference {
    /// The representations of the spec `yaml`, whose page lists the `served` versions.
    pub fn of(yaml: &str, served: &[leads_reference::ServedVersion]) -> Result<Self> {
        let spec: serde_json::Value =
            serde_yaml_ng::from_str(yaml).context("parsing the spec as YAML")?;
        let json = serde_json::to_vec_pretty(&spec).context("writing the spec as JSON")?;
        let html = leads_reference::render(&spec, served)?;
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

    /// The JSON the server serves of the newest version is the spec: the same document as
    /// the workspace's file; each older version's is its release's file.
    #[test]
    fn the_served_json_is_the_spec() {
        let references = References::embedded().expect("the embedded specs render");
        let newest = references
            .of_version(crate::api::versions::newest())
            .expect("the newest");
        let served: serde_json::Value = serde_json::from_slice(newest.json.body()).expect("JSON");
        let spec = leads_spec::load_workspace_spec(Path::new(env!("CARGO_MANIFEST_DIR")))
            .expect("the spec loads");
        assert_eq!(served, spec);
        for (index, version) in SERVED_VERSIONS.iter().enumerate() {
            let reference = references.of_version(index).expect("a version");
            assert_eq!(reference.yaml.body().as_ref(), version.document.as_bytes());
            let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
            let file = if index == crate::api::versions::newest() {
                root.join(leads_spec::SPEC_PATH)
            } else {
                root.join(format!("openapi/released/{}.yaml", version.version))
            };
            assert_eq!(
                std::fs::read_to_string(file).expect("the file"),
                version.document
            );
        }
    }

    #[test]
    fn a_spec_that_is_not_yaml_stops_the_start() {
        let error = Reference::of("a: [", &[]).unwrap_err();
        assert!(
            format!("{error:#}").contains("parsing the spec"),
            "{error:#}"
        );
    }
}
