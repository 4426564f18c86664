//! Webhooks in the domain: the lead events, the subscriptions to them, their signing secrets,
//! and the deliveries of events to subscribers, with the schedule of their attempts.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use rand::RngCore;
use uuid::Uuid;

use super::{Keyset, Lead, OrganizationId, TraceParent};

/// Renders the body of a webhook event about a lead, as the lead is right after the change
/// that causes it. A store is given one when it is opened and calls it inside the lead
/// write's transaction (the lead's state after the change is known only there), so that the
/// event and its deliveries commit with the change; the store keeps the bytes and never
/// knows their format.
pub trait EventRenderer: Send + Sync {
    /// The body of `event` about `lead`, or why it could not be rendered.
    fn render(&self, event: EventType, lead: &Lead) -> Result<String, String>;
}

/// The event renderer a store is given.
pub type Events = Arc<dyn EventRenderer>;

/// How a lead write stores the events it causes: rendered by the store's renderer, and
/// marked with the trace of the request that writes (if it sent one), which their deliveries
/// carry on to the subscribers.
pub struct Emission {
    renderer: Events,
    trace: Option<TraceParent>,
}

impl Emission {
    /// The events of a write made now, in this task: rendered by `renderer`, marked with the
    /// trace of the request this task serves ([`TraceParent::current`]).
    pub fn now(renderer: &Events) -> Self {
        Self {
            renderer: Arc::clone(renderer),
            trace: TraceParent::current(),
        }
    }

    /// The body of `event` about `lead`.
    pub fn render(&self, event: EventType, lead: &Lead) -> Result<String, String> {
        self.renderer.render(event, lead)
    }

    /// The `traceparent` its deliveries send, as stored: the request's, as it came.
    pub fn stored_trace(&self) -> Option<String> {
        self.trace.as_ref().map(ToString::to_string)
    }
}

/// A lead event a subscription may ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventType {
    LeadCreated,
    LeadUpdated,
    LeadStatusChanged,
    /// A lead was deleted (since 5.1.0): its event carries the lead's id and nothing personal.
    LeadDeleted,
}

impl EventType {
    pub const ALL: [EventType; 4] = [
        EventType::LeadCreated,
        EventType::LeadUpdated,
        EventType::LeadStatusChanged,
        EventType::LeadDeleted,
    ];

    /// The event's name, as the API and the database spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::LeadCreated => "lead.created",
            EventType::LeadUpdated => "lead.updated",
            EventType::LeadStatusChanged => "lead.status_changed",
            EventType::LeadDeleted => "lead.deleted",
        }
    }

    /// The inverse of [`EventType::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|event| event.as_str() == text)
    }

    /// The events an update of `before` into `after` emits: `lead.updated` for any change,
    /// and `lead.status_changed` too when the status moved. None when nothing changed (the
    /// version stayed).
    pub fn of_update(before: &Lead, after: &Lead) -> Vec<EventType> {
        if before.version == after.version {
            return Vec::new();
        }
        let mut events = vec![EventType::LeadUpdated];
        if before.status != after.status {
            events.push(EventType::LeadStatusChanged);
        }
        events
    }
}

/// A subscription's signing secret: `whsec_` and 32 random bytes in standard base64. It is
/// stored sealed (`crate::secrets`), shown once when the subscription is made, and never
/// written to a log: its `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecret(String);

impl SigningSecret {
    const PREFIX: &'static str = "whsec_";
    /// Random bytes in a secret: HMAC-SHA256's block is 64, its output 32.
    const BYTES: usize = 32;

    /// A new random secret, from the operating system's generator.
    pub fn generate() -> Self {
        let mut bytes = [0u8; Self::BYTES];
        rand::rng().fill_bytes(&mut bytes);
        Self(format!("{}{}", Self::PREFIX, STANDARD.encode(bytes)))
    }

    /// A secret as the store keeps it.
    pub fn from_stored(text: String) -> Self {
        Self(text)
    }

    /// The secret as shown to its subscriber, and the key of `X-Aura-Signature`.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The key of the Standard Webhooks signature: the bytes the base64 after `whsec_` encodes.
    pub fn standard_key(&self) -> Option<Vec<u8>> {
        self.0
            .strip_prefix(Self::PREFIX)
            .and_then(|encoded| STANDARD.decode(encoded).ok())
    }
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret(…)")
    }
}

/// A subscription of a URL to one lead event of an organization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscription {
    pub id: Uuid,
    pub organization: OrganizationId,
    pub event_type: EventType,
    pub target_url: String,
    pub created_at: DateTime<Utc>,
    /// When repeated failures disabled it; `None` while it is active.
    pub disabled_at: Option<DateTime<Utc>>,
}

impl Subscription {
    /// Where it sits in the list order.
    pub fn keyset(&self) -> Keyset {
        Keyset {
            created_at: self.created_at,
            id: self.id,
        }
    }
}

/// Where a delivery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeliveryStatus {
    /// Being tried: its next attempt is due at `next_attempt_at`.
    Pending,
    /// The receiver answered `2xx`.
    Success,
    /// Every attempt failed, or its subscription was disabled.
    Failed,
}

impl DeliveryStatus {
    pub const ALL: [DeliveryStatus; 3] = [
        DeliveryStatus::Pending,
        DeliveryStatus::Success,
        DeliveryStatus::Failed,
    ];

    /// The status as the API and the database spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Success => "success",
            DeliveryStatus::Failed => "failed",
        }
    }

    /// The inverse of [`DeliveryStatus::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == text)
    }
}

/// One event sent, or being sent, to one subscription, as the deliveries log shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub id: Uuid,
    pub subscription_id: Uuid,
    pub event_type: EventType,
    pub status: DeliveryStatus,
    /// The HTTP status of the latest attempt, if the receiver answered.
    pub status_code: Option<u16>,
    /// How long the latest attempt took.
    pub response_time_ms: Option<u64>,
    /// Why the latest attempt failed.
    pub error_message: Option<String>,
    pub attempt_count: u32,
    pub payload_size_bytes: u64,
    /// When the event happened and the delivery was queued.
    pub created_at: DateTime<Utc>,
    /// When the next attempt is due, while pending.
    pub next_attempt_at: Option<DateTime<Utc>>,
}

impl Delivery {
    /// Where it sits in the list order.
    pub fn keyset(&self) -> Keyset {
        Keyset {
            created_at: self.created_at,
            id: self.id,
        }
    }
}

/// A delivery claimed for an attempt: everything needed to send it. The store returns it with
/// the secret as it keeps it (sealed); the worker sends it with the secret unsealed.
#[derive(Clone, Debug)]
pub struct DueDelivery<Secret = SigningSecret> {
    pub id: Uuid,
    pub subscription_id: Uuid,
    pub target_url: String,
    pub secret: Secret,
    /// The secret a rotation replaced, while it has not expired: it signs beside `secret`.
    pub previous_secret: Option<Secret>,
    /// The body, byte for byte the same on every attempt.
    pub body: String,
    /// Attempts made before this one since the delivery was last sent anew (queued, resent or
    /// recovered): where it stands on the retry schedule, which each send starts again.
    pub attempt_count: u32,
    /// The trace of the request that caused the event, if it sent one: each attempt is sent
    /// as a span of its own in it.
    pub trace: Option<TraceParent>,
}

impl<Secret> DueDelivery<Secret> {
    /// The same delivery with another form of its secrets: `convert` applied to each.
    pub fn try_map_secrets<Other, E>(
        self,
        mut convert: impl FnMut(&Secret) -> Result<Other, E>,
    ) -> Result<DueDelivery<Other>, E> {
        Ok(DueDelivery {
            id: self.id,
            subscription_id: self.subscription_id,
            target_url: self.target_url,
            secret: convert(&self.secret)?,
            previous_secret: self
                .previous_secret
                .as_ref()
                .map(&mut convert)
                .transpose()?,
            body: self.body,
            attempt_count: self.attempt_count,
            trace: self.trace,
        })
    }
}

/// What one attempt of a delivery came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    pub delivery: Uuid,
    pub at: DateTime<Utc>,
    /// The receiver's HTTP status, if it answered.
    pub status_code: Option<u16>,
    pub response_time_ms: u64,
    /// Why it failed; `None` if it succeeded.
    pub error: Option<String>,
    pub outcome: AttemptOutcome,
}

/// One attempt of a delivery as its history keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptRecord {
    pub id: Uuid,
    /// Which attempt of the delivery it was, counting from 1 over every send of it.
    pub number: u32,
    pub at: DateTime<Utc>,
    pub status_code: Option<u16>,
    pub response_time_ms: u64,
    /// Why it failed; `None` if it succeeded.
    pub error: Option<String>,
    pub succeeded: bool,
}

impl AttemptRecord {
    /// Where it sits in the list order (newest first, as every list).
    pub fn keyset(&self) -> Keyset {
        Keyset {
            created_at: self.at,
            id: self.id,
        }
    }
}

/// How many attempts of one delivery its history keeps, the latest: a delivery is tried at
/// most 4 times a send, so 50 keep its last 12 sends, while resends cannot grow it without end.
pub const ATTEMPTS_KEPT: u32 = 50;

/// How long the outbox keeps a finished delivery, its attempts and its event: 30 days, as the
/// deliveries log documents. A recovery reaches no further back.
pub const DELIVERIES_KEPT: chrono::TimeDelta = chrono::TimeDelta::days(30);

/// Where a delivery goes after an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The receiver took it: the delivery succeeded.
    Delivered,
    /// It failed, and is tried again at this time.
    RetryAt(DateTime<Utc>),
    /// It failed for the last time: the delivery failed.
    GaveUp,
}

/// When a failed delivery is tried again: after each delay in turn, then never.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetrySchedule(Vec<Duration>);

impl RetrySchedule {
    /// The documented schedule: again after 1, 5 and 15 seconds.
    pub fn documented() -> Self {
        Self(vec![
            Duration::from_secs(1),
            Duration::from_secs(5),
            Duration::from_secs(15),
        ])
    }

    /// Another schedule (tests shrink the documented one to keep their waits short).
    pub fn new(delays: Vec<Duration>) -> Self {
        Self(delays)
    }

    /// The delays, in order.
    pub fn delays(&self) -> &[Duration] {
        &self.0
    }

    /// What a failed attempt, the `attempt`th (counting from 1), at `at` comes to.
    pub fn after_failure(&self, attempt: u32, at: DateTime<Utc>) -> AttemptOutcome {
        let index = usize::try_from(attempt.saturating_sub(1)).unwrap_or(usize::MAX);
        match self.0.get(index).and_then(|delay| {
            chrono::Duration::from_std(*delay)
                .ok()
                .and_then(|delay| at.checked_add_signed(delay))
        }) {
            Some(next) => AttemptOutcome::RetryAt(next),
            None => AttemptOutcome::GaveUp,
        }
    }
}

/// How many deliveries of a subscription may fail in a row (each after all its attempts)
/// before it is disabled.
pub const DISABLE_AFTER_FAILED_DELIVERIES: u32 = 10;

/// How many attempts of one subscription's deliveries may be in flight at once, across every
/// process. A subscription is one receiver: 4 keep pace with an organization's every write
/// at the default rate limit (1,000 a minute) if it answers within 240 ms, while one that
/// hangs for its whole 10 s holds no more than 4 senders.
pub const IN_FLIGHT_PER_SUBSCRIPTION: u32 = 4;

/// How many attempts of one organization's deliveries may be in flight at once, across every
/// process: 8, so that its 25 subscriptions hanging hold a quarter of the worker of a process
/// ([`crate::webhooks`] sends 32 at once) and the other organizations the rest.
pub const IN_FLIGHT_PER_ORGANIZATION: u32 = 8;

/// How many deliveries of one subscription may be pending; beyond it, the earliest due are
/// failed without an attempt. Retries end about 21 s after a first attempt, so a backlog this
/// long is a receiver slower than its traffic, which would otherwise grow the outbox without
/// end. 10,000 is 10 minutes of an organization's writes at the default rate limit (1,000 a
/// minute), and under a gigabyte of events at their largest (80 KB as sent; about 20 KB as
/// the SQLite outbox stores them, deflated).
pub const MAX_PENDING_PER_SUBSCRIPTION: u32 = 10_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for event in EventType::ALL {
            assert_eq!(EventType::parse(event.as_str()), Some(event));
        }
        for status in DeliveryStatus::ALL {
            assert_eq!(DeliveryStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(EventType::parse("lead.merged"), None);
    }

    #[test]
    fn a_secret_is_32_random_bytes_and_never_debug_printed() {
        let secret = SigningSecret::generate();
        assert!(secret.expose().starts_with("whsec_"));
        assert_eq!(secret.standard_key().map(|key| key.len()), Some(32));
        assert_ne!(secret, SigningSecret::generate());
        assert_eq!(format!("{secret:?}"), "SigningSecret(…)");
    }

    #[test]
    fn failures_are_retried_after_1_5_and_15_seconds_then_given_up() {
        let schedule = RetrySchedule::documented();
        let at = DateTime::from_timestamp(1_768_636_800, 0).unwrap();
        let seconds = |n| AttemptOutcome::RetryAt(at + chrono::Duration::seconds(n));
        assert_eq!(schedule.after_failure(1, at), seconds(1));
        assert_eq!(schedule.after_failure(2, at), seconds(5));
        assert_eq!(schedule.after_failure(3, at), seconds(15));
        assert_eq!(schedule.after_failure(4, at), AttemptOutcome::GaveUp);
    }
}
