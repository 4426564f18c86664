//! The suite's tests of webhooks in the store: subscriptions (round trips, list order, the
//! limit, deletion), the outbox a lead write fills (which events, to whom, never for a write
//! that failed), the deliveries log, and the worker's side: claims under a lease, even
//! concurrent ones, attempts recorded, subscriptions disabled after failures in a row, the
//! next due time, and the sweep of old deliveries.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::{T0, at, ensure_acme, lead};
use crate::domain::{
    Attempt, AttemptOutcome, Delivery, DeliveryStatus, DueDelivery, EventType, Keyset, Lead,
    LeadChanges, LeadStatus, OrganizationId, Subscription, VersionCondition,
};
use crate::store::{
    DISABLED_MESSAGE, IdempotentAnswer, SealedSecret, SecretSelection, Store, StoreError,
    StoredSecret,
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

pub(crate) async fn subscriptions_round_trip_and_are_listed_newest_first(store: Arc<dyn Store>) {
    let organization = ensure_acme(&*store).await;
    // Two made at the same time, told apart by their ids; one disabled already.
    let mut made = vec![
        subscription(organization, EventType::LeadCreated, at(T0)),
        subscription(organization, EventType::LeadUpdated, at(T0 + 2 * SECOND)),
        subscription(organization, EventType::LeadCreated, at(T0 + SECOND)),
        subscription(organization, EventType::LeadStatusChanged, at(T0 + SECOND)),
        Subscription {
            disabled_at: Some(at(T0 + 5 * SECOND)),
            ..subscription(organization, EventType::LeadCreated, at(T0 + 3 * SECOND))
        },
    ];
    for subscription in &made {
        insert(&*store, subscription).await;
        assert_eq!(&stored(&*store, subscription).await, subscription);
    }
    made.sort_by_key(|subscription| std::cmp::Reverse((subscription.created_at, subscription.id)));

    let everything = store
        .webhook_subscription_list(organization, None, None, 100)
        .await
        .expect("list");
    assert_eq!(everything, made);

    // Page by page, two at a time: each page starts strictly after the last one's end.
    let mut walked = Vec::new();
    let mut after: Option<Keyset> = None;
    loop {
        let page = store
            .webhook_subscription_list(organization, None, after, 2)
            .await
            .expect("page");
        assert!(page.len() <= 2);
        let Some(last) = page.last() else {
            break;
        };
        after = Some(last.keyset());
        walked.extend(page);
    }
    assert_eq!(walked, made);

    for event in EventType::ALL {
        let wanted: Vec<Subscription> = made
            .iter()
            .filter(|subscription| subscription.event_type == event)
            .cloned()
            .collect();
        let listed = store
            .webhook_subscription_list(organization, Some(event), None, 100)
            .await
            .expect("list by event");
        assert_eq!(listed, wanted, "{event:?}");
        // The filter and a keyset together: what follows the first.
        let rest = store
            .webhook_subscription_list(organization, Some(event), Some(wanted[0].keyset()), 100)
            .await
            .expect("page by event");
        assert_eq!(rest, wanted[1..], "{event:?}");
    }
}

pub(crate) async fn another_organizations_subscriptions_and_deliveries_are_invisible(
    store: Arc<dyn Store>,
) {
    let acme = ensure_acme(&*store).await;
    let globex = store.organization_ensure("globex").await.expect("globex");
    let ours = subscribe(&*store, acme, EventType::LeadCreated).await;
    let theirs = subscribe(&*store, globex, EventType::LeadCreated).await;
    create(&*store, globex, "theirs@example.com", 1).await;

    // Their lead is delivered to their subscription only.
    let their_deliveries = deliveries(&*store, globex, None).await;
    assert_eq!(their_deliveries.len(), 1);
    assert_eq!(their_deliveries[0].subscription_id, theirs.id);
    assert_eq!(deliveries(&*store, acme, None).await, []);
    assert_eq!(deliveries(&*store, acme, Some(theirs.id)).await, []);

    assert_eq!(
        store
            .webhook_subscription_get(acme, theirs.id)
            .await
            .expect("get"),
        None
    );
    assert_eq!(
        store
            .webhook_subscription_list(acme, None, None, 100)
            .await
            .expect("list"),
        std::slice::from_ref(&ours)
    );
    assert_eq!(
        store
            .webhook_subscription_list(acme, Some(EventType::LeadCreated), None, 100)
            .await
            .expect("list by event"),
        [ours]
    );
    assert!(
        !store
            .webhook_subscription_delete(acme, theirs.id)
            .await
            .expect("delete")
    );
    // Nothing of theirs was touched.
    assert_eq!(stored(&*store, &theirs).await, theirs);
    assert_eq!(deliveries(&*store, globex, None).await, their_deliveries);
}

pub(crate) async fn an_organization_has_at_most_the_limit_of_subscriptions(store: Arc<dyn Store>) {
    let acme = ensure_acme(&*store).await;
    let globex = store.organization_ensure("globex").await.expect("globex");
    let max = 3;
    let mut made = Vec::new();
    for _ in 0..max {
        let subscription = subscription(acme, EventType::LeadCreated, at(T0));
        store
            .webhook_subscription_insert(subscription.clone(), sealed(), max)
            .await
            .expect("under the limit");
        made.push(subscription);
    }
    let refused = subscription(acme, EventType::LeadUpdated, at(T0));
    let outcome = store
        .webhook_subscription_insert(refused.clone(), sealed(), max)
        .await;
    assert!(
        matches!(outcome, Err(StoreError::SubscriptionLimitReached(3))),
        "{outcome:?}"
    );
    assert_eq!(
        store
            .webhook_subscription_get(acme, refused.id)
            .await
            .expect("get"),
        None
    );
    // Another organization counts its own.
    store
        .webhook_subscription_insert(
            subscription(globex, EventType::LeadCreated, at(T0)),
            sealed(),
            max,
        )
        .await
        .expect("another organization's first");
    // A deletion makes room again.
    assert!(
        store
            .webhook_subscription_delete(acme, made[0].id)
            .await
            .expect("delete")
    );
    store
        .webhook_subscription_insert(refused, sealed(), max)
        .await
        .expect("room again");
}

pub(crate) async fn deleting_a_subscription_deletes_its_deliveries(store: Arc<dyn Store>) {
    let organization = ensure_acme(&*store).await;
    let deleted = subscribe(&*store, organization, EventType::LeadCreated).await;
    let kept = subscribe(&*store, organization, EventType::LeadCreated).await;
    create(&*store, organization, "one@example.com", 1).await;
    assert_eq!(deliveries(&*store, organization, None).await.len(), 2);

    assert!(
        store
            .webhook_subscription_delete(organization, deleted.id)
            .await
            .expect("delete")
    );
    assert_eq!(
        store
            .webhook_subscription_get(organization, deleted.id)
            .await
            .expect("get"),
        None
    );
    assert_eq!(
        deliveries(&*store, organization, Some(deleted.id)).await,
        []
    );
    let left = deliveries(&*store, organization, None).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].subscription_id, kept.id);
    // Nothing of it is claimed either.
    let due = claim_all(&*store).await;
    assert_eq!(ids_of_due(&due), ids(&left));

    assert!(
        !store
            .webhook_subscription_delete(organization, deleted.id)
            .await
            .expect("delete again")
    );
}

pub(crate) async fn a_created_lead_is_delivered_once_to_each_subscriber(store: Arc<dyn Store>) {
    let organization = ensure_acme(&*store).await;
    let created = subscription(organization, EventType::LeadCreated, at(T0));
    let secret = sealed();
    store
        .webhook_subscription_insert(created.clone(), secret.clone(), MAX)
        .await
        .expect("subscribe");
    // Subscribed to other events only: not sent a creation.
    subscribe(&*store, organization, EventType::LeadUpdated).await;
    subscribe(&*store, organization, EventType::LeadStatusChanged).await;
    let lead = create(&*store, organization, "new@example.com", 7).await;

    let log = deliveries(&*store, organization, None).await;
    let [delivery] = &log[..] else {
        panic!("exactly one delivery: {log:?}");
    };
    assert_eq!(delivery.subscription_id, created.id);
    assert_eq!(delivery.event_type, EventType::LeadCreated);
    assert_eq!(delivery.status, DeliveryStatus::Pending);
    assert_eq!(delivery.attempt_count, 0);
    assert_eq!(delivery.status_code, None);
    assert_eq!(delivery.response_time_ms, None);
    assert_eq!(delivery.error_message, None);
    assert_eq!(delivery.created_at, lead.updated_at);
    assert_eq!(delivery.next_attempt_at, Some(lead.updated_at));

    // Not due before the write, due from its time on.
    assert_eq!(claim(&*store, at(T0 + 6 * SECOND), 10).await.len(), 0);
    let claimed = claim(&*store, lead.updated_at, 10).await;
    let [due] = &claimed[..] else {
        panic!("the delivery is due: {claimed:?}");
    };
    assert_eq!(due.id, delivery.id);
    assert_eq!(due.subscription_id, created.id);
    assert_eq!(due.target_url, created.target_url);
    assert_eq!(due.secret, StoredSecret::Sealed(secret));
    assert_eq!(due.attempt_count, 0);
    assert_eq!(
        delivery.payload_size_bytes,
        u64::try_from(due.body.len()).expect("a small body")
    );
    let body = body(due);
    assert_eq!(body["event"], "lead.created");
    assert_eq!(body["data"]["id"], lead.id.to_string());
    assert_eq!(body["data"]["email"], "new@example.com");
    assert_eq!(body["organization_id"], organization.0.to_string());
}

pub(crate) async fn no_delivery_is_stored_without_an_active_subscriber(store: Arc<dyn Store>) {
    let organization = ensure_acme(&*store).await;
    let globex = store.organization_ensure("globex").await.expect("globex");
    create(&*store, organization, "nobody@example.com", 1).await;
    assert_eq!(deliveries(&*store, organization, None).await, []);

    // Disabled, subscribed to another event, or another organization's: none is sent it.
    let disabled = Subscription {
        disabled_at: Some(at(T0)),
        ..subscription(organization, EventType::LeadCreated, at(T0))
    };
    insert(&*store, &disabled).await;
    subscribe(&*store, organization, EventType::LeadUpdated).await;
    subscribe(&*store, globex, EventType::LeadCreated).await;
    create(&*store, organization, "still-nobody@example.com", 2).await;
    assert_eq!(deliveries(&*store, organization, None).await, []);
    assert_eq!(deliveries(&*store, globex, None).await, []);
    assert_eq!(claim_all(&*store).await.len(), 0);
    assert_eq!(store.webhook_next_due().await.expect("next due"), None);
}

pub(crate) async fn a_write_that_fails_stores_no_delivery(store: Arc<dyn Store>) {
    let organization = ensure_acme(&*store).await;
    for event in EventType::ALL {
        subscribe(&*store, organization, event).await;
    }
    let first = create(&*store, organization, "first@example.com", 1).await;
    let second = create(&*store, organization, "second@example.com", 2).await;
    let before = deliveries(&*store, organization, None).await;
    assert_eq!(before.len(), 2);

    // An insert whose email is taken, and one under a taken idempotency key.
    let taken = store
        .lead_insert(
            lead(organization, "FIRST@example.com", at(T0 + 3 * SECOND)),
            None,
        )
        .await;
    assert!(matches!(taken, Err(StoreError::EmailTaken)), "{taken:?}");
    let answer = |created_at| IdempotentAnswer {
        organization,
        key: "retry-1".to_owned(),
        fingerprint: [7; 32],
        status: 201,
        body: b"{}".to_vec(),
        created_at,
        expires_at: later(),
    };
    store
        .lead_insert(
            lead(organization, "third@example.com", at(T0 + 4 * SECOND)),
            Some(answer(at(T0 + 4 * SECOND))),
        )
        .await
        .expect("an insert with an answer");
    let after_third = deliveries(&*store, organization, None).await;
    assert_eq!(after_third.len(), 3);
    let key_taken = store
        .lead_insert(
            lead(organization, "fourth@example.com", at(T0 + 5 * SECOND)),
            Some(answer(at(T0 + 5 * SECOND))),
        )
        .await;
    assert!(
        matches!(key_taken, Err(StoreError::IdempotencyKeyTaken)),
        "{key_taken:?}"
    );

    // Updates refused by their version condition, to a taken email, or of no lead.
    let status = LeadChanges {
        status: Some(LeadStatus::Contacted),
        ..LeadChanges::default()
    };
    let mismatch = store
        .lead_update(
            organization,
            first.id,
            status.clone(),
            Some(VersionCondition::OneOf(vec![first.version + 1])),
            at(T0 + 6 * SECOND),
        )
        .await;
    assert!(
        matches!(mismatch, Err(StoreError::VersionMismatch)),
        "{mismatch:?}"
    );
    let to_taken = store
        .lead_update(
            organization,
            first.id,
            LeadChanges {
                email: Some(second.email.clone()),
                ..status.clone()
            },
            None,
            at(T0 + 7 * SECOND),
        )
        .await;
    assert!(
        matches!(to_taken, Err(StoreError::EmailTaken)),
        "{to_taken:?}"
    );
    let missing = store
        .lead_update(
            organization,
            Uuid::now_v7(),
            status,
            None,
            at(T0 + 8 * SECOND),
        )
        .await;
    assert!(matches!(missing, Ok(None)), "{missing:?}");

    assert_eq!(deliveries(&*store, organization, None).await, after_third);
}

pub(crate) async fn an_update_is_delivered_to_the_subscribers_of_its_events(store: Arc<dyn Store>) {
    let organization = ensure_acme(&*store).await;
    let updated = subscribe(&*store, organization, EventType::LeadUpdated).await;
    let status_changed = subscribe(&*store, organization, EventType::LeadStatusChanged).await;
    let created = subscribe(&*store, organization, EventType::LeadCreated).await;
    let lead = create(&*store, organization, "moving@example.com", 1).await;
    assert_eq!(claim_all(&*store).await.len(), 1);
    let sent_to = |due: &[DueDelivery<StoredSecret>]| -> Vec<(Uuid, String)> {
        let mut sent: Vec<(Uuid, String)> = due
            .iter()
            .map(|delivery| {
                let event = body(delivery)["event"].as_str().unwrap_or("").to_owned();
                (delivery.subscription_id, event)
            })
            .collect();
        sent.sort();
        sent
    };
    let pair = |subscription: &Subscription| {
        (subscription.id, subscription.event_type.as_str().to_owned())
    };

    // A change of status: `lead.updated` and `lead.status_changed`, each to its subscriber,
    // about the lead as it is after the change.
    let now = at(T0 + 10 * SECOND);
    let moved = store
        .lead_update(
            organization,
            lead.id,
            LeadChanges {
                status: Some(LeadStatus::Qualified),
                ..LeadChanges::default()
            },
            None,
            now,
        )
        .await
        .expect("update")
        .expect("the lead exists");
    let due = claim(&*store, later(), 10).await;
    let mut wanted = vec![pair(&updated), pair(&status_changed)];
    wanted.sort();
    assert_eq!(sent_to(&due), wanted);
    for delivery in &due {
        let body = body(delivery);
        assert_eq!(body["data"]["status"], "qualified");
        assert_eq!(body["data"]["id"], moved.id.to_string());
    }
    let log = deliveries(&*store, organization, None).await;
    assert_eq!(log.len(), 3);
    for delivery in &log[..2] {
        assert_eq!(delivery.created_at, now);
        assert_eq!(delivery.next_attempt_at, Some(now));
    }

    // A change of something else, and a status set to the one it has: `lead.updated` only.
    for changes in [
        rename("Someone Else"),
        LeadChanges {
            status: Some(LeadStatus::Qualified),
            ..LeadChanges::default()
        },
    ] {
        store
            .lead_update(organization, lead.id, changes, None, later())
            .await
            .expect("update")
            .expect("the lead exists");
        assert_eq!(sent_to(&claim_all(&*store).await), [pair(&updated)]);
    }

    // No change at all: nothing.
    store
        .lead_update(organization, lead.id, LeadChanges::default(), None, later())
        .await
        .expect("empty update")
        .expect("the lead exists");
    assert_eq!(deliveries(&*store, organization, None).await.len(), 5);
    assert_eq!(
        deliveries(&*store, organization, Some(created.id))
            .await
            .len(),
        1
    );
}

pub(crate) async fn the_deliveries_log_is_newest_first_and_filtered_by_subscription(
    store: Arc<dyn Store>,
) {
    let organization = ensure_acme(&*store).await;
    let one = subscribe(&*store, organization, EventType::LeadCreated).await;
    let two = subscribe(&*store, organization, EventType::LeadCreated).await;
    // Out of order in time; each lead is delivered to both at once, so ties are broken by id.
    for (n, seconds) in [3, 1, 2].into_iter().enumerate() {
        create(
            &*store,
            organization,
            &format!("lead{n}@example.com"),
            seconds,
        )
        .await;
    }
    let log = deliveries(&*store, organization, None).await;
    assert_eq!(log.len(), 6);
    let mut sorted = log.clone();
    sorted.sort_by_key(|delivery| std::cmp::Reverse((delivery.created_at, delivery.id)));
    assert_eq!(log, sorted);
    assert_eq!(log[0].created_at, at(T0 + 3 * SECOND));
    assert_eq!(log[5].created_at, at(T0 + SECOND));

    let mut walked = Vec::new();
    let mut after: Option<Keyset> = None;
    loop {
        let page = store
            .webhook_delivery_list(organization, None, after, 4)
            .await
            .expect("page");
        let Some(last) = page.last() else {
            break;
        };
        after = Some(last.keyset());
        walked.extend(page);
    }
    assert_eq!(walked, log);

    for subscription in [&one, &two] {
        let wanted: Vec<Delivery> = log
            .iter()
            .filter(|delivery| delivery.subscription_id == subscription.id)
            .cloned()
            .collect();
        assert_eq!(wanted.len(), 3);
        assert_eq!(
            deliveries(&*store, organization, Some(subscription.id)).await,
            wanted
        );
        let rest = store
            .webhook_delivery_list(
                organization,
                Some(subscription.id),
                Some(wanted[0].keyset()),
                100,
            )
            .await
            .expect("page by subscription");
        assert_eq!(rest, wanted[1..]);
    }
    assert_eq!(
        deliveries(&*store, organization, Some(Uuid::now_v7())).await,
        []
    );
}

pub(crate) async fn a_claimed_delivery_is_leased_until_its_lease_runs_out(store: Arc<dyn Store>) {
    let organization = ensure_acme(&*store).await;
    subscribe(&*store, organization, EventType::LeadCreated).await;
    let lead = create(&*store, organization, "leased@example.com", 1).await;
    let now = lead.updated_at;
    let lease_until = now + chrono::Duration::seconds(30);

    let claimed = store
        .webhook_deliveries_claim(now, lease_until, 10)
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 1);
    // Leased: not claimed again at the same time, nor just before the lease ends.
    assert_eq!(claim(&*store, now, 10).await.len(), 0);
    let almost = lease_until - chrono::Duration::microseconds(1);
    assert_eq!(claim(&*store, almost, 10).await.len(), 0);
    assert_eq!(
        store.webhook_next_due().await.expect("next due"),
        Some(lease_until)
    );
    // Once it has run out, it is claimed again (its sender died, say).
    assert_eq!(
        ids_of_due(&claim(&*store, lease_until, 10).await),
        ids_of_due(&claimed)
    );

    // Released, it is claimable at once.
    store
        .webhook_leases_release()
        .await
        .expect("release leases");
    assert_eq!(
        ids_of_due(&claim(&*store, lease_until, 10).await),
        ids_of_due(&claimed)
    );
}

pub(crate) async fn a_claim_takes_due_deliveries_oldest_first_up_to_its_limit(
    store: Arc<dyn Store>,
) {
    let organization = ensure_acme(&*store).await;
    subscribe(&*store, organization, EventType::LeadCreated).await;
    let mut by_due = Vec::new();
    for (n, seconds) in [3, 1, 2].into_iter().enumerate() {
        let lead = create(
            &*store,
            organization,
            &format!("due{n}@example.com"),
            seconds,
        )
        .await;
        by_due.push((seconds, lead.id));
    }
    by_due.sort();
    let log = deliveries(&*store, organization, None).await;
    // The delivery of each lead, by its due time.
    let delivery_due_at = |seconds: i64| {
        log.iter()
            .find(|delivery| delivery.next_attempt_at == Some(at(T0 + seconds * SECOND)))
            .map(|delivery| delivery.id)
            .expect("a delivery due then")
    };

    assert_eq!(claim(&*store, at(T0), 10).await.len(), 0, "none due yet");
    assert_eq!(
        ids_of_due(&claim(&*store, at(T0 + 2 * SECOND), 10).await),
        [delivery_due_at(1), delivery_due_at(2)]
    );
    // Of those due now, not leased, the oldest first, as many as asked for.
    let later_one = at(T0 + 5 * SECOND);
    store.webhook_leases_release().await.expect("release");
    assert_eq!(
        ids_of_due(&claim(&*store, later_one, 2).await),
        [delivery_due_at(1), delivery_due_at(2)]
    );
    assert_eq!(
        ids_of_due(&claim(&*store, later_one, 2).await),
        [delivery_due_at(3)]
    );
    assert_eq!(claim(&*store, later_one, 2).await.len(), 0);
}

pub(crate) async fn an_attempt_moves_its_delivery_as_its_outcome_says(store: Arc<dyn Store>) {
    let organization = ensure_acme(&*store).await;
    subscribe(&*store, organization, EventType::LeadCreated).await;
    for n in 0..3 {
        create(&*store, organization, &format!("try{n}@example.com"), 1).await;
    }
    let now = at(T0 + 2 * SECOND);
    let claimed = store
        .webhook_deliveries_claim(now, later(), 10)
        .await
        .expect("claim");
    let [delivered, retried, given_up] = &ids_of_due(&claimed)[..] else {
        panic!("three deliveries due: {claimed:?}");
    };
    let find = async |id: &Uuid| {
        deliveries(&*store, organization, None)
            .await
            .into_iter()
            .find(|delivery| delivery.id == *id)
            .expect("the delivery is listed")
    };

    record(
        &*store,
        attempt(*delivered, now, AttemptOutcome::Delivered),
        10,
    )
    .await;
    let stored = find(delivered).await;
    assert_eq!(stored.status, DeliveryStatus::Success);
    assert_eq!(stored.attempt_count, 1);
    assert_eq!(stored.status_code, Some(200));
    assert_eq!(stored.response_time_ms, Some(42));
    assert_eq!(stored.error_message, None);
    assert_eq!(stored.next_attempt_at, None);

    let retry_at = at(T0 + 7 * SECOND);
    record(
        &*store,
        attempt(*retried, now, AttemptOutcome::RetryAt(retry_at)),
        10,
    )
    .await;
    let stored = find(retried).await;
    assert_eq!(stored.status, DeliveryStatus::Pending);
    assert_eq!(stored.attempt_count, 1);
    assert_eq!(stored.status_code, Some(500));
    assert_eq!(
        stored.error_message.as_deref(),
        Some("the receiver answered 500")
    );
    assert_eq!(stored.next_attempt_at, Some(retry_at));
    // Its lease ended with the attempt: due again then, though the claim leased it longer.
    assert_eq!(
        claim(&*store, retry_at - chrono::Duration::microseconds(1), 10)
            .await
            .len(),
        0
    );
    let again = claim(&*store, retry_at, 10).await;
    assert_eq!(ids_of_due(&again), [*retried]);
    assert_eq!(again[0].attempt_count, 1);

    record(&*store, attempt(*given_up, now, AttemptOutcome::GaveUp), 10).await;
    let stored = find(given_up).await;
    assert_eq!(stored.status, DeliveryStatus::Failed);
    assert_eq!(stored.attempt_count, 1);
    assert_eq!(stored.next_attempt_at, None);

    // A delivery no longer pending is left as it is.
    record(
        &*store,
        attempt(*delivered, now, AttemptOutcome::GaveUp),
        10,
    )
    .await;
    record(
        &*store,
        attempt(*given_up, now, AttemptOutcome::Delivered),
        10,
    )
    .await;
    assert_eq!(find(delivered).await.status, DeliveryStatus::Success);
    assert_eq!(find(delivered).await.attempt_count, 1);
    assert_eq!(find(given_up).await.status, DeliveryStatus::Failed);
    // And an unknown one is no error.
    record(
        &*store,
        attempt(Uuid::now_v7(), now, AttemptOutcome::Delivered),
        10,
    )
    .await;
}

pub(crate) async fn failed_deliveries_in_a_row_disable_their_subscription(store: Arc<dyn Store>) {
    let organization = ensure_acme(&*store).await;
    let failing = subscribe(&*store, organization, EventType::LeadCreated).await;
    let other = subscribe(&*store, organization, EventType::LeadCreated).await;
    for n in 0..7 {
        create(&*store, organization, &format!("fail{n}@example.com"), n).await;
    }
    let ours = deliveries(&*store, organization, Some(failing.id)).await;
    // Oldest first.
    let ours: Vec<Uuid> = ids(&ours).into_iter().rev().collect();
    let disable_after = 3;
    let outcomes = [
        AttemptOutcome::GaveUp,
        AttemptOutcome::GaveUp,
        // A success in between starts the count again.
        AttemptOutcome::Delivered,
        AttemptOutcome::GaveUp,
        AttemptOutcome::GaveUp,
    ];
    for (n, outcome) in outcomes.into_iter().enumerate() {
        let seconds = 100 + i64::try_from(n).expect("few");
        record(
            &*store,
            attempt(ours[n], at(T0 + seconds * SECOND), outcome),
            disable_after,
        )
        .await;
        assert_eq!(stored(&*store, &failing).await.disabled_at, None, "{n}");
    }
    // The third failure in a row.
    let disabled_at = at(T0 + 200 * SECOND);
    record(
        &*store,
        attempt(ours[5], disabled_at, AttemptOutcome::GaveUp),
        disable_after,
    )
    .await;
    assert_eq!(
        stored(&*store, &failing).await.disabled_at,
        Some(disabled_at)
    );
    assert_eq!(stored(&*store, &other).await.disabled_at, None);

    // Its last pending delivery failed without an attempt; the other subscription's wait.
    let log = deliveries(&*store, organization, None).await;
    let last = log
        .iter()
        .find(|delivery| delivery.id == ours[6])
        .expect("listed");
    assert_eq!(last.status, DeliveryStatus::Failed);
    assert_eq!(last.attempt_count, 0);
    assert_eq!(last.next_attempt_at, None);
    assert_eq!(last.error_message.as_deref(), Some(DISABLED_MESSAGE));
    let others: Vec<&Delivery> = log
        .iter()
        .filter(|delivery| delivery.subscription_id == other.id)
        .collect();
    assert_eq!(others.len(), 7);
    assert!(
        others
            .iter()
            .all(|delivery| delivery.status == DeliveryStatus::Pending)
    );
    let due = claim_all(&*store).await;
    assert_eq!(due.len(), 7);
    assert!(
        due.iter()
            .all(|delivery| delivery.subscription_id == other.id)
    );

    // Nothing more is stored for it.
    create(&*store, organization, "after@example.com", 300).await;
    assert_eq!(
        deliveries(&*store, organization, Some(failing.id))
            .await
            .len(),
        7
    );
    assert_eq!(
        deliveries(&*store, organization, Some(other.id))
            .await
            .len(),
        8
    );
}

pub(crate) async fn the_next_due_time_is_the_earliest_unleased_one(store: Arc<dyn Store>) {
    let organization = ensure_acme(&*store).await;
    assert_eq!(store.webhook_next_due().await.expect("next due"), None);
    subscribe(&*store, organization, EventType::LeadCreated).await;
    create(&*store, organization, "soon@example.com", 1).await;
    create(&*store, organization, "later@example.com", 2).await;
    let next_due = async || store.webhook_next_due().await.expect("next due");
    assert_eq!(next_due().await, Some(at(T0 + SECOND)));

    // The first leased for ten seconds: the second is due before its lease ends.
    let lease_until = at(T0 + 10 * SECOND);
    let first = store
        .webhook_deliveries_claim(at(T0 + SECOND), lease_until, 1)
        .await
        .expect("claim");
    assert_eq!(first.len(), 1);
    assert_eq!(next_due().await, Some(at(T0 + 2 * SECOND)));

    let second = claim(&*store, at(T0 + 2 * SECOND), 1).await;
    assert_eq!(second.len(), 1);
    record(
        &*store,
        attempt(second[0].id, at(T0 + 3 * SECOND), AttemptOutcome::Delivered),
        10,
    )
    .await;
    assert_eq!(next_due().await, Some(lease_until));

    record(
        &*store,
        attempt(first[0].id, at(T0 + 4 * SECOND), AttemptOutcome::GaveUp),
        10,
    )
    .await;
    assert_eq!(next_due().await, None);
}

pub(crate) async fn a_sweep_deletes_only_old_finished_deliveries(store: Arc<dyn Store>) {
    let acme = ensure_acme(&*store).await;
    let globex = store.organization_ensure("globex").await.expect("globex");
    for organization in [acme, globex] {
        subscribe(&*store, organization, EventType::LeadCreated).await;
    }
    // Old: delivered, failed (in both organizations), and still pending; new: delivered.
    let old = [
        create(&*store, acme, "delivered@example.com", 1).await,
        create(&*store, acme, "failed@example.com", 2).await,
        create(&*store, globex, "theirs@example.com", 3).await,
        create(&*store, acme, "pending@example.com", 4).await,
    ];
    let new = create(&*store, acme, "new@example.com", 100).await;
    let due = claim_all(&*store).await;
    let delivery_of = |lead: &Lead| {
        due.iter()
            .find(|delivery| body(delivery)["data"]["id"] == lead.id.to_string())
            .map(|delivery| delivery.id)
            .expect("the lead's delivery")
    };
    let finished = [
        (delivery_of(&old[0]), AttemptOutcome::Delivered),
        (delivery_of(&old[1]), AttemptOutcome::GaveUp),
        (delivery_of(&old[2]), AttemptOutcome::GaveUp),
        (delivery_of(&new), AttemptOutcome::Delivered),
    ];
    for (delivery, outcome) in finished {
        record(&*store, attempt(delivery, later(), outcome), 10).await;
    }

    let before = at(T0 + 50 * SECOND);
    assert_eq!(
        store.webhook_deliveries_sweep(before).await.expect("sweep"),
        3
    );
    assert_eq!(
        ids(&deliveries(&*store, acme, None).await),
        [delivery_of(&new), delivery_of(&old[3])]
    );
    assert_eq!(deliveries(&*store, globex, None).await, []);
    assert_eq!(
        store
            .webhook_deliveries_sweep(before)
            .await
            .expect("sweep again"),
        0
    );
    // The pending one is still sent, its body intact.
    store.webhook_leases_release().await.expect("release");
    let left = claim_all(&*store).await;
    let [left] = &left[..] else {
        panic!("one delivery left to send: {left:?}");
    };
    assert_eq!(body(left)["data"]["id"], old[3].id.to_string());
}

pub(crate) async fn concurrent_claims_never_hand_out_a_delivery_twice(store: Arc<dyn Store>) {
    let organization = ensure_acme(&*store).await;
    for _ in 0..4 {
        subscribe(&*store, organization, EventType::LeadCreated).await;
    }
    for n in 0..15 {
        create(&*store, organization, &format!("busy{n}@example.com"), n).await;
    }
    let stored = ids(&deliveries(&*store, organization, None).await);
    assert_eq!(stored.len(), 60);
    let barrier = Arc::new(tokio::sync::Barrier::new(8));
    let claimers: Vec<_> = (0..8)
        .map(|_| {
            let (store, barrier) = (Arc::clone(&store), Arc::clone(&barrier));
            tokio::spawn(async move {
                barrier.wait().await;
                let mut claimed = Vec::new();
                loop {
                    let due = claim(&*store, later(), 3).await;
                    if due.is_empty() {
                        return claimed;
                    }
                    claimed.extend(ids_of_due(&due));
                }
            })
        })
        .collect();
    let mut every = Vec::new();
    for claimer in claimers {
        every.extend(claimer.await.expect("no panic"));
    }
    let distinct: HashSet<Uuid> = every.iter().copied().collect();
    assert_eq!(distinct.len(), every.len(), "a delivery was claimed twice");
    assert_eq!(distinct, stored.into_iter().collect::<HashSet<_>>());
}

pub(crate) async fn concurrent_subscriptions_never_exceed_the_limit(store: Arc<dyn Store>) {
    let organization = ensure_acme(&*store).await;
    let max = 3;
    let barrier = Arc::new(tokio::sync::Barrier::new(8));
    let inserts: Vec<_> = (0..8)
        .map(|_| {
            let (store, barrier) = (Arc::clone(&store), Arc::clone(&barrier));
            tokio::spawn(async move {
                barrier.wait().await;
                store
                    .webhook_subscription_insert(
                        subscription(organization, EventType::LeadCreated, at(T0)),
                        sealed(),
                        max,
                    )
                    .await
            })
        })
        .collect();
    let mut stored = 0;
    for insert in inserts {
        match insert.await.expect("no panic") {
            Ok(()) => stored += 1,
            Err(StoreError::SubscriptionLimitReached(3)) => {}
            Err(other) => panic!("{other:?}"),
        }
    }
    assert_eq!(stored, max);
    assert_eq!(
        store
            .webhook_subscription_list(organization, None, None, 100)
            .await
            .expect("list")
            .len(),
        3
    );
}

pub(crate) async fn a_subscription_deleted_while_leads_change_leaves_no_delivery(
    store: Arc<dyn Store>,
) {
    let organization = ensure_acme(&*store).await;
    let deleted = subscribe(&*store, organization, EventType::LeadUpdated).await;
    let lead = create(&*store, organization, "busy@example.com", 1).await;
    let barrier = Arc::new(tokio::sync::Barrier::new(9));
    let updates: Vec<_> = (0..8)
        .map(|n| {
            let (store, barrier) = (Arc::clone(&store), Arc::clone(&barrier));
            tokio::spawn(async move {
                barrier.wait().await;
                for round in 0..5 {
                    store
                        .lead_update(
                            organization,
                            lead.id,
                            rename(&format!("Writer {n}, round {round}")),
                            None,
                            at(T0 + 2 * SECOND),
                        )
                        .await
                        .expect("an update, whatever the deletion")
                        .expect("the lead exists");
                }
            })
        })
        .collect();
    barrier.wait().await;
    assert!(
        store
            .webhook_subscription_delete(organization, deleted.id)
            .await
            .expect("a deletion, whatever the updates")
    );
    for update in updates {
        update.await.expect("no panic");
    }
    assert_eq!(deliveries(&*store, organization, None).await, []);
    assert_eq!(claim_all(&*store).await.len(), 0);
}

/// The secrets the server's start and rotations see: one sample of each key, those not sealed
/// by a key listed in id order and by page, and a replacement only of a secret unchanged.
pub(crate) async fn secrets_are_sampled_listed_by_key_and_replaced_only_if_unchanged(
    store: Arc<dyn Store>,
) {
    let organization = ensure_acme(&*store).await;
    let by_key = |key_id: &str| SealedSecret {
        key_id: key_id.to_owned(),
        sealed: format!("sealed-{}", Uuid::new_v4()),
    };
    let mut made = Vec::new();
    for key_id in ["a", "b", "a", "b", "a"] {
        let subscription = subscription(organization, EventType::LeadCreated, at(T0));
        let secret = by_key(key_id);
        store
            .webhook_subscription_insert(subscription.clone(), secret.clone(), MAX)
            .await
            .expect("subscribe");
        made.push((subscription.id, secret));
    }
    made.sort_by_key(|(id, _)| *id);
    let of_key = |key_id: &str| -> Vec<(Uuid, StoredSecret)> {
        made.iter()
            .filter(|(_, secret)| secret.key_id == key_id)
            .map(|(id, secret)| (*id, StoredSecret::Sealed(secret.clone())))
            .collect()
    };

    let mut samples = store.webhook_secret_samples().await.expect("samples");
    samples.sort_by(|a, b| a.1.key_id.cmp(&b.1.key_id));
    assert_eq!(
        samples,
        [of_key("a")[0].clone(), of_key("b")[0].clone()]
            .map(|(id, secret)| match secret {
                StoredSecret::Sealed(sealed) => (id, sealed),
                StoredSecret::Plain(_) => unreachable!("made sealed"),
            })
            .to_vec()
    );
    let select = |selection, after, limit| {
        let store = Arc::clone(&store);
        async move {
            store
                .webhook_secrets(selection, after, limit)
                .await
                .expect("secrets")
        }
    };
    assert_eq!(select(SecretSelection::Plain, None, 10).await, []);
    let not_b = || SecretSelection::NotSealedBy("b".to_owned());
    let first = select(not_b(), None, 2).await;
    assert_eq!(first, of_key("a")[..2]);
    let rest = select(not_b(), Some(first[1].0), 2).await;
    assert_eq!(rest, of_key("a")[2..]);

    // Replaced only from what it is: a stale `old` (another process resealed it) changes
    // nothing, and neither does an unknown subscription.
    let (id, current) = of_key("a")[0].clone();
    let resealed = by_key("b");
    let stale = StoredSecret::Sealed(by_key("a"));
    let replace = |id, old, new| {
        let store = Arc::clone(&store);
        async move {
            store
                .webhook_secret_replace(id, old, new)
                .await
                .expect("replace")
        }
    };
    assert!(!replace(id, stale, resealed.clone()).await);
    assert!(!replace(Uuid::now_v7(), current.clone(), resealed.clone()).await);
    assert_eq!(select(not_b(), None, 10).await, of_key("a"));
    assert!(replace(id, current.clone(), resealed.clone()).await);
    assert!(!replace(id, current, by_key("b")).await);
    assert_eq!(select(not_b(), None, 10).await, of_key("a")[1..]);

    // A claim carries the secret as it now is.
    create(&*store, organization, "one@example.com", 1).await;
    let due = claim_all(&*store).await;
    let mine = due
        .iter()
        .find(|delivery| delivery.subscription_id == id)
        .expect("a delivery to the resealed subscription");
    assert_eq!(mine.secret, StoredSecret::Sealed(resealed));
}
