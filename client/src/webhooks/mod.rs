//! The receiving side of webhooks: checking that a delivery comes from the Leads API, is not
//! a replay, and reading its event.
//!
//! A subscription (`POST /v1/webhooks`, [`Client::webhook_create`](crate::Client::webhook_create))
//! has a signing secret, `whsec_` and the base64 of 32 random bytes, shown once when the
//! subscription is made. Every delivery is a JSON `POST` of a
//! [`WebhookEvent`](crate::types::WebhookEvent) with these headers:
//!
//! - the [Standard Webhooks](https://www.standardwebhooks.com/) headers:
//!   [`webhook-id`](WEBHOOK_ID), the delivery's id, the same on every attempt;
//!   [`webhook-timestamp`](WEBHOOK_TIMESTAMP), when the attempt was sent, in Unix seconds; and
//!   [`webhook-signature`](WEBHOOK_SIGNATURE), space-separated `v1,<base64>` entries, each the
//!   HMAC-SHA256 of `<webhook-id>.<webhook-timestamp>.<body>` keyed with the base64-decoded
//!   part of the secret after `whsec_`;
//! - [`X-Aura-Signature`](AURA_SIGNATURE), Aura's own: the lowercase hex HMAC-SHA256 of the
//!   body alone, keyed with the secret's UTF-8 bytes as shown (`whsec_` included).
//!
//! # What a receiver must check
//!
//! 1. **The signature**, over the body exactly as received: some `v1` entry of
//!    `webhook-signature` must be the HMAC of `<webhook-id>.<webhook-timestamp>.<body>`,
//!    compared in constant time. Verify the bytes before anything parses them: a body parsed
//!    and written out again is not the body that was signed.
//! 2. **The timestamp**: `webhook-timestamp` must be within [`TOLERANCE`] (5 minutes) of the
//!    receiver's clock, either way. The signature covers it, so a captured delivery stops
//!    verifying 5 minutes after it was sent.
//! 3. **The `webhook-id`, once verified**: delivery is at least once, so the same delivery
//!    comes again with the same `webhook-id` (and a new timestamp and signature) after a lost
//!    answer or a server restart; and within the 5 minutes a captured delivery can be sent
//!    again as it is. Remember the ids of the deliveries handled for at least 10 minutes
//!    (twice [`TOLERANCE`]: a delivery verifies from 5 minutes before its timestamp to 5
//!    minutes after, by the receiver's clock), and longer to absorb late redeliveries; answer
//!    `2xx` to an id already handled without acting again (any other answer is retried, and
//!    counts toward disabling the subscription).
//!
//! [`verify`] does the first two (and refuses a request without the three Standard Webhooks
//! headers), then parses the body into a [`WebhookEvent`](crate::types::WebhookEvent); the
//! third is the receiver's, who has the store to remember ids in. [`verify_at`] does the same
//! against a clock of the caller's. [`verify_any`] (and [`verify_any_at`]) accept a delivery
//! signed with any of several secrets: after a rotation (`POST /v1/webhooks/{id}/rotate-secret`)
//! give them the new secret and the one it replaced until the overlap ends, so that deliveries
//! verify whichever secret your receivers were deployed with. [`sign`] signs a body as the
//! server does, for testing a receiver without a server.
//!
//! A test event (`POST /v1/webhooks/{id}/test`, [`Client::webhook_test`](crate::Client::webhook_test))
//! is delivered, signed and verified like any other: an event of the subscription's type whose
//! `test` is `Some(true)` and whose `data` is a sample lead (the nil id, `test@example.com`),
//! not one of the organization's. Check your endpoint with it, and do not act on it as on a
//! lead; every other event's `test` is `None`.
//!
//! `X-Aura-Signature` is not enough: it signs the body alone, with no time, so a delivery
//! captured once would verify forever with the three other headers removed. [`verify`]
//! refuses such a request ([`VerifyError::AuraSignatureAlone`]), and otherwise does not read
//! `X-Aura-Signature` at all: `webhook-signature`, made from the same secret, already covers
//! the body; and a secret's rotation signs `webhook-signature` with the new and the old
//! secret for an overlap (24 hours by default), but `X-Aura-Signature` with the new one only,
//! which a receiver still holding the old secret could not verify.
//!
//! The headers are a [`HeaderMap`](reqwest::header::HeaderMap), reqwest's re-export of the
//! `http` crate's (version 1), the one that axum, hyper and dropshot hand their handlers.
//!
//! This module's files: `verification.rs` checks a delivery ([`verify`], [`verify_at`]);
//! `signing.rs` makes the headers ([`sign`], [`SignedHeaders`]); `secret.rs` reads a
//! subscription's secret into the keys both use; `error.rs` says why a delivery is refused
//! ([`VerifyError`]).
//!
//! # A receiver
//!
//! What the handler of a receiver's endpoint does with a delivery: verify it, skip a
//! `webhook-id` already handled, act on the event, and answer `2xx` so that it is not sent
//! again (a refused delivery is answered `4xx`, and the server tries it again later).
//!
//! ```
//! use std::collections::HashSet;
//! use std::time::{SystemTime, UNIX_EPOCH};
//!
//! use leads_client::types::WebhookEvent;
//! use leads_client::webhooks;
//! use reqwest::StatusCode;
//! use reqwest::header::HeaderMap;
//!
//! /// Handles one delivery: `body` is the request's body, byte for byte as received, and
//! /// `handled` the ids of the deliveries handled already (a database table, in a real
//! /// receiver, kept for at least 10 minutes).
//! fn receive(
//!     secret: &str,
//!     headers: &HeaderMap,
//!     body: &[u8],
//!     handled: &mut HashSet<String>,
//! ) -> StatusCode {
//!     let event = match webhooks::verify(secret, body, headers) {
//!         Ok(event) => event,
//!         Err(error) => {
//!             eprintln!("rejected a webhook delivery: {error}");
//!             return StatusCode::BAD_REQUEST;
//!         }
//!     };
//!     // Verified, so the header is there and signed.
//!     let Some(id) = headers.get(webhooks::WEBHOOK_ID).and_then(|id| id.to_str().ok()) else {
//!         return StatusCode::BAD_REQUEST;
//!     };
//!     if handled.contains(id) {
//!         return StatusCode::NO_CONTENT;
//!     }
//!     match event {
//!         WebhookEvent::CreatedEvent(event) => println!("new lead {}", event.data.email),
//!         WebhookEvent::UpdatedEvent(event) => println!("lead {} changed", event.data.id),
//!         WebhookEvent::StatusChangedEvent(event) => {
//!             println!("lead {} is now {}", event.data.id, event.data.status)
//!         }
//!         // The id alone: the lead, and every copy the API kept, are erased.
//!         WebhookEvent::DeletedEvent(event) => println!("lead {} deleted", event.data.id),
//!     }
//!     handled.insert(id.to_owned());
//!     StatusCode::NO_CONTENT
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // The subscription's secret, as `webhook_create` answered it.
//! let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw1Yx3vJ1Z2kM=";
//! // A delivery signed here as the server signs it, to try the receiver.
//! let body = br#"{
//!   "event": "lead.status_changed",
//!   "created_at": "2026-01-17T09:30:00Z",
//!   "organization_id": "org_2b9Xk4",
//!   "data": {
//!     "id": "0192f8a4-6b1e-7c3d-9a5f-2e4d6c8b0a13",
//!     "email": "john@example.com",
//!     "full_name": "John Doe",
//!     "company": null,
//!     "phone": null,
//!     "timezone": null,
//!     "status": "contacted",
//!     "assigned_to_id": "user_2x7Q",
//!     "source": {
//!       "referrer": null, "utm_campaign": null, "utm_content": null,
//!       "utm_medium": null, "utm_source": null, "utm_term": null
//!     },
//!     "metadata": null,
//!     "notes": null,
//!     "disqualification_data": null,
//!     "payment_count": 0,
//!     "payment_status": null,
//!     "last_payment_at": null,
//!     "total_paid_cents": 0,
//!     "created_at": "2026-01-17T08:00:00Z",
//!     "updated_at": "2026-01-17T09:30:00Z"
//!   }
//! }"#;
//! let mut handled = HashSet::new();
//! let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
//! let signed = webhooks::sign(secret, "0192f8a4-7d00-7000-8000-000000000001", now, body)?;
//! let headers = signed.to_header_map();
//! assert_eq!(receive(secret, &headers, body, &mut handled), StatusCode::NO_CONTENT);
//! // Sent again (a retry, or a replay within the 5 minutes): acknowledged, not acted on.
//! assert_eq!(receive(secret, &headers, body, &mut handled), StatusCode::NO_CONTENT);
//! assert_eq!(handled.len(), 1);
//!
//! // A body changed on the way, or signed with another secret, is refused.
//! let tampered = String::from_utf8(body.to_vec())?.replace("contacted", "qualified");
//! assert_eq!(
//!     receive(secret, &headers, tampered.as_bytes(), &mut handled),
//!     StatusCode::BAD_REQUEST
//! );
//! // So is the delivery with its Standard Webhooks headers removed, to replay it later.
//! let mut stripped = headers.clone();
//! for name in [webhooks::WEBHOOK_ID, webhooks::WEBHOOK_TIMESTAMP, webhooks::WEBHOOK_SIGNATURE] {
//!     stripped.remove(name);
//! }
//! assert!(matches!(
//!     webhooks::verify(secret, body, &stripped),
//!     Err(webhooks::VerifyError::AuraSignatureAlone)
//! ));
//! # Ok(())
//! # }
//! ```

mod error;
mod secret;
mod signing;
mod verification;

#[cfg(test)]
mod tests;

use std::time::Duration;

pub use self::error::VerifyError;
pub use self::signing::{SignedHeaders, sign};
pub use self::verification::{verify, verify_any, verify_any_at, verify_at};

/// The header of Aura's own signature: the hex HMAC-SHA256 of the body alone, keyed with the
/// secret as shown. [`sign`] makes it, as the server does; [`verify`] does not accept it
/// alone, having no time to refuse a replay with.
pub const AURA_SIGNATURE: &str = "x-aura-signature";
/// The Standard Webhooks header of the delivery's id, the same on every attempt of it: what
/// a receiver deduplicates on.
pub const WEBHOOK_ID: &str = "webhook-id";
/// The Standard Webhooks header of when the attempt was sent, in Unix seconds.
pub const WEBHOOK_TIMESTAMP: &str = "webhook-timestamp";
/// The Standard Webhooks header of the signatures: space-separated `v1,<base64>` entries.
pub const WEBHOOK_SIGNATURE: &str = "webhook-signature";

/// How far `webhook-timestamp` may be from the receiver's clock, either way: 5 minutes, as
/// the API asks receivers to allow. A delivery signed longer ago is refused as a replay.
pub const TOLERANCE: Duration = Duration::from_secs(5 * 60);
