//! The sending side, for tests of a receiver: [`sign`] makes a delivery's headers as the
//! server does, [`SignedHeaders`] holds them.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::Mac as _;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use super::error::malformed;
use super::secret::Secret;
use super::{AURA_SIGNATURE, VerifyError, WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP};

/// Signs `body` as the server signs a delivery: the four headers it sends, for the delivery
/// `id` sent at `timestamp` (Unix seconds).
///
/// For testing a receiver without a server: send `body` with
/// [`SignedHeaders::to_header_map`] to it, or change or remove a header first to see it
/// refused. `X-Aura-Signature` is made too, as the server sends it, though
/// [`verify`](super::verify) does not read it.
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
    let aura = secret.aura_mac(body).finalize().into_bytes();
    let standard = secret
        .standard_mac(id, &timestamp_text, body)
        .finalize()
        .into_bytes();
    let aura_signature = hex::encode(aura);
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
