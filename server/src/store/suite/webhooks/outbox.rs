//! The outbox a lead write fills: which events, to whom, never for a write that failed or a subscription deleted meanwhile; and the deliveries log.

use super::*;

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

/// A write made within a request's trace stores it with its events, and their deliveries
/// carry it; a write without one carries none.
pub(crate) async fn the_trace_of_the_writing_request_goes_with_its_deliveries(
    store: Arc<dyn Store>,
) {
    let organization = ensure_acme(&*store).await;
    subscribe(&*store, organization, EventType::LeadCreated).await;
    subscribe(&*store, organization, EventType::LeadUpdated).await;
    let creating: TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        .parse()
        .expect("a trace");
    let updating: TraceParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"
        .parse()
        .expect("a trace");
    let traced = TraceParent::within(
        Some(creating.clone()),
        create(&*store, organization, "traced@example.com", 1),
    )
    .await;
    create(&*store, organization, "untraced@example.com", 2).await;
    TraceParent::within(
        Some(updating.clone()),
        store.lead_update(
            organization,
            traced.id,
            rename("Traced Again"),
            None,
            at(T0 + 3 * SECOND),
        ),
    )
    .await
    .expect("update")
    .expect("the lead");

    let claimed = claim(&*store, at(T0 + 3 * SECOND), 10).await;
    let traces: Vec<(String, Option<TraceParent>)> = claimed
        .iter()
        .map(|due| {
            let body = body(due);
            let about = format!("{} {}", body["event"], body["data"]["email"]);
            (about, due.trace.clone())
        })
        .collect();
    let expected = [
        ("\"lead.created\" \"traced@example.com\"", Some(creating)),
        ("\"lead.created\" \"untraced@example.com\"", None),
        ("\"lead.updated\" \"traced@example.com\"", Some(updating)),
    ];
    for (about, trace) in expected {
        assert!(
            traces.contains(&(about.to_string(), trace.clone())),
            "{about} with {trace:?} in {traces:?}"
        );
    }
    assert_eq!(traces.len(), 3, "{traces:?}");
}
