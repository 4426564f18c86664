//! Webhook deliveries: each attempt's outcome and duration, as the worker records them, and
//! the outbox's state (what is pending, since when, and the subscriptions disabled), read from
//! the store when the metrics are scraped, so that every process on a shared database shows
//! the same outbox.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use super::{Register, seconds};

/// How an attempt to deliver ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The receiver took it.
    Delivered,
    /// It failed, and the delivery is tried again later.
    Retrying,
    /// It failed for the last time: the delivery failed.
    Failed,
}

impl AttemptOutcome {
    fn label(self) -> &'static str {
        match self {
            AttemptOutcome::Delivered => "delivered",
            AttemptOutcome::Retrying => "retrying",
            AttemptOutcome::Failed => "failed",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

/// What the delivery worker records.
#[derive(Clone, Debug)]
pub struct WebhookMetrics {
    attempts: Family<OutcomeLabels, Counter>,
    attempt_duration: Histogram,
}

impl Default for WebhookMetrics {
    fn default() -> Self {
        Self {
            attempts: Family::default(),
            attempt_duration: seconds(),
        }
    }
}

impl WebhookMetrics {
    /// An attempt ended `outcome`, `elapsed` after it was sent.
    pub fn attempted(&self, outcome: AttemptOutcome, elapsed: Duration) {
        self.attempts
            .get_or_create(&OutcomeLabels {
                outcome: outcome.label(),
            })
            .inc();
        self.attempt_duration.observe(elapsed.as_secs_f64());
    }
}

impl Register for WebhookMetrics {
    fn register(&self, registry: &mut Registry) {
        registry.register(
            "webhook_attempts",
            "Attempts to deliver a webhook event, by outcome",
            self.attempts.clone(),
        );
        registry.register_with_unit(
            "webhook_attempt_duration",
            "Time from an attempt being sent to the receiver's answer, or to its failure",
            Unit::Seconds,
            self.attempt_duration.clone(),
        );
    }
}

/// The outbox as the store last reported it.
#[derive(Clone, Debug, Default)]
pub struct Outbox {
    pending: Gauge,
    oldest_pending_age: Gauge,
    disabled_subscriptions: Gauge,
}

impl Outbox {
    /// Shows `pending` deliveries, the oldest of them `oldest_age` old (zero when there is
    /// none), and `disabled` subscriptions.
    pub fn set(&self, pending: u64, oldest_age: Duration, disabled: u64) {
        self.pending.set(saturating(pending));
        self.oldest_pending_age
            .set(saturating(oldest_age.as_secs()));
        self.disabled_subscriptions.set(saturating(disabled));
    }
}

fn saturating(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl Register for Outbox {
    fn register(&self, registry: &mut Registry) {
        registry.register(
            "webhook_deliveries_pending",
            "Deliveries not yet delivered or failed, of every organization",
            self.pending.clone(),
        );
        registry.register_with_unit(
            "webhook_oldest_pending_age",
            "Age of the oldest pending delivery (0 when none is pending)",
            Unit::Seconds,
            self.oldest_pending_age.clone(),
        );
        registry.register(
            "webhook_subscriptions_disabled",
            "Subscriptions disabled after failing deliveries in a row",
            self.disabled_subscriptions.clone(),
        );
    }
}
