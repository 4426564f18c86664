//! What the spec documents, what the suite exercised, and the checks each answer must pass
//! against the spec.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Mutex, OnceLock};

use leads_spec::{Document, SPEC_PATH, schema_component};
use serde_json::Value;

use crate::exchange::Exchange;

/// An (operationId, status) pair of the spec.
pub type Pair = (String, u16);

/// What the spec says of one (operationId, status) answer's body.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Documented {
    /// The media type of its body; `None` for an answer without one (`304`).
    pub media_type: Option<String>,
    /// The component its JSON body's schema refers to.
    pub component: Option<String>,
    /// Its JSON body's schema when written inline.
    pub inline: Option<Value>,
}

/// For each documented (operationId, status): what its body is.
fn documented() -> &'static BTreeMap<Pair, Documented> {
    static DOCUMENTED: OnceLock<BTreeMap<Pair, Documented>> = OnceLock::new();
    DOCUMENTED.get_or_init(|| {
        let spec = leads_spec::load_workspace_spec(Path::new(env!("CARGO_MANIFEST_DIR")))
            .unwrap_or_else(|error| panic!("the spec does not load: {error}"));
        responses(&spec)
    })
}

/// The (operationId, status) → body table of a spec. Ranges (`4XX`) and `default` are left
/// out, as no answer has them as its status.
pub fn responses(spec: &Value) -> BTreeMap<Pair, Documented> {
    let doc = Document::new(spec);
    let mut table = BTreeMap::new();
    for operation in doc.operations() {
        let Some(id) = operation.id() else { continue };
        for response in operation.responses() {
            let Ok(status) = response.status.parse::<u16>() else {
                continue;
            };
            let resolved = doc.resolve(response.node.value).ok();
            let media = resolved
                .and_then(|r| r.get("content"))
                .and_then(Value::as_object)
                .and_then(|content| content.iter().next());
            let schema = media.and_then(|(_, media)| media.get("schema"));
            let component = schema
                .and_then(|schema| schema.get("$ref"))
                .and_then(Value::as_str)
                .and_then(schema_component)
                .map(String::from);
            let inline = schema.filter(|_| component.is_none()).cloned();
            let documented = Documented {
                media_type: media.map(|(media_type, _)| media_type.clone()),
                component,
                inline,
            };
            table.insert((id.to_string(), status), documented);
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
    check(exchange, SPEC_PATH, documented(), &|schema, body| {
        leads_server::api::schema_problems(schema, body)
            .unwrap_or_else(|error| panic!("no schema {schema}: {error}"))
    });
    exercised()
        .lock()
        .unwrap_or_else(|poison| poison.into_inner())
        .insert((exchange.operation.to_string(), exchange.status));
}

/// Checks `exchange` against the spec `spec` (its path, for messages), whose answers are
/// `documented` and whose component schemas `component_problems` validates against. Panics,
/// failing the test, on an undocumented status, a body its schema refuses, or a broken error
/// envelope. Counts nothing towards coverage.
pub(crate) fn check(
    exchange: &Exchange,
    spec: &str,
    documented: &BTreeMap<Pair, Documented>,
    component_problems: &dyn Fn(&str, &Value) -> Vec<String>,
) {
    assert!(
        exchange.status != 429 || crate::in_process(),
        "the deployment rate-limited the suite ({} answered 429): the suite makes a few hundred \
         requests a minute, so give its keys a higher limit (`leads-server serve \
         --rate-limit-per-key 10000`), or wait for the next minute",
        exchange.operation
    );
    let pair = (exchange.operation.to_string(), exchange.status);
    let documented = documented.get(&pair).unwrap_or_else(|| {
        panic!(
            "{} answered {}, a status {spec} does not document for it: {}",
            exchange.operation, exchange.status, exchange.body
        )
    });
    check_body(exchange, spec, documented, component_problems);
    if exchange.status >= 400 {
        check_envelope(exchange);
    }
    check_served_version(exchange);
}

/// Every answer names a version the server serves in `api-version`, but the refusal of a
/// version it does not serve, which was served in none.
fn check_served_version(exchange: &Exchange) {
    let named = exchange
        .headers
        .get("api-version")
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
    let refused_version =
        exchange.status == 400 && exchange.body["details"][0]["field"] == "api-version";
    if refused_version {
        assert_eq!(named, None, "the refusal of a version names none");
        return;
    }
    let served: Vec<&str> = leads_server::api::SERVED_VERSIONS
        .iter()
        .map(|served| served.version)
        .collect();
    assert!(
        named.as_deref().is_some_and(|name| served.contains(&name)),
        "{} {}: every answer names the version it was served in (`api-version`, one of \
         {served:?}), not {named:?}",
        exchange.operation,
        exchange.status
    );
}

/// The body has the documented media type, and a JSON body the documented schema.
fn check_body(
    exchange: &Exchange,
    spec: &str,
    documented: &Documented,
    component_problems: &dyn Fn(&str, &Value) -> Vec<String>,
) {
    let what = format!("{} {}", exchange.operation, exchange.status);
    let content_type = exchange
        .headers
        .get("content-type")
        .and_then(|value| value.to_str().ok());
    let Some(media_type) = &documented.media_type else {
        assert!(
            exchange.body.is_null() && exchange.text.is_none(),
            "{what}: {spec} documents no body, the answer has one"
        );
        return;
    };
    assert!(
        content_type.is_some_and(|value| value.starts_with(media_type.as_str())),
        "{what}: {spec} documents {media_type}, the answer is {content_type:?}"
    );
    let problems = match (&documented.component, &documented.inline) {
        (Some(schema), _) => component_problems(schema, &exchange.body),
        (None, Some(schema)) if media_type == "application/json" => {
            inline_schema_problems(schema, &exchange.body)
        }
        _ => Vec::new(),
    };
    assert!(
        problems.is_empty(),
        "{what}: the body breaks the schema of {spec}: {problems:?}\n{}",
        exchange.body
    );
}

/// Every way `value` breaks an inline schema of the spec (one without `$ref`s).
fn inline_schema_problems(schema: &Value, value: &Value) -> Vec<String> {
    let schema = leads_spec::schema::to_json_schema(schema);
    let validator = jsonschema::validator_for(&schema)
        .unwrap_or_else(|error| panic!("an inline schema of the spec does not compile: {error}"));
    validator
        .iter_errors(value)
        .map(|error| format!("{}: {error}", error.instance_path()))
        .collect()
}

fn check_envelope(exchange: &Exchange) {
    let expected_codes: &[&str] = match exchange.status {
        400 => &["VALIDATION_ERROR"],
        401 => &["UNAUTHORIZED"],
        // Those that name a delivery of a subscription may miss either.
        404 if matches!(
            exchange.operation,
            "webhook_delivery_attempt_list" | "webhook_delivery_resend"
        ) =>
        {
            &["WEBHOOK_NOT_FOUND", "WEBHOOK_DELIVERY_NOT_FOUND"]
        }
        404 if exchange.operation.starts_with("webhook") => &["WEBHOOK_NOT_FOUND"],
        404 => &["NOT_FOUND"],
        409 => &[
            "CONFLICT",
            "IDEMPOTENCY_KEY_IN_USE",
            "WEBHOOK_LIMIT_REACHED",
            "WEBHOOK_DISABLED",
        ],
        412 => &["PRECONDITION_FAILED"],
        413 => &["PAYLOAD_TOO_LARGE"],
        422 => &["IDEMPOTENCY_KEY_REUSED"],
        429 => &["RATE_LIMITED"],
        503 => &["SERVICE_UNAVAILABLE"],
        _ => &["INTERNAL_ERROR"],
    };
    assert_eq!(exchange.body["success"], false, "{}", exchange.body);
    assert!(
        expected_codes
            .iter()
            .any(|code| exchange.body["code"] == *code),
        "{} answered with code {}: expected one of {expected_codes:?}",
        exchange.status,
        exchange.body
    );
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
                "404": {"$ref": "#/components/responses/NotFound"},
                "201": {"content": {"text/html": {"schema": {"type": "string"}}}},
                "304": {"description": "not modified"}
            }}}},
            "components": {"responses": {"NotFound": {"content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/ErrorResponse"}}}}}}
        });
        let table = responses(&spec);
        let component = |status: u16| table[&("a_view".to_string(), status)].component.clone();
        assert_eq!(component(200).as_deref(), Some("A"));
        assert_eq!(component(404).as_deref(), Some("ErrorResponse"));
        assert_eq!(table[&("a_view".to_string(), 304)], Documented::default());
        let html = &table[&("a_view".to_string(), 201)];
        assert_eq!(html.media_type.as_deref(), Some("text/html"));
        assert_eq!(html.inline, Some(json!({"type": "string"})));
    }
}
