//! `lead_create`: the seed example, every validation rule, metadata and source, conflicts,
//! the body size limit.

use leads_client::types::{LeadCreate, LeadMetadata};
use leads_contract_tests::{Env, Exchange};
use libtest_mimic::Trial;
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{pin, scenario};

pub fn trials() -> Vec<Trial> {
    vec![
        scenario("create::seed_example", seed_example),
        scenario("create::every_field", every_field),
        scenario("create::metadata_null_is_skipped", metadata_null_is_skipped),
        scenario("create::validation_rules", validation_rules),
        scenario("create::metadata_at_the_limits", metadata_at_the_limits),
        scenario("create::many_unknown_fields", many_unknown_fields),
        scenario(
            "create::numbers_come_back_as_sent",
            numbers_come_back_as_sent,
        ),
        scenario("create::several_fields_at_once", several_fields_at_once),
        scenario("create::unreadable_bodies", unreadable_bodies),
        scenario("create::duplicate_email", duplicate_email),
        scenario("create::body_at_the_limit", body_at_the_limit),
        scenario("create::body_over_the_limit", body_over_the_limit),
    ]
}

/// A typed client body from JSON (the client's own types check it on the way).
pub fn typed<T: serde::de::DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).expect("a body the client accepts")
}

pub async fn create(env: &Env, body: Value) -> Exchange {
    let body: LeadCreate = typed(body);
    env.observe(
        "lead_create",
        env.a.client.lead_create().body(body).send().await,
    )
    .await
}

/// The seed page's example: only an email.
async fn seed_example() {
    let env = Env::start().await;
    let created = create(&env, json!({"email": env.email("john")})).await;
    assert_eq!(created.status, 201);
    assert_eq!(created.data()["status"], "new");
    assert_eq!(created.data()["created_at"], created.data()["updated_at"]);
    pin!("seed_example", created);
}

async fn every_field() {
    let env = Env::start().await;
    let created = create(
        &env,
        json!({
            "email": env.email("full"),
            "full_name": "John Doe",
            "phone": "+14155552671",
            "company": "Acme Corp",
            "timezone": "America/New_York",
            "metadata": {
                "utmSource": "google", "utmMedium": "cpc", "utmCampaign": "spring-2026",
                "utmTerm": "crm", "utmContent": "ad-1", "utmId": "x1",
                "referrer": "https://acme.com/book-a-call",
                "countryCode": "US", "language": "en-US", "latitude": 40.7128,
                "longitude": -74.006, "screenWidth": 1920, "screenHeight": 1080,
                "dataConsentAcceptedAt": "2026-05-08T14:23:11Z",
                "landingVariant": "b", "experiment": {"arm": 2, "flags": ["x", "y"]}
            }
        }),
    )
    .await;
    assert_eq!(created.status, 201);
    let lead = created.data();
    assert_eq!(
        lead["metadata"]["landingVariant"], "b",
        "unknown keys are kept"
    );
    assert_eq!(
        lead["metadata"]["experiment"],
        json!({"arm": 2, "flags": ["x", "y"]})
    );
    assert_eq!(
        lead["source"],
        json!({
            "referrer": "https://acme.com/book-a-call", "utm_campaign": "spring-2026",
            "utm_content": "ad-1", "utm_medium": "cpc", "utm_source": "google", "utm_term": "crm"
        })
    );
    pin!("every_field", created);

    let id: Uuid = lead["id"].as_str().unwrap().parse().unwrap();
    let read = env
        .observe("lead_view", env.a.client.lead_view().id(id).send().await)
        .await;
    assert_eq!(read.data(), lead, "a read returns what the create returned");
    pin!("every_field_read", read);
}

async fn metadata_null_is_skipped() {
    let env = Env::start().await;
    let created = create(
        &env,
        json!({"email": env.email("nometa"), "metadata": null}),
    )
    .await;
    assert_eq!(created.status, 201);
    assert_eq!(created.data()["metadata"], Value::Null);
    assert_eq!(created.data()["source"]["utm_source"], Value::Null);
}

/// One rule broken at a time; each answer names the field.
async fn validation_rules() {
    let env = Env::start().await;
    // Through the client: values its types accept but the server refuses.
    let client_cases = [
        ("email_format", json!({"email": "not-an-email"}), "email"),
        (
            "timezone_not_iana",
            json!({"email": env.email("tz"), "timezone": "Mars/Olympus"}),
            "timezone",
        ),
        (
            "latitude_out_of_range",
            json!({"email": env.email("lat"), "metadata": {"latitude": 91.5}}),
            "metadata.latitude",
        ),
    ];
    for (name, body, field) in client_cases {
        let answer = create(&env, body).await;
        assert_eq!(
            (answer.status, answer.fields()),
            (400, vec![field.to_string()]),
            "{name}"
        );
        pin!(format!("create_invalid_{name}"), answer);
    }
    // Raw: the client's types refuse to send these at all.
    let long_email = format!("{}@example.com", "a".repeat(250));
    let raw_cases = [
        ("email_missing", json!({"full_name": "No Email"}), "email"),
        ("email_too_long", json!({"email": long_email}), "email"),
        ("email_not_a_string", json!({"email": 5}), "email"),
        (
            "phone_not_e164",
            json!({"email": env.email("ph"), "phone": "415-555-2671"}),
            "phone",
        ),
        (
            "full_name_too_long",
            json!({"email": env.email("fn"), "full_name": "x".repeat(201)}),
            "full_name",
        ),
        (
            "unknown_field",
            json!({"email": env.email("uf"), "fullname": "Typo"}),
            "fullname",
        ),
        (
            "metadata_not_an_object",
            json!({"email": env.email("mo"), "metadata": "utm=google"}),
            "metadata",
        ),
        (
            "metadata_wrong_type",
            json!({"email": env.email("mt"), "metadata": {"screenWidth": "wide"}}),
            "metadata.screenWidth",
        ),
        // The limits: at most 100 keys and 16 KiB.
        (
            "metadata_too_many_keys",
            json!({"email": env.email("mk"), "metadata": keys(101)}),
            "metadata",
        ),
        (
            "metadata_too_large",
            json!({"email": env.email("ml"), "metadata": {"blob": "b".repeat(16 * 1024)}}),
            "metadata",
        ),
    ];
    for (name, body, field) in raw_cases {
        let answer = env
            .raw_json("lead_create", Method::POST, "/v1/leads", &env.a.key, &body)
            .await;
        assert_eq!(
            (answer.status, answer.fields()),
            (400, vec![field.to_string()]),
            "{name}"
        );
        pin!(format!("create_invalid_{name}"), answer);
    }
}

/// A metadata object of `count` small keys.
fn keys(count: usize) -> Value {
    Value::Object((0..count).map(|i| (format!("k{i}"), json!(i))).collect())
}

/// Metadata at its limits is taken, and its numbers come back as they were sent.
async fn metadata_at_the_limits() {
    let env = Env::start().await;
    let many = env
        .raw_json(
            "lead_create",
            Method::POST,
            "/v1/leads",
            &env.a.key,
            &json!({"email": env.email("mk"), "metadata": keys(100)}),
        )
        .await;
    assert_eq!(many.status, 201);
    assert_eq!(many.data()["metadata"], keys(100));
    // `{"blob":"…"}` is 11 bytes around the string.
    let blob = "b".repeat(16 * 1024 - 11);
    let large = create(
        &env,
        json!({"email": env.email("ml"), "metadata": {"blob": blob}}),
    )
    .await;
    assert_eq!(large.status, 201);
}

/// Metadata comes back as it was sent: `40` stays `40` (not `40.0`), unknown keys and nested
/// values as they were, on create and on every later read.
async fn numbers_come_back_as_sent() {
    let env = Env::start().await;
    let metadata = json!({
        "latitude": 40, "longitude": -74.006, "screenWidth": 1920,
        "experiment": {"ratio": 0.5, "big": 12_345_678_901_234_567_890_u64, "arms": [1, 2.5]}
    });
    // Raw both ways: the client's types hold `latitude` as a float and would write `40.0`.
    let body = json!({"email": env.email("num"), "metadata": metadata});
    let created = env
        .raw_json("lead_create", Method::POST, "/v1/leads", &env.a.key, &body)
        .await;
    assert_eq!(created.status, 201);
    assert_eq!(created.data()["metadata"], metadata);
    let path = format!("/v1/leads/{}", created.data()["id"].as_str().unwrap());
    let read = env
        .raw("lead_view", Method::GET, &path, Some(&env.a.key), None)
        .await;
    assert_eq!(read.data()["metadata"], metadata);
    assert_eq!(
        read.data()["metadata"]["latitude"].as_u64(),
        Some(40),
        "an integer still"
    );
}

/// A body of many unknown fields names at most 20, each cut to 100 characters.
async fn many_unknown_fields() {
    let env = Env::start().await;
    let mut body = serde_json::Map::new();
    body.insert("email".into(), json!(env.email("uk")));
    for i in 0..4_000 {
        body.insert(format!("{i:05}{}", "u".repeat(200)), json!(1));
    }
    let answer = env
        .raw_json(
            "lead_create",
            Method::POST,
            "/v1/leads",
            &env.a.key,
            &Value::Object(body),
        )
        .await;
    assert_eq!(answer.status, 400);
    let fields = answer.fields();
    assert_eq!(fields.len(), 20);
    assert!(
        fields.iter().all(|f| f.chars().count() == 101),
        "{fields:?}"
    );
    assert!(answer.body.to_string().len() < 8 * 1024, "a bounded answer");
}

/// Raw (the client's types refuse these): several rules broken at once, each field named.
async fn several_fields_at_once() {
    let env = Env::start().await;
    let body = json!({
        "email": "not-an-email",
        "phone": "555-1234",
        "timezone": "America/New_York",
        "metadata": {"latitude": 91, "screenWidth": "wide"},
        "nickname": "J"
    });
    let answer = env
        .raw_json("lead_create", Method::POST, "/v1/leads", &env.a.key, &body)
        .await;
    let mut fields = answer.fields();
    fields.sort();
    assert_eq!(
        (answer.status, fields),
        (
            400,
            [
                "email",
                "metadata.latitude",
                "metadata.screenWidth",
                "nickname",
                "phone"
            ]
            .map(String::from)
            .to_vec()
        )
    );
    pin!("create_invalid_several_fields", answer);
}

/// Raw: bodies that are not JSON, or not declared as JSON, cannot go through the client.
async fn unreadable_bodies() {
    let env = Env::start().await;
    let key = Some(env.a.key.as_str());
    let cases: [(&str, &str, &[u8]); 3] = [
        ("malformed_json", "application/json", b"{\"email\": "),
        (
            "not_json_content_type",
            "text/plain",
            b"{\"email\": \"a@b.co\"}",
        ),
        (
            "json_but_not_an_object",
            "application/json",
            b"[\"a@b.co\"]",
        ),
    ];
    for (name, content_type, body) in cases {
        let answer = post_raw(&env, key, content_type, body.to_vec()).await;
        assert_eq!(answer.status, 400, "{name}");
        pin!(format!("create_{name}"), answer);
    }
}

async fn duplicate_email() {
    let env = Env::start().await;
    let first = create(&env, json!({"email": env.email("dup")})).await;
    assert_eq!(first.status, 201);
    let upper = env
        .email("dup")
        .to_uppercase()
        .replace(&env.tag().to_uppercase(), env.tag());
    let again = create(&env, json!({"email": upper})).await;
    assert_eq!(again.status, 409);
    // The envelope names the lead that holds the email.
    assert_eq!(again.body["leadId"], first.body["data"]["id"]);
    pin!("create_duplicate_email", again);
}

/// A lead with this much metadata.
fn with_blob(env: &Env, label: &str, blob_bytes: usize) -> LeadCreate {
    let mut metadata: LeadMetadata = typed(json!({}));
    metadata
        .extra
        .insert("blob".into(), json!("a".repeat(blob_bytes)));
    LeadCreate {
        metadata: Some(metadata),
        ..typed(json!({"email": env.email(label)}))
    }
}

/// Raw: a body of 1 MiB is read whole. No valid lead is that large (metadata is bounded),
/// so the body is a small lead padded with whitespace.
async fn body_at_the_limit() {
    let env = Env::start().await;
    let lead = json!({"email": env.email("large")}).to_string();
    let mut body = " ".repeat(1024 * 1024 - lead.len()).into_bytes();
    body.extend_from_slice(lead.as_bytes());
    let key = Some(env.a.key.as_str());
    let answer = post_raw(&env, key, "application/json", body).await;
    assert_eq!(answer.status, 201);
}

async fn body_over_the_limit() {
    let env = Env::start().await;
    let body = with_blob(&env, "big", 1024 * 1024);
    let answer = env
        .observe(
            "lead_create",
            env.a.client.lead_create().body(body).send().await,
        )
        .await;
    assert_eq!(answer.status, 413);
    pin!("create_body_over_the_limit", answer);
}

/// Raw: `body` as `content_type` to `POST /v1/leads`, with `key` if any.
async fn post_raw(env: &Env, key: Option<&str>, content_type: &str, body: Vec<u8>) -> Exchange {
    env.raw(
        "lead_create",
        Method::POST,
        "/v1/leads",
        key,
        Some((content_type, body)),
    )
    .await
}
