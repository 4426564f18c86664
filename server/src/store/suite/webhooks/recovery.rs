//! After something went wrong: every attempt of a delivery kept (newest first, bounded, gone
//! with the delivery), a delivery resent (the same one, from the start of the retry schedule),
//! failed deliveries recovered since a time (within the backlog's bound), and a test event
//! queued to one subscription; none of them reaching another organization's subscription or a
//! disabled one.

use super::*;
use crate::domain::{ATTEMPTS_KEPT, AttemptRecord};
use crate::store::Recovery;

/// The delivery's kept attempts, newest first (all of them: fewer than a page's worth).
async fn attempts(store: &dyn Store, delivery: Uuid) -> Vec<AttemptRecord> {
    store
        .webhook_delivery_attempts(delivery, None, 1000)
        .await
        .expect("attempts")
}

fn numbers(attempts: &[AttemptRecord]) -> Vec<u32> {
    attempts.iter().map(|attempt| attempt.number).collect()
}

/// An organization with one subscription to `lead.created` and one lead created, whose one
/// delivery is returned.
async fn one_delivery(store: &dyn Store, email: &str) -> (Subscription, Uuid) {
    let organization = ensure_acme(store).await;
    let subscription = subscribe(store, organization, EventType::LeadCreated).await;
    create(store, organization, email, 1).await;
    let log = deliveries(store, organization, Some(subscription.id)).await;
    (subscription, ids(&log)[0])
}

/// Fails `delivery` for good with one attempt at `T0 + seconds`.
async fn fail(store: &dyn Store, delivery: Uuid, seconds: i64) {
    let failed = attempt(delivery, at(T0 + seconds * SECOND), AttemptOutcome::GaveUp);
    record(store, failed, 1000).await;
}

/// Each attempt is kept with its time, status, duration and reason, numbered over the
/// delivery, newest first and in pages; only the newest `ATTEMPTS_KEPT` stay; they go with
/// their delivery when it is swept.
pub(crate) async fn every_attempt_of_a_delivery_is_kept_newest_first_and_bounded(
    store: Arc<dyn Store>,
) {
    let (_, delivery) = one_delivery(&*store, "attempts@example.com").await;
    for n in 1..=2 {
        let retry = AttemptOutcome::RetryAt(at(T0 + (n + 1) * SECOND));
        record(&*store, attempt(delivery, at(T0 + n * SECOND), retry), 10).await;
    }
    let delivered = attempt(delivery, at(T0 + 3 * SECOND), AttemptOutcome::Delivered);
    record(&*store, delivered, 10).await;
    let kept = attempts(&*store, delivery).await;
    assert_eq!(numbers(&kept), [3, 2, 1]);
    assert_eq!(
        kept[0],
        AttemptRecord {
            id: kept[0].id,
            number: 3,
            at: at(T0 + 3 * SECOND),
            status_code: Some(200),
            response_time_ms: 42,
            error: None,
            succeeded: true,
        }
    );
    assert!(!kept[1].succeeded);
    assert_eq!(kept[1].status_code, Some(500));
    assert_eq!(kept[1].error.as_deref(), Some("the receiver answered 500"));
    let first = store
        .webhook_delivery_attempts(delivery, None, 2)
        .await
        .expect("a page");
    let rest = store
        .webhook_delivery_attempts(delivery, Some(first[1].keyset()), 2)
        .await
        .expect("the next page");
    assert_eq!((numbers(&first), numbers(&rest)), (vec![3, 2], vec![1]));

    // Swept with their delivery.
    let swept = store
        .webhook_deliveries_sweep(later())
        .await
        .expect("sweep");
    assert_eq!(swept, 1);
    assert_eq!(attempts(&*store, delivery).await, []);

    // Bounded: the newest are kept.
    let (_, delivery) = one_delivery(&*store, "bounded@example.com").await;
    let more = i64::from(ATTEMPTS_KEPT) + 5;
    for n in 1..=more {
        let retry = AttemptOutcome::RetryAt(at(T0 + (n + 1) * SECOND));
        record(&*store, attempt(delivery, at(T0 + n * SECOND), retry), 10).await;
    }
    let kept = numbers(&attempts(&*store, delivery).await);
    let newest: Vec<u32> = (6..=ATTEMPTS_KEPT + 5).rev().collect();
    assert_eq!(kept, newest);
}

/// A resent delivery is the same one, pending again and due at once, on the retry schedule
/// from its start while its attempts go on counting; a pending one is left as it is; another
/// organization's subscription, another subscription's delivery and a disabled subscription
/// are refused.
pub(crate) async fn a_resent_delivery_is_sent_again_from_the_start_of_the_schedule(
    store: Arc<dyn Store>,
) {
    let (subscription, delivery) = one_delivery(&*store, "resend@example.com").await;
    let organization = subscription.organization;
    for n in 1..=3 {
        let retry = AttemptOutcome::RetryAt(at(T0 + (n + 1) * SECOND));
        record(&*store, attempt(delivery, at(T0 + n * SECOND), retry), 10).await;
    }
    fail(&*store, delivery, 4).await;
    let now = at(T0 + 60 * SECOND);
    let resend = |organization, subscription, delivery| {
        let store = Arc::clone(&store);
        async move {
            store
                .webhook_delivery_resend(organization, subscription, delivery, now)
                .await
                .expect("resend")
        }
    };
    let Recovery::Done(resent) = resend(organization, subscription.id, delivery).await else {
        panic!("the delivery is resent");
    };
    assert_eq!(resent.id, delivery);
    assert_eq!(resent.status, DeliveryStatus::Pending);
    assert_eq!(resent.next_attempt_at, Some(now));
    assert_eq!(resent.attempt_count, 4);
    // Pending already: unchanged.
    let later_still = at(T0 + 90 * SECOND);
    let again = store
        .webhook_delivery_resend(organization, subscription.id, delivery, later_still)
        .await
        .expect("resend");
    assert_eq!(again, Recovery::Done(resent.clone()));

    let due = claim(&*store, now, 10).await;
    assert_eq!(ids_of_due(&due), [delivery]);
    assert_eq!(due[0].attempt_count, 0, "the schedule starts again");
    let delivered = attempt(delivery, now, AttemptOutcome::Delivered);
    record(&*store, delivered, 10).await;
    assert_eq!(numbers(&attempts(&*store, delivery).await), [5, 4, 3, 2, 1]);

    let other = store
        .organization_ensure("resend-other")
        .await
        .expect("other organization");
    let sibling = subscribe(&*store, organization, EventType::LeadCreated).await;
    assert_eq!(
        resend(other, subscription.id, delivery).await,
        Recovery::NoSubscription
    );
    assert_eq!(
        resend(organization, sibling.id, delivery).await,
        Recovery::NoDelivery
    );
    assert_eq!(
        resend(organization, subscription.id, Uuid::now_v7()).await,
        Recovery::NoDelivery
    );
    // A failure that disables the subscription: nothing is resent to it.
    create(&*store, organization, "disabling@example.com", 100).await;
    let disabling = ids(&deliveries(&*store, organization, Some(subscription.id)).await)[0];
    record(&*store, attempt(disabling, now, AttemptOutcome::GaveUp), 1).await;
    assert_eq!(
        resend(organization, subscription.id, delivery).await,
        Recovery::Disabled
    );
}

/// A recovery sends again the subscription's failed deliveries since a time, the earliest
/// first, no more than its backlog has room for, and leaves its delivered ones alone.
pub(crate) async fn a_recovery_resends_the_failed_deliveries_since_a_time(store: Arc<dyn Store>) {
    let organization = ensure_acme(&*store).await;
    let subscription = subscribe(&*store, organization, EventType::LeadCreated).await;
    for n in 1..=4 {
        create(&*store, organization, &format!("recover{n}@example.com"), n).await;
    }
    // Oldest first: created at T0 + 1 s to T0 + 4 s.
    let mut created = ids(&deliveries(&*store, organization, None).await);
    created.reverse();
    for &delivery in &created[..3] {
        fail(&*store, delivery, 10).await;
    }
    let delivered = attempt(created[3], at(T0 + 10 * SECOND), AttemptOutcome::Delivered);
    record(&*store, delivered, 1000).await;
    let now = at(T0 + 60 * SECOND);
    let recover = |organization, max_pending| {
        let store = Arc::clone(&store);
        async move {
            store
                .webhook_recover(
                    organization,
                    subscription.id,
                    at(T0 + 2 * SECOND),
                    now,
                    max_pending,
                )
                .await
                .expect("recover")
        }
    };
    assert_eq!(recover(organization, 1).await, Recovery::Done(1));
    assert_eq!(ids_of_due(&claim(&*store, now, 10).await), [created[1]]);
    // The backlog is full (one pending, leased): nothing more.
    assert_eq!(recover(organization, 1).await, Recovery::Done(0));
    assert_eq!(recover(organization, 10).await, Recovery::Done(1));
    let log = deliveries(&*store, organization, None).await;
    let status = |id: Uuid| log.iter().find(|d| d.id == id).map(|d| d.status);
    assert_eq!(
        status(created[0]),
        Some(DeliveryStatus::Failed),
        "before since"
    );
    assert_eq!(status(created[2]), Some(DeliveryStatus::Pending));
    assert_eq!(status(created[3]), Some(DeliveryStatus::Success));
    let other = store
        .organization_ensure("recover-other")
        .await
        .expect("other organization");
    assert_eq!(recover(other, 10).await, Recovery::NoSubscription);
}

/// A test event is stored as given and queued to its subscription alone, due at once; a
/// disabled subscription, or another organization's, gets none.
pub(crate) async fn a_test_event_is_queued_to_its_subscription_alone(store: Arc<dyn Store>) {
    let organization = ensure_acme(&*store).await;
    let tested = subscribe(&*store, organization, EventType::LeadUpdated).await;
    let untouched = subscribe(&*store, organization, EventType::LeadUpdated).await;
    let now = at(T0 + 5 * SECOND);
    let body = r#"{"event":"lead.updated","test":true}"#;
    let enqueue = |organization, subscription: Uuid| {
        let store = Arc::clone(&store);
        async move {
            store
                .webhook_test_enqueue(
                    organization,
                    subscription,
                    EventType::LeadUpdated,
                    body.to_owned(),
                    now,
                )
                .await
                .expect("enqueue")
        }
    };
    let Recovery::Done(queued) = enqueue(organization, tested.id).await else {
        panic!("a test event is queued");
    };
    assert_eq!(queued.subscription_id, tested.id);
    assert_eq!(queued.event_type, EventType::LeadUpdated);
    assert_eq!(queued.status, DeliveryStatus::Pending);
    assert_eq!(queued.next_attempt_at, Some(now));
    assert_eq!(queued.payload_size_bytes, body.len() as u64);
    let due = claim(&*store, now, 10).await;
    assert_eq!(ids_of_due(&due), [queued.id]);
    assert_eq!(due[0].body, body);
    assert_eq!(
        deliveries(&*store, organization, Some(untouched.id)).await,
        []
    );

    let other = store
        .organization_ensure("test-other")
        .await
        .expect("other organization");
    assert_eq!(enqueue(other, tested.id).await, Recovery::NoSubscription);
    record(&*store, attempt(queued.id, now, AttemptOutcome::GaveUp), 1).await;
    assert_eq!(enqueue(organization, tested.id).await, Recovery::Disabled);
}

/// A test event of a lead at its largest (about 77 KB, stored deflated) queued to a new
/// subscription of acme's: the delivery, and the body as rendered. The backends' own tests
/// look at how it is stored.
pub(crate) async fn queue_the_largest_lead(store: &dyn Store) -> (Delivery, String) {
    let organization = ensure_acme(store).await;
    let subscription = subscribe(store, organization, EventType::LeadUpdated).await;
    let body = crate::store::suite::largest_lead_body();
    let queued = store
        .webhook_test_enqueue(
            organization,
            subscription.id,
            EventType::LeadUpdated,
            body.clone(),
            at(T0),
        )
        .await
        .expect("enqueue");
    let Recovery::Done(queued) = queued else {
        panic!("queued: {queued:?}");
    };
    assert_eq!(queued.payload_size_bytes, body.len() as u64);
    (queued, body)
}

/// Claims `delivery` (due at once, as every delivery `queue_the_largest_lead` queues is),
/// records it delivered, resends it and claims it again: the bodies of both claims, and the
/// delivery as the resend answered it.
pub(crate) async fn send_then_resend(
    store: &dyn Store,
    delivery: &Delivery,
) -> (String, String, Delivery) {
    let organization = ensure_acme(store).await;
    let sent = claim(store, at(T0), 10).await;
    assert_eq!(ids_of_due(&sent), [delivery.id]);
    record(
        store,
        attempt(delivery.id, at(T0), AttemptOutcome::Delivered),
        10,
    )
    .await;
    let resent = store
        .webhook_delivery_resend(organization, delivery.subscription_id, delivery.id, at(T0))
        .await
        .expect("resend");
    let Recovery::Done(resent) = resent else {
        panic!("resent: {resent:?}");
    };
    let again = claim(store, at(T0), 10).await;
    assert_eq!(ids_of_due(&again), [delivery.id]);
    let [first, second] = [&sent[0], &again[0]].map(|due| due.body.clone());
    (first, second, resent)
}

/// A lead at its largest is claimed as the exact bytes rendered, its size in the log is
/// theirs, and a resend after its delivery sends the same bytes again.
pub(crate) async fn a_large_body_is_sent_and_resent_as_rendered(store: Arc<dyn Store>) {
    let (queued, body) = queue_the_largest_lead(&*store).await;
    let (sent, resent, delivery) = send_then_resend(&*store, &queued).await;
    assert!(sent == body, "the body claimed is the body rendered");
    assert!(resent == body, "a resend sends the same bytes");
    assert_eq!(delivery.payload_size_bytes, body.len() as u64);
}
