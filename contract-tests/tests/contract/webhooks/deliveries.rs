//! Deliveries that arrive: each event once, signed with its subscription's secret and in
//! the spec's shape, and no event for a write the API refused.

use std::time::Duration;

use leads_client::types::{WebhookEvent, WebhookEventType};
use leads_contract_tests::Exchange;
use reqwest::Method;
use serde_json::{Value, json};

use super::receiver::{Receiver, loopback_env};
use super::{create_lead, deliveries, id_of, pin_event, subscribe, update_lead};

/// The secret of each subscription, by the path of its target.
fn secret_of(created: &Exchange) -> String {
    created.data()["secret"]
        .as_str()
        .expect("a secret")
        .to_string()
}

/// One subscription per event; a create, a status change and another change. Each event
/// arrives once at its subscriber, signed with its secret (both signatures), with a body the
/// spec's `WebhookEvent` describes whose `data` is the lead as the API answered it.
pub(super) async fn each_event_arrives_signed() {
    let env = loopback_env().await;
    let receiver = Receiver::start().await;
    let mut secrets = Vec::new();
    for (event, path) in [
        (WebhookEventType::LeadCreated, "/created"),
        (WebhookEventType::LeadUpdated, "/updated"),
        (WebhookEventType::LeadStatusChanged, "/status"),
    ] {
        let created = subscribe(&env, event, &receiver.url(path)).await;
        assert_eq!(created.status, 201, "{created:?}");
        secrets.push((path, secret_of(&created)));
    }
    let lead = create_lead(&env, "signed").await;
    assert_eq!(lead.status, 201);
    let id = id_of(&lead);
    let qualified = update_lead(&env, id, json!({"status": "qualified"})).await;
    assert_eq!(qualified.status, 200);
    let renamed = update_lead(&env, id, json!({"full_name": "Pat Signed"})).await;
    assert_eq!(renamed.status, 200);

    // created: 1, updated: 2, status_changed: 1.
    let received = receiver.wait_for(4).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let received_after = receiver
        .server
        .received_requests()
        .await
        .unwrap_or_default();
    assert_eq!(received_after.len(), 4, "each event arrives once");

    let mut events = Vec::new();
    for request in &received {
        let path = request.url.path();
        let secret = &secrets
            .iter()
            .find(|(target, _)| *target == path)
            .expect("a subscribed path")
            .1;
        assert_eq!(request.headers["content-type"], "application/json");
        let event = leads_client::webhooks::verify(secret, &request.body, &request.headers)
            .unwrap_or_else(|error| panic!("{path}: the delivery does not verify: {error}"));
        let wrong_secret = secrets
            .iter()
            .find(|(target, _)| *target != path)
            .expect("another");
        assert!(
            leads_client::webhooks::verify(&wrong_secret.1, &request.body, &request.headers)
                .is_err(),
            "another subscription's secret must not verify it"
        );
        let body: Value = serde_json::from_slice(&request.body).expect("a JSON body");
        let problems = leads_server::api::schema_problems("WebhookEvent", &body)
            .expect("the spec has WebhookEvent");
        assert!(problems.is_empty(), "{path}: {problems:?}\n{body}");
        events.push((path.to_string(), event, body));
    }
    let of = |path: &str| -> Vec<&Value> {
        events
            .iter()
            .filter(|(at, _, _)| at == path)
            .map(|(_, _, body)| body)
            .collect()
    };
    let [created] = of("/created")[..] else {
        panic!("one lead.created")
    };
    assert!(matches!(
        events
            .iter()
            .find(|(at, _, _)| at == "/created")
            .map(|(_, event, _)| event),
        Some(WebhookEvent::CreatedEvent(_))
    ));
    assert_eq!(created["event"], "lead.created");
    assert_eq!(&created["data"], lead.data(), "data is the lead as created");
    let [status_changed] = of("/status")[..] else {
        panic!("one lead.status_changed")
    };
    assert_eq!(status_changed["event"], "lead.status_changed");
    assert_eq!(&status_changed["data"], qualified.data());
    let mut updated = of("/updated");
    updated.sort_by_key(|body| body["data"]["updated_at"].as_str().map(String::from));
    assert_eq!(updated.len(), 2);
    assert_eq!(&updated[0]["data"], qualified.data());
    assert_eq!(&updated[1]["data"], renamed.data());
    assert_eq!(
        created["organization_id"], status_changed["organization_id"],
        "one organization"
    );
    assert_eq!(created["created_at"], lead.data()["created_at"]);
    for (name, event) in [
        ("webhook_event_lead_created", created),
        ("webhook_event_lead_status_changed", status_changed),
        ("webhook_event_lead_updated", updated[1]),
    ] {
        pin_event(name, event, &env);
    }

    // The log shows the four deliveries, each delivered at the first attempt.
    let log = deliveries(&env, None).await;
    let items = log.data().as_array().expect("a list");
    assert_eq!(items.len(), 4, "{log:?}");
    for item in items {
        assert_eq!(item["status"], "success", "{item}");
        assert_eq!(item["attempt_count"], 1);
        assert_eq!(item["status_code"], 200);
        assert_eq!(item["error_message"], Value::Null);
    }
    let sizes: Vec<usize> = received.iter().map(|request| request.body.len()).collect();
    let mut logged: Vec<usize> = items
        .iter()
        .filter_map(|item| item["payload_size_bytes"].as_u64())
        .map(|size| size as usize)
        .collect();
    let mut sizes = sizes;
    sizes.sort_unstable();
    logged.sort_unstable();
    assert_eq!(logged, sizes, "payload_size_bytes is the body's size");
}

/// Writes the API refuses (a taken email, a body it rejects, a stale `If-Match`, nothing to
/// change) store no event: the log stays empty and nothing arrives; the next accepted write's
/// event is the only one.
pub(super) async fn no_event_for_a_rejected_write() {
    let env = loopback_env().await;
    let receiver = Receiver::start().await;
    for (event, path) in [
        (WebhookEventType::LeadCreated, "/created"),
        (WebhookEventType::LeadUpdated, "/updated"),
    ] {
        assert_eq!(
            subscribe(&env, event, &receiver.url(path)).await.status,
            201
        );
    }
    let first = create_lead(&env, "first").await;
    assert_eq!(first.status, 201);
    receiver.wait_for(1).await;
    let id = id_of(&first);

    let taken = create_lead(&env, "first").await;
    assert_eq!(taken.status, 409);
    let invalid = env
        .raw_json(
            "lead_create",
            Method::POST,
            "/v1/leads",
            &env.a.key,
            &json!({"email": "not-an-email"}),
        )
        .await;
    assert_eq!(invalid.status, 400);
    let stale = env
        .raw_with_headers(
            "lead_update",
            Method::PATCH,
            &format!("/v1/leads/{id}"),
            Some(&env.a.key),
            &[("if-match", "\"7\"")],
            Some(("application/json", br#"{"status": "lost"}"#.to_vec())),
        )
        .await;
    assert_eq!(stale.status, 412);
    let second = create_lead(&env, "second").await;
    let taken_email = update_lead(&env, id_of(&second), json!({"email": env.email("first")})).await;
    assert_eq!(taken_email.status, 409);
    let nothing = update_lead(&env, id, json!({})).await;
    assert_eq!(nothing.status, 200);

    // The second create's event is the only other one: two in all, both lead.created.
    let received = receiver.wait_for(2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let received = receiver
        .server
        .received_requests()
        .await
        .unwrap_or(received);
    let paths: Vec<&str> = received.iter().map(|request| request.url.path()).collect();
    assert_eq!(
        paths,
        ["/created", "/created"],
        "no event for a refused write"
    );
    let log = deliveries(&env, None).await;
    assert_eq!(log.data().as_array().map(Vec::len), Some(2), "{log:?}");
}
