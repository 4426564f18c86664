//! An operation of the page: its request (parameters, body, `curl` examples) and its
//! responses, read from the spec; the callbacks it declares are read in `callbacks`.

use leads_spec::Document;
use serde::Serialize;
use serde_json::Value;

use super::callbacks::{Callback, callbacks};
use super::security::auth;
use super::str_at;
use crate::curl;
use crate::fields::{self, Field, Shape};
use crate::markdown;

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

pub(super) fn operation(doc: Document, op: &leads_spec::Operation, base_url: &str) -> Operation {
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
pub(super) fn parameters(doc: Document, op: &leads_spec::Operation) -> Vec<Value> {
    op.parameters()
        .iter()
        .filter_map(|parameter| doc.resolve(parameter.value).ok().cloned())
        .collect()
}

pub(super) fn request_body(doc: Document, body: &Value) -> Option<Body> {
    let (media_type, media) = body.get("content")?.as_object()?.iter().next()?;
    Some(Body {
        required: body.get("required") == Some(&Value::Bool(true)),
        media_type: media_type.clone(),
        shape: fields::shape(doc, media.get("schema").unwrap_or(&Value::Null)),
    })
}

pub(super) fn response(doc: Document, response: &leads_spec::Response) -> Response {
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
pub(super) fn examples(doc: Document, media: &Value) -> Vec<(String, Value)> {
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
