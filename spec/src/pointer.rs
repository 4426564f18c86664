//! JSON pointers (RFC 6901) into a document, and deserializing a piece of a document into
//! `openapiv3` types with the pointer of where it stops fitting.

use serde::de::DeserializeOwned;
use serde_json::Value;

/// Escapes one JSON-pointer reference token: `~` → `~0`, `/` → `~1`.
pub fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// Builds a JSON pointer from unescaped tokens: `["paths", "/a", "get"]` → `/paths/~1a/get`.
pub fn pointer<I, S>(tokens: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    tokens
        .into_iter()
        .map(|token| format!("/{}", escape(token.as_ref())))
        .collect()
}

/// A value that does not deserialize: where (relative to the value), and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{pointer}: {message}")]
pub struct DeserializeError {
    /// JSON pointer, relative to the deserialized value, of the innermost part serde tracked.
    pub pointer: String,
    pub message: String,
}

/// Deserializes any part of a document, saying where it fails.
pub fn deserialize<T: DeserializeOwned>(json: &Value) -> Result<T, DeserializeError> {
    serde_path_to_error::deserialize(json).map_err(|error| DeserializeError {
        pointer: path_to_pointer(error.path()),
        message: error.inner().to_string(),
    })
}

/// A whole document as the typed OpenAPI 3.0 model.
pub fn to_openapi(json: &Value) -> Result<openapiv3::OpenAPI, DeserializeError> {
    deserialize(json)
}

fn path_to_pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    pointer(path.iter().filter_map(|segment| match segment {
        Segment::Seq { index } => Some(index.to_string()),
        Segment::Map { key } => Some(key.clone()),
        Segment::Enum { variant } => Some(variant.clone()),
        Segment::Unknown => None,
    }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn tokens_are_escaped() {
        assert_eq!(
            pointer(["paths", "/a/{id}", "x~y"]),
            "/paths/~1a~1{id}/x~0y"
        );
        assert_eq!(pointer(Vec::<&str>::new()), "");
    }

    #[test]
    fn a_deserialize_error_names_where() {
        let error = deserialize::<openapiv3::Response>(&json!({
            "description": "ok",
            "headers": {"X-A": {"schema": {"type": "integer"}, "style": "sideways"}}
        }))
        .unwrap_err();
        assert!(error.pointer.starts_with("/headers/X-A"), "{error}");
    }
}
