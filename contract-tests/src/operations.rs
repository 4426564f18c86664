//! Every operation that needs a key, called once: for the scenarios that check an answer all
//! of them share (no key, a bad key, rate limited, storage down).

use leads_client::Client;
use leads_client::types::{
    LeadCreate, LeadUpdate, WebhookEventType, WebhookRecover, WebhookSubscriptionCreate,
};
use uuid::Uuid;

use crate::{Env, Exchange};

/// The operationIds [`every_operation`] calls, in its order. A test checks this list against
/// the spec, so that a new operation cannot be left out of those scenarios.
pub const KEYED_OPERATIONS: [&str; 17] = [
    "lead_list",
    "lead_create",
    "lead_view",
    "lead_update",
    "lead_delete",
    "webhook_list",
    "webhook_create",
    "webhook_view",
    "webhook_delete",
    "webhook_delivery_list",
    "webhook_delivery_log",
    "webhook_enable",
    "webhook_secret_rotate",
    "webhook_delivery_attempt_list",
    "webhook_delivery_resend",
    "webhook_recover",
    "webhook_test",
];

/// A target every server accepts without resolving a name: a public address, written as an
/// address. Nothing is ever sent to it, since no lead event follows these calls.
pub const HARMLESS_TARGET: &str = "https://93.184.216.34/aura-contract-tests";

/// Calls each of [`KEYED_OPERATIONS`] once through `client` (with harmless input: a new
/// tagged email, an id that exists nowhere, [`HARMLESS_TARGET`]) and returns the answers in
/// that order.
pub async fn every_operation(env: &Env, client: &Client) -> Vec<Exchange> {
    let id = Uuid::new_v4();
    let create = LeadCreate::builder().email(env.email("every-operation"));
    let update = LeadUpdate::builder();
    let subscription = WebhookSubscriptionCreate::builder()
        .event_type(WebhookEventType::LeadCreated)
        .target_url(HARMLESS_TARGET);
    vec![
        env.observe("lead_list", client.lead_list().send().await)
            .await,
        env.observe(
            "lead_create",
            client.lead_create().body(create).send().await,
        )
        .await,
        env.observe("lead_view", client.lead_view().id(id).send().await)
            .await,
        env.observe(
            "lead_update",
            client.lead_update().id(id).body(update).send().await,
        )
        .await,
        env.observe("lead_delete", client.lead_delete().id(id).send().await)
            .await,
        env.observe("webhook_list", client.webhook_list().send().await)
            .await,
        env.observe(
            "webhook_create",
            client.webhook_create().body(subscription).send().await,
        )
        .await,
        env.observe("webhook_view", client.webhook_view().id(id).send().await)
            .await,
        env.observe(
            "webhook_delete",
            client.webhook_delete().id(id).send().await,
        )
        .await,
        env.observe(
            "webhook_delivery_list",
            client.webhook_delivery_list().send().await,
        )
        .await,
        env.observe(
            "webhook_delivery_log",
            client.webhook_delivery_log().send().await,
        )
        .await,
        env.observe(
            "webhook_enable",
            client.webhook_enable().id(id).send().await,
        )
        .await,
        env.observe(
            "webhook_secret_rotate",
            client.webhook_secret_rotate().id(id).send().await,
        )
        .await,
        env.observe(
            "webhook_delivery_attempt_list",
            client
                .webhook_delivery_attempt_list()
                .id(id)
                .delivery_id(id)
                .send()
                .await,
        )
        .await,
        env.observe(
            "webhook_delivery_resend",
            client
                .webhook_delivery_resend()
                .id(id)
                .delivery_id(id)
                .send()
                .await,
        )
        .await,
        env.observe(
            "webhook_recover",
            client
                .webhook_recover()
                .id(id)
                .body(WebhookRecover::builder().since(chrono::Utc::now()))
                .send()
                .await,
        )
        .await,
        env.observe("webhook_test", client.webhook_test().id(id).send().await)
            .await,
    ]
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use leads_spec::Document;

    use super::KEYED_OPERATIONS;

    #[test]
    fn every_operation_that_needs_a_key_is_called() {
        let spec = leads_spec::load_workspace_spec(Path::new(env!("CARGO_MANIFEST_DIR")))
            .expect("the spec loads");
        let doc = Document::new(&spec);
        let keyed: BTreeSet<&str> = doc
            .operations()
            .iter()
            .filter(|operation| doc.requires_auth(operation))
            .filter_map(|operation| operation.id())
            .collect();
        assert_eq!(
            keyed,
            BTreeSet::from(KEYED_OPERATIONS),
            "every_operation must call exactly the spec's operations that need a key"
        );
    }
}
