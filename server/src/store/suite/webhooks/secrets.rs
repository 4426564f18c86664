//! The sealed signing secrets the server's start and rotations see.

use super::*;

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
                .webhook_secrets(SecretSlot::Current, selection, after, limit)
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
                .webhook_secret_replace(SecretSlot::Current, id, old, new)
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
