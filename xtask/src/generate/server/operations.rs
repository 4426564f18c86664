//! What the generator needs of each operation, read from the spec through
//! [`leads_spec::Document`], and the constructs it refuses, each with a message that says why.

use anyhow::{Context, Result, anyhow, bail};
use leads_spec::{Document, RefError, schema_component};
use serde_json::{Map, Value, json};

use super::names::pascal_case;

/// The one 3xx status the generator supports: a conditional GET answered from the cache.
const NOT_MODIFIED: &str = "304";

/// Where success headers must be defined, to be shared by name.
const HEADER_COMPONENTS: &str = "#/components/headers/";

/// What the trait needs to know of one operation.
pub struct Operation {
    pub id: String,
    /// Uppercase, as dropshot's `endpoint` attribute writes it.
    pub method: String,
    pub path: String,
    pub tags: Vec<String>,
    pub doc: String,
    pub path_params: Option<Params>,
    pub query_params: Option<Params>,
    pub header_params: Option<Params>,
    /// The component the request body refers to.
    pub body: Option<String>,
    /// The success status code.
    pub status: u16,
    /// Whether the handler builds its answer itself ([`Document::answers_raw`]): the trait
    /// method returns the server's `RawResponse`, and `response` and `headers` are empty.
    /// Otherwise it returns the server's `Answer` of its typed success, which can also be a
    /// `304 Not Modified` or an error with headers.
    pub raw: bool,
    /// The component the success response refers to.
    pub response: Option<String>,
    /// The documented success headers (bar [`leads_spec::ANSWER_HEADERS`]).
    pub headers: Vec<Header>,
}

/// One documented success header: a `$ref` to `#/components/headers/{component}`.
#[derive(Clone, PartialEq)]
pub struct Header {
    /// The header's name on the wire.
    pub name: String,
    /// The name of the component it refers to.
    pub component: String,
    pub description: String,
    pub schema: Value,
    /// Whether every answer carries it (the header object's `required`); the field of one
    /// that only some answers carry is an `Option`.
    pub required: bool,
}

impl Operation {
    /// The operation's parameters, by location: path, query, then headers.
    pub fn params(&self) -> impl Iterator<Item = &Params> {
        [&self.path_params, &self.query_params, &self.header_params]
            .into_iter()
            .flatten()
    }
}

/// An operation's parameters of one location, as a synthesized object schema.
pub struct Params {
    pub type_name: String,
    pub schema: Value,
}

/// Every operation of the spec, in [`Document::operations`] order.
pub fn operations(doc: Document) -> Result<Vec<Operation>> {
    if doc.root().get("paths").is_none() {
        bail!("the spec has no paths");
    }
    doc.operations()
        .iter()
        .map(|op| operation(doc, op).with_context(|| op.label()))
        .collect()
}

fn operation(doc: Document, op: &leads_spec::Operation) -> Result<Operation> {
    let id = string(op.value, "operationId")?;
    let summary = string(op.value, "summary")?;
    let description = string(op.value, "description")?;
    let tags = op
        .value
        .get("tags")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(String::from)
        .collect();

    let params = op
        .parameters()
        .into_iter()
        .map(|param| resolve(doc, param.value).cloned())
        .collect::<Result<Vec<_>>>()?;
    if let Some(other) = params
        .iter()
        .filter_map(|p| p.get("in").and_then(Value::as_str))
        .find(|location| !matches!(*location, "path" | "query" | "header"))
    {
        bail!("parameters in `{other}` are not supported by the generator");
    }
    let pascal = pascal_case(&id);
    let path_params = params_struct(&params, "path", format!("{pascal}Path"))?;
    let query_params = params_struct(&params, "query", format!("{pascal}Query"))?;
    let header_params = params_struct(&params, "header", format!("{pascal}Header"))?;

    let body = match op.request_body() {
        Some(body) => Some(json_schema_ref(
            resolve(doc, body.value)?,
            "the request body",
        )?),
        None => None,
    };

    let responses = op.responses();
    if let Some(other) = responses
        .iter()
        .find(|response| response.status.starts_with(['1', '3']) && response.status != NOT_MODIFIED)
    {
        bail!(
            "response {}: the generator supports no 1xx or 3xx status but `304` (a conditional \
             GET answered from the client's cache)",
            other.status
        );
    }
    let successes: Vec<&leads_spec::Response> = responses
        .iter()
        .filter(|response| response.status.starts_with('2'))
        .collect();
    let [success] = successes.as_slice() else {
        let statuses: Vec<&str> = successes.iter().map(|response| response.status).collect();
        bail!(
            "dropshot needs exactly one 2xx response per operation, not {}: {statuses:?}",
            statuses.len()
        );
    };
    let status: u16 = success
        .status
        .parse()
        .with_context(|| format!("success status `{}` is not a number", success.status))?;
    let what = format!("response {status}");
    let success = resolve(doc, success.node.value)?;
    let raw = doc.answers_raw(op);
    let (response, headers) = if raw {
        raw_success(success, status)?;
        (None, Vec::new())
    } else {
        let response = match success.get("content") {
            Some(_) => Some(json_schema_ref(success, &what)?),
            None => None,
        };
        (response, success_headers(doc, success)?)
    };

    Ok(Operation {
        doc: format!("{summary}\n\n{}", description.trim_end()),
        id,
        method: op.method.to_uppercase(),
        path: op.path.to_string(),
        tags,
        path_params,
        query_params,
        header_params,
        body,
        status,
        raw,
        response,
        headers,
    })
}

/// Checks what a raw answer ([`Document::answers_raw`]) must be: `200` (the status the
/// server's `RawResponse` documents to dropshot) with at most one media type.
fn raw_success(success: &Value, status: u16) -> Result<()> {
    if status != 200 {
        bail!(
            "response {status}: an answer the handler builds itself (not `application/json`, \
             or JSON with no component schema) must be `200`"
        );
    }
    let media_types = media_types(success);
    if media_types.len() > 1 {
        bail!(
            "response {status} has media types {media_types:?}: a response has one media type \
             (the handler cannot choose by `Accept`)"
        );
    }
    Ok(())
}

/// The headers a success response documents, bar those the server sets on every answer.
fn success_headers(doc: Document, success: &Value) -> Result<Vec<Header>> {
    let mut headers = Vec::new();
    for (name, header) in success
        .get("headers")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        if leads_spec::is_answer_header(name) {
            continue;
        }
        let component = header
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|reference| reference.strip_prefix(HEADER_COMPONENTS))
            .ok_or_else(|| {
                anyhow!(
                    "success header `{name}` must be a `$ref` to `{HEADER_COMPONENTS}…`: the \
                     component names name the shared headers struct"
                )
            })?
            .to_string();
        let header = resolve(doc, header)?;
        headers.push(Header {
            name: name.clone(),
            component,
            description: header
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            schema: header.get("schema").cloned().unwrap_or(json!({})),
            required: header.get("required") == Some(&Value::Bool(true)),
        });
    }
    Ok(headers)
}

/// The object schema of the parameters in `location`, or `None` if there are none.
pub fn params_struct(
    params: &[Value],
    location: &str,
    type_name: String,
) -> Result<Option<Params>> {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for param in params
        .iter()
        .filter(|p| p.get("in").and_then(Value::as_str) == Some(location))
    {
        let name = string(param, "name")?;
        let mut schema = param
            .get("schema")
            .cloned()
            .ok_or_else(|| anyhow!("parameter `{name}` has no schema"))?;
        // A `$ref` admits no siblings in OpenAPI 3.0: its description would be lost anyway.
        if let (Some(object), Some(description)) = (
            schema.as_object_mut().filter(|s| !s.contains_key("$ref")),
            param.get("description"),
        ) {
            object.insert("description".to_string(), description.clone());
        }
        if param.get("required") == Some(&Value::Bool(true)) {
            required.push(Value::String(name.clone()));
        }
        properties.insert(name, schema);
    }
    if properties.is_empty() {
        return Ok(None);
    }
    let mut schema = json!({"type": "object", "properties": properties});
    if !required.is_empty() {
        schema["required"] = Value::Array(required);
    }
    Ok(Some(Params { type_name, schema }))
}

/// The component name of the schema of `owner` (`what`: "the request body", "response
/// 200"), which must be `application/json` only, with a `$ref` to a component schema: the
/// component names the wire type.
fn json_schema_ref(owner: &Value, what: &str) -> Result<String> {
    let media_types = media_types(owner);
    if media_types != ["application/json"] {
        bail!(
            "{what} has media types {media_types:?}: the generator supports `application/json` only"
        );
    }
    let reference = owner
        .pointer("/content/application~1json/schema/$ref")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            anyhow!(
                "{what} has an inline schema: it must be a `$ref` to `#/components/schemas/…`, \
                 whose name names its wire type"
            )
        })?;
    schema_component(reference)
        .map(String::from)
        .ok_or_else(|| {
            anyhow!("{what}: `{reference}` is not a reference to `#/components/schemas/…`")
        })
}

/// The media types of a request body's or a response's `content`.
fn media_types(owner: &Value) -> Vec<&String> {
    owner
        .get("content")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|content| content.keys())
        .collect()
}

fn resolve<'a>(doc: Document<'a>, value: &'a Value) -> Result<&'a Value> {
    doc.resolve(value)
        .map_err(|error: RefError| anyhow!("{error} (run `cargo xtask lint`)"))
}

fn string(value: &Value, field: &str) -> Result<String> {
    value
        .get(field)
        .and_then(Value::as_str)
        .map(String::from)
        .ok_or_else(|| anyhow!("missing `{field}` (run `cargo xtask lint`)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_become_an_object_schema() {
        let params = vec![
            json!({"name": "id", "in": "path", "required": true, "description": "The id.",
                   "schema": {"type": "string", "format": "uuid"}}),
            json!({"name": "limit", "in": "query", "schema": {"type": "integer"}}),
        ];
        let path = params_struct(&params, "path", "ThingViewPath".into())
            .unwrap()
            .unwrap();
        assert_eq!(
            path.schema,
            json!({"type": "object", "required": ["id"], "properties": {
                "id": {"type": "string", "format": "uuid", "description": "The id."}
            }})
        );
        let query = params_struct(&params, "query", "ThingViewQuery".into())
            .unwrap()
            .unwrap();
        assert_eq!(
            query.schema["properties"]["limit"],
            json!({"type": "integer"})
        );
        assert!(query.schema.get("required").is_none());
    }
}
