//! Reading deliveries (the log, one delivery, the outbox at a glance) and the history of
//! their attempts: each attempt an attempt's record adds ([`keep_attempt`]), bounded to the
//! newest [`ATTEMPTS_KEPT`] of its delivery, and gone with it by the schema's cascade.

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params_from_iter};
use uuid::Uuid;

use super::errors::{Context, internal};
use super::values::{from_micros, id_text, micros, parse_id};
use super::webhooks::{event_type_of, in_range, optional_time, page};
use crate::domain::{
    ATTEMPTS_KEPT, Attempt, AttemptOutcome, AttemptRecord, Delivery, DeliveryStatus, Keyset,
    OrganizationId,
};
use crate::store::{OutboxSummary, StoreError};

/// A delivery's columns; its payload's size is its body's as sent (`body_size`, or the text's
/// length for an event stored before bodies were deflated).
pub(super) const DELIVERY_COLUMNS: &str = "d.id, d.subscription_id, e.event_type, d.status, d.status_code, \
     d.response_time_ms, d.error_message, d.attempt_count, \
     coalesce(e.body_size, length(CAST(e.body AS BLOB))), d.created_at, d.next_attempt_at";

/// A delivery's row (with its event's type and body size) in SQLite's types, checked into a
/// [`Delivery`] apart.
pub(super) struct DeliveryRow {
    id: String,
    subscription_id: String,
    event_type: String,
    status: String,
    status_code: Option<i64>,
    response_time_ms: Option<i64>,
    error_message: Option<String>,
    attempt_count: i64,
    payload_size_bytes: i64,
    created_at: i64,
    next_attempt_at: Option<i64>,
}

impl DeliveryRow {
    /// A row of [`DELIVERY_COLUMNS`].
    pub(super) fn read(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get(0)?,
            subscription_id: row.get(1)?,
            event_type: row.get(2)?,
            status: row.get(3)?,
            status_code: row.get(4)?,
            response_time_ms: row.get(5)?,
            error_message: row.get(6)?,
            attempt_count: row.get(7)?,
            payload_size_bytes: row.get(8)?,
            created_at: row.get(9)?,
            next_attempt_at: row.get(10)?,
        })
    }

    pub(super) fn into_delivery(self) -> Result<Delivery, StoreError> {
        let status = &self.status;
        Ok(Delivery {
            id: parse_id(&self.id, "webhook_deliveries.id")?,
            subscription_id: parse_id(&self.subscription_id, "webhook_deliveries.subscription_id")?,
            event_type: event_type_of(&self.event_type)?,
            status: DeliveryStatus::parse(status)
                .ok_or_else(|| internal(&format!("a delivery has status {status:?}")))?,
            status_code: self
                .status_code
                .map(|code| in_range(code, "status_code"))
                .transpose()?,
            response_time_ms: self
                .response_time_ms
                .map(|ms| in_range(ms, "response_time_ms"))
                .transpose()?,
            error_message: self.error_message,
            attempt_count: in_range(self.attempt_count, "attempt_count")?,
            payload_size_bytes: in_range(self.payload_size_bytes, "payload_size_bytes")?,
            created_at: from_micros(self.created_at, "created_at")?,
            next_attempt_at: optional_time(self.next_attempt_at, "next_attempt_at")?,
        })
    }
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
                .query_map(params_from_iter(parameters), DeliveryRow::read)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .context("listing webhook deliveries")?;
    rows.into_iter().map(DeliveryRow::into_delivery).collect()
}

/// The organization's delivery `id` of `subscription`, in the caller's connection.
pub(super) fn delivery_select(
    connection: &Connection,
    organization: OrganizationId,
    subscription: Uuid,
    id: Uuid,
) -> Result<Option<Delivery>, StoreError> {
    connection
        .prepare_cached(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d \
             JOIN webhook_events e ON e.id = d.event_id \
             WHERE d.id = ? AND d.subscription_id = ? AND d.organization_id = ?"
        ))
        .and_then(|mut statement| {
            statement
                .query_row(
                    [id_text(id), id_text(subscription), id_text(organization.0)],
                    DeliveryRow::read,
                )
                .optional()
        })
        .context("reading a webhook delivery")?
        .map(DeliveryRow::into_delivery)
        .transpose()
}

/// Adds `attempt`, the delivery's `number`th, to its history, and forgets those beyond the
/// newest [`ATTEMPTS_KEPT`], in the caller's transaction.
pub(super) fn keep_attempt(
    transaction: &Connection,
    attempt: &Attempt,
    number: i64,
) -> Result<(), StoreError> {
    let delivery = id_text(attempt.delivery);
    transaction
        .prepare_cached(
            "INSERT INTO webhook_delivery_attempts (id, delivery_id, number, created_at, \
             status_code, response_time_ms, error_message, succeeded) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .and_then(|mut statement| {
            statement.execute((
                id_text(Uuid::now_v7()),
                &delivery,
                number,
                micros(attempt.at),
                attempt.status_code,
                i64::try_from(attempt.response_time_ms).unwrap_or(i64::MAX),
                &attempt.error,
                attempt.outcome == AttemptOutcome::Delivered,
            ))
        })
        .context("keeping a delivery attempt")?;
    if number <= i64::from(ATTEMPTS_KEPT) {
        // Numbers start at 1: none is old enough to forget yet (most deliveries).
        return Ok(());
    }
    transaction
        .prepare_cached(
            "DELETE FROM webhook_delivery_attempts WHERE delivery_id = ? AND number <= ?",
        )
        .and_then(|mut statement| statement.execute((&delivery, number - i64::from(ATTEMPTS_KEPT))))
        .context("forgetting a delivery's oldest attempts")?;
    Ok(())
}

pub(super) fn attempt_list(
    connection: &Connection,
    delivery: Uuid,
    after: Option<Keyset>,
    limit: u32,
) -> Result<Vec<AttemptRecord>, StoreError> {
    let mut sql = String::from(
        "SELECT id, number, created_at, status_code, response_time_ms, error_message, succeeded \
         FROM webhook_delivery_attempts WHERE delivery_id = ?",
    );
    let mut parameters = vec![Value::Text(id_text(delivery))];
    page(&mut sql, &mut parameters, "", after, limit);
    type AttemptRow = (String, i64, i64, Option<i64>, i64, Option<String>, bool);
    let rows = connection
        .prepare_cached(&sql)
        .and_then(|mut statement| {
            statement
                .query_map(params_from_iter(parameters), |row| {
                    Ok((
                        row.get(0)?,
                        row.get(1)?,
                        row.get(2)?,
                        row.get(3)?,
                        row.get(4)?,
                        row.get(5)?,
                        row.get(6)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<AttemptRow>>>()
        })
        .context("listing a delivery's attempts")?;
    rows.into_iter()
        .map(
            |(id, number, at, status_code, response_time_ms, error, succeeded)| {
                Ok(AttemptRecord {
                    id: parse_id(&id, "webhook_delivery_attempts.id")?,
                    number: in_range(number, "number")?,
                    at: from_micros(at, "created_at")?,
                    status_code: status_code
                        .map(|code| in_range(code, "status_code"))
                        .transpose()?,
                    response_time_ms: in_range(response_time_ms, "response_time_ms")?,
                    error,
                    succeeded,
                })
            },
        )
        .collect()
}

/// The outbox at a glance: the pending deliveries are counted on their partial index; their
/// oldest's creation reads each pending row, a scan a scrape can afford.
pub(super) fn summary(connection: &Connection) -> Result<OutboxSummary, StoreError> {
    let (pending, oldest, disabled) = connection
        .prepare_cached(
            "SELECT count(*), min(created_at), \
                 (SELECT count(*) FROM webhook_subscriptions WHERE disabled_at IS NOT NULL) \
             FROM webhook_deliveries WHERE status = 'pending'",
        )
        .and_then(|mut statement| {
            statement.query_row([], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, Option<i64>>(1)?,
                    row.get::<_, i64>(2)?,
                ))
            })
        })
        .context("summing up the outbox")?;
    Ok(OutboxSummary {
        pending: u64::try_from(pending).unwrap_or_default(),
        oldest_pending: oldest
            .map(|micros| from_micros(micros, "created_at"))
            .transpose()?,
        disabled_subscriptions: u64::try_from(disabled).unwrap_or_default(),
    })
}
