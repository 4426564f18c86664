//! The PostgreSQL [`Store`], for deployments with several replicas of the server: the
//! connection pool, the schema's migrations (`schema`, applied as the store connects), and the
//! routing of each [`Store`] method to a pooled connection.
//!
//! The SQL lives with the table it concerns (`leads`, `organizations`, `api_keys`,
//! `idempotent_answers`, `rate_limits`, `webhooks`); `statements` runs it, and `errors` turns
//! the driver's errors into [`StoreError`]s. The semantics are the SQLite store's, checked by
//! the same suite.
//!
//! The driver is tokio-postgres, pooled by deadpool-postgres: it is async, so no request
//! parks a thread waiting on the network; unlike sqlx's checked queries it needs no database
//! at compile time; and the pool is of the deadpool family the SQLite store already uses.
//! Connections (`connections`) use TLS as the URL's `sslmode` asks, libpq's way (`tls`). Keys found valid are
//! remembered while a connection of the replica's own listens for revocations (`key_cache`).

mod api_keys;
mod connections;
mod errors;
mod idempotent_answers;
mod key_cache;
mod leads;
mod organizations;
mod rate_limits;
mod schema;
mod statements;
mod subscription_changes;
mod tls;
mod webhook_secrets;
mod webhooks;

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::store::{
    IdempotencyStore, KeyStore, LeadStore, OrganizationStore, OutboxStore, Recovery, RecoveryStore,
    SubscriptionStore,
};
use async_trait::async_trait;
use backon::{ExponentialBuilder, Retryable};
use chrono::{DateTime, Utc};
use deadpool_postgres::{Client, Pool};
use prometheus_client::metrics::counter::Counter;
use uuid::Uuid;

use self::connections::pool;
use self::errors::{Context, internal};
use self::key_cache::KeyCache;
use self::tls::Tls;
use super::{
    ApiKeyInfo, IdempotentAnswer, KeyHash, NewApiKey, OutboxSummary, RevokeOutcome, SealedSecret,
    SecretSelection, SecretSlot, SharedRateLimits, Store, StoreError, StoredSecret,
};
use crate::domain::{
    ApiKeyId, Attempt, AttemptRecord, ChangedLead, Delivery, DueDelivery, Emission, EventType,
    Events, Keyset, Lead, LeadChanges, LeadFilter, OrganizationId, Subscription, VersionCondition,
};
use crate::metrics::{PostgresMetrics, Register, Registry};

/// Connections per replica: enough for requests to overlap, few enough that a handful of
/// replicas stay well under PostgreSQL's default `max_connections` (100).
const CONNECTIONS: usize = 16;

/// Connections per replica for counting rate limits: one short statement per request.
const RATE_LIMIT_CONNECTIONS: usize = 8;

/// How the rate-limit connections are set up: their commits do not wait for the disk (see
/// `rate_limits`), which the data's own connections always do.
const RATE_LIMIT_CONNECTION_OPTIONS: &str = "-c synchronous_commit=off";

/// Storage in a PostgreSQL database, shared by every replica connected to it.
pub struct PostgresStore {
    pool: Pool,
    /// For [`SharedRateLimits`] only.
    rate_limits: Pool,
    /// Renders the webhook events lead writes cause.
    events: Events,
    /// What the pool and the retries record for operators.
    metrics: PostgresMetrics,
    /// Keys found valid, while no revocation may have reached them.
    keys: KeyCache,
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/database`) and
    /// brings its schema up to date, waiting for any other process migrating it. Fails if
    /// the database is unreachable or its schema is newer than this build knows.
    pub async fn connect(url: &str, events: Events) -> Result<PostgresStore, StoreError> {
        let (config, tls) = tls::parse(url)?;
        Self::connect_with(config, tls, events).await
    }

    async fn connect_with(
        config: tokio_postgres::Config,
        tls: Tls,
        events: Events,
    ) -> Result<PostgresStore, StoreError> {
        let mut rate_limit_config = config.clone();
        let options = match config.get_options() {
            Some(options) => format!("{options} {RATE_LIMIT_CONNECTION_OPTIONS}"),
            None => RATE_LIMIT_CONNECTION_OPTIONS.to_string(),
        };
        rate_limit_config.options(&options);
        let keys = KeyCache::start(config.clone(), tls.clone());
        let pool = pool(config, &tls, CONNECTIONS)?;
        let mut client = pool.get().await.context("connecting to the database")?;
        schema::migrate(&mut client).await?;
        Ok(PostgresStore {
            pool,
            rate_limits: self::pool(rate_limit_config, &tls, RATE_LIMIT_CONNECTIONS)?,
            events,
            metrics: PostgresMetrics::default(),
            keys,
        })
    }

    /// A pooled connection, once one is free.
    async fn client(&self) -> Result<Client, StoreError> {
        let waiting = Instant::now();
        let client = self.pool.get().await.context("borrowing a connection");
        self.metrics
            .pool_wait
            .observe(waiting.elapsed().as_secs_f64());
        client
    }

    /// A rate-limit connection, once one is free.
    async fn rate_limit_client(&self) -> Result<Client, StoreError> {
        self.rate_limits
            .get()
            .await
            .context("borrowing a rate-limit connection")
    }
}

/// Runs `$work`, a block that uses `$transaction` and comes to a `Result`, in a transaction of
/// its own on a pooled connection of `$store`, committed if the work succeeds (one dropped
/// before its commit rolls back), and again while the database abandons it for contention
/// ([`retrying`]); `$doing` names it in errors.
///
/// A macro, not a method taking an async closure: the future of such a closure, borrowing
/// the caller's values, is not known to be `Send` for every lifetime of the transaction,
/// which `async_trait` requires.
macro_rules! in_transaction {
    ($store:expr, $doing:literal, |$transaction:ident| $work:expr) => {
        retrying(&$store.metrics.contention_retries, || async {
            let mut client = $store.client().await?;
            let transaction = client
                .transaction()
                .await
                .context(concat!("beginning ", $doing))?;
            let $transaction = &transaction;
            let outcome = $work?;
            transaction
                .commit()
                .await
                .context(concat!("committing ", $doing))?;
            Ok(outcome)
        })
        .await
    };
}

/// How many times a piece of work is tried again while the database abandons it for
/// contention ([`StoreError::Contention`]).
const RETRIES: usize = 2;

/// The first wait before a retry; each later one doubles, and every wait is jittered.
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(10);

/// Runs `work`, and again (up to [`RETRIES`] times, after a jittered, growing wait, each
/// counted in `retries`) while the database abandons it to keep concurrent transactions consistent: a deadlock, or, under
/// `SERIALIZABLE` isolation (CockroachDB's only one), a serialization failure. Each attempt
/// is a whole transaction, so running it again is safe. The jitter keeps replicas whose
/// transactions collided from retrying in step and colliding again.
async fn retrying<T, F, Fut>(retries: &Counter, work: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    let backoff = ExponentialBuilder::default()
        .with_min_delay(FIRST_RETRY_DELAY)
        .with_max_times(RETRIES)
        .with_jitter();
    work.retry(backoff)
        .sleep(tokio::time::sleep)
        .when(|error| matches!(error, StoreError::Contention(_)))
        .notify(|_, _| {
            retries.inc();
        })
        .await
}

#[async_trait]
impl Store for PostgresStore {
    fn register_metrics(&self, registry: &mut Registry) {
        self.metrics.register(registry);
    }

    /// Replicas share the database, so they count rate limits in it.
    fn shared_rate_limits(self: Arc<Self>) -> Option<Arc<dyn SharedRateLimits>> {
        Some(self)
    }

    async fn health(&self) -> Result<(), StoreError> {
        // Reads the schema's tables, not just `SELECT 1`: a database that lost them cannot
        // serve requests.
        let client = self.client().await?;
        statements::query(
            &client,
            "probing the database",
            "SELECT EXISTS (SELECT 1 FROM leads), EXISTS (SELECT 1 FROM api_keys)",
            &[],
        )
        .await?;
        Ok(())
    }

    async fn is_empty(&self) -> Result<bool, StoreError> {
        organizations::none_exist(&self.client().await?).await
    }
}

#[async_trait]
impl OrganizationStore for PostgresStore {
    async fn organization_ensure(&self, name: &str) -> Result<OrganizationId, StoreError> {
        organizations::ensure(&self.client().await?, name).await
    }

    async fn organization_find(&self, name: &str) -> Result<Option<OrganizationId>, StoreError> {
        organizations::find(&self.client().await?, name).await
    }
}

#[async_trait]
impl KeyStore for PostgresStore {
    async fn api_key_insert(&self, key: NewApiKey) -> Result<ApiKeyId, StoreError> {
        api_keys::insert(&self.client().await?, &key).await
    }

    async fn api_key_find(
        &self,
        hash: KeyHash,
    ) -> Result<Option<(ApiKeyId, OrganizationId)>, StoreError> {
        if let Some(caller) = self.keys.get(&hash) {
            return Ok(Some(caller));
        }
        let ticket = self.keys.ticket();
        let found = api_keys::find(&self.client().await?, hash).await?;
        if let Some(caller) = found {
            self.keys.remember(ticket, hash, caller);
        }
        Ok(found)
    }

    async fn api_key_list(
        &self,
        organization: OrganizationId,
    ) -> Result<Vec<ApiKeyInfo>, StoreError> {
        api_keys::list(&self.client().await?, organization).await
    }

    async fn api_key_revoke(
        &self,
        prefix: &str,
        at: DateTime<Utc>,
    ) -> Result<RevokeOutcome, StoreError> {
        let revoked = in_transaction!(self, "a revocation", |transaction| {
            api_keys::revoke(transaction, prefix, at).await
        });
        // Other replicas forget on the notification; this one at once, for its next lookup.
        // On an error too: the commit may have happened.
        self.keys.forget();
        revoked
    }

    async fn api_key_touch(&self, key: ApiKeyId, at: DateTime<Utc>) -> Result<(), StoreError> {
        api_keys::touch(&self.client().await?, key, at).await
    }
}

#[async_trait]
impl LeadStore for PostgresStore {
    async fn lead_insert(
        &self,
        lead: Lead,
        answer: Option<IdempotentAnswer>,
    ) -> Result<Lead, StoreError> {
        if answer
            .as_ref()
            .is_some_and(|answer| answer.organization != lead.organization_id)
        {
            return Err(internal(
                "an idempotent answer was given for another organization than its lead's",
            ));
        }
        // All or nothing: the answer, the lead and its deliveries.
        in_transaction!(self, "an insert of a lead", |transaction| {
            // The answer first: a retry racing its original finds the key taken, whatever its
            // email.
            if let Some(answer) = &answer {
                idempotent_answers::keep(transaction, answer, lead.id).await?;
            }
            leads::insert(transaction, &lead, &Emission::now(&self.events)).await
        })
    }

    async fn lead_get(
        &self,
        organization: OrganizationId,
        id: Uuid,
    ) -> Result<Option<Lead>, StoreError> {
        leads::select(&self.client().await?, organization, id).await
    }

    async fn lead_update(
        &self,
        organization: OrganizationId,
        id: Uuid,
        changes: LeadChanges,
        condition: Option<VersionCondition>,
        now: DateTime<Utc>,
    ) -> Result<Option<Lead>, StoreError> {
        if changes.is_empty() {
            // Nothing to write: the condition is checked against the version read, and
            // nothing depends on it staying so.
            let lead = leads::select(&self.client().await?, organization, id).await?;
            return match (lead, condition) {
                (Some(lead), Some(condition)) if !condition.admits(lead.version) => {
                    Err(StoreError::VersionMismatch)
                }
                (lead, _) => Ok(lead),
            };
        }
        in_transaction!(self, "an update of a lead", |transaction| {
            leads::update(
                transaction,
                organization,
                id,
                changes.clone(),
                condition.as_ref(),
                now,
                &Emission::now(&self.events),
            )
            .await
        })
    }

    async fn lead_delete(
        &self,
        organization: OrganizationId,
        id: Uuid,
        condition: Option<VersionCondition>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        // Dead tuples stay in the tables' files until a vacuum reclaims them: autovacuum's,
        // not one per request (README, "Erasure").
        in_transaction!(self, "a deletion of a lead", |transaction| {
            leads::delete(
                transaction,
                organization,
                id,
                condition.as_ref(),
                now,
                &Emission::now(&self.events),
            )
            .await
        })
    }

    async fn lead_list(
        &self,
        organization: OrganizationId,
        filter: LeadFilter,
        after: Option<Keyset>,
        limit: u32,
    ) -> Result<Vec<Lead>, StoreError> {
        leads::list(&self.client().await?, organization, &filter, after, limit).await
    }

    async fn lead_list_changed(
        &self,
        organization: OrganizationId,
        filter: LeadFilter,
        after: i64,
        limit: u32,
    ) -> Result<Vec<ChangedLead>, StoreError> {
        let client = self.client().await?;
        leads::list_changed(&client, organization, &filter, after, limit).await
    }
}

#[async_trait]
impl IdempotencyStore for PostgresStore {
    async fn idempotent_answer_find(
        &self,
        organization: OrganizationId,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<IdempotentAnswer>, StoreError> {
        idempotent_answers::find(&self.client().await?, organization, key, now).await
    }

    async fn idempotent_answers_sweep(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let mut swept = 0;
        loop {
            let batch = idempotent_answers::sweep_batch(&client, now).await?;
            swept += batch;
            if batch < u64::from(idempotent_answers::SWEEP_BATCH) {
                return Ok(swept);
            }
        }
    }
}

#[async_trait]
impl SubscriptionStore for PostgresStore {
    async fn webhook_subscription_insert(
        &self,
        subscription: Subscription,
        secret: SealedSecret,
        max: u32,
    ) -> Result<(), StoreError> {
        in_transaction!(self, "an insert of a subscription", |transaction| {
            webhooks::subscription_insert(transaction, &subscription, &secret, max).await
        })
    }

    async fn webhook_subscription_get(
        &self,
        organization: OrganizationId,
        id: Uuid,
    ) -> Result<Option<Subscription>, StoreError> {
        webhooks::subscription_select(&self.client().await?, organization, id).await
    }

    async fn webhook_subscription_list(
        &self,
        organization: OrganizationId,
        event_type: Option<EventType>,
        after: Option<Keyset>,
        limit: u32,
    ) -> Result<Vec<Subscription>, StoreError> {
        let client = self.client().await?;
        webhooks::subscription_list(&client, organization, event_type, after, limit).await
    }

    async fn webhook_subscription_delete(
        &self,
        organization: OrganizationId,
        id: Uuid,
    ) -> Result<bool, StoreError> {
        in_transaction!(self, "a deletion of a subscription", |transaction| {
            webhooks::subscription_delete(transaction, organization, id).await
        })
    }

    async fn webhook_subscription_enable(
        &self,
        organization: OrganizationId,
        id: Uuid,
    ) -> Result<Option<Subscription>, StoreError> {
        subscription_changes::enable(&self.client().await?, organization, id).await
    }

    async fn webhook_secret_rotate(
        &self,
        organization: OrganizationId,
        id: Uuid,
        new: SealedSecret,
        previous_expires_at: DateTime<Utc>,
    ) -> Result<Option<Subscription>, StoreError> {
        let client = self.client().await?;
        subscription_changes::rotate(&client, organization, id, &new, previous_expires_at).await
    }

    async fn webhook_secrets(
        &self,
        slot: SecretSlot,
        selection: SecretSelection,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<(Uuid, StoredSecret)>, StoreError> {
        webhook_secrets::list(&self.client().await?, slot, &selection, after, limit).await
    }

    async fn webhook_secret_samples(&self) -> Result<Vec<(Uuid, SealedSecret)>, StoreError> {
        webhook_secrets::samples(&self.client().await?).await
    }

    async fn webhook_secret_replace(
        &self,
        slot: SecretSlot,
        subscription: Uuid,
        old: StoredSecret,
        new: SealedSecret,
    ) -> Result<bool, StoreError> {
        webhook_secrets::replace(&self.client().await?, slot, subscription, &old, &new).await
    }
}

#[async_trait]
impl RecoveryStore for PostgresStore {
    async fn webhook_delivery_get(
        &self,
        organization: OrganizationId,
        subscription: Uuid,
        delivery: Uuid,
    ) -> Result<Option<Delivery>, StoreError> {
        let client = self.client().await?;
        webhooks::delivery_select(&client, organization, subscription, delivery).await
    }

    async fn webhook_delivery_attempts(
        &self,
        delivery: Uuid,
        after: Option<Keyset>,
        limit: u32,
    ) -> Result<Vec<AttemptRecord>, StoreError> {
        webhooks::attempt_list(&self.client().await?, delivery, after, limit).await
    }

    async fn webhook_delivery_resend(
        &self,
        organization: OrganizationId,
        subscription: Uuid,
        delivery: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Recovery<Delivery>, StoreError> {
        in_transaction!(self, "a resend of a delivery", |transaction| {
            webhooks::resend(transaction, organization, subscription, delivery, now).await
        })
    }

    async fn webhook_recover(
        &self,
        organization: OrganizationId,
        subscription: Uuid,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
        max_pending: u32,
    ) -> Result<Recovery<u64>, StoreError> {
        in_transaction!(self, "a recovery of failed deliveries", |transaction| {
            webhooks::recover(
                transaction,
                organization,
                subscription,
                since,
                now,
                max_pending,
            )
            .await
        })
    }

    async fn webhook_test_enqueue(
        &self,
        organization: OrganizationId,
        subscription: Uuid,
        event_type: EventType,
        body: String,
        now: DateTime<Utc>,
    ) -> Result<Recovery<Delivery>, StoreError> {
        in_transaction!(self, "a test event", |transaction| {
            webhooks::test_enqueue(
                transaction,
                organization,
                subscription,
                event_type,
                &body,
                now,
            )
            .await
        })
    }
}

#[async_trait]
impl OutboxStore for PostgresStore {
    async fn webhook_delivery_list(
        &self,
        organization: OrganizationId,
        subscription: Option<Uuid>,
        after: Option<Keyset>,
        limit: u32,
    ) -> Result<Vec<Delivery>, StoreError> {
        let client = self.client().await?;
        webhooks::delivery_list(&client, organization, subscription, after, limit).await
    }

    async fn webhook_deliveries_claim(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<DueDelivery<StoredSecret>>, StoreError> {
        let client = self.client().await?;
        retrying(&self.metrics.contention_retries, || {
            webhooks::claim(&client, now, lease_until, limit)
        })
        .await
    }

    async fn webhook_delivery_record(
        &self,
        attempt: Attempt,
        disable_after: u32,
    ) -> Result<(), StoreError> {
        in_transaction!(self, "a record of a delivery attempt", |transaction| {
            webhooks::record(transaction, &attempt, disable_after).await
        })
    }

    async fn webhook_deliveries_record_and_claim(
        &self,
        attempts: Vec<Attempt>,
        disable_after: u32,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<DueDelivery<StoredSecret>>, StoreError> {
        for attempt in attempts {
            self.webhook_delivery_record(attempt, disable_after).await?;
        }
        if limit == 0 {
            return Ok(Vec::new());
        }
        self.webhook_deliveries_claim(now, lease_until, limit).await
    }

    async fn webhook_next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        webhooks::next_due(&self.client().await?).await
    }

    /// Releases every lease, of every replica, as the trait says. The delivery worker never
    /// calls it on PostgreSQL: it does only for a store without [`shared_rate_limits`], that
    /// one process serves, and replicas still sending would lose their leases.
    ///
    /// [`shared_rate_limits`]: Store::shared_rate_limits
    async fn webhook_leases_release(&self) -> Result<(), StoreError> {
        webhooks::release_leases(&self.client().await?).await
    }

    async fn webhook_deliveries_sweep(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut swept = 0;
        loop {
            // A transaction per batch, so that a batch run again is counted once.
            let batch = in_transaction!(self, "a sweep of deliveries", |transaction| {
                webhooks::sweep_batch(transaction, before).await
            })?;
            swept += batch.deliveries;
            if !batch.was_full() {
                return Ok(swept);
            }
        }
    }

    async fn webhook_backlog_trim(&self, max: u32, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let client = self.client().await?;
        // Its locks may cross those of a subscription's disabling or deletion, which lock
        // many deliveries too: a deadlock PostgreSQL breaks is run again.
        retrying(&self.metrics.contention_retries, || {
            webhooks::backlog_trim(&client, max, now)
        })
        .await
    }

    async fn webhook_outbox_summary(&self) -> Result<OutboxSummary, StoreError> {
        webhooks::summary(&self.client().await?).await
    }
}

#[cfg(test)]
mod tests;

/// The [`Store`] contract, as every backend must keep it: on a database of its own for each
/// test, in the server `LEADS_TEST_POSTGRES_URL` names (ignored when built without it).
#[cfg(test)]
mod suite {
    crate::store::suite::store_suite!(
        super::tests::subject,
        #[cfg_attr(not(leads_postgres), ignore = "needs PostgreSQL: set LEADS_TEST_POSTGRES_URL")]
    );
}
