//! Webhooks: the delivery of lead events to subscribers, from the outbox the store keeps.
//!
//! A lead write stores its events' deliveries in its own transaction (see [`crate::store`]).
//! The worker started here claims due deliveries under a lease, sends each
//! ([`delivery::Sender`]), and records the outcome: delivered, retried on the
//! [`RetrySchedule`], or failed, disabling a subscription after
//! [`DISABLE_AFTER_FAILED_DELIVERIES`] failed deliveries in a row.
//!
//! The worker goes in rounds, each one call of the store
//! ([`crate::store::OutboxStore::webhook_deliveries_record_and_claim`]): it records every
//! attempt finished since the last round and claims, in the places they freed and the free
//! ones, what is due, one write on SQLite. A finished attempt starts the next round at once,
//! so one subscription's attempts follow one another with a round between them, not a timer;
//! attempts finishing during a round are recorded together by the next. A lead write wakes
//! the worker too, at most every [`ROUND_GAP`]; otherwise it looks again when the next
//! delivery is due, and at least every second, for the deliveries other processes on the
//! same database stored.
//!
//! Delivery is fair: the store's claim takes due deliveries in turn, round the subscriptions
//! and the organizations, with at most [`domain::IN_FLIGHT_PER_SUBSCRIPTION`] of a
//! subscription and [`domain::IN_FLIGHT_PER_ORGANIZATION`] of an organization in flight, so a
//! receiver that hangs or fails delays only its own deliveries. A subscription's backlog is
//! bounded ([`domain::MAX_PENDING_PER_SUBSCRIPTION`], checked every [`TRIM_EVERY`]).
//!
//! Delivery is at least once: a process that dies while sending loses its leases when they
//! run out (at once when it restarts on SQLite, which no other process serves), and the
//! deliveries are sent again.

pub mod delivery;
pub mod payload;
pub mod target;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, Semaphore};

use self::delivery::{Failure, Sender, Sent};
use self::target::{
    DEFAULT_ALLOWED_PORTS, DELIVERY_LOOKUPS, Lookup, RESOLVE_TIMEOUT, Resolver,
    SUBSCRIPTION_LOOKUPS, SystemLookup, TargetPolicy, Targets, WhenBusy,
};
use crate::domain::{
    self, Attempt, AttemptOutcome, DISABLE_AFTER_FAILED_DELIVERIES, DueDelivery, RetrySchedule,
};
use crate::metrics::{AttemptOutcome as Counted, WebhookMetrics};
use crate::secrets::Keyring;
use crate::store::{Store, StoreError, StoredSecret};

/// How webhooks are delivered.
#[derive(Clone, Debug)]
pub struct WebhookConfig {
    /// Which targets may be subscribed and sent to.
    pub policy: TargetPolicy,
    /// The ports a target may use under the public policy.
    pub allowed_ports: Vec<u16>,
    /// How long a target's name may take to resolve.
    pub resolve_timeout: Duration,
    /// How names are resolved; `None`: the system's resolver, with one bounded pool of
    /// lookups for new subscriptions and another for deliveries, so that neither can starve
    /// the other.
    pub lookup: Option<Arc<dyn Lookup>>,
    /// When failed deliveries are tried again.
    pub retry: RetrySchedule,
    /// How long a receiver has to answer.
    pub timeout: Duration,
    /// How many subscriptions an organization may have.
    pub max_subscriptions: u32,
    /// How long a signing secret a rotation replaced still signs beside the new one.
    pub secret_overlap: Duration,
    /// The keys that seal the subscriptions' signing secrets (`crate::secrets`).
    pub secrets: Arc<Keyring>,
    /// Where the worker counts its attempts, for operators.
    pub metrics: WebhookMetrics,
}

impl Default for WebhookConfig {
    /// The documented behaviour: public `https` targets on ports 443 and 8443, 5 seconds to
    /// resolve, retried after 1, 5 and 15 seconds, 10 seconds to answer, a replaced secret
    /// signing for 24 hours after a rotation. The secrets key is a new one that lives as long
    /// as the value: a server that must unseal its secrets after a restart is given its keys
    /// (as `leads-server serve` is).
    fn default() -> Self {
        Self {
            policy: TargetPolicy::Public,
            allowed_ports: DEFAULT_ALLOWED_PORTS.to_vec(),
            resolve_timeout: RESOLVE_TIMEOUT,
            lookup: None,
            retry: RetrySchedule::documented(),
            timeout: delivery::TIMEOUT,
            max_subscriptions: DEFAULT_MAX_SUBSCRIPTIONS,
            secret_overlap: DEFAULT_SECRET_OVERLAP,
            secrets: Arc::new(Keyring::generate()),
            metrics: WebhookMetrics::default(),
        }
    }
}

/// How many subscriptions an organization may have by default.
pub const DEFAULT_MAX_SUBSCRIPTIONS: u32 = 25;

/// How long a rotated-out signing secret signs beside the new one by default: 24 hours, as
/// Svix keeps one.
pub const DEFAULT_SECRET_OVERLAP: Duration = Duration::from_secs(24 * 3600);

/// How many deliveries one process sends at once. An attempt in flight is a task and a
/// connection, cheap while it waits: 32 leave room for four organizations each holding their
/// whole share ([`domain::IN_FLIGHT_PER_ORGANIZATION`]) on receivers that hang.
const CONCURRENCY: usize = 32;
/// The least time between two rounds of the worker.
const ROUND_GAP: Duration = Duration::from_millis(5);
/// How long the worker waits at most before looking for due deliveries again.
const POLL: Duration = Duration::from_secs(1);
/// How long deliveries are kept after they succeeded or failed: 30 days, as Aura documents.
const KEPT_FOR: chrono::Duration = domain::DELIVERIES_KEPT;
/// How often deliveries older than [`KEPT_FOR`] are deleted.
const SWEEP_EVERY: Duration = Duration::from_secs(3600);
/// How often each subscription's backlog is bounded: a backlog may outgrow its bound by what
/// 10 s of writes add, and the trim walks at most the bound of each subscription's pending
/// deliveries, which is not worth doing at every round.
const TRIM_EVERY: Duration = Duration::from_secs(10);

/// The running delivery worker, as the API sees it.
pub struct Webhooks {
    /// Which targets a new subscription may name.
    pub targets: Arc<Targets>,
    /// How many subscriptions an organization may have.
    pub max_subscriptions: u32,
    /// How long a signing secret a rotation replaced still signs beside the new one.
    pub secret_overlap: Duration,
    /// The keys that seal a new subscription's secret.
    pub secrets: Arc<Keyring>,
    wake: Arc<Notify>,
}

impl Webhooks {
    /// Starts delivering from `store`, for as long as the server holds it (the worker keeps
    /// only a weak reference between rounds).
    pub fn start(store: &Arc<dyn Store>, config: WebhookConfig, log: slog::Logger) -> Self {
        let targets = |at_once, when_busy| {
            let lookup = config
                .lookup
                .clone()
                .unwrap_or_else(|| Arc::new(SystemLookup::new(at_once, when_busy)));
            Arc::new(Targets::new(
                config.policy,
                config.allowed_ports.clone(),
                Resolver::new(lookup, config.resolve_timeout),
            ))
        };
        let sender = Sender::new(targets(DELIVERY_LOOKUPS, WhenBusy::Wait), config.timeout);
        let wake = Arc::new(Notify::new());
        let worker = Worker {
            store: Arc::downgrade(store),
            sender: Arc::new(sender),
            retry: config.retry,
            timeout: config.timeout,
            wake: Arc::clone(&wake),
            done: Arc::new(Notify::new()),
            finished: Arc::new(Finished::default()),
            secrets: Arc::clone(&config.secrets),
            slots: Arc::new(Semaphore::new(CONCURRENCY)),
            metrics: config.metrics.clone(),
            log: log.new(slog::o!("task" => "webhook-delivery")),
        };
        tokio::spawn(worker.run());
        tokio::spawn(periodically(
            Periodic {
                every: SWEEP_EVERY,
                done: "old webhook deliveries deleted",
                doing: "deleting old webhook deliveries",
                job: |store| {
                    Box::pin(async move {
                        store
                            .webhook_deliveries_sweep(domain::now() - KEPT_FOR)
                            .await
                    })
                },
            },
            Arc::downgrade(store),
            log.new(slog::o!("task" => "webhook-sweep")),
        ));
        tokio::spawn(periodically(
            Periodic {
                every: TRIM_EVERY,
                done: "pending deliveries beyond a subscription's bound failed",
                doing: "bounding the subscriptions' pending deliveries",
                job: |store| {
                    Box::pin(async move {
                        store
                            .webhook_backlog_trim(
                                domain::MAX_PENDING_PER_SUBSCRIPTION,
                                domain::now(),
                            )
                            .await
                    })
                },
            },
            Arc::downgrade(store),
            log.new(slog::o!("task" => "webhook-backlog")),
        ));
        Self {
            targets: targets(SUBSCRIPTION_LOOKUPS, WhenBusy::Refuse),
            max_subscriptions: config.max_subscriptions,
            secret_overlap: config.secret_overlap,
            secrets: config.secrets,
            wake,
        }
    }

    /// Tells the worker that deliveries may have been stored, so that it sends them now
    /// rather than at its next look.
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

struct Worker {
    store: Weak<dyn Store>,
    sender: Arc<Sender>,
    retry: RetrySchedule,
    timeout: Duration,
    /// Woken by every lead write.
    wake: Arc<Notify>,
    /// Woken by every finished attempt, which [`Finished`] holds until the next round.
    done: Arc<Notify>,
    finished: Arc<Finished>,
    /// Unseal the secrets deliveries are signed with.
    secrets: Arc<Keyring>,
    /// One permit per attempt in flight.
    slots: Arc<Semaphore>,
    metrics: WebhookMetrics,
    log: slog::Logger,
}

/// The attempts finished since the last round, which records them all in its one write.
#[derive(Default)]
struct Finished(Mutex<Vec<Attempt>>);

impl Finished {
    fn push(&self, attempt: Attempt) {
        // A panic while the lock was held cannot leave the list half-written: push and take
        // are single moves, so a poisoned lock's list is still whole.
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(attempt);
    }

    fn take(&self) -> Vec<Attempt> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn is_empty(&self) -> bool {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty()
    }
}

impl Worker {
    async fn run(self) {
        if let Some(store) = self.store.upgrade() {
            // Only this process serves the database: any lease in it was left by a process
            // that died while sending, whose deliveries are due again now.
            if store.clone().shared_rate_limits().is_none()
                && let Err(error) = store.webhook_leases_release().await
            {
                slog::error!(self.log, "releasing leases left behind"; "error" => %error);
            }
        }
        loop {
            let Some(store) = self.store.upgrade() else {
                return;
            };
            let started = tokio::time::Instant::now();
            // The round's own reference goes with it: between rounds the worker holds none.
            let wait = self.round(store).await;
            if !self.finished.is_empty() {
                // Attempts finished during the round: record them, and fill their places, now.
                continue;
            }
            tokio::select! {
                // An attempt finished: its record and the claim of what its place may take
                // next are the next round's one write, at once.
                () = self.done.notified() => {}
                // Every lead write wakes the worker; thousands a second would each cost a
                // round. Rounds at most every `ROUND_GAP` serve them all, at that much
                // latency.
                () = self.wake.notified() => tokio::time::sleep_until(started + ROUND_GAP).await,
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Records the attempts finished since the last round and claims what is due in their
    /// places and the free ones, in one write, and starts sending it; how long to wait at
    /// most before the next round. A round with nothing to record first asks whether
    /// anything is due (a read), so that an idle server only reads.
    async fn round(&self, store: Arc<dyn Store>) -> Duration {
        let finished = self.finished.take();
        if finished.is_empty()
            && let Some(wait) = self.nothing_due(&store).await
        {
            return wait;
        }
        let free = self.slots.available_permits();
        if free == 0 && finished.is_empty() {
            // Every slot is sending: a finished attempt wakes the worker.
            return POLL;
        }
        let now = domain::now();
        let lease = lease_for(now, self.timeout);
        let limit = u32::try_from(free).unwrap_or(u32::MAX);
        match store
            .webhook_deliveries_record_and_claim(
                finished,
                DISABLE_AFTER_FAILED_DELIVERIES,
                now,
                lease,
                limit,
            )
            .await
        {
            Ok(due) => {
                let claimed = due.len();
                for delivery in due {
                    self.spawn_attempt(delivery);
                }
                if claimed >= free {
                    // Every slot is sending: a finished attempt wakes the worker.
                    POLL
                } else {
                    // Whatever is due beyond this claim waits for a share in flight to
                    // end (a finished attempt wakes the worker) or for its due time.
                    self.nothing_due(&store).await.unwrap_or(POLL)
                }
            }
            Err(error) => {
                // The attempts of the round are not recorded: their leases run out and they
                // are sent again, at least once.
                slog::error!(self.log, "recording attempts and claiming due deliveries";
                    "error" => %error);
                POLL
            }
        }
    }

    /// How long to wait when no delivery is due now; `None` if one is.
    async fn nothing_due(&self, store: &Arc<dyn Store>) -> Option<Duration> {
        let due = match store.webhook_next_due().await {
            Ok(due) => due,
            Err(error) => {
                slog::error!(self.log, "finding the next due delivery"; "error" => %error);
                return Some(POLL);
            }
        };
        match due {
            None => Some(POLL),
            Some(due) if due > domain::now() => Some(until(due).min(POLL)),
            Some(_) => None,
        }
    }

    fn spawn_attempt(&self, delivery: DueDelivery<StoredSecret>) {
        let Ok(slot) = Arc::clone(&self.slots).try_acquire_owned() else {
            // Not claimed beyond the free slots; should it happen, the lease runs out and the
            // delivery is claimed again.
            return;
        };
        let sender = Arc::clone(&self.sender);
        let retry = self.retry.clone();
        let done = Arc::clone(&self.done);
        let finished = Arc::clone(&self.finished);
        let log = self.log.clone();
        let secrets = Arc::clone(&self.secrets);
        let metrics = self.metrics.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let attempt = attempt(&sender, &secrets, &retry, &log, delivery).await;
            let outcome = match attempt.outcome {
                AttemptOutcome::Delivered => Counted::Delivered,
                AttemptOutcome::RetryAt(_) => Counted::Retrying,
                AttemptOutcome::GaveUp => Counted::Failed,
            };
            metrics.attempted(outcome, started.elapsed());
            // Recorded by the worker's next round, with every other attempt finished by then:
            // should the process die first, the lease runs out and the delivery is sent
            // again, at least once.
            finished.push(attempt);
            drop(slot);
            done.notify_one();
        });
    }
}

/// Sends `delivery` once, logs a failure, and says what came of it.
async fn attempt(
    sender: &Sender,
    secrets: &Keyring,
    retry: &RetrySchedule,
    log: &slog::Logger,
    delivery: DueDelivery<StoredSecret>,
) -> Attempt {
    let at = domain::now();
    // The keys were checked against the database at start, so a secret that does not
    // unseal is one altered since: the attempt fails (and is retried, as any), and
    // nothing is sent unsigned.
    let sent = match delivery
        .clone()
        .try_map_secrets(|stored| secrets.open(delivery.subscription_id, stored))
    {
        Ok(delivery) => sender.attempt(&delivery, at.timestamp()).await,
        Err(error) => {
            slog::error!(log, "unsealing a subscription's signing secret";
                "subscription" => %delivery.subscription_id, "error" => %error);
            Sent {
                status_code: None,
                response_time_ms: 0,
                failure: Some(Failure::Internal),
                detail: Some(format!("unsealing the signing secret: {error}")),
            }
        }
    };
    let number = delivery.attempt_count.saturating_add(1);
    let outcome = match &sent.failure {
        None => AttemptOutcome::Delivered,
        Some(_) => retry.after_failure(number, domain::now()),
    };
    if let Some(failure) = &sent.failure {
        // The subscriber sees `failure`; the detail (addresses, certificate names, the
        // system's error) is for the operator only. Neither holds the secret. A
        // failure of the server's own is a warning: only the operator can mend it.
        let failed = log.new(slog::o!(
            "delivery" => delivery.id.to_string(),
            "subscription" => delivery.subscription_id.to_string(),
            "attempt" => number,
            "error" => failure.to_string(),
            "detail" => sent.detail.clone().unwrap_or_default()));
        match failure {
            Failure::Internal => slog::warn!(failed, "a delivery attempt failed"),
            _ => slog::info!(failed, "a delivery attempt failed"),
        }
    }
    Attempt {
        delivery: delivery.id,
        at,
        status_code: sent.status_code,
        response_time_ms: sent.response_time_ms,
        error: sent.failure.map(|failure| failure.to_string()),
        outcome,
    }
}

/// How long a claimed delivery is leased: long enough for an attempt to time out and be
/// recorded, short enough that a dead process's deliveries are not held up for long.
fn lease_for(now: DateTime<Utc>, timeout: Duration) -> DateTime<Utc> {
    let lease = chrono::Duration::from_std(timeout * 3).unwrap_or(chrono::Duration::seconds(30));
    now.checked_add_signed(lease).unwrap_or(now)
}

/// How long from now until `due`; zero if it is past.
fn until(due: DateTime<Utc>) -> Duration {
    (due - domain::now()).to_std().unwrap_or(Duration::ZERO)
}

/// A task of the store's upkeep, run every so often.
struct Periodic {
    every: Duration,
    /// What the log says when the job changed rows, with how many.
    done: &'static str,
    /// What the log says when the job failed.
    doing: &'static str,
    job: fn(Arc<dyn Store>) -> Changed,
}

/// A job of the store's upkeep under way: how many rows it changed.
type Changed = Pin<Box<dyn Future<Output = Result<u64, StoreError>> + Send>>;

/// Runs `task` for as long as the store is in use: the 30-day sweep and the bound on
/// backlogs.
async fn periodically(task: Periodic, store: Weak<dyn Store>, log: slog::Logger) {
    let mut ticks = tokio::time::interval(task.every);
    loop {
        ticks.tick().await;
        let Some(store) = store.upgrade() else {
            return;
        };
        match (task.job)(store).await {
            Ok(0) => {}
            Ok(count) => slog::info!(log, "{}", task.done; "count" => count),
            Err(error) => slog::error!(log, "{}", task.doing; "error" => %error),
        }
    }
}
