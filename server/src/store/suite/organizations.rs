//! The suite's tests of organizations and their API keys.

use std::sync::Arc;

use uuid::Uuid;

use super::{T0, assert_internal, at, ensure_acme};
use crate::domain::OrganizationId;
use crate::store::{KeyHash, Store};

pub(crate) async fn api_keys_are_found_by_hash(store: Arc<dyn Store>) {
    let acme = ensure_acme(&*store).await;
    let globex = store.organization_ensure("globex").await.expect("globex");
    let acme_hash: KeyHash = [1; 32];
    let globex_hash: KeyHash = [2; 32];
    let acme_key = store
        .api_key_insert(acme, acme_hash, at(T0))
        .await
        .expect("insert");
    let globex_key = store
        .api_key_insert(globex, globex_hash, at(T0))
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
    assert_internal(store.api_key_insert(nobody, [9; 32], at(T0)).await);
    assert_eq!(store.api_key_find([9; 32]).await.expect("find"), None);
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
