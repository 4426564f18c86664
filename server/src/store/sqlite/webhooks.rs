//! The webhook tables: subscriptions, the events a lead write stores (the outbox), and their
//! deliveries, claimed under a lease by the delivery worker and updated by its attempts.

use chrono::{DateTime, Utc};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, named_params, params_from_iter};
use uuid::Uuid;

use super::errors::{Context, internal};
use super::event_body::StoredBody;
use super::values::{from_micros, id_text, micros, parse_id};
use super::webhook_secrets;
use super::{deliveries, fairness};
use crate::domain::{
    Attempt, AttemptOutcome, DeliveryStatus, DueDelivery, Emission, EventType, Keyset, Lead,
    OrganizationId, Subscription,
};
use crate::store::{
    DISABLED_MESSAGE, SWEEP_BATCH, SealedSecret, StoreError, StoredSecret, SweptBatch,
};

const SUBSCRIPTION_COLUMNS: &str =
    "id, organization_id, event_type, target_url, created_at, disabled_at";

/// A subscription's row in SQLite's types, checked into a [`Subscription`] apart: a row can
/// hold what no `Subscription` can (an unknown event type, say).
struct SubscriptionRow {
    id: String,
    organization_id: String,
    event_type: String,
    target_url: String,
    created_at: i64,
    disabled_at: Option<i64>,
}

impl SubscriptionRow {
    /// A row of [`SUBSCRIPTION_COLUMNS`].
    fn read(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get(0)?,
            organization_id: row.get(1)?,
            event_type: row.get(2)?,
            target_url: row.get(3)?,
            created_at: row.get(4)?,
            disabled_at: row.get(5)?,
        })
    }

    fn into_subscription(self) -> Result<Subscription, StoreError> {
        Ok(Subscription {
            id: parse_id(&self.id, "webhook_subscriptions.id")?,
            organization: OrganizationId(parse_id(
                &self.organization_id,
                "webhook_subscriptions.organization_id",
            )?),
            event_type: event_type_of(&self.event_type)?,
            target_url: self.target_url,
            created_at: from_micros(self.created_at, "created_at")?,
            disabled_at: optional_time(self.disabled_at, "disabled_at")?,
        })
    }
}

pub(super) fn subscription_insert(
    transaction: &Connection,
    subscription: &Subscription,
    secret: &SealedSecret,
    max: u32,
) -> Result<(), StoreError> {
    let organization = id_text(subscription.organization.0);
    let count: i64 = transaction
        .query_row(
            "SELECT count(*) FROM webhook_subscriptions WHERE organization_id = ?",
            [&organization],
            |row| row.get(0),
        )
        .context("counting webhook subscriptions")?;
    if count >= i64::from(max) {
        return Err(StoreError::SubscriptionLimitReached(max));
    }
    transaction
        .prepare_cached(
            "INSERT INTO webhook_subscriptions \
             (id, organization_id, event_type, target_url, secret, secret_key_id, created_at, \
             disabled_at) VALUES (:id, :organization_id, :event_type, :target_url, :secret, \
             :secret_key_id, :created_at, :disabled_at)",
        )
        .and_then(|mut statement| {
            statement.execute(named_params! {
                ":id": id_text(subscription.id),
                ":organization_id": organization,
                ":event_type": subscription.event_type.as_str(),
                ":target_url": subscription.target_url,
                ":secret": secret.sealed,
                ":secret_key_id": secret.key_id,
                ":created_at": micros(subscription.created_at),
                ":disabled_at": subscription.disabled_at.map(micros),
            })
        })
        .context("inserting a webhook subscription")?;
    Ok(())
}

pub(super) fn subscription_select(
    connection: &Connection,
    organization: OrganizationId,
    id: Uuid,
) -> Result<Option<Subscription>, StoreError> {
    connection
        .prepare_cached(&format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions \
             WHERE id = ? AND organization_id = ?"
        ))
        .and_then(|mut statement| {
            statement
                .query_row(
                    [id_text(id), id_text(organization.0)],
                    SubscriptionRow::read,
                )
                .optional()
        })
        .context("reading a webhook subscription")?
        .map(SubscriptionRow::into_subscription)
        .transpose()
}

pub(super) fn subscription_list(
    connection: &Connection,
    organization: OrganizationId,
    event_type: Option<EventType>,
    after: Option<Keyset>,
    limit: u32,
) -> Result<Vec<Subscription>, StoreError> {
    let mut sql = format!(
        "SELECT {SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions WHERE organization_id = ?"
    );
    let mut parameters = vec![Value::Text(id_text(organization.0))];
    if let Some(event_type) = event_type {
        sql.push_str(" AND event_type = ?");
        parameters.push(Value::Text(event_type.as_str().to_owned()));
    }
    page(&mut sql, &mut parameters, "", after, limit);
    let rows = connection
        .prepare_cached(&sql)
        .and_then(|mut statement| {
            statement
                .query_map(params_from_iter(parameters), SubscriptionRow::read)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .context("listing webhook subscriptions")?;
    rows.into_iter()
        .map(SubscriptionRow::into_subscription)
        .collect()
}

pub(super) fn subscription_delete(
    transaction: &Connection,
    organization: OrganizationId,
    id: Uuid,
) -> Result<bool, StoreError> {
    let organization = id_text(organization.0);
    let id = id_text(id);
    transaction
        .execute(
            "DELETE FROM webhook_deliveries WHERE subscription_id = ?1 AND organization_id = ?2",
            [&id, &organization],
        )
        .context("deleting a subscription's deliveries")?;
    let deleted = transaction
        .execute(
            "DELETE FROM webhook_subscriptions WHERE id = ?1 AND organization_id = ?2",
            [&id, &organization],
        )
        .context("deleting a webhook subscription")?;
    Ok(deleted == 1)
}

/// An event to store.
pub(super) struct NewEvent<'a> {
    pub(super) id: &'a str,
    pub(super) organization: &'a str,
    pub(super) event_type: EventType,
    /// The body as rendered: stored deflated if that is smaller ([`StoredBody`]).
    pub(super) body: String,
    /// When it was made, in microseconds.
    pub(super) at: i64,
    /// The lead it is about, which an erasure finds it by; none for a test event.
    pub(super) lead: Option<String>,
    /// The `traceparent` of the request that caused it, if it sent one.
    pub(super) trace: Option<String>,
}

/// Stores an event, its body deflated if that is smaller. A deflated body's text column holds
/// the empty text (`migrations/0013_deflated_event_bodies.sql`).
pub(super) fn insert_event(transaction: &Connection, event: NewEvent<'_>) -> rusqlite::Result<()> {
    let body = StoredBody::new(event.body);
    transaction
        .prepare_cached(
            "INSERT INTO webhook_events (id, organization_id, event_type, body, body_deflated, \
             body_size, created_at, lead_id, trace_parent) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )?
        .execute((
            event.id,
            event.organization,
            event.event_type.as_str(),
            body.text.unwrap_or_default(),
            body.deflated,
            body.size,
            event.at,
            event.lead,
            event.trace,
        ))?;
    Ok(())
}

/// Stores a pending delivery: its id, organization, subscription, event, when it is due, and
/// when it was made.
pub(super) const INSERT_DELIVERY: &str = "INSERT INTO webhook_deliveries \
     (id, organization_id, subscription_id, event_id, status, next_attempt_at, created_at) \
     VALUES (?, ?, ?, ?, 'pending', ?, ?)";

/// Stores each of `events` about `lead` (as it is after the change) and a delivery of it to
/// every active subscription of the lead's organization to that event, in the caller's
/// transaction. An event no subscription wants is not stored.
pub(super) fn emit(
    transaction: &Connection,
    events: &[EventType],
    lead: &Lead,
    events_of: &Emission,
) -> Result<(), StoreError> {
    let organization = id_text(lead.organization_id.0);
    for &event in events {
        let subscribers: Vec<String> = transaction
            .prepare_cached(
                "SELECT id FROM webhook_subscriptions \
                 WHERE organization_id = ? AND event_type = ? AND disabled_at IS NULL",
            )
            .and_then(|mut statement| {
                statement
                    .query_map([organization.as_str(), event.as_str()], |row| row.get(0))?
                    .collect()
            })
            .context("finding the subscribers of an event")?;
        if subscribers.is_empty() {
            continue;
        }
        let event_id = id_text(Uuid::now_v7());
        let at = micros(lead.updated_at);
        let body = events_of
            .render(event, lead)
            .map_err(StoreError::Internal)?;
        insert_event(
            transaction,
            NewEvent {
                id: &event_id,
                organization: &organization,
                event_type: event,
                body,
                at,
                lead: Some(id_text(lead.id)),
                trace: events_of.stored_trace(),
            },
        )
        .context("storing an event")?;
        let mut insert = transaction
            .prepare_cached(INSERT_DELIVERY)
            .context("preparing a delivery")?;
        for subscriber in subscribers {
            insert
                .execute((
                    id_text(Uuid::now_v7()),
                    &organization,
                    subscriber,
                    &event_id,
                    at,
                    at,
                ))
                .context("storing a delivery")?;
        }
    }
    Ok(())
}

pub(super) fn claim(
    transaction: &Connection,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<DueDelivery<StoredSecret>>, StoreError> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    // The writer's transaction holds the write lock from the choice to the lease, so no
    // other claim can come between them.
    let chosen = fairness::due_in_turn(transaction, now, limit)?;
    type Due = (
        String,
        String,
        String,
        (String, Option<String>),
        (Option<String>, Option<Vec<u8>>),
        i64,
        (Option<String>, Option<String>, Option<i64>),
        Option<String>,
    );
    // The body as stored: its text, unless it is deflated.
    let mut select = transaction
        .prepare_cached(
            "SELECT d.id, d.subscription_id, s.target_url, s.secret, s.secret_key_id, \
             CASE WHEN e.body_deflated IS NULL THEN e.body END, e.body_deflated, \
             d.attempt_count - d.attempts_before_send, s.previous_secret, s.previous_secret_key_id, \
             s.previous_secret_expires_at, e.trace_parent FROM webhook_deliveries d \
             JOIN webhook_subscriptions s ON s.id = d.subscription_id \
             JOIN webhook_events e ON e.id = d.event_id \
             WHERE d.id = ?",
        )
        .context("preparing to read a due delivery")?;
    let mut lease = transaction
        .prepare_cached("UPDATE webhook_deliveries SET leased_until = ? WHERE id = ?")
        .context("preparing a lease")?;
    chosen
        .into_iter()
        .map(|id| {
            let (
                id,
                subscription_id,
                target_url,
                (secret, key_id),
                body,
                attempt_count,
                previous,
                trace,
            ): Due = select
                .query_row([&id], |row| {
                    Ok((
                        row.get(0)?,
                        row.get(1)?,
                        row.get(2)?,
                        (row.get(3)?, row.get(4)?),
                        (row.get(5)?, row.get(6)?),
                        row.get(7)?,
                        (row.get(8)?, row.get(9)?, row.get(10)?),
                        row.get(11)?,
                    ))
                })
                .context("reading a due delivery")?;
            lease
                .execute((micros(lease_until), &id))
                .context("leasing a delivery")?;
            Ok(DueDelivery {
                id: parse_id(&id, "webhook_deliveries.id")?,
                subscription_id: parse_id(&subscription_id, "webhook_deliveries.subscription_id")?,
                target_url,
                secret: webhook_secrets::stored(secret, key_id),
                previous_secret: webhook_secrets::previous(previous, now),
                body: StoredBody::into_text(body.0, body.1)?,
                attempt_count: in_range(attempt_count, "attempt_count")?,
                trace: trace.and_then(|trace| trace.parse().ok()),
            })
        })
        .collect()
}

pub(super) fn record(
    transaction: &Connection,
    attempt: &Attempt,
    disable_after: u32,
) -> Result<(), StoreError> {
    let id = id_text(attempt.delivery);
    let (status, next_attempt_at) = match attempt.outcome {
        AttemptOutcome::Delivered => (DeliveryStatus::Success, None),
        AttemptOutcome::RetryAt(at) => (DeliveryStatus::Pending, Some(micros(at))),
        AttemptOutcome::GaveUp => (DeliveryStatus::Failed, None),
    };
    let recorded: Option<(String, i64)> = transaction
        .prepare_cached(
            "UPDATE webhook_deliveries SET status = :status, \
             attempt_count = attempt_count + 1, status_code = :status_code, \
             response_time_ms = :response_time_ms, error_message = :error_message, \
             next_attempt_at = :next_attempt_at, leased_until = NULL \
             WHERE id = :id AND status = 'pending' RETURNING subscription_id, attempt_count",
        )
        .and_then(|mut statement| {
            statement
                .query_row(
                    named_params! {
                        ":status": status.as_str(),
                        ":status_code": attempt.status_code,
                        ":response_time_ms": i64::try_from(attempt.response_time_ms).unwrap_or(i64::MAX),
                        ":error_message": attempt.error,
                        ":next_attempt_at": next_attempt_at,
                        ":id": id,
                    },
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .optional()
        })
        .context("recording a delivery attempt")?;
    let Some((subscription, number)) = recorded else {
        return Ok(());
    };
    deliveries::keep_attempt(transaction, attempt, number)?;
    match status {
        DeliveryStatus::Pending => {}
        DeliveryStatus::Success => {
            transaction
                .execute(
                    // A subscription with no failure to forget is not written again.
                    "UPDATE webhook_subscriptions SET consecutive_failures = 0 \
                     WHERE id = ? AND consecutive_failures != 0",
                    [&subscription],
                )
                .context("counting a delivered event")?;
        }
        DeliveryStatus::Failed => {
            let failures: i64 = transaction
                .query_row(
                    "UPDATE webhook_subscriptions \
                     SET consecutive_failures = consecutive_failures + 1 \
                     WHERE id = ? RETURNING consecutive_failures",
                    [&subscription],
                    |row| row.get(0),
                )
                .context("counting a failed delivery")?;
            if failures >= i64::from(disable_after) {
                disable(transaction, &subscription, attempt.at)?;
            }
        }
    }
    Ok(())
}

/// Disables a subscription, and fails its pending deliveries: nothing more is sent to it.
fn disable(
    transaction: &Connection,
    subscription: &str,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    transaction
        .execute(
            "UPDATE webhook_subscriptions SET disabled_at = ?2 \
             WHERE id = ?1 AND disabled_at IS NULL",
            (subscription, micros(at)),
        )
        .context("disabling a subscription")?;
    transaction
        .execute(
            "UPDATE webhook_deliveries SET status = 'failed', next_attempt_at = NULL, \
             leased_until = NULL, error_message = ?2 \
             WHERE subscription_id = ?1 AND status = 'pending'",
            (subscription, DISABLED_MESSAGE),
        )
        .context("failing a disabled subscription's deliveries")?;
    Ok(())
}

/// When the next claim may find a delivery (see
/// [`crate::store::OutboxStore::webhook_next_due`]): the earliest unleased delivery of each
/// active subscription, from `webhook_deliveries_due_by_subscription` (its leased ones, few,
/// come first and are stepped over), and the later of due and lease of every leased one, from
/// `webhook_deliveries_leased`.
const NEXT_DUE: &str = "SELECT min(due) FROM (\
    SELECT (SELECT x.next_attempt_at FROM webhook_deliveries x \
    WHERE x.subscription_id = s.id AND x.status = 'pending' AND x.leased_until IS NULL \
    ORDER BY x.next_attempt_at, x.id LIMIT 1) AS due \
    FROM webhook_subscriptions s WHERE s.disabled_at IS NULL \
    UNION ALL SELECT max(d.next_attempt_at, d.leased_until) FROM webhook_deliveries d \
    JOIN webhook_subscriptions s ON s.id = d.subscription_id \
    WHERE d.status = 'pending' AND d.leased_until IS NOT NULL AND s.disabled_at IS NULL)";

pub(super) fn next_due(connection: &Connection) -> Result<Option<DateTime<Utc>>, StoreError> {
    let due: Option<i64> = connection
        .prepare_cached(NEXT_DUE)
        .and_then(|mut statement| statement.query_row([], |row| row.get(0)))
        .context("finding the next due delivery")?;
    due.map(|micros| from_micros(micros, "next_attempt_at"))
        .transpose()
}

/// Deletes at most a batch of finished deliveries created before a time, read in age order
/// from `webhook_deliveries_finished_by_created`. (`DELETE … LIMIT` needs a compile-time option
/// of SQLite; the subquery does not.)
const SWEEP_DELIVERIES: &str = "DELETE FROM webhook_deliveries WHERE id IN \
    (SELECT id FROM webhook_deliveries WHERE created_at < ? AND status != 'pending' LIMIT ?)";

/// Deletes at most a batch of events created before a time that no delivery is left of, read
/// in age order from `webhook_events_by_created`, each tested on `webhook_deliveries_by_event`.
const SWEEP_EVENTS: &str = "DELETE FROM webhook_events WHERE id IN \
    (SELECT e.id FROM webhook_events e WHERE e.created_at < ? AND NOT EXISTS \
    (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id) LIMIT ?)";

/// Deletes at most [`SWEEP_BATCH`] deliveries created before `before` and no longer pending,
/// then at most as many events created before it that no delivery is left of (sweeping
/// deliveries leaves them, and so does deleting a subscription), in the caller's transaction.
pub(super) fn sweep_batch(
    transaction: &Connection,
    before: DateTime<Utc>,
) -> Result<SweptBatch, StoreError> {
    let deliveries = transaction
        .prepare_cached(SWEEP_DELIVERIES)
        .and_then(|mut statement| statement.execute((micros(before), SWEEP_BATCH)))
        .context("sweeping old deliveries")?;
    // After the deliveries, so that it finds the events this batch left without any.
    let events = transaction
        .prepare_cached(SWEEP_EVENTS)
        .and_then(|mut statement| statement.execute((micros(before), SWEEP_BATCH)))
        .context("sweeping delivered events")?;
    Ok(SweptBatch {
        deliveries: deliveries as u64,
        events: events as u64,
    })
}

/// Forgets every lease: called when the file is opened, when no worker of an earlier process
/// can still be sending (a process that died left its leases behind).
pub(super) fn release_leases(transaction: &Connection) -> Result<(), StoreError> {
    transaction
        .execute(
            "UPDATE webhook_deliveries SET leased_until = NULL WHERE leased_until IS NOT NULL",
            [],
        )
        .context("releasing the leases of deliveries")?;
    Ok(())
}

/// Appends the keyset condition (`prefix` names the table's alias) and the list order.
pub(super) fn page(
    sql: &mut String,
    parameters: &mut Vec<Value>,
    prefix: &str,
    after: Option<Keyset>,
    limit: u32,
) {
    if let Some(Keyset { created_at, id }) = after {
        sql.push_str(&format!(
            " AND {prefix}created_at <= ? AND ({prefix}created_at < ? OR {prefix}id < ?)"
        ));
        parameters.push(Value::Integer(micros(created_at)));
        parameters.push(Value::Integer(micros(created_at)));
        parameters.push(Value::Text(id_text(id)));
    }
    sql.push_str(&format!(
        " ORDER BY {prefix}created_at DESC, {prefix}id DESC LIMIT ?"
    ));
    parameters.push(Value::Integer(i64::from(limit)));
}

pub(super) fn event_type_of(text: &str) -> Result<EventType, StoreError> {
    EventType::parse(text).ok_or_else(|| internal(&format!("an unknown event type {text:?}")))
}

/// A column's integer as `T`, if it fits.
pub(super) fn in_range<T: TryFrom<i64>>(number: i64, column: &str) -> Result<T, StoreError> {
    T::try_from(number).map_err(|_| internal(&format!("{column} {number} is out of range")))
}

pub(super) fn optional_time(
    micros: Option<i64>,
    column: &str,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    micros.map(|micros| from_micros(micros, column)).transpose()
}

#[cfg(test)]
mod tests {
    use super::super::tests::{open, plan, raw};
    use super::*;
    use crate::store::prelude::*;
    use crate::store::suite::{T0, at};

    fn count(raw: &Connection, table: &str) -> i64 {
        raw.query_row(&format!("SELECT count(*) FROM {table}"), [], |row| {
            row.get(0)
        })
        .expect("count")
    }

    /// Neither sweep statement scans its table: each reads old rows by age from an index.
    #[tokio::test]
    async fn each_sweep_statement_searches_an_index_by_age() {
        let (dir, _store, _) = open().await;
        let raw = raw(&dir);
        let deliveries = plan(&raw, SWEEP_DELIVERIES, (0, SWEEP_BATCH));
        assert!(
            deliveries.contains("webhook_deliveries_finished_by_created (created_at<?)"),
            "{deliveries}"
        );
        assert!(
            !deliveries.contains("SCAN webhook_deliveries"),
            "{deliveries}"
        );
        let events = plan(&raw, SWEEP_EVENTS, (0, SWEEP_BATCH));
        assert!(
            events.contains("webhook_events_by_created (created_at<?)"),
            "{events}"
        );
        assert!(events.contains("webhook_deliveries_by_event"), "{events}");
        assert!(!events.contains("SCAN "), "{events}");
    }

    /// The next due time reads each subscription's earliest on its index, and the leased ones
    /// on theirs: never the whole outbox.
    #[tokio::test]
    async fn the_next_due_time_reads_indexes_only() {
        let (dir, _store, _) = open().await;
        let plan = plan(&raw(&dir), NEXT_DUE, []);
        assert!(
            plan.contains("webhook_deliveries_due_by_subscription (subscription_id=?)"),
            "{plan}"
        );
        assert!(plan.contains("webhook_deliveries_leased"), "{plan}");
        assert!(!plan.contains("SCAN x"), "{plan}");
        assert!(!plan.contains("SCAN d"), "{plan}");
        assert!(!plan.contains("SCAN webhook_deliveries"), "{plan}");
    }

    /// Old rows beyond two batches of each kind, made beneath the interface: every old
    /// finished delivery and every old event left without one is deleted, batch after batch;
    /// nothing new, and no pending delivery or its event, is.
    #[tokio::test]
    async fn a_sweep_of_several_batches_deletes_everything_old_and_nothing_new() {
        let (dir, store, organization) = open().await;
        let raw = raw(&dir);
        let old = 2 * i64::from(SWEEP_BATCH) + 7;
        let (old_at, new_at) = (T0, T0 + 86_400_000_000);
        raw.execute(
            "INSERT INTO webhook_subscriptions (id, organization_id, event_type, target_url, \
             secret, created_at) VALUES ('s', ?, 'lead.created', 'https://hooks.example.com/', \
             'whsec_x', ?)",
            (id_text(organization.0), old_at),
        )
        .expect("a subscription");
        // Rows 1 to `old` are old (the first still pending), the next 3 new, each an event
        // with one delivery; then as many events without deliveries, old and new alike.
        raw.execute_batch(&format!(
            "CREATE TEMPORARY TABLE made AS WITH RECURSIVE n (n) AS \
             (SELECT 1 UNION ALL SELECT n + 1 FROM n WHERE n < 2 * ({old} + 3)) \
             SELECT n, 'e' || n AS event, 'd' || n AS delivery, \
             CASE WHEN n <= {old} OR n - ({old} + 3) BETWEEN 1 AND {old} \
             THEN {old_at} ELSE {new_at} END AS created_at FROM n"
        ))
        .expect("rows to make");
        raw.execute(
            "INSERT INTO webhook_events (id, organization_id, event_type, body, created_at) \
             SELECT event, ?, 'lead.created', '{}', created_at FROM made",
            [id_text(organization.0)],
        )
        .expect("events");
        raw.execute_batch(&format!(
            "INSERT INTO webhook_deliveries (id, organization_id, subscription_id, event_id, \
             status, next_attempt_at, created_at) SELECT delivery, \
             (SELECT organization_id FROM webhook_subscriptions), 's', event, \
             CASE WHEN n = 1 THEN 'pending' ELSE 'success' END, \
             CASE WHEN n = 1 THEN created_at END, created_at FROM made WHERE n <= {old} + 3"
        ))
        .expect("deliveries");

        // One batch deletes a batch of each, however many more there are.
        let first = sweep_batch(&raw, at(old_at + 1)).expect("a batch");
        let batch = u64::from(SWEEP_BATCH);
        assert_eq!((first.deliveries, first.events), (batch, batch));
        let swept = store
            .webhook_deliveries_sweep(at(old_at + 1))
            .await
            .expect("sweep");
        assert_eq!(swept + batch, (old - 1).unsigned_abs());
        let left = |sql: &str| -> Vec<String> {
            raw.prepare(sql)
                .and_then(|mut statement| {
                    statement
                        .query_map([], |row| row.get(0))?
                        .collect::<rusqlite::Result<_>>()
                })
                .expect("what is left")
        };
        let new = |prefix: &str, from: i64| -> Vec<String> {
            (from..from + 3).map(|n| format!("{prefix}{n}")).collect()
        };
        let mut deliveries = vec!["d1".to_owned()];
        deliveries.extend(new("d", old + 1));
        assert_eq!(
            left("SELECT id FROM webhook_deliveries ORDER BY created_at, id"),
            deliveries
        );
        let mut events = vec!["e1".to_owned()];
        events.extend(new("e", old + 1));
        events.extend(new("e", 2 * old + 4));
        events.sort();
        let mut kept = left("SELECT id FROM webhook_events");
        kept.sort();
        assert_eq!(kept, events);
        assert_eq!(count(&raw, "webhook_subscriptions"), 1);
    }
}
