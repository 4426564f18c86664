//! The receiving side of webhooks: checking that a delivery comes from the Leads API, and
//! reading its event.
//!
//! A subscription (`POST /v1/webhooks`, [`Client::webhook_create`](crate::Client::webhook_create))
//! has a signing secret, `whsec_` and the base64 of 32 random bytes, shown once when the
//! subscription is made. Every delivery is a JSON `POST` of a [`WebhookEvent`], signed with
//! that secret twice over:
//!
//! - [`X-Aura-Signature`](AURA_SIGNATURE): the lowercase hex HMAC-SHA256 of the exact body
//!   bytes, keyed with the secret's UTF-8 bytes as shown (`whsec_` included);
//! - the [Standard Webhooks](https://www.standardwebhooks.com/) headers:
//!   [`webhook-id`](WEBHOOK_ID), the delivery's id, the same on every attempt;
//!   [`webhook-timestamp`](WEBHOOK_TIMESTAMP), when the attempt was sent, in Unix seconds; and
//!   [`webhook-signature`](WEBHOOK_SIGNATURE), space-separated `v1,<base64>` entries, each the
//!   HMAC-SHA256 of `<webhook-id>.<webhook-timestamp>.<body>` keyed with the base64-decoded
//!   part of the secret after `whsec_`.
//!
//! [`verify`] checks whichever of the two a request carries (the server sends both), comparing
//! signatures in constant time, refuses a `webhook-timestamp` more than [`TOLERANCE`] away from
//! the clock (a replayed delivery), and only then parses the body into a [`WebhookEvent`].
//! [`verify_at`] does the same against a clock of the caller's. [`sign`] signs a body as the
//! server does, for testing a receiver without a server.
//!
//! Verify the body exactly as it was received, before anything parses it: a body parsed and
//! written out again is not the body that was signed. Delivery is at least once: once a
//! delivery is verified, deduplicate on its `webhook-id` header.
//!
//! The headers are a [`HeaderMap`], reqwest's re-export of the `http` crate's (version 1), the
//! one that axum, hyper and dropshot hand their handlers.
//!
//! # A receiver
//!
//! What the handler of a receiver's endpoint does with a delivery: verify it, act on the
//! event, and answer `2xx` so that it is not sent again (a rejected delivery is answered
//! `4xx`, and the server tries it again later).
//!
//! ```
//! use std::time::{SystemTime, UNIX_EPOCH};
//!
//! use leads_client::types::WebhookEvent;
//! use leads_client::webhooks;
//! use reqwest::StatusCode;
//! use reqwest::header::HeaderMap;
//!
//! /// Handles one delivery: `body` is the request's body, byte for byte as received.
//! fn receive(secret: &str, headers: &HeaderMap, body: &[u8]) -> StatusCode {
//!     let event = match webhooks::verify(secret, body, headers) {
//!         Ok(event) => event,
//!         Err(error) => {
//!             eprintln!("rejected a webhook delivery: {error}");
//!             return StatusCode::BAD_REQUEST;
//!         }
//!     };
//!     match event {
//!         WebhookEvent::CreatedEvent(event) => println!("new lead {}", event.data.email),
//!         WebhookEvent::UpdatedEvent(event) => println!("lead {} changed", event.data.id),
//!         WebhookEvent::StatusChangedEvent(event) => {
//!             println!("lead {} is now {}", event.data.id, event.data.status)
//!         }
//!     }
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
//! let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
//! let signed = webhooks::sign(secret, "0192f8a4-7d00-7000-8000-000000000001", now, body)?;
//! let headers = signed.to_header_map();
//! assert_eq!(receive(secret, &headers, body), StatusCode::NO_CONTENT);
//!
//! // A body changed on the way, or signed with another secret, is refused.
//! let tampered = String::from_utf8(body.to_vec())?.replace("contacted", "qualified");
//! assert_eq!(receive(secret, &headers, tampered.as_bytes()), StatusCode::BAD_REQUEST);
//! # Ok(())
//! # }
//! ```

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use sha2::Sha256;

use crate::types::{LeadCreatedEvent, LeadStatusChangedEvent, LeadUpdatedEvent, WebhookEvent};

/// The header of the server's own signature: the hex HMAC-SHA256 of the body, keyed with the
/// secret as shown.
pub const AURA_SIGNATURE: &str = "x-aura-signature";
/// The Standard Webhooks header of the delivery's id, the same on every attempt of it.
pub const WEBHOOK_ID: &str = "webhook-id";
/// The Standard Webhooks header of when the attempt was sent, in Unix seconds.
pub const WEBHOOK_TIMESTAMP: &str = "webhook-timestamp";
/// The Standard Webhooks header of the signatures: space-separated `v1,<base64>` entries.
pub const WEBHOOK_SIGNATURE: &str = "webhook-signature";

/// How far `webhook-timestamp` may be from the receiver's clock, either way: 5 minutes, as
/// the API asks receivers to allow. A delivery signed longer ago is refused as a replay.
pub const TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// What every secret starts with.
const SECRET_PREFIX: &str = "whsec_";

/// How many bytes the key of a secret has (the base64 after its prefix, decoded).
const KEY_LEN: usize = 32;

/// How many characters of a malformed value an error repeats.
const EXCERPT_LEN: usize = 40;

type HmacSha256 = Hmac<Sha256>;

/// Why a webhook delivery was refused, or a body could not be signed.
///
/// No variant holds the secret, nor any part of it, so that an error can be logged as it is.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The secret given to verify (or sign) with is not a subscription's secret.
    #[error(
        "the webhook secret is malformed: {reason}; expected `whsec_` and the base64 of 32 bytes, \
         exactly as `POST /v1/webhooks` answered it"
    )]
    MalformedSecret {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The request has no signature at all.
    #[error(
        "the request is not signed: it has neither `X-Aura-Signature` nor the Standard Webhooks \
         headers (`webhook-id`, `webhook-timestamp`, `webhook-signature`); is it a delivery of \
         the Leads API, and does every proxy on the way pass these headers on?"
    )]
    MissingSignature,
    /// Some of the Standard Webhooks headers are there, but not this one.
    #[error(
        "the Standard Webhooks header `{header}` is missing while others are present: \
         `webhook-id`, `webhook-timestamp` and `webhook-signature` are checked together"
    )]
    MissingHeader {
        /// The name of the missing header.
        header: &'static str,
    },
    /// A signature header cannot be read (or, from [`sign`], the id cannot be `webhook-id`).
    #[error("the header `{header}` is malformed: {reason}")]
    MalformedHeader {
        /// The header's name.
        header: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A signature does not match the body (and, for `webhook-signature`, the id and
    /// timestamp).
    #[error(
        "the signature in `{header}` does not match: the secret is not the one of the subscription \
         this delivery is for, or the body or headers were changed on the way (verify the body \
         exactly as received, before anything parses it)"
    )]
    BadSignature {
        /// The header whose signature does not match.
        header: &'static str,
    },
    /// The delivery was signed longer ago than [`TOLERANCE`] allows: a replay, or a clock
    /// that is behind.
    #[error(
        "the delivery is too old: `webhook-timestamp` is {age_secs} s behind this machine's \
         clock, more than the {tolerance_secs} s allowed (a replayed delivery, or a clock that \
         is off)"
    )]
    Stale {
        /// How many seconds before the clock the delivery was signed.
        age_secs: u64,
        /// How many seconds are allowed ([`TOLERANCE`]).
        tolerance_secs: u64,
    },
    /// The delivery claims to be signed later than [`TOLERANCE`] from now: a clock that is
    /// off, on either side.
    #[error(
        "the delivery is from the future: `webhook-timestamp` is {ahead_secs} s ahead of this \
         machine's clock, more than the {tolerance_secs} s allowed (a clock that is off; the \
         timestamp is in seconds, not milliseconds)"
    )]
    Future {
        /// How many seconds after the clock the delivery claims to be signed.
        ahead_secs: u64,
        /// How many seconds are allowed ([`TOLERANCE`]).
        tolerance_secs: u64,
    },
    /// The signatures match, but the body is not one of the lead events.
    #[error("the delivery is signed, but its body is not a lead event: {reason}")]
    NotAnEvent {
        /// What is wrong with the body, as serde_json says it where it can.
        reason: String,
    },
}

/// Verifies a webhook delivery against the subscription's `secret` and the current time, and
/// parses its event: [`verify_at`] with [`SystemTime::now`].
///
/// `body` must be the request's body exactly as received, and `headers` its headers.
///
/// # Errors
///
/// A [`VerifyError`] saying why the delivery is refused: see [`verify_at`].
pub fn verify(secret: &str, body: &[u8], headers: &HeaderMap) -> Result<WebhookEvent, VerifyError> {
    verify_at(secret, body, headers, SystemTime::now())
}

/// Verifies a webhook delivery against the subscription's `secret`, taking `now` for the
/// current time, and parses its event.
///
/// In order:
///
/// 1. `secret` must be `whsec_` and the base64 of 32 bytes.
/// 2. The request must carry `X-Aura-Signature`, or the three Standard Webhooks headers
///    (`webhook-id`, `webhook-timestamp`, `webhook-signature`), or both; one or two of the
///    three are not enough. Each must be sent once, in visible ASCII.
/// 3. `X-Aura-Signature`, if sent, must be the HMAC of `body`.
/// 4. The Standard Webhooks headers, if sent: some `v1` entry of `webhook-signature` must be
///    the HMAC of `<webhook-id>.<webhook-timestamp>.<body>` (entries of other versions are
///    ignored), and only then, once it is known to be the server's, `webhook-timestamp` must
///    be whole Unix seconds within [`TOLERANCE`] of `now`.
/// 5. `body` must be a [`WebhookEvent`]: a JSON object whose `event` names one of the lead
///    events, matching that event's schema.
///
/// Signatures are compared in constant time.
///
/// # Errors
///
/// The [`VerifyError`] of the first step that fails.
pub fn verify_at(
    secret: &str,
    body: &[u8],
    headers: &HeaderMap,
    now: SystemTime,
) -> Result<WebhookEvent, VerifyError> {
    let secret = Secret::parse(secret)?;

    let aura = single_header(headers, AURA_SIGNATURE)?;
    let id = single_header(headers, WEBHOOK_ID)?;
    let timestamp = single_header(headers, WEBHOOK_TIMESTAMP)?;
    let signatures = single_header(headers, WEBHOOK_SIGNATURE)?;
    let standard = match (id, timestamp, signatures) {
        (None, None, None) => None,
        (Some(id), Some(timestamp), Some(signatures)) => Some((id, timestamp, signatures)),
        (None, ..) => return Err(VerifyError::MissingHeader { header: WEBHOOK_ID }),
        (_, None, _) => {
            return Err(VerifyError::MissingHeader {
                header: WEBHOOK_TIMESTAMP,
            });
        }
        (.., None) => {
            return Err(VerifyError::MissingHeader {
                header: WEBHOOK_SIGNATURE,
            });
        }
    };
    if aura.is_none() && standard.is_none() {
        return Err(VerifyError::MissingSignature);
    }

    if let Some(signature) = aura {
        check_aura(&secret, body, signature)?;
    }
    if let Some((id, timestamp, signatures)) = standard {
        if id.is_empty() {
            return Err(malformed(WEBHOOK_ID, "it is empty"));
        }
        let seconds = parse_timestamp(timestamp)?;
        check_standard(&secret, id, timestamp, body, signatures)?;
        check_window(seconds, now)?;
    }

    parse_event(body)
}

/// Signs `body` as the server signs a delivery: the headers [`verify`] checks, for the
/// delivery `id` sent at `timestamp` (Unix seconds).
///
/// For testing a receiver without a server: send `body` with
/// [`SignedHeaders::to_header_map`] to it, or change a header first to see it refused.
///
/// # Errors
///
/// [`VerifyError::MalformedSecret`] if `secret` is not `whsec_` and the base64 of 32 bytes,
/// and [`VerifyError::MalformedHeader`] if `id` is empty or has characters other than visible
/// ASCII.
pub fn sign(
    secret: &str,
    id: &str,
    timestamp: u64,
    body: &[u8],
) -> Result<SignedHeaders, VerifyError> {
    let secret = Secret::parse(secret)?;
    if id.is_empty() {
        return Err(malformed(WEBHOOK_ID, "it is empty"));
    }
    if !id.bytes().all(|byte| byte.is_ascii_graphic()) {
        return Err(malformed(
            WEBHOOK_ID,
            "it has characters other than visible ASCII (spaces included)",
        ));
    }
    let timestamp_text = timestamp.to_string();
    let aura = aura_mac(&secret, body).finalize().into_bytes();
    let standard = standard_mac(&secret, id, &timestamp_text, body)
        .finalize()
        .into_bytes();
    let aura_signature = hex(&aura);
    let webhook_signature = format!("v1,{}", BASE64.encode(standard));
    let mut headers = HeaderMap::new();
    for (name, value) in [
        (AURA_SIGNATURE, aura_signature.as_str()),
        (WEBHOOK_ID, id),
        (WEBHOOK_TIMESTAMP, timestamp_text.as_str()),
        (WEBHOOK_SIGNATURE, webhook_signature.as_str()),
    ] {
        let value = HeaderValue::from_str(value)
            .map_err(|_| malformed(name, "it cannot be sent as a header value"))?;
        headers.insert(HeaderName::from_static(name), value);
    }
    Ok(SignedHeaders {
        aura_signature,
        webhook_id: id.to_owned(),
        webhook_timestamp: timestamp,
        webhook_signature,
        headers,
    })
}

/// The signature headers of one delivery, as [`sign`] makes them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedHeaders {
    aura_signature: String,
    webhook_id: String,
    webhook_timestamp: u64,
    webhook_signature: String,
    /// The four as headers, made (and checked) by [`sign`].
    headers: HeaderMap,
}

impl SignedHeaders {
    /// `X-Aura-Signature`: the lowercase hex HMAC-SHA256 of the body.
    pub fn aura_signature(&self) -> &str {
        &self.aura_signature
    }

    /// `webhook-id`: the delivery's id.
    pub fn webhook_id(&self) -> &str {
        &self.webhook_id
    }

    /// `webhook-timestamp`: when the delivery was signed, in Unix seconds.
    pub fn webhook_timestamp(&self) -> u64 {
        self.webhook_timestamp
    }

    /// `webhook-signature`: `v1,` and the base64 HMAC-SHA256 of `<id>.<timestamp>.<body>`.
    pub fn webhook_signature(&self) -> &str {
        &self.webhook_signature
    }

    /// The four headers, as the server sends them.
    pub fn to_header_map(&self) -> HeaderMap {
        self.headers.clone()
    }
}

impl From<SignedHeaders> for HeaderMap {
    fn from(signed: SignedHeaders) -> Self {
        signed.headers
    }
}

/// A subscription's secret, checked, as the two MACs it keys: `X-Aura-Signature`'s, keyed with
/// the text as shown, and `webhook-signature`'s, keyed with the bytes its base64 stands for.
/// No `Debug`, so that it cannot be printed by accident.
struct Secret {
    aura: HmacSha256,
    standard: HmacSha256,
}

impl Secret {
    fn parse(secret: &str) -> Result<Self, VerifyError> {
        let malformed = |reason| VerifyError::MalformedSecret { reason };
        if secret.trim() != secret {
            return Err(malformed("it has whitespace before or after it"));
        }
        let encoded = secret
            .strip_prefix(SECRET_PREFIX)
            .ok_or(malformed("it does not start with `whsec_`"))?;
        let key = BASE64
            .decode(encoded)
            .map_err(|_| malformed("what follows `whsec_` is not base64 (standard, padded)"))?;
        if key.len() != KEY_LEN {
            return Err(malformed(
                "what follows `whsec_` is not 32 bytes long once decoded (is it cut short?)",
            ));
        }
        let keyed = |key: &[u8]| {
            HmacSha256::new_from_slice(key).map_err(|_| malformed("HMAC refuses it as a key"))
        };
        Ok(Self {
            aura: keyed(secret.as_bytes())?,
            standard: keyed(&key)?,
        })
    }
}

/// The MAC of `X-Aura-Signature`, fed the body.
fn aura_mac(secret: &Secret, body: &[u8]) -> HmacSha256 {
    let mut mac = secret.aura.clone();
    mac.update(body);
    mac
}

/// The MAC of a `v1` entry of `webhook-signature`, fed `<id>.<timestamp>.<body>`.
fn standard_mac(secret: &Secret, id: &str, timestamp: &str, body: &[u8]) -> HmacSha256 {
    let mut mac = secret.standard.clone();
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The value of the header `name`, if it is sent: once, in visible ASCII.
fn single_header<'h>(
    headers: &'h HeaderMap,
    name: &'static str,
) -> Result<Option<&'h str>, VerifyError> {
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(malformed(name, "it is sent more than once"));
    }
    value
        .to_str()
        .map(Some)
        .map_err(|_| malformed(name, "it has characters other than visible ASCII"))
}

/// Checks `X-Aura-Signature` against the body.
fn check_aura(secret: &Secret, body: &[u8], signature: &str) -> Result<(), VerifyError> {
    let signature = decode_hex(signature).ok_or_else(|| {
        malformed(
            AURA_SIGNATURE,
            "expected 64 hexadecimal digits, the HMAC-SHA256 of the body",
        )
    })?;
    aura_mac(secret, body)
        .verify_slice(&signature)
        .map_err(|_| VerifyError::BadSignature {
            header: AURA_SIGNATURE,
        })
}

/// Checks that some `v1` entry of `webhook-signature` signs the delivery.
fn check_standard(
    secret: &Secret,
    id: &str,
    timestamp: &str,
    body: &[u8],
    signatures: &str,
) -> Result<(), VerifyError> {
    let mac = standard_mac(secret, id, timestamp, body);
    let mut v1_entries = 0;
    for entry in signatures.split(' ').filter(|entry| !entry.is_empty()) {
        let Some((version, signature)) = entry.split_once(',') else {
            return Err(malformed(
                WEBHOOK_SIGNATURE,
                "an entry is not `<version>,<signature>` (entries are separated by spaces)",
            ));
        };
        if version != "v1" {
            continue;
        }
        v1_entries += 1;
        // An entry that is not base64 matches nothing; another entry may still match.
        if let Ok(signature) = BASE64.decode(signature)
            && mac.clone().verify_slice(&signature).is_ok()
        {
            return Ok(());
        }
    }
    if v1_entries == 0 {
        return Err(malformed(
            WEBHOOK_SIGNATURE,
            "it has no `v1,` entry (entries of other versions are ignored)",
        ));
    }
    Err(VerifyError::BadSignature {
        header: WEBHOOK_SIGNATURE,
    })
}

/// `webhook-timestamp` as Unix seconds: digits only.
fn parse_timestamp(timestamp: &str) -> Result<u64, VerifyError> {
    let reason = || {
        format!(
            "expected whole Unix seconds (digits only, such as `1768636800`), got `{}`",
            excerpt(timestamp)
        )
    };
    if timestamp.is_empty() || !timestamp.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(malformed(WEBHOOK_TIMESTAMP, reason()));
    }
    timestamp
        .parse()
        .map_err(|_| malformed(WEBHOOK_TIMESTAMP, reason()))
}

/// Checks that `timestamp` is within [`TOLERANCE`] of `now`, either way.
fn check_window(timestamp: u64, now: SystemTime) -> Result<(), VerifyError> {
    let now = match now.duration_since(UNIX_EPOCH) {
        Ok(since) => i128::from(since.as_secs()),
        Err(before) => -i128::from(before.duration().as_secs()),
    };
    let age = now - i128::from(timestamp);
    let tolerance_secs = TOLERANCE.as_secs();
    let tolerance = i128::from(tolerance_secs);
    let saturate = |seconds: i128| u64::try_from(seconds).unwrap_or(u64::MAX);
    if age > tolerance {
        Err(VerifyError::Stale {
            age_secs: saturate(age),
            tolerance_secs,
        })
    } else if -age > tolerance {
        Err(VerifyError::Future {
            ahead_secs: saturate(-age),
            tolerance_secs,
        })
    } else {
        Ok(())
    }
}

/// The body's event: its `event` says which schema it must match.
fn parse_event(body: &[u8]) -> Result<WebhookEvent, VerifyError> {
    let not_an_event = |reason: String| VerifyError::NotAnEvent { reason };
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|error| not_an_event(format!("it is not JSON: {error}")))?;
    let Some(object) = value.as_object() else {
        return Err(not_an_event("it is JSON, but not an object".to_owned()));
    };
    let event = match object.get("event") {
        None => return Err(not_an_event("it has no `event` field".to_owned())),
        Some(serde_json::Value::String(event)) => event.as_str(),
        Some(_) => return Err(not_an_event("its `event` is not a string".to_owned())),
    };
    let schema = |error: serde_json::Error| {
        not_an_event(format!(
            "it does not match the schema of `{event}` events: {error}"
        ))
    };
    match event {
        "lead.created" => serde_json::from_slice::<LeadCreatedEvent>(body)
            .map(WebhookEvent::CreatedEvent)
            .map_err(schema),
        "lead.updated" => serde_json::from_slice::<LeadUpdatedEvent>(body)
            .map(WebhookEvent::UpdatedEvent)
            .map_err(schema),
        "lead.status_changed" => serde_json::from_slice::<LeadStatusChangedEvent>(body)
            .map(WebhookEvent::StatusChangedEvent)
            .map_err(schema),
        other => Err(not_an_event(format!(
            "its `event` is `{}`, not one of `lead.created`, `lead.updated`, \
             `lead.status_changed` (is this client older than the API?)",
            excerpt(other)
        ))),
    }
}

/// A [`VerifyError::MalformedHeader`].
fn malformed(header: &'static str, reason: impl Into<String>) -> VerifyError {
    VerifyError::MalformedHeader {
        header,
        reason: reason.into(),
    }
}

/// The start of a value received, to repeat in an error.
fn excerpt(value: &str) -> String {
    match value.char_indices().nth(EXCERPT_LEN) {
        Some((end, _)) => format!("{}…", &value[..end]),
        None => value.to_owned(),
    }
}

/// `bytes` in lowercase hexadecimal.
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    text
}

/// The 32 bytes that 64 hexadecimal digits (either case) stand for.
fn decode_hex(text: &str) -> Option<[u8; 32]> {
    fn digit(byte: u8) -> Option<u8> {
        match byte {
            b'0'..=b'9' => Some(byte - b'0'),
            b'a'..=b'f' => Some(byte - b'a' + 10),
            b'A'..=b'F' => Some(byte - b'A' + 10),
            _ => None,
        }
    }
    let text = text.as_bytes();
    if text.len() != 64 {
        return None;
    }
    let mut bytes = [0; 32];
    for (byte, pair) in bytes.iter_mut().zip(text.chunks_exact(2)) {
        *byte = (digit(pair[0])? << 4) | digit(pair[1])?;
    }
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::types::LeadStatus;

    /// The example secret of `POST /v1/webhooks` in the spec.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw1Yx3vJ1Z2kM=";
    /// Another subscription's secret.
    const OTHER_SECRET: &str = "whsec_JuXkis/iDpP51Vyrb15b5XdYvvOeZIos+i8FVjjrKc8=";
    const ID: &str = "0192f8a4-7d00-7000-8000-000000000001";
    /// 2026-01-17T08:00:00Z.
    const SENT_AT: u64 = 1_768_636_800;

    /// A `lead.created` delivery, byte for byte, for the independent test vector.
    const CREATED_BODY: &str = r#"{"event":"lead.created","created_at":"2026-01-17T08:00:00Z","data":{"assigned_to_id":null,"company":"Acme Corp","created_at":"2026-01-17T08:00:00Z","disqualification_data":null,"email":"john@example.com","full_name":"John Doe","id":"0192f8a4-6b1e-7c3d-9a5f-2e4d6c8b0a13","last_payment_at":null,"metadata":{"utmSource":"newsletter"},"notes":null,"payment_count":0,"payment_status":null,"phone":"+14155550100","source":{"referrer":null,"utm_campaign":null,"utm_content":null,"utm_medium":null,"utm_source":"newsletter","utm_term":null},"status":"new","timezone":"America/New_York","total_paid_cents":0,"updated_at":"2026-01-17T08:00:00Z"},"organization_id":"org_2b9Xk4"}"#;
    /// Its signatures, computed apart from this code, with Python's `hmac`:
    /// `hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()`.
    const CREATED_AURA: &str = "b06c1d6b89b26a3f89686f1b2a0a442f8ce443778dd9d07904958837cff62fa8";
    /// `base64.b64encode(hmac.new(base64.b64decode(SECRET[6:]),
    /// f"{ID}.{SENT_AT}.".encode() + body, hashlib.sha256).digest())`.
    const CREATED_V1: &str = "v1,jzKoGHQxwuNNQLE550Trs5hh7JWYlwVLhGZ3DB9iJQs=";

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds)
    }

    /// A lead as `GET /v1/leads/{id}` answers it, every field of the schema present.
    fn lead(status: &str) -> serde_json::Value {
        json!({
            "assigned_to_id": "user_2x7Q",
            "company": "Acme Corp",
            "created_at": "2026-01-17T08:00:00Z",
            "disqualification_data": null,
            "email": "john@example.com",
            "full_name": "John Doe",
            "id": "0192f8a4-6b1e-7c3d-9a5f-2e4d6c8b0a13",
            "last_payment_at": "2026-01-17T08:20:00Z",
            "metadata": { "utmSource": "newsletter", "fbclid": "IwAR0x" },
            "notes": [{ "content": "Called, wants a demo", "created_at": "2026-01-17T08:10:00Z", "user_id": "user_2x7Q" }],
            "payment_count": 1,
            "payment_status": "succeeded",
            "phone": "+14155550100",
            "source": {
                "referrer": "https://example.com/",
                "utm_campaign": "spring",
                "utm_content": null,
                "utm_medium": "email",
                "utm_source": "newsletter",
                "utm_term": null
            },
            "status": status,
            "timezone": "America/New_York",
            "total_paid_cents": 4900,
            "updated_at": "2026-01-17T08:30:00Z"
        })
    }

    fn event_body(event: &str, status: &str) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "event": event,
            "created_at": "2026-01-17T08:30:00Z",
            "data": lead(status),
            "organization_id": "org_2b9Xk4"
        }))
        .unwrap()
    }

    fn signed(secret: &str, body: &[u8]) -> HeaderMap {
        sign(secret, ID, SENT_AT, body).unwrap().to_header_map()
    }

    fn without(mut headers: HeaderMap, names: &[&str]) -> HeaderMap {
        for name in names {
            headers.remove(*name);
        }
        headers
    }

    fn verify_sent(body: &[u8], headers: &HeaderMap) -> Result<WebhookEvent, VerifyError> {
        verify_at(SECRET, body, headers, at(SENT_AT + 3))
    }

    #[test]
    fn an_independently_computed_vector_signs_and_verifies() {
        let body = CREATED_BODY.as_bytes();
        let signed = sign(SECRET, ID, SENT_AT, body).unwrap();
        assert_eq!(signed.aura_signature(), CREATED_AURA);
        assert_eq!(signed.webhook_signature(), CREATED_V1);
        assert_eq!(signed.webhook_id(), ID);
        assert_eq!(signed.webhook_timestamp(), SENT_AT);

        // Headers written by hand, not by `sign`.
        let mut headers = HeaderMap::new();
        headers.insert("X-Aura-Signature", HeaderValue::from_static(CREATED_AURA));
        headers.insert("webhook-id", HeaderValue::from_static(ID));
        headers.insert("webhook-timestamp", HeaderValue::from_static("1768636800"));
        headers.insert("webhook-signature", HeaderValue::from_static(CREATED_V1));
        assert_eq!(HeaderMap::from(signed), headers);
        let WebhookEvent::CreatedEvent(event) = verify_sent(body, &headers).unwrap() else {
            panic!("not a lead.created event");
        };
        assert_eq!(event.organization_id, "org_2b9Xk4");
        assert_eq!(event.data.email, "john@example.com");
        assert_eq!(event.data.status, LeadStatus::New);
    }

    #[test]
    fn the_standard_webhooks_published_vector_signs() {
        // The Standard Webhooks specification's own example: a 24-byte key, which a
        // subscription's secret never has, so it is checked on the signing step alone.
        let key = BASE64.decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let secret = Secret {
            aura: HmacSha256::new_from_slice(b"unused").unwrap(),
            standard: HmacSha256::new_from_slice(&key).unwrap(),
        };
        let mac = standard_mac(
            &secret,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            "1614265330",
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(
            BASE64.encode(mac.finalize().into_bytes()),
            "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn each_event_verifies_into_its_variant() {
        let body = event_body("lead.created", "new");
        match verify_sent(&body, &signed(SECRET, &body)).unwrap() {
            WebhookEvent::CreatedEvent(event) => assert_eq!(event.data.status, LeadStatus::New),
            other => panic!("lead.created parsed as {other:?}"),
        }
        let body = event_body("lead.updated", "contacted");
        match verify_sent(&body, &signed(SECRET, &body)).unwrap() {
            WebhookEvent::UpdatedEvent(event) => {
                assert_eq!(event.data.status, LeadStatus::Contacted);
                assert_eq!(event.data.total_paid_cents, 4900);
                assert_eq!(event.data.notes.unwrap().len(), 1);
            }
            other => panic!("lead.updated parsed as {other:?}"),
        }
        let body = event_body("lead.status_changed", "qualified");
        match verify_sent(&body, &signed(SECRET, &body)).unwrap() {
            WebhookEvent::StatusChangedEvent(event) => {
                assert_eq!(event.data.status, LeadStatus::Qualified);
                assert_eq!(event.organization_id, "org_2b9Xk4");
            }
            other => panic!("lead.status_changed parsed as {other:?}"),
        }
    }

    #[test]
    fn another_secret_is_refused() {
        let body = event_body("lead.created", "new");
        let headers = signed(OTHER_SECRET, &body);
        assert!(matches!(
            verify_sent(&body, &headers),
            Err(VerifyError::BadSignature {
                header: AURA_SIGNATURE
            })
        ));
        assert!(matches!(
            verify_sent(&body, &without(headers, &[AURA_SIGNATURE])),
            Err(VerifyError::BadSignature {
                header: WEBHOOK_SIGNATURE
            })
        ));
    }

    #[test]
    fn a_tampered_body_is_refused() {
        let body = CREATED_BODY.as_bytes();
        let headers = signed(SECRET, body);
        let tampered = CREATED_BODY.replace("\"status\":\"new\"", "\"status\":\"lost\"");
        assert_ne!(tampered, CREATED_BODY);
        for headers in [
            headers.clone(),
            without(headers.clone(), &[AURA_SIGNATURE]),
            without(headers, &[WEBHOOK_ID, WEBHOOK_TIMESTAMP, WEBHOOK_SIGNATURE]),
        ] {
            assert!(matches!(
                verify_sent(tampered.as_bytes(), &headers),
                Err(VerifyError::BadSignature { .. })
            ));
        }
    }

    #[test]
    fn a_tampered_id_or_timestamp_is_refused() {
        let body = CREATED_BODY.as_bytes();
        for (name, value) in [
            (WEBHOOK_ID, "another-delivery"),
            (WEBHOOK_TIMESTAMP, "1768636801"),
        ] {
            let mut headers = without(signed(SECRET, body), &[AURA_SIGNATURE]);
            headers.insert(name, HeaderValue::from_static(value));
            assert!(matches!(
                verify_sent(body, &headers),
                Err(VerifyError::BadSignature {
                    header: WEBHOOK_SIGNATURE
                })
            ));
        }
    }

    #[test]
    fn a_stale_delivery_is_refused() {
        let body = CREATED_BODY.as_bytes();
        let headers = signed(SECRET, body);
        assert!(verify_at(SECRET, body, &headers, at(SENT_AT + 300)).is_ok());
        let error = verify_at(SECRET, body, &headers, at(SENT_AT + 301)).unwrap_err();
        assert!(matches!(
            error,
            VerifyError::Stale {
                age_secs: 301,
                tolerance_secs: 300
            }
        ));
        assert!(error.to_string().contains("301 s behind"), "{error}");
    }

    #[test]
    fn a_delivery_from_the_future_is_refused() {
        let body = CREATED_BODY.as_bytes();
        let headers = signed(SECRET, body);
        assert!(verify_at(SECRET, body, &headers, at(SENT_AT - 300)).is_ok());
        let error = verify_at(SECRET, body, &headers, at(SENT_AT - 3600)).unwrap_err();
        assert!(matches!(
            error,
            VerifyError::Future {
                ahead_secs: 3600,
                tolerance_secs: 300
            }
        ));
        assert!(error.to_string().contains("3600 s ahead"), "{error}");
    }

    #[test]
    fn the_signature_is_checked_before_the_timestamp() {
        // A stale timestamp says nothing until the signature shows it is the server's.
        let body = CREATED_BODY.as_bytes();
        let headers = without(signed(OTHER_SECRET, body), &[AURA_SIGNATURE]);
        assert!(matches!(
            verify_at(SECRET, body, &headers, at(SENT_AT + 86_400)),
            Err(VerifyError::BadSignature { .. })
        ));
    }

    #[test]
    fn verify_uses_the_clock() {
        let body = CREATED_BODY.as_bytes();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let fresh = sign(SECRET, ID, now, body).unwrap().to_header_map();
        assert!(verify(SECRET, body, &fresh).is_ok());
        assert!(matches!(
            verify(SECRET, body, &signed(SECRET, body)),
            Err(VerifyError::Stale { .. })
        ));
    }

    #[test]
    fn aura_signature_alone_verifies() {
        let body = event_body("lead.updated", "closed");
        let headers = without(
            signed(SECRET, &body),
            &[WEBHOOK_ID, WEBHOOK_TIMESTAMP, WEBHOOK_SIGNATURE],
        );
        assert_eq!(headers.len(), 1);
        // No timestamp, so no window: any clock will do.
        assert!(matches!(
            verify_at(SECRET, &body, &headers, UNIX_EPOCH),
            Ok(WebhookEvent::UpdatedEvent(_))
        ));
    }

    #[test]
    fn standard_headers_alone_verify() {
        let body = event_body("lead.status_changed", "lost");
        let headers = without(signed(SECRET, &body), &[AURA_SIGNATURE]);
        assert_eq!(headers.len(), 3);
        assert!(matches!(
            verify_sent(&body, &headers),
            Ok(WebhookEvent::StatusChangedEvent(_))
        ));
    }

    #[test]
    fn no_signature_is_refused() {
        let body = CREATED_BODY.as_bytes();
        assert!(matches!(
            verify_sent(body, &HeaderMap::new()),
            Err(VerifyError::MissingSignature)
        ));
    }

    #[test]
    fn standard_headers_come_together() {
        let body = CREATED_BODY.as_bytes();
        for missing in [WEBHOOK_ID, WEBHOOK_TIMESTAMP, WEBHOOK_SIGNATURE] {
            // Even with a valid X-Aura-Signature.
            let headers = without(signed(SECRET, body), &[missing]);
            match verify_sent(body, &headers) {
                Err(VerifyError::MissingHeader { header }) => assert_eq!(header, missing),
                other => panic!("without {missing}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_later_v1_entry_may_match() {
        let body = CREATED_BODY.as_bytes();
        let mut headers = without(signed(SECRET, body), &[AURA_SIGNATURE]);
        let other = sign(OTHER_SECRET, ID, SENT_AT, body).unwrap();
        let entries = format!(
            "v1a,c29tZXRoaW5nIGVsc2U= v1,not*base64 {} {}",
            other.webhook_signature(),
            CREATED_V1
        );
        headers.insert(WEBHOOK_SIGNATURE, HeaderValue::from_str(&entries).unwrap());
        assert!(verify_sent(body, &headers).is_ok());

        // Without the matching entry, the others match nothing.
        let entries = format!("v1a,c29tZXRoaW5nIGVsc2U= {}", other.webhook_signature());
        headers.insert(WEBHOOK_SIGNATURE, HeaderValue::from_str(&entries).unwrap());
        assert!(matches!(
            verify_sent(body, &headers),
            Err(VerifyError::BadSignature {
                header: WEBHOOK_SIGNATURE
            })
        ));
    }

    #[test]
    fn entries_of_other_versions_alone_are_refused() {
        let body = CREATED_BODY.as_bytes();
        let mut headers = signed(SECRET, body);
        let v2 = CREATED_V1.replace("v1,", "v2,");
        headers.insert(WEBHOOK_SIGNATURE, HeaderValue::from_str(&v2).unwrap());
        assert!(matches!(
            verify_sent(body, &headers),
            Err(VerifyError::MalformedHeader {
                header: WEBHOOK_SIGNATURE,
                ..
            })
        ));
    }

    #[test]
    fn a_malformed_secret_is_refused() {
        let body = CREATED_BODY.as_bytes();
        let headers = signed(SECRET, body);
        assert!(verify_sent(body, &headers).is_ok());
        for secret in [
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw1Yx3vJ1Z2kM=",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw1Yx3vJ1Z2kM",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw1Yx3vJ1Z2k!",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw1Yx3vJ1Z2kM=\n",
            "",
        ] {
            assert!(
                matches!(
                    verify_at(secret, body, &headers, at(SENT_AT)),
                    Err(VerifyError::MalformedSecret { .. })
                ),
                "{secret:?}"
            );
            assert!(matches!(
                sign(secret, ID, SENT_AT, body),
                Err(VerifyError::MalformedSecret { .. })
            ));
        }
    }

    #[test]
    fn a_signed_body_that_is_not_an_event_is_refused() {
        let not_events: [(&[u8], &str); 6] = [
            (br#"{"test": 2432232314}"#, "no `event` field"),
            (b"[]", "not an object"),
            (b"lead.created", "not JSON"),
            (br#"{"event": 1}"#, "not a string"),
            (
                br#"{"event": "lead.deleted", "data": {}}"#,
                "`lead.deleted`, not one of",
            ),
            (
                br#"{"event": "lead.created", "created_at": "2026-01-17T08:00:00Z", "data": {"email": "john@example.com"}, "organization_id": "org_2b9Xk4"}"#,
                "schema of `lead.created` events: missing field",
            ),
        ];
        for (body, expected) in not_events {
            match verify_sent(body, &signed(SECRET, body)) {
                Err(error @ VerifyError::NotAnEvent { .. }) => {
                    assert!(error.to_string().contains(expected), "{error}");
                }
                other => panic!("{}: {other:?}", String::from_utf8_lossy(body)),
            }
        }
    }

    #[test]
    fn malformed_headers_are_refused() {
        let body = CREATED_BODY.as_bytes();
        let cases: [(&str, &str); 6] = [
            (AURA_SIGNATURE, "b06c1d6b"),
            (AURA_SIGNATURE, &CREATED_AURA.replace('b', "g")),
            (WEBHOOK_TIMESTAMP, "2026-01-17T08:00:00Z"),
            (WEBHOOK_TIMESTAMP, "+1768636800"),
            (WEBHOOK_ID, ""),
            (
                WEBHOOK_SIGNATURE,
                "jzKoGHQxwuNNQLE550Trs5hh7JWYlwVLhGZ3DB9iJQs=",
            ),
        ];
        for (name, value) in cases {
            let mut headers = signed(SECRET, body);
            headers.insert(name, HeaderValue::from_str(value).unwrap());
            match verify_sent(body, &headers) {
                Err(VerifyError::MalformedHeader { header, .. }) => assert_eq!(header, name),
                other => panic!("{name}: {value:?}: {other:?}"),
            }
        }

        let mut headers = signed(SECRET, body);
        headers.append(WEBHOOK_SIGNATURE, HeaderValue::from_static(CREATED_V1));
        assert!(matches!(
            verify_sent(body, &headers),
            Err(VerifyError::MalformedHeader {
                header: WEBHOOK_SIGNATURE,
                ..
            })
        ));

        // Header names are matched whatever their case; uppercase hex is read too.
        let mut headers = HeaderMap::new();
        headers.insert(
            "X-AURA-SIGNATURE",
            HeaderValue::from_str(&CREATED_AURA.to_uppercase()).unwrap(),
        );
        assert!(verify_sent(body, &headers).is_ok());
    }

    #[test]
    fn sign_refuses_an_id_that_cannot_be_a_header() {
        let body = CREATED_BODY.as_bytes();
        for id in ["", "line\nbreak", "two words", "délivrance"] {
            assert!(matches!(
                sign(SECRET, id, SENT_AT, body),
                Err(VerifyError::MalformedHeader {
                    header: WEBHOOK_ID,
                    ..
                })
            ));
        }
    }

    #[test]
    fn errors_never_show_the_secret() {
        let key = &SECRET[SECRET_PREFIX.len()..];
        let body = CREATED_BODY.as_bytes();
        let headers = signed(OTHER_SECRET, body);
        let errors = [
            verify_sent(body, &headers).unwrap_err(),
            verify_sent(body, &without(headers.clone(), &[AURA_SIGNATURE])).unwrap_err(),
            verify_at(&SECRET[..20], body, &headers, at(SENT_AT)).unwrap_err(),
            verify_at(&format!(" {SECRET}"), body, &headers, at(SENT_AT)).unwrap_err(),
            verify_sent(body, &HeaderMap::new()).unwrap_err(),
            verify_at(SECRET, body, &signed(SECRET, body), at(SENT_AT + 999)).unwrap_err(),
        ];
        for error in errors {
            for shown in [error.to_string(), format!("{error:?}")] {
                assert!(!shown.contains(key), "{shown}");
                assert!(!shown.contains(&key[..10]), "{shown}");
            }
        }
    }
}
