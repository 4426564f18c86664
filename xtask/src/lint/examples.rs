//! Rule: every example (of a parameter, a header, a request body or a response) validates
//! against its schema, so that the documentation never shows a value the API would refuse.
//!
//! Examples are checked where they are written: a component (parameter, header, response,
//! request body) once at its definition, an inline one at its operation. A referenced example
//! (`$ref: '#/components/examples/…'`) is checked against every schema it is used with.
//! Schemas are OpenAPI 3.0 Schema Objects; [`to_json_schema`] turns them into JSON Schema
//! (2020-12) for the validator.

use std::collections::BTreeSet;

use leads_spec::Document;
use leads_spec::pointer::escape;
use leads_spec::schema::to_json_schema;
use serde_json::{Map, Value, json};

use super::Problem;

pub fn check(doc: Document, problems: &mut Vec<Problem>) {
    let checker = Checker::new(doc);
    for (_, parameter) in doc.components("parameters") {
        checker.parameter_or_header(&parameter.pointer, parameter.value, problems);
    }
    for (_, header) in doc.components("headers") {
        checker.parameter_or_header(&header.pointer, header.value, problems);
    }
    for (_, response) in doc.components("responses") {
        checker.response(&response.pointer, response.value, problems);
    }
    for (_, body) in doc.components("requestBodies") {
        checker.content(&body.pointer, body.value, problems);
    }
    // A path item's parameters apply to each of its operations: check them once.
    let mut checked_parameters = BTreeSet::new();
    for operation in doc.operations() {
        for parameter in operation.parameters() {
            if checked_parameters.insert(parameter.pointer.clone()) {
                checker.parameter_or_header(&parameter.pointer, parameter.value, problems);
            }
        }
        if let Some(body) = operation.request_body() {
            checker.content(&body.pointer, body.value, problems);
        }
        for response in operation.responses() {
            checker.response(&response.node.pointer, response.node.value, problems);
        }
    }
}

struct Checker<'a> {
    doc: Document<'a>,
    /// `components.schemas`, converted to JSON Schema, for `$ref`s to resolve against.
    schemas: Value,
}

impl<'a> Checker<'a> {
    fn new(doc: Document<'a>) -> Self {
        let schemas: Map<String, Value> = doc
            .components("schemas")
            .into_iter()
            .map(|(name, schema)| (name.to_string(), to_json_schema(schema.value)))
            .collect();
        Self {
            doc,
            schemas: Value::Object(schemas),
        }
    }

    fn parameter_or_header(&self, at: &str, value: &Value, problems: &mut Vec<Problem>) {
        if value.get("$ref").is_some() {
            return; // checked at its definition
        }
        if let Some(schema) = value.get("schema") {
            self.examples(at, value, schema, problems);
        }
        if let Some(content) = value.get("content") {
            self.media_types(at, content, problems);
        }
    }

    fn response(&self, at: &str, response: &Value, problems: &mut Vec<Problem>) {
        if response.get("$ref").is_some() {
            return; // checked at its definition
        }
        self.content(at, response, problems);
        if let Some(headers) = response.get("headers").and_then(Value::as_object) {
            for (name, header) in headers {
                let at = format!("{at}/headers/{}", escape(name));
                self.parameter_or_header(&at, header, problems);
            }
        }
    }

    /// The `content` of a request body or response.
    fn content(&self, at: &str, owner: &Value, problems: &mut Vec<Problem>) {
        if owner.get("$ref").is_some() {
            return; // checked at its definition
        }
        if let Some(content) = owner.get("content") {
            self.media_types(&format!("{at}/content"), content, problems);
        }
    }

    fn media_types(&self, at: &str, content: &Value, problems: &mut Vec<Problem>) {
        let Some(media_types) = content.as_object() else {
            return;
        };
        for (media_type, object) in media_types {
            if let Some(schema) = object.get("schema") {
                let at = format!("{at}/{}", escape(media_type));
                self.examples(&at, object, schema, problems);
            }
        }
    }

    /// Validates `owner`'s `example` and each of its `examples` against `schema`.
    fn examples(&self, at: &str, owner: &Value, schema: &Value, problems: &mut Vec<Problem>) {
        let mut cases: Vec<(String, &Value)> = Vec::new();
        if let Some(example) = owner.get("example") {
            cases.push((format!("{at}/example"), example));
        }
        if let Some(examples) = owner.get("examples").and_then(Value::as_object) {
            for (name, example) in examples {
                let at = format!("{at}/examples/{}", escape(name));
                // A dangling example reference is the refs rule's to report.
                if let Some(value) = self.doc.resolve(example).ok().and_then(|e| e.get("value")) {
                    cases.push((format!("{at}/value"), value));
                }
            }
        }
        if cases.is_empty() {
            return;
        }
        let root = json!({
            "allOf": [to_json_schema(schema)],
            "components": {"schemas": self.schemas},
        });
        let validator = match jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .build(&root)
        {
            Ok(validator) => validator,
            Err(error) => {
                problems.push(Problem::new(
                    format!("{at}/schema"),
                    format!("the schema cannot be used to validate its examples: {error}"),
                ));
                return;
            }
        };
        for (at, instance) in cases {
            for error in validator.iter_errors(instance) {
                problems.push(Problem::new(
                    format!("{at}{}", error.instance_path()),
                    format!("the example does not match its schema: {error}"),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::lint::tests::{minimal_spec, pointers};

    const RESPONSE_200: &str = "/paths/~1things~1{id}/get/responses/200/content/application~1json";

    #[test]
    fn a_response_example_breaking_its_schema_is_reported_at_the_field() {
        let mut doc = minimal_spec();
        doc["paths"]["/things/{id}"]["get"]["responses"]["200"]["content"]["application/json"]["example"]
            ["size"] = json!(-1);
        assert_eq!(pointers(&doc), [format!("{RESPONSE_200}/example/size")]);
    }

    #[test]
    fn an_unknown_field_in_a_closed_object_is_reported() {
        let mut doc = minimal_spec();
        doc["paths"]["/things/{id}"]["get"]["responses"]["200"]["content"]["application/json"]["example"]
            ["colour"] = json!("red");
        assert_eq!(pointers(&doc), [format!("{RESPONSE_200}/example")]);
    }

    #[test]
    fn a_parameter_example_breaking_its_format_is_reported() {
        let mut doc = minimal_spec();
        doc["paths"]["/things/{id}"]["get"]["parameters"][0]["example"] = json!("not-a-uuid");
        assert_eq!(
            pointers(&doc),
            ["/paths/~1things~1{id}/get/parameters/0/example"]
        );
    }

    #[test]
    fn a_component_response_example_is_reported_at_its_definition() {
        let mut doc = minimal_spec();
        doc["components"]["responses"]["NotFound"]["content"]["application/json"]["example"]["success"] =
            json!("no");
        assert_eq!(
            pointers(&doc),
            ["/components/responses/NotFound/content/application~1json/example/success"]
        );
    }

    #[test]
    fn a_request_example_reached_through_a_ref_is_validated() {
        let mut doc = minimal_spec();
        doc["components"]["examples"] = json!({"Bad": {"value": {"name": ""}}});
        doc["paths"]["/things/{id}"]["get"]["requestBody"] = json!({
            "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/Thing"},
                "examples": {"bad": {"$ref": "#/components/examples/Bad"}}
            }}
        });
        assert_eq!(
            pointers(&doc),
            [
                "/paths/~1things~1{id}/get/requestBody/content/application~1json/examples/bad/value/name"
            ]
        );
    }

    #[test]
    fn nullable_admits_null_and_nothing_else() {
        let mut doc = minimal_spec();
        doc["paths"]["/things/{id}"]["get"]["responses"]["200"]["content"]["application/json"]["example"]
            ["note"] = json!(3);
        assert_eq!(pointers(&doc), [format!("{RESPONSE_200}/example/note")]);
    }
}
