//! `Idempotency-Key` on `lead_create`: replays byte for byte, reuse with another body,
//! concurrent requests with one key, failures that are not kept, keys per organization, a
//! replay after a restart, and malformed keys.

use leads_client::types::LeadCreate;
use leads_contract_tests::{Env, Exchange};
use libtest_mimic::Trial;
use reqwest::Method;
use serde_json::{Value, json};

use crate::create::typed;
use crate::{in_process_scenario, pin, scenario};

pub fn trials() -> Vec<Trial> {
    vec![
        scenario("idempotency::a_retry_is_answered_byte_for_byte", replayed),
        scenario(
            "idempotency::the_same_json_laid_out_otherwise_is_the_same_request",
            layout,
        ),
        scenario("idempotency::another_body_is_refused", another_body),
        scenario("idempotency::failures_are_not_kept", failures_not_kept),
        scenario(
            "idempotency::keys_belong_to_an_organization",
            per_organization,
        ),
        scenario(
            "idempotency::concurrent_requests_create_one_lead",
            concurrent,
        ),
        scenario("idempotency::malformed_keys", malformed_keys),
        scenario("idempotency::the_typed_client", typed_client),
        in_process_scenario("idempotency::a_retry_after_a_restart", after_restart),
    ]
}

/// A create sent as raw JSON text, with `Idempotency-Key: key` when given.
async fn create(env: &Env, key: Option<&str>, body: &str) -> Exchange {
    let headers: Vec<(&str, &str)> = key
        .map(|key| ("idempotency-key", key))
        .into_iter()
        .collect();
    env.raw_with_headers(
        "lead_create",
        Method::POST,
        "/v1/leads",
        Some(&env.a.key),
        &headers,
        Some(("application/json", body.as_bytes().to_vec())),
    )
    .await
}

/// How many leads of organization A have `email`.
async fn leads_with(env: &Env, email: &str) -> usize {
    let page = env
        .a
        .client
        .lead_list()
        .limit(100)
        .send()
        .await
        .expect("a page");
    page.data
        .iter()
        .filter(|lead| lead.email.as_str() == email)
        .count()
}

fn key(env: &Env, label: &str) -> String {
    format!("{label}-{}", env.tag())
}

async fn replayed() {
    let env = Env::start().await;
    let email = env.email("retried");
    let body = json!({"email": email, "metadata": {"utmSource": "google", "score": 40}});
    let key = key(&env, "retried");
    let first = create(&env, Some(&key), &body.to_string()).await;
    assert_eq!(first.status, 201);
    assert!(first.headers.get("idempotent-replayed").is_none());
    assert_eq!(first.headers["etag"], "\"1\"");
    let again = create(&env, Some(&key), &body.to_string()).await;
    assert_eq!(again.status, 201);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(again.headers["etag"], "\"1\"");
    assert_eq!(again.bytes, first.bytes, "the first answer, byte for byte");
    assert_eq!(leads_with(&env, &email).await, 1);
    pin!("first", first);
    pin!("replayed", again);
}

/// The fingerprint is of the JSON, not of its text: keys in another order, other spacing.
async fn layout() {
    let env = Env::start().await;
    let email = env.email("layout");
    let key = key(&env, "layout");
    let first = create(
        &env,
        Some(&key),
        &format!(r#"{{"email":"{email}","company":"Acme"}}"#),
    )
    .await;
    let again = create(
        &env,
        Some(&key),
        &format!("{{\n  \"company\": \"Acme\",\n  \"email\": \"{email}\"\n}}"),
    )
    .await;
    assert_eq!((first.status, again.status), (201, 201));
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(again.body, first.body);
}

async fn another_body() {
    let env = Env::start().await;
    let key = key(&env, "reused");
    let first = json!({"email": env.email("first")}).to_string();
    let second = json!({"email": env.email("second")}).to_string();
    assert_eq!(create(&env, Some(&key), &first).await.status, 201);
    let refused = create(&env, Some(&key), &second).await;
    assert_eq!(refused.status, 422);
    assert_eq!(refused.body["code"], "IDEMPOTENCY_KEY_REUSED");
    assert_eq!(
        leads_with(&env, &env.email("second")).await,
        0,
        "nothing created"
    );
    pin!("reused_with_another_body", refused);
}

/// A request refused before anything was written keeps nothing under its key, so that the
/// corrected retry goes through; a conflict is not kept either.
async fn failures_not_kept() {
    let env = Env::start().await;
    let corrected_key = key(&env, "corrected");
    let invalid = json!({"email": "not an email"}).to_string();
    assert_eq!(
        create(&env, Some(&corrected_key), &invalid).await.status,
        400
    );
    let email = env.email("corrected");
    let corrected = create(
        &env,
        Some(&corrected_key),
        &json!({"email": email}).to_string(),
    )
    .await;
    assert_eq!(corrected.status, 201);
    assert!(corrected.headers.get("idempotent-replayed").is_none());

    let taken = json!({"email": email}).to_string();
    let conflict_key = key(&env, "conflict");
    assert_eq!(create(&env, Some(&conflict_key), &taken).await.status, 409);
    let elsewhere = json!({"email": env.email("elsewhere")}).to_string();
    let retried = create(&env, Some(&conflict_key), &elsewhere).await;
    assert_eq!(
        retried.status, 201,
        "the conflict was not kept under the key"
    );
}

/// The same key in two organizations is two keys.
async fn per_organization() {
    let env = Env::start().await;
    let key = key(&env, "shared");
    let a = create(
        &env,
        Some(&key),
        &json!({"email": env.email("a")}).to_string(),
    )
    .await;
    let b = env
        .observe(
            "lead_create",
            env.b
                .client
                .lead_create()
                .idempotency_key(key.as_str())
                .body(typed::<LeadCreate>(json!({"email": env.email("b")})))
                .send()
                .await,
        )
        .await;
    assert_eq!((a.status, b.status), (201, 201));
    assert!(b.headers.get("idempotent-replayed").is_none());
    assert_ne!(a.data()["id"], b.data()["id"]);
}

/// Ten creates with one key at once: each answered with the one lead's `201` (first or
/// replayed) or `409 IDEMPOTENCY_KEY_IN_USE`, never two leads.
async fn concurrent() {
    let env = Env::start().await;
    let email = env.email("concurrent");
    let key = key(&env, "concurrent");
    let body = json!({"email": email}).to_string();
    let answers = futures::future::join_all((0..10).map(|_| create(&env, Some(&key), &body))).await;
    let created: Vec<&Exchange> = answers.iter().filter(|a| a.status == 201).collect();
    assert!(!created.is_empty());
    for answer in &answers {
        match answer.status {
            201 => assert_eq!(answer.bytes, created[0].bytes),
            409 => {
                assert_eq!(answer.body["code"], "IDEMPOTENCY_KEY_IN_USE");
                pin!("in_use", answer);
            }
            other => panic!("answered {other}: {answer:?}"),
        }
    }
    assert_eq!(leads_with(&env, &email).await, 1);
}

async fn malformed_keys() {
    let env = Env::start().await;
    let body = json!({"email": env.email("malformed")}).to_string();
    let too_long = "k".repeat(256);
    for (label, key) in [("empty", ""), ("too_long", too_long.as_str())] {
        let refused = create(&env, Some(key), &body).await;
        assert_eq!(refused.status, 400, "{label}");
        assert_eq!(refused.fields(), ["Idempotency-Key"], "{label}");
        pin!(format!("malformed_key_{label}"), refused);
    }
    let longest = create(&env, Some(&"k".repeat(255)), &body).await;
    assert_eq!(longest.status, 201, "255 characters are allowed");
}

/// The generated client sends the key and reads the replay header.
async fn typed_client() {
    let env = Env::start().await;
    let key = key(&env, "typed");
    let body: LeadCreate = typed(json!({"email": env.email("typed")}));
    let send = || {
        env.a
            .client
            .lead_create()
            .idempotency_key(key.as_str())
            .body(body.clone())
            .send()
    };
    let first = send().await.expect("created");
    let again = send().await.expect("replayed");
    assert_eq!(
        again.data.id, first.data.id,
        "the lead's id is in the replay"
    );
    assert_eq!(again.headers()["idempotent-replayed"], "true");
}

/// The answer is kept in the database: a restart forgets nothing.
async fn after_restart() {
    let mut env = Env::start().await;
    let key = key(&env, "restart");
    let body: Value = json!({"email": env.email("restart")});
    let first = create(&env, Some(&key), &body.to_string()).await;
    env.restart().await;
    let again = create(&env, Some(&key), &body.to_string()).await;
    assert_eq!((first.status, again.status), (201, 201));
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(again.bytes, first.bytes);
}
