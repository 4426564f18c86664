//! The server over HTTP, where the contract suite cannot go: answers the spec does not
//! document, which that suite (it validates every answer against the spec) would refuse.
//!
//! Everything the spec documents, including every error envelope, auth, tenancy, PATCH
//! semantics, rate limits and internal failures, is tested through the generated client in
//! `contract-tests/`. What is left here is dropshot's router: a path or method the API does
//! not have is answered before any handler runs, with dropshot's own body (a known
//! difference from Aura, listed in the README).

use reqwest::{Method, StatusCode};
use serde_json::Value;

use leads_server::testing::TestServer;

async fn send(server: &TestServer, method: Method, path: &str) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .request(method, format!("{}{path}", server.base_url()))
        .bearer_auth(server.api_key())
        .send()
        .await
        .expect("the server answers");
    let status = response.status();
    let body = response.json().await.expect("a JSON body");
    (status, body)
}

#[tokio::test]
async fn an_unknown_path_is_not_found_with_a_request_id() {
    let server = TestServer::start().await.expect("a server");
    for path in ["/v1/contacts", "/v1/leads/a/b", "/"] {
        let (status, body) = send(&server, Method::GET, path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(body["error_code"], Value::Null, "{path}: {body}");
        assert!(body["request_id"].is_string(), "{path}: {body}");
    }
}

#[tokio::test]
async fn an_unknown_method_is_not_allowed() {
    let server = TestServer::start().await.expect("a server");
    for (method, path) in [
        (Method::DELETE, "/v1/leads"),
        (
            Method::PUT,
            "/v1/leads/550e8400-e29b-41d4-a716-446655440000",
        ),
        (Method::POST, "/health"),
    ] {
        let (status, body) = send(&server, method.clone(), path).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert!(body["request_id"].is_string(), "{method} {path}: {body}");
    }
}
