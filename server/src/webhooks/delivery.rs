//! One attempt of a delivery: the signed `POST` to the subscriber, and what came of it.
//!
//! Each attempt is signed twice. `X-Aura-Signature` is Aura's: the hex HMAC-SHA256 of the
//! body, keyed with the secret as shown. The Standard Webhooks headers (`webhook-id`,
//! `webhook-timestamp`, `webhook-signature`) sign the delivery's id and the attempt's time
//! with the body, so that a receiver can refuse a replayed request, which Aura's signature
//! alone cannot tell from a fresh one.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use sha2::Sha256;

use super::target::{CheckedResolver, TargetPolicy};
use crate::domain::{DueDelivery, SigningSecret};

/// How long a receiver has to answer: 10 seconds, as Aura documents.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// What one attempt came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sent {
    /// The receiver's status, if it answered.
    pub status_code: Option<u16>,
    pub response_time_ms: u64,
    /// Why the attempt failed; `None` if the receiver answered `2xx`.
    pub error: Option<String>,
}

/// Sends deliveries: one HTTP client for every attempt, which resolves names through the
/// [`CheckedResolver`] unless the policy is insecure, follows no redirect and uses no proxy.
///
/// The client is built at the first attempt: it loads the system's root certificates, some
/// megabytes that a server nobody subscribes to never needs.
pub struct Sender {
    client: OnceLock<Result<reqwest::Client, String>>,
    policy: TargetPolicy,
    timeout: Duration,
}

impl Sender {
    pub fn new(policy: TargetPolicy, timeout: Duration) -> Self {
        Self {
            client: OnceLock::new(),
            policy,
            timeout,
        }
    }

    fn client(&self) -> Result<&reqwest::Client, &str> {
        self.client
            .get_or_init(|| {
                let mut builder = reqwest::Client::builder()
                    .timeout(self.timeout)
                    .connect_timeout(self.timeout)
                    .redirect(reqwest::redirect::Policy::none())
                    .no_proxy()
                    .user_agent(concat!("aura-leads-webhooks/", env!("CARGO_PKG_VERSION")));
                if self.policy == TargetPolicy::Public {
                    builder = builder.dns_resolver(std::sync::Arc::new(CheckedResolver));
                }
                builder
                    .build()
                    .map_err(|error| format!("the HTTP client could not be built: {error}"))
            })
            .as_ref()
            .map_err(String::as_str)
    }

    /// Sends `delivery` once, signed as of `timestamp` (Unix seconds).
    pub async fn attempt(&self, delivery: &DueDelivery, timestamp: i64) -> Sent {
        let started = Instant::now();
        // Checked again at every attempt: the policy may have changed since the subscription
        // was made, and a literal address never reaches the resolver.
        let prepared = self
            .policy
            .check_url(&delivery.target_url)
            .map_err(|why| format!("the target URL {why}"))
            .and_then(|_| self.client().map_err(String::from))
            .and_then(|client| {
                signed_headers(delivery, timestamp).map(|headers| (client, headers))
            });
        let (client, headers) = match prepared {
            Ok(prepared) => prepared,
            Err(why) => {
                return Sent {
                    status_code: None,
                    response_time_ms: 0,
                    error: Some(format!("not sent: {why}")),
                };
            }
        };
        let outcome = client
            .post(&delivery.target_url)
            .headers(headers)
            .body(delivery.body.clone())
            .send()
            .await;
        let response_time_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match outcome {
            Ok(response) if response.status().is_success() => Sent {
                status_code: Some(response.status().as_u16()),
                response_time_ms,
                error: None,
            },
            Ok(response) => Sent {
                status_code: Some(response.status().as_u16()),
                response_time_ms,
                error: Some(format!(
                    "the receiver answered {}, not 2xx",
                    response.status()
                )),
            },
            Err(error) => Sent {
                status_code: None,
                response_time_ms,
                error: Some(describe(&error)),
            },
        }
    }
}

/// The headers of an attempt of `delivery` sent at `timestamp`: the JSON content type and both
/// signatures, with the subscription's secret.
pub fn signed_headers(delivery: &DueDelivery, timestamp: i64) -> Result<HeaderMap, String> {
    let body = delivery.body.as_bytes();
    let id = delivery.id.to_string();
    let standard_key = delivery
        .secret
        .standard_key()
        .ok_or("the subscription's secret is not `whsec_` and base64")?;
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(
        "x-aura-signature",
        header_value(aura_signature(&delivery.secret, body)?)?,
    );
    headers.insert("webhook-id", header_value(id.clone())?);
    headers.insert("webhook-timestamp", header_value(timestamp.to_string())?);
    headers.insert(
        "webhook-signature",
        header_value(standard_signature(&standard_key, &id, timestamp, body)?)?,
    );
    Ok(headers)
}

/// `X-Aura-Signature`: the hex HMAC-SHA256 of `body`, keyed with the secret's text.
pub fn aura_signature(secret: &SigningSecret, body: &[u8]) -> Result<String, String> {
    let digest = hmac(secret.expose().as_bytes(), &[body])?;
    Ok(digest.iter().map(|byte| format!("{byte:02x}")).collect())
}

/// `webhook-signature`: `v1,` and the base64 HMAC-SHA256 of `id.timestamp.body`.
pub fn standard_signature(
    key: &[u8],
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, String> {
    let timestamp = timestamp.to_string();
    let digest = hmac(
        key,
        &[id.as_bytes(), b".", timestamp.as_bytes(), b".", body],
    )?;
    Ok(format!("v1,{}", STANDARD.encode(digest)))
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> Result<[u8; 32], String> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key)
        .map_err(|error| format!("an HMAC key is refused: {error}"))?;
    for part in parts {
        mac.update(part);
    }
    Ok(mac.finalize().into_bytes().into())
}

fn header_value(text: String) -> Result<HeaderValue, String> {
    HeaderValue::try_from(text).map_err(|error| format!("a header value is invalid: {error}"))
}

/// A failed request, for the deliveries log: what happened, with its causes, in one line.
fn describe(error: &reqwest::Error) -> String {
    let what = if error.is_timeout() {
        format!("timed out after {} s", TIMEOUT.as_secs())
    } else if error.is_connect() {
        "could not connect".to_string()
    } else {
        "the request failed".to_string()
    };
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        causes.push(cause.to_string());
        source = cause.source();
    }
    match causes.last() {
        Some(root) => format!("{what}: {root}"),
        None => what,
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    /// Computed independently, with Python's `hmac` and `base64` modules:
    /// `hmac.new(b"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", b'{"a":1}', "sha256").hexdigest()`
    /// and `base64.b64encode(hmac.new(base64.b64decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
    /// b'msg_1.1700000000.{"a":1}', "sha256").digest())`.
    #[test]
    fn both_signatures_match_independently_computed_values() {
        let secret = SigningSecret::from_stored("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into());
        assert_eq!(
            aura_signature(&secret, br#"{"a":1}"#).unwrap(),
            "45ec03b2b33403c8043a90de06bedad0827183927115fd7e448ef97eeb13c5be"
        );
        let key = secret.standard_key().unwrap();
        assert_eq!(
            standard_signature(&key, "msg_1", 1_700_000_000, br#"{"a":1}"#).unwrap(),
            "v1,hVsFLpmw4Ib/Xm0eZLt3KqYBZdt0U8gdGeuz0EsGv78="
        );
    }

    #[test]
    fn an_attempt_carries_both_signatures_and_no_secret() {
        let secret = SigningSecret::generate();
        let delivery = DueDelivery {
            id: Uuid::now_v7(),
            subscription_id: Uuid::now_v7(),
            target_url: "https://hooks.example.com/".into(),
            secret: secret.clone(),
            body: r#"{"event":"lead.created"}"#.into(),
            attempt_count: 0,
        };
        let headers = signed_headers(&delivery, 1_700_000_000).unwrap();
        assert_eq!(headers["webhook-id"], delivery.id.to_string().as_str());
        assert_eq!(headers["webhook-timestamp"], "1700000000");
        assert!(
            headers["webhook-signature"]
                .to_str()
                .unwrap()
                .starts_with("v1,")
        );
        assert_eq!(headers["x-aura-signature"].len(), 64);
        for value in headers.values() {
            assert!(!value.to_str().unwrap().contains(secret.expose()));
        }
    }
}
