//! Fault injection for tests: [`Faulty`] wraps any store and makes every call fail as a broken
//! database would, or panic, while its [`FaultSwitch`] is on, so that tests can see what
//! clients get then (`TestServer::fail_storage`). The backends know nothing of it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::*;
use crate::domain::{
    ApiKeyId, Attempt, AttemptRecord, ChangedLead, Delivery, DueDelivery, EventType, Keyset, Lead,
    LeadChanges, LeadFilter, OrganizationId, Subscription, VersionCondition,
};

/// The switch of a [`Faulty`] store: off unless switched on.
#[derive(Debug, Default)]
pub struct FaultSwitch {
    failing: AtomicBool,
    panicking: AtomicBool,
}

impl FaultSwitch {
    /// Every later call fails (`true`), or works again (`false`).
    pub fn set(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    /// Every later call panics, in the caller's task (`true`), or works again (`false`).
    pub fn set_panicking(&self, panicking: bool) {
        self.panicking.store(panicking, Ordering::SeqCst);
    }

    /// [`StoreError::Internal`] while the switch is on; a panic while it panics.
    pub fn check(&self) -> Result<(), StoreError> {
        if self.panicking.load(Ordering::SeqCst) {
            panic!("a storage panic injected through the store's FaultSwitch");
        }
        if self.failing.load(Ordering::SeqCst) {
            Err(StoreError::Internal(
                "a storage failure injected through the store's FaultSwitch".to_string(),
            ))
        } else {
            Ok(())
        }
    }
}

/// A store whose every call, rate-limit takes included, first passes its [`FaultSwitch`].
pub struct Faulty {
    inner: Arc<dyn Store>,
    switch: Arc<FaultSwitch>,
}

impl Faulty {
    pub fn new(inner: Arc<dyn Store>) -> Self {
        Self {
            inner,
            switch: Arc::default(),
        }
    }

    /// The switch that makes every later call fail (or panic).
    pub fn faults(&self) -> &FaultSwitch {
        &self.switch
    }
}

#[async_trait]
impl Store for Faulty {
    fn register_metrics(&self, registry: &mut Registry) {
        self.inner.register_metrics(registry);
    }

    fn shared_rate_limits(self: Arc<Self>) -> Option<Arc<dyn SharedRateLimits>> {
        let inner = Arc::clone(&self.inner).shared_rate_limits()?;
        Some(Arc::new(FaultyRateLimits {
            inner,
            switch: Arc::clone(&self.switch),
        }))
    }

    async fn health(&self) -> Result<(), StoreError> {
        self.switch.check()?;
        self.inner.health().await
    }

    async fn is_empty(&self) -> Result<bool, StoreError> {
        self.switch.check()?;
        self.inner.is_empty().await
    }
}

/// The shared rate limits of a [`Faulty`] store, behind the same switch.
struct FaultyRateLimits {
    inner: Arc<dyn SharedRateLimits>,
    switch: Arc<FaultSwitch>,
}

#[async_trait]
impl SharedRateLimits for FaultyRateLimits {
    async fn rate_limit_take(
        &self,
        first: (RateBucket, GcraQuota),
        then: (RateBucket, GcraQuota),
        now_micros: i64,
    ) -> Result<(BucketTake, Option<BucketTake>), StoreError> {
        self.switch.check()?;
        self.inner.rate_limit_take(first, then, now_micros).await
    }
}

#[async_trait]
impl OrganizationStore for Faulty {
    async fn organization_ensure(&self, name: &str) -> Result<OrganizationId, StoreError> {
        self.switch.check()?;
        self.inner.organization_ensure(name).await
    }

    async fn organization_find(&self, name: &str) -> Result<Option<OrganizationId>, StoreError> {
        self.switch.check()?;
        self.inner.organization_find(name).await
    }
}

#[async_trait]
impl KeyStore for Faulty {
    async fn api_key_insert(&self, key: NewApiKey) -> Result<ApiKeyId, StoreError> {
        self.switch.check()?;
        self.inner.api_key_insert(key).await
    }

    async fn api_key_list(
        &self,
        organization: OrganizationId,
    ) -> Result<Vec<ApiKeyInfo>, StoreError> {
        self.switch.check()?;
        self.inner.api_key_list(organization).await
    }

    async fn api_key_revoke(
        &self,
        prefix: &str,
        at: DateTime<Utc>,
    ) -> Result<RevokeOutcome, StoreError> {
        self.switch.check()?;
        self.inner.api_key_revoke(prefix, at).await
    }

    async fn api_key_touch(&self, key: ApiKeyId, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.switch.check()?;
        self.inner.api_key_touch(key, at).await
    }

    async fn api_key_find(
        &self,
        hash: KeyHash,
    ) -> Result<Option<(ApiKeyId, OrganizationId)>, StoreError> {
        self.switch.check()?;
        self.inner.api_key_find(hash).await
    }
}

#[async_trait]
impl LeadStore for Faulty {
    async fn lead_insert(
        &self,
        lead: Lead,
        answer: Option<IdempotentAnswer>,
    ) -> Result<Lead, StoreError> {
        self.switch.check()?;
        self.inner.lead_insert(lead, answer).await
    }

    async fn lead_get(
        &self,
        organization: OrganizationId,
        id: Uuid,
    ) -> Result<Option<Lead>, StoreError> {
        self.switch.check()?;
        self.inner.lead_get(organization, id).await
    }

    async fn lead_update(
        &self,
        organization: OrganizationId,
        id: Uuid,
        changes: LeadChanges,
        condition: Option<VersionCondition>,
        now: DateTime<Utc>,
    ) -> Result<Option<Lead>, StoreError> {
        self.switch.check()?;
        self.inner
            .lead_update(organization, id, changes, condition, now)
            .await
    }

    async fn lead_delete(
        &self,
        organization: OrganizationId,
        id: Uuid,
        condition: Option<VersionCondition>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.switch.check()?;
        self.inner
            .lead_delete(organization, id, condition, now)
            .await
    }

    async fn lead_list(
        &self,
        organization: OrganizationId,
        filter: LeadFilter,
        after: Option<Keyset>,
        limit: u32,
    ) -> Result<Vec<Lead>, StoreError> {
        self.switch.check()?;
        self.inner
            .lead_list(organization, filter, after, limit)
            .await
    }

    async fn lead_list_changed(
        &self,
        organization: OrganizationId,
        filter: LeadFilter,
        after: i64,
        limit: u32,
    ) -> Result<Vec<ChangedLead>, StoreError> {
        self.switch.check()?;
        self.inner
            .lead_list_changed(organization, filter, after, limit)
            .await
    }
}

#[async_trait]
impl IdempotencyStore for Faulty {
    async fn idempotent_answer_find(
        &self,
        organization: OrganizationId,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<IdempotentAnswer>, StoreError> {
        self.switch.check()?;
        self.inner
            .idempotent_answer_find(organization, key, now)
            .await
    }

    async fn idempotent_answers_sweep(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        self.switch.check()?;
        self.inner.idempotent_answers_sweep(now).await
    }
}

#[async_trait]
impl SubscriptionStore for Faulty {
    async fn webhook_subscription_insert(
        &self,
        subscription: Subscription,
        secret: SealedSecret,
        max: u32,
    ) -> Result<(), StoreError> {
        self.switch.check()?;
        self.inner
            .webhook_subscription_insert(subscription, secret, max)
            .await
    }

    async fn webhook_subscription_get(
        &self,
        organization: OrganizationId,
        id: Uuid,
    ) -> Result<Option<Subscription>, StoreError> {
        self.switch.check()?;
        self.inner.webhook_subscription_get(organization, id).await
    }

    async fn webhook_subscription_list(
        &self,
        organization: OrganizationId,
        event_type: Option<EventType>,
        after: Option<Keyset>,
        limit: u32,
    ) -> Result<Vec<Subscription>, StoreError> {
        self.switch.check()?;
        self.inner
            .webhook_subscription_list(organization, event_type, after, limit)
            .await
    }

    async fn webhook_subscription_delete(
        &self,
        organization: OrganizationId,
        id: Uuid,
    ) -> Result<bool, StoreError> {
        self.switch.check()?;
        self.inner
            .webhook_subscription_delete(organization, id)
            .await
    }

    async fn webhook_subscription_enable(
        &self,
        organization: OrganizationId,
        id: Uuid,
    ) -> Result<Option<Subscription>, StoreError> {
        self.switch.check()?;
        self.inner
            .webhook_subscription_enable(organization, id)
            .await
    }

    async fn webhook_secret_rotate(
        &self,
        organization: OrganizationId,
        id: Uuid,
        new: SealedSecret,
        previous_expires_at: DateTime<Utc>,
    ) -> Result<Option<Subscription>, StoreError> {
        self.switch.check()?;
        self.inner
            .webhook_secret_rotate(organization, id, new, previous_expires_at)
            .await
    }

    async fn webhook_secrets(
        &self,
        slot: SecretSlot,
        selection: SecretSelection,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<(Uuid, StoredSecret)>, StoreError> {
        self.switch.check()?;
        self.inner
            .webhook_secrets(slot, selection, after, limit)
            .await
    }

    async fn webhook_secret_samples(&self) -> Result<Vec<(Uuid, SealedSecret)>, StoreError> {
        self.switch.check()?;
        self.inner.webhook_secret_samples().await
    }

    async fn webhook_secret_replace(
        &self,
        slot: SecretSlot,
        subscription: Uuid,
        old: StoredSecret,
        new: SealedSecret,
    ) -> Result<bool, StoreError> {
        self.switch.check()?;
        self.inner
            .webhook_secret_replace(slot, subscription, old, new)
            .await
    }
}

#[async_trait]
impl RecoveryStore for Faulty {
    async fn webhook_delivery_get(
        &self,
        organization: OrganizationId,
        subscription: Uuid,
        delivery: Uuid,
    ) -> Result<Option<Delivery>, StoreError> {
        self.switch.check()?;
        self.inner
            .webhook_delivery_get(organization, subscription, delivery)
            .await
    }

    async fn webhook_delivery_attempts(
        &self,
        delivery: Uuid,
        after: Option<Keyset>,
        limit: u32,
    ) -> Result<Vec<AttemptRecord>, StoreError> {
        self.switch.check()?;
        self.inner
            .webhook_delivery_attempts(delivery, after, limit)
            .await
    }

    async fn webhook_delivery_resend(
        &self,
        organization: OrganizationId,
        subscription: Uuid,
        delivery: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Recovery<Delivery>, StoreError> {
        self.switch.check()?;
        self.inner
            .webhook_delivery_resend(organization, subscription, delivery, now)
            .await
    }

    async fn webhook_recover(
        &self,
        organization: OrganizationId,
        subscription: Uuid,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
        max_pending: u32,
    ) -> Result<Recovery<u64>, StoreError> {
        self.switch.check()?;
        self.inner
            .webhook_recover(organization, subscription, since, now, max_pending)
            .await
    }

    async fn webhook_test_enqueue(
        &self,
        organization: OrganizationId,
        subscription: Uuid,
        event_type: EventType,
        body: String,
        now: DateTime<Utc>,
    ) -> Result<Recovery<Delivery>, StoreError> {
        self.switch.check()?;
        self.inner
            .webhook_test_enqueue(organization, subscription, event_type, body, now)
            .await
    }
}

#[async_trait]
impl OutboxStore for Faulty {
    async fn webhook_delivery_list(
        &self,
        organization: OrganizationId,
        subscription: Option<Uuid>,
        after: Option<Keyset>,
        limit: u32,
    ) -> Result<Vec<Delivery>, StoreError> {
        self.switch.check()?;
        self.inner
            .webhook_delivery_list(organization, subscription, after, limit)
            .await
    }

    async fn webhook_deliveries_claim(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<DueDelivery<StoredSecret>>, StoreError> {
        self.switch.check()?;
        self.inner
            .webhook_deliveries_claim(now, lease_until, limit)
            .await
    }

    async fn webhook_delivery_record(
        &self,
        attempt: Attempt,
        disable_after: u32,
    ) -> Result<(), StoreError> {
        self.switch.check()?;
        self.inner
            .webhook_delivery_record(attempt, disable_after)
            .await
    }

    async fn webhook_deliveries_record_and_claim(
        &self,
        attempts: Vec<Attempt>,
        disable_after: u32,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<DueDelivery<StoredSecret>>, StoreError> {
        self.switch.check()?;
        self.inner
            .webhook_deliveries_record_and_claim(attempts, disable_after, now, lease_until, limit)
            .await
    }

    async fn webhook_next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.switch.check()?;
        self.inner.webhook_next_due().await
    }

    async fn webhook_leases_release(&self) -> Result<(), StoreError> {
        self.switch.check()?;
        self.inner.webhook_leases_release().await
    }

    async fn webhook_deliveries_sweep(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        self.switch.check()?;
        self.inner.webhook_deliveries_sweep(before).await
    }

    async fn webhook_backlog_trim(&self, max: u32, now: DateTime<Utc>) -> Result<u64, StoreError> {
        self.switch.check()?;
        self.inner.webhook_backlog_trim(max, now).await
    }

    async fn webhook_outbox_summary(&self) -> Result<OutboxSummary, StoreError> {
        self.switch.check()?;
        self.inner.webhook_outbox_summary().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::SqliteStore;
    use crate::store::suite::assert_internal;

    #[tokio::test]
    async fn every_call_fails_while_the_switch_is_on_and_the_backend_is_untouched() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let backend = SqliteStore::open(&dir.path().join("leads.db"), crate::store::test_events())
            .expect("open");
        let store = Arc::new(Faulty::new(Arc::new(backend)));
        let acme = store.organization_ensure("acme").await.expect("ensure");
        store.faults().set(true);
        assert_internal(store.health().await);
        assert_internal(store.organization_find("acme").await);
        assert_internal(store.lead_get(acme, Uuid::now_v7()).await);
        store.faults().set(false);
        assert_eq!(
            store.organization_find("acme").await.expect("find"),
            Some(acme)
        );
    }

    #[tokio::test]
    #[should_panic(expected = "a storage panic injected")]
    async fn every_call_panics_while_the_switch_panics() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let backend = SqliteStore::open(&dir.path().join("leads.db"), crate::store::test_events())
            .expect("open");
        let store = Faulty::new(Arc::new(backend));
        store.faults().set_panicking(true);
        let _ = store.health().await;
    }
}
