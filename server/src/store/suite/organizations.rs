//! The suite's tests of organizations and their API keys.

use std::sync::Arc;

use uuid::Uuid;

use super::{T0, assert_internal, at, ensure_acme};
use crate::domain::OrganizationId;
use crate::store::{KeyHash, NewApiKey, RevokeOutcome, Store};

pub(crate) async fn api_keys_are_found_by_hash(store: Arc<dyn Store>) {
    let acme = ensure_acme(&*store).await;
    let globex = store.organization_ensure("globex").await.expect("globex");
    let acme_hash: KeyHash = [1; 32];
    let globex_hash: KeyHash = [2; 32];
    let acme_key = store
        .api_key_insert(new_key(acme, acme_hash, "aura_pk_live_acme1"))
        .await
        .expect("insert");
    let globex_key = store
        .api_key_insert(new_key(globex, globex_hash, "aura_pk_live_glob1"))
        .await
        .expect("insert");
    assert_ne!(acme_key, globex_key);

    assert_eq!(
        store.api_key_find(acme_hash).await.expect("find"),
        Some((acme_key, acme))
    );
    assert_eq!(
        store.api_key_find(globex_hash).await.expect("find"),
        Some((globex_key, globex))
    );
    assert_eq!(store.api_key_find([3; 32]).await.expect("find"), None);
}

pub(crate) async fn an_api_key_of_an_unknown_organization_is_refused(store: Arc<dyn Store>) {
    ensure_acme(&*store).await;
    let nobody = OrganizationId(Uuid::new_v4());
    assert_internal(store.api_key_insert(new_key(nobody, [9; 32], "x")).await);
    assert_eq!(store.api_key_find([9; 32]).await.expect("find"), None);
}

pub(crate) fn new_key(organization: OrganizationId, hash: KeyHash, prefix: &str) -> NewApiKey {
    NewApiKey {
        organization,
        hash,
        prefix: prefix.to_string(),
        created_at: at(T0),
    }
}

pub(crate) async fn organizations_are_found_by_name(store: Arc<dyn Store>) {
    assert_eq!(store.organization_find("acme").await.expect("find"), None);
    let acme = ensure_acme(&*store).await;
    assert_eq!(
        store.organization_find("acme").await.expect("find"),
        Some(acme)
    );
}

/// A revoked key is never found again; keys are listed with their prefix and last use, and
/// revoked by prefix or id, one at a time.
pub(crate) async fn api_keys_are_listed_touched_and_revoked(store: Arc<dyn Store>) {
    let acme = ensure_acme(&*store).await;
    let first = store
        .api_key_insert(new_key(acme, [4; 32], "aura_pk_live_first"))
        .await
        .expect("insert");
    let second = store
        .api_key_insert(new_key(acme, [5; 32], "aura_pk_live_twin"))
        .await
        .expect("insert");
    store
        .api_key_insert(new_key(acme, [6; 32], "aura_pk_live_twin"))
        .await
        .expect("insert");
    store.api_key_touch(first, at(T0 + 5)).await.expect("touch");
    let listed = store.api_key_list(acme).await.expect("list");
    assert_eq!(listed.len(), 3);
    let shown = listed.iter().find(|key| key.id == first).expect("listed");
    assert_eq!(shown.prefix.as_deref(), Some("aura_pk_live_first"));
    assert_eq!(shown.last_used_at, Some(at(T0 + 5)));
    assert_eq!(shown.revoked_at, None);

    let revoke = |prefix: &'static str| {
        let store = Arc::clone(&store);
        async move {
            store
                .api_key_revoke(prefix, at(T0 + 9))
                .await
                .expect("revoke")
        }
    };
    assert_eq!(revoke("aura_pk_live_twin").await, RevokeOutcome::Ambiguous);
    assert_eq!(revoke("aura_pk_live_none").await, RevokeOutcome::NotFound);
    assert_eq!(
        revoke("aura_pk_live_first").await,
        RevokeOutcome::Revoked(first)
    );
    assert_eq!(store.api_key_find([4; 32]).await.expect("find"), None);
    assert_eq!(revoke("aura_pk_live_first").await, RevokeOutcome::NotFound);
    let by_id = store
        .api_key_revoke(&second.0.to_string(), at(T0 + 9))
        .await
        .expect("revoke");
    assert_eq!(by_id, RevokeOutcome::Revoked(second));
    assert!(
        matches!(revoke("aura_pk_live_twin").await, RevokeOutcome::Revoked(_)),
        "one twin is left, so the prefix names it"
    );
}

pub(crate) async fn a_new_database_is_empty_until_an_organization_exists(store: Arc<dyn Store>) {
    assert!(store.is_empty().await.expect("is_empty"));
    store.organization_ensure("acme").await.expect("ensure");
    assert!(!store.is_empty().await.expect("is_empty"));
}

pub(crate) async fn organization_ensure_is_idempotent(store: Arc<dyn Store>) {
    let acme = ensure_acme(&*store).await;
    assert_eq!(
        store.organization_ensure("acme").await.expect("again"),
        acme
    );
    let globex = store.organization_ensure("globex").await.expect("globex");
    assert_ne!(globex, acme);
    assert_eq!(
        store.organization_ensure("globex").await.expect("again"),
        globex
    );
    assert_eq!(
        store.organization_ensure("acme").await.expect("again"),
        acme
    );
}

/// A key found valid, remembered or not, is not found from the lookup after its revocation
/// through the same store.
pub(crate) async fn a_key_found_then_revoked_is_not_found_from_the_next_lookup(
    store: Arc<dyn Store>,
) {
    let acme = ensure_acme(&*store).await;
    let key = store
        .api_key_insert(new_key(acme, [7; 32], "aura_pk_live_seen"))
        .await
        .expect("insert");
    for _ in 0..2 {
        assert_eq!(
            store.api_key_find([7; 32]).await.expect("find"),
            Some((key, acme))
        );
    }
    assert_eq!(
        store
            .api_key_revoke("aura_pk_live_seen", at(T0 + 1))
            .await
            .expect("revoke"),
        RevokeOutcome::Revoked(key)
    );
    assert_eq!(store.api_key_find([7; 32]).await.expect("find"), None);
}
