//! What every served request leaves for operators: its count and latency in the metrics
//! (by operation, status class and API version), and one log line naming its operation,
//! API version, organization, status, latency and W3C trace context. dropshot's own
//! "request completed" line stays beside it, for what reaches no operation (an unknown path).
//!
//! [`serve`](super::versions::serve) starts an [`Observation`] and the answer finishes it
//! once its status is known. What only a handler learns (the caller's organization) and what
//! the layers below need of the request (its trace context, carried into the webhook events
//! it causes) travel in a task-local [`Notes`] for the request's task.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use dropshot::{RequestContext, ServerContext};
use http::StatusCode;

use crate::domain::{OrganizationId, TraceParent};
use crate::metrics::{HttpMetrics, InFlight};

/// A server context whose requests are observed.
pub trait Observed: ServerContext {
    fn http_metrics(&self) -> &HttpMetrics;
}

/// What is learned about a request while it is served.
#[derive(Debug, Default)]
pub struct Notes {
    organization: OnceLock<OrganizationId>,
    trace: Option<TraceParent>,
}

tokio::task_local! {
    static NOTES: Arc<Notes>;
}

/// Notes that the request being served is the organization's (once admitted).
pub fn note_organization(organization: OrganizationId) {
    let _ = NOTES.try_with(|notes| notes.organization.set(organization));
}

/// The trace context of the request being served, if it sent a valid `traceparent`.
pub fn current_trace() -> Option<TraceParent> {
    NOTES.try_with(|notes| notes.trace.clone()).ok().flatten()
}

/// A request being served.
#[derive(Debug)]
pub struct Observation {
    operation: &'static str,
    started: Instant,
    log: slog::Logger,
    metrics: HttpMetrics,
    notes: Arc<Notes>,
    _in_flight: InFlight,
}

impl Observation {
    /// Starts observing the request of `rqctx`, for `operation`.
    pub fn start<C: Observed>(rqctx: &RequestContext<C>, operation: &'static str) -> Self {
        let metrics = rqctx.context().http_metrics().clone();
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
            _in_flight: metrics.started(),
            metrics,
            notes: Arc::new(Notes {
                organization: OnceLock::new(),
                trace,
            }),
        }
    }

    /// An observation of no request, for tests of what answers: it counts into metrics of
    /// its own and logs nowhere.
    #[cfg(test)]
    pub fn detached(operation: &'static str) -> Self {
        let metrics = HttpMetrics::default();
        Self {
            operation,
            started: Instant::now(),
            log: slog::Logger::root(slog::Discard, slog::o!()),
            _in_flight: metrics.started(),
            metrics,
            notes: Arc::default(),
        }
    }

    /// Runs `work` (the handler) with this request's notes at hand.
    pub async fn within<T>(&self, work: impl Future<Output = T>) -> T {
        NOTES.scope(Arc::clone(&self.notes), work).await
    }

    /// The request was answered `status` in `api_version`.
    pub fn finish(self, status: StatusCode, api_version: &'static str) {
        let elapsed = self.started.elapsed();
        self.metrics
            .answered(self.operation, status, api_version, elapsed);
        let organization = self.notes.organization.get().map(|id| id.0.to_string());
        let trace = self.notes.trace.as_ref().map(ToString::to_string);
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
