//! One attempt of a delivery: the signed `POST` to the subscriber, and what came of it.
//!
//! Each attempt is signed twice. `X-Aura-Signature` is Aura's: the hex HMAC-SHA256 of the
//! body, keyed with the secret as shown. The Standard Webhooks headers (`webhook-id`,
//! `webhook-timestamp`, `webhook-signature`) sign the delivery's id and the attempt's time
//! with the body, so that a receiver can refuse a replayed request, which Aura's signature
//! alone cannot tell from a fresh one.
//!
//! What came of a failed attempt is told twice: to the subscriber, in the deliveries log, in a
//! small fixed vocabulary ([`Failure`]) that says nothing of the server's network, and in full
//! to the operator, in the server's log ([`Sent::detail`]).

use std::error::Error as _;
use std::fmt;
use std::io;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use sha2::Sha256;

use super::target::{TargetPolicy, Targets, Unresolved};
use crate::domain::{DueDelivery, SigningSecret, TraceParent};

/// How long a receiver has to answer: 10 seconds, as Aura documents.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Idle connections kept to one receiver, for its next deliveries: as many as one
/// organization may have in flight ([`crate::domain::IN_FLIGHT_PER_ORGANIZATION`]), so that a
/// receiver kept busy by its own subscriptions gets every next request on a connection already
/// open. With fewer (2 before), each round of 4 attempts to one subscription closed the
/// connections beyond the idle ones and opened new ones for the next round.
const IDLE_CONNECTIONS_PER_RECEIVER: usize = crate::domain::IN_FLIGHT_PER_ORGANIZATION as usize;

/// How long an idle connection to a receiver is kept.
const IDLE_CONNECTION_TIMEOUT: Duration = Duration::from_secs(30);

/// What one attempt came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sent {
    /// The receiver's status, if it answered.
    pub status_code: Option<u16>,
    pub response_time_ms: u64,
    /// Why the attempt failed; `None` if the receiver answered `2xx`.
    pub failure: Option<Failure>,
    /// What went wrong in the words of the libraries that saw it (addresses, certificate
    /// names, the system's errors): for the operator's log, never the deliveries log.
    pub detail: Option<String>,
}

/// Why an attempt failed, as the deliveries log says it: a fixed vocabulary of what the
/// subscriber can act on, which tells nothing of the server's network (no address, no
/// certificate name, no route). The spec lists it under `WebhookDelivery.error_message`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The receiver answered a status that is not `2xx` (a redirect included).
    Status(u16),
    /// No answer within [`TIMEOUT`], connecting included.
    TimedOut,
    /// Nothing listens on the target's port.
    ConnectionRefused,
    /// The connection could not be made for another reason (unreachable, reset).
    ConnectFailed,
    /// TLS failed: a certificate not valid for the name, or no TLS at all on the port.
    Tls,
    /// The connection was made but no valid HTTP answer came back.
    NoHttpAnswer,
    /// The name does not exist, or resolves to an address that is not public.
    NotPublic,
    /// The name did not resolve within the resolver's time limit
    /// ([`super::target::RESOLVE_TIMEOUT`]).
    LookupTimedOut,
    /// The target URL breaks the rules as they are now (they may have changed since the
    /// subscription was made).
    TargetNotAllowed,
    /// Something of the server's own; the operator's log says what.
    Internal,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Status(status) => write!(f, "HTTP {status}"),
            Failure::TimedOut => f.write_str("timed out"),
            Failure::ConnectionRefused => f.write_str("connection refused"),
            Failure::ConnectFailed => f.write_str("could not connect"),
            Failure::Tls => f.write_str("TLS handshake failed"),
            Failure::NoHttpAnswer => f.write_str("no valid HTTP answer"),
            Failure::NotPublic => f.write_str("does not resolve to public addresses only"),
            Failure::LookupTimedOut => f.write_str("DNS lookup timed out"),
            Failure::TargetNotAllowed => f.write_str("target URL not allowed"),
            Failure::Internal => f.write_str("not sent: server error"),
        }
    }
}

impl Sent {
    fn not_sent(failure: Failure, detail: String) -> Self {
        Self {
            status_code: None,
            response_time_ms: 0,
            failure: Some(failure),
            detail: Some(detail),
        }
    }
}

/// Sends deliveries: one HTTP client for every attempt, which resolves names through the
/// targets' checked resolver unless the policy is insecure, follows no redirect and uses no
/// proxy.
///
/// The client is built at the first attempt: it loads the system's root certificates, some
/// megabytes that a server nobody subscribes to never needs.
pub struct Sender {
    client: OnceLock<Result<reqwest::Client, String>>,
    targets: Arc<Targets>,
    timeout: Duration,
}

impl Sender {
    pub fn new(targets: Arc<Targets>, timeout: Duration) -> Self {
        Self {
            client: OnceLock::new(),
            targets,
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
                    // Connections kept for reuse hold descriptors out of the reserve the front
                    // door leaves for everything but client connections
                    // (`crate::connections`): a few per receiver, for a short while.
                    .pool_max_idle_per_host(IDLE_CONNECTIONS_PER_RECEIVER)
                    .pool_idle_timeout(IDLE_CONNECTION_TIMEOUT)
                    .user_agent(concat!("aura-leads-webhooks/", env!("CARGO_PKG_VERSION")));
                if self.targets.policy() == TargetPolicy::Public {
                    builder = builder.dns_resolver(Arc::new(self.targets.checked_resolver()));
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
        // Checked again at every attempt: the rules may have changed since the subscription
        // was made, and a literal address never reaches the resolver.
        if let Err(why) = self.targets.check_url(&delivery.target_url) {
            return Sent::not_sent(Failure::TargetNotAllowed, format!("the target URL {why}"));
        }
        let prepared = self.client().map_err(String::from).and_then(|client| {
            signed_headers(delivery, timestamp).map(|headers| (client, headers))
        });
        let (client, headers) = match prepared {
            Ok(prepared) => prepared,
            Err(why) => return Sent::not_sent(Failure::Internal, why),
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
                failure: None,
                detail: None,
            },
            Ok(response) => Sent {
                status_code: Some(response.status().as_u16()),
                response_time_ms,
                failure: Some(Failure::Status(response.status().as_u16())),
                detail: None,
            },
            Err(error) => Sent {
                status_code: None,
                response_time_ms,
                failure: Some(classify(&error)),
                detail: Some(detail(&error)),
            },
        }
    }
}

/// The headers of an attempt of `delivery` sent at `timestamp`: the JSON content type and both
/// signatures, with the subscription's secret. While a rotated-out secret has not expired,
/// `webhook-signature` carries its signature too, after the new secret's (Standard Webhooks
/// separates signatures with spaces), so that a receiver that holds either verifies;
/// `X-Aura-Signature` has room for one, the new secret's.
pub fn signed_headers(delivery: &DueDelivery, timestamp: i64) -> Result<HeaderMap, String> {
    let body = delivery.body.as_bytes();
    let id = delivery.id.to_string();
    let signatures = std::iter::once(&delivery.secret)
        .chain(&delivery.previous_secret)
        .map(|secret| {
            let key = secret
                .standard_key()
                .ok_or("the subscription's secret is not `whsec_` and base64")?;
            standard_signature(&key, &id, timestamp, body)
        })
        .collect::<Result<Vec<_>, String>>()?;
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(
        "x-aura-signature",
        header_value(aura_signature(&delivery.secret, body)?)?,
    );
    headers.insert("webhook-id", header_value(id.clone())?);
    headers.insert("webhook-timestamp", header_value(timestamp.to_string())?);
    headers.insert("webhook-signature", header_value(signatures.join(" "))?);
    if let Some(trace) = &delivery.trace {
        headers.insert(
            TraceParent::HEADER,
            header_value(trace.child().to_string())?,
        );
    }
    Ok(headers)
}

/// `X-Aura-Signature`: the hex HMAC-SHA256 of `body`, keyed with the secret's text.
pub fn aura_signature(secret: &SigningSecret, body: &[u8]) -> Result<String, String> {
    let digest = hmac(secret.expose().as_bytes(), &[body])?;
    Ok(hex::encode(digest))
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

/// Every error under a failed request, outermost first, the request's own left out (its
/// text carries the URL, whose query may hold the subscriber's token). An `io::Error`'s own
/// error is listed too, which its `source` skips.
fn causes(error: &reqwest::Error) -> Vec<&(dyn std::error::Error + 'static)> {
    let mut causes = Vec::new();
    let mut next = error.source();
    while let Some(cause) = next {
        causes.push(cause);
        // hyper-rustls wraps the TLS error's `io::Error` in another.
        let mut deepest = cause;
        while let Some(inner) = deepest
            .downcast_ref::<io::Error>()
            .and_then(io::Error::get_ref)
        {
            let inner: &(dyn std::error::Error + 'static) = inner;
            causes.push(inner);
            deepest = inner;
        }
        next = deepest.source();
    }
    causes
}

/// What a failed request comes to, in the deliveries log's words.
fn classify(error: &reqwest::Error) -> Failure {
    let causes = causes(error);
    if let Some(unresolved) = causes.iter().find_map(|c| c.downcast_ref::<Unresolved>()) {
        return match unresolved {
            Unresolved::NotPublic { .. } => Failure::NotPublic,
            Unresolved::TimedOut(_) => Failure::LookupTimedOut,
            Unresolved::Busy => Failure::Internal,
        };
    }
    let io_kind = |kind: io::ErrorKind| {
        causes
            .iter()
            .filter_map(|c| c.downcast_ref::<io::Error>())
            .any(|error| error.kind() == kind)
    };
    if error.is_timeout() || io_kind(io::ErrorKind::TimedOut) {
        Failure::TimedOut
    } else if causes.iter().any(|c| c.is::<rustls::Error>()) {
        Failure::Tls
    } else if io_kind(io::ErrorKind::ConnectionRefused) {
        Failure::ConnectionRefused
    } else if error.is_connect() {
        Failure::ConnectFailed
    } else {
        Failure::NoHttpAnswer
    }
}

/// A failed request in full, for the operator's log: each cause once, outermost first.
fn detail(error: &reqwest::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in causes(error) {
        let text = match cause.downcast_ref::<Unresolved>() {
            Some(unresolved) => unresolved.detail(),
            None => cause.to_string(),
        };
        if parts.last() != Some(&text) {
            parts.push(text);
        }
    }
    if parts.is_empty() {
        parts.push("no cause given".to_string());
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;
    use uuid::Uuid;

    use super::super::target::resolve::tests::FakeLookup;
    use super::super::target::{DEFAULT_ALLOWED_PORTS, Lookup, RESOLVE_TIMEOUT, Resolver};
    use super::*;

    fn due(target_url: &str) -> DueDelivery {
        DueDelivery {
            id: Uuid::now_v7(),
            subscription_id: Uuid::now_v7(),
            target_url: target_url.into(),
            secret: SigningSecret::generate(),
            previous_secret: None,
            body: r#"{"event":"lead.created"}"#.into(),
            attempt_count: 0,
            trace: None,
        }
    }

    fn sender(policy: TargetPolicy, lookup: Arc<dyn Lookup>, resolve: Duration) -> Sender {
        let targets = Targets::new(
            policy,
            DEFAULT_ALLOWED_PORTS.to_vec(),
            Resolver::new(lookup, resolve),
        );
        Sender::new(Arc::new(targets), Duration::from_secs(2))
    }

    /// A sender to loopback receivers, as in development.
    fn insecure() -> Sender {
        sender(TargetPolicy::Insecure, FakeLookup::of(&[]), RESOLVE_TIMEOUT)
    }

    /// A receiver on loopback that reads the request, then writes `answer` (if any) and closes.
    async fn receiver(answer: Option<&'static [u8]>) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut request = [0; 4096];
                let _ = stream.read(&mut request).await;
                if let Some(answer) = answer {
                    let _ = stream.write_all(answer).await;
                }
            }
        });
        port
    }

    async fn failure_of(sender: &Sender, url: &str) -> Sent {
        let sent = sender.attempt(&due(url), 1_700_000_000).await;
        assert!(sent.failure.is_some(), "{url}: {sent:?}");
        sent
    }

    /// Each way a delivery fails, provoked for real, gives its word of the vocabulary; the
    /// operator's detail says more.
    #[tokio::test]
    async fn each_failure_is_told_in_the_fixed_vocabulary() {
        let sender = insecure();
        let status = receiver(Some(
            b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n",
        ))
        .await;
        let redirect = receiver(Some(
            b"HTTP/1.1 302 Found\r\nlocation: http://10.0.0.1/\r\ncontent-length: 0\r\n\r\n",
        ))
        .await;
        let plain = receiver(Some(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")).await;
        let hangs_up = receiver(None).await;
        let closed = {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            listener.local_addr().unwrap().port()
        };
        for (url, failure) in [
            (format!("http://127.0.0.1:{status}/"), Failure::Status(503)),
            (
                format!("http://127.0.0.1:{redirect}/"),
                Failure::Status(302),
            ),
            (format!("https://127.0.0.1:{plain}/"), Failure::Tls),
            (
                format!("http://127.0.0.1:{hangs_up}/"),
                Failure::NoHttpAnswer,
            ),
            (
                format!("http://127.0.0.1:{closed}/"),
                Failure::ConnectionRefused,
            ),
        ] {
            let sent = failure_of(&sender, &url).await;
            assert_eq!(sent.failure, Some(failure), "{url}: {sent:?}");
        }
        // What the TLS library said stays in the operator's log.
        let sent = failure_of(&sender, &format!("https://127.0.0.1:{plain}/")).await;
        let detail = sent.detail.unwrap_or_default();
        assert!(detail.contains("corrupt message"), "{detail}");
    }

    #[tokio::test]
    async fn a_receiver_that_never_answers_times_out() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        // Accepts (the kernel's backlog does) and never answers.
        let sender = Sender::new(
            Arc::new(Targets::new(
                TargetPolicy::Insecure,
                Vec::new(),
                Resolver::new(FakeLookup::of(&[]), RESOLVE_TIMEOUT),
            )),
            Duration::from_millis(200),
        );
        let sent = failure_of(&sender, &format!("http://127.0.0.1:{port}/")).await;
        assert_eq!(sent.failure, Some(Failure::TimedOut), "{sent:?}");
        drop(listener);
    }

    /// Under the public policy the client resolves through the checked resolver: a name that
    /// resolves to loopback is refused before any connection, and a lookup that never ends
    /// is cut off by the resolver's own timeout, not the request's.
    #[tokio::test]
    async fn a_name_that_is_not_public_or_too_slow_is_not_sent_to() {
        let private = sender(
            TargetPolicy::Public,
            FakeLookup::of(&["127.0.0.1"]),
            RESOLVE_TIMEOUT,
        );
        let sent = failure_of(&private, "https://hooks.example.com/").await;
        assert_eq!(sent.failure, Some(Failure::NotPublic), "{sent:?}");
        let detail = sent.detail.unwrap_or_default();
        assert!(detail.contains("resolves to 127.0.0.1"), "{detail}");
        assert!(!detail.contains("example.com/"), "no URL: {detail}");

        let slow = sender(
            TargetPolicy::Public,
            Arc::new(FakeLookup::Never),
            Duration::from_millis(50),
        );
        let sent = failure_of(&slow, "https://hooks.example.com/").await;
        assert_eq!(sent.failure, Some(Failure::LookupTimedOut), "{sent:?}");
    }

    #[tokio::test]
    async fn a_target_the_rules_no_longer_allow_is_not_sent_to() {
        let public = sender(
            TargetPolicy::Public,
            FakeLookup::of(&["93.184.216.34"]),
            RESOLVE_TIMEOUT,
        );
        for url in [
            "https://8.8.8.8:22/",
            "https://[2002:7f00:1::]/",
            "http://hooks.example.com/",
        ] {
            let sent = failure_of(&public, url).await;
            assert_eq!(sent.failure, Some(Failure::TargetNotAllowed), "{url}");
            assert_eq!(sent.status_code, None);
        }
    }

    #[test]
    fn the_vocabulary_is_the_one_the_spec_lists() {
        let words: Vec<String> = [
            Failure::Status(503),
            Failure::TimedOut,
            Failure::ConnectionRefused,
            Failure::ConnectFailed,
            Failure::Tls,
            Failure::NoHttpAnswer,
            Failure::NotPublic,
            Failure::LookupTimedOut,
            Failure::TargetNotAllowed,
            Failure::Internal,
        ]
        .iter()
        .map(Failure::to_string)
        .collect();
        assert_eq!(
            words,
            [
                "HTTP 503",
                "timed out",
                "connection refused",
                "could not connect",
                "TLS handshake failed",
                "no valid HTTP answer",
                "does not resolve to public addresses only",
                "DNS lookup timed out",
                "target URL not allowed",
                "not sent: server error",
            ]
        );
    }

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
            secret: secret.clone(),
            ..due("https://hooks.example.com/")
        };
        let headers = signed_headers(&delivery, 1_700_000_000).unwrap();
        assert!(!headers.contains_key("traceparent"), "no trace, none sent");
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

    #[test]
    fn an_attempt_of_a_traced_event_is_a_span_of_its_own_in_the_trace() {
        let trace: TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
            .parse()
            .unwrap();
        let delivery = DueDelivery {
            trace: Some(trace),
            ..due("https://hooks.example.com/")
        };
        let sent = |headers: HeaderMap| headers["traceparent"].to_str().unwrap().to_string();
        let first = sent(signed_headers(&delivery, 1_700_000_000).unwrap());
        let again = sent(signed_headers(&delivery, 1_700_000_001).unwrap());
        for traceparent in [&first, &again] {
            assert!(
                traceparent.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-")
                    && traceparent.ends_with("-01"),
                "{traceparent}"
            );
            assert!(!traceparent.contains("00f067aa0ba902b7"), "{traceparent}");
        }
        assert_ne!(first, again, "each attempt its own span");
    }

    #[test]
    fn during_a_rotation_the_standard_header_carries_both_signatures_new_first() {
        let (new, previous) = (SigningSecret::generate(), SigningSecret::generate());
        let delivery = DueDelivery {
            secret: new.clone(),
            previous_secret: Some(previous.clone()),
            ..due("https://hooks.example.com/")
        };
        let headers = signed_headers(&delivery, 1_700_000_000).unwrap();
        let id = delivery.id.to_string();
        let body = delivery.body.as_bytes();
        let expected = [&new, &previous]
            .map(|secret| {
                let key = secret.standard_key().unwrap();
                standard_signature(&key, &id, 1_700_000_000, body).unwrap()
            })
            .join(" ");
        assert_eq!(headers["webhook-signature"], expected.as_str());
        assert_eq!(
            headers["x-aura-signature"],
            aura_signature(&new, body).unwrap().as_str()
        );
    }
}
