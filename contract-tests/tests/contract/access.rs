//! Health, authentication failures on every operation, and the tenancy matrix.

use leads_client::types::{LeadCreate, LeadUpdate};
use leads_contract_tests::Env;
use leads_contract_tests::operations::every_operation;
use leads_server::ratelimit::Limits;
use libtest_mimic::Trial;
use reqwest::Method;
use uuid::Uuid;

use crate::{in_process_scenario, pin, scenario};

pub fn trials() -> Vec<Trial> {
    vec![
        scenario("access::health_needs_no_key", health_needs_no_key),
        scenario("access::missing_key", missing_key),
        scenario("access::malformed_key", malformed_key),
        scenario("access::unknown_key", unknown_key),
        scenario("access::other_organization", other_organization),
        scenario(
            "access::admission_before_the_body",
            admission_before_the_body,
        ),
        in_process_scenario("access::a_revoked_key_is_refused_at_once", revoked_key),
        in_process_scenario(
            "access::unknown_keys_are_refused_from_memory",
            unknown_keys_from_memory,
        ),
        in_process_scenario(
            "access::unfamiliar_keys_per_address",
            unfamiliar_keys_per_address,
        ),
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

/// A raw request: its name, method, path, key and body.
type Case<'a> = (&'a str, Method, &'a str, Option<&'a str>, Vec<u8>);

/// Raw: the key is checked before the body is read or parsed. Without a valid key, a body
/// that is not JSON, or larger than the limit, is answered `401`, never `400` or `413`.
async fn admission_before_the_body() {
    let env = Env::start().await;
    let unknown = format!("aura_pk_live_{}", "u".repeat(40));
    let path = format!("/v1/leads/{}", Uuid::new_v4());
    let cases: [Case; 4] = [
        (
            "create_no_key_malformed",
            Method::POST,
            "/v1/leads",
            None,
            b"{\"email\": ".to_vec(),
        ),
        (
            "create_unknown_key_malformed",
            Method::POST,
            "/v1/leads",
            Some(&unknown),
            b"[[[".to_vec(),
        ),
        (
            "create_unknown_key_too_large",
            Method::POST,
            "/v1/leads",
            Some(&unknown),
            vec![b' '; 2 << 20],
        ),
        (
            "update_no_key_malformed",
            Method::PATCH,
            &path,
            None,
            b"nope".to_vec(),
        ),
    ];
    for (name, method, path, key, body) in cases {
        let operation = if method == Method::POST {
            "lead_create"
        } else {
            "lead_update"
        };
        let answer = env
            .raw(
                operation,
                method,
                path,
                key,
                Some(("application/json", body)),
            )
            .await;
        assert_eq!(answer.status, 401, "{name}");
        pin!(format!("admission_{name}"), answer);
    }
}

/// A key revoked while the server runs is answered `401` from its very next request.
async fn revoked_key() {
    let env = Env::start().await;
    let server = env.server().expect("an in-process server");
    let key = server.create_key("revoked").await.expect("a key");
    let client = env.client_with_key(&key);
    let before = env
        .observe("lead_list", client.lead_list().send().await)
        .await;
    assert_eq!(before.status, 200);
    server.revoke_key(&key).await.expect("revoked");
    let after = env
        .observe("lead_list", client.lead_list().send().await)
        .await;
    assert_eq!(after.status, 401);
    pin!("revoked_key_lead_list", after);
}

/// A key once looked up and not found is refused without another lookup: with the database
/// failing, it is still answered `401`, where a lookup would have answered `500`.
async fn unknown_keys_from_memory() {
    let env = Env::start().await;
    let server = env.server().expect("an in-process server");
    let unknown = env.client_with_key(&format!("aura_pk_live_{}", "1".repeat(40)));
    let first = env
        .observe("lead_list", unknown.lead_list().send().await)
        .await;
    assert_eq!(first.status, 401);
    server.fail_storage(true);
    let again = env
        .observe("lead_list", unknown.lead_list().send().await)
        .await;
    let known = env
        .observe("lead_list", env.a.client.lead_list().send().await)
        .await;
    server.fail_storage(false);
    assert_eq!(again.status, 401, "remembered, not looked up");
    assert_eq!(known.status, 500, "a valid key is always looked up");
}

/// An address may present only so many keys the server has not seen valid; beyond that they
/// are answered `429` without a lookup, while keys seen valid go on being served.
async fn unfamiliar_keys_per_address() {
    let env = Env::start_with(Limits {
        unfamiliar_keys_per_address: 3,
        ..Limits::default()
    })
    .await;
    let server = env.server().expect("an in-process server");
    let env = &env;
    let list = |client: leads_client::Client| async move {
        env.observe("lead_list", client.lead_list().send().await)
            .await
    };
    let unknown = |digit: &str| env.client_with_key(&format!("aura_pk_live_{}", digit.repeat(40)));
    // Three unfamiliar keys: two valid ones, and one unknown.
    assert_eq!(list(env.a.client.clone()).await.status, 200);
    assert_eq!(list(env.b.client.clone()).await.status, 200);
    assert_eq!(list(unknown("2")).await.status, 401);
    // The address's budget is spent: a fourth unfamiliar key is not looked up.
    let refused = list(unknown("3")).await;
    assert_eq!(refused.status, 429);
    pin!("unfamiliar_key_over_the_address_limit", refused);
    let new_key = server.create_key("late").await.expect("a key");
    assert_eq!(
        list(env.client_with_key(&new_key)).await.status,
        429,
        "even a valid key, until the budget refills"
    );
    // Keys seen valid, and keys known to be unknown, are answered as always.
    assert_eq!(list(env.a.client.clone()).await.status, 200);
    assert_eq!(list(unknown("2")).await.status, 401);
}
