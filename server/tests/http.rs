//! The server over real HTTP: every error path answers with the envelope, the right code and
//! status, and a `requestId` equal to the `x-request-id` header; auth, tenancy and PATCH
//! semantics hold end to end. (The client-driven contract suite is `contract-tests/`.)

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use leads_server::config::Config;
use leads_server::ratelimit::Limits;
use leads_server::{auth, server};

/// A server on a free port with its own database, and a key for each of two organizations.
struct TestServer {
    base: String,
    key_a: String,
    key_b: String,
    http: reqwest::Client,
    dir: tempfile::TempDir,
    _server: dropshot::HttpServer<leads_server::context::AppContext>,
}

async fn start_with(limits: Limits) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        bind: "127.0.0.1:0".parse().unwrap(),
        database: dir.path().join("leads.db"),
        rate_limits: limits,
        log_level: dropshot::ConfigLoggingLevel::Warn,
    };
    let store = server::open_store(&config).unwrap();
    let key_a = auth::create_key(store.as_ref(), "org-a").await.unwrap();
    let key_b = auth::create_key(store.as_ref(), "org-b").await.unwrap();
    let running = server::start(&config, store).unwrap();
    TestServer {
        base: format!("http://{}", running.local_addr()),
        key_a,
        key_b,
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
        dir,
        _server: running,
    }
}

async fn start() -> TestServer {
    start_with(Limits::default()).await
}

struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl TestServer {
    /// Sends a request; `body` is sent as given, with `content_type` if any.
    async fn send(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<(&str, Vec<u8>)>,
    ) -> Answer {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if let Some((content_type, bytes)) = body {
            request = request.header("content-type", content_type).body(bytes);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.unwrap();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
        }
    }

    async fn json(&self, method: Method, path: &str, key: &str, body: Value) -> Answer {
        let bytes = serde_json::to_vec(&body).unwrap();
        self.send(method, path, Some(key), Some(("application/json", bytes)))
            .await
    }

    async fn get(&self, path: &str, key: &str) -> Answer {
        self.send(Method::GET, path, Some(key), None).await
    }

    async fn create(&self, key: &str, body: Value) -> Value {
        let answer = self.json(Method::POST, "/v1/leads", key, body).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        answer.body["data"].clone()
    }
}

/// The answer is the error envelope with this status and code, and its `requestId` is the
/// `x-request-id` header.
fn assert_error(answer: &Answer, status: u16, code: &str) {
    assert_eq!(answer.status.as_u16(), status, "{}", answer.body);
    assert_eq!(answer.body["success"], false, "{}", answer.body);
    assert_eq!(answer.body["code"], code, "{}", answer.body);
    assert!(answer.body["error"].as_str().is_some_and(|e| !e.is_empty()));
    let header = answer.headers["x-request-id"].to_str().unwrap();
    assert_eq!(answer.body["requestId"], header);
}

fn field_errors(answer: &Answer) -> Vec<String> {
    answer.body["details"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| d["field"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn the_seed_example_creates_a_new_lead() {
    let server = start().await;
    let answer = server
        .json(
            Method::POST,
            "/v1/leads",
            &server.key_a,
            json!({"email": "john@example.com"}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::CREATED);
    assert_eq!(answer.body["success"], true);
    let lead = &answer.body["data"];
    assert_eq!(lead["email"], "john@example.com");
    assert_eq!(lead["status"], "new");
    assert_eq!(lead["notes"], json!([]));
    assert_eq!(lead["payment_count"], 0);
    assert_eq!(lead["created_at"], lead["updated_at"]);
    for header in [
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
    ] {
        assert!(answer.headers.contains_key(header), "{header}");
    }
    let read = server
        .get(
            &format!("/v1/leads/{}", lead["id"].as_str().unwrap()),
            &server.key_a,
        )
        .await;
    assert_eq!(read.body["data"], *lead);
}

#[tokio::test]
async fn body_extraction_failures_use_the_envelope() {
    let server = start().await;
    let key = Some(server.key_a.as_str());
    let post = |content_type: &'static str, body: &[u8]| {
        server.send(
            Method::POST,
            "/v1/leads",
            key,
            Some((content_type, body.to_vec())),
        )
    };

    let malformed = post("application/json", b"{\"email\": ").await;
    assert_error(&malformed, 400, "VALIDATION_ERROR");

    let wrong_type = post("application/json", br#"{"email": 5}"#).await;
    assert_error(&wrong_type, 400, "VALIDATION_ERROR");
    assert_eq!(field_errors(&wrong_type), ["email"]);

    let not_json = post("text/plain", br#"{"email": "a@b.co"}"#).await;
    assert_error(&not_json, 400, "VALIDATION_ERROR");

    let mut huge = br#"{"email": "big@example.com", "metadata": {"blob": ""#.to_vec();
    huge.extend(std::iter::repeat_n(b'a', 1024 * 1024));
    huge.extend(br#""}}"#);
    assert_error(
        &post("application/json", &huge).await,
        413,
        "PAYLOAD_TOO_LARGE",
    );
}

#[tokio::test]
async fn bodies_up_to_a_mebibyte_are_accepted() {
    let server = start().await;
    let blob = "a".repeat(1024 * 1024 - 100);
    let lead = server
        .create(
            &server.key_a,
            json!({"email": "large@example.com", "metadata": {"blob": blob}}),
        )
        .await;
    assert_eq!(lead["metadata"]["blob"].as_str().unwrap().len(), blob.len());
}

#[tokio::test]
async fn create_rules_name_each_offending_field() {
    let server = start().await;
    let answer = server
        .json(
            Method::POST,
            "/v1/leads",
            &server.key_a,
            json!({
                "email": "not-an-email",
                "phone": "555-1234",
                "timezone": "America/New_York",
                "metadata": {"latitude": 91, "screenWidth": "wide"},
                "nickname": "J"
            }),
        )
        .await;
    assert_error(&answer, 400, "VALIDATION_ERROR");
    let mut fields = field_errors(&answer);
    fields.sort();
    assert_eq!(
        fields,
        [
            "email",
            "metadata.latitude",
            "metadata.screenWidth",
            "nickname",
            "phone"
        ]
    );

    let zone = server
        .json(
            Method::POST,
            "/v1/leads",
            &server.key_a,
            json!({"email": "a@b.co", "timezone": "Mars/Base"}),
        )
        .await;
    assert_error(&zone, 400, "VALIDATION_ERROR");
    assert_eq!(field_errors(&zone), ["timezone"]);

    let missing = server
        .json(Method::POST, "/v1/leads", &server.key_a, json!({}))
        .await;
    assert_error(&missing, 400, "VALIDATION_ERROR");
    assert_eq!(field_errors(&missing), ["email"]);
}

#[tokio::test]
async fn path_and_query_failures_use_the_envelope() {
    let server = start().await;
    let key = &server.key_a;
    let bad_id = server.get("/v1/leads/not-a-uuid", key).await;
    assert_error(&bad_id, 400, "VALIDATION_ERROR");
    assert_eq!(field_errors(&bad_id), ["id"]);

    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=abc", "limit"),
        ("status=pending", "status"),
        ("assigned_to_id=bob", "assigned_to_id"),
        ("cursor=bm90LWEtY3Vyc29y", "cursor"),
        ("limit=5&limit=6", "limit"),
    ] {
        let answer = server.get(&format!("/v1/leads?{query}"), key).await;
        assert_error(&answer, 400, "VALIDATION_ERROR");
        assert_eq!(field_errors(&answer), [field], "{query}");
    }
}

#[tokio::test]
async fn every_operation_needs_a_valid_key() {
    let server = start().await;
    let unknown = format!("{}{}", auth::KEY_PREFIX, "x".repeat(40));
    let id = "550e8400-e29b-41d4-a716-446655440000";
    for key in [None, Some("not-a-key"), Some(unknown.as_str())] {
        for (method, path) in [
            (Method::GET, "/v1/leads".to_string()),
            (Method::POST, "/v1/leads".to_string()),
            (Method::GET, format!("/v1/leads/{id}")),
            (Method::PATCH, format!("/v1/leads/{id}")),
        ] {
            let body = Some(("application/json", b"{}".to_vec()));
            let answer = server.send(method.clone(), &path, key, body).await;
            assert_error(&answer, 401, "UNAUTHORIZED");
        }
    }
    let health = server.send(Method::GET, "/health", None, None).await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(
        health.body,
        json!({"data": {"status": "ok"}, "success": true})
    );
}

#[tokio::test]
async fn another_organizations_lead_is_not_found() {
    let server = start().await;
    let lead = server
        .create(&server.key_a, json!({"email": "a@example.com"}))
        .await;
    let path = format!("/v1/leads/{}", lead["id"].as_str().unwrap());

    assert_error(&server.get(&path, &server.key_b).await, 404, "NOT_FOUND");
    let patch = server
        .json(
            Method::PATCH,
            &path,
            &server.key_b,
            json!({"status": "lost"}),
        )
        .await;
    assert_error(&patch, 404, "NOT_FOUND");
    let list = server.get("/v1/leads", &server.key_b).await;
    assert_eq!(list.body["data"], json!([]));
    // The same email is free in another organization.
    server
        .create(&server.key_b, json!({"email": "a@example.com"}))
        .await;
    // A's lead is untouched.
    assert_eq!(server.get(&path, &server.key_a).await.body["data"], lead);
}

#[tokio::test]
async fn emails_are_unique_per_organization_case_insensitively() {
    let server = start().await;
    server
        .create(&server.key_a, json!({"email": "dup@example.com"}))
        .await;
    let again = server
        .json(
            Method::POST,
            "/v1/leads",
            &server.key_a,
            json!({"email": "DUP@example.com"}),
        )
        .await;
    assert_error(&again, 409, "CONFLICT");

    let other = server
        .create(&server.key_a, json!({"email": "other@example.com"}))
        .await;
    let path = format!("/v1/leads/{}", other["id"].as_str().unwrap());
    let taken = server
        .json(
            Method::PATCH,
            &path,
            &server.key_a,
            json!({"email": "Dup@Example.com"}),
        )
        .await;
    assert_error(&taken, 409, "CONFLICT");
}

#[tokio::test]
async fn patch_changes_only_what_is_given() {
    let server = start().await;
    let lead = server
        .create(
            &server.key_a,
            json!({"email": "p@example.com", "full_name": "Pat", "metadata": {"utmSource": "x"}}),
        )
        .await;
    let path = format!("/v1/leads/{}", lead["id"].as_str().unwrap());
    let key = &server.key_a;

    let empty = server.json(Method::PATCH, &path, key, json!({})).await;
    assert_eq!(empty.status, StatusCode::OK);
    assert_eq!(empty.body["data"], lead, "an empty body changes nothing");

    let notes = json!([{"content": "first", "created_at": "2026-01-18T10:15:00Z", "mood": "good"}]);
    let changed = server
        .json(
            Method::PATCH,
            &path,
            key,
            json!({"status": "contacted", "notes": notes, "company": null}),
        )
        .await;
    let data = &changed.body["data"];
    assert_eq!(data["status"], "contacted");
    assert_eq!(data["notes"], notes, "notes keep their extra keys");
    assert_eq!(data["full_name"], "Pat");
    assert_eq!(data["company"], Value::Null);
    assert_eq!(data["created_at"], lead["created_at"]);
    assert_ne!(data["updated_at"], lead["updated_at"]);

    let replaced = server
        .json(
            Method::PATCH,
            &path,
            key,
            json!({"notes": [{"content": "second", "created_at": "2026-01-19T10:00:00Z"}]}),
        )
        .await;
    assert_eq!(replaced.body["data"]["notes"].as_array().unwrap().len(), 1);
    assert_eq!(replaced.body["data"]["notes"][0]["content"], "second");

    let metadata = server
        .json(
            Method::PATCH,
            &path,
            key,
            json!({"metadata": {"utmSource": "y"}}),
        )
        .await;
    assert_error(&metadata, 400, "VALIDATION_ERROR");
    assert_eq!(field_errors(&metadata), ["metadata"]);
}

#[tokio::test]
async fn over_the_rate_limit_the_answer_is_429() {
    let server = start_with(Limits {
        per_key: 2,
        per_organization: 100,
    })
    .await;
    let first = server.get("/v1/leads", &server.key_a).await;
    assert_eq!(first.headers["x-ratelimit-limit"], "2");
    assert_eq!(first.headers["x-ratelimit-remaining"], "1");
    server.get("/v1/leads", &server.key_a).await;
    assert_error(
        &server.get("/v1/leads", &server.key_a).await,
        429,
        "RATE_LIMITED",
    );
    // Another key has its own budget.
    assert_eq!(
        server.get("/v1/leads", &server.key_b).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn internal_errors_disclose_nothing() {
    let server = start().await;
    let connection = rusqlite::Connection::open(server.dir.path().join("leads.db")).unwrap();
    connection.execute_batch("DROP TABLE leads").unwrap();
    let answer = server.get("/v1/leads", &server.key_a).await;
    assert_error(&answer, 500, "INTERNAL_ERROR");
    assert_eq!(answer.body["error"], "Internal server error");
}
