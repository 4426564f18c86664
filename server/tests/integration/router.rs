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

/// Each of `cases` (a method, a path, the `api-version` sent if any, and the `Allow` expected)
/// is refused `405` as the router refuses, naming `Allow`'s methods.
async fn assert_not_allowed(server: &TestServer, cases: &[(Method, &str, Option<&str>, &str)]) {
    for (method, path, version, allow) in cases {
        let mut request = reqwest::Client::new()
            .request(method.clone(), format!("{}{path}", server.base_url()))
            .bearer_auth(server.api_key());
        if let Some(version) = version {
            request = request.header("api-version", *version);
        }
        let response = request.send().await.expect("the server answers");
        let what = format!("{method} {path} in {version:?}");
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED, "{what}");
        assert_eq!(response.headers()["allow"], *allow, "{what}");
        assert!(response.headers().contains_key("x-request-id"), "{what}");
        let body: Value = response.json().await.expect("a JSON body");
        assert_eq!(body["message"], "Method Not Allowed", "{what}");
        assert!(body["request_id"].is_string(), "{what}: {body}");
    }
}

/// Aura's `/v1/webhooks/deliveries` is served through `/v1/webhooks/{id}`'s route (dropshot
/// cannot route both): a method it lacks is refused as the router refuses one, naming its own
/// methods in `Allow`, not those of `/v1/webhooks/{id}`; in versions before 5.1.0, which
/// served no such path, the segment is an id like any other.
#[tokio::test]
async fn a_dispatched_path_allows_its_own_methods() {
    let server = TestServer::start().await.expect("a server");
    let subscription = "/v1/webhooks/550e8400-e29b-41d4-a716-446655440000";
    let cases = [
        (Method::DELETE, "/v1/webhooks/deliveries", None, "GET"),
        (Method::PUT, "/v1/webhooks/deliveries", None, "GET"),
        (Method::OPTIONS, "/v1/webhooks/deliveries", None, "GET"),
        (Method::PUT, subscription, None, "DELETE, GET"),
        (Method::PATCH, subscription, None, "DELETE, GET"),
        (
            Method::PUT,
            "/v1/webhooks/deliveries",
            Some("5.0.0"),
            "DELETE, GET",
        ),
    ];
    assert_not_allowed(&server, &cases).await;
}

/// `DELETE /v1/leads/{id}` came with 5.1.0: in 5.0.0 and 4.0.0 it is a method the path lacks,
/// and every `405` of the path names the methods of the version the request is in, where
/// dropshot's router would name every version's (Schemathesis's ST205 on the released specs).
#[tokio::test]
async fn a_method_a_version_lacks_is_not_allowed_in_it() {
    let server = TestServer::start().await.expect("a server");
    let lead = "/v1/leads/550e8400-e29b-41d4-a716-446655440000";
    let cases = [
        (Method::DELETE, lead, Some("5.0.0"), "GET, PATCH"),
        (Method::DELETE, lead, Some("4.0.0"), "GET, PATCH"),
        (Method::OPTIONS, lead, Some("5.0.0"), "GET, PATCH"),
        (Method::PUT, lead, Some("4.0.0"), "GET, PATCH"),
        (Method::OPTIONS, lead, None, "DELETE, GET, PATCH"),
        (Method::PUT, lead, Some("5.1.0"), "DELETE, GET, PATCH"),
    ];
    assert_not_allowed(&server, &cases).await;
}

/// The front door's answers, before dropshot: connections beyond a bound, or silent ones.
mod connections {
    use std::net::{IpAddr, Ipv4Addr, SocketAddr};
    use std::time::{Duration, Instant};

    use reqwest::StatusCode;
    use serde_json::Value;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpSocket, TcpStream};

    use leads_server::connections::ConnectionLimits;
    use leads_server::ratelimit::Limits;
    use leads_server::testing::TestServer;

    /// A loopback address other than 127.0.0.1, for a client the server must tell apart.
    fn loopback(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
    }

    /// A connection to `server` from `from`.
    async fn connect(server: &TestServer, from: IpAddr) -> TcpStream {
        let address: SocketAddr = server.base_url()["http://".len()..].parse().unwrap();
        let socket = TcpSocket::new_v4().unwrap();
        socket.bind((from, 0).into()).unwrap();
        socket.connect(address).await.unwrap()
    }

    /// Everything `stream` sends until it closes, and how long that took.
    async fn until_closed(mut stream: TcpStream) -> (String, Duration) {
        let started = Instant::now();
        let mut received = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut received));
        read.await.expect("closed within 10 s").expect("read");
        (
            String::from_utf8_lossy(&received).into_owned(),
            started.elapsed(),
        )
    }

    fn limits(change: impl FnOnce(&mut ConnectionLimits)) -> ConnectionLimits {
        let mut limits = ConnectionLimits::default();
        change(&mut limits);
        limits
    }

    #[tokio::test]
    async fn a_connection_beyond_its_address_share_is_answered_503_in_the_envelope() {
        let server = TestServer::builder()
            .connections(limits(|l| l.max_per_address = Some(2)))
            .start()
            .await
            .unwrap();
        let held = [
            connect(&server, loopback(2)).await,
            connect(&server, loopback(2)).await,
        ];
        let (answer, _) = until_closed(connect(&server, loopback(2)).await).await;
        let (head, body) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
        assert!(head.starts_with("HTTP/1.1 503 "), "{head}");
        assert!(head.contains("\r\nretry-after: 1\r\n"), "{head}");
        let body: Value = serde_json::from_str(body).expect("a JSON body");
        assert_eq!(body["success"], false);
        assert_eq!(body["code"], "SERVICE_UNAVAILABLE", "{body}");
        assert!(
            body["error"].as_str().unwrap().contains("this address"),
            "{body}"
        );
        let request_id = body["requestId"].as_str().expect("a request id");
        assert!(
            head.contains(&format!("x-request-id: {request_id}")),
            "{head}"
        );

        let mut other = connect(&server, loopback(3)).await;
        other
            .write_all(b"GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .await
            .unwrap();
        let (answer, _) = until_closed(other).await;
        assert!(
            answer.starts_with("HTTP/1.1 200 "),
            "another address is let in: {answer}"
        );

        drop(held);
        let http = reqwest::Client::builder()
            .local_address(loopback(2))
            .build()
            .unwrap();
        let answer = http
            .get(format!("{}/health", server.base_url()))
            .send()
            .await
            .unwrap();
        assert_eq!(
            answer.status(),
            StatusCode::OK,
            "closed connections give their places back"
        );
    }

    #[tokio::test]
    async fn a_connection_without_a_request_is_closed_at_the_deadline_whatever_its_protocol() {
        let deadline = Duration::from_millis(500);
        let server = TestServer::builder()
            .connections(limits(|l| l.first_request_timeout = deadline))
            .start()
            .await
            .unwrap();
        let silent = connect(&server, loopback(1)).await;
        let mut preface = connect(&server, loopback(1)).await;
        preface
            .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            .await
            .unwrap();
        let mut partial = connect(&server, loopback(1)).await;
        partial
            .write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n")
            .await
            .unwrap();
        for (name, stream) in [
            ("silent", silent),
            ("preface", preface),
            ("partial head", partial),
        ] {
            let (received, after) = until_closed(stream).await;
            assert_eq!(received, "", "{name}: closed without an answer");
            assert!(after < deadline * 4, "{name}: closed after {after:?}");
        }
    }

    #[tokio::test]
    async fn each_client_address_has_its_own_budget_of_unfamiliar_keys() {
        let server = TestServer::builder()
            .rate_limits(Limits {
                unfamiliar_keys_per_address: 2,
                ..Limits::default()
            })
            .start()
            .await
            .unwrap();
        let unknown_key = |from: u8| {
            let http = reqwest::Client::builder()
                .local_address(loopback(from))
                .build()
                .unwrap();
            let url = format!("{}/v1/leads", server.base_url());
            async move {
                let key = format!("aura_pk_live_{}", uuid::Uuid::new_v4().simple());
                http.get(url)
                    .bearer_auth(key)
                    .send()
                    .await
                    .unwrap()
                    .status()
            }
        };
        for _ in 0..2 {
            assert_eq!(unknown_key(2).await, StatusCode::UNAUTHORIZED);
        }
        assert_eq!(
            unknown_key(2).await,
            StatusCode::TOO_MANY_REQUESTS,
            "127.0.0.2's budget is spent"
        );
        assert_eq!(
            unknown_key(3).await,
            StatusCode::UNAUTHORIZED,
            "127.0.0.3 is another client, though both reach dropshot from the front door"
        );
    }
}
