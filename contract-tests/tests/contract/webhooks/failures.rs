//! Deliveries that fail: retried on the schedule, a subscription disabled after repeated
//! failures, and the deliveries log's words for what went wrong.

use std::time::{Duration, Instant};

use leads_client::types::WebhookEventType;
use leads_contract_tests::{Env, Exchange};
use serde_json::Value;
use uuid::Uuid;

use super::receiver::{Receiver, loopback_env};
use super::{create_lead, deliveries, id_of, pin, subscribe};

/// A receiver answering `500` gets the first attempt and three retries, each at least its
/// scheduled delay after the one before (1, 5, 15 s, shrunk a hundredfold here); then the
/// delivery is `failed` in the log, with the last status and why.
pub(super) async fn a_failing_receiver_is_retried_on_schedule() {
    let env = loopback_env().await;
    let receiver = Receiver::start().await;
    let subscription = subscribe(&env, WebhookEventType::LeadCreated, &receiver.url("/fail")).await;
    let subscription = id_of(&subscription);
    assert_eq!(create_lead(&env, "retried").await.status, 201);

    receiver.wait_for(4).await;
    let log = wait_for_log(&env, subscription, |item| item["status"] != "pending").await;
    let arrivals = receiver.arrivals("/fail");
    assert_eq!(arrivals.len(), 4, "one attempt and three retries, no more");
    for (pair, scheduled) in arrivals.windows(2).zip([10, 50, 150]) {
        let gap = pair[1] - pair[0];
        assert!(
            gap >= Duration::from_millis(scheduled),
            "a retry came {gap:?} after the attempt before, sooner than {scheduled} ms"
        );
    }
    let item = &log.data()[0];
    assert_eq!(item["status"], "failed");
    assert_eq!(item["attempt_count"], 4);
    assert_eq!(item["status_code"], 500);
    assert_eq!(item["next_attempt_at"], Value::Null);
    pin("webhook_delivery_list_failed", &log);
    // The alias of Aura's path answers the same, now that nothing moves any more.
    let alias = env
        .observe(
            "webhook_delivery_list",
            env.a
                .client
                .webhook_delivery_list()
                .subscription_id(subscription)
                .send()
                .await,
        )
        .await;
    assert_eq!(alias.status, log.status);
    assert_eq!(alias.snapshot()["body"], log.snapshot()["body"]);
}

/// The deliveries log of `subscription` once its first item satisfies `done` (within 10 s).
pub(super) async fn wait_for_log(
    env: &Env,
    subscription: Uuid,
    done: impl Fn(&Value) -> bool,
) -> Exchange {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = deliveries(env, Some(subscription)).await;
        if log
            .data()
            .as_array()
            .and_then(|items| items.first())
            .is_some_and(&done)
        {
            return log;
        }
        assert!(
            Instant::now() < deadline,
            "the delivery never settled: {log:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Ten deliveries that each fail every attempt disable the subscription (`disabled_at`), and
/// a disabled subscription is sent nothing more: the eleventh lead has no delivery.
pub(super) async fn repeated_failures_disable_a_subscription() {
    let env = loopback_env().await;
    let receiver = Receiver::start().await;
    let (_, view) = disable_by_failures(&env, &receiver, "/fail").await;
    let subscription = id_of(&view);
    pin("webhook_view_disabled", &view);
    assert_eq!(create_lead(&env, "ignored").await.status, 201);
    let log = deliveries(&env, Some(subscription)).await;
    let items = log.data().as_array().expect("a list");
    assert_eq!(
        items.len(),
        10,
        "nothing queued for a disabled subscription"
    );
    assert!(items.iter().all(|item| item["status"] == "failed"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.arrivals("/fail").len(), 40);
}

/// Subscribes `receiver`'s `path`, which must answer `500` to the 40 attempts of 10 leads'
/// deliveries, and waits until those failures disabled the subscription: its creation's
/// answer, and its view once disabled.
pub(super) async fn disable_by_failures(
    env: &Env,
    receiver: &Receiver,
    path: &str,
) -> (Exchange, Exchange) {
    let created = subscribe(env, WebhookEventType::LeadCreated, &receiver.url(path)).await;
    let subscription = id_of(&created);
    for n in 0..10 {
        assert_eq!(create_lead(env, &format!("doomed{n}")).await.status, 201);
    }
    receiver.wait_for(40).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let view = loop {
        let view = env
            .observe(
                "webhook_view",
                env.a.client.webhook_view().id(subscription).send().await,
            )
            .await;
        if view.data()["disabled_at"].is_string() {
            break view;
        }
        assert!(Instant::now() < deadline, "never disabled: {view:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    (created, view)
}

/// Deliveries that fail for a closed port and for a receiver without TLS say so in the log's
/// words ("connection refused", "TLS handshake failed"), never with what the server's
/// libraries said (addresses, ports, certificate names).
pub(super) async fn the_deliveries_log_says_what_failed_and_nothing_more() {
    let env = loopback_env().await;
    let receiver = Receiver::start().await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        listener.local_addr().expect("its address").port()
    };
    let plain = receiver.server.address().port();
    let mut subscriptions = Vec::new();
    for (label, target) in [
        ("refused", format!("http://127.0.0.1:{closed}/refused")),
        ("tls", format!("https://127.0.0.1:{plain}/tls")),
    ] {
        let created = subscribe(&env, WebhookEventType::LeadCreated, &target).await;
        assert_eq!(created.status, 201, "{created:?}");
        subscriptions.push((label, id_of(&created)));
    }
    assert_eq!(create_lead(&env, "unreachable").await.status, 201);
    for (label, subscription) in subscriptions {
        let log = wait_for_log(&env, subscription, |item| item["status"] == "failed").await;
        let item = &log.data()[0];
        let expected = match label {
            "refused" => "connection refused",
            _ => "TLS handshake failed",
        };
        assert_eq!(item["error_message"], expected, "{label}: {item}");
        assert_eq!(item["status_code"], Value::Null);
        pin(&format!("webhook_delivery_list_{label}"), &log);
    }
}
