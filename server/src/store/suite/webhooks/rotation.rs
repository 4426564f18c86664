//! A subscription after it is made: enabled again after failures disabled it (its secret
//! kept, its count of failures reset), and its secret rotated (the replaced one kept, sealed,
//! beside the new one until it expires, and resealed by slot like the current one).

use super::*;

/// A subscription disabled by failures is enabled again with its secret and a fresh count of
/// failures; an active one is left as it is; another organization's is not found.
pub(crate) async fn a_disabled_subscription_is_enabled_again_keeping_its_secret(
    store: Arc<dyn Store>,
) {
    let organization = ensure_acme(&*store).await;
    let subscription = subscription(organization, EventType::LeadCreated, at(T0));
    let secret = sealed();
    store
        .webhook_subscription_insert(subscription.clone(), secret.clone(), MAX)
        .await
        .expect("subscribe");
    let disable_after = 2;
    for n in 0..2 {
        create(&*store, organization, &format!("fail{n}@example.com"), n).await;
    }
    for (n, delivery) in ids(&deliveries(&*store, organization, None).await)
        .into_iter()
        .enumerate()
    {
        let seconds = 100 + i64::try_from(n).expect("few");
        let failed = attempt(delivery, at(T0 + seconds * SECOND), AttemptOutcome::GaveUp);
        record(&*store, failed, disable_after).await;
    }
    assert!(stored(&*store, &subscription).await.disabled_at.is_some());

    let enable = |organization, id| {
        let store = Arc::clone(&store);
        async move {
            store
                .webhook_subscription_enable(organization, id)
                .await
                .expect("enable")
        }
    };
    let other = store
        .organization_ensure("enable-other")
        .await
        .expect("other organization");
    assert_eq!(enable(other, subscription.id).await, None);
    assert_eq!(enable(organization, Uuid::now_v7()).await, None);
    assert!(stored(&*store, &subscription).await.disabled_at.is_some());
    assert_eq!(
        enable(organization, subscription.id).await,
        Some(subscription.clone())
    );
    // Enabling an active one changes nothing.
    assert_eq!(
        enable(organization, subscription.id).await,
        Some(subscription.clone())
    );

    // Delivered to again, signed with the same secret; the failed deliveries stay failed.
    let lead = create(&*store, organization, "again@example.com", 10).await;
    let due = claim_all(&*store).await;
    assert_eq!(due.len(), 1);
    assert_eq!(body(&due[0])["data"]["id"], lead.id.to_string());
    assert_eq!(due[0].secret, StoredSecret::Sealed(secret));
    assert_eq!(due[0].previous_secret, None);
    let log = deliveries(&*store, organization, None).await;
    let failed = log
        .iter()
        .filter(|delivery| delivery.status == DeliveryStatus::Failed)
        .count();
    assert_eq!(failed, 2);

    // The count of failures started again: one failure does not disable it.
    record(
        &*store,
        attempt(due[0].id, at(T0 + 300 * SECOND), AttemptOutcome::GaveUp),
        disable_after,
    )
    .await;
    assert_eq!(stored(&*store, &subscription).await.disabled_at, None);
}

/// A rotation makes the secret it replaces the previous one, which claims carry until it
/// expires; a second rotation forgets the first secret; another organization's subscription
/// is not found, and keeps its secret.
pub(crate) async fn a_rotated_secret_signs_beside_the_new_one_until_it_expires(
    store: Arc<dyn Store>,
) {
    let organization = ensure_acme(&*store).await;
    let subscription = subscription(organization, EventType::LeadCreated, at(T0));
    let first = sealed();
    store
        .webhook_subscription_insert(subscription.clone(), first.clone(), MAX)
        .await
        .expect("subscribe");
    let rotate = |organization, id, new: SealedSecret, expires_at| {
        let store = Arc::clone(&store);
        async move {
            store
                .webhook_secret_rotate(organization, id, new, expires_at)
                .await
                .expect("rotate")
        }
    };
    let other = store
        .organization_ensure("rotate-other")
        .await
        .expect("other organization");
    let expires_at = at(T0 + 100 * SECOND);
    assert_eq!(
        rotate(other, subscription.id, sealed(), expires_at).await,
        None
    );
    assert_eq!(
        rotate(organization, Uuid::now_v7(), sealed(), expires_at).await,
        None
    );

    create(&*store, organization, "before@example.com", 1).await;
    let due = claim(&*store, at(T0 + 10 * SECOND), 10).await;
    assert_eq!(due[0].secret, StoredSecret::Sealed(first.clone()));
    assert_eq!(due[0].previous_secret, None);

    let second = sealed();
    assert_eq!(
        rotate(organization, subscription.id, second.clone(), expires_at).await,
        Some(subscription.clone())
    );
    // Within the overlap (the first claim's lease of a minute has run out by then): both.
    let due = claim(&*store, at(T0 + 80 * SECOND), 10).await;
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].secret, StoredSecret::Sealed(second.clone()));
    assert_eq!(due[0].previous_secret, Some(StoredSecret::Sealed(first)));
    // From its end on: the new one only.
    let due = claim(&*store, at(T0 + 160 * SECOND), 10).await;
    assert_eq!(due[0].secret, StoredSecret::Sealed(second.clone()));
    assert_eq!(due[0].previous_secret, None);

    // Again, within a new overlap: the second secret is the previous one now.
    let third = sealed();
    let expires_at = at(T0 + 1_000 * SECOND);
    rotate(organization, subscription.id, third.clone(), expires_at).await;
    let due = claim(&*store, at(T0 + 230 * SECOND), 10).await;
    assert_eq!(due[0].secret, StoredSecret::Sealed(third));
    assert_eq!(due[0].previous_secret, Some(StoredSecret::Sealed(second)));
}

/// A previous secret is sampled at start and resealed by a rotation of the secrets key like a
/// current one, in its own slot.
pub(crate) async fn previous_secrets_are_sampled_listed_and_replaced_in_their_slot(
    store: Arc<dyn Store>,
) {
    let organization = ensure_acme(&*store).await;
    let subscription = subscription(organization, EventType::LeadCreated, at(T0));
    let by_key = |key_id: &str| SealedSecret {
        key_id: key_id.to_owned(),
        sealed: format!("sealed-{}", Uuid::new_v4()),
    };
    let old = by_key("old");
    store
        .webhook_subscription_insert(subscription.clone(), old.clone(), MAX)
        .await
        .expect("subscribe");
    let new = by_key("new");
    store
        .webhook_secret_rotate(organization, subscription.id, new.clone(), at(T0))
        .await
        .expect("rotate");

    // Key "old" now seals only a previous secret, which is sampled all the same.
    let mut samples = store.webhook_secret_samples().await.expect("samples");
    samples.sort_by(|a, b| a.1.key_id.cmp(&b.1.key_id));
    assert_eq!(
        samples,
        [
            (subscription.id, new.clone()),
            (subscription.id, old.clone())
        ]
    );

    let not_new = || SecretSelection::NotSealedBy("new".to_owned());
    let list = |slot| {
        let store = Arc::clone(&store);
        async move {
            store
                .webhook_secrets(slot, not_new(), None, 10)
                .await
                .expect("secrets")
        }
    };
    assert_eq!(list(SecretSlot::Current).await, []);
    let previous = StoredSecret::Sealed(old);
    assert_eq!(
        list(SecretSlot::Previous).await,
        [(subscription.id, previous.clone())]
    );
    let replace = |slot, old| {
        let (store, resealed) = (Arc::clone(&store), by_key("new"));
        async move {
            store
                .webhook_secret_replace(slot, subscription.id, old, resealed)
                .await
                .expect("replace")
        }
    };
    // The previous secret is not the current one: replaced only in its own slot.
    assert!(!replace(SecretSlot::Current, previous.clone()).await);
    assert!(replace(SecretSlot::Previous, previous).await);
    assert_eq!(list(SecretSlot::Previous).await, []);
    assert_eq!(
        store
            .webhook_secrets(SecretSlot::Previous, SecretSelection::Plain, None, 10)
            .await
            .expect("plain"),
        []
    );
}
