//! Validation of request data against the schemas of the version it is read in
//! ([`super::versions::schemas`]), with one [`FieldProblem`] per offending field.

use std::collections::HashMap;
use std::sync::OnceLock;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{ValidationError, Validator};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::versions;
use crate::domain;
use crate::error::{Error, FieldProblem};

struct Schemas {
    definitions: Map<String, Value>,
    validators: HashMap<String, Validator>,
}

/// Every schema of version `version` (an index into the served versions), compiled once.
fn schemas(version: usize) -> Result<&'static Schemas, Error> {
    static SCHEMAS: OnceLock<Vec<OnceLock<Result<Schemas, String>>>> = OnceLock::new();
    let compiled = SCHEMAS
        .get_or_init(|| (0..=versions::newest()).map(|_| OnceLock::new()).collect())
        .get(version)
        .ok_or_else(|| Error::Internal(format!("no served version {version}")))?;
    compiled
        .get_or_init(|| compile(version))
        .as_ref()
        .map_err(|error| Error::Internal(format!("the spec's schemas do not compile: {error}")))
}

fn compile(version: usize) -> Result<Schemas, String> {
    let definitions = versions::schemas(version)
        .map_err(|error| error.to_string())?
        .json
        .clone();
    let validators = validators(&definitions)?;
    Ok(Schemas {
        definitions,
        validators,
    })
}

/// A validator for each of `definitions` (JSON Schema 2020-12, named as components, whose
/// `$ref`s point at `#/components/schemas/…`), enforcing every format the server does: the
/// standard ones, `iana-time-zone` and `cursor`.
pub fn validators(definitions: &Map<String, Value>) -> Result<HashMap<String, Validator>, String> {
    let mut validators = HashMap::new();
    for name in definitions.keys() {
        let root = json!({
            "$ref": format!("#/components/schemas/{name}"),
            "components": {"schemas": definitions},
        });
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .with_format("iana-time-zone", |zone: &str| domain::is_timezone(zone))
            .with_format("cursor", |cursor: &str| super::cursor::is_issued(cursor))
            .build(&root)
            .map_err(|error| format!("{name}: {error}"))?;
        validators.insert(name.clone(), validator);
    }
    Ok(validators)
}

/// The JSON type (`integer`, `string`, …) the schema `schema_name` declares for `property`.
pub fn property_type(version: usize, schema_name: &str, property: &str) -> Option<&'static str> {
    let schemas = schemas(version).ok()?;
    let mut schema = schemas
        .definitions
        .get(schema_name)?
        .get("properties")?
        .get(property)?;
    // Follow a `$ref` to a component (an enum, say).
    if let Some(name) = schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/components/schemas/"))
    {
        schema = schemas.definitions.get(name)?;
    }
    match schema.get("type")? {
        Value::String(kind) => Some(kind.as_str()),
        Value::Array(kinds) => kinds
            .iter()
            .filter_map(Value::as_str)
            .find(|k| *k != "null"),
        _ => None,
    }
}

/// The names of the properties of the schema `schema_name` of the spec (none if it has
/// none or there is no such schema).
pub fn property_names(version: usize, schema_name: &str) -> Vec<&'static str> {
    schemas(version)
        .ok()
        .and_then(|schemas| schemas.definitions.get(schema_name))
        .and_then(|schema| schema.get("properties"))
        .and_then(Value::as_object)
        .map(|properties| properties.keys().map(String::as_str).collect())
        .unwrap_or_default()
}

/// Every way `value` breaks the schema `schema_name` of the working spec, as
/// `field: message`.
pub fn schema_problems(schema_name: &str, value: &Value) -> Result<Vec<String>, Error> {
    Ok(problems(versions::newest(), schema_name, value)?
        .into_iter()
        .map(|problem| format!("{}: {}", problem.field, problem.message))
        .collect())
}

fn problems(version: usize, schema_name: &str, value: &Value) -> Result<Vec<FieldProblem>, Error> {
    let validator = schemas(version)?
        .validators
        .get(schema_name)
        .ok_or_else(|| Error::Internal(format!("no schema `{schema_name}` in the spec")))?;
    let mut details = Vec::new();
    for error in validator.iter_errors(value) {
        collect_problems(&error, &mut details);
        // A body of 100,000 unknown keys gets neither a huge answer nor a huge log line.
        if details.len() > MAX_DETAILS {
            break;
        }
    }
    details.dedup();
    details.truncate(MAX_DETAILS);
    for problem in &mut details {
        problem.field = bounded_field(&problem.field);
    }
    Ok(details)
}

/// The most offending fields a validation error names.
pub const MAX_DETAILS: usize = 20;

/// The most characters of a field's name a validation error repeats.
pub const MAX_FIELD_CHARS: usize = 100;

/// `field`, cut to [`MAX_FIELD_CHARS`] characters (`…` marks the cut).
fn bounded_field(field: &str) -> String {
    match field.char_indices().nth(MAX_FIELD_CHARS) {
        Some((cut, _)) => format!("{}…", &field[..cut]),
        None => field.to_string(),
    }
}

/// Validates `value` against the schema `schema_name` of version `version`, then
/// deserializes it.
pub fn deserialize<T: DeserializeOwned>(
    version: usize,
    schema_name: &str,
    value: &Value,
    what: &str,
) -> Result<T, Error> {
    let details = problems(version, schema_name, value)?;
    if !details.is_empty() {
        let problems: Vec<String> = details
            .iter()
            .map(|problem| format!("{} {}", problem.field, problem.message))
            .collect();
        let message = format!("{what}: {}", problems.join("; "));
        return Err(Error::Validation { message, details });
    }
    // The schema accepted it, so this fails only where typify is stricter than the schema.
    serde_path_to_error::deserialize(value).map_err(|error| {
        let field = error.path().to_string();
        let problem = FieldProblem::new(field, error.inner().to_string());
        Error::Validation {
            message: format!("{what}: {} {}", problem.field, problem.message),
            details: vec![problem],
        }
    })
}

fn collect_problems(error: &ValidationError<'_>, out: &mut Vec<FieldProblem>) {
    let path = field_path(&error.instance_path().to_string());
    match error.kind() {
        // A nullable value that is neither null nor valid: the reasons are in the branch that
        // is not `null`; if every branch only wants another type, say which types.
        ValidationErrorKind::AnyOf { context } | ValidationErrorKind::OneOfNotValid { context } => {
            let only_wants_a_type = |branch: &Vec<ValidationError<'static>>| {
                branch.iter().all(|e| {
                    matches!(e.kind(), ValidationErrorKind::Type { .. })
                        && e.instance_path() == error.instance_path()
                })
            };
            if context.iter().all(only_wants_a_type) {
                let kinds: Vec<String> = context
                    .iter()
                    .flatten()
                    .filter_map(|e| match e.kind() {
                        ValidationErrorKind::Type { kind } => Some(type_names(kind)),
                        _ => None,
                    })
                    .collect();
                let message = format!("must be of type {}", kinds.join(" or "));
                out.push(FieldProblem::new(or_body(path), message));
            } else {
                for branch in context.iter().filter(|branch| !only_wants_a_type(branch)) {
                    branch.iter().for_each(|e| collect_problems(e, out));
                }
            }
        }
        ValidationErrorKind::Required { property } => {
            let name = property
                .as_str()
                .map_or_else(|| property.to_string(), String::from);
            out.push(FieldProblem::new(join(&path, &name), "is required"));
        }
        ValidationErrorKind::AdditionalProperties { unexpected }
        | ValidationErrorKind::UnevaluatedProperties { unexpected } => {
            for name in unexpected.iter().take(MAX_DETAILS + 1) {
                out.push(FieldProblem::new(join(&path, name), "is not a known field"));
            }
        }
        kind => out.push(FieldProblem::new(or_body(path), message(kind))),
    }
}

/// What is wrong, in words for the client.
fn message(kind: &ValidationErrorKind) -> String {
    match kind {
        ValidationErrorKind::Type { kind } => format!("must be of type {}", type_names(kind)),
        ValidationErrorKind::Format { format } => match format.as_str() {
            "email" => "must be a valid email address".to_string(),
            "uuid" => "must be a UUID".to_string(),
            "date-time" => "must be an RFC 3339 date-time".to_string(),
            "iana-time-zone" => "must be an IANA time zone such as America/New_York".to_string(),
            "cursor" => "was not issued by this API".to_string(),
            other => format!("must be a valid {other}"),
        },
        ValidationErrorKind::Pattern { pattern } => format!("must match the pattern {pattern}"),
        ValidationErrorKind::MaxLength { limit } => format!("must be at most {limit} characters"),
        ValidationErrorKind::MinLength { limit } => format!("must be at least {limit} characters"),
        ValidationErrorKind::Maximum { limit } => format!("must be at most {limit}"),
        ValidationErrorKind::Minimum { limit } => format!("must be at least {limit}"),
        ValidationErrorKind::ExclusiveMaximum { limit } => format!("must be less than {limit}"),
        ValidationErrorKind::ExclusiveMinimum { limit } => format!("must be more than {limit}"),
        ValidationErrorKind::MaxItems { limit } => format!("must have at most {limit} items"),
        ValidationErrorKind::MaxProperties { limit } => format!("must have at most {limit} keys"),
        ValidationErrorKind::MinItems { limit } => format!("must have at least {limit} items"),
        ValidationErrorKind::Enum { options } => {
            let options: Vec<String> = options
                .as_array()
                .map(|values| {
                    values
                        .iter()
                        .filter(|v| !v.is_null())
                        .map(Value::to_string)
                        .collect()
                })
                .unwrap_or_default();
            format!("must be one of {}", options.join(", "))
        }
        ValidationErrorKind::Constant { expected_value } => format!("must be {expected_value}"),
        other => format!("is invalid ({other:?})"),
    }
}

fn type_names(kind: &TypeKind) -> String {
    match kind {
        TypeKind::Single(kind) => kind.to_string(),
        TypeKind::Multiple(kinds) => {
            let kinds: Vec<String> = (*kinds).into_iter().map(|k| k.to_string()).collect();
            kinds.join(" or ")
        }
    }
}

/// A JSON pointer (`/metadata/latitude`) as a dotted field path (`metadata.latitude`).
fn field_path(pointer: &str) -> String {
    pointer
        .split('/')
        .skip(1)
        .map(|token| token.replace("~1", "/").replace("~0", "~"))
        .collect::<Vec<_>>()
        .join(".")
}

/// The whole document is called `body` (only a body can be wrong as a whole).
fn or_body(path: String) -> String {
    if path.is_empty() {
        "body".to_string()
    } else {
        path
    }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const NEWEST: usize = crate::api::generated::SERVED_VERSIONS.len() - 1;
    use crate::api::types::{LeadCreate, LeadListQuery};

    fn problems(schema: &str, value: Value) -> Vec<FieldProblem> {
        match deserialize::<Value>(NEWEST, schema, &value, "Invalid") {
            Err(Error::Validation { details, .. }) => details,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn every_schema_compiles() {
        for version in 0..=versions::newest() {
            assert!(schemas(version).is_ok());
        }
    }

    #[test]
    fn a_valid_body_deserializes() {
        let lead: LeadCreate = deserialize(
            NEWEST,
            "LeadCreate",
            &json!({"email": "john@example.com"}),
            "x",
        )
        .unwrap();
        assert_eq!(lead.email.as_str(), "john@example.com");
    }

    #[test]
    fn each_problem_names_its_field() {
        let found = problems(
            "LeadCreate",
            json!({"phone": "555", "fullname": "J", "metadata": {"latitude": 91}}),
        );
        let fields: Vec<&str> = found.iter().map(|p| p.field.as_str()).collect();
        assert!(fields.contains(&"email"), "{found:?}");
        assert!(fields.contains(&"phone"), "{found:?}");
        assert!(fields.contains(&"fullname"), "{found:?}");
        assert!(fields.contains(&"metadata.latitude"), "{found:?}");
    }

    #[test]
    fn formats_and_bounds_are_enforced() {
        let found = problems(
            "LeadCreate",
            json!({"email": "a@b.co", "metadata": "utm=x"}),
        );
        assert_eq!(
            found,
            [FieldProblem::new(
                "metadata",
                "must be of type object or null"
            )]
        );
        let found = problems("LeadCreate", json!(["a@b.co"]));
        assert_eq!(found, [FieldProblem::new("body", "must be of type object")]);
        let found = problems("LeadCreate", json!({"email": "not-an-email"}));
        assert_eq!(
            found,
            [FieldProblem::new("email", "must be a valid email address")]
        );
        let found = problems("LeadListQuery", json!({"limit": 101}));
        assert_eq!(found, [FieldProblem::new("limit", "must be at most 100")]);
    }

    #[test]
    fn details_are_bounded_in_number_and_length() {
        let mut body = serde_json::Map::new();
        body.insert("email".into(), json!("a@b.co"));
        for i in 0..1000 {
            body.insert(format!("{}{i}", "k".repeat(500)), json!(1));
        }
        let found = problems("LeadCreate", Value::Object(body));
        assert_eq!(found.len(), MAX_DETAILS);
        assert!(
            found
                .iter()
                .all(|p| p.field.chars().count() == MAX_FIELD_CHARS + 1 && p.field.ends_with('…')),
            "{found:?}"
        );
    }

    #[test]
    fn query_defaults_apply() {
        let query: LeadListQuery = deserialize(NEWEST, "LeadListQuery", &json!({}), "x").unwrap();
        assert_eq!(query.limit.get(), 50);
    }

    #[test]
    fn property_types_follow_refs() {
        assert_eq!(
            property_type(NEWEST, "LeadListQuery", "limit"),
            Some("integer")
        );
        assert_eq!(
            property_type(NEWEST, "LeadListQuery", "status"),
            Some("string")
        );
        assert_eq!(property_type(NEWEST, "LeadListQuery", "nope"), None);
    }
}
