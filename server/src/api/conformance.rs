//! Conformance: the document the server renders from its generated trait describes the same
//! contract as `openapi/leads.yaml`.
//!
//! Both documents are reduced to the contract (paths, methods, operationIds, summaries,
//! descriptions, tags, parameters, request bodies, responses and their schemas, component
//! schemas with every constraint) and compared value by value. Where dropshot cannot render
//! what the spec says, one of the [`RULES`] below says how the two are brought together;
//! anything else that differs is a failure that names where.
//!
//! `cargo xtask check` runs this test; so does `cargo test`.

use std::collections::BTreeSet;

use leads_spec::pointer::escape;
use leads_spec::{Document, Operation};
use serde_json::{Map, Value, json};

/// A difference between the spec and the rendered document that dropshot makes and that the
/// comparison tolerates.
pub struct Rule {
    pub name: &'static str,
    pub why: &'static str,
}

/// Every tolerated difference. Each is applied by one function below and has a test.
pub const RULES: [Rule; 12] = [
    Rule {
        name: "error-status-ranges",
        why: "dropshot documents error answers as `4XX`/`5XX` ranges, never single statuses; \
              the spec's single 4xx/5xx statuses are compared as the ranges they fall in (the \
              contract tests check each single status)",
    },
    Rule {
        name: "implicit-error-ranges",
        why: "dropshot documents `4XX` and `5XX` for every operation, even one that never \
              answers them (`/health` answers no 4xx, `/openapi.json` neither 4xx nor 5xx); a \
              rendered range is ignored where the spec lists no status in it",
    },
    Rule {
        name: "raw-responses",
        why: "dropshot documents an answer the handler builds itself (`RawResponse`: a body \
              that is not JSON, or JSON that no component schema describes) as `200` with \
              `*/*` content of any schema and no headers; for those operations the spec's \
              success response is compared as that (the contract tests check media type, \
              headers and body)",
    },
    Rule {
        name: "error-headers",
        why: "dropshot documents no headers on error answers; the headers the spec documents \
              on errors (`Retry-After` and the rate-limit headers of `429`, `Retry-After` of \
              `503`) are sent through `Answer` and are not compared (the contract tests check \
              them)",
    },
    Rule {
        name: "not-modified",
        why: "dropshot documents one success status per operation and cannot document \
              `304 Not Modified`, which handlers answer themselves (`RawResponse`, `Answer`); \
              the spec's `304` is not compared (the contract tests check it)",
    },
    Rule {
        name: "parameter-annotations",
        why: "dropshot drops `default`, `example` and `title` from parameter schemas, and the \
              description of a parameter whose schema is a `$ref`",
    },
    Rule {
        name: "response-descriptions",
        why: "dropshot describes every response with a fixed text",
    },
    Rule {
        name: "answer-headers",
        why: "the server sets `x-request-id` (dropshot) and `api-version` (the version served) \
              on every response by itself, outside the typed answers, and dropshot does not \
              document them",
    },
    Rule {
        name: "doc-whitespace",
        why: "dropshot reflows doc comments, so descriptions are compared with runs of white \
              space collapsed",
    },
    Rule {
        name: "callbacks",
        why: "dropshot renders no callbacks, nor a component schema only a callback uses; \
              such schemas (the webhook events) are not compared here. The server builds the \
              events from the types generated from them, and the contract tests validate every \
              delivered event against them",
    },
    Rule {
        name: "dispatched",
        why: "dropshot's router cannot hold a literal path segment beside a variable one \
              (`/v1/webhooks/deliveries` beside `/v1/webhooks/{id}`): the operation on the \
              literal path is served through the endpoint of the variable path, which \
              dispatches on the segment (`xtask/src/generate/server/dispatch.rs`), so the \
              rendered document has no path of its own for it. It is not compared; its types \
              are generated from the spec like any operation's, and the contract tests call it \
              at its path",
    },
    Rule {
        name: "security",
        why: "dropshot renders no security schemes; authentication is checked by the contract \
              tests",
    },
];

/// What `doc` says of the contract, normalized by [`RULES`].
pub fn contract(doc: &Value) -> Value {
    let doc = Document::new(doc);
    let operations: Map<String, Value> = doc
        .operations()
        .iter()
        .map(|operation| (operation.label(), operation_contract(doc, operation)))
        .collect();
    let outside_callbacks = schemas_outside_callbacks(doc.root());
    let schemas: Map<String, Value> = doc
        .components("schemas")
        .into_iter()
        .filter(|(name, _)| outside_callbacks.contains(*name))
        .map(|(name, schema)| (name.to_string(), schema_contract(schema.value)))
        .collect();
    json!({"operations": operations, "schemas": schemas})
}

/// The component schemas the document uses outside callbacks (rule `callbacks`): those a
/// `$ref` anywhere but in a callback or in the schemas names, and those they name in turn.
fn schemas_outside_callbacks(root: &Value) -> BTreeSet<String> {
    fn refs(value: &Value, skip_schemas: bool, found: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    match key.as_str() {
                        "callbacks" => {}
                        "schemas" if skip_schemas => {}
                        "$ref" => {
                            if let Some(name) =
                                child.as_str().and_then(leads_spec::schema_component)
                            {
                                found.push(name.to_string());
                            }
                        }
                        _ => refs(child, skip_schemas, found),
                    }
                }
            }
            Value::Array(items) => items
                .iter()
                .for_each(|item| refs(item, skip_schemas, found)),
            _ => {}
        }
    }
    let mut pending = Vec::new();
    refs(root, true, &mut pending);
    let mut used = BTreeSet::new();
    while let Some(name) = pending.pop() {
        if used.insert(name.clone())
            && let Some(schema) = root.pointer(&format!("/components/schemas/{}", escape(&name)))
        {
            refs(schema, false, &mut pending);
        }
    }
    used
}

fn operation_contract(doc: Document, operation: &Operation) -> Value {
    let op = operation.value;
    let parameters: Map<String, Value> = operation
        .parameters()
        .into_iter()
        .map(|parameter| resolve(doc, parameter.value))
        .map(|parameter| {
            let key = format!(
                "{} {}",
                text(parameter.get("in")),
                text(parameter.get("name"))
            );
            (key, parameter_contract(parameter))
        })
        .collect();
    let mut responses = Map::new();
    let raw = doc.answers_raw(operation);
    for response in operation.responses() {
        // Rule `not-modified`.
        if response.status == "304" {
            continue;
        }
        let status = error_status_range(response.status);
        let mut contract = if raw && response.status.starts_with('2') {
            raw_response_contract()
        } else {
            response_contract(resolve(doc, response.node.value))
        };
        // Rule `error-headers`.
        if status.ends_with("XX") {
            contract["headers"] = json!([]);
        }
        // Single statuses of one range must agree with each other, or the range is ambiguous.
        match responses.get(&status) {
            Some(existing) if *existing != contract => {
                responses.insert(status, json!({"conflicting responses in one range": true}));
            }
            _ => {
                responses.insert(status, contract);
            }
        }
    }
    let request_body = operation.request_body().map(|body| {
        let body = resolve(doc, body.value);
        json!({
            "required": body.get("required").cloned().unwrap_or(Value::Bool(false)),
            "content": content_contract(body),
        })
    });
    json!({
        "operationId": op.get("operationId"),
        "summary": op.get("summary"),
        "description": op.get("description").map(|d| collapse_whitespace(&text(Some(d)))),
        "tags": op.get("tags"),
        "parameters": parameters,
        "requestBody": request_body,
        "responses": responses,
    })
}

/// Rule `implicit-error-ranges`: drops the server's `4XX` (`5XX`) from operations whose
/// spec lists no 4xx (5xx) status.
fn drop_implicit_error_ranges(spec: &Value, server: &mut Value) {
    let Some(operations) = server["operations"].as_object_mut() else {
        return;
    };
    for (key, operation) in operations {
        for range in ["4XX", "5XX"] {
            let spec_has_range = spec
                .pointer(&format!("/operations/{}/responses/{range}", escape(key)))
                .is_some();
            if !spec_has_range && let Some(responses) = operation["responses"].as_object_mut() {
                responses.remove(range);
            }
        }
    }
}

/// Rule `raw-responses`: what dropshot renders of a `RawResponse`.
fn raw_response_contract() -> Value {
    json!({"content": {"*/*": {}}, "headers": []})
}

/// Rule `error-status-ranges`: `404` → `4XX`; success statuses stay as they are.
fn error_status_range(status: &str) -> String {
    match status.chars().next() {
        Some(class @ ('4' | '5')) => format!("{class}XX"),
        _ => status.to_string(),
    }
}

/// Rule `parameter-annotations`.
fn parameter_contract(parameter: &Value) -> Value {
    let mut schema = parameter.get("schema").cloned().unwrap_or(Value::Null);
    if let Some(object) = schema.as_object_mut() {
        for annotation in ["default", "example", "title"] {
            object.remove(annotation);
        }
    }
    let is_ref = schema.get("$ref").is_some();
    json!({
        "required": parameter.get("required").cloned().unwrap_or(Value::Bool(false)),
        "schema": schema_contract(&schema),
        "description": if is_ref {
            Value::Null
        } else {
            parameter
                .get("description")
                .map(|d| Value::String(collapse_whitespace(&text(Some(d)))))
                .unwrap_or(Value::Null)
        },
    })
}

/// Rules `response-descriptions` (not compared) and `answer-headers`.
fn response_contract(response: &Value) -> Value {
    let headers: BTreeSet<String> = response
        .get("headers")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(name, _)| name.to_ascii_lowercase())
        .filter(|name| !leads_spec::is_answer_header(name))
        .collect();
    json!({"content": content_contract(response), "headers": headers})
}

fn content_contract(owner: &Value) -> Value {
    let content: Map<String, Value> = owner
        .get("content")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(media_type, object)| {
            let schema = object
                .get("schema")
                .map(schema_contract)
                .unwrap_or(Value::Null);
            (media_type.clone(), schema)
        })
        .collect();
    Value::Object(content)
}

/// A schema with its constraints; `required` as a set, descriptions whitespace-collapsed
/// (rule `doc-whitespace`), examples left out (they are documentation, linted separately).
fn schema_contract(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, value) in map {
                let value = match key.as_str() {
                    "example" | "examples" => continue,
                    "description" => Value::String(collapse_whitespace(&text(Some(value)))),
                    "required" => {
                        let mut names: Vec<Value> = value.as_array().cloned().unwrap_or_default();
                        names.sort_by_key(|name| text(Some(name)));
                        Value::Array(names)
                    }
                    // Property names are data, not keywords: recurse into their schemas.
                    "properties" => Value::Object(
                        value
                            .as_object()
                            .into_iter()
                            .flatten()
                            .map(|(name, schema)| (name.clone(), schema_contract(schema)))
                            .collect(),
                    ),
                    _ => schema_contract(value),
                };
                out.insert(key.clone(), value);
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(schema_contract).collect()),
        other => other.clone(),
    }
}

/// `value`, its `$ref`s followed; a broken reference stays as written, so that it differs
/// from the other document's value.
fn resolve<'a>(doc: Document<'a>, value: &'a Value) -> &'a Value {
    doc.resolve(value).unwrap_or(value)
}

fn text(value: Option<&Value>) -> String {
    value
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Every difference between the spec and the server's rendered document, after [`RULES`].
pub fn compare(spec: &Value, server: &Value) -> Vec<String> {
    compare_dispatching(spec, server, &[])
}

/// [`compare`], for a document in which the operations `dispatched` are served through other
/// operations' endpoints.
pub fn compare_dispatching(spec: &Value, server: &Value, dispatched: &[&str]) -> Vec<String> {
    let mut spec = contract(spec);
    drop_dispatched(&mut spec, dispatched);
    let mut server = contract(server);
    drop_implicit_error_ranges(&spec, &mut server);
    differences(&spec, &server)
}

/// Rule `dispatched`: the operations `dispatched` are left out of the spec's contract.
fn drop_dispatched(contract: &mut Value, dispatched: &[&str]) {
    if let Some(operations) = contract["operations"].as_object_mut() {
        operations.retain(|_, operation| {
            !dispatched.contains(&operation["operationId"].as_str().unwrap_or_default())
        });
    }
}

/// Every difference between two contracts, each as `pointer: what differs`.
fn differences(spec: &Value, server: &Value) -> Vec<String> {
    let mut found = Vec::new();
    diff(spec, server, String::new(), &mut found);
    found
}

fn diff(spec: &Value, server: &Value, at: String, found: &mut Vec<String>) {
    match (spec, server) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for key in keys {
                let at = format!("{at}/{}", escape(key));
                match (a.get(key), b.get(key)) {
                    (Some(x), Some(y)) => diff(x, y, at, found),
                    (Some(x), None) => {
                        found.push(format!("{at}: in the spec ({x}), not in the server"))
                    }
                    (None, Some(y)) => {
                        found.push(format!("{at}: in the server ({y}), not in the spec"))
                    }
                    (None, None) => {}
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (index, (x, y)) in a.iter().zip(b).enumerate() {
                diff(x, y, format!("{at}/{index}"), found);
            }
        }
        (a, b) if a == b => {}
        // `90` in YAML, `90.0` from a Rust `f64`: the same bound.
        (Value::Number(a), Value::Number(b)) if a.as_f64() == b.as_f64() => {}
        (a, b) => found.push(format!("{at}: the spec says {a}, the server says {b}")),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn spec() -> Value {
        leads_spec::load_workspace_spec(Path::new(env!("CARGO_MANIFEST_DIR")))
            .expect("the spec loads")
    }

    fn rendered() -> Value {
        crate::api::openapi_document(crate::api::versions::newest())
            .expect("the server renders its document")
    }

    /// The differences between `spec` and the newest version's rendered document.
    fn compare_newest(spec: &Value) -> Vec<String> {
        let newest = crate::api::SERVED_VERSIONS
            .last()
            .expect("a served version");
        compare_dispatching(spec, &rendered(), newest.dispatched)
    }

    /// For every served version, the document the server renders for it describes the same
    /// contract as that version's spec: the working spec, or the release's frozen file.
    #[test]
    fn the_server_implements_every_served_version() {
        let tolerated: Vec<String> = RULES
            .iter()
            .map(|rule| format!("- {}: {}", rule.name, rule.why))
            .collect();
        for (index, served) in crate::api::SERVED_VERSIONS.iter().enumerate() {
            let spec: Value = serde_yaml_ng::from_str(served.document).expect("the spec parses");
            let rendered = crate::api::openapi_document(index).expect("the server renders it");
            let found = compare_dispatching(&spec, &rendered, served.dispatched);
            assert!(
                found.is_empty(),
                "the server's interface of version {} differs from its spec (run `cargo xtask \
                 generate` if you edited the spec or the support policy; never edit generated \
                 code by hand):\n{}\n\nDifferences tolerated by rule, not listed above:\n{}",
                served.version,
                found.join("\n"),
                tolerated.join("\n")
            );
        }
    }

    #[test]
    fn the_newest_served_version_is_the_working_spec() {
        let newest = crate::api::SERVED_VERSIONS
            .last()
            .expect("a served version");
        let served: Value = serde_yaml_ng::from_str(newest.document).expect("the spec parses");
        assert_eq!(served, spec());
    }

    #[test]
    fn a_field_the_generated_code_lacks_is_reported() {
        let mut spec = spec();
        spec["components"]["schemas"]["Lead"]["properties"]["score"] = json!({"type": "integer"});
        let found = compare_newest(&spec);
        assert_eq!(
            found,
            [
                r#"/schemas/Lead/properties/score: in the spec ({"type":"integer"}), not in the server"#
            ]
        );
    }

    #[test]
    fn a_changed_constraint_is_reported() {
        let mut spec = spec();
        spec["components"]["parameters"]["SourceFilter"]["schema"]["maxLength"] = json!(300);
        let found = compare_newest(&spec);
        assert_eq!(
            found,
            [
                "/operations/GET ~1v1~1leads/parameters/query source/schema/maxLength: the spec \
                 says 300, the server says 255"
            ]
        );
    }

    #[test]
    fn a_missing_operation_is_reported() {
        let mut spec = spec();
        spec["paths"]["/v1/leads/{id}"]["put"] = spec["paths"]["/v1/leads/{id}"]["get"].clone();
        let found = compare_newest(&spec);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with("/operations/PUT ~1v1~1leads~1{id}: in the spec"));
    }

    #[test]
    fn rule_error_status_ranges() {
        assert_eq!(error_status_range("404"), "4XX");
        assert_eq!(error_status_range("503"), "5XX");
        assert_eq!(error_status_range("201"), "201");
        let doc = |responses: Value| json!({"paths": {"/a": {"get": {"responses": responses}}}});
        let error = json!({"content": {"application/json": {"schema": {"$ref": "#/e"}}}});
        let single = contract(&doc(json!({"400": error, "404": error})));
        let range = contract(&doc(json!({"4XX": error})));
        assert_eq!(differences(&single, &range), Vec::<String>::new());
        // Two different bodies in one range cannot be told apart by a range.
        let other = json!({"content": {"application/json": {"schema": {"$ref": "#/f"}}}});
        let mixed = contract(&doc(json!({"400": error, "404": other})));
        assert!(!differences(&mixed, &range).is_empty());
    }

    #[test]
    fn rule_raw_responses() {
        let doc = |responses: Value| json!({"paths": {"/a": {"get": {"responses": responses}}}});
        let headers = json!({"ETag": {"schema": {"type": "string"}}});
        let spec = doc(json!({
            "200": {"headers": headers, "content": {"text/html": {"schema": {"type": "string"}}}}
        }));
        let server = doc(json!({"200": {"content": {"*/*": {"schema": {}}}}}));
        assert_eq!(compare(&spec, &server), Vec::<String>::new());
        // A typed JSON answer is compared in full.
        let json = doc(json!({"200": {"content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/Lead"}
        }}}}));
        assert_eq!(compare(&json, &server).len(), 2);
    }

    #[test]
    fn rule_error_headers() {
        let doc = |responses: Value| json!({"paths": {"/a": {"get": {"responses": responses}}}});
        let error = |headers: Value| json!({"headers": headers, "content": {"application/json": {"schema": {"$ref": "#/e"}}}});
        let retry = json!({"Retry-After": {"schema": {"type": "integer"}}});
        let spec = doc(json!({"200": {}, "404": error(json!({})), "429": error(retry)}));
        let server = doc(json!({"200": {}, "4XX": error(json!({}))}));
        assert_eq!(compare(&spec, &server), Vec::<String>::new());
    }

    #[test]
    fn rule_not_modified() {
        let doc = |responses: Value| json!({"paths": {"/a": {"get": {"responses": responses}}}});
        let lead = json!({"content": {"application/json": {"schema": {"$ref": "#/l"}}}});
        let spec = doc(json!({"200": lead, "304": {"description": "unchanged"}}));
        let server = doc(json!({"200": lead}));
        assert_eq!(compare(&spec, &server), Vec::<String>::new());
    }

    #[test]
    fn rule_implicit_error_ranges() {
        let error = json!({"content": {"application/json": {"schema": {"$ref": "#/e"}}}});
        let doc = |responses: Value| json!({"paths": {"/a": {"get": {"responses": responses}}}});
        let spec = doc(json!({"200": {}, "500": error}));
        let server = doc(json!({"200": {}, "4XX": error, "5XX": error}));
        assert_eq!(compare(&spec, &server), Vec::<String>::new());
        let spec = doc(json!({"200": {}}));
        assert_eq!(compare(&spec, &server), Vec::<String>::new());
        // Where the spec documents a 4xx, the server must too.
        let spec = doc(json!({"200": {}, "404": error, "500": error}));
        let server = doc(json!({"200": {}, "5XX": error}));
        assert_eq!(compare(&spec, &server).len(), 1);
    }

    #[test]
    fn numbers_compare_by_value() {
        assert!(differences(&json!({"maximum": 90}), &json!({"maximum": 90.0})).is_empty());
        assert_eq!(
            differences(&json!({"maximum": 90}), &json!({"maximum": 91})).len(),
            1
        );
    }

    #[test]
    fn rule_parameter_annotations() {
        let spec = json!({"name": "limit", "in": "query", "description": "How many.",
            "schema": {"type": "integer", "default": 50, "example": 5, "title": "L", "maximum": 9}});
        let server = json!({"name": "limit", "in": "query", "description": "How many.",
            "schema": {"type": "integer", "maximum": 9}});
        assert_eq!(parameter_contract(&spec), parameter_contract(&server));
        let with_ref = json!({"name": "s", "in": "query", "description": "d",
            "schema": {"$ref": "#/x"}});
        let without = json!({"name": "s", "in": "query", "schema": {"$ref": "#/x"}});
        assert_eq!(parameter_contract(&with_ref), parameter_contract(&without));
        let tighter =
            json!({"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 8}});
        assert_ne!(parameter_contract(&spec), parameter_contract(&tighter));
    }

    #[test]
    fn rule_response_descriptions_and_request_id_header() {
        let spec = json!({"description": "The lead.", "headers": {"x-request-id": {}, "X-A": {}}});
        let server = json!({"description": "successful operation", "headers": {"X-A": {}}});
        assert_eq!(response_contract(&spec), response_contract(&server));
        let missing = json!({"description": "successful operation"});
        assert_ne!(response_contract(&spec), response_contract(&missing));
    }

    #[test]
    fn rule_doc_whitespace() {
        let spec = json!({"type": "string", "description": "Two\nlines.\n"});
        let server = json!({"type": "string", "description": "Two lines."});
        assert_eq!(schema_contract(&spec), schema_contract(&server));
    }

    #[test]
    fn rule_callbacks() {
        let schema = |name: &str| json!({"$ref": format!("#/components/schemas/{name}")});
        let json = |name: &str| json!({"content": {"application/json": {"schema": schema(name)}}});
        let callback = json!({"{$request.body#/url}": {"post": {"requestBody": json("Event")}}});
        let spec = json!({
            "paths": {"/a": {"post": {"responses": {"200": json("A")}, "callbacks": {"e": callback}}}},
            "components": {"schemas": {
                "A": {"type": "object", "properties": {"b": schema("B")}},
                "B": {"type": "string"},
                "Event": {"type": "object", "properties": {"b": schema("B")}},
            }}
        });
        let mut server = spec.clone();
        server["paths"]["/a"]["post"]
            .as_object_mut()
            .expect("an operation")
            .remove("callbacks");
        server["components"]["schemas"]
            .as_object_mut()
            .expect("schemas")
            .remove("Event");
        assert_eq!(compare(&spec, &server), Vec::<String>::new());
        // A schema an operation uses is still compared.
        server["components"]["schemas"]
            .as_object_mut()
            .expect("schemas")
            .remove("B");
        assert_eq!(compare(&spec, &server).len(), 1);
    }

    #[test]
    fn rule_security() {
        let spec = json!({"security": [{"bearerAuth": []}], "paths": {},
            "components": {"securitySchemes": {"bearerAuth": {"type": "http"}}}});
        assert_eq!(contract(&spec), contract(&json!({"paths": {}})));
    }

    #[test]
    fn rule_dispatched() {
        let get = |id: &str| json!({"get": {"operationId": id, "responses": {}}});
        let spec = json!({"paths": {"/a/b": get("a_b"), "/a/{x}": get("a_view")}});
        let server = json!({"paths": {"/a/{x}": get("a_view")}});
        assert_eq!(
            compare_dispatching(&spec, &server, &["a_b"]),
            Vec::<String>::new()
        );
        assert_eq!(compare(&spec, &server).len(), 1, "only what is dispatched");
    }

    #[test]
    fn every_rule_is_named_once() {
        let names: BTreeSet<&str> = RULES.iter().map(|rule| rule.name).collect();
        assert_eq!(names.len(), RULES.len());
    }
}
