//! Fair delivery: an organization whose receivers hang holds only its own share of the
//! delivery worker, so another organization's events still arrive at once.

use std::time::{Duration, Instant};

use leads_client::types::WebhookEventType;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::receiver::{Receiver, loopback_env};
use super::{create_lead_as, subscribe_as};

/// How long organization A's receivers take to answer: long enough that, were A's deliveries
/// to take every slot of the worker, B's would wait whole multiples of it; shorter than the
/// 10 s a receiver has, so that no attempt of A's fails and is retried meanwhile.
const HANG: Duration = Duration::from_secs(3);

/// Organization A has 5 subscriptions to receivers that answer after [`HANG`], and 8 leads
/// created: 40 deliveries, more than the worker sends at once. Once A's receivers hold
/// requests, B creates a lead: its one delivery arrives within a second of the create's
/// answer (the contract), while A's still hang.
pub(super) async fn a_hanging_organization_delays_no_other() {
    let env = loopback_env().await;
    let hanging = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(HANG))
        .mount(&hanging)
        .await;
    let receiver = Receiver::start().await;
    let b = subscribe_as(
        &env,
        &env.b,
        WebhookEventType::LeadCreated,
        &receiver.url("/b"),
    )
    .await;
    assert_eq!(b.status, 201, "{b:?}");
    for n in 0..5 {
        let target = format!("{}/hang{n}", hanging.uri());
        let a = subscribe_as(&env, &env.a, WebhookEventType::LeadCreated, &target).await;
        assert_eq!(a.status, 201, "{a:?}");
    }
    for n in 0..8 {
        let lead = create_lead_as(&env, &env.a, &format!("hung{n}")).await;
        assert_eq!(lead.status, 201);
    }
    wait_for_requests(&hanging, 8).await;

    let lead = create_lead_as(&env, &env.b, "prompt").await;
    assert_eq!(lead.status, 201);
    let answered = Instant::now();
    receiver.wait_for(1).await;
    let waited = receiver.arrivals("/b")[0].saturating_duration_since(answered);
    assert!(
        waited < Duration::from_secs(1),
        "B's delivery arrived {waited:?} after its lead was created"
    );
    // Else A's backlog was gone before B wrote, and nothing was tested.
    let sent = hanging.received_requests().await.unwrap_or_default().len();
    assert!(sent < 40, "all of A's deliveries had gone out: {sent}");
}

/// Waits (10 s at most) until `server` has received `count` requests.
async fn wait_for_requests(server: &MockServer, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.received_requests().await.unwrap_or_default().len() < count {
        assert!(
            Instant::now() < deadline,
            "fewer than {count} requests arrived"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
