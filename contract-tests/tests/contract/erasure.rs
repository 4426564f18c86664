//! `lead_delete`: a deleted lead is answered `404` by every operation on it and left out of
//! the list, its email is free again, `If-Match` guards it as it guards an update, another
//! organization's lead cannot be deleted, and nothing of it is left in the database (its
//! tables of copies, and on SQLite the bytes of the file and its WAL). Its webhooks are in
//! `webhooks::erasure`.

use leads_client::types::{LeadCreate, LeadUpdate};
use leads_contract_tests::{Env, Exchange};
use libtest_mimic::Trial;
use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

use crate::create::typed;
use crate::{pin, scenario};

pub fn trials() -> Vec<Trial> {
    vec![
        scenario(
            "erasure::a_deleted_lead_is_gone_everywhere",
            a_deleted_lead_is_gone_everywhere,
        ),
        scenario(
            "erasure::if_match_and_tenancy_guard_a_delete",
            if_match_and_tenancy_guard_a_delete,
        ),
    ]
}

/// A lead of organization A with personal fields, created through the client (which sends
/// an `Idempotency-Key`, so an answer holding the lead is kept); its id.
async fn personal_lead(env: &Env, email: &str) -> Uuid {
    let body: LeadCreate = typed(json!({"email": email, "full_name": "Erasable Person",
                                         "phone": "+14155550100"}));
    let created = env
        .observe(
            "lead_create",
            env.a.client.lead_create().body(body).send().await,
        )
        .await;
    assert_eq!(created.status, 201, "{created:?}");
    created.data()["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .expect("an id")
}

/// `DELETE /v1/leads/{id}` as organization A, with `If-Match: if_match` when given.
async fn delete(env: &Env, id: Uuid, if_match: Option<&str>) -> Exchange {
    let mut request = env.a.client.lead_delete().id(id);
    if let Some(tags) = if_match {
        request = request.if_match(tags);
    }
    env.observe("lead_delete", request.send().await).await
}

async fn a_deleted_lead_is_gone_everywhere() {
    let env = Env::start().await;
    let email = env.email("erased");
    let id = personal_lead(&env, &email).await;
    let update: LeadUpdate = typed(json!({"company": "Acme"}));
    let updated = env
        .observe(
            "lead_update",
            env.a
                .client
                .lead_update()
                .id(id)
                .body(update.clone())
                .send()
                .await,
        )
        .await;
    assert_eq!(updated.status, 200);

    let deleted = delete(&env, id, None).await;
    assert_eq!(deleted.status, 204, "{deleted:?}");
    pin!("delete", deleted);

    // Every operation on it finds nothing, a second delete included.
    let view = env
        .observe("lead_view", env.a.client.lead_view().id(id).send().await)
        .await;
    assert_eq!(view.status, 404);
    let again = env
        .observe(
            "lead_update",
            env.a.client.lead_update().id(id).body(update).send().await,
        )
        .await;
    assert_eq!(again.status, 404);
    let twice = delete(&env, id, None).await;
    assert_eq!(
        (twice.status, &twice.body["code"]),
        (404, &json!("NOT_FOUND"))
    );
    pin!("delete_deleted", twice);
    let listed = env
        .observe(
            "lead_list",
            env.a.client.lead_list().limit(100).send().await,
        )
        .await;
    let ids: Vec<&str> = listed
        .data()
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|lead| lead["id"].as_str())
        .collect();
    assert!(
        !ids.contains(&id.to_string().as_str()),
        "not listed: {ids:?}"
    );
    let by_email = env
        .observe(
            "lead_list",
            env.a.client.lead_list().email(email.as_str()).send().await,
        )
        .await;
    assert_eq!(by_email.data(), &json!([]));

    // Nothing of it is left beneath the API: not in the outbox (no subscriber here, so none
    // was stored), not in the kept answer of its create, not in the files.
    if let Some(server) = env.server() {
        for value in [email.as_str(), "Erasable Person", "+14155550100"] {
            let traces = server
                .traces(value)
                .await
                .expect("the database is readable");
            assert!(
                traces.is_empty(),
                "{value} is still in the database: {traces:?}"
            );
        }
    }

    // Its email, in another case, is free again.
    let reused = personal_lead(&env, &email.to_uppercase()).await;
    assert_ne!(reused, id);
}

async fn if_match_and_tenancy_guard_a_delete() {
    let env = Env::start().await;
    let id = personal_lead(&env, &env.email("guarded")).await;

    let stale = delete(&env, id, Some("\"7\"")).await;
    assert_eq!(
        (stale.status, &stale.body["code"]),
        (412, &json!("PRECONDITION_FAILED"))
    );
    pin!("delete_stale_if_match", stale);
    let foreign = env
        .observe(
            "lead_delete",
            env.b.client.lead_delete().id(id).send().await,
        )
        .await;
    assert_eq!(
        foreign.status, 404,
        "another organization's lead is not found"
    );
    pin!("delete_other_organizations_lead", foreign);
    // Raw: the client's id is a UUID, so it cannot send another.
    let bad_id = env
        .raw(
            "lead_delete",
            Method::DELETE,
            "/v1/leads/not-a-uuid",
            Some(&env.a.key),
            None,
        )
        .await;
    assert_eq!(
        (bad_id.status, bad_id.fields()),
        (400, vec!["id".to_string()])
    );
    pin!("delete_invalid_id", bad_id);
    let view = env
        .observe("lead_view", env.a.client.lead_view().id(id).send().await)
        .await;
    assert_eq!(view.status, 200, "refused deletes change nothing");

    let current = delete(&env, id, Some("\"1\"")).await;
    assert_eq!(current.status, 204, "the current version is deleted");
}
