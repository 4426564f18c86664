//! Subscriptions: round trips and list order, other organizations', the limit (also under concurrent creates), deletion with its deliveries.

use super::*;

pub(crate) async fn subscriptions_round_trip_and_are_listed_newest_first(store: Arc<dyn Store>) {
    let organization = ensure_acme(&*store).await;
    // Two made at the same time, told apart by their ids; one disabled already.
    let mut made = vec![
        subscription(organization, EventType::LeadCreated, at(T0)),
        subscription(organization, EventType::LeadUpdated, at(T0 + 2 * SECOND)),
        subscription(organization, EventType::LeadCreated, at(T0 + SECOND)),
        subscription(organization, EventType::LeadStatusChanged, at(T0 + SECOND)),
        // Every event type is stored: the schema's CHECK knows `lead.deleted` (5.1.0) too.
        subscription(organization, EventType::LeadDeleted, at(T0 + 4 * SECOND)),
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
