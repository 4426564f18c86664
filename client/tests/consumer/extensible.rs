//! Extensible enums (`x-extensible` in the spec): answers of a later version of the API, with
//! values this client does not know, are read, not refused.

use leads_client::{Client, RetryPolicy, types};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::retries::{error_body, lead_body};

const LEAD_ID: &str = "0b7e5a52-3f55-4a8e-9d0e-6c1f3c7b2a10";

/// A client of a server that answers every request with `status` and `body`.
async fn answering(status: u16, body: serde_json::Value) -> (MockServer, Client) {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(&server)
        .await;
    let client = Client::with_api_key(&server.uri(), "aura_pk_test")
        .expect("a client")
        .with_retry_policy(RetryPolicy::default().with_max_retries(0));
    (server, client)
}

#[tokio::test]
async fn a_lead_status_this_client_does_not_know_is_read_as_unknown() {
    let mut body = lead_body();
    body["data"]["status"] = "nurturing".into();
    let (_server, client) = answering(200, body).await;
    let lead = client
        .lead_view()
        .id(LEAD_ID.parse::<uuid::Uuid>().unwrap())
        .send()
        .await
        .expect("the answer is read")
        .into_inner()
        .data;
    let types::LeadStatus::Unknown(value) = &lead.status else {
        panic!("read as {:?}", lead.status);
    };
    assert_eq!(value.as_str(), "nurturing");
    assert_eq!(lead.status.to_string(), "nurturing");
    assert!(
        "nurturing".parse::<types::LeadStatus>().is_err(),
        "a program cannot make one to send"
    );
}

/// The envelope of a `404` whose code is `code`, as the client reads it.
async fn not_found_with(code: &str) -> types::ErrorResponse {
    let (_server, client) = answering(404, error_body(code)).await;
    let error = client
        .lead_view()
        .id(LEAD_ID.parse::<uuid::Uuid>().unwrap())
        .send()
        .await
        .expect_err("a 404");
    let leads_client::Error::ErrorResponse(answer) = error else {
        panic!("the envelope is read: {error:?}");
    };
    assert_eq!(answer.status(), 404);
    answer.into_inner()
}

#[tokio::test]
async fn an_error_code_this_client_does_not_know_is_read_as_unknown() {
    let answer = not_found_with("LEAD_ARCHIVED").await;
    assert_eq!(answer.code.to_string(), "LEAD_ARCHIVED");
    assert!(matches!(answer.code, types::ErrorCode::Unknown(_)));
}

#[tokio::test]
async fn a_known_value_is_still_its_own_variant() {
    let answer = not_found_with("NOT_FOUND").await;
    assert_eq!(answer.code, types::ErrorCode::NotFound);
}
