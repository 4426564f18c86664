//! Subscriptions without a receiver: their lifecycle (create, view, list, delete), the rules
//! a new one must meet, and what another organization cannot see. These run against a
//! deployment too.

use leads_client::types::{LeadCreate, WebhookEventType};
use leads_contract_tests::Env;
use reqwest::Method;
use serde_json::{Value, json};

use super::{PUBLIC_TARGET, deliveries, id_of, pin, subscribe};

/// Create, view, list (and filter), delete; then the subscription is gone everywhere, and its
/// secret was shown only in the create's answer.
pub(super) async fn subscription_lifecycle() {
    let env = Env::start().await;
    let created = subscribe(&env, WebhookEventType::LeadCreated, PUBLIC_TARGET).await;
    assert_eq!(created.status, 201, "{created:?}");
    let secret = created.data()["secret"].as_str().expect("a secret");
    assert!(
        secret.starts_with("whsec_") && secret.len() == 50,
        "{secret}"
    );
    pin("webhook_create", &created);
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
    pin("webhook_view", &view);

    let list = env
        .observe("webhook_list", env.a.client.webhook_list().send().await)
        .await;
    assert_eq!(list.status, 200);
    let listed: Vec<&Value> = list.data().as_array().expect("a list").iter().collect();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["id"], other.data()["id"], "newest first");
    assert!(listed.iter().all(|item| item.get("secret").is_none()));
    pin("webhook_list", &list);

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
    pin("webhook_delete", &deleted);

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
        pin(&format!("webhook_gone_{}", gone.operation), &gone);
    }
    let left = env
        .observe("webhook_list", env.a.client.webhook_list().send().await)
        .await;
    assert_eq!(left.data().as_array().map(Vec::len), Some(1));
}

/// Each rule of a subscription and of the webhook parameters is answered `400` naming the
/// field, in the envelope; the organization's limit too.
pub(super) async fn validation_rules() {
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
            json!({"event_type": "lead.merged", "target_url": PUBLIC_TARGET}),
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
        pin(&format!("webhook_create_invalid_{label}"), &answer);
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
    pin("webhook_create_body_over_the_limit", &oversized);
    // Before 5.1.0, Aura's path of the deliveries log was a subscription id, and the answer
    // says where the log is; a client of those versions still gets that answer.
    let aura_path = env
        .raw_with_headers(
            "webhook_view",
            Method::GET,
            "/v1/webhooks/deliveries",
            Some(&env.a.key),
            &[("api-version", "5.0.0")],
            None,
        )
        .await;
    assert_eq!(aura_path.status, 400);
    assert_eq!(aura_path.headers["api-version"], "5.0.0");
    pin("webhook_view_aura_deliveries_path", &aura_path);
    for (operation, path) in [
        ("webhook_view", "/v1/webhooks/not-a-uuid"),
        ("webhook_delete", "/v1/webhooks/not-a-uuid"),
        ("webhook_list", "/v1/webhooks?event_type=lead.merged"),
        ("webhook_list", "/v1/webhooks?cursor=not-issued-here"),
        (
            "webhook_delivery_list",
            "/v1/webhook-deliveries?subscription_id=42",
        ),
        ("webhook_delivery_list", "/v1/webhook-deliveries?limit=0"),
        (
            "webhook_delivery_log",
            "/v1/webhooks/deliveries?subscription_id=42",
        ),
        ("webhook_delivery_log", "/v1/webhooks/deliveries?limit=0"),
        (
            "webhook_delivery_log",
            "/v1/webhooks/deliveries?cursor=not-issued-here",
        ),
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
pub(super) async fn other_organizations_are_invisible() {
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
        env.observe(
            "webhook_delivery_log",
            b.webhook_delivery_log().subscription_id(id).send().await,
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
            "webhook_delivery_log",
            b.webhook_delivery_log().send().await,
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
