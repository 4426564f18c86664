//! A deleted lead's webhooks: its subscribers of `lead.deleted` get one signed event holding
//! the lead's id and nothing personal; its earlier events, delivered or not, leave the
//! deliveries log and the outbox; and a client of a version before `lead.deleted` may not
//! subscribe to it.

use leads_client::types::WebhookEventType;
use leads_contract_tests::Env;
use reqwest::Method;
use serde_json::{Value, json};

use super::failures::wait_for_log;
use super::receiver::{Receiver, loopback_env};
use super::{PUBLIC_TARGET, create_lead, deliveries, id_of, pin, pin_event, subscribe};

/// Subscribed to `lead.created` and `lead.deleted`, a lead is created (its event delivered),
/// then deleted: `lead.deleted` arrives signed, `{id}` alone in `data`; the log keeps only the
/// deletion's delivery, and the database holds nothing of the lead.
pub(super) async fn a_deleted_lead_is_announced_by_id_alone() {
    let env = loopback_env().await;
    let receiver = Receiver::start().await;
    let created_to = subscribe(
        &env,
        WebhookEventType::LeadCreated,
        &receiver.url("/created"),
    )
    .await;
    let deleted_to = subscribe(
        &env,
        WebhookEventType::LeadDeleted,
        &receiver.url("/deleted"),
    )
    .await;
    assert_eq!(
        (created_to.status, deleted_to.status),
        (201, 201),
        "{deleted_to:?}"
    );
    assert_eq!(deleted_to.data()["event_type"], "lead.deleted");
    let lead = create_lead(&env, "announced").await;
    let id = id_of(&lead);
    let email = lead.data()["email"].as_str().expect("an email").to_owned();
    wait_for_log(&env, id_of(&created_to), |item| item["status"] == "success").await;

    let deleted = env
        .observe(
            "lead_delete",
            env.a.client.lead_delete().id(id).send().await,
        )
        .await;
    assert_eq!(deleted.status, 204, "{deleted:?}");

    let received = receiver.wait_for(2).await;
    let request = received
        .iter()
        .find(|request| request.url.path() == "/deleted")
        .expect("lead.deleted arrives");
    let secret = deleted_to.data()["secret"].as_str().expect("a secret");
    leads_client::webhooks::verify(secret, &request.body, &request.headers)
        .unwrap_or_else(|error| panic!("lead.deleted does not verify: {error}"));
    let body: Value = serde_json::from_slice(&request.body).expect("a JSON body");
    let problems = leads_server::api::schema_problems("WebhookEvent", &body).expect("WebhookEvent");
    assert!(problems.is_empty(), "{problems:?}\n{body}");
    assert_eq!(body["event"], "lead.deleted");
    assert_eq!(
        body["data"],
        json!({"id": id.to_string()}),
        "the id, nothing else"
    );
    pin_event("lead_deleted_event", &body, &env);

    // The delivered lead.created is gone from the log with its event; the deletion's stays.
    let log = wait_for_log(&env, id_of(&deleted_to), |item| item["status"] == "success").await;
    assert_eq!(log.data().as_array().map(Vec::len), Some(1));
    let everything = deliveries(&env, None).await;
    let types: Vec<&Value> = everything
        .data()
        .as_array()
        .expect("a list")
        .iter()
        .map(|item| &item["event_type"])
        .collect();
    assert_eq!(types, [&json!("lead.deleted")], "{everything:?}");
    if let Some(server) = env.server() {
        let traces = server
            .traces(&email)
            .await
            .expect("the database is readable");
        assert!(
            traces.is_empty(),
            "the email is still in the database: {traces:?}"
        );
    }
}

/// `lead.deleted` came with 5.1.0: a 5.0.0 or 4.0.0 request for it is refused, naming
/// `event_type`, so no receiver of an older client is sent an event it does not know.
pub(super) async fn older_versions_may_not_subscribe_to_deletions() {
    let env = Env::start().await;
    for version in ["5.0.0", "4.0.0"] {
        let body = json!({"event_type": "lead.deleted", "target_url": PUBLIC_TARGET});
        let refused = env
            .raw_with_headers(
                "webhook_create",
                Method::POST,
                "/v1/webhooks",
                Some(&env.a.key),
                &[("api-version", version)],
                Some(("application/json", body.to_string().into_bytes())),
            )
            .await;
        assert_eq!(
            (refused.status, refused.fields()),
            (400, vec!["event_type".to_string()]),
            "{version}: {refused:?}"
        );
        pin(&format!("webhook_create_lead_deleted_{version}"), &refused);
    }
}
