//! The receiving side: [`verify`] and [`verify_at`] check a delivery's Standard Webhooks
//! signature and timestamp, then read its event; [`verify_any`] and [`verify_any_at`] do the
//! same with any of several secrets, for the overlap after a rotation.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::Mac as _;
use reqwest::header::HeaderMap;

use super::error::{excerpt, malformed};
use super::secret::Secret;
use super::{
    AURA_SIGNATURE, TOLERANCE, VerifyError, WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP,
};
use crate::types::{
    LeadCreatedEvent, LeadDeletedEvent, LeadStatusChangedEvent, LeadUpdatedEvent, WebhookEvent,
};

/// Verifies a webhook delivery against the subscription's `secret` and the current time, and
/// parses its event: [`verify_at`] with [`SystemTime::now`].
///
/// `body` must be the request's body exactly as received, and `headers` its headers. A
/// verified delivery may still be one handled already (a retry, or a replay within
/// [`TOLERANCE`]): deduplicate on its `webhook-id` header (see the [module](super) docs).
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
/// 2. The request must carry the three Standard Webhooks headers (`webhook-id`,
///    `webhook-timestamp`, `webhook-signature`), each once, in visible ASCII, as every
///    delivery of the Leads API does. `X-Aura-Signature` alone is refused
///    ([`VerifyError::AuraSignatureAlone`]): it signs no time, so it would let a captured
///    delivery be replayed forever.
/// 3. `webhook-timestamp` must be whole Unix seconds, and `webhook-id` not empty.
/// 4. Some `v1` entry of `webhook-signature` must be the HMAC of
///    `<webhook-id>.<webhook-timestamp>.<body>` (entries of other versions are ignored).
/// 5. Only then, once it is known to be the server's, `webhook-timestamp` must be within
///    [`TOLERANCE`] (5 minutes) of `now`, either way.
/// 6. `body` must be a [`WebhookEvent`]: a JSON object whose `event` names one of the lead
///    events, matching that event's schema.
///
/// `X-Aura-Signature` is not read (beyond step 2 saying why a request is refused): the
/// `v1` signature, made with the same secret, covers the body as well as the id and time;
/// and a secret's rotation signs `webhook-signature` with the new and the old secret for an
/// overlap, but `X-Aura-Signature` with the new one only, which a receiver still holding the
/// old secret could not verify. Signatures are compared in
/// constant time.
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
    verify_any_at(&[secret], body, headers, now)
}

/// Verifies a webhook delivery against any of `secrets` and the current time, and parses its
/// event: [`verify_any_at`] with [`SystemTime::now`].
///
/// For the overlap after a secret's rotation (`POST /v1/webhooks/{id}/rotate-secret`): give
/// it the new secret and the one it replaced, and a delivery signed with either verifies,
/// whichever your receiver was deployed with when it was sent. Once the overlap is over,
/// give it the new secret alone.
///
/// # Errors
///
/// A [`VerifyError`] saying why the delivery is refused: see [`verify_any_at`].
pub fn verify_any(
    secrets: &[&str],
    body: &[u8],
    headers: &HeaderMap,
) -> Result<WebhookEvent, VerifyError> {
    verify_any_at(secrets, body, headers, SystemTime::now())
}

/// Verifies a webhook delivery against any of `secrets`, taking `now` for the current time,
/// and parses its event: [`verify_at`]'s steps, where step 1 holds for every secret given
/// (at least one), and step 4 is met when some `v1` entry is the HMAC keyed with any of them.
///
/// # Errors
///
/// The [`VerifyError`] of the first step that fails; no secret at all is
/// [`VerifyError::MalformedSecret`].
pub fn verify_any_at(
    secrets: &[&str],
    body: &[u8],
    headers: &HeaderMap,
    now: SystemTime,
) -> Result<WebhookEvent, VerifyError> {
    if secrets.is_empty() {
        return Err(VerifyError::MalformedSecret {
            reason: "no secret was given",
        });
    }
    let secrets = secrets
        .iter()
        .map(|secret| Secret::parse(secret))
        .collect::<Result<Vec<_>, _>>()?;
    let standard = StandardHeaders::read(headers)?;
    let seconds = parse_timestamp(standard.timestamp)?;
    check_signature(&secrets, &standard, body)?;
    check_window(seconds, now)?;
    parse_event(body)
}

/// The three Standard Webhooks headers of a request, each sent once.
struct StandardHeaders<'h> {
    id: &'h str,
    timestamp: &'h str,
    signatures: &'h str,
}

impl<'h> StandardHeaders<'h> {
    fn read(headers: &'h HeaderMap) -> Result<Self, VerifyError> {
        let id = single_header(headers, WEBHOOK_ID)?;
        let timestamp = single_header(headers, WEBHOOK_TIMESTAMP)?;
        let signatures = single_header(headers, WEBHOOK_SIGNATURE)?;
        let missing = |header| Err(VerifyError::MissingHeader { header });
        match (id, timestamp, signatures) {
            (Some(""), Some(_), Some(_)) => Err(malformed(WEBHOOK_ID, "it is empty")),
            (Some(id), Some(timestamp), Some(signatures)) => Ok(Self {
                id,
                timestamp,
                signatures,
            }),
            // Looked at only to tell a stripped delivery from a request never signed.
            (None, None, None) if headers.contains_key(AURA_SIGNATURE) => {
                Err(VerifyError::AuraSignatureAlone)
            }
            (None, None, None) => Err(VerifyError::MissingSignature),
            (None, ..) => missing(WEBHOOK_ID),
            (_, None, _) => missing(WEBHOOK_TIMESTAMP),
            (.., None) => missing(WEBHOOK_SIGNATURE),
        }
    }
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

/// Checks that some `v1` entry of `webhook-signature` signs the delivery, with any of
/// `secrets`.
fn check_signature(
    secrets: &[Secret],
    headers: &StandardHeaders<'_>,
    body: &[u8],
) -> Result<(), VerifyError> {
    let macs: Vec<_> = secrets
        .iter()
        .map(|secret| secret.standard_mac(headers.id, headers.timestamp, body))
        .collect();
    let mut v1_entries = 0;
    for entry in headers
        .signatures
        .split(' ')
        .filter(|entry| !entry.is_empty())
    {
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
            && macs
                .iter()
                .any(|mac| mac.clone().verify_slice(&signature).is_ok())
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
        "lead.deleted" => serde_json::from_slice::<LeadDeletedEvent>(body)
            .map(WebhookEvent::DeletedEvent)
            .map_err(schema),
        other => Err(not_an_event(format!(
            "its `event` is `{}`, not one of `lead.created`, `lead.updated`, \
             `lead.status_changed`, `lead.deleted` (is this client older than the API?)",
            excerpt(other)
        ))),
    }
}
