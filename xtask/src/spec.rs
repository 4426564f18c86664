//! Loading `openapi/leads.yaml`: YAML (anchors resolved) into JSON, then into `openapiv3` types.

use std::path::Path;

use anyhow::{Context, Result};
use serde_json::Value;

/// Where the spec lives, relative to the workspace root.
pub const SPEC_PATH: &str = "openapi/leads.yaml";

/// Reads a YAML (or JSON) OpenAPI document into a JSON value.
pub fn load_json(path: &Path) -> Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_yaml_ng::from_str(&text).with_context(|| format!("parsing {} as YAML", path.display()))
}

/// Turns a JSON document into the typed OpenAPI model; on failure, says where (a JSON pointer)
/// the document stops matching OpenAPI 3.0, and why.
pub fn to_openapi(json: &Value) -> Result<openapiv3::OpenAPI, (String, String)> {
    deserialize(json)
}

/// Deserializes any part of a document; on failure, the JSON pointer (relative to `json`) of
/// the innermost value serde could track, and the message.
pub fn deserialize<T: serde::de::DeserializeOwned>(json: &Value) -> Result<T, (String, String)> {
    serde_path_to_error::deserialize(json).map_err(|error| {
        let pointer = path_to_pointer(error.path());
        (pointer, error.inner().to_string())
    })
}

fn path_to_pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    path.iter()
        .filter_map(|segment| match segment {
            Segment::Seq { index } => Some(index.to_string()),
            Segment::Map { key } => Some(key.clone()),
            Segment::Enum { variant } => Some(variant.clone()),
            Segment::Unknown => None,
        })
        .map(|segment| format!("/{}", escape_pointer_token(&segment)))
        .collect()
}

/// Escapes one JSON-pointer reference token (RFC 6901).
pub fn escape_pointer_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// Builds a JSON pointer from unescaped tokens.
pub fn pointer<I, S>(tokens: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    tokens
        .into_iter()
        .map(|token| format!("/{}", escape_pointer_token(token.as_ref())))
        .collect()
}
