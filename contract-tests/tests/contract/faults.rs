//! Answers that need control of the server, so only in-process: rate limits and internal
//! failures, on every operation.

use std::time::{Duration, Instant};

use leads_contract_tests::operations::every_operation;
use leads_contract_tests::{Env, Exchange};
use leads_server::ratelimit::Limits;
use leads_server::testing::TestServer;
use libtest_mimic::Trial;

use crate::{in_process_scenario, pin};

pub fn trials() -> Vec<Trial> {
    vec![
        in_process_scenario("faults::rate_limited", rate_limited),
        in_process_scenario("faults::internal_errors", internal_errors),
        in_process_scenario("faults::overloaded", overloaded),
        in_process_scenario("faults::panics", panics),
        in_process_scenario("faults::slow_body_is_cut_off", slow_body_is_cut_off),
    ]
}

/// A server whose in-flight cap is reached answers `503` at once, in the envelope; health,
/// which has no cap, still answers.
async fn overloaded() {
    let env = Env::start_built(TestServer::builder().max_in_flight(0)).await;
    for answer in every_operation(&env, &env.a.client).await {
        assert_eq!(answer.status, 503, "{answer:?}");
        assert_eq!(header(&answer, "retry-after"), "1");
        pin!(format!("service_unavailable_{}", answer.operation), answer);
    }
    let health = env
        .observe("health_view", env.a.client.health_view().send().await)
        .await;
    assert_eq!(health.status, 200);
}

async fn rate_limited() {
    let env = Env::start_with(Limits {
        per_key: 1,
        per_organization: 1000,
        ..Limits::default()
    })
    .await;
    let first = env
        .observe("health_view", env.a.client.health_view().send().await)
        .await;
    assert_eq!(first.status, 200, "health is not rate limited");
    let allowed = env
        .observe("lead_list", env.a.client.lead_list().send().await)
        .await;
    assert_eq!(allowed.status, 200);
    assert_eq!(allowed.headers["x-ratelimit-remaining"], "0");
    for answer in every_operation(&env, &env.a.client).await {
        assert_eq!(answer.status, 429, "{answer:?}");
        let retry_after: u64 = header(&answer, "retry-after").parse().expect("seconds");
        assert!((1..=60).contains(&retry_after), "{retry_after}");
        assert_eq!(
            header(&answer, "x-ratelimit-limit"),
            "1",
            "the limit that refused"
        );
        assert_eq!(header(&answer, "x-ratelimit-remaining"), "0");
        pin!(format!("rate_limited_{}", answer.operation), answer);
    }
    // Organization B has its own key and budget.
    let other = env
        .observe("lead_list", env.b.client.lead_list().send().await)
        .await;
    assert_eq!(other.status, 200);
}

async fn internal_errors() {
    let env = Env::start().await;
    env.server()
        .expect("an in-process server")
        .fail_storage(true);
    let health = env
        .observe("health_view", env.a.client.health_view().send().await)
        .await;
    assert_eq!(health.status, 500);
    pin!("internal_error_health_view", health);
    for answer in every_operation(&env, &env.a.client).await {
        assert_eq!(answer.status, 500, "{answer:?}");
        assert_eq!(
            answer.body["error"], "Internal server error",
            "no detail is disclosed"
        );
        pin!(format!("internal_error_{}", answer.operation), answer);
    }
}

/// Raw TCP (no HTTP client sends half a body): a body that stops arriving is cut off at the
/// read timeout with a `400` in the envelope, and the server serves others meanwhile.
async fn slow_body_is_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let timeout = Duration::from_millis(500);
    let env = Env::start_built(TestServer::builder().body_read_timeout(timeout)).await;
    let address = env.base_url().trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&address)
        .await
        .expect("connects");
    let head = format!(
        "POST /v1/leads HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"email\":",
        env.a.key
    );
    let started = Instant::now();
    stream.write_all(head.as_bytes()).await.expect("writes");
    let other = env
        .observe("lead_list", env.a.client.lead_list().send().await)
        .await;
    assert_eq!(other.status, 200, "others are served meanwhile");
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    let elapsed = started.elapsed();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(
        answer.contains("did not arrive within 0.5 seconds"),
        "{answer}"
    );
    assert!(
        elapsed >= timeout && elapsed < timeout * 8,
        "cut off after {elapsed:?}"
    );
}

/// A panic in a handler (injected in storage, so every operation hits it) answers `500` in
/// the envelope, and the server keeps serving once the fault is gone.
async fn panics() {
    let env = Env::start().await;
    let server = env.server().expect("an in-process server");
    server.panic_in_storage(true);
    let health = env
        .observe("health_view", env.a.client.health_view().send().await)
        .await;
    assert_eq!(health.status, 500);
    for answer in every_operation(&env, &env.a.client).await {
        assert_eq!(answer.status, 500, "{answer:?}");
        assert_eq!(answer.body["code"], "INTERNAL_ERROR", "the envelope");
    }
    server.panic_in_storage(false);
    let after = env
        .observe("lead_list", env.a.client.lead_list().send().await)
        .await;
    assert_eq!(after.status, 200, "the server still serves");
}

/// The value of `name` in `answer`, which must carry it.
fn header<'a>(answer: &'a Exchange, name: &str) -> &'a str {
    answer
        .headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_else(|| panic!("no `{name}` in {answer:?}"))
}
