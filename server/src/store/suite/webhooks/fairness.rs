//! The delivery worker's fairness: claims take turns round the subscriptions and the
//! organizations, within each one's share in flight; and each subscription's backlog is
//! bounded.

use std::collections::HashMap;

use super::*;

/// How many of `due` each subscription has.
fn per_subscription(due: &[DueDelivery<StoredSecret>]) -> HashMap<Uuid, u32> {
    let mut counts = HashMap::new();
    for delivery in due {
        *counts.entry(delivery.subscription_id).or_default() += 1;
    }
    counts
}

/// A share, as a count of deliveries.
fn share(share: u32) -> usize {
    usize::try_from(share).expect("a small share")
}

pub(crate) async fn a_claim_takes_turns_within_each_share_in_flight(store: Arc<dyn Store>) {
    let acme = ensure_acme(&*store).await;
    let globex = store.organization_ensure("globex").await.expect("globex");
    let mut ours = Vec::new();
    for _ in 0..3 {
        ours.push(subscribe(&*store, acme, EventType::LeadCreated).await);
    }
    let theirs = subscribe(&*store, globex, EventType::LeadCreated).await;
    // Acme's 15 deliveries, due first; then globex's one.
    for n in 0..5 {
        create(&*store, acme, &format!("ours{n}@example.com"), n).await;
    }
    create(&*store, globex, "theirs@example.com", 10).await;

    // The first turn: a delivery of each subscription; globex's before acme's second.
    let first = claim(&*store, later(), 3).await;
    assert!(
        first[..2]
            .iter()
            .any(|delivery| delivery.subscription_id == theirs.id),
        "{first:?}"
    );
    assert_eq!(per_subscription(&first).len(), 3, "three subscriptions");

    // Then acme's up to its share, none of its subscriptions beyond its own.
    let second = claim(&*store, later(), 100).await;
    let in_flight = [&first[..], &second[..]].concat();
    let counts = per_subscription(&in_flight);
    assert_eq!(counts[&theirs.id], 1, "globex's one delivery, once");
    assert!(
        ours.iter()
            .all(|subscription| counts[&subscription.id] <= IN_FLIGHT_PER_SUBSCRIPTION),
        "{counts:?}"
    );
    assert_eq!(in_flight.len(), share(IN_FLIGHT_PER_ORGANIZATION) + 1);
    // The last of the subscriptions' first turn came before any's third.
    assert!(
        ours.iter()
            .all(|subscription| counts[&subscription.id] >= 2)
    );

    // Nothing more while they are in flight, though acme has more due.
    assert_eq!(claim(&*store, later(), 100).await.len(), 0);
    // One attempt ends: one more place in acme's share.
    let ended = second[0].id;
    record(
        &*store,
        attempt(ended, later(), AttemptOutcome::Delivered),
        10,
    )
    .await;
    let next = claim(&*store, later(), 100).await;
    assert_eq!(next.len(), 1);
    assert_ne!(next[0].id, ended);
    // Leases that ran out count for nothing: everything still pending is due again.
    let expired = later() + chrono::Duration::minutes(2);
    let again = claim(&*store, expired, 100).await;
    assert_eq!(again.len(), share(IN_FLIGHT_PER_ORGANIZATION) + 1);
}

pub(crate) async fn a_backlog_beyond_its_bound_fails_the_earliest_due(store: Arc<dyn Store>) {
    let acme = ensure_acme(&*store).await;
    let globex = store.organization_ensure("globex").await.expect("globex");
    let ours = subscribe(&*store, acme, EventType::LeadCreated).await;
    let theirs = subscribe(&*store, globex, EventType::LeadCreated).await;
    for n in 1..=5 {
        create(&*store, acme, &format!("backlog{n}@example.com"), n).await;
    }
    create(&*store, globex, "small@example.com", 1).await;
    // The earliest due of acme's is in flight.
    let now = at(T0 + SECOND);
    let leased = claim(&*store, now, 100).await;
    let [leased_ours] = &leased
        .iter()
        .filter(|delivery| delivery.subscription_id == ours.id)
        .collect::<Vec<_>>()[..]
    else {
        panic!("one of acme's is due: {leased:?}");
    };

    // Beyond the two due last: the two due before them fail; the one in flight is left to
    // its attempt; globex's one, within the bound, is left alone.
    assert_eq!(
        store
            .webhook_backlog_trim(2, now)
            .await
            .expect("bound backlogs"),
        2
    );
    let log = deliveries(&*store, acme, Some(ours.id)).await;
    let due_at = |seconds: i64| {
        log.iter()
            .find(|delivery| delivery.created_at == at(T0 + seconds * SECOND))
            .expect("a delivery of that time")
    };
    for seconds in [2, 3] {
        let failed = due_at(seconds);
        assert_eq!(failed.status, DeliveryStatus::Failed);
        assert_eq!(
            failed.error_message.as_deref(),
            Some(backlog_message(2).as_str())
        );
        assert_eq!(failed.attempt_count, 0);
        assert_eq!(failed.next_attempt_at, None);
    }
    for seconds in [1, 4, 5] {
        assert_eq!(due_at(seconds).status, DeliveryStatus::Pending, "{seconds}");
    }
    assert_eq!(due_at(1).id, leased_ours.id);
    assert!(
        deliveries(&*store, globex, Some(theirs.id))
            .await
            .iter()
            .all(|delivery| delivery.status == DeliveryStatus::Pending)
    );
    // Within its bound but for the one in flight: nothing more to fail.
    assert_eq!(store.webhook_backlog_trim(2, now).await.expect("again"), 0);
    assert_eq!(
        backlog_message(10_000),
        "not sent: more than 10000 deliveries were pending for the subscription"
    );
}
