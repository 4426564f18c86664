//! What an operator sees of a known mix of requests, on the real binary: the metrics on their
//! own listener count exactly what was done, the outbox gauge comes back to zero, the JSON log
//! parses line by line and holds no key, secret or email, and a request's W3C trace context
//! reaches the webhook deliveries it caused.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{create_keys, http_client, leads_server};

/// The caller's trace, as a client's tracing library would send it.
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// Requests a minute the key may make: exactly the mix below, so that one more is `429`.
const PER_KEY: usize = 8;

/// A server process, its stderr (the log) kept in a file; killed when dropped.
struct Observed {
    child: Child,
    api: String,
    metrics: String,
    log: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Observed {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(key_org: &str) -> (Observed, String) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let database = dir.path().join("leads.db").into_os_string();
    let key = create_keys(&database, &[key_org]).remove(0);
    let log = dir.path().join("server.log");
    let mut child = leads_server(&database)
        .args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--metrics-bind",
            "127.0.0.1:0",
        ])
        .args(["--log-format", "json", "--log-level", "info"])
        .args(["--rate-limit-per-key", &PER_KEY.to_string()])
        .arg("--webhooks-allow-insecure-targets")
        .arg("--database")
        .arg(&database)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).expect("the log file"))
        .spawn()
        .expect("the server starts");
    let stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut lines = stdout.lines();
    let mut address_after = |marker: &str| {
        let line = lines.next().expect("a line").expect("the server's output");
        assert!(line.contains(marker), "{line}");
        line.split("http://")
            .nth(1)
            .and_then(|rest| rest.split(['/', ' ']).next())
            .expect("an address")
            .to_string()
    };
    let api = address_after("serving");
    let metrics = address_after("metrics at");
    let observed = Observed {
        child,
        api: format!("http://{api}"),
        metrics: format!("http://{metrics}/metrics"),
        log,
        _dir: dir,
    };
    (observed, key)
}

/// The samples of an OpenMetrics text: each series (its name and labels, sorted) and value.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (name, labels) = match series.split_once('{') {
                Some((name, labels)) => {
                    let mut labels: Vec<&str> = labels.trim_end_matches('}').split(',').collect();
                    labels.sort_unstable();
                    (name, labels.join(","))
                }
                None => (series, String::new()),
            };
            Some((format!("{name}{{{labels}}}"), value.parse().ok()?))
        })
        .collect()
}

async fn scrape(http: &reqwest::Client, url: &str) -> BTreeMap<String, f64> {
    let answer = http.get(url).send().await.expect("the metrics answer");
    assert_eq!(answer.status(), 200);
    assert!(
        answer.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text"),
        "{:?}",
        answer.headers()
    );
    samples(&answer.text().await.expect("the metrics"))
}

fn requests(operation: &str, status: &str) -> String {
    format!(
        "leads_http_requests_total{{api_version=\"5.1.0\",operation=\"{operation}\",status=\"{status}\"}}"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metrics_count_what_was_done_and_the_log_tells_it_without_secrets() {
    let (server, key) = start("operators");
    let http = http_client(Duration::from_secs(10));
    // The receiver fails the first delivery once, then takes every one.
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&receiver)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .with_priority(2)
        .mount(&receiver)
        .await;

    // The mix: a subscription, 3 creates, 2 views, a 404, a list: `PER_KEY` requests.
    let subscribed: Value = http
        .post(format!("{}/v1/webhooks", server.api))
        .bearer_auth(&key)
        .json(&json!({"event_type": "lead.created", "target_url": format!("{}/hook", receiver.uri())}))
        .send()
        .await
        .expect("subscribed")
        .json()
        .await
        .expect("the subscription");
    let secret = subscribed["data"]["secret"]
        .as_str()
        .expect("its secret")
        .to_string();
    let emails: Vec<String> = (0..3)
        .map(|n| format!("ops{n}@example.com"))
        .chain(["ops-limited@example.com".to_string()])
        .collect();
    let mut ids = Vec::new();
    for email in &emails[..3] {
        let created = http
            .post(format!("{}/v1/leads", server.api))
            .bearer_auth(&key)
            .header("traceparent", TRACEPARENT)
            .json(&json!({"email": email}))
            .send()
            .await
            .expect("created");
        assert_eq!(created.status(), 201);
        let lead: Value = created.json().await.expect("the lead");
        ids.push(lead["data"]["id"].as_str().expect("an id").to_string());
    }
    for id in &ids[..2] {
        let viewed = http
            .get(format!("{}/v1/leads/{id}", server.api))
            .bearer_auth(&key)
            .send()
            .await
            .expect("viewed");
        assert_eq!(viewed.status(), 200);
    }
    let missing = http
        .get(format!(
            "{}/v1/leads/0190f000-0000-7000-8000-000000000000",
            server.api
        ))
        .bearer_auth(&key)
        .send()
        .await
        .expect("answered");
    assert_eq!(missing.status(), 404);
    let listed = http
        .get(format!("{}/v1/leads", server.api))
        .bearer_auth(&key)
        .send()
        .await
        .expect("listed");
    assert_eq!(listed.status(), 200);
    // Refused before its body is read: its log line still names the key's organization.
    let limited = http
        .post(format!("{}/v1/leads", server.api))
        .bearer_auth(&key)
        .json(&json!({"email": "ops-limited@example.com"}))
        .send()
        .await
        .expect("answered");
    assert_eq!(
        limited.status(),
        429,
        "the key's {PER_KEY} a minute are spent"
    );

    // The public port has no metrics; the metrics' own port needs no key.
    let public = http
        .get(format!("{}/metrics", server.api))
        .send()
        .await
        .expect("answered");
    assert_eq!(public.status(), 404);

    // The three events delivered, the first after one failure (retried a second later).
    let deadline = Instant::now() + Duration::from_secs(20);
    let metrics = loop {
        let metrics = scrape(&http, &server.metrics).await;
        let delivered = metrics
            .get("leads_webhook_attempts_total{outcome=\"delivered\"}")
            .copied();
        let pending = metrics.get("leads_webhook_deliveries_pending{}").copied();
        if delivered == Some(3.0) && pending == Some(0.0) {
            break metrics;
        }
        assert!(
            Instant::now() < deadline,
            "the deliveries were not all made: {metrics:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let expected = [
        (requests("webhook_create", "2xx"), 1.0),
        (requests("lead_create", "2xx"), 3.0),
        (requests("lead_view", "2xx"), 2.0),
        (requests("lead_view", "4xx"), 1.0),
        (requests("lead_list", "2xx"), 1.0),
        (requests("lead_create", "4xx"), 1.0),
        (
            "leads_http_request_duration_seconds_count{operation=\"lead_create\"}".to_string(),
            4.0,
        ),
        ("leads_http_requests_in_flight{}".to_string(), 0.0),
        (
            "leads_refusals_total{cause=\"rate_limit\"}".to_string(),
            1.0,
        ),
        (
            "leads_webhook_attempts_total{outcome=\"delivered\"}".to_string(),
            3.0,
        ),
        (
            "leads_webhook_attempts_total{outcome=\"retrying\"}".to_string(),
            1.0,
        ),
        (
            "leads_webhook_attempt_duration_seconds_count{}".to_string(),
            4.0,
        ),
        ("leads_webhook_deliveries_pending{}".to_string(), 0.0),
        (
            "leads_webhook_oldest_pending_age_seconds{}".to_string(),
            0.0,
        ),
        ("leads_webhook_subscriptions_disabled{}".to_string(), 0.0),
        ("leads_sqlite_writer_queue{}".to_string(), 0.0),
    ];
    for (series, value) in expected {
        assert_eq!(
            metrics.get(&series),
            Some(&value),
            "{series} in {metrics:#?}"
        );
    }
    let counted: f64 = metrics
        .iter()
        .filter(|(series, _)| series.starts_with("leads_http_requests_total{"))
        .map(|(_, value)| value)
        .sum();
    assert_eq!(
        counted,
        (PER_KEY + 1) as f64,
        "no request counted twice or missed"
    );
    assert!(
        !metrics.contains_key("leads_webhook_attempts_total{outcome=\"failed\"}"),
        "{metrics:#?}"
    );

    // Each delivery carries the trace of the request that caused it, as a child span.
    let received = receiver.received_requests().await.expect("recorded");
    assert_eq!(received.len(), 4);
    for request in &received {
        let traceparent = request.headers["traceparent"].to_str().unwrap();
        let fields: Vec<&str> = traceparent.split('-').collect();
        assert_eq!(fields.len(), 4, "{traceparent}");
        assert_eq!((fields[0], fields[1], fields[3]), ("00", TRACE_ID, "01"));
        assert_ne!(traceparent, TRACEPARENT, "a span of the server's own");
    }

    // The log: one JSON object a line; every request served named with its organization,
    // status and latency; nothing secret.
    // (Written by a thread of its own: the last lines may lag the answers by a moment.)
    let deadline = Instant::now() + Duration::from_secs(5);
    let log = loop {
        let log = std::fs::read_to_string(&server.log).expect("the log");
        if log.matches("\"request served\"").count() == PER_KEY + 1 || Instant::now() > deadline {
            break log;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut served = 0;
    for line in log.lines() {
        let record: Value =
            serde_json::from_str(line).unwrap_or_else(|error| panic!("not JSON ({error}): {line}"));
        for forbidden in [key.as_str(), secret.as_str()]
            .into_iter()
            .chain(emails.iter().map(String::as_str))
        {
            assert!(!line.contains(forbidden), "a secret or an email in: {line}");
        }
        if record["msg"] == "request served" {
            served += 1;
            for field in [
                "req_id",
                "operation",
                "api_version",
                "response_code",
                "latency_us",
            ] {
                assert!(!record[field].is_null(), "{field} in {line}");
            }
            assert!(record["organization_id"].is_string(), "{line}");
            if record["operation"] == "lead_create" && record["response_code"] == 201 {
                assert_eq!(record["traceparent"], TRACEPARENT, "{line}");
            }
        }
    }
    assert_eq!(served, PER_KEY + 1, "{log}");
}

/// Each cause of a refusal is counted under its own name: a request over `--max-in-flight`
/// (`overload`), a body that does not arrive in time (`body_timeout`), a connection that sends
/// nothing (`first_request_timeout`) and one over its address's cap (`address_connection_cap`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_refusal_is_counted_by_its_cause() {
    use leads_server::connections::ConnectionLimits;
    use leads_server::testing::TestServer;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    // No place in flight: 503.
    let full = TestServer::builder()
        .metrics()
        .max_in_flight(0)
        .start()
        .await
        .expect("a server");
    let http = http_client(Duration::from_secs(10));
    let busy = http
        .get(format!("{}/v1/leads", full.base_url()))
        .bearer_auth(full.api_key())
        .send()
        .await
        .expect("answered");
    assert_eq!(busy.status(), 503);
    let metrics = scrape(&http, &full.metrics_url().expect("metrics served")).await;
    assert_eq!(
        metrics.get("leads_refusals_total{cause=\"overload\"}"),
        Some(&1.0),
        "{metrics:#?}"
    );

    let server = TestServer::builder()
        .metrics()
        .body_read_timeout(Duration::from_millis(300))
        .connections(ConnectionLimits {
            max_per_address: Some(2),
            first_request_timeout: Duration::from_millis(300),
            ..ConnectionLimits::default()
        })
        .start()
        .await
        .expect("a server");
    let metrics_url = server.metrics_url().expect("metrics served");
    let address = server.base_url().trim_start_matches("http://").to_string();

    // First, on a fresh server: two silent connections hold the address's two places: the third is refused at once,
    // and the two are closed when their first request does not come.
    let silent = [
        TcpStream::connect(&address).await.expect("connected"),
        TcpStream::connect(&address).await.expect("connected"),
    ];
    let mut third = TcpStream::connect(&address).await.expect("connected");
    let mut refused = Vec::new();
    let _ = third.read_to_end(&mut refused).await;
    assert!(
        refused.starts_with(b"HTTP/1.1 503"),
        "{}",
        String::from_utf8_lossy(&refused)
    );
    for mut connection in silent {
        let mut rest = Vec::new();
        let _ = connection.read_to_end(&mut rest).await;
        assert!(
            rest.is_empty(),
            "closed without an answer: {}",
            String::from_utf8_lossy(&rest)
        );
    }

    // Then a body announced and never sent (one place is free again by now).
    let mut slow = TcpStream::connect(&address).await.expect("connected");
    let head = format!(
        "POST /v1/leads HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{",
        server.api_key()
    );
    slow.write_all(head.as_bytes()).await.expect("sent");
    let mut answer = Vec::new();
    let _ = slow.read_to_end(&mut answer).await;
    assert!(
        answer.starts_with(b"HTTP/1.1 400"),
        "{}",
        String::from_utf8_lossy(&answer)
    );

    let metrics = scrape(&http, &metrics_url).await;
    for (cause, count) in [
        ("body_timeout", 1.0),
        ("address_connection_cap", 1.0),
        ("first_request_timeout", 2.0),
    ] {
        let series = format!("leads_refusals_total{{cause=\"{cause}\"}}");
        assert_eq!(
            metrics.get(&series),
            Some(&count),
            "{series} in {metrics:#?}"
        );
    }
}
