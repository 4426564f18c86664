//! A subscription after something went wrong: enabled again once failures disabled it
//! (delivered to again, signed with the secret it had), and its signing secret rotated (both
//! secrets verify during the overlap, the new one alone after it); neither reaches another
//! organization's subscription.

use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use leads_client::Client;
use leads_client::types::WebhookEventType;
use leads_client::webhooks::{self, VerifyError};
use leads_contract_tests::{Env, Exchange};
use leads_server::testing::TestServer;
use reqwest::Method;
use serde_json::Value;
use uuid::Uuid;
use wiremock::Request;

use super::failures::{disable_by_failures, wait_for_log};
use super::receiver::{Receiver, loopback_env};
use super::{PUBLIC_TARGET, create_lead, id_of, pin, subscribe};

/// How long a replaced secret signs beside the new one here: the documented 24 hours scaled
/// down, yet long enough for a delivery made at once to be signed within it.
const OVERLAP: Duration = Duration::from_secs(3);

async fn enable(env: &Env, client: &Client, id: Uuid) -> Exchange {
    env.observe(
        "webhook_enable",
        client.webhook_enable().id(id).send().await,
    )
    .await
}

async fn rotate(env: &Env, client: &Client, id: Uuid) -> Exchange {
    env.observe(
        "webhook_secret_rotate",
        client.webhook_secret_rotate().id(id).send().await,
    )
    .await
}

fn text<'a>(value: &'a Value, what: &str) -> &'a str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{what} is a string: {value}"))
}

/// The entries of a delivery's `webhook-signature`.
fn signatures(request: &Request) -> Vec<String> {
    let header = request.headers["webhook-signature"]
        .to_str()
        .expect("ASCII");
    header.split(' ').map(str::to_owned).collect()
}

/// What `secret` signs a delivery as: its `webhook-signature` entry and `X-Aura-Signature`.
fn signed_as(secret: &str, request: &Request) -> webhooks::SignedHeaders {
    let header = |name: &str| request.headers[name].to_str().expect("ASCII").to_owned();
    let timestamp = header("webhook-timestamp").parse().expect("Unix seconds");
    webhooks::sign(secret, &header("webhook-id"), timestamp, &request.body).expect("signs")
}

/// A subscription disabled by failures is enabled again: answered active, delivered to again,
/// and the delivery verifies with the secret the create showed; the failed deliveries stay
/// failed. Enabling an active one answers it unchanged.
pub(super) async fn a_disabled_subscription_is_enabled_again_with_its_secret() {
    let env = loopback_env().await;
    let receiver = Receiver::failing_first(40).await;
    let (created, disabled) = disable_by_failures(&env, &receiver, "/recovering").await;
    let id = id_of(&created);
    let secret = text(&created.data()["secret"], "the secret").to_owned();

    let enabled = enable(&env, &env.a.client, id).await;
    assert_eq!(enabled.status, 200, "{enabled:?}");
    assert_eq!(enabled.data()["disabled_at"], Value::Null);
    assert!(enabled.data().get("secret").is_none(), "no secret shown");
    assert_eq!(enabled.data()["id"], disabled.data()["id"]);
    pin("webhook_enable", &enabled);
    let again = enable(&env, &env.a.client, id).await;
    assert_eq!(again.status, 200);
    assert_eq!(
        again.body, enabled.body,
        "an active subscription, unchanged"
    );

    assert_eq!(create_lead(&env, "recovered").await.status, 201);
    let received = receiver.wait_for(41).await;
    let last = received.last().expect("the 41st delivery");
    webhooks::verify(&secret, &last.body, &last.headers)
        .unwrap_or_else(|error| panic!("the secret from before verifies: {error}"));
    let log = wait_for_log(&env, id, |item| item["status"] == "success").await;
    let items = log.data().as_array().expect("a list");
    assert_eq!(items.len(), 11, "the failed ones are not sent again");
    assert!(items[1..].iter().all(|item| item["status"] == "failed"));
}

/// A rotation shows the new secret once. During the overlap a delivery carries two
/// `webhook-signature` entries, the new secret's first, and verifies with either secret
/// (alone or together); `X-Aura-Signature` is the new secret's. After it, the new secret alone
/// signs, and the old one no longer verifies.
pub(super) async fn a_rotated_secret_verifies_beside_the_new_one_until_the_overlap_ends() {
    let builder = TestServer::builder()
        .webhooks_to_loopback()
        .webhook_secret_overlap(OVERLAP);
    let env = Env::start_built(builder).await;
    let receiver = Receiver::start().await;
    let created = subscribe(
        &env,
        WebhookEventType::LeadCreated,
        &receiver.url("/rotated"),
    )
    .await;
    let id = id_of(&created);
    let old = text(&created.data()["secret"], "the secret").to_owned();

    let rotated = rotate(&env, &env.a.client, id).await;
    assert_eq!(rotated.status, 200, "{rotated:?}");
    pin("webhook_secret_rotate", &rotated);
    let new = text(&rotated.data()["secret"], "the new secret").to_owned();
    assert_ne!(new, old);
    assert_eq!(rotated.data()["subscription"]["id"], created.data()["id"]);
    let expires_at: DateTime<Utc> =
        text(&rotated.data()["previous_secret_expires_at"], "the expiry")
            .parse()
            .expect("RFC 3339");
    let view = env
        .observe(
            "webhook_view",
            env.a.client.webhook_view().id(id).send().await,
        )
        .await;
    assert!(view.data().get("secret").is_none(), "never shown again");

    assert_eq!(create_lead(&env, "during").await.status, 201);
    let during = receiver.wait_for(1).await.remove(0);
    let (by_new, by_old) = (signed_as(&new, &during), signed_as(&old, &during));
    assert_eq!(
        signatures(&during),
        [by_new.webhook_signature(), by_old.webhook_signature()],
        "both, the new secret's first"
    );
    assert_eq!(during.headers["x-aura-signature"], by_new.aura_signature());
    for secrets in [&[old.as_str()][..], &[&new], &[&new, &old]] {
        let verified = webhooks::verify_any(secrets, &during.body, &during.headers);
        assert!(
            verified.is_ok(),
            "{} secret(s): {verified:?}",
            secrets.len()
        );
    }

    // Waits for the overlap's end by the server's own clock (a margin for the second it
    // rounds to), then a new event.
    let left = (expires_at - DateTime::<Utc>::from(SystemTime::now()))
        .to_std()
        .unwrap_or_default();
    tokio::time::sleep(left + Duration::from_millis(200)).await;
    assert_eq!(create_lead(&env, "after").await.status, 201);
    let after = receiver.wait_for(2).await.remove(1);
    assert_eq!(
        signatures(&after),
        [signed_as(&new, &after).webhook_signature()]
    );
    webhooks::verify(&new, &after.body, &after.headers).expect("the new secret verifies");
    assert!(matches!(
        webhooks::verify(&old, &after.body, &after.headers),
        Err(VerifyError::BadSignature { .. })
    ));
}

/// Neither operation reaches a subscription of another organization, or one that does not
/// exist (`404 WEBHOOK_NOT_FOUND`), nor takes an id that is not a UUID (`400`).
pub(super) async fn enable_and_rotation_are_scoped_to_the_organization() {
    let env = Env::start().await;
    let created = subscribe(&env, WebhookEventType::LeadCreated, PUBLIC_TARGET).await;
    let id = id_of(&created);
    let b = &env.b.client;
    let (enable_foreign, rotate_foreign) = (enable(&env, b, id).await, rotate(&env, b, id).await);
    pin("webhook_enable_not_found", &enable_foreign);
    pin("webhook_secret_rotate_not_found", &rotate_foreign);
    let a = &env.a.client;
    let unknown = Uuid::new_v4();
    for answer in [
        enable_foreign,
        rotate_foreign,
        enable(&env, a, unknown).await,
        rotate(&env, a, unknown).await,
    ] {
        assert_eq!(answer.status, 404, "{answer:?}");
        assert_eq!(answer.body["code"], "WEBHOOK_NOT_FOUND");
    }
    for (operation, path) in [
        ("webhook_enable", "/v1/webhooks/not-a-uuid/enable"),
        (
            "webhook_secret_rotate",
            "/v1/webhooks/not-a-uuid/rotate-secret",
        ),
    ] {
        let answer = env
            .raw(operation, Method::POST, path, Some(&env.a.key), None)
            .await;
        assert_eq!(answer.status, 400, "{path}: {answer:?}");
    }
    // A's subscription is still there, as it was.
    let view = env
        .observe("webhook_view", a.webhook_view().id(id).send().await)
        .await;
    assert_eq!(view.status, 200);
    assert_eq!(view.data()["disabled_at"], Value::Null);
}
