//! Sending deliveries again and queueing a test event ([`crate::store::RecoveryStore`]), each
//! in the writer's transaction, after checking there that the subscription is the
//! organization's and active.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, named_params};
use uuid::Uuid;

use super::deliveries::delivery_select;
use super::errors::Context;
use super::values::{id_text, micros};
use super::webhooks::{INSERT_DELIVERY, NewEvent, insert_event};
use crate::domain::{Delivery, EventType, OrganizationId};
use crate::store::{Recovery, StoreError};

/// What sends a delivery again: pending, due at `:now`, unleased, and at the start of the
/// retry schedule (the attempts so far are the previous sends').
const SEND_AGAIN: &str = "UPDATE webhook_deliveries SET status = 'pending', \
     next_attempt_at = :now, leased_until = NULL, attempts_before_send = attempt_count";

/// Why nothing may be queued for the organization's `subscription`, if anything.
fn refusal<T>(
    transaction: &Connection,
    organization: OrganizationId,
    subscription: Uuid,
) -> Result<Option<Recovery<T>>, StoreError> {
    let disabled_at: Option<Option<i64>> = transaction
        .query_row(
            "SELECT disabled_at FROM webhook_subscriptions WHERE id = ? AND organization_id = ?",
            [id_text(subscription), id_text(organization.0)],
            |row| row.get(0),
        )
        .optional()
        .context("reading a subscription's state")?;
    Ok(match disabled_at {
        None => Some(Recovery::NoSubscription),
        Some(Some(_)) => Some(Recovery::Disabled),
        Some(None) => None,
    })
}

pub(super) fn resend(
    transaction: &Connection,
    organization: OrganizationId,
    subscription: Uuid,
    delivery: Uuid,
    now: DateTime<Utc>,
) -> Result<Recovery<Delivery>, StoreError> {
    if let Some(refused) = refusal(transaction, organization, subscription)? {
        return Ok(refused);
    }
    // A pending delivery is being sent already: left as it is.
    transaction
        .execute(
            &format!(
                "{SEND_AGAIN} WHERE id = :id AND subscription_id = :subscription \
                 AND status != 'pending'"
            ),
            named_params! {
                ":now": micros(now),
                ":id": id_text(delivery),
                ":subscription": id_text(subscription),
            },
        )
        .context("resending a delivery")?;
    Ok(
        match delivery_select(transaction, organization, subscription, delivery)? {
            Some(delivery) => Recovery::Done(delivery),
            None => Recovery::NoDelivery,
        },
    )
}

pub(super) fn recover(
    transaction: &Connection,
    organization: OrganizationId,
    subscription: Uuid,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
    max_pending: u32,
) -> Result<Recovery<u64>, StoreError> {
    if let Some(refused) = refusal(transaction, organization, subscription)? {
        return Ok(refused);
    }
    let subscription = id_text(subscription);
    let pending: i64 = transaction
        .query_row(
            "SELECT count(*) FROM webhook_deliveries \
             WHERE subscription_id = ? AND status = 'pending'",
            [&subscription],
            |row| row.get(0),
        )
        .context("counting a subscription's pending deliveries")?;
    // Beyond its bound the backlog trim would fail them again unsent.
    let room = (i64::from(max_pending) - pending).max(0);
    let queued = transaction
        .execute(
            &format!(
                "{SEND_AGAIN} WHERE id IN (SELECT id FROM webhook_deliveries \
                 WHERE subscription_id = :subscription AND status = 'failed' \
                 AND created_at >= :since ORDER BY created_at, id LIMIT :room)"
            ),
            named_params! {
                ":now": micros(now),
                ":subscription": subscription,
                ":since": micros(since),
                ":room": room,
            },
        )
        .context("recovering failed deliveries")?;
    Ok(Recovery::Done(queued as u64))
}

/// Stores a test event (`body`, marked with `trace`, the `traceparent` of the request that
/// asked for it) and its one delivery, to `subscription`.
pub(super) fn test_enqueue(
    transaction: &Connection,
    organization: OrganizationId,
    subscription: Uuid,
    event_type: EventType,
    body: String,
    trace: Option<String>,
    now: DateTime<Utc>,
) -> Result<Recovery<Delivery>, StoreError> {
    if let Some(refused) = refusal(transaction, organization, subscription)? {
        return Ok(refused);
    }
    let (event, delivery) = (Uuid::now_v7(), Uuid::now_v7());
    let at = micros(now);
    insert_event(
        transaction,
        NewEvent {
            id: &id_text(event),
            organization: &id_text(organization.0),
            event_type,
            body,
            at,
            // About no lead: its sample lead is no one's.
            lead: None,
            trace,
        },
    )
    .context("storing a test event")?;
    transaction
        .execute(
            INSERT_DELIVERY,
            (
                id_text(delivery),
                id_text(organization.0),
                id_text(subscription),
                id_text(event),
                at,
                at,
            ),
        )
        .context("storing a test event's delivery")?;
    Ok(
        match delivery_select(transaction, organization, subscription, delivery)? {
            Some(delivery) => Recovery::Done(delivery),
            None => Recovery::NoDelivery,
        },
    )
}
