//! The webhook tables: subscriptions, the events a lead write stores (the outbox), and their
//! deliveries, claimed under a lease by the delivery worker and updated by its attempts.

use chrono::{DateTime, Utc};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, named_params, params_from_iter};
use uuid::Uuid;

use super::errors::{Context, internal};
use super::values::{from_micros, id_text, micros, parse_id};
use crate::domain::{
    Attempt, AttemptOutcome, Delivery, DeliveryStatus, DueDelivery, EventType, Keyset, Lead,
    OrganizationId, SigningSecret, Subscription,
};
use crate::store::{DISABLED_MESSAGE, StoreError};
use crate::webhooks::payload;

const SUBSCRIPTION_COLUMNS: &str =
    "id, organization_id, event_type, target_url, created_at, disabled_at";

fn read_subscription(row: &Row<'_>) -> rusqlite::Result<[Value; 6]> {
    read_values(row)
}

/// The first `N` columns of `row`, as SQLite holds them, checked into domain values apart.
fn read_values<const N: usize>(row: &Row<'_>) -> rusqlite::Result<[Value; N]> {
    let mut values = [const { Value::Null }; N];
    for (index, value) in values.iter_mut().enumerate() {
        *value = row.get(index)?;
    }
    Ok(values)
}

fn subscription(row: [Value; 6]) -> Result<Subscription, StoreError> {
    let [
        id,
        organization,
        event_type,
        target_url,
        created_at,
        disabled_at,
    ] = row;
    Ok(Subscription {
        id: parse_id(&text(id, "id")?, "webhook_subscriptions.id")?,
        organization: OrganizationId(parse_id(
            &text(organization, "organization_id")?,
            "webhook_subscriptions.organization_id",
        )?),
        event_type: event_type_of(&text(event_type, "event_type")?)?,
        target_url: text(target_url, "target_url")?,
        created_at: time(created_at, "created_at")?,
        disabled_at: optional_time(disabled_at, "disabled_at")?,
    })
}

pub(super) fn subscription_insert(
    transaction: &Connection,
    subscription: &Subscription,
    secret: &SigningSecret,
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
             (id, organization_id, event_type, target_url, secret, created_at, disabled_at) \
             VALUES (:id, :organization_id, :event_type, :target_url, :secret, :created_at, \
             :disabled_at)",
        )
        .and_then(|mut statement| {
            statement.execute(named_params! {
                ":id": id_text(subscription.id),
                ":organization_id": organization,
                ":event_type": subscription.event_type.as_str(),
                ":target_url": subscription.target_url,
                ":secret": secret.expose(),
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
                .query_row([id_text(id), id_text(organization.0)], read_subscription)
                .optional()
        })
        .context("reading a webhook subscription")?
        .map(subscription)
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
                .query_map(params_from_iter(parameters), read_subscription)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .context("listing webhook subscriptions")?;
    rows.into_iter().map(subscription).collect()
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

/// Stores each of `events` about `lead` (as it is after the change) and a delivery of it to
/// every active subscription of the lead's organization to that event, in the caller's
/// transaction. An event no subscription wants is not stored.
pub(super) fn emit(
    transaction: &Connection,
    events: &[EventType],
    lead: &Lead,
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
        let body = payload::render(event, lead)?;
        transaction
            .prepare_cached(
                "INSERT INTO webhook_events (id, organization_id, event_type, body, created_at) \
                 VALUES (?, ?, ?, ?, ?)",
            )
            .and_then(|mut statement| {
                statement.execute((&event_id, &organization, event.as_str(), body, at))
            })
            .context("storing an event")?;
        let mut insert = transaction
            .prepare_cached(
                "INSERT INTO webhook_deliveries (id, organization_id, subscription_id, event_id, \
                 status, next_attempt_at, created_at) VALUES (?, ?, ?, ?, 'pending', ?, ?)",
            )
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

const DELIVERY_COLUMNS: &str = "d.id, d.subscription_id, e.event_type, d.status, d.status_code, \
     d.response_time_ms, d.error_message, d.attempt_count, length(CAST(e.body AS BLOB)), \
     d.created_at, d.next_attempt_at";

fn read_delivery(row: &Row<'_>) -> rusqlite::Result<[Value; 11]> {
    read_values(row)
}

fn delivery(row: [Value; 11]) -> Result<Delivery, StoreError> {
    let [
        id,
        subscription_id,
        event_type,
        status,
        status_code,
        response_time_ms,
        error_message,
        attempt_count,
        payload_size_bytes,
        created_at,
        next_attempt_at,
    ] = row;
    let status_text = text(status, "status")?;
    Ok(Delivery {
        id: parse_id(&text(id, "id")?, "webhook_deliveries.id")?,
        subscription_id: parse_id(
            &text(subscription_id, "subscription_id")?,
            "webhook_deliveries.subscription_id",
        )?,
        event_type: event_type_of(&text(event_type, "event_type")?)?,
        status: DeliveryStatus::parse(&status_text)
            .ok_or_else(|| internal(&format!("a delivery has status {status_text:?}")))?,
        status_code: optional_integer(status_code, "status_code")?,
        response_time_ms: optional_integer(response_time_ms, "response_time_ms")?,
        error_message: optional_text(error_message, "error_message")?,
        attempt_count: integer(attempt_count, "attempt_count")?,
        payload_size_bytes: integer(payload_size_bytes, "payload_size_bytes")?,
        created_at: time(created_at, "created_at")?,
        next_attempt_at: optional_time(next_attempt_at, "next_attempt_at")?,
    })
}

pub(super) fn delivery_list(
    connection: &Connection,
    organization: OrganizationId,
    subscription: Option<Uuid>,
    after: Option<Keyset>,
    limit: u32,
) -> Result<Vec<Delivery>, StoreError> {
    let mut sql = format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d \
         JOIN webhook_events e ON e.id = d.event_id WHERE d.organization_id = ?"
    );
    let mut parameters = vec![Value::Text(id_text(organization.0))];
    if let Some(subscription) = subscription {
        sql.push_str(" AND d.subscription_id = ?");
        parameters.push(Value::Text(id_text(subscription)));
    }
    page(&mut sql, &mut parameters, "d.", after, limit);
    let rows = connection
        .prepare_cached(&sql)
        .and_then(|mut statement| {
            statement
                .query_map(params_from_iter(parameters), read_delivery)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .context("listing webhook deliveries")?;
    rows.into_iter().map(delivery).collect()
}

pub(super) fn claim(
    transaction: &Connection,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<DueDelivery>, StoreError> {
    // The writer's transaction holds the write lock from the select to the lease, so no
    // other claim can come between them.
    let rows: Vec<(String, String, String, String, String, i64)> = transaction
        .prepare_cached(
            "SELECT d.id, d.subscription_id, s.target_url, s.secret, e.body, d.attempt_count \
             FROM webhook_deliveries d \
             JOIN webhook_subscriptions s ON s.id = d.subscription_id \
             JOIN webhook_events e ON e.id = d.event_id \
             WHERE d.status = 'pending' AND d.next_attempt_at <= :now \
             AND (d.leased_until IS NULL OR d.leased_until <= :now) \
             AND s.disabled_at IS NULL \
             ORDER BY d.next_attempt_at LIMIT :limit",
        )
        .and_then(|mut statement| {
            statement
                .query_map(
                    named_params! { ":now": micros(now), ":limit": i64::from(limit) },
                    |row| {
                        Ok((
                            row.get(0)?,
                            row.get(1)?,
                            row.get(2)?,
                            row.get(3)?,
                            row.get(4)?,
                            row.get(5)?,
                        ))
                    },
                )?
                .collect()
        })
        .context("finding due deliveries")?;
    let mut lease = transaction
        .prepare_cached("UPDATE webhook_deliveries SET leased_until = ? WHERE id = ?")
        .context("preparing a lease")?;
    rows.into_iter()
        .map(
            |(id, subscription_id, target_url, secret, body, attempt_count)| {
                lease
                    .execute((micros(lease_until), &id))
                    .context("leasing a delivery")?;
                Ok(DueDelivery {
                    id: parse_id(&id, "webhook_deliveries.id")?,
                    subscription_id: parse_id(
                        &subscription_id,
                        "webhook_deliveries.subscription_id",
                    )?,
                    target_url,
                    secret: SigningSecret::from_stored(secret),
                    body,
                    attempt_count: u32::try_from(attempt_count)
                        .map_err(|_| internal("a delivery's attempt_count is out of range"))?,
                })
            },
        )
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
    let subscription: Option<String> = transaction
        .prepare_cached(
            "UPDATE webhook_deliveries SET status = :status, \
             attempt_count = attempt_count + 1, status_code = :status_code, \
             response_time_ms = :response_time_ms, error_message = :error_message, \
             next_attempt_at = :next_attempt_at, leased_until = NULL \
             WHERE id = :id AND status = 'pending' RETURNING subscription_id",
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
                    |row| row.get(0),
                )
                .optional()
        })
        .context("recording a delivery attempt")?;
    let Some(subscription) = subscription else {
        return Ok(());
    };
    match status {
        DeliveryStatus::Pending => {}
        DeliveryStatus::Success => {
            transaction
                .execute(
                    "UPDATE webhook_subscriptions SET consecutive_failures = 0 WHERE id = ?",
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

pub(super) fn next_due(connection: &Connection) -> Result<Option<DateTime<Utc>>, StoreError> {
    let due: Option<i64> = connection
        .query_row(
            "SELECT min(max(d.next_attempt_at, coalesce(d.leased_until, 0))) \
             FROM webhook_deliveries d JOIN webhook_subscriptions s ON s.id = d.subscription_id \
             WHERE d.status = 'pending' AND s.disabled_at IS NULL",
            [],
            |row| row.get(0),
        )
        .context("finding the next due delivery")?;
    due.map(|micros| from_micros(micros, "next_attempt_at"))
        .transpose()
}

/// How many deliveries one sweep transaction deletes at most, so that writes queued behind it
/// wait for one batch only.
pub(super) const SWEEP_BATCH: u32 = 1000;

pub(super) fn sweep_batch(
    transaction: &Connection,
    before: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let swept = transaction
        .execute(
            "DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries \
             WHERE created_at < ? AND status != 'pending' LIMIT ?)",
            (micros(before), SWEEP_BATCH),
        )
        .context("sweeping old deliveries")?;
    transaction
        .execute(
            "DELETE FROM webhook_events WHERE created_at < ? AND NOT EXISTS \
             (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = webhook_events.id)",
            [micros(before)],
        )
        .context("sweeping delivered events")?;
    Ok(swept as u64)
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
fn page(
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

fn event_type_of(text: &str) -> Result<EventType, StoreError> {
    EventType::parse(text).ok_or_else(|| internal(&format!("an unknown event type {text:?}")))
}

fn text(value: Value, column: &str) -> Result<String, StoreError> {
    match optional_text(value, column)? {
        Some(text) => Ok(text),
        None => Err(internal(&format!("{column} is NULL"))),
    }
}

fn optional_text(value: Value, column: &str) -> Result<Option<String>, StoreError> {
    match value {
        Value::Text(text) => Ok(Some(text)),
        Value::Null => Ok(None),
        other => Err(internal(&format!("{column} holds {other:?}, not text"))),
    }
}

fn integer<T: TryFrom<i64>>(value: Value, column: &str) -> Result<T, StoreError> {
    match optional_integer(value, column)? {
        Some(number) => Ok(number),
        None => Err(internal(&format!("{column} is NULL"))),
    }
}

fn optional_integer<T: TryFrom<i64>>(value: Value, column: &str) -> Result<Option<T>, StoreError> {
    match value {
        Value::Integer(number) => T::try_from(number)
            .map(Some)
            .map_err(|_| internal(&format!("{column} {number} is out of range"))),
        Value::Null => Ok(None),
        other => Err(internal(&format!(
            "{column} holds {other:?}, not an integer"
        ))),
    }
}

fn time(value: Value, column: &str) -> Result<DateTime<Utc>, StoreError> {
    from_micros(integer(value, column)?, column)
}

fn optional_time(value: Value, column: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
    optional_integer(value, column)?
        .map(|micros| from_micros(micros, column))
        .transpose()
}
