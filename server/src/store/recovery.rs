//! What a subscriber does about deliveries after something went wrong, behind
//! [`RecoveryStore`]: read each attempt of a delivery, send one delivery again, send again every
//! failed one since a time, and queue a test event. Each write checks, in its own transaction,
//! that the subscription is the organization's and active, so that nothing is queued for a
//! subscription deleted or disabled meanwhile.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::StoreError;
use crate::domain::{AttemptRecord, Delivery, EventType, Keyset, OrganizationId};

/// What a recovery write came to: `Done` with its result, or why nothing was done.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recovery<T> {
    Done(T),
    /// The organization has no subscription with this id.
    NoSubscription,
    /// The subscription has no delivery with this id.
    NoDelivery,
    /// The subscription is disabled: nothing would be sent to it.
    Disabled,
}

/// A delivery's attempt history and the ways to send deliveries again.
#[async_trait]
pub trait RecoveryStore: Send + Sync {
    /// The organization's delivery `delivery` of its subscription `subscription`.
    async fn webhook_delivery_get(
        &self,
        organization: OrganizationId,
        subscription: Uuid,
        delivery: Uuid,
    ) -> Result<Option<Delivery>, StoreError>;

    /// At most `limit` of the delivery's kept attempts, newest first (`at` descending, then
    /// `id` descending), strictly after `after`. The caller checks the delivery is the
    /// organization's ([`RecoveryStore::webhook_delivery_get`]).
    async fn webhook_delivery_attempts(
        &self,
        delivery: Uuid,
        after: Option<Keyset>,
        limit: u32,
    ) -> Result<Vec<AttemptRecord>, StoreError>;

    /// Sends the organization's delivery again, unless it is pending: it becomes pending, due
    /// at `now`, unleased, and starts the retry schedule again (its attempts so far do not
    /// count on it); its attempt count and history go on. The delivery as it then is.
    async fn webhook_delivery_resend(
        &self,
        organization: OrganizationId,
        subscription: Uuid,
        delivery: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Recovery<Delivery>, StoreError>;

    /// Sends again, as [`RecoveryStore::webhook_delivery_resend`] does, the subscription's
    /// failed deliveries created at or after `since`, the earliest first, at most as many as
    /// bring its pending deliveries to `max_pending`. How many.
    async fn webhook_recover(
        &self,
        organization: OrganizationId,
        subscription: Uuid,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
        max_pending: u32,
    ) -> Result<Recovery<u64>, StoreError>;

    /// Stores `body` as an event of `event_type` made at `now`, and one delivery of it to the
    /// subscription alone, due at `now`. The delivery.
    async fn webhook_test_enqueue(
        &self,
        organization: OrganizationId,
        subscription: Uuid,
        event_type: EventType,
        body: String,
        now: DateTime<Utc>,
    ) -> Result<Recovery<Delivery>, StoreError>;
}
