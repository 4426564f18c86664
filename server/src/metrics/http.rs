//! Requests and refusals: every API request by operation, status class and API version, its
//! latency, the requests in flight, and each request or connection turned away, by cause.

use std::time::Duration;

use http::StatusCode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use super::{Register, seconds};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    /// The spec's `operationId`, or `method_not_allowed` for a method a path does not serve.
    operation: &'static str,
    /// `2xx` … `5xx`.
    status: &'static str,
    /// The API version the request was served in.
    api_version: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: &'static str,
}

/// The API's requests: counted when answered, timed from the handler's start to the answer
/// built, and gauged while in flight.
#[derive(Clone, Debug)]
pub struct HttpMetrics {
    requests: Family<RequestLabels, Counter>,
    durations: Family<OperationLabels, Histogram, fn() -> Histogram>,
    in_flight: Gauge,
}

impl Default for HttpMetrics {
    fn default() -> Self {
        Self {
            requests: Family::default(),
            durations: Family::new_with_constructor(seconds),
            in_flight: Gauge::default(),
        }
    }
}

impl HttpMetrics {
    /// A request has started: in flight until the guard is dropped (answered, or abandoned).
    pub fn started(&self) -> InFlight {
        self.in_flight.inc();
        InFlight(self.in_flight.clone())
    }

    /// A request of `operation` was answered `status` in `api_version`, `elapsed` after it
    /// started.
    pub fn answered(
        &self,
        operation: &'static str,
        status: StatusCode,
        api_version: &'static str,
        elapsed: Duration,
    ) {
        self.requests
            .get_or_create(&RequestLabels {
                operation,
                status: status_class(status),
                api_version,
            })
            .inc();
        self.durations
            .get_or_create(&OperationLabels { operation })
            .observe(elapsed.as_secs_f64());
    }
}

impl Register for HttpMetrics {
    fn register(&self, registry: &mut Registry) {
        registry.register(
            "http_requests",
            "API requests answered, by operation, status class and API version",
            self.requests.clone(),
        );
        registry.register_with_unit(
            "http_request_duration",
            "Time from a request's handler starting to its answer being built, by operation",
            Unit::Seconds,
            self.durations.clone(),
        );
        registry.register(
            "http_requests_in_flight",
            "API requests being worked on",
            self.in_flight.clone(),
        );
    }
}

/// A request in flight; dropping it ends it.
#[derive(Debug)]
pub struct InFlight(Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

fn status_class(status: StatusCode) -> &'static str {
    match status.as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// Why a request or a connection was turned away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// `429`: a key's or its organization's rate limit.
    RateLimit,
    /// `429`: the limit on unfamiliar keys from one client address.
    UnfamiliarKeys,
    /// `503`: as many requests in flight as the server takes (`--max-in-flight`).
    Overload,
    /// A request body that did not arrive within `--body-read-timeout`.
    BodyTimeout,
    /// `503` at the front door: the server's connection cap.
    ConnectionCap,
    /// `503` at the front door: one client address's connection cap.
    AddressConnectionCap,
    /// A connection closed for sending no request in time.
    FirstRequestTimeout,
    /// A connection that had sent no request, closed at the server's connection cap to let a
    /// newer one in.
    Displaced,
}

impl Refusal {
    /// The `cause` label.
    fn cause(self) -> &'static str {
        match self {
            Refusal::RateLimit => "rate_limit",
            Refusal::UnfamiliarKeys => "unfamiliar_keys",
            Refusal::Overload => "overload",
            Refusal::BodyTimeout => "body_timeout",
            Refusal::ConnectionCap => "connection_cap",
            Refusal::AddressConnectionCap => "address_connection_cap",
            Refusal::FirstRequestTimeout => "first_request_timeout",
            Refusal::Displaced => "displaced",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusalLabels {
    cause: &'static str,
}

/// Requests and connections turned away, by cause; shared by the API and the front door.
#[derive(Clone, Debug, Default)]
pub struct Refusals(Family<RefusalLabels, Counter>);

impl Refusals {
    pub fn count(&self, refusal: Refusal) {
        self.0
            .get_or_create(&RefusalLabels {
                cause: refusal.cause(),
            })
            .inc();
    }
}

impl Register for Refusals {
    fn register(&self, registry: &mut Registry) {
        registry.register(
            "refusals",
            "Requests and connections turned away, by cause",
            self.0.clone(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_falls_in_its_class() {
        for (code, class) in [
            (200, "2xx"),
            (204, "2xx"),
            (404, "4xx"),
            (429, "4xx"),
            (503, "5xx"),
        ] {
            let status = StatusCode::from_u16(code).unwrap();
            assert_eq!(status_class(status), class, "{code}");
        }
    }
}
