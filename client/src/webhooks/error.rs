//! Why a delivery is refused, or a body cannot be signed: [`VerifyError`], and the helpers that
//! word its messages.

/// How many characters of a malformed value an error repeats.
const EXCERPT_LEN: usize = 40;

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
        "the request is not signed: it has none of the Standard Webhooks headers (`webhook-id`, \
         `webhook-timestamp`, `webhook-signature`) that every delivery of the Leads API \
         carries; is it a delivery of the Leads API, and does every proxy on the way pass these \
         headers on?"
    )]
    MissingSignature,
    /// The request has `X-Aura-Signature` and none of the Standard Webhooks headers: a
    /// delivery whose other headers were removed on the way, perhaps to replay it.
    /// `X-Aura-Signature` signs no time, so alone it cannot tell a replay from a fresh
    /// delivery, and is not accepted.
    #[error(
        "the request has `X-Aura-Signature` but none of the Standard Webhooks headers \
         (`webhook-id`, `webhook-timestamp`, `webhook-signature`), which every delivery of the \
         Leads API carries: `X-Aura-Signature` signs the body without a time, so a captured \
         delivery could be replayed forever with them removed, and it is not accepted alone \
         (were they removed on the way, by an attacker or by a proxy?)"
    )]
    AuraSignatureAlone,
    /// Some of the Standard Webhooks headers are there, but not this one.
    #[error(
        "the Standard Webhooks header `{header}` is missing while others are present: \
         `webhook-id`, `webhook-timestamp` and `webhook-signature` are checked together, and \
         every delivery of the Leads API carries the three"
    )]
    MissingHeader {
        /// The name of the missing header.
        header: &'static str,
    },
    /// A signature header cannot be read (or, from [`sign`](super::sign), the id cannot be
    /// `webhook-id`).
    #[error("the header `{header}` is malformed: {reason}")]
    MalformedHeader {
        /// The header's name.
        header: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// No `v1` entry of `webhook-signature` matches the delivery's id, timestamp and body.
    #[error(
        "the signature in `{header}` does not match: the secret is not the one of the subscription \
         this delivery is for, or the body or headers were changed on the way (verify the body \
         exactly as received, before anything parses it)"
    )]
    BadSignature {
        /// The header whose signature does not match: `webhook-signature`, the only signature
        /// [`verify`](super::verify) checks.
        header: &'static str,
    },
    /// The delivery was signed longer ago than [`TOLERANCE`](super::TOLERANCE) allows: a
    /// replay, or a clock that is behind.
    #[error(
        "the delivery is too old: `webhook-timestamp` is {age_secs} s behind this machine's \
         clock, more than the {tolerance_secs} s allowed (a replayed delivery, or a clock that \
         is off)"
    )]
    Stale {
        /// How many seconds before the clock the delivery was signed.
        age_secs: u64,
        /// How many seconds are allowed ([`TOLERANCE`](super::TOLERANCE)).
        tolerance_secs: u64,
    },
    /// The delivery claims to be signed later than [`TOLERANCE`](super::TOLERANCE) from now: a
    /// clock that is off, on either side.
    #[error(
        "the delivery is from the future: `webhook-timestamp` is {ahead_secs} s ahead of this \
         machine's clock, more than the {tolerance_secs} s allowed (a clock that is off; the \
         timestamp is in seconds, not milliseconds)"
    )]
    Future {
        /// How many seconds after the clock the delivery claims to be signed.
        ahead_secs: u64,
        /// How many seconds are allowed ([`TOLERANCE`](super::TOLERANCE)).
        tolerance_secs: u64,
    },
    /// The signature matches, but the body is not one of the lead events.
    #[error("the delivery is signed, but its body is not a lead event: {reason}")]
    NotAnEvent {
        /// What is wrong with the body, as serde_json says it where it can.
        reason: String,
    },
}

/// A [`VerifyError::MalformedHeader`].
pub(super) fn malformed(header: &'static str, reason: impl Into<String>) -> VerifyError {
    VerifyError::MalformedHeader {
        header,
        reason: reason.into(),
    }
}

/// The start of a value received, to repeat in an error without echoing a flood of it.
pub(super) fn excerpt(value: &str) -> String {
    match value.char_indices().nth(EXCERPT_LEN) {
        Some((end, _)) => format!("{}…", &value[..end]),
        None => value.to_owned(),
    }
}
