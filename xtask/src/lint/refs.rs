//! Rule: every `$ref` points at something inside the document. The generators read one
//! self-contained file, so references to other files are problems too.

use leads_spec::Document;
use leads_spec::pointer::escape;
use serde_json::Value;

use super::Problem;

pub fn check(doc: Document, problems: &mut Vec<Problem>) {
    walk(doc, doc.root(), String::new(), problems);
}

fn walk(doc: Document, value: &Value, at: String, problems: &mut Vec<Problem>) {
    match value {
        Value::Object(map) => {
            if let Some(reference) = map.get("$ref") {
                check_ref(doc, reference, format!("{at}/$ref"), problems);
            }
            for (key, child) in map {
                // Examples are literal data: a `$ref` key in them is not a reference.
                if key == "$ref" || key == "example" || key == "examples" {
                    if key == "examples" {
                        walk_examples(doc, child, format!("{at}/examples"), problems);
                    }
                    continue;
                }
                walk(doc, child, format!("{at}/{}", escape(key)), problems);
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                walk(doc, child, format!("{at}/{index}"), problems);
            }
        }
        _ => {}
    }
}

/// An `examples` map: its entries may be `$ref`s to components, but their values are data.
fn walk_examples(doc: Document, examples: &Value, at: String, problems: &mut Vec<Problem>) {
    let Some(map) = examples.as_object() else {
        return;
    };
    for (name, example) in map {
        if let Some(reference) = example.get("$ref") {
            let at = format!("{at}/{}/$ref", escape(name));
            check_ref(doc, reference, at, problems);
        }
    }
}

fn check_ref(doc: Document, reference: &Value, at: String, problems: &mut Vec<Problem>) {
    let Some(reference) = reference.as_str() else {
        problems.push(Problem::new(at, "$ref must be a string"));
        return;
    };
    if let Err(error) = doc.lookup(reference) {
        problems.push(Problem::new(at, error.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::lint::tests::{minimal_spec, pointers};

    #[test]
    fn a_dangling_schema_ref_is_reported() {
        let mut doc = minimal_spec();
        doc["components"]["schemas"]["Thing"]["properties"]["size"] =
            json!({"$ref": "#/components/schemas/Size"});
        let found = pointers(&doc);
        assert!(
            found.contains(&"/components/schemas/Thing/properties/size/$ref".to_string()),
            "{found:?}"
        );
    }

    #[test]
    fn a_dangling_response_ref_is_reported() {
        let mut doc = minimal_spec();
        doc["components"]["responses"]
            .as_object_mut()
            .unwrap()
            .remove("NotFound");
        let found = pointers(&doc);
        assert!(
            found.contains(&"/paths/~1things~1{id}/get/responses/404/$ref".to_string()),
            "{found:?}"
        );
    }

    #[test]
    fn external_refs_are_reported() {
        let mut doc = minimal_spec();
        doc["paths"]["/things/{id}"]["get"]["responses"]["404"] =
            json!({"$ref": "errors.yaml#/NotFound"});
        let found = pointers(&doc);
        assert!(
            found.contains(&"/paths/~1things~1{id}/get/responses/404/$ref".to_string()),
            "{found:?}"
        );
    }

    #[test]
    fn ref_keys_inside_example_values_are_data() {
        let mut doc = minimal_spec();
        doc["components"]["schemas"]["Thing"]["additionalProperties"] = json!(true);
        doc["paths"]["/things/{id}"]["get"]["responses"]["200"]["content"]["application/json"]["example"]
            ["$ref"] = json!("#/nowhere");
        assert_eq!(pointers(&doc), Vec::<String>::new());
    }
}
