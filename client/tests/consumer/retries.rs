//! The client's retries as `RetryPolicy` documents them, against a scripted server
//! (`wiremock`): what is retried and what is not, how many attempts, the waits the server asks
//! for, and the `Idempotency-Key` of `lead_create`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use leads_client::{BuildError, Client, RetryPolicy, types};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const LEAD_ID: &str = "0b7e5a52-3f55-4a8e-9d0e-6c1f3c7b2a10";

/// A policy of 2 retries with millisecond waits, so that the tests are fast.
fn fast() -> RetryPolicy {
    RetryPolicy::default()
        .with_max_retries(2)
        .with_base_delay(Duration::from_millis(1))
        .with_max_delay(Duration::from_millis(20))
}

fn client(server: &MockServer, policy: RetryPolicy) -> Client {
    Client::with_api_key(&server.uri(), "aura_pk_test")
        .expect("a client")
        .with_retry_policy(policy)
}

/// A lead as the server answers it, with `status`.
fn lead_response(status: u16) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(lead_body())
}

/// The body of an answer with a lead.
pub(crate) fn lead_body() -> serde_json::Value {
    json!({
        "success": true,
        "data": {
            "id": LEAD_ID,
            "email": "john@example.com",
            "full_name": null,
            "phone": null,
            "company": null,
            "timezone": null,
            "status": "new",
            "source": {
                "utm_source": null,
                "utm_medium": null,
                "utm_campaign": null,
                "utm_term": null,
                "utm_content": null,
                "referrer": null
            },
            "metadata": null,
            "notes": null,
            "assigned_to_id": null,
            "disqualification_data": null,
            "payment_count": 0,
            "payment_status": null,
            "total_paid_cents": 0,
            "last_payment_at": null,
            "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z"
        }
    })
}

/// An error answer as the server gives it, with `status` and no header.
fn error_response(status: u16) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(error_body("VALIDATION_ERROR"))
}

/// The body of an error answer with `code`.
pub(crate) fn error_body(code: &str) -> serde_json::Value {
    json!({
        "success": false,
        "error": "scripted",
        "code": code,
        "requestId": "req_1"
    })
}

/// Answers `first` to the first `times` requests to `method path`, then `then`.
async fn script(
    server: &MockServer,
    (verb, route): (&str, &str),
    first: ResponseTemplate,
    times: u64,
    then: ResponseTemplate,
) {
    Mock::given(method(verb))
        .and(path(route))
        .respond_with(first)
        .up_to_n_times(times)
        .mount(server)
        .await;
    Mock::given(method(verb))
        .and(path(route))
        .respond_with(then)
        .mount(server)
        .await;
}

const CREATE: (&str, &str) = ("POST", "/v1/leads");

async fn requests(server: &MockServer) -> Vec<Request> {
    server
        .received_requests()
        .await
        .expect("the server records requests")
}

async fn create(client: &Client) -> Result<(), leads_client::Error<types::ErrorResponse>> {
    client
        .lead_create()
        .body(types::LeadCreate::builder().email("john@example.com"))
        .send()
        .await
        .map(drop)
}

fn idempotency_key(request: &Request) -> &str {
    request
        .headers
        .get("idempotency-key")
        .expect("an Idempotency-Key")
        .to_str()
        .expect("a textual key")
}

#[test]
fn a_client_retries_as_the_default_policy_until_given_another() -> Result<(), BuildError> {
    let base_url = "http://127.0.0.1:8080";
    let api_key = "aura_pk_test";
    let default = Client::with_api_key(base_url, api_key)?;
    assert_eq!(default.retry_policy(), &RetryPolicy::default());
    assert_eq!(default.retry_policy().max_retries(), 3);
    assert_eq!(
        default.retry_policy().base_delay(),
        Duration::from_millis(100)
    );
    assert_eq!(default.retry_policy().max_delay(), Duration::from_secs(5));

    let client = Client::with_api_key(base_url, api_key)?.with_retry_policy(
        RetryPolicy::default()
            .with_max_retries(5)
            .with_base_delay(Duration::from_millis(250))
            .with_max_delay(Duration::from_secs(30)),
    );
    // Or no retries at all: every request is sent once.
    let once = Client::with_api_key(base_url, api_key)?.with_retry_policy(RetryPolicy::none());

    assert_eq!(client.retry_policy().max_retries(), 5);
    assert_eq!(
        client.retry_policy().base_delay(),
        Duration::from_millis(250)
    );
    assert_eq!(client.retry_policy().max_delay(), Duration::from_secs(30));
    assert_eq!(once.retry_policy().max_retries(), 0);
    Ok(())
}

#[tokio::test]
async fn a_429_is_retried_after_the_wait_its_retry_after_asks_for() {
    let server = MockServer::start().await;
    let too_many = error_response(429).insert_header("Retry-After", "1");
    script(&server, CREATE, too_many, 1, lead_response(201)).await;
    let policy = fast().with_max_delay(Duration::from_secs(2));

    let started = Instant::now();
    create(&client(&server, policy)).await.expect("created");

    assert_eq!(requests(&server).await.len(), 2);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "retried after {:?}, before the second it was asked to wait",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_429_asking_for_longer_than_the_longest_wait_is_returned_at_once() {
    let server = MockServer::start().await;
    let too_many = error_response(429).insert_header("Retry-After", "60");
    script(&server, CREATE, too_many, 1, lead_response(201)).await;

    let error = create(&client(&server, fast())).await.expect_err("a 429");

    assert_eq!(error.status(), Some(reqwest::StatusCode::TOO_MANY_REQUESTS));
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test]
async fn a_503_twice_then_an_answer_is_one_success() {
    let server = MockServer::start().await;
    let view = ("GET", "/v1/leads/0b7e5a52-3f55-4a8e-9d0e-6c1f3c7b2a10");
    script(&server, view, error_response(503), 2, lead_response(200)).await;

    let lead = client(&server, fast())
        .lead_view()
        .id(LEAD_ID.parse::<uuid::Uuid>().expect("a UUID"))
        .send()
        .await
        .expect("the lead");

    assert_eq!(lead.data.id.to_string(), LEAD_ID);
    assert_eq!(requests(&server).await.len(), 3);
}

#[tokio::test]
async fn attempts_are_bounded_by_the_policy() {
    let server = MockServer::start().await;
    let unavailable = error_response(503);
    script(&server, CREATE, unavailable.clone(), 1, unavailable).await;

    let error = create(&client(&server, fast())).await.expect_err("a 503");

    assert_eq!(
        error.status(),
        Some(reqwest::StatusCode::SERVICE_UNAVAILABLE)
    );
    assert_eq!(requests(&server).await.len(), 3, "1 attempt and 2 retries");
}

#[tokio::test]
async fn no_retries_sends_each_request_once() {
    let server = MockServer::start().await;
    script(&server, CREATE, error_response(503), 1, lead_response(201)).await;

    let error = create(&client(&server, RetryPolicy::none()))
        .await
        .expect_err("a 503");

    assert_eq!(
        error.status(),
        Some(reqwest::StatusCode::SERVICE_UNAVAILABLE)
    );
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test]
async fn other_errors_are_returned_at_once() {
    for status in [400, 404, 409, 500] {
        let server = MockServer::start().await;
        script(
            &server,
            CREATE,
            error_response(status),
            1,
            lead_response(201),
        )
        .await;

        let error = create(&client(&server, fast()))
            .await
            .expect_err("an error");

        assert_eq!(error.status().map(|s| s.as_u16()), Some(status));
        assert_eq!(requests(&server).await.len(), 1, "status {status}");
    }
}

#[tokio::test]
async fn every_attempt_of_a_create_carries_its_one_idempotency_key() {
    let server = MockServer::start().await;
    script(&server, CREATE, error_response(503), 2, lead_response(201)).await;
    let client = client(&server, fast());

    create(&client).await.expect("created after two retries");
    create(&client).await.expect("created");

    let requests = requests(&server).await;
    assert_eq!(requests.len(), 4);
    let keys: Vec<&str> = requests.iter().map(idempotency_key).collect();
    assert_eq!(keys[0], keys[1]);
    assert_eq!(keys[0], keys[2]);
    assert_ne!(keys[0], keys[3], "each create has a key of its own");
    for key in keys {
        let key: uuid::Uuid = key.parse().expect("a UUID");
        assert_eq!(key.get_version(), Some(uuid::Version::Random));
    }
}

#[tokio::test]
async fn an_idempotency_key_the_request_has_is_sent_unchanged() {
    let server = MockServer::start().await;
    script(&server, CREATE, error_response(503), 1, lead_response(201)).await;
    client(&server, fast())
        .lead_create()
        .idempotency_key("caller-key-1")
        .body(types::LeadCreate::builder().email("john@example.com"))
        .send()
        .await
        .expect("created after one retry");

    let requests = requests(&server).await;
    assert_eq!(requests.len(), 2);
    for request in &requests {
        assert_eq!(idempotency_key(request), "caller-key-1");
    }
}

#[tokio::test]
async fn only_lead_create_gets_an_idempotency_key() {
    let server = MockServer::start().await;
    Mock::given(method("PATCH"))
        .respond_with(lead_response(200))
        .mount(&server)
        .await;

    client(&server, fast())
        .lead_update()
        .id(LEAD_ID.parse::<uuid::Uuid>().expect("a UUID"))
        .body(types::LeadUpdate::builder())
        .send()
        .await
        .expect("updated");

    let requests = requests(&server).await;
    assert_eq!(requests.len(), 1);
    assert!(!requests[0].headers.contains_key("idempotency-key"));
}

/// Resolves every name to one address, counting the lookups: a client looks its host up for
/// each connection it tries to open, so this counts connection attempts.
struct CountingResolver {
    addr: SocketAddr,
    lookups: AtomicU32,
}

impl Resolve for CountingResolver {
    fn resolve(&self, _name: Name) -> Resolving {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        let addrs: Addrs = Box::new(std::iter::once(self.addr));
        Box::pin(std::future::ready(Ok(addrs)))
    }
}

#[tokio::test]
async fn a_refused_connection_is_retried_then_fails() {
    // A port that was just free, where nothing listens now.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let addr = listener.local_addr().expect("its address");
    drop(listener);
    let resolver = Arc::new(CountingResolver {
        addr,
        lookups: AtomicU32::new(0),
    });
    let http = reqwest::Client::builder()
        .dns_resolver(resolver.clone())
        .build()
        .expect("an HTTP client");
    let client = Client::new_with_client("http://leads.test", http).with_retry_policy(fast());

    let error = create(&client).await.expect_err("no server");

    match error {
        leads_client::Error::CommunicationError(error) => assert!(error.is_connect(), "{error}"),
        other => panic!("expected a connection error, got {other:?}"),
    }
    assert_eq!(
        resolver.lookups.load(Ordering::SeqCst),
        3,
        "1 attempt, 2 retries"
    );
}

#[tokio::test]
async fn a_connection_dropped_before_the_answer_is_retried() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let addr = listener.local_addr().expect("its address");
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(lead_response(201))
        .mount(&server)
        .await;
    let upstream = server.address().to_owned();
    // The first connection is closed as soon as the request is read; the others are passed
    // on to the scripted server.
    tokio::spawn(async move {
        let mut first = true;
        while let Ok((mut socket, _)) = listener.accept().await {
            if std::mem::take(&mut first) {
                let mut buffer = [0; 4096];
                let _ = tokio::io::AsyncReadExt::read(&mut socket, &mut buffer).await;
                continue;
            }
            tokio::spawn(async move {
                if let Ok(mut upstream) = tokio::net::TcpStream::connect(upstream).await {
                    let _ = tokio::io::copy_bidirectional(&mut socket, &mut upstream).await;
                }
            });
        }
    });
    let client = Client::with_api_key(&format!("http://{addr}"), "aura_pk_test")
        .expect("a client")
        .with_retry_policy(fast());

    create(&client)
        .await
        .expect("created on the second connection");

    assert_eq!(requests(&server).await.len(), 1);
}
