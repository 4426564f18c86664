//! A consumer's webhook receiver, as the README's "Receiving webhooks" shows it: a real Leads
//! server in-process delivers to an endpoint in the test (wiremock), whose handler verifies
//! each delivery with `leads_client::webhooks::verify` and answers with what it decided. The
//! server's deliveries log then says whether the receiver took each one. The real server's
//! deliveries, captured, are also replayed at the receiver as an attacker would: stripped of
//! their Standard Webhooks headers, or later than the timestamp window.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use leads_client::Client;
use leads_client::types::{
    LeadCreate, WebhookDelivery, WebhookDeliveryStatus, WebhookEvent, WebhookEventType,
    WebhookSubscriptionCreate, WebhookSubscriptionCreated,
};
use leads_client::webhooks;
use leads_server::testing::TestServer;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// Handles one delivery: `body` is the request's body, byte for byte as received.
fn receive(secret: &str, headers: &HeaderMap, body: &[u8]) -> StatusCode {
    let event = match webhooks::verify(secret, body, headers) {
        Ok(event) => event,
        // Not from the Leads API, stripped of its timestamp, or older than 5 minutes.
        Err(_) => return StatusCode::UNAUTHORIZED,
    };
    match event {
        WebhookEvent::CreatedEvent(created) => println!("new lead: {}", created.data.email),
        WebhookEvent::UpdatedEvent(updated) => println!("lead changed: {}", updated.data.id),
        WebhookEvent::StatusChangedEvent(changed) => println!("lead moved: {}", changed.data.id),
        WebhookEvent::DeletedEvent(deleted) => println!("lead deleted: {}", deleted.data.id),
    }
    StatusCode::OK
}

/// The endpoint: `receive` with the secret it is given once the subscription exists.
struct Endpoint {
    secret: Arc<Mutex<String>>,
}

impl Respond for Endpoint {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let secret = self.secret.lock().map(|s| s.clone()).unwrap_or_default();
        ResponseTemplate::new(receive(&secret, &request.headers, &request.body).as_u16())
    }
}

/// Subscribes `endpoint` to `lead.created`; the new subscription, with its secret.
async fn subscribe(
    client: &Client,
    endpoint: &MockServer,
) -> Result<WebhookSubscriptionCreated, Box<dyn std::error::Error>> {
    Ok(client
        .webhook_create()
        .body(
            WebhookSubscriptionCreate::builder()
                .event_type(WebhookEventType::LeadCreated)
                .target_url(format!("{}/aura", endpoint.uri())),
        )
        .send()
        .await?
        .into_inner()
        .data)
}

async fn create_a_lead(client: &Client) -> Result<(), Box<dyn std::error::Error>> {
    client
        .lead_create()
        .body(LeadCreate::builder().email("john@example.com"))
        .send()
        .await?;
    Ok(())
}

/// The only delivery of the log, once it is no longer pending (within 10 s).
async fn settled(client: &Client) -> Result<WebhookDelivery, Box<dyn std::error::Error>> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = client.webhook_delivery_list().send().await?.into_inner();
        if let Some(delivery) = log.data.first()
            && delivery.status != WebhookDeliveryStatus::Pending
        {
            return Ok(delivery.clone());
        }
        if Instant::now() > deadline {
            return Err("the delivery did not settle within 10 s".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn deliveries_verify_with_the_subscriptions_secret() -> Result<(), Box<dyn std::error::Error>>
{
    // A server that may deliver to loopback, with its retries a hundred times quicker.
    let server = TestServer::builder().webhooks_to_loopback().start().await?;
    let client = Client::with_api_key(server.base_url(), server.api_key())?;
    let endpoint = MockServer::start().await;
    let secret = Arc::new(Mutex::new(String::new()));
    Mock::given(wiremock::matchers::method("POST"))
        .respond_with(Endpoint {
            secret: Arc::clone(&secret),
        })
        .mount(&endpoint)
        .await;

    let subscription = subscribe(&client, &endpoint).await?;
    *secret.lock().map_err(|_| "poisoned")? = subscription.secret.to_string();
    create_a_lead(&client).await?;
    let delivery = settled(&client).await?;
    assert_eq!(delivery.status, WebhookDeliveryStatus::Success);
    assert_eq!(delivery.attempt_count, 1, "taken at the first attempt");
    Ok(())
}

#[tokio::test]
async fn a_receiver_with_another_secret_refuses_them() -> Result<(), Box<dyn std::error::Error>> {
    let server = TestServer::builder().webhooks_to_loopback().start().await?;
    let client = Client::with_api_key(server.base_url(), server.api_key())?;
    let endpoint = MockServer::start().await;
    let another = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw1Yx3vJ1Z2kM=".to_string();
    Mock::given(wiremock::matchers::method("POST"))
        .respond_with(Endpoint {
            secret: Arc::new(Mutex::new(another)),
        })
        .mount(&endpoint)
        .await;
    subscribe(&client, &endpoint).await?;
    create_a_lead(&client).await?;
    // Refused at every attempt (401), so the delivery fails.
    let delivery = settled(&client).await?;
    assert_eq!(delivery.status, WebhookDeliveryStatus::Failed);
    assert_eq!(delivery.status_code, Some(401));
    Ok(())
}

/// The requests the server sent to `endpoint` once its delivery has settled.
async fn captured(
    client: &Client,
    endpoint: &MockServer,
) -> Result<Vec<Request>, Box<dyn std::error::Error>> {
    settled(client).await?;
    Ok(endpoint
        .received_requests()
        .await
        .ok_or("wiremock records requests")?)
}

#[tokio::test]
async fn a_captured_delivery_cannot_be_replayed() -> Result<(), Box<dyn std::error::Error>> {
    let server = TestServer::builder().webhooks_to_loopback().start().await?;
    let client = Client::with_api_key(server.base_url(), server.api_key())?;
    let endpoint = MockServer::start().await;
    Mock::given(wiremock::matchers::method("POST"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&endpoint)
        .await;
    let secret = subscribe(&client, &endpoint).await?.secret.to_string();
    create_a_lead(&client).await?;
    let requests = captured(&client, &endpoint).await?;
    let [sent] = requests.as_slice() else {
        return Err(format!("expected one request, got {}", requests.len()).into());
    };
    assert!(webhooks::verify(&secret, &sent.body, &sent.headers).is_ok());
    // `verify` reads no `X-Aura-Signature`, which receivers following Aura's docs check:
    // `sign`, which makes it, must make the server's, byte for byte.
    let header = |name| -> Result<&str, Box<dyn std::error::Error>> {
        Ok(sent.headers.get(name).ok_or(name)?.to_str()?)
    };
    let resigned = webhooks::sign(
        &secret,
        header(webhooks::WEBHOOK_ID)?,
        header(webhooks::WEBHOOK_TIMESTAMP)?.parse()?,
        &sent.body,
    )?;
    assert_eq!(header(webhooks::AURA_SIGNATURE)?, resigned.aura_signature());
    assert_eq!(
        header(webhooks::WEBHOOK_SIGNATURE)?,
        resigned.webhook_signature()
    );

    // Its `webhook-*` headers removed, so that no timestamp dates it: refused, and saying why.
    let mut stripped = sent.headers.clone();
    for name in [
        webhooks::WEBHOOK_ID,
        webhooks::WEBHOOK_TIMESTAMP,
        webhooks::WEBHOOK_SIGNATURE,
    ] {
        assert!(stripped.remove(name).is_some(), "the server sends {name}");
    }
    assert!(stripped.contains_key(webhooks::AURA_SIGNATURE));
    assert!(matches!(
        webhooks::verify(&secret, &sent.body, &stripped),
        Err(webhooks::VerifyError::AuraSignatureAlone)
    ));
    assert_eq!(
        receive(&secret, &stripped, &sent.body),
        StatusCode::UNAUTHORIZED
    );

    // As sent, but past the window.
    let later = SystemTime::now() + webhooks::TOLERANCE + Duration::from_secs(2);
    assert!(matches!(
        webhooks::verify_at(&secret, &sent.body, &sent.headers, later),
        Err(webhooks::VerifyError::Stale { .. })
    ));
    Ok(())
}

#[tokio::test]
async fn a_retry_carries_the_same_webhook_id() -> Result<(), Box<dyn std::error::Error>> {
    // What a receiver deduplicates on: the first attempt's answer is lost (a 500 here), and the
    // retry, verified on its own, is the same delivery by its `webhook-id`.
    let server = TestServer::builder().webhooks_to_loopback().start().await?;
    let client = Client::with_api_key(server.base_url(), server.api_key())?;
    let endpoint = MockServer::start().await;
    Mock::given(wiremock::matchers::method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&endpoint)
        .await;
    Mock::given(wiremock::matchers::method("POST"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&endpoint)
        .await;
    let secret = subscribe(&client, &endpoint).await?.secret.to_string();
    create_a_lead(&client).await?;
    let requests = captured(&client, &endpoint).await?;
    assert_eq!(requests.len(), 2, "one failed attempt, one retry");
    let mut ids = Vec::new();
    for request in &requests {
        assert!(webhooks::verify(&secret, &request.body, &request.headers).is_ok());
        ids.push(request.headers.get(webhooks::WEBHOOK_ID).cloned());
    }
    assert!(ids[0].is_some());
    assert_eq!(ids[0], ids[1]);
    Ok(())
}
