//! The delivery worker's side: claims under a lease (oldest first, never twice, even concurrently), attempts recorded, subscriptions disabled after failures in a row, the next due time, the sweep of old deliveries.

use std::sync::atomic::Ordering;

use super::*;

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
    // Only the other's are claimed, as many as a subscription may have in flight.
    let due = claim_all(&*store).await;
    assert_eq!(
        due.len(),
        usize::try_from(IN_FLIGHT_PER_SUBSCRIPTION).expect("small")
    );
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
    let sent = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let claimers: Vec<_> = (0..8)
        .map(|_| {
            let (store, barrier, sent) =
                (Arc::clone(&store), Arc::clone(&barrier), Arc::clone(&sent));
            tokio::spawn(async move {
                barrier.wait().await;
                let mut claimed = Vec::new();
                // Each attempt recorded, so that its subscription's and organization's
                // shares in flight free up; a claim may find nothing while others' are in
                // flight, until every delivery is sent.
                while sent.load(Ordering::SeqCst) < 60 {
                    let due = claim(&*store, later(), 3).await;
                    for delivery in ids_of_due(&due) {
                        record(
                            &*store,
                            attempt(delivery, later(), AttemptOutcome::Delivered),
                            10,
                        )
                        .await;
                        claimed.push(delivery);
                        sent.fetch_add(1, Ordering::SeqCst);
                    }
                    tokio::task::yield_now().await;
                }
                claimed
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

/// The worker's round: the attempts it records free their places in flight, and the claim in
/// the same call takes them in turn, as a claim of its own would.
pub(crate) async fn a_round_records_its_attempts_then_claims_in_their_places(
    store: Arc<dyn Store>,
) {
    let organization = ensure_acme(&*store).await;
    let ours = subscribe(&*store, organization, EventType::LeadCreated).await;
    for n in 1..=6 {
        create(&*store, organization, &format!("round{n}@example.com"), n).await;
    }
    let share = usize::try_from(IN_FLIGHT_PER_SUBSCRIPTION).expect("a small share");
    let first = claim(&*store, later(), 100).await;
    assert_eq!(first.len(), share, "the subscription's share in flight");
    let retry_at = later() + chrono::Duration::minutes(10);
    let round = |attempts: Vec<Attempt>, limit: u32| {
        let store = Arc::clone(&store);
        async move {
            store
                .webhook_deliveries_record_and_claim(
                    attempts,
                    10,
                    later(),
                    later() + chrono::Duration::minutes(1),
                    limit,
                )
                .await
                .expect("a round")
        }
    };

    // One delivered, one to be retried later: two places, taken by the two due next.
    let next = round(
        vec![
            attempt(first[0].id, later(), AttemptOutcome::Delivered),
            attempt(first[1].id, later(), AttemptOutcome::RetryAt(retry_at)),
        ],
        100,
    )
    .await;
    let log = deliveries(&*store, organization, Some(ours.id)).await;
    let by_id = |id: Uuid| {
        log.iter()
            .find(|delivery| delivery.id == id)
            .expect("a delivery of the log")
    };
    assert_eq!(by_id(first[0].id).status, DeliveryStatus::Success);
    assert_eq!(by_id(first[0].id).attempt_count, 1);
    assert_eq!(by_id(first[1].id).status, DeliveryStatus::Pending);
    assert_eq!(by_id(first[1].id).next_attempt_at, Some(retry_at));
    let claimed: HashSet<Uuid> = ids_of_due(&first).into_iter().collect();
    assert_eq!(next.len(), 2);
    assert!(next.iter().all(|delivery| !claimed.contains(&delivery.id)));
    assert!(
        next.iter()
            .all(|delivery| by_id(delivery.id).status == DeliveryStatus::Pending)
    );

    // The share is in flight again: a round claims nothing more, and an attempt of a delivery
    // no longer pending changes nothing.
    assert_eq!(
        round(
            vec![attempt(first[0].id, later(), AttemptOutcome::GaveUp)],
            100
        )
        .await
        .len(),
        0
    );
    let again = deliveries(&*store, organization, Some(ours.id)).await;
    let delivered = again
        .iter()
        .find(|delivery| delivery.id == first[0].id)
        .expect("the delivered one");
    assert_eq!(delivered.status, DeliveryStatus::Success);
    assert_eq!(delivered.attempt_count, 1);

    // A round with no free slot records, and claims nothing though a place is free.
    let none = round(
        vec![attempt(first[2].id, later(), AttemptOutcome::Delivered)],
        0,
    )
    .await;
    assert!(none.is_empty());
    let after = deliveries(&*store, organization, Some(ours.id)).await;
    assert!(
        after.iter().any(
            |delivery| delivery.id == first[2].id && delivery.status == DeliveryStatus::Success
        )
    );
    // Nothing else is due now: the next due time is the end of the leases in flight, before
    // the retry.
    assert_eq!(claim(&*store, later(), 100).await.len(), 0, "none left due");
    assert_eq!(
        store.webhook_next_due().await.expect("next due"),
        Some(later() + chrono::Duration::minutes(1))
    );
}
