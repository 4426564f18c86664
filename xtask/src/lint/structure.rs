//! Rule: the document is OpenAPI 3.0.x (the only version progenitor reads).
//!
//! `openapiv3`'s types flatten their `x-` extensions, which hides where deserialization failed
//! beneath the flattened level. So the document is deserialized piece by piece, innermost
//! first (responses, parameters, bodies, components), and a piece is only reported when none
//! of its parts already was: the pointer names the smallest piece that is wrong.

use leads_spec::pointer::{deserialize, escape};
use leads_spec::{Document, METHODS};
use openapiv3::{
    Example, Header, OpenAPI, Operation, Parameter, PathItem, ReferenceOr, RequestBody, Response,
    Schema, SecurityScheme,
};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::Problem;

pub fn check(doc: Document, problems: &mut Vec<Problem>) {
    let doc = doc.root();
    match doc.get("openapi").and_then(Value::as_str) {
        Some(version) if version.starts_with("3.0.") => {}
        Some(version) => problems.push(Problem::new(
            "/openapi",
            format!("OpenAPI version {version} is not supported: the spec must be 3.0.x"),
        )),
        None => problems.push(Problem::new(
            "/openapi",
            "missing `openapi: 3.0.x`: this is not an OpenAPI 3.0 document",
        )),
    }
    let before = problems.len();
    components(doc, problems);
    paths(doc, problems);
    if problems.len() == before {
        piece::<OpenAPI>(doc, "", problems);
    }
}

fn components(doc: &Value, problems: &mut Vec<Problem>) {
    let Some(components) = doc.get("components").and_then(Value::as_object) else {
        return;
    };
    for (kind, entries) in components {
        let Some(entries) = entries.as_object() else {
            continue;
        };
        for (name, value) in entries {
            let at = format!("/components/{kind}/{}", escape(name));
            match kind.as_str() {
                "schemas" => piece::<ReferenceOr<Schema>>(value, &at, problems),
                "responses" => piece::<ReferenceOr<Response>>(value, &at, problems),
                "parameters" => piece::<ReferenceOr<Parameter>>(value, &at, problems),
                "examples" => piece::<ReferenceOr<Example>>(value, &at, problems),
                "requestBodies" => piece::<ReferenceOr<RequestBody>>(value, &at, problems),
                "headers" => piece::<ReferenceOr<Header>>(value, &at, problems),
                "securitySchemes" => piece::<ReferenceOr<SecurityScheme>>(value, &at, problems),
                _ => {}
            }
        }
    }
}

fn paths(doc: &Value, problems: &mut Vec<Problem>) {
    let Some(paths) = doc.get("paths").and_then(Value::as_object) else {
        return;
    };
    for (path, item) in paths {
        let at = format!("/paths/{}", escape(path));
        let before = problems.len();
        parameters(item, &at, problems);
        for method in METHODS {
            if let Some(operation) = item.get(method) {
                operation_parts(operation, &format!("{at}/{method}"), problems);
            }
        }
        if problems.len() == before {
            piece::<PathItem>(item, &at, problems);
        }
    }
}

fn operation_parts(operation: &Value, at: &str, problems: &mut Vec<Problem>) {
    let before = problems.len();
    parameters(operation, at, problems);
    if let Some(body) = operation.get("requestBody") {
        piece::<ReferenceOr<RequestBody>>(body, &format!("{at}/requestBody"), problems);
    }
    if let Some(responses) = operation.get("responses").and_then(Value::as_object) {
        for (status, response) in responses {
            let at = format!("{at}/responses/{}", escape(status));
            piece::<ReferenceOr<Response>>(response, &at, problems);
        }
    }
    if problems.len() == before {
        piece::<Operation>(operation, at, problems);
    }
}

fn parameters(owner: &Value, at: &str, problems: &mut Vec<Problem>) {
    let Some(parameters) = owner.get("parameters").and_then(Value::as_array) else {
        return;
    };
    for (index, parameter) in parameters.iter().enumerate() {
        let at = format!("{at}/parameters/{index}");
        piece::<ReferenceOr<Parameter>>(parameter, &at, problems);
    }
}

/// Deserializes `value` as `T`; on failure reports where, relative to `at`.
fn piece<T: DeserializeOwned>(value: &Value, at: &str, problems: &mut Vec<Problem>) {
    if let Err(error) = deserialize::<T>(value) {
        problems.push(Problem::new(
            format!("{at}{}", error.pointer),
            format!("not valid OpenAPI 3.0: {}", error.message),
        ));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::lint::tests::{minimal_spec, pointers};

    #[test]
    fn other_versions_are_rejected() {
        let mut doc = minimal_spec();
        doc["openapi"] = json!("3.1.0");
        assert_eq!(pointers(&doc), ["/openapi"]);
    }

    #[test]
    fn a_malformed_response_is_reported_where_it_is() {
        let mut doc = minimal_spec();
        doc["paths"]["/things/{id}"]["get"]["responses"]["200"] = json!("ok");
        assert_eq!(pointers(&doc), ["/paths/~1things~1{id}/get/responses/200"]);
    }

    #[test]
    fn a_malformed_component_schema_is_reported_where_it_is() {
        let mut doc = minimal_spec();
        doc["components"]["schemas"]["Thing"]["required"] = json!("name");
        let found = pointers(&doc);
        assert!(
            found.contains(&"/components/schemas/Thing".to_string()),
            "{found:?}"
        );
    }

    #[test]
    fn a_missing_top_level_field_is_reported() {
        let mut doc = minimal_spec();
        doc.as_object_mut().unwrap().remove("info");
        let found = pointers(&doc);
        assert_eq!(found, [""], "{found:?}");
    }
}
