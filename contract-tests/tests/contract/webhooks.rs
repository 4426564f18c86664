//! Webhooks: subscriptions (their lifecycle, validation, tenancy) and the delivery of lead
//! events to a receiver running inside the test (wiremock, on loopback): every event arrives
//! signed, with a body the spec describes, nothing arrives for a rejected write, and a failing
//! receiver is retried on the schedule and shows in the deliveries log.
//!
//! The scenarios with a receiver need a server that may send to loopback, with the retry
//! schedule shrunk a hundredfold (`TestServerBuilder::webhooks_to_loopback`), so they run
//! in-process only.
//!
//! This module owns the list of scenarios, the calls they share and their snapshots; the
//! scenarios are in `subscriptions`, `deliveries`, `failures`, `fairness`, `lookups`,
//! `rotation` (enabling again, rotating the secret), `erasure` (`lead.deleted`) and
//! `recovery` (attempts, resend, recover, a test event), the receiver in `receiver`.

mod deliveries;
mod erasure;
mod failures;
mod fairness;
mod lookups;
mod receiver;
mod recovery;
mod rotation;
mod subscriptions;

use leads_client::types::{LeadCreate, LeadUpdate, WebhookEventType, WebhookSubscriptionCreate};
use leads_contract_tests::{Env, Exchange, Org, redact_event};
use libtest_mimic::Trial;
use serde_json::Value;
use uuid::Uuid;

use crate::{in_process_scenario, scenario};

use deliveries::{each_event_arrives_signed, no_event_for_a_rejected_write};
use erasure::{
    a_deleted_lead_is_announced_by_id_alone, older_versions_may_not_subscribe_to_deletions,
};
use failures::{
    a_failing_receiver_is_retried_on_schedule, repeated_failures_disable_a_subscription,
    the_deliveries_log_says_what_failed_and_nothing_more,
};
use fairness::a_hanging_organization_delays_no_other;
use lookups::a_slow_or_busy_name_lookup_holds_no_request_long;
use recovery::{
    a_failed_delivery_is_resent_and_each_attempt_listed,
    a_test_event_reaches_its_subscription_alone,
    failed_deliveries_are_recovered_once_enabled_again, recovery_is_scoped_to_the_organization,
};
use rotation::{
    a_disabled_subscription_is_enabled_again_with_its_secret,
    a_rotated_secret_verifies_beside_the_new_one_until_the_overlap_ends,
    enable_and_rotation_are_scoped_to_the_organization,
};
use subscriptions::{other_organizations_are_invisible, subscription_lifecycle, validation_rules};

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
            "webhooks::a_deleted_lead_is_announced_by_id_alone",
            a_deleted_lead_is_announced_by_id_alone,
        ),
        scenario(
            "webhooks::older_versions_may_not_subscribe_to_deletions",
            older_versions_may_not_subscribe_to_deletions,
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
        in_process_scenario(
            "webhooks::a_hanging_organization_delays_no_other",
            a_hanging_organization_delays_no_other,
        ),
        scenario(
            "webhooks::enable_and_rotation_are_scoped_to_the_organization",
            enable_and_rotation_are_scoped_to_the_organization,
        ),
        in_process_scenario(
            "webhooks::a_disabled_subscription_is_enabled_again_with_its_secret",
            a_disabled_subscription_is_enabled_again_with_its_secret,
        ),
        in_process_scenario(
            "webhooks::a_rotated_secret_verifies_beside_the_new_one_until_the_overlap_ends",
            a_rotated_secret_verifies_beside_the_new_one_until_the_overlap_ends,
        ),
        in_process_scenario(
            "webhooks::a_failed_delivery_is_resent_and_each_attempt_listed",
            a_failed_delivery_is_resent_and_each_attempt_listed,
        ),
        in_process_scenario(
            "webhooks::failed_deliveries_are_recovered_once_enabled_again",
            failed_deliveries_are_recovered_once_enabled_again,
        ),
        in_process_scenario(
            "webhooks::a_test_event_reaches_its_subscription_alone",
            a_test_event_reaches_its_subscription_alone,
        ),
        scenario(
            "webhooks::recovery_is_scoped_to_the_organization",
            recovery_is_scoped_to_the_organization,
        ),
    ]
}

/// A target every server accepts without a name to resolve (see `operations`).
const PUBLIC_TARGET: &str = leads_contract_tests::operations::HARMLESS_TARGET;

async fn subscribe(env: &Env, event: WebhookEventType, target: &str) -> Exchange {
    subscribe_as(env, &env.a, event, target).await
}

/// Subscribes `target` to `event` for `org`, one of `env`'s organizations.
async fn subscribe_as(env: &Env, org: &Org, event: WebhookEventType, target: &str) -> Exchange {
    let body = WebhookSubscriptionCreate::builder()
        .event_type(event)
        .target_url(target);
    env.observe(
        "webhook_create",
        org.client.webhook_create().body(body).send().await,
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
    create_lead_as(env, &env.a, label).await
}

/// Creates a lead for `org`, one of `env`'s organizations.
async fn create_lead_as(env: &Env, org: &Org, label: &str) -> Exchange {
    let body = LeadCreate::builder().email(env.email(label));
    env.observe(
        "lead_create",
        org.client.lead_create().body(body).send().await,
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

/// Organization A's deliveries log (of `subscription` only, if given), at Aura's path.
async fn deliveries(env: &Env, subscription: Option<Uuid>) -> Exchange {
    let mut request = env.a.client.webhook_delivery_log();
    if let Some(subscription) = subscription {
        request = request.subscription_id(subscription);
    }
    env.observe("webhook_delivery_log", request.send().await)
        .await
}

/// Pins `exchange` under `name`. Here, not in each scenario's file: insta names a snapshot
/// by the module and the file of its assertion, and so these keep the names they have had
/// (`contract__webhooks__…` in `contract/snapshots/`).
fn pin(name: &str, exchange: &Exchange) {
    crate::pin!(name, exchange);
}

/// Pins a delivered event, redacted, under `name` (here for the reason `pin` is).
fn pin_event(name: &str, event: &Value, env: &Env) {
    insta::assert_json_snapshot!(name, redact_event(event, env.tag()));
}
