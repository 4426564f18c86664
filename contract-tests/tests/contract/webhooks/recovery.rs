//! After a receiver's outage: each attempt of a delivery listed, one delivery resent (the
//! same delivery, `webhook-id` and body, signed again), every failed delivery since a time
//! recovered once the subscription is enabled again, and a test event sent to one
//! subscription alone, marked as such; a disabled subscription refused (`409`), another
//! organization's not found.

use chrono::{Duration, Utc};
use leads_client::Client;
use leads_client::types::{WebhookEvent, WebhookEventType, WebhookRecover};
use leads_client::webhooks;
use leads_contract_tests::{Env, Exchange};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use super::failures::{disable_by_failures, wait_for_log};
use super::receiver::{Receiver, loopback_env};
use super::{create_lead, deliveries, id_of, pin, pin_event, subscribe};

async fn attempts(env: &Env, client: &Client, subscription: Uuid, delivery: Uuid) -> Exchange {
    let request = client
        .webhook_delivery_attempt_list()
        .id(subscription)
        .delivery_id(delivery);
    env.observe("webhook_delivery_attempt_list", request.send().await)
        .await
}

async fn resend(env: &Env, client: &Client, subscription: Uuid, delivery: Uuid) -> Exchange {
    let request = client
        .webhook_delivery_resend()
        .id(subscription)
        .delivery_id(delivery);
    env.observe("webhook_delivery_resend", request.send().await)
        .await
}

async fn recover(env: &Env, client: &Client, subscription: Uuid, hours_ago: i64) -> Exchange {
    let since = Utc::now() - Duration::hours(hours_ago);
    let request = client
        .webhook_recover()
        .id(subscription)
        .body(WebhookRecover::builder().since(since));
    env.observe("webhook_recover", request.send().await).await
}

async fn test_event(env: &Env, client: &Client, subscription: Uuid) -> Exchange {
    env.observe(
        "webhook_test",
        client.webhook_test().id(subscription).send().await,
    )
    .await
}

/// The id of the first item of a list's answer.
fn first_id(list: &Exchange) -> Uuid {
    list.data()[0]["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("an item with an id in {list:?}"))
}

fn items(exchange: &Exchange) -> &Vec<Value> {
    exchange
        .data()
        .as_array()
        .unwrap_or_else(|| panic!("a list: {exchange:?}"))
}

fn field<'a>(items: &'a [Value], name: &str) -> Vec<&'a Value> {
    items.iter().map(|item| &item[name]).collect()
}

/// A delivery that failed every attempt lists them, newest first, with what each got; resent,
/// it is the same delivery (the same `webhook-id` and body, verifying with the secret), its
/// new attempt added to the list and its attempt count going on.
pub(super) async fn a_failed_delivery_is_resent_and_each_attempt_listed() {
    let env = loopback_env().await;
    let receiver = Receiver::failing_first(4).await;
    let created = subscribe(
        &env,
        WebhookEventType::LeadCreated,
        &receiver.url("/resent"),
    )
    .await;
    let subscription = id_of(&created);
    let secret = created.data()["secret"]
        .as_str()
        .expect("a secret")
        .to_owned();
    assert_eq!(create_lead(&env, "resent").await.status, 201);
    let log = wait_for_log(&env, subscription, |item| item["status"] == "failed").await;
    let delivery = first_id(&log);

    let listed = attempts(&env, &env.a.client, subscription, delivery).await;
    assert_eq!(listed.status, 200, "{listed:?}");
    let kept = items(&listed);
    assert_eq!(
        field(kept, "number"),
        [&json!(4), &json!(3), &json!(2), &json!(1)]
    );
    assert!(kept.iter().all(|attempt| attempt["succeeded"] == false
        && attempt["status_code"] == 500
        && attempt["error_message"] == "HTTP 500"));
    pin("webhook_delivery_attempt_list", &listed);

    let resent = resend(&env, &env.a.client, subscription, delivery).await;
    assert_eq!(resent.status, 202, "{resent:?}");
    assert_eq!(resent.data()["id"], delivery.to_string());
    assert_eq!(resent.data()["status"], "pending");
    pin("webhook_delivery_resend", &resent);
    let received = receiver.wait_for(5).await;
    let (first, last) = (&received[0], &received[4]);
    assert_eq!(last.headers["webhook-id"], first.headers["webhook-id"]);
    assert_eq!(last.body, first.body, "the same event, byte for byte");
    webhooks::verify(&secret, &last.body, &last.headers).expect("signed with the secret");

    let log = wait_for_log(&env, subscription, |item| item["status"] == "success").await;
    assert_eq!(log.data()[0]["attempt_count"], 5);
    let listed = attempts(&env, &env.a.client, subscription, delivery).await;
    let kept = items(&listed);
    assert_eq!(kept.len(), 5);
    assert_eq!(
        (
            &kept[0]["number"],
            &kept[0]["succeeded"],
            &kept[0]["status_code"]
        ),
        (&json!(5), &json!(true), &json!(200))
    );
    assert_eq!(kept[0]["error_message"], Value::Null);
    // Paginated like every list.
    let page = env
        .observe(
            "webhook_delivery_attempt_list",
            env.a
                .client
                .webhook_delivery_attempt_list()
                .id(subscription)
                .delivery_id(delivery)
                .limit(std::num::NonZeroU32::new(2).expect("2"))
                .send()
                .await,
        )
        .await;
    assert_eq!(field(items(&page), "number"), [&json!(5), &json!(4)]);
    assert_eq!(page.body["pagination"]["has_more"], true);
}

/// A subscription disabled by an outage refuses resends, recoveries and test events
/// (`409 WEBHOOK_DISABLED`); enabled again, a recovery since before the outage queues its
/// failed deliveries, which are all delivered. A recovery from the future or from before the
/// 30 days kept is refused naming `since`.
pub(super) async fn failed_deliveries_are_recovered_once_enabled_again() {
    let env = loopback_env().await;
    let receiver = Receiver::failing_first(40).await;
    let (created, _) = disable_by_failures(&env, &receiver, "/recovered").await;
    let subscription = id_of(&created);
    let log = deliveries(&env, Some(subscription)).await;
    let delivery = first_id(&log);
    let a = &env.a.client;

    let refused = [
        resend(&env, a, subscription, delivery).await,
        recover(&env, a, subscription, 1).await,
        test_event(&env, a, subscription).await,
    ];
    for answer in &refused {
        assert_eq!(answer.status, 409, "{answer:?}");
        assert_eq!(answer.body["code"], "WEBHOOK_DISABLED");
    }
    pin("webhook_delivery_resend_disabled", &refused[0]);
    pin("webhook_recover_disabled", &refused[1]);
    pin("webhook_test_disabled", &refused[2]);

    let enabled = env
        .observe(
            "webhook_enable",
            a.webhook_enable().id(subscription).send().await,
        )
        .await;
    assert_eq!(enabled.status, 200);
    for (since, label) in [
        (
            Utc::now() + Duration::hours(1),
            "webhook_recover_since_in_the_future",
        ),
        (
            Utc::now() - Duration::days(31),
            "webhook_recover_since_too_old",
        ),
    ] {
        let path = format!("/v1/webhooks/{subscription}/recover");
        let body = json!({ "since": since });
        let answer = env
            .raw_json("webhook_recover", Method::POST, &path, &env.a.key, &body)
            .await;
        assert_eq!(answer.status, 400, "{label}: {answer:?}");
        assert_eq!(answer.fields(), ["since"]);
        pin(label, &answer);
    }
    let recovered = recover(&env, a, subscription, 1).await;
    assert_eq!(recovered.status, 202, "{recovered:?}");
    assert_eq!(recovered.data()["queued"], 10);
    pin("webhook_recover", &recovered);
    receiver.wait_for(50).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut log = deliveries(&env, Some(subscription)).await;
    while !items(&log).iter().all(|item| item["status"] == "success") {
        assert!(
            std::time::Instant::now() < deadline,
            "not all delivered: {log:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        log = deliveries(&env, Some(subscription)).await;
    }
    assert_eq!(items(&log).len(), 10, "the same deliveries, none new");
    assert!(items(&log).iter().all(|item| item["attempt_count"] == 5));
    // Nothing failed is left to recover.
    assert_eq!(recover(&env, a, subscription, 1).await.data()["queued"], 0);
}

/// A test event goes to the subscription it is asked for and to no other, as an event of its
/// type about a sample lead, with `"test": true`, which the client's `verify` reads; its
/// delivery is in the log.
pub(super) async fn a_test_event_reaches_its_subscription_alone() {
    let env = loopback_env().await;
    let receiver = Receiver::start().await;
    let tested = subscribe(
        &env,
        WebhookEventType::LeadUpdated,
        &receiver.url("/tested"),
    )
    .await;
    let other = subscribe(&env, WebhookEventType::LeadUpdated, &receiver.url("/other")).await;
    let (tested, secret) = (
        id_of(&tested),
        tested.data()["secret"]
            .as_str()
            .expect("a secret")
            .to_owned(),
    );
    let queued = test_event(&env, &env.a.client, tested).await;
    assert_eq!(queued.status, 202, "{queued:?}");
    assert_eq!(queued.data()["subscription_id"], tested.to_string());
    assert_eq!(queued.data()["event_type"], "lead.updated");
    pin("webhook_test", &queued);

    let received = receiver.wait_for(1).await;
    assert_eq!(received[0].url.path(), "/tested");
    let event = webhooks::verify(&secret, &received[0].body, &received[0].headers)
        .expect("signed like any event");
    let WebhookEvent::UpdatedEvent(event) = event else {
        panic!("an event of the subscription's type: {event:?}");
    };
    assert_eq!(event.test, Some(true));
    assert_eq!(event.data.id, Uuid::nil());
    assert_eq!(event.data.email, "test@example.com");
    let body: Value = serde_json::from_slice(&received[0].body).expect("JSON");
    pin_event("webhook_test_event", &body, &env);

    let log = wait_for_log(&env, tested, |item| item["status"] == "success").await;
    assert_eq!(log.data()[0]["id"], queued.data()["id"]);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(receiver.wait_for(1).await.len(), 1, "nothing to the other");
    assert_eq!(items(&deliveries(&env, Some(id_of(&other))).await).len(), 0);
}

/// Another organization's subscription is not found by any of the four operations, nor a
/// delivery that is not the subscription's; ids that are not UUIDs are refused.
pub(super) async fn recovery_is_scoped_to_the_organization() {
    let env = Env::start().await;
    let created = subscribe(&env, WebhookEventType::LeadCreated, super::PUBLIC_TARGET).await;
    let id = id_of(&created);
    let b = &env.b.client;
    let unknown = Uuid::new_v4();
    let foreign = [
        attempts(&env, b, id, unknown).await,
        resend(&env, b, id, unknown).await,
        recover(&env, b, id, 1).await,
        test_event(&env, b, id).await,
    ];
    for answer in &foreign {
        assert_eq!(answer.status, 404, "{answer:?}");
        assert_eq!(answer.body["code"], "WEBHOOK_NOT_FOUND");
    }
    pin("webhook_delivery_attempt_list_not_found", &foreign[0]);
    pin("webhook_delivery_resend_not_found", &foreign[1]);
    pin("webhook_recover_not_found", &foreign[2]);
    pin("webhook_test_not_found", &foreign[3]);
    let a = &env.a.client;
    let no_delivery = [
        attempts(&env, a, id, unknown).await,
        resend(&env, a, id, unknown).await,
    ];
    for answer in &no_delivery {
        assert_eq!(answer.status, 404, "{answer:?}");
        assert_eq!(answer.body["code"], "WEBHOOK_DELIVERY_NOT_FOUND");
    }
    pin("webhook_delivery_attempt_list_no_delivery", &no_delivery[0]);
    pin("webhook_delivery_resend_no_delivery", &no_delivery[1]);
    for (operation, method, path) in [
        (
            "webhook_delivery_attempt_list",
            Method::GET,
            format!("/v1/webhooks/{id}/deliveries/not-a-uuid/attempts"),
        ),
        (
            "webhook_delivery_resend",
            Method::POST,
            "/v1/webhooks/not-a-uuid/deliveries/{unknown}/resend"
                .replace("{unknown}", &unknown.to_string()),
        ),
        (
            "webhook_recover",
            Method::POST,
            "/v1/webhooks/not-a-uuid/recover".to_owned(),
        ),
        (
            "webhook_test",
            Method::POST,
            "/v1/webhooks/not-a-uuid/test".to_owned(),
        ),
    ] {
        let answer = env
            .raw(operation, method, &path, Some(&env.a.key), None)
            .await;
        assert_eq!(answer.status, 400, "{path}: {answer:?}");
    }
    let oversized = env
        .raw_json(
            "webhook_recover",
            Method::POST,
            &format!("/v1/webhooks/{id}/recover"),
            &env.a.key,
            &json!({ "since": Utc::now(), "padding": "a".repeat(1024 * 1024) }),
        )
        .await;
    assert_eq!(oversized.status, 413, "a body over 1 MiB");
    let unknown_field = env
        .raw_json(
            "webhook_recover",
            Method::POST,
            &format!("/v1/webhooks/{id}/recover"),
            &env.a.key,
            &json!({ "since": Utc::now(), "enable": true }),
        )
        .await;
    assert_eq!(unknown_field.status, 400, "{unknown_field:?}");
}
