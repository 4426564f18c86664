//! Rule: every operation has a unique operationId, a summary, a description and a tag; they
//! name the generated methods and their docs, and group them in rendered documentation.

use std::collections::HashMap;

use leads_spec::Document;
use serde_json::Value;

use super::Problem;

pub fn check(doc: Document, problems: &mut Vec<Problem>) {
    let mut seen: HashMap<&str, String> = HashMap::new();
    for operation in doc.operations() {
        for field in ["operationId", "summary", "description"] {
            let present = operation
                .value
                .get(field)
                .and_then(Value::as_str)
                .is_some_and(|text| !text.trim().is_empty());
            if !present {
                problems.push(Problem::new(
                    format!("{}/{field}", operation.pointer),
                    format!("the operation has no {field}"),
                ));
            }
        }
        let tagged = operation
            .value
            .get("tags")
            .and_then(Value::as_array)
            .is_some_and(|tags| !tags.is_empty());
        if !tagged {
            problems.push(Problem::new(
                format!("{}/tags", operation.pointer),
                "the operation has no tag",
            ));
        }
        if let Some(id) = operation.id() {
            if let Some(first) = seen.get(id) {
                problems.push(Problem::new(
                    format!("{}/operationId", operation.pointer),
                    format!("operationId `{id}` is already used by {first}"),
                ));
            } else {
                seen.insert(id, operation.pointer.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::lint::tests::{minimal_spec, pointers};

    const OPERATION: &str = "/paths/~1things~1{id}/get";

    #[test]
    fn each_missing_field_is_reported() {
        for field in ["operationId", "summary", "description", "tags"] {
            let mut doc = minimal_spec();
            doc["paths"]["/things/{id}"]["get"]
                .as_object_mut()
                .unwrap()
                .remove(field);
            assert_eq!(pointers(&doc), [format!("{OPERATION}/{field}")], "{field}");
        }
    }

    #[test]
    fn blank_summary_and_empty_tags_count_as_missing() {
        let mut doc = minimal_spec();
        doc["paths"]["/things/{id}"]["get"]["summary"] = json!("  ");
        doc["paths"]["/things/{id}"]["get"]["tags"] = json!([]);
        assert_eq!(
            pointers(&doc),
            [format!("{OPERATION}/summary"), format!("{OPERATION}/tags")]
        );
    }

    #[test]
    fn duplicate_operation_ids_are_reported() {
        let mut doc = minimal_spec();
        let get = doc["paths"]["/things/{id}"]["get"].clone();
        doc["paths"]["/things/{id}"]["delete"] = get;
        assert_eq!(pointers(&doc), ["/paths/~1things~1{id}/delete/operationId"]);
    }
}
