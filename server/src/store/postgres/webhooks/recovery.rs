//! Sending deliveries again and queueing a test event ([`crate::store::RecoveryStore`]), each
//! in the caller's transaction. Each locks the subscription's row first, as an attempt's
//! record and a deletion do, so that they take turns: a subscription disabled or deleted
//! meanwhile is seen as it then is, and nothing is queued for it.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use uuid::Uuid;

use super::super::statements::{column, execute, query_opt};
use super::INSERT_EVENT;
use super::history::delivery_select;
use crate::domain::{Delivery, EventType, OrganizationId, TraceParent};
use crate::store::{Recovery, StoreError};

/// What sends a delivery again (`$1` the time): pending, due now, unleased, and at the start
/// of the retry schedule (the attempts so far are the previous sends').
const SEND_AGAIN: &str = "UPDATE webhook_deliveries SET status = 'pending', \
     next_attempt_at = $1, leased_until = NULL, attempts_before_send = attempt_count";

/// Locks the organization's `subscription`; why nothing may be queued for it, if anything.
async fn refusal<T>(
    client: &impl GenericClient,
    organization: OrganizationId,
    subscription: Uuid,
) -> Result<Option<Recovery<T>>, StoreError> {
    let doing = "locking a subscription to send to";
    let row = query_opt(
        client,
        doing,
        "SELECT disabled_at FROM webhook_subscriptions WHERE id = $1 AND organization_id = $2 \
         FOR NO KEY UPDATE",
        &[&subscription, &organization.0],
    )
    .await?;
    Ok(match row {
        None => Some(Recovery::NoSubscription),
        Some(row) => {
            column::<Option<DateTime<Utc>>>(&row, doing, "disabled_at")?.map(|_| Recovery::Disabled)
        }
    })
}

/// The delivery as the transaction leaves it, or that the subscription has none such.
async fn answer(
    client: &impl GenericClient,
    organization: OrganizationId,
    subscription: Uuid,
    delivery: Uuid,
) -> Result<Recovery<Delivery>, StoreError> {
    Ok(
        match delivery_select(client, organization, subscription, delivery).await? {
            Some(delivery) => Recovery::Done(delivery),
            None => Recovery::NoDelivery,
        },
    )
}

pub(in crate::store::postgres) async fn resend(
    client: &impl GenericClient,
    organization: OrganizationId,
    subscription: Uuid,
    delivery: Uuid,
    now: DateTime<Utc>,
) -> Result<Recovery<Delivery>, StoreError> {
    if let Some(refused) = refusal(client, organization, subscription).await? {
        return Ok(refused);
    }
    // A pending delivery is being sent already: left as it is.
    execute(
        client,
        "resending a delivery",
        &format!("{SEND_AGAIN} WHERE id = $2 AND subscription_id = $3 AND status <> 'pending'"),
        &[&now, &delivery, &subscription],
    )
    .await?;
    answer(client, organization, subscription, delivery).await
}

pub(in crate::store::postgres) async fn recover(
    client: &impl GenericClient,
    organization: OrganizationId,
    subscription: Uuid,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
    max_pending: u32,
) -> Result<Recovery<u64>, StoreError> {
    if let Some(refused) = refusal(client, organization, subscription).await? {
        return Ok(refused);
    }
    // Beyond its bound the backlog trim would fail them again unsent.
    let queued = execute(
        client,
        "recovering failed deliveries",
        &format!(
            "{SEND_AGAIN} WHERE id IN (SELECT id FROM webhook_deliveries \
             WHERE subscription_id = $2 AND status = 'failed' AND created_at >= $3 \
             ORDER BY created_at, id LIMIT GREATEST(0, $4 - (SELECT count(*) \
             FROM webhook_deliveries WHERE subscription_id = $2 AND status = 'pending')))"
        ),
        &[&now, &subscription, &since, &i64::from(max_pending)],
    )
    .await?;
    Ok(Recovery::Done(queued))
}

pub(in crate::store::postgres) async fn test_enqueue(
    client: &impl GenericClient,
    organization: OrganizationId,
    subscription: Uuid,
    event_type: EventType,
    body: &str,
    now: DateTime<Utc>,
) -> Result<Recovery<Delivery>, StoreError> {
    if let Some(refused) = refusal(client, organization, subscription).await? {
        return Ok(refused);
    }
    let delivery = Uuid::now_v7();
    // As a lead write stores its events: here one delivery, to this subscription alone.
    execute(
        client,
        "storing a test event and its delivery",
        INSERT_EVENT,
        &[
            &Uuid::now_v7(),
            &organization.0,
            &event_type.as_str(),
            &body,
            &now,
            &[delivery].as_slice(),
            &[subscription].as_slice(),
            // About no lead: its sample lead is no one's.
            &None::<Uuid>,
            &TraceParent::current().map(|trace| trace.to_string()),
        ],
    )
    .await?;
    answer(client, organization, subscription, delivery).await
}
