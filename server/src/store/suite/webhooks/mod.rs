//! The suite's tests of webhooks in the store, one module per side: [`subscriptions`], the
//! [`outbox`] a lead write fills and its log, the delivery [`worker`]'s, the [`fairness`] of
//! its claims and the bound on backlogs, the sealed [`secrets`], and a subscription's
//! [`rotation`] and re-enabling, the [`erasure`] of a lead's copies, the [`recovery`] of
//! deliveries (attempts, resend, recover, a test event); and the fixtures they share.

mod erasure;
mod fairness;
mod outbox;
mod recovery;
mod rotation;
mod secrets;
mod subscriptions;
mod worker;

pub(crate) use erasure::*;
pub(crate) use fairness::*;
pub(crate) use outbox::*;
pub(crate) use recovery::*;
pub(crate) use rotation::*;
pub(crate) use secrets::*;
pub(crate) use subscriptions::*;
pub(crate) use worker::*;

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::{T0, at, ensure_acme, lead, list_all};
use crate::domain::{
    Attempt, AttemptOutcome, Delivery, DeliveryStatus, DueDelivery, EventType,
    IN_FLIGHT_PER_ORGANIZATION, IN_FLIGHT_PER_SUBSCRIPTION, Keyset, Lead, LeadChanges, LeadStatus,
    OrganizationId, Subscription, TraceParent, VersionCondition,
};
use crate::store::{
    DISABLED_MESSAGE, IdempotentAnswer, SealedSecret, SecretSelection, SecretSlot, Store,
    StoreError, StoredSecret, backlog_message,
};

/// A second, in microseconds.
const SECOND: i64 = 1_000_000;

/// As many subscriptions as the tests here let an organization have, unless they test the
/// limit.
const MAX: u32 = 25;

/// Far enough ahead that every delivery the tests store is due by then.
fn later() -> DateTime<Utc> {
    at(T0 + 3_600 * SECOND)
}

/// A new active subscription of `organization` to `event`, made at `created_at`.
fn subscription(
    organization: OrganizationId,
    event: EventType,
    created_at: DateTime<Utc>,
) -> Subscription {
    let id = Uuid::now_v7();
    Subscription {
        id,
        organization,
        event_type: event,
        target_url: format!("https://hooks.example.com/{id}"),
        created_at,
        disabled_at: None,
    }
}

/// A new secret as the store is given it: sealed above the store, which keeps the text and
/// the key's id as they are and never unseals them, so any text does here.
pub(crate) fn sealed() -> SealedSecret {
    SealedSecret {
        key_id: "0123456789abcdef".to_owned(),
        sealed: format!("sealed-{}", Uuid::new_v4()),
    }
}

/// Stores `subscription`, with a new secret, under the suite's limit.
async fn insert(store: &dyn Store, subscription: &Subscription) {
    store
        .webhook_subscription_insert(subscription.clone(), sealed(), MAX)
        .await
        .expect("subscribe");
}

/// A new active subscription of `organization` to `event`, stored.
async fn subscribe(
    store: &dyn Store,
    organization: OrganizationId,
    event: EventType,
) -> Subscription {
    let subscription = subscription(organization, event, at(T0));
    insert(store, &subscription).await;
    subscription
}

/// A new lead of `organization`, stored as created at `T0 + seconds`.
async fn create(
    store: &dyn Store,
    organization: OrganizationId,
    email: &str,
    seconds: i64,
) -> Lead {
    store
        .lead_insert(lead(organization, email, at(T0 + seconds * SECOND)), None)
        .await
        .expect("insert")
}

/// Every delivery of `organization` (to `subscription` only, if given), in the list order.
async fn deliveries(
    store: &dyn Store,
    organization: OrganizationId,
    subscription: Option<Uuid>,
) -> Vec<Delivery> {
    store
        .webhook_delivery_list(organization, subscription, None, 1000)
        .await
        .expect("deliveries")
}

/// The subscription as stored, which the test knows exists.
async fn stored(store: &dyn Store, subscription: &Subscription) -> Subscription {
    store
        .webhook_subscription_get(subscription.organization, subscription.id)
        .await
        .expect("get")
        .expect("the subscription exists")
}

/// Claims every due delivery at [`later`], for a minute.
async fn claim_all(store: &dyn Store) -> Vec<DueDelivery<StoredSecret>> {
    claim(store, later(), 1000).await
}

/// Claims at most `limit` deliveries due at `now`, for a minute.
async fn claim(
    store: &dyn Store,
    now: DateTime<Utc>,
    limit: u32,
) -> Vec<DueDelivery<StoredSecret>> {
    store
        .webhook_deliveries_claim(now, now + chrono::Duration::minutes(1), limit)
        .await
        .expect("claim")
}

fn ids_of_due(due: &[DueDelivery<StoredSecret>]) -> Vec<Uuid> {
    due.iter().map(|delivery| delivery.id).collect()
}

fn ids(deliveries: &[Delivery]) -> Vec<Uuid> {
    deliveries.iter().map(|delivery| delivery.id).collect()
}

/// The body of a delivery, as JSON.
fn body(delivery: &DueDelivery<StoredSecret>) -> Value {
    serde_json::from_str(&delivery.body).expect("a JSON body")
}

/// Changes that set the full name.
fn rename(name: &str) -> LeadChanges {
    LeadChanges {
        full_name: Some(name.to_owned()),
        ..LeadChanges::default()
    }
}

/// An attempt of `delivery` at `at` that came to `outcome`: answered `200` if delivered,
/// `500` if not.
fn attempt(delivery: Uuid, at: DateTime<Utc>, outcome: AttemptOutcome) -> Attempt {
    let delivered = outcome == AttemptOutcome::Delivered;
    Attempt {
        delivery,
        at,
        status_code: Some(if delivered { 200 } else { 500 }),
        response_time_ms: 42,
        error: (!delivered).then(|| "the receiver answered 500".to_owned()),
        outcome,
    }
}

async fn record(store: &dyn Store, attempt: Attempt, disable_after: u32) {
    store
        .webhook_delivery_record(attempt, disable_after)
        .await
        .expect("record");
}
