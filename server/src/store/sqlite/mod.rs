//! The SQLite [`Store`]: one database file, its schema (the numbered migrations in
//! `migrations/`), and the connections to it.
//!
//! rusqlite blocks, so the async runtime never waits on SQLite: reads run on tokio's blocking
//! pool, and writes on the writer thread. SQLite admits one writer at a time, so writes share
//! one connection, and the writer commits the writes queued together (`writer`: group
//! commit); in WAL mode readers do not wait for the writer, so reads get a small pool of their
//! own, and a third thread copies the WAL back into the file (`checkpoint`) so that the writer
//! does not.
//!
//! This module opens, configures and migrates the file and routes each [`Store`] method to the
//! writer or a reader. The SQL lives with the table it concerns (`leads`, `organizations`,
//! `api_keys`, `idempotent_answers`, `webhooks`); `pool` opens the connections; `values` and `errors`
//! translate between SQLite and the domain.

mod api_keys;
mod checkpoint;
mod deliveries;
mod erasure;
mod errors;
pub(crate) mod event_body;
mod fairness;
mod idempotent_answers;
mod key_cache;
mod leads;
mod open;
mod organizations;
mod pool;
mod recovery;
mod subscription_changes;
mod values;
mod webhook_secrets;
mod webhooks;
mod writer;

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::store::{
    IdempotencyStore, KeyStore, LeadStore, OrganizationStore, OutboxStore, SubscriptionStore,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::Connection;
use uuid::Uuid;

use self::errors::Context;
use self::key_cache::KeyCache;
pub use self::open::Synchronous;
use self::open::open_writer;
#[cfg(test)]
use self::open::{MIGRATION_STEPS, MIGRATIONS};
use self::pool::ReaderPool;
use self::writer::Writer;
use super::{
    ApiKeyInfo, IdempotentAnswer, KeyHash, NewApiKey, OutboxSummary, Recovery, RecoveryStore,
    RevokeOutcome, SealedSecret, SecretSelection, SecretSlot, Store, StoreError, StoredSecret,
};
use crate::domain::{
    ApiKeyId, Attempt, AttemptRecord, ChangedLead, Delivery, DueDelivery, Emission, EventType,
    Events, Keyset, Lead, LeadChanges, LeadFilter, OrganizationId, Subscription, TraceParent,
    VersionCondition,
};
use crate::metrics::{Register, Registry, SqliteMetrics};

/// Storage in one SQLite database file.
pub struct SqliteStore {
    /// Declared before the writer so that it closes first: the last connection to close
    /// checkpoints the WAL into the database file, and only the writer may.
    readers: ReaderPool,
    /// Keys found valid since the file last changed; its connection, too, closes before the
    /// writer's.
    keys: KeyCache,
    /// The only connection that writes, on a thread of its own.
    writer: Writer,
    /// Renders the webhook events lead writes cause.
    events: Events,
    /// The database file, whose WAL an erasure truncates on a connection of its own.
    path: PathBuf,
    /// What the writer, the checkpointer and the readers record for operators.
    metrics: SqliteMetrics,
}

impl SqliteStore {
    /// Opens the database at `path`, creating the file if needed, and brings its schema up to
    /// date; lead writes store their webhook events as `events` renders them. Fails if the
    /// file holds a schema newer than this build knows. Blocks on file I/O: call it before
    /// serving, or from a blocking task. Readers open on first use, or with
    /// [`SqliteStore::open_readers`].
    pub fn open(path: &Path, events: Events) -> Result<SqliteStore, StoreError> {
        Self::open_with(path, events, Synchronous::default())
    }

    /// [`SqliteStore::open`], its commits as durable as `synchronous` says.
    pub fn open_with(
        path: &Path,
        events: Events,
        synchronous: Synchronous,
    ) -> Result<SqliteStore, StoreError> {
        let writer = open_writer(path, synchronous)?;
        let checkpoints = Connection::open(path)
            .and_then(|connection| pool::configure(&connection).map(|()| connection))
            .context(&format!("opening the checkpointer of {}", path.display()))?;
        let metrics = SqliteMetrics::default();
        Ok(SqliteStore {
            readers: pool::readers(path)?,
            keys: KeyCache::open(path)?,
            writer: Writer::start(writer, checkpoints, &metrics)?,
            events,
            path: path.to_owned(),
            metrics,
        })
    }

    /// Opens every reader connection now rather than on first use.
    pub async fn open_readers(&self) -> Result<(), StoreError> {
        pool::open_all(&self.readers).await
    }

    /// Runs `work` in the writer's next transaction; its outcome once that committed.
    async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.writer.write(work).await
    }

    /// Runs `work` on a reader connection, on the blocking pool, once one is free.
    async fn read<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let waiting = Instant::now();
        let reader = self
            .readers
            .get()
            .await
            .map_err(|error| StoreError::Internal(format!("borrowing a reader: {error}")))?;
        self.metrics
            .reader_wait
            .observe(waiting.elapsed().as_secs_f64());
        // The reader goes back to the pool when the closure drops it, even while unwinding.
        blocking(move || work(&reader)).await
    }
}

/// Runs `work` on tokio's blocking pool.
async fn blocking<T, F>(work: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, StoreError> + Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| StoreError::Internal(format!("a storage task failed: {error}")))?
}

#[async_trait]
impl Store for SqliteStore {
    fn register_metrics(&self, registry: &mut Registry) {
        self.metrics.register(registry);
    }

    async fn health(&self) -> Result<(), StoreError> {
        self.read(|connection| {
            // Reads the schema's tables, not just `SELECT 1`: a database that lost them cannot
            // serve requests.
            connection
                .query_row(
                    "SELECT (SELECT count(*) FROM (SELECT 1 FROM leads LIMIT 1)) \
                     + (SELECT count(*) FROM (SELECT 1 FROM api_keys LIMIT 1))",
                    [],
                    |row| row.get::<_, i64>(0),
                )
                .context("probing the database")?;
            Ok(())
        })
        .await
    }

    async fn is_empty(&self) -> Result<bool, StoreError> {
        self.read(organizations::none_exist).await
    }
}

#[async_trait]
impl OrganizationStore for SqliteStore {
    async fn organization_ensure(&self, name: &str) -> Result<OrganizationId, StoreError> {
        let name = name.to_owned();
        self.write(move |connection| organizations::ensure(connection, &name))
            .await
    }

    async fn organization_find(&self, name: &str) -> Result<Option<OrganizationId>, StoreError> {
        let name = name.to_owned();
        self.read(move |connection| organizations::find(connection, &name))
            .await
    }
}

#[async_trait]
impl KeyStore for SqliteStore {
    async fn api_key_insert(&self, key: NewApiKey) -> Result<ApiKeyId, StoreError> {
        self.write(move |connection| api_keys::insert(connection, &key))
            .await
    }

    async fn api_key_find(
        &self,
        hash: KeyHash,
    ) -> Result<Option<(ApiKeyId, OrganizationId)>, StoreError> {
        let version = self.keys.version()?;
        if let Some(caller) = self.keys.get(&hash, version) {
            return Ok(Some(caller));
        }
        let found = self
            .read(move |connection| api_keys::find(connection, hash))
            .await?;
        if let Some(caller) = found {
            self.keys.insert(hash, caller, version);
        }
        Ok(found)
    }

    async fn api_key_list(
        &self,
        organization: OrganizationId,
    ) -> Result<Vec<ApiKeyInfo>, StoreError> {
        self.read(move |connection| api_keys::list(connection, organization))
            .await
    }

    async fn api_key_revoke(
        &self,
        prefix: &str,
        at: DateTime<Utc>,
    ) -> Result<RevokeOutcome, StoreError> {
        let prefix = prefix.to_owned();
        self.write(move |connection| api_keys::revoke(connection, &prefix, at))
            .await
    }

    async fn api_key_touch(&self, key: ApiKeyId, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.write(move |connection| api_keys::touch(connection, key, at))
            .await
    }
}

#[async_trait]
impl LeadStore for SqliteStore {
    async fn lead_insert(
        &self,
        lead: Lead,
        answer: Option<IdempotentAnswer>,
    ) -> Result<Lead, StoreError> {
        let events = Emission::now(&self.events);
        self.write(move |connection| leads::insert(connection, lead, answer.as_ref(), &events))
            .await
    }

    async fn lead_get(
        &self,
        organization: OrganizationId,
        id: Uuid,
    ) -> Result<Option<Lead>, StoreError> {
        self.read(move |connection| leads::select(connection, organization, id))
            .await
    }

    async fn lead_update(
        &self,
        organization: OrganizationId,
        id: Uuid,
        changes: LeadChanges,
        condition: Option<VersionCondition>,
        now: DateTime<Utc>,
    ) -> Result<Option<Lead>, StoreError> {
        // Nothing to write, so no need to queue behind the writer: the condition is checked
        // against the version read, and nothing depends on it staying so.
        if changes.is_empty() {
            let lead = self.lead_get(organization, id).await?;
            return lead
                .map(|lead| leads::admitted(lead, condition.as_ref()))
                .transpose();
        }
        let events = Emission::now(&self.events);
        self.write(move |connection| {
            leads::update(
                connection,
                organization,
                id,
                changes,
                condition.as_ref(),
                now,
                &events,
            )
        })
        .await
    }

    async fn lead_delete(
        &self,
        organization: OrganizationId,
        id: Uuid,
        condition: Option<VersionCondition>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let events = Emission::now(&self.events);
        let deleted = self
            .write(move |connection| {
                erasure::delete(
                    connection,
                    organization,
                    id,
                    condition.as_ref(),
                    now,
                    &events,
                )
            })
            .await?;
        if deleted {
            // A busy checkpoint is no failure of the delete, which has committed: the older
            // frames are overwritten when the WAL next restarts (README, "Erasure").
            let path = self.path.clone();
            blocking(move || erasure::truncate_wal(&path)).await?;
        }
        Ok(deleted)
    }

    async fn lead_list(
        &self,
        organization: OrganizationId,
        filter: LeadFilter,
        after: Option<Keyset>,
        limit: u32,
    ) -> Result<Vec<Lead>, StoreError> {
        self.read(move |connection| leads::list(connection, organization, &filter, after, limit))
            .await
    }

    async fn lead_list_changed(
        &self,
        organization: OrganizationId,
        filter: LeadFilter,
        after: i64,
        limit: u32,
    ) -> Result<Vec<ChangedLead>, StoreError> {
        self.read(move |connection| {
            leads::list_changed(connection, organization, &filter, after, limit)
        })
        .await
    }
}

#[async_trait]
impl IdempotencyStore for SqliteStore {
    async fn idempotent_answer_find(
        &self,
        organization: OrganizationId,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<IdempotentAnswer>, StoreError> {
        let key = key.to_owned();
        self.read(move |connection| idempotent_answers::find(connection, organization, &key, now))
            .await
    }

    async fn idempotent_answers_sweep(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        // In batches, each a write of its own, so that requests' writes queue behind one
        // batch at most rather than behind the whole sweep.
        let mut swept = 0;
        loop {
            let batch = self
                .write(move |connection| idempotent_answers::sweep_batch(connection, now))
                .await?;
            swept += batch;
            if batch < u64::from(idempotent_answers::SWEEP_BATCH) {
                return Ok(swept);
            }
        }
    }
}

#[async_trait]
impl SubscriptionStore for SqliteStore {
    async fn webhook_subscription_insert(
        &self,
        subscription: Subscription,
        secret: SealedSecret,
        max: u32,
    ) -> Result<(), StoreError> {
        self.write(move |connection| {
            webhooks::subscription_insert(connection, &subscription, &secret, max)
        })
        .await
    }

    async fn webhook_subscription_get(
        &self,
        organization: OrganizationId,
        id: Uuid,
    ) -> Result<Option<Subscription>, StoreError> {
        self.read(move |connection| webhooks::subscription_select(connection, organization, id))
            .await
    }

    async fn webhook_subscription_list(
        &self,
        organization: OrganizationId,
        event_type: Option<EventType>,
        after: Option<Keyset>,
        limit: u32,
    ) -> Result<Vec<Subscription>, StoreError> {
        self.read(move |connection| {
            webhooks::subscription_list(connection, organization, event_type, after, limit)
        })
        .await
    }

    async fn webhook_subscription_delete(
        &self,
        organization: OrganizationId,
        id: Uuid,
    ) -> Result<bool, StoreError> {
        self.write(move |connection| webhooks::subscription_delete(connection, organization, id))
            .await
    }

    async fn webhook_subscription_enable(
        &self,
        organization: OrganizationId,
        id: Uuid,
    ) -> Result<Option<Subscription>, StoreError> {
        self.write(move |connection| subscription_changes::enable(connection, organization, id))
            .await
    }

    async fn webhook_secret_rotate(
        &self,
        organization: OrganizationId,
        id: Uuid,
        new: SealedSecret,
        previous_expires_at: DateTime<Utc>,
    ) -> Result<Option<Subscription>, StoreError> {
        self.write(move |connection| {
            subscription_changes::rotate(connection, organization, id, &new, previous_expires_at)
        })
        .await
    }

    async fn webhook_secrets(
        &self,
        slot: SecretSlot,
        selection: SecretSelection,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<(Uuid, StoredSecret)>, StoreError> {
        self.read(move |connection| {
            webhook_secrets::list(connection, slot, &selection, after, limit)
        })
        .await
    }

    async fn webhook_secret_samples(&self) -> Result<Vec<(Uuid, SealedSecret)>, StoreError> {
        self.read(webhook_secrets::samples).await
    }

    async fn webhook_secret_replace(
        &self,
        slot: SecretSlot,
        subscription: Uuid,
        old: StoredSecret,
        new: SealedSecret,
    ) -> Result<bool, StoreError> {
        self.write(move |connection| {
            webhook_secrets::replace(connection, slot, subscription, &old, &new)
        })
        .await
    }
}

#[async_trait]
impl RecoveryStore for SqliteStore {
    async fn webhook_delivery_get(
        &self,
        organization: OrganizationId,
        subscription: Uuid,
        delivery: Uuid,
    ) -> Result<Option<Delivery>, StoreError> {
        self.read(move |connection| {
            deliveries::delivery_select(connection, organization, subscription, delivery)
        })
        .await
    }

    async fn webhook_delivery_attempts(
        &self,
        delivery: Uuid,
        after: Option<Keyset>,
        limit: u32,
    ) -> Result<Vec<AttemptRecord>, StoreError> {
        self.read(move |connection| deliveries::attempt_list(connection, delivery, after, limit))
            .await
    }

    async fn webhook_delivery_resend(
        &self,
        organization: OrganizationId,
        subscription: Uuid,
        delivery: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Recovery<Delivery>, StoreError> {
        self.write(move |connection| {
            recovery::resend(connection, organization, subscription, delivery, now)
        })
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
        self.write(move |connection| {
            recovery::recover(
                connection,
                organization,
                subscription,
                since,
                now,
                max_pending,
            )
        })
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
        let trace = TraceParent::current().map(|trace| trace.to_string());
        self.write(move |connection| {
            recovery::test_enqueue(
                connection,
                organization,
                subscription,
                event_type,
                body,
                trace,
                now,
            )
        })
        .await
    }
}

#[async_trait]
impl OutboxStore for SqliteStore {
    async fn webhook_delivery_list(
        &self,
        organization: OrganizationId,
        subscription: Option<Uuid>,
        after: Option<Keyset>,
        limit: u32,
    ) -> Result<Vec<Delivery>, StoreError> {
        self.read(move |connection| {
            deliveries::delivery_list(connection, organization, subscription, after, limit)
        })
        .await
    }

    async fn webhook_deliveries_claim(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<DueDelivery<StoredSecret>>, StoreError> {
        self.write(move |connection| webhooks::claim(connection, now, lease_until, limit))
            .await
    }

    async fn webhook_delivery_record(
        &self,
        attempt: Attempt,
        disable_after: u32,
    ) -> Result<(), StoreError> {
        self.write(move |connection| webhooks::record(connection, &attempt, disable_after))
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
        self.write(move |connection| {
            for attempt in &attempts {
                webhooks::record(connection, attempt, disable_after)?;
            }
            webhooks::claim(connection, now, lease_until, limit)
        })
        .await
    }

    async fn webhook_next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.read(webhooks::next_due).await
    }

    async fn webhook_leases_release(&self) -> Result<(), StoreError> {
        self.write(webhooks::release_leases).await
    }

    async fn webhook_deliveries_sweep(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        // A write per batch: the next batch queues behind the writes that came meanwhile, so
        // the writer is never held for more than one batch (`store::SWEEP_BATCH`).
        let mut swept = 0;
        loop {
            let batch = self
                .write(move |connection| webhooks::sweep_batch(connection, before))
                .await?;
            swept += batch.deliveries;
            if !batch.was_full() {
                return Ok(swept);
            }
        }
    }

    async fn webhook_backlog_trim(&self, max: u32, now: DateTime<Utc>) -> Result<u64, StoreError> {
        self.write(move |connection| fairness::trim(connection, max, now))
            .await
    }

    async fn webhook_outbox_summary(&self) -> Result<OutboxSummary, StoreError> {
        self.read(deliveries::summary).await
    }
}

#[cfg(test)]
mod tests;

/// The [`Store`] contract, as every backend must keep it.
#[cfg(test)]
mod suite {
    crate::store::suite::store_suite!(super::tests::subject);
}
