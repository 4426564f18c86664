//! Authentication: the security schemes the page lists, and what each operation needs, in
//! words.

use leads_spec::Document;
use serde::Serialize;
use serde_json::Value;

use super::str_at;
use crate::markdown;

/// A security scheme of `components.securitySchemes`.
#[derive(Debug, Serialize)]
pub struct Scheme {
    pub name: String,
    pub summary: String,
    pub description: String,
}

/// The authentication an operation needs, in words.
pub(super) fn auth(doc: Document, op: &leads_spec::Operation) -> String {
    if !doc.requires_auth(op) {
        return "None: no API key needed.".to_string();
    }
    let requirements = op
        .value
        .get("security")
        .or_else(|| doc.root().get("security"));
    let names: Vec<&String> = requirements
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .flat_map(|requirement| requirement.keys())
        .collect();
    let schemes = doc.components("securitySchemes");
    names
        .iter()
        .map(|name| {
            schemes
                .iter()
                .find(|(scheme, _)| scheme == name)
                .map_or_else(
                    || format!("`{name}`"),
                    |(_, node)| scheme_summary(node.value),
                )
        })
        .collect::<Vec<_>>()
        .join(" or ")
}

pub(super) fn schemes(doc: Document) -> Vec<Scheme> {
    doc.components("securitySchemes")
        .into_iter()
        .map(|(name, node)| {
            let scheme = node.value;
            let summary = scheme_summary(scheme);
            Scheme {
                name: name.to_string(),
                summary: markdown::inline(&summary),
                description: markdown::render(str_at(scheme, "description")),
            }
        })
        .collect()
}

/// What a security scheme asks of a request, in Markdown.
fn scheme_summary(scheme: &Value) -> String {
    match (str_at(scheme, "type"), str_at(scheme, "scheme")) {
        ("http", "bearer") => match scheme.get("bearerFormat").and_then(Value::as_str) {
            Some(format) => format!("`Authorization: Bearer {format}`"),
            None => "`Authorization: Bearer …`".to_string(),
        },
        ("http", scheme) => format!("HTTP `{scheme}` authentication"),
        ("apiKey", _) => format!(
            "API key in the {} `{}`",
            str_at(scheme, "in"),
            str_at(scheme, "name")
        ),
        (kind, _) => format!("`{kind}`"),
    }
}
