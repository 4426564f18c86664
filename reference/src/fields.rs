//! Schemas as the page shows them: one row per field, nested fields below their parent, each
//! with its type, format, pattern, bounds, enum values, default, and whether it is required
//! or nullable.
//!
//! `$ref`s are followed through [`leads_spec::Document`]; a component is expanded once per
//! branch (a schema that contains itself shows its name, not an endless tree).

use leads_spec::{Document, schema_component};
use serde::Serialize;
use serde_json::Value;

use crate::markdown;

/// How deep fields nest before the page stops expanding them.
const MAX_DEPTH: usize = 6;

/// One field of a schema (or one parameter), ready for the template.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Field {
    pub name: String,
    /// 0 for a top-level field, 1 for a field of its value, …
    pub depth: usize,
    /// `path` or `query` for a parameter; empty for a field.
    pub location: String,
    /// `string`, `integer`, `array of LeadNote`, `object (LeadMetadata)`, `any`.
    pub kind: String,
    pub format: Option<String>,
    pub pattern: Option<String>,
    /// `minimum 1`, `max length 254`, …
    pub bounds: Vec<String>,
    /// The allowed values, as JSON.
    pub values: Vec<String>,
    /// The default, as JSON.
    pub default: Option<String>,
    /// An example, as JSON (parameters).
    pub example: Option<String>,
    pub required: bool,
    pub nullable: bool,
    /// For objects: whether keys the schema does not list are `accepted` or `rejected`.
    pub other_keys: Option<&'static str>,
    /// The description, rendered.
    pub description: String,
}

/// A schema's own shape, for a whole body or response: its label and its fields.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Shape {
    /// The component name, or the type (`string`, `object`).
    pub label: String,
    /// The description, rendered (a component's own).
    pub description: String,
    pub fields: Vec<Field>,
    /// For objects: whether keys the schema does not list are accepted.
    pub other_keys: Option<&'static str>,
    /// For a `oneOf`: each alternative as its own shape. A `oneOf` has no fields of its own,
    /// so without them the reader would see a name and nothing of what is sent.
    pub one_of: Vec<Shape>,
    /// The property whose value tells the alternatives apart (`discriminator.propertyName`).
    pub discriminator: Option<String>,
}

/// The shape of `schema` (a body's or a response's), with the alternatives of its `oneOf`.
///
/// Alternatives are expanded one level deep: an alternative's own `oneOf` is not, so a
/// schema that lists itself among its alternatives still ends.
pub fn shape(doc: Document, schema: &Value) -> Shape {
    let facts = Facts::of(doc, schema);
    Shape {
        one_of: facts
            .schema
            .get("oneOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|alternative| plain_shape(doc, alternative))
            .collect(),
        discriminator: facts
            .schema
            .pointer("/discriminator/propertyName")
            .and_then(Value::as_str)
            .map(String::from),
        ..plain_shape(doc, schema)
    }
}

/// The shape of `schema`: its label, description and fields, no alternatives.
fn plain_shape(doc: Document, schema: &Value) -> Shape {
    let mut stack = Vec::new();
    let facts = Facts::of(doc, schema);
    let mut fields = Vec::new();
    if let Some(name) = &facts.component {
        stack.push(name.clone());
    }
    properties(doc, facts.schema, 0, &mut stack, &mut fields);
    Shape {
        label: facts
            .component
            .clone()
            .unwrap_or_else(|| facts.kind.clone()),
        description: facts.description.map(markdown::render).unwrap_or_default(),
        other_keys: other_keys(facts.schema),
        fields,
        ..Shape::default()
    }
}

/// A parameter (resolved) as a field row.
pub fn parameter(doc: Document, parameter: &Value) -> Field {
    let schema = parameter.get("schema").unwrap_or(&Value::Null);
    let facts = Facts::of(doc, schema);
    let description = parameter
        .get("description")
        .and_then(Value::as_str)
        .or(facts.description);
    Field {
        name: text(parameter, "name"),
        location: text(parameter, "in"),
        required: parameter.get("required") == Some(&Value::Bool(true)),
        example: parameter.get("example").map(Value::to_string),
        description: description.map(markdown::render).unwrap_or_default(),
        ..facts.field()
    }
}

/// Rows for the properties of the object `schema`, and of their values, in name order.
fn properties(
    doc: Document,
    schema: &Value,
    depth: usize,
    stack: &mut Vec<String>,
    out: &mut Vec<Field>,
) {
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let Some(listed) = schema.get("properties").and_then(Value::as_object) else {
        return;
    };
    for (name, property) in listed {
        let facts = Facts::of(doc, property);
        out.push(Field {
            name: name.clone(),
            depth,
            required: required.contains(&name.as_str()),
            description: facts.description.map(markdown::render).unwrap_or_default(),
            ..facts.field()
        });
        // The object whose fields follow: the value's own, or an array's items'.
        let (inner, component) = match facts.items {
            Some(items) => (items.schema, items.component.clone()),
            None => (facts.schema, facts.component.clone()),
        };
        let expanded = component.as_ref().is_some_and(|name| stack.contains(name));
        if depth + 1 < MAX_DEPTH && !expanded {
            if let Some(name) = &component {
                stack.push(name.clone());
            }
            properties(doc, inner, depth + 1, stack, out);
            if component.is_some() {
                stack.pop();
            }
        }
    }
}

/// What a schema says, its `$ref` (and a lone `allOf: [$ref]`) followed; the `nullable` and
/// `description` beside an `allOf` win over the referenced component's.
struct Facts<'a> {
    schema: &'a Value,
    component: Option<String>,
    kind: String,
    nullable: bool,
    description: Option<&'a str>,
    items: Option<Box<Facts<'a>>>,
}

impl<'a> Facts<'a> {
    fn of(doc: Document<'a>, written: &'a Value) -> Self {
        let (target, component) = referenced(written);
        let schema = match target {
            Some(reference) => doc
                .lookup(reference)
                .ok()
                .and_then(|value| doc.resolve(value).ok())
                .unwrap_or(written),
            None => written,
        };
        let nullable = [written, schema]
            .iter()
            .any(|s| s.get("nullable") == Some(&Value::Bool(true)));
        let description = written
            .get("description")
            .or_else(|| schema.get("description"))
            .and_then(Value::as_str);
        let items = schema
            .get("items")
            .map(|items| Box::new(Facts::of(doc, items)));
        let base = match schema.get("type").and_then(Value::as_str) {
            Some(kind) => kind.to_string(),
            None if schema.get("properties").is_some() => "object".to_string(),
            None => "any".to_string(),
        };
        let kind = match (&items, &component) {
            (Some(items), _) => format!(
                "array of {}",
                items.component.clone().unwrap_or(items.kind.clone())
            ),
            (None, Some(name)) => format!("{base} ({name})"),
            (None, None) => base,
        };
        Self {
            schema,
            component,
            kind,
            nullable,
            description,
            items,
        }
    }

    /// The row this schema makes, bar name, depth, requiredness and description.
    fn field(&self) -> Field {
        let schema = self.schema;
        let values = schema
            .get("enum")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(Value::to_string)
            .collect();
        Field {
            kind: self.kind.clone(),
            format: schema
                .get("format")
                .and_then(Value::as_str)
                .map(String::from),
            pattern: schema
                .get("pattern")
                .and_then(Value::as_str)
                .map(String::from),
            bounds: bounds(schema),
            values,
            default: schema.get("default").map(Value::to_string),
            nullable: self.nullable,
            other_keys: other_keys(schema),
            ..Field::default()
        }
    }
}

/// The `$ref` a schema stands for (itself, or a lone `allOf` item), and its component name.
fn referenced(schema: &Value) -> (Option<&str>, Option<String>) {
    let reference = schema.get("$ref").and_then(Value::as_str).or_else(|| {
        match schema
            .get("allOf")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
        {
            Some([only]) => only.get("$ref").and_then(Value::as_str),
            _ => None,
        }
    });
    let component = reference.and_then(schema_component).map(String::from);
    (reference, component)
}

/// The numeric, length and size bounds of `schema`, in words.
fn bounds(schema: &Value) -> Vec<String> {
    let exclusive = |key: &str| schema.get(key) == Some(&Value::Bool(true));
    let mut found = Vec::new();
    for (key, label, exclusive_key) in [
        ("minimum", "minimum", "exclusiveMinimum"),
        ("maximum", "maximum", "exclusiveMaximum"),
    ] {
        if let Some(limit) = schema.get(key) {
            let label = if exclusive(exclusive_key) {
                format!("{label} {limit} (exclusive)")
            } else {
                format!("{label} {limit}")
            };
            found.push(label);
        }
    }
    for (key, label) in [
        ("minLength", "min length"),
        ("maxLength", "max length"),
        ("minItems", "min items"),
        ("maxItems", "max items"),
        ("minProperties", "min keys"),
        ("maxProperties", "max keys"),
    ] {
        if let Some(limit) = schema.get(key) {
            found.push(format!("{label} {limit}"));
        }
    }
    found
}

/// For an object schema: whether it accepts keys it does not list.
fn other_keys(schema: &Value) -> Option<&'static str> {
    schema.get("properties")?;
    match schema.get("additionalProperties") {
        Some(Value::Bool(false)) => Some("rejected"),
        _ => Some("accepted"),
    }
}

fn text(value: &Value, field: &str) -> String {
    value
        .get(field)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn spec() -> Value {
        json!({"components": {"schemas": {
            "Create": {
                "type": "object",
                "description": "A new thing.",
                "required": ["email"],
                "additionalProperties": false,
                "properties": {
                    "email": {"type": "string", "format": "email", "maxLength": 254},
                    "tags": {"type": "array", "maxItems": 3, "items": {"$ref": "#/components/schemas/Tag"}},
                    "meta": {"allOf": [{"$ref": "#/components/schemas/Meta"}], "nullable": true,
                             "description": "Extra."},
                    "status": {"$ref": "#/components/schemas/Status"}
                }
            },
            "Tag": {"type": "object", "properties": {"name": {"type": "string", "minLength": 1}}},
            "Meta": {"type": "object", "description": "Meta.", "additionalProperties": true,
                     "properties": {"n": {"type": "integer", "minimum": 0, "default": 1},
                                    "self": {"$ref": "#/components/schemas/Meta"}}},
            "Status": {"type": "string", "enum": ["new", "old"], "description": "Where it is."}
        }}})
    }

    #[test]
    fn fields_nest_with_their_constraints() {
        let spec = spec();
        let doc = Document::new(&spec);
        let shape = shape(doc, &json!({"$ref": "#/components/schemas/Create"}));
        assert_eq!(shape.label, "Create");
        assert_eq!(shape.other_keys, Some("rejected"));
        let rows: Vec<(usize, &str, &str, bool, bool)> = shape
            .fields
            .iter()
            .map(|f| {
                (
                    f.depth,
                    f.name.as_str(),
                    f.kind.as_str(),
                    f.required,
                    f.nullable,
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                (0, "email", "string", true, false),
                (0, "meta", "object (Meta)", false, true),
                (1, "n", "integer", false, false),
                (1, "self", "object (Meta)", false, false),
                (0, "status", "string (Status)", false, false),
                (0, "tags", "array of Tag", false, false),
                (1, "name", "string", false, false),
            ]
        );
        let email = &shape.fields[0];
        assert_eq!(email.format.as_deref(), Some("email"));
        assert_eq!(email.bounds, ["max length 254"]);
        assert_eq!(shape.fields[1].description, "<p>Extra.</p>\n");
        assert_eq!(shape.fields[2].default.as_deref(), Some("1"));
        assert_eq!(shape.fields[4].values, ["\"new\"", "\"old\""]);
        assert_eq!(shape.fields[4].description, "<p>Where it is.</p>\n");
        assert_eq!(shape.fields[5].bounds, ["max items 3"]);
    }

    #[test]
    fn a_one_of_shows_its_alternatives_once() {
        let spec = json!({"components": {"schemas": {
            "Either": {"oneOf": [{"$ref": "#/components/schemas/Either"},
                                 {"$ref": "#/components/schemas/Tag"}],
                       "discriminator": {"propertyName": "name"}},
            "Tag": {"type": "object", "properties": {"name": {"type": "string"}}}
        }}});
        let doc = Document::new(&spec);
        let shape = shape(doc, &json!({"$ref": "#/components/schemas/Either"}));
        assert_eq!(shape.discriminator.as_deref(), Some("name"));
        let labels: Vec<&str> = shape.one_of.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(labels, ["Either", "Tag"]);
        assert!(shape.one_of[0].one_of.is_empty(), "expanded once");
        assert_eq!(shape.one_of[1].fields[0].name, "name");
    }

    #[test]
    fn a_parameter_is_a_row() {
        let spec = spec();
        let doc = Document::new(&spec);
        let field = parameter(
            doc,
            &json!({"name": "status", "in": "query", "example": "new",
                    "schema": {"$ref": "#/components/schemas/Status"}}),
        );
        assert_eq!(field.location, "query");
        assert_eq!(field.kind, "string (Status)");
        assert_eq!(field.example.as_deref(), Some("\"new\""));
        assert!(!field.required);
    }
}
