//! A consumer's webhook receiver, as the README's "Receiving webhooks" shows it: a real Leads
//! server in-process delivers to an endpoint in the test (wiremock), whose handler verifies
//! each delivery with `leads_client::webhooks::verify` and answers with what it decided. The
//! server's deliveries log then says whether the receiver took each one.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
        // Not from the Leads API, or replayed: refuse it.
        Err(_) => return StatusCode::UNAUTHORIZED,
    };
    match event {
        WebhookEvent::CreatedEvent(created) => println!("new lead: {}", created.data.email),
        WebhookEvent::UpdatedEvent(updated) => println!("lead changed: {}", updated.data.id),
        WebhookEvent::StatusChangedEvent(changed) => println!("lead moved: {}", changed.data.id),
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
