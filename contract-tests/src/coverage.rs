//! What the spec documents, what the suite exercised, and the checks each answer must pass
//! against the spec.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Mutex, OnceLock};

use leads_spec::{Document, schema_component};
use serde_json::Value;

use crate::exchange::Exchange;

/// An (operationId, status) pair of the spec.
pub type Pair = (String, u16);

/// For each documented (operationId, status): the component schema of its JSON body.
fn documented() -> &'static BTreeMap<Pair, String> {
    static DOCUMENTED: OnceLock<BTreeMap<Pair, String>> = OnceLock::new();
    DOCUMENTED.get_or_init(|| {
        let spec = leads_spec::load_workspace_spec(Path::new(env!("CARGO_MANIFEST_DIR")))
            .unwrap_or_else(|error| panic!("the spec does not load: {error}"));
        responses(&spec)
    })
}

/// The (operationId, status) → schema name table of a spec.
/// Responses without a JSON body schema map to an empty name; ranges (`4XX`) and `default`
/// are left out, as no answer has them as its status.
pub fn responses(spec: &Value) -> BTreeMap<Pair, String> {
    let doc = Document::new(spec);
    let mut table = BTreeMap::new();
    for operation in doc.operations() {
        let Some(id) = operation.id() else { continue };
        for response in operation.responses() {
            let Ok(status) = response.status.parse::<u16>() else {
                continue;
            };
            let schema = doc
                .resolve(response.node.value)
                .ok()
                .and_then(|r| r.pointer("/content/application~1json/schema/$ref"))
                .and_then(Value::as_str)
                .and_then(schema_component)
                .unwrap_or_default()
                .to_string();
            table.insert((id.to_string(), status), schema);
        }
    }
    table
}

fn exercised() -> &'static Mutex<BTreeSet<Pair>> {
    static EXERCISED: OnceLock<Mutex<BTreeSet<Pair>>> = OnceLock::new();
    EXERCISED.get_or_init(Mutex::default)
}

/// Checks `exchange` against the spec and counts it towards coverage. Panics, failing the
/// test, on an undocumented status, a body its schema refuses, or a broken error envelope.
pub fn record(exchange: &Exchange) {
    assert!(
        exchange.status != 429 || crate::in_process(),
        "the deployment rate-limited the suite ({} answered 429): the suite makes a few hundred \
         requests a minute, so give its keys a higher limit (`leads-server serve \
         --rate-limit-per-key 10000`), or wait for the next minute",
        exchange.operation
    );
    let pair = (exchange.operation.to_string(), exchange.status);
    let schema = documented().get(&pair).unwrap_or_else(|| {
        panic!(
            "{} answered {}, a status the spec does not document for it: {}",
            exchange.operation, exchange.status, exchange.body
        )
    });
    let problems = leads_server::api::schema_problems(schema, &exchange.body)
        .unwrap_or_else(|error| panic!("no schema {schema}: {error}"));
    assert!(
        problems.is_empty(),
        "{} {}: the body breaks the spec's {schema}: {problems:?}\n{}",
        exchange.operation,
        exchange.status,
        exchange.body
    );
    if exchange.status >= 400 {
        check_envelope(exchange);
    }
    exercised()
        .lock()
        .unwrap_or_else(|poison| poison.into_inner())
        .insert(pair);
}

fn check_envelope(exchange: &Exchange) {
    let expected_code = match exchange.status {
        400 => "VALIDATION_ERROR",
        401 => "UNAUTHORIZED",
        404 => "NOT_FOUND",
        409 => "CONFLICT",
        413 => "PAYLOAD_TOO_LARGE",
        429 => "RATE_LIMITED",
        _ => "INTERNAL_ERROR",
    };
    assert_eq!(exchange.body["success"], false, "{}", exchange.body);
    assert_eq!(exchange.body["code"], expected_code, "{}", exchange.body);
    let header = exchange
        .headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("every answer has x-request-id");
    assert_eq!(
        exchange.body["requestId"], header,
        "requestId must equal the x-request-id header"
    );
}

/// The documented pairs no test has exercised yet.
pub fn missing() -> Vec<Pair> {
    let exercised = exercised()
        .lock()
        .unwrap_or_else(|poison| poison.into_inner())
        .clone();
    documented()
        .keys()
        .filter(|pair| !exercised.contains(*pair))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn responses_are_read_through_refs() {
        let spec = json!({
            "paths": {"/a": {"get": {"operationId": "a_view", "responses": {
                "200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/A"}}}},
                "404": {"$ref": "#/components/responses/NotFound"}
            }}}},
            "components": {"responses": {"NotFound": {"content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/ErrorResponse"}}}}}}
        });
        let table = responses(&spec);
        assert_eq!(table[&("a_view".to_string(), 200)], "A");
        assert_eq!(table[&("a_view".to_string(), 404)], "ErrorResponse");
    }
}
