//! [`Document`]: an OpenAPI 3.0 document as plain JSON, its `$ref`s and its operations.
//!
//! The model reads JSON rather than `openapiv3` types because its users must say *where*
//! something is (lint problems, conformance differences carry JSON pointers) and must read
//! documents `openapiv3` may refuse (a spec being linted, the document dropshot renders).

use serde_json::Value;

use crate::pointer::{escape, pointer};

/// The HTTP methods a path item may hold operations for, in the order operations are listed.
pub const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// The media type of typed bodies.
const JSON: &str = "application/json";

/// Where component schemas are defined.
const SCHEMA_COMPONENTS: &str = "#/components/schemas/";

/// A chain of `$ref`s longer than this is taken for a cycle.
const MAX_REF_CHAIN: usize = 32;

/// An OpenAPI document: borrowed JSON, so several (two versions of a spec) can be read at once.
#[derive(Clone, Copy, Debug)]
pub struct Document<'a> {
    root: &'a Value,
}

/// A value of the document and the JSON pointer it sits at.
#[derive(Clone, Debug, PartialEq)]
pub struct Node<'a> {
    pub pointer: String,
    pub value: &'a Value,
}

/// One operation: a method of a path item.
#[derive(Clone, Debug)]
pub struct Operation<'a> {
    /// The path template, as the `paths` key (`/v1/leads/{id}`).
    pub path: &'a str,
    /// Lowercase, one of [`METHODS`].
    pub method: &'static str,
    /// The JSON pointer of the operation object (`/paths/~1v1~1leads/get`).
    pub pointer: String,
    /// The operation object.
    pub value: &'a Value,
    /// The path item holding it (for its shared `parameters`).
    pub path_item: &'a Value,
}

/// One documented response of an operation (not yet resolved).
#[derive(Clone, Debug, PartialEq)]
pub struct Response<'a> {
    /// The `responses` key: `200`, `4XX`, `default`.
    pub status: &'a str,
    pub node: Node<'a>,
}

/// Why a `$ref` does not lead to a value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RefError {
    #[error("`$ref` is not a string")]
    NotAString,
    #[error("$ref `{0}` points outside the document; the spec must be one file")]
    External(String),
    #[error("$ref `{0}` points at nothing")]
    Dangling(String),
    #[error("$ref `{0}` is part of a cycle of references")]
    Cycle(String),
}

impl<'a> Document<'a> {
    pub fn new(root: &'a Value) -> Self {
        Self { root }
    }

    /// The whole document.
    pub fn root(self) -> &'a Value {
        self.root
    }

    /// A string at `pointer` (`/info/title`), if there is one.
    pub fn text(self, pointer: &str) -> Option<&'a str> {
        self.root.pointer(pointer).and_then(Value::as_str)
    }

    /// The value a reference points at, without following further references.
    pub fn lookup(self, reference: &str) -> Result<&'a Value, RefError> {
        let fragment = reference
            .strip_prefix('#')
            .ok_or_else(|| RefError::External(reference.to_string()))?;
        self.root
            .pointer(fragment)
            .ok_or_else(|| RefError::Dangling(reference.to_string()))
    }

    /// Follows `value`'s `$ref`s until a value that is not a reference; `value` itself if it
    /// is none.
    pub fn resolve(self, mut value: &'a Value) -> Result<&'a Value, RefError> {
        for _ in 0..MAX_REF_CHAIN {
            let Some(reference) = value.get("$ref") else {
                return Ok(value);
            };
            value = self.lookup(reference.as_str().ok_or(RefError::NotAString)?)?;
        }
        let last = value
            .get("$ref")
            .and_then(Value::as_str)
            .unwrap_or_default();
        Err(RefError::Cycle(last.to_string()))
    }

    /// Follows `node`'s `$ref`s like [`Document::resolve`], and says where the value it ends at
    /// sits: the pointer of the last reference's target (`node`'s own if it is no reference).
    /// Reporters need it to point into a component rather than at the `$ref` that reached it.
    pub fn resolve_node(self, node: Node<'a>) -> Result<Node<'a>, RefError> {
        let mut current = node;
        for _ in 0..MAX_REF_CHAIN {
            let Some(reference) = current.value.get("$ref") else {
                return Ok(current);
            };
            let reference = reference.as_str().ok_or(RefError::NotAString)?;
            current = Node {
                value: self.lookup(reference)?,
                // `lookup` accepted it, so it starts with `#`.
                pointer: reference.trim_start_matches('#').to_string(),
            };
        }
        let last = current
            .value
            .get("$ref")
            .and_then(Value::as_str)
            .unwrap_or_default();
        Err(RefError::Cycle(last.to_string()))
    }

    /// Every operation: paths in key order (serde_json's maps keep keys sorted), each path's
    /// methods in [`METHODS`] order. A stable order, so that generated code is too.
    pub fn operations(self) -> Vec<Operation<'a>> {
        let Some(paths) = self.root.get("paths").and_then(Value::as_object) else {
            return Vec::new();
        };
        paths
            .iter()
            .flat_map(|(path, path_item)| {
                METHODS.iter().filter_map(move |method| {
                    path_item.get(*method).map(|value| Operation {
                        path,
                        method,
                        pointer: pointer(["paths", path.as_str(), method]),
                        value,
                        path_item,
                    })
                })
            })
            .collect()
    }

    /// Whether `operation` needs credentials: its own `security`, or else the document's, lists
    /// at least one requirement (`security: []` opts an operation out).
    pub fn requires_auth(self, operation: &Operation<'a>) -> bool {
        operation
            .value
            .get("security")
            .or_else(|| self.root.get("security"))
            .and_then(Value::as_array)
            .is_some_and(|requirements| !requirements.is_empty())
    }

    /// Whether the handler of `operation` builds its success answer itself (status, headers
    /// and body) rather than returning a typed JSON body: when its success (`2xx`) response
    /// has a media type other than `application/json`, which dropshot's typed responses cannot
    /// serve, or a JSON schema that is not a `$ref` to a component (a document served as it
    /// is, which no wire type describes). The server generator gives such an operation a raw
    /// response type, and the conformance test knows how dropshot renders one.
    pub fn answers_raw(self, operation: &Operation<'a>) -> bool {
        operation
            .responses()
            .iter()
            .filter(|response| response.status.starts_with('2'))
            .filter_map(|response| self.resolve(response.node.value).ok())
            .filter_map(|response| response.get("content").and_then(Value::as_object))
            .any(|content| {
                content.iter().any(|(media_type, media)| {
                    media_type != JSON
                        || media
                            .pointer("/schema/$ref")
                            .and_then(Value::as_str)
                            .and_then(schema_component)
                            .is_none()
                })
            })
    }

    /// The entries of `components.{kind}` (`schemas`, `headers`, …), by name.
    pub fn components(self, kind: &str) -> Vec<(&'a str, Node<'a>)> {
        self.root
            .get("components")
            .and_then(|components| components.get(kind))
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(name, value)| {
                let node = Node {
                    pointer: pointer(["components", kind, name.as_str()]),
                    value,
                };
                (name.as_str(), node)
            })
            .collect()
    }
}

impl<'a> Operation<'a> {
    /// The `operationId`, if the operation has one.
    pub fn id(&self) -> Option<&'a str> {
        self.value.get("operationId").and_then(Value::as_str)
    }

    /// `GET /v1/leads`: how people name an operation.
    pub fn label(&self) -> String {
        format!("{} {}", self.method.to_uppercase(), self.path)
    }

    /// The parameters that apply: the path item's, then the operation's own (which override
    /// those of the same name and location, so a caller keying them by `(in, name)` in order
    /// gets OpenAPI's meaning). Not resolved.
    pub fn parameters(&self) -> Vec<Node<'a>> {
        let path_item_pointer = pointer(["paths", self.path]);
        listed(self.path_item, &path_item_pointer, "parameters")
            .into_iter()
            .chain(listed(self.value, &self.pointer, "parameters"))
            .collect()
    }

    /// The request body, if any. Not resolved.
    pub fn request_body(&self) -> Option<Node<'a>> {
        self.value.get("requestBody").map(|value| Node {
            pointer: format!("{}/requestBody", self.pointer),
            value,
        })
    }

    /// Every documented response, in key order. Not resolved.
    pub fn responses(&self) -> Vec<Response<'a>> {
        self.value
            .get("responses")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(status, value)| Response {
                status,
                node: Node {
                    pointer: format!("{}/responses/{}", self.pointer, escape(status)),
                    value,
                },
            })
            .collect()
    }
}

/// The items of `owner`'s array `field`, each with its pointer.
fn listed<'a>(owner: &'a Value, at: &str, field: &str) -> Vec<Node<'a>> {
    owner
        .get(field)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(index, value)| Node {
            pointer: format!("{at}/{field}/{index}"),
            value,
        })
        .collect()
}

/// The component name of a `#/components/schemas/{name}` reference.
pub fn schema_component(reference: &str) -> Option<&str> {
    reference.strip_prefix(SCHEMA_COMPONENTS)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn security_is_the_operations_own_or_else_the_documents() {
        let spec = json!({
            "security": [{"bearer": []}],
            "paths": {"/a": {
                "get": {"operationId": "a_view"},
                "post": {"operationId": "a_create", "security": []}
            }, "/b": {"get": {"operationId": "b_view", "security": [{"other": []}]}}}
        });
        let doc = Document::new(&spec);
        let needs: Vec<(Option<&str>, bool)> = doc
            .operations()
            .iter()
            .map(|op| (op.id(), doc.requires_auth(op)))
            .collect();
        assert_eq!(
            needs,
            [
                (Some("a_view"), true),
                (Some("a_create"), false),
                (Some("b_view"), true)
            ]
        );
        let open = json!({"paths": {"/a": {"get": {}}}});
        let doc = Document::new(&open);
        assert!(!doc.requires_auth(&doc.operations()[0]));
    }

    #[test]
    fn answers_are_raw_when_not_json_or_not_a_wire_type() {
        let lead = json!({"content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/Lead"}
        }}});
        let spec = json!({
            "paths": {"/a": {
                "get": {"responses": {"200": lead, "404": {"content": {"text/plain": {}}}}},
                "put": {"responses": {"200": lead, "304": {"description": "same"}}},
                "post": {"responses": {"200": {"content": {"application/json": {
                    "schema": {"type": "object"}
                }}}}},
                "delete": {"responses": {"201": {"$ref": "#/components/responses/Html"}}}
            }},
            "components": {"responses": {"Html": {"content": {"text/html": {}}}}}
        });
        let doc = Document::new(&spec);
        let raw: Vec<(&str, bool)> = doc
            .operations()
            .iter()
            .map(|op| (op.method, doc.answers_raw(op)))
            .collect();
        assert_eq!(
            raw,
            [
                ("get", false),
                ("put", false),
                ("post", true),
                ("delete", true)
            ]
        );
    }

    fn doc() -> Value {
        json!({
            "paths": {
                "/things/{id}": {
                    "parameters": [{"$ref": "#/components/parameters/Id"}],
                    "delete": {"operationId": "thing_delete", "responses": {"204": {}}},
                    "get": {
                        "operationId": "thing_view",
                        "parameters": [{"name": "q", "in": "query"}],
                        "requestBody": {"content": {}},
                        "responses": {
                            "200": {"description": "ok"},
                            "4XX": {"$ref": "#/components/responses/Error"}
                        }
                    },
                    "summary": "not an operation"
                },
                "/a/b": {"post": {}}
            },
            "components": {
                "parameters": {"Id": {"name": "id", "in": "path"}},
                "responses": {"Error": {"$ref": "#/components/responses/Bad"}, "Bad": {"description": "x"}},
                "schemas": {"A": {"$ref": "#/components/schemas/B"}, "B": {"$ref": "#/components/schemas/A"}}
            }
        })
    }

    #[test]
    fn operations_come_in_path_and_method_order_with_their_pointers() {
        let doc = doc();
        let operations = Document::new(&doc).operations();
        let listed: Vec<(String, &str, Option<&str>)> = operations
            .iter()
            .map(|op| (op.label(), op.pointer.as_str(), op.id()))
            .collect();
        assert_eq!(
            listed,
            [
                ("POST /a/b".into(), "/paths/~1a~1b/post", None),
                (
                    "GET /things/{id}".into(),
                    "/paths/~1things~1{id}/get",
                    Some("thing_view")
                ),
                (
                    "DELETE /things/{id}".into(),
                    "/paths/~1things~1{id}/delete",
                    Some("thing_delete")
                ),
            ]
        );
    }

    #[test]
    fn parameters_are_the_path_items_then_the_operations() {
        let doc = doc();
        let operations = Document::new(&doc).operations();
        let pointers: Vec<String> = operations[1]
            .parameters()
            .into_iter()
            .map(|node| node.pointer)
            .collect();
        assert_eq!(
            pointers,
            [
                "/paths/~1things~1{id}/parameters/0",
                "/paths/~1things~1{id}/get/parameters/0"
            ]
        );
        assert_eq!(operations[2].parameters().len(), 1);
    }

    #[test]
    fn responses_and_body_carry_pointers() {
        let doc = doc();
        let get = &Document::new(&doc).operations()[1];
        let responses = get.responses();
        assert_eq!(responses[1].status, "4XX");
        assert_eq!(
            responses[1].node.pointer,
            "/paths/~1things~1{id}/get/responses/4XX"
        );
        assert_eq!(
            get.request_body().map(|node| node.pointer).as_deref(),
            Some("/paths/~1things~1{id}/get/requestBody")
        );
    }

    #[test]
    fn resolve_follows_chains_and_names_what_breaks() {
        let doc = doc();
        let document = Document::new(&doc);
        let error = &doc["paths"]["/things/{id}"]["get"]["responses"]["4XX"];
        assert_eq!(document.resolve(error), Ok(&json!({"description": "x"})));
        let plain = json!({"a": 1});
        assert_eq!(document.resolve(&plain), Ok(&plain));
        assert!(matches!(
            document.resolve(&json!({"$ref": "#/components/schemas/A"})),
            Err(RefError::Cycle(_))
        ));
        assert_eq!(
            document.resolve(&json!({"$ref": "#/nowhere"})),
            Err(RefError::Dangling("#/nowhere".into()))
        );
        assert_eq!(
            document.resolve(&json!({"$ref": "other.yaml#/A"})),
            Err(RefError::External("other.yaml#/A".into()))
        );
        assert_eq!(
            document.resolve(&json!({"$ref": 1})),
            Err(RefError::NotAString)
        );
    }

    #[test]
    fn resolve_node_says_where_the_chain_ends() {
        let doc = doc();
        let document = Document::new(&doc);
        let error = &doc["paths"]["/things/{id}"]["get"]["responses"]["4XX"];
        let start = Node {
            pointer: "/paths/~1things~1{id}/get/responses/4XX".into(),
            value: error,
        };
        let end = document.resolve_node(start.clone()).unwrap();
        assert_eq!(end.pointer, "/components/responses/Bad");
        assert_eq!(end.value, &json!({"description": "x"}));
        let plain = Node {
            pointer: "/x".into(),
            value: &doc["components"]["responses"]["Bad"],
        };
        assert_eq!(document.resolve_node(plain.clone()), Ok(plain));
        let cycle = json!({"$ref": "#/components/schemas/A"});
        let cycle = Node {
            pointer: String::new(),
            value: &cycle,
        };
        assert!(matches!(
            document.resolve_node(cycle),
            Err(RefError::Cycle(_))
        ));
    }

    #[test]
    fn components_are_listed_with_their_pointers() {
        let doc = doc();
        let schemas = Document::new(&doc).components("schemas");
        let names: Vec<(&str, &str)> = schemas
            .iter()
            .map(|(name, node)| (*name, node.pointer.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("A", "/components/schemas/A"),
                ("B", "/components/schemas/B")
            ]
        );
        assert!(Document::new(&doc).components("examples").is_empty());
    }

    #[test]
    fn schema_components_are_named() {
        assert_eq!(schema_component("#/components/schemas/Lead"), Some("Lead"));
        assert_eq!(schema_component("#/components/headers/Lead"), None);
    }
}
