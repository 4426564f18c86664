//! The OpenAPI spec as the workspace's tools read it: the generators, the lint, the server's
//! conformance test and the contract suite's coverage gate.
//!
//! - Where the spec lives ([`SPEC_PATH`], [`workspace_spec`]) and loading it ([`load`]).
//! - [`Document`]: any OpenAPI 3.0 document as plain JSON (the spec, or what dropshot
//!   renders), with local `$ref`s resolved on demand and its [`Operation`]s listed with their
//!   JSON pointers, so that whoever reports a problem can say where it is. A `Document`
//!   borrows its JSON, so two of them (two versions of the spec) can be read side by side.
//! - [`pointer`]: JSON pointers, and deserializing into `openapiv3` types with the pointer of
//!   the first value that does not fit.
//! - [`schema`]: OpenAPI 3.0 Schema Objects translated to JSON Schema.

mod document;
pub mod pointer;
pub mod schema;

use std::path::{Path, PathBuf};

use serde_json::Value;

pub use document::{Document, METHODS, Node, Operation, RefError, Response, schema_component};

/// Where the spec lives, relative to the workspace root.
pub const SPEC_PATH: &str = "openapi/leads.yaml";

/// The extension that marks an enum schema extensible (`x-extensible: true`): later minor
/// versions may add values, so consumers accept values they do not know. The client generator
/// gives such enums a catch-all variant; the diff engine counts a value added to one as
/// compatible.
pub const EXTENSIBLE: &str = "x-extensible";

/// The extension that names, on a response, the request parameters whose presence alone
/// brings it (`x-only-when-sent: [{in: header, name: If-None-Match}]`): a consumer that never
/// sends them never receives it. The diff engine counts such a response, added together with
/// those parameters (optional), as compatible.
pub const ONLY_WHEN_SENT: &str = "x-only-when-sent";

/// The response headers the server sets on every answer by itself, whatever the operation
/// and version: `x-request-id` (dropshot) and `api-version` (the version served). The spec
/// documents them on each response; the generator gives them no field in a success-header
/// struct, and an operation's contract across versions does not depend on them.
pub const ANSWER_HEADERS: [&str; 2] = ["x-request-id", "api-version"];

/// Whether `name` is one of the [`ANSWER_HEADERS`].
pub fn is_answer_header(name: &str) -> bool {
    ANSWER_HEADERS
        .iter()
        .any(|header| header.eq_ignore_ascii_case(name))
}

/// Why the spec could not be found or read.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("no {SPEC_PATH} in {} or any directory above it", from.display())]
    NotFound { from: PathBuf },
    #[error("reading {}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("parsing {} as YAML", path.display())]
    Parse {
        path: PathBuf,
        source: serde_yaml_ng::Error,
    },
}

/// The spec of the workspace holding `dir` (a crate's `CARGO_MANIFEST_DIR`, or the workspace
/// root): [`SPEC_PATH`] under the nearest directory, `dir` or above, that has it.
pub fn workspace_spec(dir: &Path) -> Result<PathBuf, LoadError> {
    dir.ancestors()
        .map(|ancestor| ancestor.join(SPEC_PATH))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| LoadError::NotFound {
            from: dir.to_path_buf(),
        })
}

/// Reads a YAML (or JSON) OpenAPI document into JSON, YAML anchors resolved.
pub fn load(path: &Path) -> Result<Value, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text).map_err(|source| LoadError::Parse {
        path: path.to_path_buf(),
        source,
    })
}

/// Parses the text of a YAML (or JSON) OpenAPI document that is not a file of its own (a
/// version read out of git), the way [`load`] parses a file.
pub fn parse(text: &str) -> Result<Value, serde_yaml_ng::Error> {
    serde_yaml_ng::from_str(text)
}

/// Loads the spec of the workspace holding `dir` (see [`workspace_spec`]).
pub fn load_workspace_spec(dir: &Path) -> Result<Value, LoadError> {
    load(&workspace_spec(dir)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workspace_spec_is_found_from_a_crate_and_loads() {
        let path = workspace_spec(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
        assert!(path.ends_with(SPEC_PATH), "{}", path.display());
        let spec = load(&path).unwrap();
        assert!(spec["openapi"].as_str().unwrap().starts_with("3.0."));
    }

    #[test]
    fn a_directory_outside_the_workspace_has_no_spec() {
        let error = workspace_spec(Path::new("/")).unwrap_err();
        assert!(matches!(error, LoadError::NotFound { .. }), "{error}");
    }

    #[test]
    fn text_parses_like_a_file_anchors_included() {
        let spec = parse("a: &x {b: 1}\nc: *x\n").unwrap();
        assert_eq!(spec, serde_json::json!({"a": {"b": 1}, "c": {"b": 1}}));
        assert!(parse("a: [").is_err());
    }

    #[test]
    fn a_file_that_is_not_yaml_is_a_parse_error() {
        let path = std::env::temp_dir().join(format!("leads-spec-{}.yaml", std::process::id()));
        std::fs::write(&path, "a: [").unwrap();
        let error = load(&path).unwrap_err();
        std::fs::remove_file(&path).unwrap();
        assert!(matches!(error, LoadError::Parse { .. }), "{error}");
    }
}
