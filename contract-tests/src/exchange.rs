//! One answer of the server, however it was obtained, and its redacted snapshot form.

use reqwest::header::HeaderMap;
use serde::Serialize;
use serde_json::{Map, Value, json};

/// An answer to one operation.
#[derive(Debug)]
pub struct Exchange {
    /// The operationId of the spec the request was for.
    pub operation: &'static str,
    pub status: u16,
    pub headers: HeaderMap,
    /// The JSON body; `null` when the body is not JSON or there is none.
    pub body: Value,
    /// A body that is not JSON (HTML, YAML), as text.
    pub text: Option<String>,
    /// The body's bytes as they arrived, for answers to raw requests (`Env::raw…`); the
    /// client's answers arrive parsed.
    pub bytes: Option<Vec<u8>>,
    tag: String,
}

/// The headers a snapshot shows; the value of the volatile ones is redacted.
const PINNED_HEADERS: [&str; 6] = [
    "cache-control",
    "content-security-policy",
    "content-type",
    "idempotent-replayed",
    "referrer-policy",
    "x-content-type-options",
];
const PRESENT_HEADERS: [&str; 6] = [
    "etag",
    "retry-after",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "x-request-id",
];

impl Exchange {
    pub(crate) async fn from_client<T: Serialize, E: Serialize + std::fmt::Debug>(
        operation: &'static str,
        result: Result<leads_client::ResponseValue<T>, leads_client::Error<E>>,
        tag: &str,
    ) -> Self {
        let (status, headers, body) = match result {
            Ok(value) => (
                value.status().as_u16(),
                value.headers().clone(),
                serde_json::to_value(value.into_inner()).expect("a response body re-serializes"),
            ),
            Err(leads_client::Error::ErrorResponse(value)) => (
                value.status().as_u16(),
                value.headers().clone(),
                serde_json::to_value(value.into_inner()).expect("an error body re-serializes"),
            ),
            Err(leads_client::Error::UnexpectedResponse(response)) => {
                return Self::from_response(operation, response, tag).await;
            }
            Err(leads_client::Error::InvalidResponsePayload(bytes, error)) => panic!(
                "{operation}: the client could not read the answer ({error}): {}",
                String::from_utf8_lossy(&bytes)
            ),
            Err(error) => panic!("{operation}: the request failed: {error}"),
        };
        Self::new(operation, status, headers, body, tag)
    }

    pub(crate) async fn from_response(
        operation: &'static str,
        response: reqwest::Response,
        tag: &str,
    ) -> Self {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("the body arrives");
        let is_json = headers
            .get("content-type")
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("application/json"));
        let mut exchange = Self::new(operation, status, headers, Value::Null, tag);
        exchange.bytes = Some(bytes.to_vec());
        if is_json {
            exchange.body = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                panic!(
                    "{operation}: {status} answer is not JSON: {}",
                    String::from_utf8_lossy(&bytes)
                )
            });
        } else if !bytes.is_empty() {
            let text = String::from_utf8(bytes.to_vec())
                .unwrap_or_else(|_| panic!("{operation}: {status} answer is not UTF-8 text"));
            exchange.text = Some(text);
        }
        exchange
    }

    pub(crate) fn new(
        operation: &'static str,
        status: u16,
        headers: HeaderMap,
        body: Value,
        tag: &str,
    ) -> Self {
        Self {
            operation,
            status,
            headers,
            body,
            text: None,
            bytes: None,
            tag: tag.to_string(),
        }
    }

    /// The body's `data`, for assertions.
    pub fn data(&self) -> &Value {
        &self.body["data"]
    }

    /// The fields named by a validation error's `details`, in order, each once (a field may
    /// break several rules).
    pub fn fields(&self) -> Vec<String> {
        let mut fields: Vec<String> = Vec::new();
        let named = self.body["details"].as_array().into_iter().flatten();
        for field in named.filter_map(|detail| detail["field"].as_str()) {
            if !fields.iter().any(|seen| seen == field) {
                fields.push(field.to_string());
            }
        }
        fields
    }

    /// Status, headers and body, redacted so that the snapshot holds on any server and run. A
    /// text body shows as `[text]`: the test that asked for it checks what it says.
    pub fn snapshot(&self) -> Value {
        let mut headers = Map::new();
        for name in PINNED_HEADERS {
            if let Some(value) = self.headers.get(name).and_then(|v| v.to_str().ok()) {
                headers.insert(name.to_string(), json!(value));
            }
        }
        for name in PRESENT_HEADERS {
            if self.headers.contains_key(name) {
                headers.insert(name.to_string(), json!("[present]"));
            }
        }
        json!({
            "operation": self.operation,
            "status": self.status,
            "headers": headers,
            "body": match &self.text {
                Some(_) => json!("[text]"),
                None => redact(&self.body, &self.tag),
            },
        })
    }
}

/// Redactions: ids (an error's `leadId` too) and timestamps (of leads, subscriptions and
/// deliveries), signing secrets, response times, request ids, cursors, and the test's tag.
fn redact(body: &Value, tag: &str) -> Value {
    let mut body = replace_tag(body, tag);
    if let Some(object) = body.as_object_mut() {
        if object.contains_key("requestId") {
            object.insert("requestId".into(), json!("[request-id]"));
        }
        if object.contains_key("leadId") {
            object.insert("leadId".into(), json!("[id]"));
        }
        // How long to wait depends on when in the window the test ran.
        if object.get("code") == Some(&json!("RATE_LIMITED"))
            && let Some(Value::String(message)) = object.get_mut("error")
        {
            *message = message
                .split(' ')
                .map(|word| {
                    if word.parse::<u64>().is_ok() {
                        "[n]"
                    } else {
                        word
                    }
                })
                .collect::<Vec<_>>()
                .join(" ");
        }
        if let Some(cursor) = object
            .get_mut("pagination")
            .and_then(|p| p.get_mut("next_cursor"))
            && cursor.is_string()
        {
            *cursor = json!("[cursor]");
        }
        match object.get_mut("data") {
            Some(Value::Array(items)) => items.iter_mut().for_each(redact_item),
            Some(item @ Value::Object(_)) => redact_item(item),
            _ => {}
        }
    }
    body
}

/// A webhook event's body as a snapshot shows it: redacted like an answer's `data`.
pub fn redact_event(event: &Value, tag: &str) -> Value {
    let mut event = replace_tag(event, tag);
    redact_item(&mut event);
    event
}

/// Redacts what varies in one item of `data`: a lead, a webhook subscription, a delivery or
/// one of its attempts, a rotated secret (whose `subscription` is redacted too), or a webhook event (whose lead,
/// `data`, is redacted too).
pub(crate) fn redact_item(item: &mut Value) {
    for (field, placeholder) in [
        ("id", "[id]"),
        ("subscription_id", "[id]"),
        ("organization_id", "[id]"),
        ("created_at", "[timestamp]"),
        ("updated_at", "[timestamp]"),
        ("disabled_at", "[timestamp]"),
        ("next_attempt_at", "[timestamp]"),
        ("attempted_at", "[timestamp]"),
        ("previous_secret_expires_at", "[timestamp]"),
        ("secret", "[secret]"),
    ] {
        if let Some(value) = item.get_mut(field)
            && value.is_string()
        {
            *value = json!(placeholder);
        }
    }
    // A receiver in the test listens on a port of its own each run.
    if let Some(Value::String(url)) = item.get_mut("target_url")
        && let Some(rest) = url.strip_prefix("http://127.0.0.1:")
    {
        let path = rest.find('/').map_or("", |slash| &rest[slash..]);
        *url = format!("[receiver]{path}");
    }
    // Timestamps are written with as many fractional digits as they need.
    for (field, placeholder) in [
        ("response_time_ms", "[ms]"),
        ("payload_size_bytes", "[bytes]"),
    ] {
        if let Some(value) = item.get_mut(field)
            && value.is_number()
        {
            *value = json!(placeholder);
        }
    }
    for nested in ["data", "subscription"] {
        if let Some(inner @ Value::Object(_)) = item.get_mut(nested) {
            redact_item(inner);
        }
    }
}

fn replace_tag(value: &Value, tag: &str) -> Value {
    match value {
        Value::String(text) => Value::String(text.replace(tag, "[tag]")),
        Value::Array(items) => Value::Array(items.iter().map(|v| replace_tag(v, tag)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.replace(tag, "[tag]"), replace_tag(v, tag)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_hides_what_varies_and_keeps_the_rest() {
        let body = json!({
            "data": [{"id": "550e8400-e29b-41d4-a716-446655440000", "created_at": "2026-01-01T00:00:00Z",
                      "updated_at": "2026-01-01T00:00:00Z", "email": "a.abc123@example.com",
                      "notes": [{"created_at": "2026-01-18T10:15:00Z"}]}],
            "pagination": {"next_cursor": "eyJ9", "has_more": true},
            "success": true
        });
        assert_eq!(
            redact(&body, "abc123"),
            json!({
                "data": [{"id": "[id]", "created_at": "[timestamp]", "updated_at": "[timestamp]",
                          "email": "a.[tag]@example.com",
                          "notes": [{"created_at": "2026-01-18T10:15:00Z"}]}],
                "pagination": {"next_cursor": "[cursor]", "has_more": true},
                "success": true
            })
        );
        let error = json!({"requestId": "9f8a", "code": "NOT_FOUND"});
        assert_eq!(redact(&error, "x")["requestId"], "[request-id]");
    }
}
