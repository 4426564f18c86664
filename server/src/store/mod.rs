//! Storage behind a small interface, so that handlers never see SQL and backends can be
//! added without touching them. [`sqlite`] is the embedded default; [`postgres`] serves
//! deployments with several replicas.
//!
//! Every method is scoped by organization where leads, idempotent answers and webhooks are
//! concerned: a lead, answer, subscription or delivery of another organization is never
//! returned, changed or counted.
//!
//! The store is also the webhooks' outbox. A lead write stores the events it causes, rendered
//! by the [`EventRenderer`](crate::domain::EventRenderer) the store was given when opened (the
//! store keeps the bytes, never knows their format), and one delivery of each to every active
//! subscription to it, in the write's own transaction: a committed change always has its
//! deliveries, a rolled-back one never has. The delivery worker claims due deliveries under a
//! lease, so that one process at a time sends each, and a delivery whose process died is sent
//! again once its lease runs out.
//!
//! Storage sits below the HTTP layer and the webhooks: nothing here imports `crate::api` or
//! `crate::webhooks` (a test checks it), and they reach the store only through this
//! interface.

mod fairness;
#[cfg(any(test, feature = "testing"))]
pub mod faulty;
#[cfg(test)]
mod layering;
pub mod postgres;
mod recovery;
pub mod sqlite;
#[cfg(test)]
pub(crate) mod suite;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::metrics::Registry;

pub use self::recovery::{Recovery, RecoveryStore};

use crate::domain::{
    ApiKeyId, Attempt, ChangedLead, Delivery, DueDelivery, EventType, Keyset, Lead, LeadChanges,
    LeadFilter, OrganizationId, SigningSecret, Subscription, VersionCondition,
};

/// The SHA-256 of an API key: all the store ever sees of a key.
pub type KeyHash = [u8; 32];

/// A key to store: never the key itself, only its hash and its (non-secret) prefix.
#[derive(Clone, Debug)]
pub struct NewApiKey {
    pub organization: OrganizationId,
    pub hash: KeyHash,
    /// The key's first characters, which tell keys apart in `keys list` and `keys revoke`.
    pub prefix: String,
    pub created_at: DateTime<Utc>,
}

/// What `keys list` shows of a key: never the key or its hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKeyInfo {
    pub id: ApiKeyId,
    /// `None` for keys made before prefixes were kept.
    pub prefix: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// What a revocation did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RevokeOutcome {
    Revoked(ApiKeyId),
    /// No unrevoked key has this prefix or id.
    NotFound,
    /// More than one unrevoked key has this prefix: give a longer one, or the id.
    Ambiguous,
}

/// An answer kept for an `Idempotency-Key`, so that a retry of the same request gets it
/// again, byte for byte.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotentAnswer {
    pub organization: OrganizationId,
    /// The client's key, as sent (1 to 255 printable ASCII characters).
    pub key: String,
    /// SHA-256 of the request it answered: a retry must match it.
    pub fingerprint: [u8; 32],
    /// The HTTP status of the answer.
    pub status: u16,
    /// The answer's body, byte for byte.
    pub body: Vec<u8>,
    pub created_at: DateTime<Utc>,
    /// From then on the key is forgotten: a request with it is new again.
    pub expires_at: DateTime<Utc>,
}

/// A webhook signing secret as the store keeps it. The store never sees the key that seals
/// secrets (`crate::secrets` seals them above it), so it stores and returns these as they are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoredSecret {
    /// Sealed by a key of the server's.
    Sealed(SealedSecret),
    /// As it was stored before secrets were sealed: the server seals it when it starts.
    Plain(SigningSecret),
}

/// A signing secret sealed by a key: the key's id, and the sealed bytes as text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedSecret {
    pub key_id: String,
    pub sealed: String,
}

/// Which of a subscription's two secrets a method reads or writes: the one that signs, or the
/// one a rotation of the signing secret replaced, which signs beside it until it expires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretSlot {
    Current,
    Previous,
}

impl SecretSlot {
    pub const ALL: [SecretSlot; 2] = [SecretSlot::Current, SecretSlot::Previous];

    /// The slot's two columns, the same on every backend: the secret, and the id of the key
    /// that sealed it (`NULL` for a secret stored plain).
    pub(crate) fn columns(self) -> (&'static str, &'static str) {
        match self {
            SecretSlot::Current => ("secret", "secret_key_id"),
            SecretSlot::Previous => ("previous_secret", "previous_secret_key_id"),
        }
    }
}

/// Which subscriptions' secrets [`Store::webhook_secrets`] lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretSelection {
    /// Those still plain.
    Plain,
    /// Those not sealed by the key with this id, plain ones included: what a rotation to that
    /// key reseals.
    NotSealedBy(String),
}

/// The error message of the pending deliveries a subscription had when repeated failures
/// disabled it ([`Store::webhook_delivery_record`]): every backend writes the same.
pub const DISABLED_MESSAGE: &str =
    "not sent: the subscription was disabled after repeated failed deliveries";

/// The error message of the pending deliveries a subscription had beyond `max` (the earliest
/// due), failed without an attempt by [`Store::webhook_backlog_trim`]: every backend writes
/// the same.
pub fn backlog_message(max: u32) -> String {
    format!("not sent: more than {max} deliveries were pending for the subscription")
}

/// How many deliveries, and how many events left without deliveries, one batch of the outbox
/// sweep ([`Store::webhook_deliveries_sweep`]) deletes at most, on every backend: a batch at a
/// time keeps each transaction short (on SQLite, the writes queued behind it wait for one
/// batch, never for the whole sweep).
pub(crate) const SWEEP_BATCH: u32 = 1000;

/// What one batch of the outbox sweep deleted.
pub(crate) struct SweptBatch {
    pub(crate) deliveries: u64,
    pub(crate) events: u64,
}

impl SweptBatch {
    /// Whether the batch was full: another may find more.
    pub(crate) fn was_full(&self) -> bool {
        self.deliveries.max(self.events) >= u64::from(SWEEP_BATCH)
    }
}

/// The statements that erase a deleted lead's copies ([`LeadStore::lead_delete`]), each
/// bound to the lead's id as `$1` (which SQLite reads as a parameter too), with what each
/// does: the deliveries of its events first (they refer to the events), then the events,
/// then the kept answers. The same on every backend.
pub(crate) const ERASE_COPIES: [(&str, &str); 3] = [
    (
        "erasing a lead's deliveries",
        "DELETE FROM webhook_deliveries WHERE event_id IN \
         (SELECT id FROM webhook_events WHERE lead_id = $1)",
    ),
    (
        "erasing a lead's events",
        "DELETE FROM webhook_events WHERE lead_id = $1",
    ),
    (
        "erasing a lead's kept answers",
        "DELETE FROM idempotent_answers WHERE lead_id = $1",
    ),
];

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another lead of the organization already has this email (case-insensitively).
    #[error("a lead with this email already exists")]
    EmailTaken,
    /// The lead's version is not one the update's condition admits; nothing was changed.
    #[error("the lead's version is not one the update's condition admits; nothing was changed")]
    VersionMismatch,
    /// The organization already has an unexpired answer under this idempotency key; nothing
    /// was stored.
    #[error(
        "the organization already has an unexpired answer under this idempotency key; \
         nothing was stored"
    )]
    IdempotencyKeyTaken,
    /// The organization already has as many webhook subscriptions as it may; nothing was
    /// stored.
    #[error("the organization already has {0} webhook subscriptions, as many as it may")]
    SubscriptionLimitReached(u32),
    /// The database abandoned the work to keep concurrent transactions consistent (a
    /// serialization failure or a deadlock), again after the store's own retries; nothing was
    /// changed, and trying again later may succeed.
    #[error("the database abandoned the work for concurrent transactions: {0}")]
    Contention(String),
    /// Anything else: I/O, a corrupt database, a bug. Logged, never shown to clients.
    #[error("storage failure: {0}")]
    Internal(String),
}

/// A rate-limit bucket: one per API key, one per organization.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RateBucket {
    Key(ApiKeyId),
    Organization(OrganizationId),
}

/// A bucket's quota, as GCRA counts it: one request refills every `interval_micros`, and the
/// bucket holds `burst` requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GcraQuota {
    pub interval_micros: i64,
    pub burst: u32,
}

impl GcraQuota {
    /// How far ahead of now a bucket's theoretical arrival time may run: the whole bucket.
    pub fn capacity_micros(&self) -> i64 {
        self.interval_micros.saturating_mul(i64::from(self.burst))
    }
}

/// What taking one request from a bucket did. A bucket's state is its theoretical arrival
/// time (TAT): when it will be full again, if nothing more is taken; at or before now when
/// it is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BucketTake {
    /// The request was counted; the bucket is full again at `tat_micros`.
    Taken { tat_micros: i64 },
    /// The bucket had no room; nothing was counted, and it is full again at `tat_micros`.
    Refused { tat_micros: i64 },
}

/// Rate-limit buckets kept in the database, so that every process serving it counts against
/// the same limits. A backend that only one process serves (SQLite) has none: that process
/// counts in memory.
///
/// A take from a bucket at `now` (Unix microseconds), with `tat` the bucket's TAT (`now` for a
/// bucket never used, or one full by now), succeeds if `max(tat, now) + interval <= now +
/// capacity`, and then sets the TAT to `max(tat, now) + interval`; a refused take changes
/// nothing. Each take is atomic across every process.
#[async_trait]
pub trait SharedRateLimits: Send + Sync + 'static {
    /// Takes one request from `first` and, only if it had room, one from `then` (a refused key
    /// costs its organization nothing), in one round trip. `None` for `then` if `first`
    /// refused.
    async fn rate_limit_take(
        &self,
        first: (RateBucket, GcraQuota),
        then: (RateBucket, GcraQuota),
        now_micros: i64,
    ) -> Result<(BucketTake, Option<BucketTake>), StoreError>;
}

/// Every trait of the store, for code that calls many concerns' methods (tests, mostly):
/// `use crate::store::prelude::*;`.
pub mod prelude {
    pub use super::{
        IdempotencyStore, KeyStore, LeadStore, OrganizationStore, OutboxStore, RecoveryStore,
        Store, SubscriptionStore,
    };
}

/// What the server needs from storage: every concern's trait, and what belongs to the whole
/// database. Call a concern's methods with its trait in scope (`use crate::store::LeadStore`).
#[async_trait]
pub trait Store:
    OrganizationStore
    + KeyStore
    + LeadStore
    + IdempotencyStore
    + SubscriptionStore
    + OutboxStore
    + RecoveryStore
    + Send
    + Sync
    + 'static
{
    /// The buckets every process serving this database shares, if several may serve it;
    /// `None` (the default) if only one process does, which then counts rate limits itself.
    fn shared_rate_limits(self: Arc<Self>) -> Option<Arc<dyn SharedRateLimits>> {
        None
    }

    /// Registers what this backend records for operators (its queues, pools and waits).
    fn register_metrics(&self, registry: &mut Registry);

    /// Whether the database answers.
    async fn health(&self) -> Result<(), StoreError>;

    /// Whether no organization exists yet (a new database).
    async fn is_empty(&self) -> Result<bool, StoreError>;
}

/// Organizations: the tenants every lead, key, answer and webhook belongs to.
#[async_trait]
pub trait OrganizationStore: Send + Sync {
    /// The organization called `name`, created if it does not exist.
    async fn organization_ensure(&self, name: &str) -> Result<OrganizationId, StoreError>;

    /// The organization called `name`, if it exists.
    async fn organization_find(&self, name: &str) -> Result<Option<OrganizationId>, StoreError>;
}

/// API keys, kept as hashes.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// Stores a new API key by its hash and prefix.
    async fn api_key_insert(&self, key: NewApiKey) -> Result<ApiKeyId, StoreError>;

    /// Every key of `organization`, revoked ones included, oldest first.
    async fn api_key_list(
        &self,
        organization: OrganizationId,
    ) -> Result<Vec<ApiKeyInfo>, StoreError>;

    /// Revokes the one unrevoked key whose prefix (or id) is `prefix`, as of `at`.
    async fn api_key_revoke(
        &self,
        prefix: &str,
        at: DateTime<Utc>,
    ) -> Result<RevokeOutcome, StoreError>;

    /// Records that `key` was used at `at`.
    async fn api_key_touch(&self, key: ApiKeyId, at: DateTime<Utc>) -> Result<(), StoreError>;

    /// The unrevoked key with this hash and its organization, if it exists.
    async fn api_key_find(
        &self,
        hash: KeyHash,
    ) -> Result<Option<(ApiKeyId, OrganizationId)>, StoreError>;
}

/// Leads, and the webhook events their writes cause (stored in the write's transaction).
#[async_trait]
pub trait LeadStore: Send + Sync {
    /// Stores a new lead and, if given, the answer to keep for the request that created it,
    /// in one transaction: both or neither, with the lead's `lead.created` deliveries. [`StoreError::EmailTaken`] if the organization
    /// already has a lead with this email, compared case-insensitively;
    /// [`StoreError::IdempotencyKeyTaken`] if it has an answer under `answer.key` that expires
    /// after `answer.created_at` (an answer expired by then is replaced). The answer must be
    /// of the lead's organization.
    async fn lead_insert(
        &self,
        lead: Lead,
        answer: Option<IdempotentAnswer>,
    ) -> Result<Lead, StoreError>;

    /// The organization's lead with this id.
    async fn lead_get(
        &self,
        organization: OrganizationId,
        id: Uuid,
    ) -> Result<Option<Lead>, StoreError>;

    /// Applies `changes` to the organization's lead atomically, sets `updated_at` to `now` and
    /// adds one to its version; with no changes, returns the lead untouched. `None` if there
    /// is no such lead, whatever the condition; [`StoreError::VersionMismatch`] if `condition`
    /// does not admit the lead's version, with or without changes;
    /// [`StoreError::EmailTaken`] if the new email belongs to another of its leads. The
    /// condition is checked in the same transaction as the write, so no update is lost. The
    /// change's deliveries ([`EventType::of_update`]) are stored in that transaction too.
    async fn lead_update(
        &self,
        organization: OrganizationId,
        id: Uuid,
        changes: LeadChanges,
        condition: Option<VersionCondition>,
        now: DateTime<Utc>,
    ) -> Result<Option<Lead>, StoreError>;

    /// Deletes the organization's lead and erases its copies, in one transaction: the webhook
    /// events about it with all their deliveries (pending, delivered or failed) and the
    /// idempotent answers that hold it; then stores its `lead.deleted` deliveries, rendered
    /// from the lead with `updated_at` set to `now`. Whether there was such a lead;
    /// [`StoreError::VersionMismatch`] (and nothing deleted) if `condition` does not admit
    /// its version. Erased means gone from the database's files as far as the backend allows
    /// (the README's "Erasure" says how far, for each).
    async fn lead_delete(
        &self,
        organization: OrganizationId,
        id: Uuid,
        condition: Option<VersionCondition>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// At most `limit` of the organization's leads matching `filter`, newest first
    /// (`created_at` descending, then `id` descending), starting strictly after `after`.
    async fn lead_list(
        &self,
        organization: OrganizationId,
        filter: LeadFilter,
        after: Option<Keyset>,
        limit: u32,
    ) -> Result<Vec<Lead>, StoreError>;

    /// Up to `limit` of the organization's leads matching `filter` whose last change came
    /// after change `after` (0: all), oldest change first. Every lead write gives its lead
    /// the organization's next change number in the write's transaction, taking the
    /// organization's counter last, so the numbers follow the order writes commit in and a
    /// walk by them skips none.
    async fn lead_list_changed(
        &self,
        organization: OrganizationId,
        filter: LeadFilter,
        after: i64,
        limit: u32,
    ) -> Result<Vec<ChangedLead>, StoreError>;
}

/// The answers kept for idempotency keys.
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// The organization's answer under `key`, unless it has expired at `now`
    /// (`expires_at <= now`).
    async fn idempotent_answer_find(
        &self,
        organization: OrganizationId,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<IdempotentAnswer>, StoreError>;

    /// Deletes every answer expired at `now` (`expires_at <= now`), of every organization,
    /// and returns how many.
    async fn idempotent_answers_sweep(&self, now: DateTime<Utc>) -> Result<u64, StoreError>;
}

/// Webhook subscriptions and their sealed signing secrets.
#[async_trait]
pub trait SubscriptionStore: Send + Sync {
    /// Stores a new subscription with its sealed secret, unless its organization already has
    /// `max` ([`StoreError::SubscriptionLimitReached`]), counted in the same transaction.
    async fn webhook_subscription_insert(
        &self,
        subscription: Subscription,
        secret: SealedSecret,
        max: u32,
    ) -> Result<(), StoreError>;

    /// The organization's subscription with this id.
    async fn webhook_subscription_get(
        &self,
        organization: OrganizationId,
        id: Uuid,
    ) -> Result<Option<Subscription>, StoreError>;

    /// At most `limit` of the organization's subscriptions (to `event_type` only, if given),
    /// newest first (`created_at` descending, then `id` descending), strictly after `after`.
    async fn webhook_subscription_list(
        &self,
        organization: OrganizationId,
        event_type: Option<EventType>,
        after: Option<Keyset>,
        limit: u32,
    ) -> Result<Vec<Subscription>, StoreError>;

    /// Deletes the organization's subscription and all its deliveries; whether it existed.
    async fn webhook_subscription_delete(
        &self,
        organization: OrganizationId,
        id: Uuid,
    ) -> Result<bool, StoreError>;

    /// Enables the organization's subscription again if it is disabled, keeping its secret,
    /// and resets its count of consecutive failed deliveries; an active one is left as it is.
    /// The subscription as it then is; `None` if the organization has none with this id.
    async fn webhook_subscription_enable(
        &self,
        organization: OrganizationId,
        id: Uuid,
    ) -> Result<Option<Subscription>, StoreError>;

    /// Gives the organization's subscription the signing secret `new`: its current secret
    /// becomes its previous one, which signs beside the new one until `previous_expires_at`,
    /// and the previous one before it is forgotten. The subscription; `None` if the
    /// organization has none with this id.
    async fn webhook_secret_rotate(
        &self,
        organization: OrganizationId,
        id: Uuid,
        new: SealedSecret,
        previous_expires_at: DateTime<Utc>,
    ) -> Result<Option<Subscription>, StoreError>;

    /// At most `limit` subscriptions' ids and secrets in `slot` (those that hold one), of
    /// every organization, as `selection` says, in id order, strictly after `after`. A
    /// previous secret is listed until a rotation replaces it, expired or not: it is sealed
    /// with a key all the same.
    async fn webhook_secrets(
        &self,
        slot: SecretSlot,
        selection: SecretSelection,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<(Uuid, StoredSecret)>, StoreError>;

    /// One subscription's id and secret, current or previous, for each key that has sealed
    /// any: what the server unseals when it starts, to learn whether its keys are the right
    /// ones.
    async fn webhook_secret_samples(&self) -> Result<Vec<(Uuid, SealedSecret)>, StoreError>;

    /// Replaces the subscription's secret in `slot` by `new` if it still is `old`; whether it
    /// was (a subscription deleted, resealed or rotated by another process meanwhile, is left
    /// as it is).
    async fn webhook_secret_replace(
        &self,
        slot: SecretSlot,
        subscription: Uuid,
        old: StoredSecret,
        new: SealedSecret,
    ) -> Result<bool, StoreError>;
}

/// The webhook outbox: deliveries, their claims under a lease, their attempts and their sweep.
#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// At most `limit` of the organization's deliveries (to `subscription` only, if given),
    /// newest first (`created_at` descending, then `id` descending), strictly after `after`.
    async fn webhook_delivery_list(
        &self,
        organization: OrganizationId,
        subscription: Option<Uuid>,
        after: Option<Keyset>,
        limit: u32,
    ) -> Result<Vec<Delivery>, StoreError>;

    /// Claims at most `limit` pending deliveries, of every organization, due at `now`
    /// (`next_attempt_at <= now`) and not leased at `now` (never leased, or leased until
    /// `now` or earlier), by leasing them until `lease_until`: until then no other claim
    /// returns them. Only deliveries of active subscriptions are claimed. Each comes with its
    /// subscription's secret as stored, and its previous secret while that has not expired at
    /// `now`.
    ///
    /// Fairly ([`fairness`]): never more than [`IN_FLIGHT_PER_SUBSCRIPTION`] of a subscription
    /// and [`IN_FLIGHT_PER_ORGANIZATION`] of an organization leased at `now` (counting every
    /// claim's leases), in turns, round the subscriptions and the organizations, each turn
    /// the earliest due first. The claim reads indexes only: the deliveries leased now, and
    /// each active subscription's earliest due (its cost grows with the active
    /// subscriptions, not with the outbox). On a database replicas share, claims at the same
    /// instant each count the leases committed before them: they never lease a delivery
    /// twice, but may together exceed a share for as long as those attempts last.
    ///
    /// [`IN_FLIGHT_PER_SUBSCRIPTION`]: crate::domain::IN_FLIGHT_PER_SUBSCRIPTION
    /// [`IN_FLIGHT_PER_ORGANIZATION`]: crate::domain::IN_FLIGHT_PER_ORGANIZATION
    async fn webhook_deliveries_claim(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<DueDelivery<StoredSecret>>, StoreError>;

    /// Records an attempt of a pending delivery and ends its lease: one more attempt, the
    /// attempt's status code, time and error, and its outcome (`Delivered`: `success`;
    /// `RetryAt`: still pending, due then; `GaveUp`: `failed`). A delivery that ends in
    /// `success` resets its subscription's count of consecutive failed deliveries; one that
    /// ends in `failed` adds one to it, and the `disable_after`th in a row disables the
    /// subscription (`disabled_at` = the attempt's time) and fails its other pending
    /// deliveries (with [`DISABLED_MESSAGE`]). Does nothing if the delivery is no longer
    /// pending (its subscription was deleted meanwhile, say).
    async fn webhook_delivery_record(
        &self,
        attempt: Attempt,
        disable_after: u32,
    ) -> Result<(), StoreError>;

    /// The delivery worker's round: records each of `attempts` as
    /// [`Self::webhook_delivery_record`] does, then claims as
    /// [`Self::webhook_deliveries_claim`] does, so that the places in flight the attempts
    /// free are taken in turn again by the same claim. On SQLite it is one write through the
    /// writer thread, however many attempts (each a write of its own before, and the claim a
    /// third); on PostgreSQL each attempt is still a transaction of its own (each locks its
    /// subscription, and one transaction locking several could deadlock with a replica's),
    /// the claim after them. An attempt whose record fails is not recorded, and the error is
    /// returned with nothing claimed: its lease runs out and it is sent again.
    async fn webhook_deliveries_record_and_claim(
        &self,
        attempts: Vec<Attempt>,
        disable_after: u32,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<DueDelivery<StoredSecret>>, StoreError>;

    /// When the next claim may find a delivery: the earliest time a pending delivery of an
    /// active subscription is due and unleased (the later of `next_attempt_at` and
    /// `leased_until`); `None` if none is pending. It reads indexes only: each active
    /// subscription's earliest unleased delivery, and the leased ones, so its cost grows
    /// with the active subscriptions and the deliveries in flight, not with the outbox.
    async fn webhook_next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError>;

    /// Ends every lease of every delivery. Only for a database one process serves, when that
    /// process starts: the leases in it were left by a process that died while sending.
    async fn webhook_leases_release(&self) -> Result<(), StoreError>;

    /// Deletes every delivery, of every organization, created before `before` and no longer
    /// pending, and every event no delivery is left of; returns how many deliveries.
    async fn webhook_deliveries_sweep(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;

    /// Bounds every subscription's backlog: of its pending deliveries beyond the `max` due
    /// last, those not leased at `now` become `failed` without an attempt, with
    /// [`backlog_message`]. Returns how many; reads only each subscription's pending
    /// deliveries, on an index.
    async fn webhook_backlog_trim(&self, max: u32, now: DateTime<Utc>) -> Result<u64, StoreError>;

    /// The outbox at a glance, of every organization, for operators.
    async fn webhook_outbox_summary(&self) -> Result<OutboxSummary, StoreError>;
}

/// The outbox at a glance.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutboxSummary {
    /// Deliveries neither delivered nor failed yet.
    pub pending: u64,
    /// When the oldest of them was created.
    pub oldest_pending: Option<DateTime<Utc>>,
    /// Subscriptions disabled after failing deliveries in a row.
    pub disabled_subscriptions: u64,
}

/// An event renderer for the store's own tests: the event, when, the organization and the
/// lead's id, email and status, as JSON (the fields the store suite reads back); the id
/// alone for `lead.deleted`, as the wire format has it. The wire format is the webhooks'
/// business, above the store.
#[cfg(test)]
pub(crate) fn test_events() -> crate::domain::Events {
    struct TestEvents;

    impl crate::domain::EventRenderer for TestEvents {
        fn render(&self, event: EventType, lead: &Lead) -> Result<String, String> {
            let data = match event {
                EventType::LeadDeleted => serde_json::json!({ "id": lead.id.to_string() }),
                _ => serde_json::json!({
                    "id": lead.id.to_string(),
                    "email": lead.email,
                    "status": lead.status.as_str(),
                }),
            };
            let body = serde_json::json!({
                "event": event.as_str(),
                "created_at": lead.updated_at,
                "organization_id": lead.organization_id.0.to_string(),
                "data": data,
            });
            Ok(body.to_string())
        }
    }

    Arc::new(TestEvents)
}
