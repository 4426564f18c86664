//! The spec as the server serves it: `/openapi.json` through the client, `/openapi.yaml` and
//! `/docs` raw (the client cannot read a body that is not JSON, nor `304`). Each needs no key,
//! is not rate limited, and answers `304` to the `ETag` it gave.

use std::path::Path;

use leads_contract_tests::{Env, Exchange};
use leads_server::ratelimit::Limits;
use libtest_mimic::Trial;
use serde_json::{Value, json};

use crate::{in_process_scenario, pin, scenario};

pub fn trials() -> Vec<Trial> {
    vec![
        scenario("reference::openapi_json", openapi_json),
        scenario("reference::openapi_yaml", openapi_yaml),
        scenario("reference::docs", docs),
        in_process_scenario("reference::not_rate_limited", not_rate_limited),
    ]
}

fn spec_path() -> std::path::PathBuf {
    leads_spec::workspace_spec(Path::new(env!("CARGO_MANIFEST_DIR"))).expect("the spec")
}

fn spec() -> Value {
    leads_spec::load(&spec_path()).expect("the spec loads")
}

fn etag(exchange: &Exchange) -> String {
    let etag = exchange.headers["etag"].to_str().expect("an ASCII ETag");
    assert!(
        etag.len() == 66 && etag.starts_with('"') && etag.ends_with('"'),
        "a strong ETag: {etag}"
    );
    etag.to_string()
}

/// `path` again with the `ETag` it gave: `304`, no body; and with another: `200`.
async fn revalidate(env: &Env, operation: &'static str, path: &str, etag: &str, label: &str) {
    let cached = env
        .raw_get(operation, path, &[("if-none-match", etag)])
        .await;
    assert_eq!(cached.status, 304, "{cached:?}");
    assert_eq!(cached.headers["etag"], etag);
    pin!(format!("{label}_not_modified"), cached);
    let listed = format!("\"0\", W/{etag}");
    let weak = env
        .raw_get(operation, path, &[("if-none-match", &listed)])
        .await;
    assert_eq!(weak.status, 304, "a weak match in a list is a match");
    let stale = env
        .raw_get(operation, path, &[("if-none-match", "\"stale\"")])
        .await;
    assert_eq!(stale.status, 200, "another ETag gets the document");
}

async fn openapi_json() {
    let env = Env::start().await;
    let client = env.client_without_key();
    let answer = env
        .observe("openapi_json_view", client.openapi_json_view().send().await)
        .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, spec(), "/openapi.json is the spec");
    let mut snapshot = answer.snapshot();
    snapshot["body"] = json!("[the spec, compared above]");
    insta::assert_json_snapshot!("openapi_json", snapshot);
    revalidate(
        &env,
        "openapi_json_view",
        "/openapi.json",
        &etag(&answer),
        "openapi_json",
    )
    .await;
}

async fn openapi_yaml() {
    let env = Env::start().await;
    let answer = env.raw_get("openapi_yaml_view", "/openapi.yaml", &[]).await;
    assert_eq!(answer.status, 200);
    let file = std::fs::read_to_string(spec_path()).expect("the spec reads");
    assert!(
        answer.text.as_deref() == Some(file.as_str()),
        "/openapi.yaml is the spec file, byte for byte"
    );
    pin!("openapi_yaml", answer);
    revalidate(
        &env,
        "openapi_yaml_view",
        "/openapi.yaml",
        &etag(&answer),
        "openapi_yaml",
    )
    .await;
}

async fn docs() {
    let env = Env::start().await;
    let answer = env.raw_get("docs_view", "/docs", &[]).await;
    assert_eq!(answer.status, 200);
    let served = leads_server::reference::served_versions();
    let page = leads_reference::render(&spec(), &served).expect("the page renders");
    assert!(
        answer.text.as_deref() == Some(page.as_str()),
        "/docs is the reference page of the spec (`cargo xtask docs` writes the same)"
    );
    pin!("docs", answer);
    revalidate(&env, "docs_view", "/docs", &etag(&answer), "docs").await;
}

/// With a key that has used up its budget, the reference is still served, and its answers
/// carry no rate-limit headers.
async fn not_rate_limited() {
    let env = Env::start_with(Limits {
        per_key: 1,
        per_organization: 1000,
        ..Limits::default()
    })
    .await;
    let client = &env.a.client;
    let allowed = env
        .observe("lead_list", client.lead_list().send().await)
        .await;
    assert_eq!(allowed.headers["x-ratelimit-remaining"], "0");
    for _ in 0..3 {
        let answer = env
            .observe("openapi_json_view", client.openapi_json_view().send().await)
            .await;
        assert_eq!(answer.status, 200);
        assert!(!answer.headers.contains_key("x-ratelimit-limit"));
    }
    let limited = env
        .observe("lead_list", client.lead_list().send().await)
        .await;
    assert_eq!(limited.status, 429, "the key's budget was used up before");
}
