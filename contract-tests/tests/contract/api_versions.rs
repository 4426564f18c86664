//! API versions: each request is served in the version its `api-version` header names (the
//! newest without one), every answer says which in its own `api-version` header, with
//! `Deprecation` and `Sunset` where the support policy announces them; a version the server
//! does not serve is refused with `400` naming the ones it does; the documents follow the
//! version; and a breaking change reaches only the clients of the version that made it.

use leads_client::ClientInfo;
use leads_client::types::WebhookEventType;
use leads_contract_tests::{Env, Exchange, Release, assert_served_in_version};
use leads_server::api::SERVED_VERSIONS;
use libtest_mimic::Trial;
use reqwest::Method;
use serde_json::json;

use crate::{pin, scenario};

pub fn trials() -> Vec<Trial> {
    vec![
        scenario(
            "api_versions::answers_name_the_version_they_were_served_in",
            answers_name_their_version,
        ),
        scenario(
            "api_versions::a_version_not_served_is_refused_naming_the_served_ones",
            versions_not_served,
        ),
        scenario(
            "api_versions::the_documents_follow_the_version",
            documents_follow_the_version,
        ),
        scenario(
            "api_versions::the_webhook_limit_is_answered_as_each_version_promised",
            webhook_limit_per_version,
        ),
        scenario(
            "api_versions::a_taken_email_names_its_holder_from_5_1_0",
            taken_email_per_version,
        ),
    ]
}

/// The newest version: the working spec's, which this suite's client was generated from.
fn newest() -> &'static str {
    <leads_client::Client as ClientInfo<leads_client::RetryPolicy>>::api_version()
}

/// The released versions served besides the newest, oldest first.
fn older_versions() -> impl Iterator<Item = &'static str> {
    SERVED_VERSIONS
        .iter()
        .map(|served| served.version)
        .filter(|version| *version != newest())
}

async fn list_in(env: &Env, version: Option<&str>) -> Exchange {
    let headers: Vec<(&str, &str)> = version.map(|v| ("api-version", v)).into_iter().collect();
    env.raw_with_headers(
        "lead_list",
        Method::GET,
        "/v1/leads?limit=1",
        Some(&env.a.key),
        &headers,
        None,
    )
    .await
}

async fn answers_name_their_version() {
    let env = Env::start().await;
    let unnamed = list_in(&env, None).await;
    assert_eq!(unnamed.status, 200, "{unnamed:?}");
    assert_served_in_version(&unnamed, newest());
    let by_client = env
        .observe(
            "lead_list",
            env.a.client.lead_list().source(env.tag()).send().await,
        )
        .await;
    assert_served_in_version(&by_client, newest());
    for served in &SERVED_VERSIONS {
        let answer = list_in(&env, Some(served.version)).await;
        assert_eq!(answer.status, 200, "{}: {answer:?}", served.version);
        assert_served_in_version(&answer, served.version);
        assert_eq!(
            answer.headers.contains_key("deprecation"),
            served.deprecated.is_some(),
            "{}: Deprecation (RFC 9745) exactly when the policy deprecates it",
            served.version
        );
        assert_eq!(
            answer.headers.contains_key("sunset"),
            served.sunset.is_some(),
            "{}: Sunset (RFC 8594) exactly when the policy sets the day",
            served.version
        );
        if let Some(deprecation) = answer.headers.get("deprecation") {
            let value = deprecation.to_str().unwrap_or_default();
            assert!(value.starts_with('@'), "a structured-field date: {value}");
        }
    }
    // Errors name the version too.
    let refused = env
        .raw_with_headers(
            "lead_view",
            Method::GET,
            "/v1/leads/not-a-uuid",
            Some(&env.a.key),
            &[],
            None,
        )
        .await;
    assert_eq!(refused.status, 400);
    assert_served_in_version(&refused, newest());
}

async fn versions_not_served() {
    let env = Env::start().await;
    let newest = semver::Version::parse(newest()).expect("semver");
    let next_major = format!("{}.0.0", newest.major + 1);
    let next_minor = format!("{}.{}.0", newest.major, newest.minor + 1);
    for (label, asked) in [
        ("next_major", next_major.as_str()),
        ("next_minor", next_minor.as_str()),
        ("never_released", "0.9.0"),
        ("not_a_version", "latest"),
    ] {
        let answer = list_in(&env, Some(asked)).await;
        assert_eq!(answer.status, 400, "{asked}: {answer:?}");
        assert_eq!(answer.body["code"], "VALIDATION_ERROR");
        assert_eq!(answer.body["details"][0]["field"], "api-version");
        let message = answer.body["error"].as_str().unwrap_or_default();
        for served in &SERVED_VERSIONS {
            assert!(message.contains(served.version), "{asked}: {message}");
        }
        assert!(
            !answer.headers.contains_key("api-version"),
            "{asked}: served in no version"
        );
        if label == "not_a_version" || label == "next_major" {
            pin!(format!("api_versions_refused_{label}"), answer);
        }
    }
}

async fn documents_follow_the_version() {
    let env = Env::start().await;
    for served in &SERVED_VERSIONS {
        let document = env
            .raw_get(
                "openapi_json_view",
                "/openapi.json",
                &[("api-version", served.version)],
            )
            .await;
        assert_eq!(document.status, 200);
        assert_eq!(document.body["info"]["version"], served.version);
        assert_served_in_version(&document, served.version);
        let yaml = env
            .raw_get(
                "openapi_yaml_view",
                "/openapi.yaml",
                &[("api-version", served.version)],
            )
            .await;
        assert_eq!(yaml.text.as_deref(), Some(served.document));
    }
    let unnamed = env.raw_get("openapi_json_view", "/openapi.json", &[]).await;
    assert_eq!(unnamed.body["info"]["version"], newest());
}

/// The breaking change of 5.0.0: the subscription beyond the organization's limit is a state
/// answer, `409 WEBHOOK_LIMIT_REACHED`, in 5.0.0 and after; 4.0.0 promised
/// `400 VALIDATION_ERROR`, and its clients still get it.
async fn webhook_limit_per_version() {
    let env = Env::start().await;
    let target = leads_contract_tests::operations::HARMLESS_TARGET;
    let body = json!({"event_type": "lead.updated", "target_url": target});
    for _ in 0..25 {
        let made = env
            .observe(
                "webhook_create",
                env.a
                    .client
                    .webhook_create()
                    .body(
                        leads_client::types::WebhookSubscriptionCreate::builder()
                            .event_type(WebhookEventType::LeadUpdated)
                            .target_url(target),
                    )
                    .send()
                    .await,
            )
            .await;
        assert_eq!(made.status, 201, "{made:?}");
    }
    let newest_answer = env
        .raw_json(
            "webhook_create",
            Method::POST,
            "/v1/webhooks",
            &env.a.key,
            &body,
        )
        .await;
    assert_eq!(newest_answer.status, 409, "{newest_answer:?}");
    assert_eq!(newest_answer.body["code"], "WEBHOOK_LIMIT_REACHED");
    pin!("api_versions_webhook_limit_newest", newest_answer);
    for version in older_versions() {
        let answer = env
            .raw_with_headers(
                "webhook_create",
                Method::POST,
                "/v1/webhooks",
                Some(&env.a.key),
                &[("api-version", version)],
                Some(("application/json", body.to_string().into_bytes())),
            )
            .await;
        Release::load(version).check(&answer);
        // 5.0.0 made the limit a `409`; the versions before it promised `400`.
        let (status, code) = if version.starts_with("4.") {
            (400, "VALIDATION_ERROR")
        } else {
            (409, "WEBHOOK_LIMIT_REACHED")
        };
        assert_eq!(answer.status, status, "{version}: {answer:?}");
        assert_eq!(answer.body["code"], code, "{version}");
        pin!(format!("api_versions_webhook_limit_{version}"), answer);
    }
    // Refused in every version, nothing was stored.
    let page = env
        .observe(
            "webhook_list",
            env.a
                .client
                .webhook_list()
                .limit(std::num::NonZeroU32::new(100).expect("100"))
                .send()
                .await,
        )
        .await;
    assert_eq!(page.data().as_array().map(Vec::len), Some(25));
}

/// 5.1.0 added `leadId` to the envelope: the `409` for a taken email names the lead that holds
/// it. The envelope of the versions before is closed, and their clients still get it as it was.
async fn taken_email_per_version() {
    let env = Env::start().await;
    let email = env.email("holder");
    let body = json!({ "email": email });
    let holder = env
        .raw_json("lead_create", Method::POST, "/v1/leads", &env.a.key, &body)
        .await;
    assert_eq!(holder.status, 201, "{holder:?}");
    let newest_answer = env
        .raw_json("lead_create", Method::POST, "/v1/leads", &env.a.key, &body)
        .await;
    assert_eq!(newest_answer.status, 409, "{newest_answer:?}");
    assert_eq!(newest_answer.body["leadId"], holder.body["data"]["id"]);
    for version in older_versions() {
        let answer = env
            .raw_with_headers(
                "lead_create",
                Method::POST,
                "/v1/leads",
                Some(&env.a.key),
                &[("api-version", version)],
                Some(("application/json", body.to_string().into_bytes())),
            )
            .await;
        Release::load(version).check(&answer);
        assert_eq!(answer.status, 409, "{version}: {answer:?}");
        assert_eq!(answer.body.get("leadId"), None, "{version}");
        pin!(format!("api_versions_taken_email_{version}"), answer);
    }
}
