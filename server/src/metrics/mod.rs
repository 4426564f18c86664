//! What the server counts and measures for its operators: the metric families of each layer
//! (requests and refusals, the store, webhook deliveries), and their exposition in the
//! OpenMetrics text format that Prometheus scrapes, on a listener of their own ([`listener`]),
//! never on the API's port.
//!
//! The families are [prometheus-client]'s, the Prometheus project's own Rust client, rather
//! than the `metrics` facade with its exporter: a [`Registry`] here is a value each server
//! builds, not a recorder installed for the whole process, so two servers in one process (as
//! in the tests) each count only their own requests, and each layer holds typed handles to
//! what it records rather than looking metrics up by name. Every handle is a cheap clone of
//! shared atomics: a layer keeps its own, and the server registers the same ones.
//!
//! This module is a leaf: it knows the families and their names, nothing of the layers that
//! record into them.
//!
//! [prometheus-client]: https://docs.rs/prometheus-client

mod http;
pub mod listener;
mod store;
mod webhooks;

pub use http::{HttpMetrics, InFlight, Refusal, Refusals};
pub use prometheus_client::registry::Registry;
pub use store::{PostgresMetrics, SqliteMetrics};
pub use webhooks::{AttemptOutcome, Outbox, WebhookMetrics};

use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};

/// Every metric's name starts with it: `leads_http_requests_total`, …
pub const PREFIX: &str = "leads";

/// A layer's families, registered into the server's registry under their names.
pub trait Register {
    fn register(&self, registry: &mut Registry);
}

/// A histogram of durations in seconds, from 0.1 ms to about 13 s in doublings: a request
/// answered from memory and a webhook receiver at its timeout both fall inside a bucket.
pub(crate) fn seconds() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 2.0, 18))
}
