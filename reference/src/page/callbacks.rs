//! The callbacks of an operation: the requests the API sends (a webhook's delivery, say),
//! shown under the operation that declares them with what their receiver must accept.

use leads_spec::{Document, METHODS};
use serde::Serialize;
use serde_json::Value;

use super::operations::{Body, Response, parameters, request_body, response};
use super::str_at;
use crate::fields::{self, Field};
use crate::markdown;

/// One operation of a callback: a request the API sends, not one it answers. Shown under the
/// operation that declares it, with what its receiver needs: where it goes, its parameters
/// (the headers to check), its body and the answer expected.
#[derive(Debug, Serialize)]
pub struct Callback {
    /// The `callbacks` key (`leadEvent`).
    pub name: String,
    /// The anchor: `{operationId}-{name}-{method}`.
    pub id: String,
    pub method: String,
    /// The URL, an OpenAPI runtime expression (`{$request.body#/target_url}`), as written.
    pub url: String,
    /// Where that URL comes from, in words (rendered Markdown).
    pub target: String,
    pub summary: String,
    pub description: String,
    pub parameters: Vec<Field>,
    pub body: Option<Body>,
    pub responses: Vec<Response>,
}

/// The operations of `op`'s callbacks (each through its `$ref`): callbacks in name order,
/// then URL expressions, then methods in [`METHODS`] order.
pub(super) fn callbacks<'a>(doc: Document<'a>, op: &leads_spec::Operation<'a>) -> Vec<Callback> {
    let mut found = Vec::new();
    let declared = op.value.get("callbacks").and_then(Value::as_object);
    for (name, callback) in declared.into_iter().flatten() {
        let callback = doc.resolve(callback).unwrap_or(callback);
        for (url, path_item) in callback.as_object().into_iter().flatten() {
            for method in METHODS {
                let Some(value) = path_item.get(method) else {
                    continue;
                };
                // The callback's operation, read like any other: its URL expression stands
                // where a path would. The pointer is where it is written under `op`.
                let request = leads_spec::Operation {
                    path: url,
                    method,
                    pointer: format!(
                        "{}/callbacks/{}/{}/{method}",
                        op.pointer,
                        leads_spec::pointer::escape(name),
                        leads_spec::pointer::escape(url)
                    ),
                    value,
                    path_item,
                };
                found.push(Callback {
                    name: name.clone(),
                    id: format!("{}-{name}-{method}", op.id().unwrap_or_default()),
                    method: method.to_uppercase(),
                    url: url.clone(),
                    target: markdown::render(&callback_target(url)),
                    summary: str_at(value, "summary").to_string(),
                    description: markdown::render(str_at(value, "description")),
                    parameters: parameters(doc, &request)
                        .iter()
                        .map(|parameter| fields::parameter(doc, parameter))
                        .collect(),
                    body: request
                        .request_body()
                        .and_then(|body| doc.resolve(body.value).ok())
                        .and_then(|body| request_body(doc, body)),
                    responses: request
                        .responses()
                        .iter()
                        .map(|response| self::response(doc, response))
                        .collect(),
                });
            }
        }
    }
    found
}

/// Where a callback's URL comes from, in Markdown. A runtime expression that is one value of
/// the request or the response (`{$request.body#/target_url}`, the usual way to name the
/// subscriber's URL) is named in words; any other is described, not evaluated.
fn callback_target(url: &str) -> String {
    let named = url
        .strip_prefix("{$")
        .and_then(|inner| inner.strip_suffix('}'))
        .and_then(|inner| {
            let (message, source) = inner.split_once('.')?;
            let (kind, name) = source.split_once(['.', '#'])?;
            let name = name.trim_start_matches('/');
            match (message, kind) {
                _ if name.is_empty() => None,
                ("request" | "response", "body") => {
                    Some(format!("the `{name}` field of the {message} body"))
                }
                ("request" | "response", "header") => {
                    Some(format!("the `{name}` header of the {message}"))
                }
                ("request", "query" | "path") => {
                    Some(format!("the {kind} parameter `{name}` of the request"))
                }
                _ => None,
            }
        });
    match named {
        Some(value) => {
            format!("A request this API sends to the URL given in {value} of this operation.")
        }
        None => "A request this API sends to the URL this runtime expression names, read from \
                 the request or the response of this operation."
            .to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::Page;

    /// A subscription whose callback posts one of two events to the URL it was given.
    fn spec() -> Value {
        json!({
            "openapi": "3.0.3",
            "info": {"title": "T", "version": "1"},
            "paths": {"/hooks": {"post": {
                "operationId": "hook_create",
                "summary": "Subscribe",
                "responses": {"201": {"description": "Subscribed."}},
                "callbacks": {"event": {"{$request.body#/url}": {"post": {
                    "summary": "An event",
                    "description": "Sent *once* per change.",
                    "parameters": [{"name": "X-Signature", "in": "header", "required": true,
                                    "description": "The body's HMAC.",
                                    "schema": {"type": "string"}}],
                    "requestBody": {"required": true, "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/Event"}}}},
                    "responses": {"200": {"description": "Acknowledged."}}
                }}}}
            }}},
            "components": {"schemas": {
                "Event": {"description": "An event.",
                          "oneOf": [{"$ref": "#/components/schemas/Created"},
                                    {"$ref": "#/components/schemas/Deleted"}],
                          "discriminator": {"propertyName": "kind"}},
                "Created": {"type": "object", "description": "Something was created.",
                            "properties": {"kind": {"type": "string", "enum": ["created"]},
                                           "name": {"type": "string"}}},
                "Deleted": {"type": "object", "description": "Something was deleted.",
                            "properties": {"kind": {"type": "string", "enum": ["deleted"]},
                                           "at": {"type": "string", "format": "date-time"}}}
            }}
        })
    }

    #[test]
    fn a_callback_shows_under_its_operation() {
        let page = Page::of(&spec(), &[]);
        let operation = &page.groups[0].operations[0];
        let [callback] = operation.callbacks.as_slice() else {
            panic!("one callback, not {:?}", operation.callbacks);
        };
        assert_eq!(callback.name, "event");
        assert_eq!(callback.id, "hook_create-event-post");
        assert_eq!(
            (callback.method.as_str(), callback.url.as_str()),
            ("POST", "{$request.body#/url}")
        );
        assert_eq!(
            callback.description,
            "<p>Sent <em>once</em> per change.</p>\n"
        );
        let headers: Vec<(&str, &str)> = callback
            .parameters
            .iter()
            .map(|field| (field.name.as_str(), field.location.as_str()))
            .collect();
        assert_eq!(headers, [("X-Signature", "header")]);
        let body = callback.body.as_ref().expect("a body");
        assert_eq!(body.shape.label, "Event");
        assert_eq!(body.shape.discriminator.as_deref(), Some("kind"));
        let alternatives: Vec<(&str, Vec<&str>)> = body
            .shape
            .one_of
            .iter()
            .map(|shape| {
                let names = shape.fields.iter().map(|f| f.name.as_str()).collect();
                (shape.label.as_str(), names)
            })
            .collect();
        assert_eq!(
            alternatives,
            [
                ("Created", vec!["kind", "name"]),
                ("Deleted", vec!["at", "kind"])
            ]
        );
        let statuses: Vec<&str> = callback.responses.iter().map(|r| &*r.status).collect();
        assert_eq!(statuses, ["200"]);
    }

    #[test]
    fn the_page_shows_what_a_callback_sends() {
        let html = crate::render(&spec(), &[]).expect("the page renders");
        let text = crate::text(&html);
        for line in [
            "Callbacks",
            "event: An event",
            "POST {$request.body#/url}",
            "A request this API sends to the URL given in the url field of the request body \
             of this operation.",
            "Sent once per change.",
            "X-Signature string",
            "The body's HMAC.",
            "application/json Event required",
            "One of the following, told apart by kind:",
            "Schema: Created, 2 fields",
            "Something was created.",
            "Schema: Deleted, 2 fields",
            "at string optional",
            "200 OK",
            "Acknowledged.",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "no line {line:?} in\n{text}"
            );
        }
        assert!(html.contains("id=\"hook_create-event-post\""));
    }

    #[test]
    fn a_callback_url_is_named_when_it_is_one_value() {
        assert_eq!(
            callback_target("{$request.query.callback}"),
            "A request this API sends to the URL given in the query parameter `callback` of \
             the request of this operation."
        );
        assert_eq!(
            callback_target("{$response.header.Location}"),
            "A request this API sends to the URL given in the `Location` header of the \
             response of this operation."
        );
        for url in [
            "https://x.test/{$request.body#/id}",
            "{$url}",
            "{$request.body}",
        ] {
            assert!(
                callback_target(url).contains("this runtime expression names"),
                "{url}"
            );
        }
    }
}
