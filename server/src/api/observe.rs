//! What every served request leaves for operators: its count and latency in the metrics
//! (by operation, status class and API version), and one log line naming its operation,
//! API version, organization, status, latency and W3C trace context. dropshot's own
//! "request completed" line stays beside it, for what reaches no operation (an unknown path).
//!
//! [`serve`](super::versions::serve) starts an [`Observation`] and the answer finishes it
//! once its status is known. What only admission learns (the caller's organization) travels
//! back in a task-local [`Notes`]; the request's trace context goes down to the lead writes
//! that store webhook events the same way ([`TraceParent::within`]).

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use dropshot::{RequestContext, ServerContext};
use http::StatusCode;

use crate::domain::{OrganizationId, TraceParent};
use crate::metrics::{HttpMetrics, InFlight};

/// A server context whose requests are observed.
pub trait Observed: ServerContext {
    /// Where requests are counted; `None` when no metrics are served, so that a server
    /// without them does not pay for them.
    fn http_metrics(&self) -> Option<&HttpMetrics>;
}

/// What is learned about a request while it is served.
#[derive(Debug, Default)]
pub struct Notes {
    organization: OnceLock<OrganizationId>,
}

tokio::task_local! {
    static NOTES: Arc<Notes>;
}

/// Notes that the request being served is the organization's (once its key is known).
pub fn note_organization(organization: OrganizationId) {
    let _ = NOTES.try_with(|notes| notes.organization.set(organization));
}

/// Runs `work` (an extractor's admission, which dropshot runs before the handler, outside
/// the request's [`Observation::within`]) and returns what it came to, and the organization
/// it noted: the handler notes it again ([`note_organization`]) in the request's notes.
pub async fn noting_organization<T>(work: impl Future<Output = T>) -> (T, Option<OrganizationId>) {
    let notes = Arc::new(Notes::default());
    let outcome = NOTES.scope(Arc::clone(&notes), work).await;
    (outcome, notes.organization.get().copied())
}

/// A request being served.
#[derive(Debug)]
pub struct Observation {
    operation: &'static str,
    started: Instant,
    log: slog::Logger,
    metrics: Option<HttpMetrics>,
    notes: Arc<Notes>,
    trace: Option<TraceParent>,
    _in_flight: Option<InFlight>,
}

impl Observation {
    /// Starts observing the request of `rqctx`, for `operation`.
    pub fn start<C: Observed>(rqctx: &RequestContext<C>, operation: &'static str) -> Self {
        let metrics = rqctx.context().http_metrics().cloned();
        let trace = rqctx
            .request
            .headers()
            .get(TraceParent::HEADER)
            .and_then(|value| value.to_str().ok())
            .and_then(|text| text.parse().ok());
        Self {
            operation,
            started: Instant::now(),
            log: rqctx.log.clone(),
            _in_flight: metrics.as_ref().map(HttpMetrics::started),
            metrics,
            notes: Arc::default(),
            trace,
        }
    }

    /// An observation of no request, for tests of what answers: it counts nothing and logs
    /// nowhere.
    #[cfg(test)]
    pub fn detached(operation: &'static str) -> Self {
        Self {
            operation,
            started: Instant::now(),
            log: slog::Logger::root(slog::Discard, slog::o!()),
            _in_flight: None,
            metrics: None,
            notes: Arc::default(),
            trace: None,
        }
    }

    /// Runs `work` (the handler) with this request's notes and trace at hand.
    pub async fn within<T>(&self, work: impl Future<Output = T>) -> T {
        let traced = TraceParent::within(self.trace.clone(), work);
        NOTES.scope(Arc::clone(&self.notes), traced).await
    }

    /// The request was answered `status` in `api_version`.
    pub fn finish(self, status: StatusCode, api_version: &'static str) {
        let elapsed = self.started.elapsed();
        if let Some(metrics) = &self.metrics {
            metrics.answered(self.operation, status, api_version, elapsed);
        }
        let organization = self.notes.organization.get().map(|id| id.0.to_string());
        let trace = self.trace.as_ref().map(ToString::to_string);
        slog::info!(self.log, "request served";
            "operation" => self.operation,
            "api_version" => api_version,
            "organization_id" => organization,
            "response_code" => status.as_u16(),
            "latency_us" => u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            "traceparent" => trace,
        );
    }
}
