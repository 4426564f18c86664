//! Health, authentication failures on every operation, and the tenancy matrix.

use leads_client::types::{LeadCreate, LeadUpdate};
use leads_contract_tests::Env;
use leads_contract_tests::operations::every_operation;
use libtest_mimic::Trial;
use uuid::Uuid;

use crate::{pin, scenario};

pub fn trials() -> Vec<Trial> {
    vec![
        scenario("access::health_needs_no_key", health_needs_no_key),
        scenario("access::missing_key", missing_key),
        scenario("access::malformed_key", malformed_key),
        scenario("access::unknown_key", unknown_key),
        scenario("access::other_organization", other_organization),
    ]
}

async fn health_needs_no_key() {
    let env = Env::start().await;
    let health = env
        .observe(
            "health_view",
            env.client_without_key().health_view().send().await,
        )
        .await;
    pin!("health", health);
}

/// Every operation that needs a key, called through `client`; each answer is pinned.
async fn every_operation_refused(env: &Env, client: leads_client::Client, label: &str) {
    for exchange in every_operation(env, &client).await {
        assert_eq!(exchange.status, 401, "{exchange:?}");
        pin!(format!("{label}_{}", exchange.operation), exchange);
    }
}

async fn missing_key() {
    let env = Env::start().await;
    every_operation_refused(&env, env.client_without_key(), "missing_key").await;
}

async fn malformed_key() {
    let env = Env::start().await;
    every_operation_refused(&env, env.client_with_key("not-an-api-key"), "malformed_key").await;
}

async fn unknown_key() {
    let env = Env::start().await;
    let key = format!("aura_pk_live_{}", "0".repeat(40));
    every_operation_refused(&env, env.client_with_key(&key), "unknown_key").await;
}

/// Organization B, on each operation, against organization A's lead.
async fn other_organization() {
    let env = Env::start().await;
    let email = env.email("tenant");
    let created = env
        .a
        .client
        .lead_create()
        .body(LeadCreate::builder().email(email.clone()))
        .send()
        .await;
    let lead = env.observe("lead_create", created).await;
    let id: Uuid = lead.data()["id"].as_str().unwrap().parse().unwrap();

    let view = env
        .observe("lead_view", env.b.client.lead_view().id(id).send().await)
        .await;
    assert_eq!(view.status, 404);
    pin!("other_organization_view", view);

    let update = env
        .b
        .client
        .lead_update()
        .id(id)
        .body(LeadUpdate::builder().status(Some(leads_client::types::LeadStatus::Lost)))
        .send()
        .await;
    let update = env.observe("lead_update", update).await;
    assert_eq!(update.status, 404);
    pin!("other_organization_update", update);

    // Absent from B's first page, where it would be as the newest lead.
    let page = env
        .observe(
            "lead_list",
            env.b.client.lead_list().limit(100u32).send().await,
        )
        .await;
    assert!(
        page.data()
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["email"] != email.as_str())
    );

    // B may use the same email: uniqueness is per organization.
    let same = env
        .b
        .client
        .lead_create()
        .body(LeadCreate::builder().email(email))
        .send()
        .await;
    assert_eq!(env.observe("lead_create", same).await.status, 201);

    // A's lead is as it was.
    let again = env
        .observe("lead_view", env.a.client.lead_view().id(id).send().await)
        .await;
    assert_eq!(again.data(), lead.data());
}
