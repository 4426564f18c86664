//! Answers that need control of the server, so only in-process: rate limits and internal
//! failures, on every operation.

use leads_contract_tests::Env;
use leads_contract_tests::operations::every_operation;
use leads_server::ratelimit::Limits;
use libtest_mimic::Trial;

use crate::{in_process_scenario, pin};

pub fn trials() -> Vec<Trial> {
    vec![
        in_process_scenario("faults::rate_limited", rate_limited),
        in_process_scenario("faults::internal_errors", internal_errors),
    ]
}

async fn rate_limited() {
    let env = Env::start_with(Limits {
        per_key: 1,
        per_organization: 1000,
    })
    .await;
    let first = env
        .observe("health_view", env.a.client.health_view().send().await)
        .await;
    assert_eq!(first.status, 200, "health is not rate limited");
    let allowed = env
        .observe("lead_list", env.a.client.lead_list().send().await)
        .await;
    assert_eq!(allowed.status, 200);
    assert_eq!(allowed.headers["x-ratelimit-remaining"], "0");
    for answer in every_operation(&env, &env.a.client).await {
        assert_eq!(answer.status, 429, "{answer:?}");
        pin!(format!("rate_limited_{}", answer.operation), answer);
    }
    // Organization B has its own key and budget.
    let other = env
        .observe("lead_list", env.b.client.lead_list().send().await)
        .await;
    assert_eq!(other.status, 200);
}

async fn internal_errors() {
    let env = Env::start().await;
    env.server()
        .expect("an in-process server")
        .fail_storage(true);
    let health = env
        .observe("health_view", env.a.client.health_view().send().await)
        .await;
    assert_eq!(health.status, 500);
    pin!("internal_error_health_view", health);
    for answer in every_operation(&env, &env.a.client).await {
        assert_eq!(answer.status, 500, "{answer:?}");
        assert_eq!(
            answer.body["error"], "Internal server error",
            "no detail is disclosed"
        );
        pin!(format!("internal_error_{}", answer.operation), answer);
    }
}
