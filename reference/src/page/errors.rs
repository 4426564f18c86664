//! The error codes table: every `code` the examples of 4xx and 5xx responses show.

use std::collections::BTreeMap;

use leads_spec::Document;
use serde::Serialize;
use serde_json::Value;

use super::operations::examples;
use super::str_at;
use crate::markdown;

/// A row of the error codes table: a `code` the examples of error responses show.
#[derive(Debug, Serialize)]
pub struct ErrorCode {
    pub code: String,
    pub status: String,
    pub description: String,
}

/// The error codes the examples of 4xx/5xx responses show, by status then code, each with the
/// description of the first response that shows it.
pub(super) fn error_codes(doc: Document) -> Vec<ErrorCode> {
    let mut codes: BTreeMap<(String, String), String> = BTreeMap::new();
    for op in doc.operations() {
        for response in op.responses() {
            if !response.status.starts_with(['4', '5']) {
                continue;
            }
            let Ok(value) = doc.resolve(response.node.value) else {
                continue;
            };
            let content = value.get("content").and_then(Value::as_object);
            for media in content.into_iter().flat_map(|content| content.values()) {
                for (_, example) in examples(doc, media) {
                    if let Some(code) = example.get("code").and_then(Value::as_str) {
                        codes
                            .entry((response.status.to_string(), code.to_string()))
                            .or_insert_with(|| markdown::render(str_at(value, "description")));
                    }
                }
            }
        }
    }
    codes
        .into_iter()
        .map(|((status, code), description)| ErrorCode {
            code,
            status,
            description,
        })
        .collect()
}
