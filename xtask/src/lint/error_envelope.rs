//! Rule: every 4xx and 5xx response (and `default`) carries the error envelope, so that a
//! client can handle every error one way. Progenitor also needs one error schema per operation.

use leads_spec::Document;
use serde_json::Value;

use super::Problem;

/// The schema every error response must use.
pub const ERROR_SCHEMA: &str = "#/components/schemas/ErrorResponse";

pub fn check(doc: Document, problems: &mut Vec<Problem>) {
    for operation in doc.operations() {
        for response in operation.responses() {
            let status = response.status;
            if !is_error(status) {
                continue;
            }
            let schema_ref = doc
                .resolve(response.node.value)
                .ok()
                .and_then(|r| r.pointer("/content/application~1json/schema/$ref"))
                .and_then(Value::as_str);
            if schema_ref != Some(ERROR_SCHEMA) {
                problems.push(Problem::new(
                    response.node.pointer,
                    format!(
                        "error response {status} must use the error envelope: content \
                         `application/json` with schema `$ref: '{ERROR_SCHEMA}'`"
                    ),
                ));
            }
        }
    }
}

/// `4xx`, `5xx` (as numbers or `4XX`/`5XX` ranges) and `default`.
fn is_error(status: &str) -> bool {
    status == "default" || status.starts_with('4') || status.starts_with('5')
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::lint::tests::{minimal_spec, pointers};

    #[test]
    fn an_error_response_with_another_schema_is_reported() {
        let mut doc = minimal_spec();
        doc["paths"]["/things/{id}"]["get"]["responses"]["500"] = json!({
            "description": "boom",
            "content": {"text/plain": {"schema": {"type": "string"}}}
        });
        assert_eq!(pointers(&doc), ["/paths/~1things~1{id}/get/responses/500"]);
    }

    #[test]
    fn a_referenced_error_response_is_followed() {
        let mut doc = minimal_spec();
        doc["components"]["responses"]["NotFound"]["content"]["application/json"]["schema"] =
            json!({"$ref": "#/components/schemas/Thing"});
        doc["components"]["responses"]["NotFound"]["content"]["application/json"]
            .as_object_mut()
            .unwrap()
            .remove("example");
        assert_eq!(pointers(&doc), ["/paths/~1things~1{id}/get/responses/404"]);
    }

    #[test]
    fn error_ranges_and_default_count() {
        for status in ["4XX", "default"] {
            let mut doc = minimal_spec();
            doc["paths"]["/things/{id}"]["get"]["responses"][status] =
                json!({"description": "no body"});
            assert_eq!(
                pointers(&doc),
                [format!("/paths/~1things~1{{id}}/get/responses/{status}")],
                "{status}"
            );
        }
    }
}
