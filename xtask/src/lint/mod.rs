//! `cargo xtask lint`: what must hold of the spec before anything is generated from it.
//!
//! Every rule reads the spec as plain JSON (YAML anchors already resolved), so that each
//! problem can name where it is as a JSON pointer, and every rule runs even when another
//! fails. The rules:
//!
//! | rule | module |
//! |---|---|
//! | the document is OpenAPI 3.0.x | [`structure`] |
//! | every operation has an operationId (unique), summary, description and tag | [`operations`] |
//! | every `$ref` resolves inside the document | [`refs`] |
//! | every example validates against its schema | [`examples`] |
//! | every 4xx/5xx response uses the error envelope | [`error_envelope`] |

mod error_envelope;
mod examples;
mod operations;
mod refs;
mod structure;

use std::fmt;
use std::path::Path;

use anyhow::Result;
use leads_spec::Document;
use serde_json::Value;

/// One thing wrong with the spec, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// JSON pointer into the spec.
    pub pointer: String,
    pub message: String,
}

impl Problem {
    pub fn new(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            pointer: pointer.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = if self.pointer.is_empty() {
            "/"
        } else {
            &self.pointer
        };
        write!(f, "{at}: {}", self.message)
    }
}

/// Lints the spec at `path`, printing every problem. Returns whether it is clean.
pub fn run(path: &Path) -> Result<bool> {
    let doc = leads_spec::load(path)?;
    let problems = lint(&doc);
    if problems.is_empty() {
        println!("lint: {} is clean", path.display());
        return Ok(true);
    }
    for problem in &problems {
        eprintln!("{problem}");
    }
    eprintln!("lint: {} problem(s) in {}", problems.len(), path.display());
    Ok(false)
}

/// Every problem of `doc`, rule by rule.
pub fn lint(doc: &Value) -> Vec<Problem> {
    let doc = Document::new(doc);
    let mut problems = Vec::new();
    structure::check(doc, &mut problems);
    operations::check(doc, &mut problems);
    refs::check(doc, &mut problems);
    examples::check(doc, &mut problems);
    error_envelope::check(doc, &mut problems);
    problems
}

#[cfg(test)]
pub(crate) mod tests {
    use serde_json::{Value, json};

    use super::*;

    /// The smallest spec that passes every rule; each rule's tests break it in one place.
    pub fn minimal_spec() -> Value {
        json!({
            "openapi": "3.0.3",
            "info": {"title": "t", "version": "1"},
            "paths": {
                "/things/{id}": {
                    "get": {
                        "operationId": "thing_view",
                        "summary": "Get thing",
                        "description": "Returns a thing.",
                        "tags": ["things"],
                        "parameters": [{
                            "name": "id", "in": "path", "required": true,
                            "schema": {"type": "string", "format": "uuid"},
                            "example": "550e8400-e29b-41d4-a716-446655440000"
                        }],
                        "responses": {
                            "200": {
                                "description": "ok",
                                "content": {"application/json": {
                                    "schema": {"$ref": "#/components/schemas/Thing"},
                                    "example": {"name": "a", "size": 2, "note": null}
                                }}
                            },
                            "404": {"$ref": "#/components/responses/NotFound"}
                        }
                    }
                }
            },
            "components": {
                "responses": {
                    "NotFound": {
                        "description": "not found",
                        "content": {"application/json": {
                            "schema": {"$ref": "#/components/schemas/ErrorResponse"},
                            "example": {"success": false, "error": "Thing not found"}
                        }}
                    }
                },
                "schemas": {
                    "ErrorResponse": {
                        "type": "object",
                        "required": ["success", "error"],
                        "properties": {
                            "success": {"type": "boolean"},
                            "error": {"type": "string"}
                        }
                    },
                    "Thing": {
                        "type": "object",
                        "required": ["name"],
                        "properties": {
                            "name": {"type": "string", "minLength": 1},
                            "size": {"type": "integer", "minimum": 0},
                            "note": {"type": "string", "nullable": true}
                        },
                        "additionalProperties": false
                    }
                }
            }
        })
    }

    /// Lints `doc` and returns the problems' pointers.
    pub fn pointers(doc: &Value) -> Vec<String> {
        lint(doc).into_iter().map(|p| p.pointer).collect()
    }

    #[test]
    fn minimal_spec_is_clean() {
        assert_eq!(lint(&minimal_spec()), Vec::new());
    }

    #[test]
    fn the_project_spec_is_clean() {
        let doc = leads_spec::load_workspace_spec(Path::new(env!("CARGO_MANIFEST_DIR")))
            .expect("the project spec loads");
        let problems: Vec<String> = lint(&doc).iter().map(ToString::to_string).collect();
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}
