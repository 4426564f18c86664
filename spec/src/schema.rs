//! OpenAPI 3.0 Schema Objects and JSON Schema: the translation the lint (to validate
//! examples) and the server generator (to validate requests, to feed typify) both need.

use serde_json::{Map, Value, json};

/// Translates an OpenAPI 3.0 Schema Object into JSON Schema 2020-12: `nullable` becomes a
/// `null` type (or enum value, or alternative), and boolean `exclusiveMinimum`/`Maximum`
/// become numeric bounds. `$ref`s keep their `#/components/schemas/…` form.
pub fn to_json_schema(schema: &Value) -> Value {
    let Value::Object(map) = schema else {
        return schema.clone();
    };
    let mut out = Map::new();
    for (key, value) in map {
        let converted = match key.as_str() {
            "nullable" | "exclusiveMinimum" | "exclusiveMaximum" => continue,
            "properties" => Value::Object(
                value
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(name, schema)| (name.clone(), to_json_schema(schema)))
                    .collect(),
            ),
            "items" | "not" | "additionalProperties" => to_json_schema(value),
            "allOf" | "anyOf" | "oneOf" => Value::Array(
                value
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(to_json_schema)
                    .collect(),
            ),
            _ => value.clone(),
        };
        out.insert(key.clone(), converted);
    }
    for (exclusive, bound) in [
        ("exclusiveMinimum", "minimum"),
        ("exclusiveMaximum", "maximum"),
    ] {
        if map.get(exclusive) == Some(&Value::Bool(true))
            && let Some(limit) = out.remove(bound)
        {
            out.insert(exclusive.to_string(), limit);
        }
    }
    if map.get("nullable") == Some(&Value::Bool(true)) {
        return allow_null(out);
    }
    Value::Object(out)
}

fn allow_null(mut schema: Map<String, Value>) -> Value {
    if let Some(Value::Array(values)) = schema.get_mut("enum")
        && !values.contains(&Value::Null)
    {
        values.push(Value::Null);
    }
    match schema.get("type").cloned() {
        Some(Value::String(kind)) => {
            schema.insert("type".to_string(), json!([kind, "null"]));
            Value::Object(schema)
        }
        // No type: anything goes already, or the type comes from `allOf`/`$ref`.
        None if schema.keys().all(|k| k == "description") => Value::Object(schema),
        _ => json!({"anyOf": [Value::Object(schema), {"type": "null"}]}),
    }
}

/// typify drops `additionalProperties: true` (and so the unknown keys on the way through a
/// generated type), but keeps an empty schema `{}` as a flattened map; both mean "any extra
/// key", so this rewrites the first into the second throughout a document or schema.
pub fn keep_unknown_properties(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                if key == "additionalProperties" && *child == Value::Bool(true) {
                    *child = Value::Object(Map::new());
                } else {
                    keep_unknown_properties(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(keep_unknown_properties),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn conversion_handles_nullable_refs_enums_and_exclusive_bounds() {
        assert_eq!(
            to_json_schema(&json!({"allOf": [{"$ref": "#/x"}], "nullable": true})),
            json!({"anyOf": [{"allOf": [{"$ref": "#/x"}]}, {"type": "null"}]})
        );
        assert_eq!(
            to_json_schema(&json!({"type": "string", "enum": ["a"], "nullable": true})),
            json!({"type": ["string", "null"], "enum": ["a", null]})
        );
        assert_eq!(
            to_json_schema(&json!({"type": "number", "minimum": 0, "exclusiveMinimum": true})),
            json!({"type": "number", "exclusiveMinimum": 0})
        );
        assert_eq!(
            to_json_schema(&json!({"description": "any", "nullable": true})),
            json!({"description": "any"})
        );
    }
}
