//! Webhooks: subscriptions (their lifecycle, validation, tenancy) and the delivery of lead
//! events to a receiver running inside the test (wiremock, on loopback): every event arrives
//! signed, with a body the spec describes, nothing arrives for a rejected write, and a failing
//! receiver is retried on the schedule and shows in the deliveries log.
//!
//! The scenarios with a receiver need a server that may send to loopback, with the retry
//! schedule shrunk a hundredfold (`TestServerBuilder::webhooks_to_loopback`), so they run
//! in-process only.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use leads_client::types::{
    LeadCreate, LeadUpdate, WebhookEvent, WebhookEventType, WebhookSubscriptionCreate,
};
use leads_contract_tests::{Env, Exchange, redact_event};
use leads_server::testing::TestServer;
use leads_server::webhooks::WebhookConfig;
use libtest_mimic::Trial;
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::{in_process_scenario, pin, scenario};

pub fn trials() -> Vec<Trial> {
    vec![
        scenario("webhooks::subscription_lifecycle", subscription_lifecycle),
        scenario("webhooks::validation_rules", validation_rules),
        scenario(
            "webhooks::other_organizations_are_invisible",
            other_organizations_are_invisible,
        ),
        in_process_scenario(
            "webhooks::each_event_arrives_signed",
            each_event_arrives_signed,
        ),
        in_process_scenario(
            "webhooks::no_event_for_a_rejected_write",
            no_event_for_a_rejected_write,
        ),
        in_process_scenario(
            "webhooks::a_failing_receiver_is_retried_on_schedule",
            a_failing_receiver_is_retried_on_schedule,
        ),
        in_process_scenario(
            "webhooks::repeated_failures_disable_a_subscription",
            repeated_failures_disable_a_subscription,
        ),
        in_process_scenario(
            "webhooks::a_slow_or_busy_name_lookup_holds_no_request_long",
            a_slow_or_busy_name_lookup_holds_no_request_long,
        ),
        in_process_scenario(
            "webhooks::the_deliveries_log_says_what_failed_and_nothing_more",
            the_deliveries_log_says_what_failed_and_nothing_more,
        ),
    ]
}

/// A target every server accepts without a name to resolve (see `operations`).
const PUBLIC_TARGET: &str = leads_contract_tests::operations::HARMLESS_TARGET;

async fn subscribe(env: &Env, event: WebhookEventType, target: &str) -> Exchange {
    let body = WebhookSubscriptionCreate::builder()
        .event_type(event)
        .target_url(target);
    env.observe(
        "webhook_create",
        env.a.client.webhook_create().body(body).send().await,
    )
    .await
}

fn id_of(exchange: &Exchange) -> Uuid {
    exchange.data()["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("an id in {exchange:?}"))
}

async fn create_lead(env: &Env, label: &str) -> Exchange {
    let body = LeadCreate::builder().email(env.email(label));
    env.observe(
        "lead_create",
        env.a.client.lead_create().body(body).send().await,
    )
    .await
}

async fn update_lead(env: &Env, id: Uuid, body: Value) -> Exchange {
    let body: LeadUpdate = serde_json::from_value(body).expect("an update the client accepts");
    env.observe(
        "lead_update",
        env.a.client.lead_update().id(id).body(body).send().await,
    )
    .await
}

async fn deliveries(env: &Env, subscription: Option<Uuid>) -> Exchange {
    let mut request = env.a.client.webhook_delivery_list();
    if let Some(subscription) = subscription {
        request = request.subscription_id(subscription);
    }
    env.observe("webhook_delivery_list", request.send().await)
        .await
}

/// Create, view, list (and filter), delete; then the subscription is gone everywhere, and its
/// secret was shown only in the create's answer.
async fn subscription_lifecycle() {
    let env = Env::start().await;
    let created = subscribe(&env, WebhookEventType::LeadCreated, PUBLIC_TARGET).await;
    assert_eq!(created.status, 201, "{created:?}");
    let secret = created.data()["secret"].as_str().expect("a secret");
    assert!(
        secret.starts_with("whsec_") && secret.len() == 50,
        "{secret}"
    );
    pin!("webhook_create", created);
    let id = id_of(&created);

    let other = subscribe(&env, WebhookEventType::LeadStatusChanged, PUBLIC_TARGET).await;
    assert_eq!(other.status, 201);
    assert_ne!(other.data()["secret"], created.data()["secret"]);

    let view = env
        .observe(
            "webhook_view",
            env.a.client.webhook_view().id(id).send().await,
        )
        .await;
    assert_eq!(view.status, 200);
    assert!(
        view.data().get("secret").is_none(),
        "the secret is never shown again"
    );
    pin!("webhook_view", view);

    let list = env
        .observe("webhook_list", env.a.client.webhook_list().send().await)
        .await;
    assert_eq!(list.status, 200);
    let listed: Vec<&Value> = list.data().as_array().expect("a list").iter().collect();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["id"], other.data()["id"], "newest first");
    assert!(listed.iter().all(|item| item.get("secret").is_none()));
    pin!("webhook_list", list);

    let filtered = env
        .observe(
            "webhook_list",
            env.a
                .client
                .webhook_list()
                .event_type(WebhookEventType::LeadCreated)
                .limit(std::num::NonZeroU32::new(1).expect("1"))
                .send()
                .await,
        )
        .await;
    assert_eq!(filtered.data().as_array().map(Vec::len), Some(1));
    assert_eq!(filtered.data()[0]["id"], created.data()["id"]);
    assert_eq!(filtered.body["pagination"]["has_more"], false);

    let deleted = env
        .observe(
            "webhook_delete",
            env.a.client.webhook_delete().id(id).send().await,
        )
        .await;
    assert_eq!(deleted.status, 204);
    pin!("webhook_delete", deleted);

    for gone in [
        env.observe(
            "webhook_view",
            env.a.client.webhook_view().id(id).send().await,
        )
        .await,
        env.observe(
            "webhook_delete",
            env.a.client.webhook_delete().id(id).send().await,
        )
        .await,
        deliveries(&env, Some(id)).await,
    ] {
        assert_eq!(gone.status, 404, "{gone:?}");
        assert_eq!(gone.body["code"], "WEBHOOK_NOT_FOUND");
        pin!(format!("webhook_gone_{}", gone.operation), gone);
    }
    let left = env
        .observe("webhook_list", env.a.client.webhook_list().send().await)
        .await;
    assert_eq!(left.data().as_array().map(Vec::len), Some(1));
}

/// Each rule of a subscription and of the webhook parameters is answered `400` naming the
/// field, in the envelope; the organization's limit too.
async fn validation_rules() {
    let env = Env::start().await;
    let post = |body: Value| {
        let env = &env;
        async move {
            env.raw_json(
                "webhook_create",
                Method::POST,
                "/v1/webhooks",
                &env.a.key,
                &body,
            )
            .await
        }
    };
    let cases = [
        (
            "http",
            json!({"event_type": "lead.created", "target_url": "http://hooks.example.com/x"}),
        ),
        (
            "loopback",
            json!({"event_type": "lead.created", "target_url": "https://127.0.0.1/x"}),
        ),
        (
            "private",
            json!({"event_type": "lead.created", "target_url": "https://10.0.0.7/x"}),
        ),
        (
            "metadata",
            json!({"event_type": "lead.created", "target_url": "https://169.254.169.254/latest"}),
        ),
        (
            "ipv6_loopback",
            json!({"event_type": "lead.created", "target_url": "https://[::1]/x"}),
        ),
        (
            "localhost",
            json!({"event_type": "lead.created", "target_url": "https://localhost/x"}),
        ),
        (
            "credentials",
            json!({"event_type": "lead.created", "target_url": "https://u:p@93.184.216.34/x"}),
        ),
        (
            "port",
            json!({"event_type": "lead.created", "target_url": "https://8.8.8.8:22/"}),
        ),
        (
            "ipv6_local_nat64",
            json!({"event_type": "lead.created", "target_url": "https://[64:ff9b:1::a00:1]/x"}),
        ),
        (
            "not_a_url",
            json!({"event_type": "lead.created", "target_url": "hooks.example.com/x"}),
        ),
        (
            "unknown_event",
            json!({"event_type": "lead.deleted", "target_url": PUBLIC_TARGET}),
        ),
        ("missing_target", json!({"event_type": "lead.created"})),
        (
            "unknown_field",
            json!({"event_type": "lead.created", "target_url": PUBLIC_TARGET, "secret": "mine"}),
        ),
    ];
    for (label, body) in cases {
        let answer = post(body).await;
        assert_eq!(answer.status, 400, "{label}: {answer:?}");
        pin!(format!("webhook_create_invalid_{label}"), answer);
    }
    // Every IPv6 form of a forbidden address (those of issue 20 first), refused alike and
    // never repeated back.
    for target in [
        "https://[::ffff:0:7f00:1]/",
        "https://[64:ff9b:1::a00:1]/",
        "https://[2002:7f00:1::]/",
        "https://[2002:a9fe:a9fe::]/",
        "https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",
        "https://[100::1]/",
        "https://[::ffff:169.254.169.254]/",
        "https://[64:ff9b::a9fe:a9fe]/",
        "https://[::127.0.0.1]/",
        "https://[2001:db8::1]/",
        "https://[fd00:ec2::254]/",
        "https://[fe80::1]/",
        "https://[ff02::1]/",
    ] {
        let answer = post(json!({"event_type": "lead.created", "target_url": target})).await;
        assert_eq!(answer.status, 400, "{target}: {answer:?}");
        assert_eq!(answer.body["details"][0]["field"], "target_url");
        assert_eq!(
            answer.body["details"][0]["message"], "is not a public address",
            "{target}"
        );
    }
    let oversized = post(json!({
        "event_type": "lead.created",
        "target_url": format!("{PUBLIC_TARGET}?padding={}", "a".repeat(1024 * 1024)),
    }))
    .await;
    assert_eq!(oversized.status, 413, "a body over 1 MiB");
    pin!("webhook_create_body_over_the_limit", oversized);
    // Aura's path of the deliveries log is a subscription id here; the answer says so.
    let aura_path = env
        .raw(
            "webhook_view",
            Method::GET,
            "/v1/webhooks/deliveries",
            Some(&env.a.key),
            None,
        )
        .await;
    assert_eq!(aura_path.status, 400);
    pin!("webhook_view_aura_deliveries_path", aura_path);
    for (operation, path) in [
        ("webhook_view", "/v1/webhooks/not-a-uuid"),
        ("webhook_delete", "/v1/webhooks/not-a-uuid"),
        ("webhook_list", "/v1/webhooks?event_type=lead.deleted"),
        ("webhook_list", "/v1/webhooks?cursor=not-issued-here"),
        (
            "webhook_delivery_list",
            "/v1/webhook-deliveries?subscription_id=42",
        ),
        ("webhook_delivery_list", "/v1/webhook-deliveries?limit=0"),
    ] {
        let method = if operation == "webhook_delete" {
            Method::DELETE
        } else {
            Method::GET
        };
        let answer = env
            .raw(operation, method, path, Some(&env.a.key), None)
            .await;
        assert_eq!(answer.status, 400, "{path}: {answer:?}");
    }
}

/// Organization B sees none of A's subscriptions, cannot view, delete or read the deliveries
/// of one, and its own lead events do not reach A's subscribers.
async fn other_organizations_are_invisible() {
    let env = Env::start().await;
    let created = subscribe(&env, WebhookEventType::LeadCreated, PUBLIC_TARGET).await;
    let id = id_of(&created);
    let b = &env.b.client;
    for answer in [
        env.observe("webhook_view", b.webhook_view().id(id).send().await)
            .await,
        env.observe("webhook_delete", b.webhook_delete().id(id).send().await)
            .await,
        env.observe(
            "webhook_delivery_list",
            b.webhook_delivery_list().subscription_id(id).send().await,
        )
        .await,
    ] {
        assert_eq!(answer.status, 404, "{answer:?}");
        assert_eq!(answer.body["code"], "WEBHOOK_NOT_FOUND");
    }
    let list = env
        .observe("webhook_list", b.webhook_list().send().await)
        .await;
    assert_eq!(list.data(), &json!([]));
    let lead = env
        .observe(
            "lead_create",
            b.lead_create()
                .body(LeadCreate::builder().email(env.email("b-lead")))
                .send()
                .await,
        )
        .await;
    assert_eq!(lead.status, 201);
    let log = deliveries(&env, Some(id)).await;
    assert_eq!(log.data(), &json!([]), "B's lead is not A's event");
    let b_log = env
        .observe(
            "webhook_delivery_list",
            b.webhook_delivery_list().send().await,
        )
        .await;
    assert_eq!(b_log.data(), &json!([]));
    // A's subscription is still there after B's attempt to delete it.
    let view = env
        .observe(
            "webhook_view",
            env.a.client.webhook_view().id(id).send().await,
        )
        .await;
    assert_eq!(view.status, 200);
}

/// A receiver on loopback that answers `status` to every `POST` and records when each came.
struct Receiver {
    server: MockServer,
    arrivals: Arc<Mutex<Vec<(String, Instant)>>>,
}

struct Recording {
    arrivals: Arc<Mutex<Vec<(String, Instant)>>>,
    answer: u16,
}

impl Respond for Recording {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        self.arrivals
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .push((request.url.path().to_string(), Instant::now()));
        ResponseTemplate::new(self.answer)
    }
}

impl Receiver {
    /// Answers `500` on paths starting with `/fail`, `200` elsewhere.
    async fn start() -> Self {
        let server = MockServer::start().await;
        let arrivals = Arc::new(Mutex::new(Vec::new()));
        for (answer, matcher) in [(500, true), (200, false)] {
            let mock = Mock::given(method("POST"));
            let mock = if matcher {
                mock.and(path_regex("^/fail"))
            } else {
                mock.and(path_regex("^/[^f]"))
            };
            mock.respond_with(Recording {
                arrivals: Arc::clone(&arrivals),
                answer,
            })
            .mount(&server)
            .await;
        }
        Self { server, arrivals }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.uri())
    }

    /// The requests received so far, once at least `count` have arrived (within 10 s).
    async fn wait_for(&self, count: usize) -> Vec<Request> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let received = self.server.received_requests().await.unwrap_or_default();
            if received.len() >= count {
                return received;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {count} deliveries arrived within 10 s",
                received.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn arrivals(&self, path: &str) -> Vec<Instant> {
        self.arrivals
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .iter()
            .filter(|(arrived, _)| arrived == path)
            .map(|(_, at)| *at)
            .collect()
    }
}

async fn loopback_env() -> Env {
    Env::start_built(TestServer::builder().webhooks_to_loopback()).await
}

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
async fn each_event_arrives_signed() {
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
        insta::assert_json_snapshot!(name, redact_event(event, env.tag()));
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
async fn no_event_for_a_rejected_write() {
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

/// A receiver answering `500` gets the first attempt and three retries, each at least its
/// scheduled delay after the one before (1, 5, 15 s, shrunk a hundredfold here); then the
/// delivery is `failed` in the log, with the last status and why.
async fn a_failing_receiver_is_retried_on_schedule() {
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
    pin!("webhook_delivery_list_failed", log);
}

/// The deliveries log of `subscription` once its first item satisfies `done` (within 10 s).
async fn wait_for_log(env: &Env, subscription: Uuid, done: impl Fn(&Value) -> bool) -> Exchange {
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
async fn repeated_failures_disable_a_subscription() {
    let env = loopback_env().await;
    let receiver = Receiver::start().await;
    let created = subscribe(&env, WebhookEventType::LeadCreated, &receiver.url("/fail")).await;
    let subscription = id_of(&created);
    for n in 0..10 {
        assert_eq!(create_lead(&env, &format!("doomed{n}")).await.status, 201);
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
    pin!("webhook_view_disabled", view);
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

/// Name lookups a scenario controls: one that never ends, or one that finds every lookup
/// slot taken.
#[derive(Debug)]
enum Lookup {
    Never,
    Busy,
}

impl leads_server::webhooks::target::Lookup for Lookup {
    fn lookup(
        &self,
        _host: &str,
    ) -> futures::future::BoxFuture<
        'static,
        Result<Vec<std::net::IpAddr>, leads_server::webhooks::target::LookupError>,
    > {
        match self {
            Lookup::Never => Box::pin(std::future::pending()),
            Lookup::Busy => {
                Box::pin(async { Err(leads_server::webhooks::target::LookupError::Busy) })
            }
        }
    }
}

/// A server whose name lookups are `lookup`, cut off after 200 ms.
async fn lookup_env(lookup: Lookup) -> Env {
    Env::start_built(TestServer::builder().webhooks(WebhookConfig {
        lookup: Some(Arc::new(lookup)),
        resolve_timeout: Duration::from_millis(200),
        ..WebhookConfig::default()
    }))
    .await
}

/// A name whose lookup never ends is answered `400` naming `target_url` once the lookup's
/// time is up (200 ms here, 5 s by default), and nothing is stored; while every lookup slot
/// is taken, a new subscription is answered `503` at once rather than queued.
async fn a_slow_or_busy_name_lookup_holds_no_request_long() {
    let env = lookup_env(Lookup::Never).await;
    // Generous: only a server that never gives up on the lookup gets near it.
    let slow = tokio::time::timeout(
        Duration::from_secs(10),
        subscribe(
            &env,
            WebhookEventType::LeadCreated,
            "https://slow.example.com/",
        ),
    )
    .await
    .expect("the server gave up on the lookup");
    assert_eq!(slow.status, 400, "{slow:?}");
    pin!("webhook_create_invalid_slow_lookup", slow);
    let list = env
        .observe("webhook_list", env.a.client.webhook_list().send().await)
        .await;
    assert_eq!(list.data(), &json!([]));

    let env = lookup_env(Lookup::Busy).await;
    let busy = subscribe(
        &env,
        WebhookEventType::LeadCreated,
        "https://busy.example.com/",
    )
    .await;
    assert_eq!(busy.status, 503, "{busy:?}");
    assert_eq!(busy.body["code"], "SERVICE_UNAVAILABLE");
    assert!(busy.headers.contains_key("retry-after"), "{busy:?}");
}

/// Deliveries that fail for a closed port and for a receiver without TLS say so in the log's
/// words ("connection refused", "TLS handshake failed"), never with what the server's
/// libraries said (addresses, ports, certificate names).
async fn the_deliveries_log_says_what_failed_and_nothing_more() {
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
        pin!(format!("webhook_delivery_list_{label}"), log);
    }
}
