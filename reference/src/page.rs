//! The page's model: what the template shows, read from the spec through
//! [`leads_spec::Document`]. Everything here is data; the markup is the template's.

use std::collections::BTreeMap;

use leads_spec::{Document, METHODS};
use serde::Serialize;
use serde_json::Value;

use crate::ServedVersion;
use crate::curl;
use crate::fields::{self, Field, Shape};
use crate::markdown::{self, Heading};

/// The whole page.
#[derive(Debug, Serialize)]
pub struct Page {
    pub title: String,
    pub version: String,
    /// `info.description`, rendered.
    pub introduction: String,
    /// The introduction's sections, for the navigation.
    pub sections: Vec<Heading>,
    pub servers: Vec<Server>,
    /// The versions the server serves, or `None` (no versions given): no such section.
    pub versions: Option<Versions>,
    pub schemes: Vec<Scheme>,
    pub errors: Vec<ErrorCode>,
    pub groups: Vec<Group>,
}

#[derive(Debug, Serialize)]
pub struct Server {
    pub url: String,
    pub description: String,
}

/// The versions the server serves, and how a request names one.
#[derive(Debug, Serialize)]
pub struct Versions {
    /// Oldest first, the newest last.
    pub rows: Vec<VersionRow>,
    /// The newest: what a request that names no version is served in.
    pub newest: String,
    /// A `curl` asking the first server for the document of a version: the oldest other
    /// than the one this page documents, or this one if it is the only one.
    pub request: String,
}

/// A row of the served versions' table.
#[derive(Debug, Serialize)]
pub struct VersionRow {
    pub version: String,
    /// `YYYY-MM-DD`, if announced.
    pub deprecated: Option<String>,
    /// `YYYY-MM-DD`, if announced.
    pub sunset: Option<String>,
    /// The version this page documents: the spec's `info.version`.
    pub documented: bool,
    /// The newest served version.
    pub newest: bool,
}

/// A security scheme of `components.securitySchemes`.
#[derive(Debug, Serialize)]
pub struct Scheme {
    pub name: String,
    pub summary: String,
    pub description: String,
}

/// A row of the error codes table: a `code` the examples of error responses show.
#[derive(Debug, Serialize)]
pub struct ErrorCode {
    pub code: String,
    pub status: String,
    pub description: String,
}

/// The operations of one tag, in the spec's order of tags.
#[derive(Debug, Serialize)]
pub struct Group {
    pub tag: String,
    pub description: String,
    pub operations: Vec<Operation>,
}

#[derive(Debug, Serialize)]
pub struct Operation {
    /// The operationId: the section's anchor.
    pub id: String,
    pub method: String,
    pub path: String,
    pub summary: String,
    pub description: String,
    /// What authentication it needs, in words (rendered Markdown).
    pub auth: String,
    pub authenticated: bool,
    pub parameters: Vec<Field>,
    pub body: Option<Body>,
    /// `curl` commands, one per request example.
    pub requests: Vec<Example>,
    pub responses: Vec<Response>,
    /// The requests this operation makes the API send (its `callbacks`): what a receiver of
    /// them, a webhook's endpoint say, must accept.
    pub callbacks: Vec<Callback>,
}

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

#[derive(Debug, Serialize)]
pub struct Body {
    pub required: bool,
    pub media_type: String,
    pub shape: Shape,
}

#[derive(Debug, Serialize)]
pub struct Example {
    pub title: String,
    pub code: String,
}

#[derive(Debug, Serialize)]
pub struct Response {
    pub status: String,
    pub reason: String,
    pub success: bool,
    pub description: String,
    pub headers: Vec<Field>,
    pub media_type: Option<String>,
    pub shape: Option<Shape>,
    pub examples: Vec<Example>,
}

impl Page {
    /// The page of the OpenAPI document `spec`, listing `versions`, the versions the server
    /// serves (oldest first; none: no list).
    pub fn of(spec: &Value, versions: &[ServedVersion]) -> Self {
        let doc = Document::new(spec);
        let info = spec.get("info").unwrap_or(&Value::Null);
        let introduction =
            markdown::render_with_headings(str_at(info, "description"), 1, "introduction-");
        let servers: Vec<Server> = list(spec, "servers")
            .map(|server| Server {
                url: str_at(server, "url").to_string(),
                description: markdown::inline(str_at(server, "description")),
            })
            .collect();
        let base_url = servers.first().map_or("", |server| server.url.as_str());
        let operations: Vec<Operation> = doc
            .operations()
            .iter()
            .map(|op| operation(doc, op, base_url))
            .collect();
        let version = str_at(info, "version").to_string();
        Self {
            title: str_at(info, "title").to_string(),
            versions: served_versions(versions, &version, base_url),
            version,
            introduction: introduction.html,
            sections: introduction.headings,
            schemes: schemes(doc),
            errors: error_codes(doc),
            groups: groups(spec, &doc, operations),
            servers,
        }
    }
}

/// The table of served versions, `documented` being the one the page documents; `None` for
/// no versions.
fn served_versions(
    versions: &[ServedVersion],
    documented: &str,
    base_url: &str,
) -> Option<Versions> {
    let newest = versions.last()?;
    let example = versions
        .iter()
        .find(|served| served.version != documented)
        .unwrap_or(newest);
    let request = curl::command(&curl::Request {
        method: "get",
        base_url,
        path: "/openapi.yaml",
        authenticated: false,
        headers: &[("api-version", &example.version)],
        body: None,
    });
    Some(Versions {
        rows: versions
            .iter()
            .enumerate()
            .map(|(index, served)| VersionRow {
                version: served.version.clone(),
                deprecated: served.deprecated.clone(),
                sunset: served.sunset.clone(),
                documented: served.version == documented,
                newest: index + 1 == versions.len(),
            })
            .collect(),
        newest: newest.version.clone(),
        request,
    })
}

/// Operations grouped by their first tag, groups in the order of the spec's `tags`, then any
/// tag it does not list.
fn groups(spec: &Value, doc: &Document, operations: Vec<Operation>) -> Vec<Group> {
    let first_tags: Vec<String> = doc
        .operations()
        .iter()
        .map(|op| {
            list(op.value, "tags")
                .next()
                .and_then(Value::as_str)
                .unwrap_or("other")
                .to_string()
        })
        .collect();
    let mut groups: Vec<Group> = list(spec, "tags")
        .map(|tag| Group {
            tag: str_at(tag, "name").to_string(),
            description: markdown::render(str_at(tag, "description")),
            operations: Vec::new(),
        })
        .collect();
    for (operation, tag) in operations.into_iter().zip(first_tags) {
        if !groups.iter().any(|group| group.tag == tag) {
            groups.push(Group {
                tag: tag.clone(),
                description: String::new(),
                operations: Vec::new(),
            });
        }
        if let Some(group) = groups.iter_mut().find(|group| group.tag == tag) {
            group.operations.push(operation);
        }
    }
    groups.retain(|group| !group.operations.is_empty());
    groups
}

fn operation(doc: Document, op: &leads_spec::Operation, base_url: &str) -> Operation {
    let parameters = parameters(doc, op);
    let path_examples: Vec<(String, String)> = parameters
        .iter()
        .filter(|parameter| str_at(parameter, "in") == "path")
        .filter_map(|parameter| {
            let example = parameter.get("example")?;
            let text = example
                .as_str()
                .map_or_else(|| example.to_string(), String::from);
            Some((str_at(parameter, "name").to_string(), text))
        })
        .collect();
    let path = curl::fill_path(op.path, &path_examples);
    let authenticated = doc.requires_auth(op);
    let body = op
        .request_body()
        .and_then(|body| doc.resolve(body.value).ok());
    let body_examples = body
        .and_then(|body| body.pointer("/content/application~1json"))
        .map(|media| examples(doc, media))
        .unwrap_or_default();
    let request = |title: String, body: Option<&Value>| Example {
        title,
        code: curl::command(&curl::Request {
            method: op.method,
            base_url,
            path: &path,
            authenticated,
            headers: &[],
            body,
        }),
    };
    let requests = if body_examples.is_empty() {
        vec![request(String::new(), None)]
    } else {
        body_examples
            .iter()
            .map(|(title, value)| request(title.clone(), Some(value)))
            .collect()
    };
    Operation {
        id: op.id().unwrap_or_default().to_string(),
        method: op.method.to_uppercase(),
        path: op.path.to_string(),
        summary: str_at(op.value, "summary").to_string(),
        description: markdown::render(str_at(op.value, "description")),
        auth: markdown::render(&auth(doc, op)),
        authenticated,
        parameters: parameters
            .iter()
            .map(|parameter| fields::parameter(doc, parameter))
            .collect(),
        body: body.and_then(|body| request_body(doc, body)),
        requests,
        responses: op
            .responses()
            .iter()
            .map(|response| self::response(doc, response))
            .collect(),
        callbacks: callbacks(doc, op),
    }
}

/// The parameters of an operation, resolved.
fn parameters(doc: Document, op: &leads_spec::Operation) -> Vec<Value> {
    op.parameters()
        .iter()
        .filter_map(|parameter| doc.resolve(parameter.value).ok().cloned())
        .collect()
}

/// The operations of `op`'s callbacks (each through its `$ref`): callbacks in name order,
/// then URL expressions, then methods in [`METHODS`] order.
fn callbacks<'a>(doc: Document<'a>, op: &leads_spec::Operation<'a>) -> Vec<Callback> {
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

fn request_body(doc: Document, body: &Value) -> Option<Body> {
    let (media_type, media) = body.get("content")?.as_object()?.iter().next()?;
    Some(Body {
        required: body.get("required") == Some(&Value::Bool(true)),
        media_type: media_type.clone(),
        shape: fields::shape(doc, media.get("schema").unwrap_or(&Value::Null)),
    })
}

fn response(doc: Document, response: &leads_spec::Response) -> Response {
    let value = doc
        .resolve(response.node.value)
        .unwrap_or(response.node.value);
    let headers = value
        .get("headers")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(name, header)| {
            let header = doc.resolve(header).unwrap_or(header);
            Field {
                name: name.clone(),
                location: "header".to_string(),
                ..fields::parameter(doc, header)
            }
        })
        .collect();
    let media = value
        .get("content")
        .and_then(Value::as_object)
        .and_then(|content| content.iter().next());
    Response {
        status: response.status.to_string(),
        reason: reason(response.status).to_string(),
        success: response.status.starts_with(['1', '2', '3']),
        description: markdown::render(str_at(value, "description")),
        headers,
        media_type: media.map(|(media_type, _)| media_type.clone()),
        shape: media
            .map(|(_, media)| fields::shape(doc, media.get("schema").unwrap_or(&Value::Null))),
        examples: media
            .map(|(_, media)| examples(doc, media))
            .unwrap_or_default()
            .into_iter()
            .map(|(title, value)| Example {
                title,
                code: serde_json::to_string_pretty(&value).unwrap_or_else(|_| value.to_string()),
            })
            .collect(),
    }
}

/// The examples of a media type object: its `example`, or each of its `examples` (through
/// `$ref`s), with their summaries.
fn examples(doc: Document, media: &Value) -> Vec<(String, Value)> {
    if let Some(example) = media.get("example") {
        return vec![(String::new(), example.clone())];
    }
    media
        .get("examples")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(name, example)| {
            let example = doc.resolve(example).ok()?;
            let title = example
                .get("summary")
                .and_then(Value::as_str)
                .unwrap_or(name);
            Some((title.to_string(), example.get("value")?.clone()))
        })
        .collect()
}

/// The authentication an operation needs, in words.
fn auth(doc: Document, op: &leads_spec::Operation) -> String {
    if !doc.requires_auth(op) {
        return "None: no API key needed.".to_string();
    }
    let requirements = op
        .value
        .get("security")
        .or_else(|| doc.root().get("security"));
    let names: Vec<&String> = requirements
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .flat_map(|requirement| requirement.keys())
        .collect();
    let schemes = doc.components("securitySchemes");
    names
        .iter()
        .map(|name| {
            schemes
                .iter()
                .find(|(scheme, _)| scheme == name)
                .map_or_else(
                    || format!("`{name}`"),
                    |(_, node)| scheme_summary(node.value),
                )
        })
        .collect::<Vec<_>>()
        .join(" or ")
}

fn schemes(doc: Document) -> Vec<Scheme> {
    doc.components("securitySchemes")
        .into_iter()
        .map(|(name, node)| {
            let scheme = node.value;
            let summary = scheme_summary(scheme);
            Scheme {
                name: name.to_string(),
                summary: markdown::inline(&summary),
                description: markdown::render(str_at(scheme, "description")),
            }
        })
        .collect()
}

/// What a security scheme asks of a request, in Markdown.
fn scheme_summary(scheme: &Value) -> String {
    match (str_at(scheme, "type"), str_at(scheme, "scheme")) {
        ("http", "bearer") => match scheme.get("bearerFormat").and_then(Value::as_str) {
            Some(format) => format!("`Authorization: Bearer {format}`"),
            None => "`Authorization: Bearer …`".to_string(),
        },
        ("http", scheme) => format!("HTTP `{scheme}` authentication"),
        ("apiKey", _) => format!(
            "API key in the {} `{}`",
            str_at(scheme, "in"),
            str_at(scheme, "name")
        ),
        (kind, _) => format!("`{kind}`"),
    }
}

/// The error codes the examples of 4xx/5xx responses show, by status then code, each with the
/// description of the first response that shows it.
fn error_codes(doc: Document) -> Vec<ErrorCode> {
    let mut codes: BTreeMap<(String, String), String> = BTreeMap::new();
    for op in doc.operations() {
        for response in op.responses() {
            if !response.status.starts_with(['4', '5']) {
                continue;
            }
            let Ok(value) = doc.resolve(response.node.value) else {
                continue;
            };
            let content = value.get("content").and_then(Value::as_object);
            for media in content.into_iter().flat_map(|content| content.values()) {
                for (_, example) in examples(doc, media) {
                    if let Some(code) = example.get("code").and_then(Value::as_str) {
                        codes
                            .entry((response.status.to_string(), code.to_string()))
                            .or_insert_with(|| markdown::render(str_at(value, "description")));
                    }
                }
            }
        }
    }
    codes
        .into_iter()
        .map(|((status, code), description)| ErrorCode {
            code,
            status,
            description,
        })
        .collect()
}

/// The reason phrase of a status (RFC 9110), or nothing for one this page does not know.
fn reason(status: &str) -> &'static str {
    match status {
        "200" => "OK",
        "201" => "Created",
        "202" => "Accepted",
        "204" => "No Content",
        "304" => "Not Modified",
        "400" => "Bad Request",
        "401" => "Unauthorized",
        "403" => "Forbidden",
        "404" => "Not Found",
        "409" => "Conflict",
        "412" => "Precondition Failed",
        "413" => "Content Too Large",
        "422" => "Unprocessable Content",
        "429" => "Too Many Requests",
        "500" => "Internal Server Error",
        "503" => "Service Unavailable",
        _ => "",
    }
}

fn str_at<'a>(value: &'a Value, field: &str) -> &'a str {
    value.get(field).and_then(Value::as_str).unwrap_or_default()
}

fn list<'a>(value: &'a Value, field: &str) -> impl Iterator<Item = &'a Value> {
    value
        .get(field)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

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
