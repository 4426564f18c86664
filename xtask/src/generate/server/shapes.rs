//! When a release and the working spec agree on a wire shape, so that the server can serve
//! both with one Rust type, or an operation of both with one handler.
//!
//! Two schemas have the same shape when they differ at most in documentation (`description`,
//! `summary`, `title`, examples, `x-` extensions other than `x-raw-json`) and in values the
//! working spec adds to an extensible enum (`x-extensible: true`): a client of the release
//! accepts a value it does not know there, and every value it sends is one the working
//! spec's type reads. A `$ref` agrees with a `$ref` to the same name whose schemas agree in
//! both documents, so agreement takes in everything a schema refers to. Anything else, a
//! `default` included (it changes what the type deserializes), makes the shapes differ.
//!
//! The documentation a shared type shows is not lost: the server renders each version's
//! document with that version's schemas (`openapi_schema` in the generated code).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use leads_spec::schema_component;

/// Keys that only document: ignored when shapes are compared.
const DOC_KEYS: [&str; 6] = [
    "description",
    "summary",
    "title",
    "example",
    "examples",
    "externalDocs",
];

/// The one extension that changes a wire type (`types::RAW_JSON`).
const SHAPING_EXTENSION: &str = "x-raw-json";

/// Keys whose value maps names (properties, headers, statuses, media types) to objects: their
/// keys are data, never documentation.
const NAME_MAPS: [&str; 7] = [
    "properties",
    "patternProperties",
    "headers",
    "content",
    "responses",
    "encoding",
    "links",
];

/// Compares the schemas of a release (`old`) with the working spec's (`new`), by name.
pub struct Shapes<'a> {
    old: &'a Map<String, Value>,
    new: &'a Map<String, Value>,
    /// Whether the schema of each name compared so far agrees; `true` while a comparison is
    /// under way, so that a schema referring to itself agrees unless something else differs.
    agreed: BTreeMap<String, bool>,
}

impl<'a> Shapes<'a> {
    pub fn new(old: &'a Map<String, Value>, new: &'a Map<String, Value>) -> Self {
        Self {
            old,
            new,
            agreed: BTreeMap::new(),
        }
    }

    /// Whether the schema `name` has the same shape in both (and exists in both).
    pub fn same_schema(&mut self, name: &str) -> bool {
        if let Some(known) = self.agreed.get(name) {
            return *known;
        }
        let (Some(old), Some(new)) = (self.old.get(name), self.new.get(name)) else {
            self.agreed.insert(name.to_string(), false);
            return false;
        };
        self.agreed.insert(name.to_string(), true);
        let same = self.same(old, new);
        self.agreed.insert(name.to_string(), same);
        same
    }

    /// Whether `old` (of the release) and `new` (of the working spec) have the same shape:
    /// schemas, or any part of a document whose schemas are `$ref`s to components.
    pub fn same(&mut self, old: &Value, new: &Value) -> bool {
        match (old, new) {
            (Value::Object(old), Value::Object(new)) => self.same_object(old, new, false),
            (Value::Array(old), Value::Array(new)) => {
                old.len() == new.len() && old.iter().zip(new).all(|(a, b)| self.same(a, b))
            }
            _ => old == new,
        }
    }

    fn same_object(
        &mut self,
        old: &Map<String, Value>,
        new: &Map<String, Value>,
        names: bool,
    ) -> bool {
        if !names {
            let reference = |map: &Map<String, Value>| {
                map.get("$ref")
                    .and_then(Value::as_str)
                    .and_then(schema_component)
                    .map(String::from)
            };
            match (reference(old), reference(new)) {
                (Some(a), Some(b)) => return a == b && self.same_schema(&a),
                (None, None) => {}
                _ => return false,
            }
        }
        let extensible = !names && new.get("x-extensible") == Some(&Value::Bool(true));
        let compared = |key: &String| names || !ignored(key);
        let keys_old: Vec<&String> = old.keys().filter(|key| compared(key)).collect();
        let keys_new: Vec<&String> = new.keys().filter(|key| compared(key)).collect();
        if keys_old != keys_new {
            return false;
        }
        keys_old.into_iter().all(|key| {
            let (a, b) = (&old[key], &new[key]);
            if extensible && key == "enum" {
                return grows(a, b);
            }
            match (a, b, !names && NAME_MAPS.contains(&key.as_str())) {
                (Value::Object(a), Value::Object(b), true) => self.same_object(a, b, true),
                _ => self.same(a, b),
            }
        })
    }
}

/// Whether `key` only documents.
fn ignored(key: &str) -> bool {
    DOC_KEYS.contains(&key) || (key.starts_with("x-") && key != SHAPING_EXTENSION)
}

/// Whether the enum values `new` keep every value of `old` (and may add some).
fn grows(old: &Value, new: &Value) -> bool {
    match (old.as_array(), new.as_array()) {
        (Some(old), Some(new)) => old.iter().all(|value| new.contains(value)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn schemas(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn documentation_does_not_change_a_shape() {
        let old = schemas(json!({"Lead": {"type": "object", "description": "A lead.",
            "properties": {"description": {"type": "string", "title": "Text"}}}}));
        let new = schemas(
            json!({"Lead": {"type": "object", "description": "One lead.",
            "properties": {"description": {"type": "string"}}, "x-note": 1}}),
        );
        assert!(Shapes::new(&old, &new).same_schema("Lead"));
    }

    #[test]
    fn a_property_named_like_a_doc_key_is_data() {
        let old = schemas(json!({"A": {"type": "object", "properties": {}}}));
        let new = schemas(json!({"A": {"type": "object",
            "properties": {"description": {"type": "string"}}}}));
        assert!(!Shapes::new(&old, &new).same_schema("A"));
    }

    #[test]
    fn an_extensible_enum_may_grow_but_not_shrink() {
        let enum_of = |values: Value| {
            schemas(json!({"Code": {"type": "string", "enum": values, "x-extensible": true}}))
        };
        let (old, grown, shrunk) = (
            enum_of(json!(["A", "B"])),
            enum_of(json!(["A", "B", "C"])),
            enum_of(json!(["A"])),
        );
        assert!(Shapes::new(&old, &grown).same_schema("Code"));
        assert!(!Shapes::new(&old, &shrunk).same_schema("Code"));
        let closed = schemas(json!({"Code": {"type": "string", "enum": ["A", "B", "C"]}}));
        assert!(!Shapes::new(&old, &closed).same_schema("Code"));
    }

    #[test]
    fn agreement_takes_in_what_a_schema_refers_to() {
        let old = schemas(json!({
            "Envelope": {"type": "object", "properties": {"code": {"$ref": "#/components/schemas/Code"}}},
            "Code": {"type": "string", "enum": ["A"]},
        }));
        let new = schemas(json!({
            "Envelope": {"type": "object", "properties": {"code": {"$ref": "#/components/schemas/Code"}}},
            "Code": {"type": "string", "enum": ["A"], "default": "A"},
        }));
        let mut shapes = Shapes::new(&old, &new);
        assert!(!shapes.same_schema("Envelope"));
        assert!(!shapes.same_schema("Code"));
        assert!(!shapes.same_schema("Missing"));
    }

    #[test]
    fn a_schema_that_refers_to_itself_agrees() {
        let tree = schemas(json!({"Node": {"type": "object",
            "properties": {"children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}}}}}));
        assert!(Shapes::new(&tree, &tree).same_schema("Node"));
    }
}
