//! The suite's tests of idempotent answers: stored with their lead or not at all, a key taken
//! until its answer expires, found only unexpired and only in their organization, swept once
//! expired.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{T0, assert_internal, at, ensure_acme, lead, list_all};
use crate::domain::OrganizationId;
use crate::store::{IdempotentAnswer, Store, StoreError};

/// An hour, in microseconds: how long the answers here are kept.
const HOUR: i64 = 3_600_000_000;

/// An answer under `key`, kept from `created_at` for an hour. Its body names the key, so that
/// answers under different keys differ, and holds bytes that are not UTF-8, to show it comes
/// back byte for byte.
fn answer(organization: OrganizationId, key: &str, created_at: DateTime<Utc>) -> IdempotentAnswer {
    let mut body = format!("{{\"key\":\"{key}\"}}").into_bytes();
    body.extend([0x00, 0xff, 0xfe, b'\n']);
    IdempotentAnswer {
        organization,
        key: key.to_owned(),
        fingerprint: [0x5a; 32],
        status: 201,
        body,
        created_at,
        expires_at: at(created_at.timestamp_micros() + HOUR),
    }
}

/// Stores a new lead of `organization` with `answer`.
async fn insert_with(
    store: &dyn Store,
    email: &str,
    answer: IdempotentAnswer,
) -> Result<(), StoreError> {
    let organization = answer.organization;
    let created_at = answer.created_at;
    store
        .lead_insert(lead(organization, email, created_at), Some(answer))
        .await
        .map(drop)
}

async fn find(
    store: &dyn Store,
    organization: OrganizationId,
    key: &str,
    now: DateTime<Utc>,
) -> Option<IdempotentAnswer> {
    store
        .idempotent_answer_find(organization, key, now)
        .await
        .expect("find")
}

pub(crate) async fn an_insert_with_an_answer_stores_both(store: Arc<dyn Store>) {
    let organization = ensure_acme(&*store).await;
    let new = lead(organization, "both@example.com", at(T0));
    let kept = answer(organization, "key-1", at(T0));
    let inserted = store
        .lead_insert(new.clone(), Some(kept.clone()))
        .await
        .expect("insert");
    assert_eq!(inserted, new);
    assert_eq!(
        store.lead_get(organization, new.id).await.expect("get"),
        Some(new)
    );
    assert_eq!(
        find(&*store, organization, "key-1", at(T0)).await,
        Some(kept)
    );
}

pub(crate) async fn an_insert_whose_email_is_taken_stores_no_answer(store: Arc<dyn Store>) {
    let organization = ensure_acme(&*store).await;
    let first = store
        .lead_insert(lead(organization, "taken@example.com", at(T0)), None)
        .await
        .expect("insert");
    let result = insert_with(
        &*store,
        "TAKEN@example.com",
        answer(organization, "key-1", at(T0 + 1)),
    )
    .await;
    assert!(matches!(result, Err(StoreError::EmailTaken)), "{result:?}");
    assert_eq!(find(&*store, organization, "key-1", at(T0 + 1)).await, None);
    assert_eq!(list_all(&*store, organization).await, [first]);

    // And the key is free: nothing holds it.
    insert_with(
        &*store,
        "free@example.com",
        answer(organization, "key-1", at(T0 + 2)),
    )
    .await
    .expect("the key is free");
}

pub(crate) async fn an_insert_under_a_taken_key_fails_and_stores_no_lead(store: Arc<dyn Store>) {
    let organization = ensure_acme(&*store).await;
    let kept = answer(organization, "key-1", at(T0));
    insert_with(&*store, "first@example.com", kept.clone())
        .await
        .expect("insert");
    let first = list_all(&*store, organization).await;
    // Just after the first, and the last instant before it expires.
    for created_at in [at(T0 + 1), at(T0 + HOUR - 1)] {
        let result = insert_with(
            &*store,
            "second@example.com",
            answer(organization, "key-1", created_at),
        )
        .await;
        assert!(
            matches!(result, Err(StoreError::IdempotencyKeyTaken)),
            "{created_at}: {result:?}"
        );
        assert_eq!(list_all(&*store, organization).await, first);
        assert_eq!(
            find(&*store, organization, "key-1", created_at).await,
            Some(kept.clone()),
            "the first answer stays as it was"
        );
    }
}

pub(crate) async fn an_expired_answer_is_replaced(store: Arc<dyn Store>) {
    let organization = ensure_acme(&*store).await;
    let old = answer(organization, "key-1", at(T0));
    insert_with(&*store, "first@example.com", old.clone())
        .await
        .expect("insert");
    // Created the instant the old one expires.
    let mut new = answer(organization, "key-1", old.expires_at);
    new.fingerprint = [0xab; 32];
    new.status = 200;
    new.body = b"another answer".to_vec();
    insert_with(&*store, "second@example.com", new.clone())
        .await
        .expect("the expired key is free");
    assert_eq!(list_all(&*store, organization).await.len(), 2);
    assert_eq!(
        find(&*store, organization, "key-1", new.created_at).await,
        Some(new)
    );
}

pub(crate) async fn an_answer_is_found_until_it_expires(store: Arc<dyn Store>) {
    let organization = ensure_acme(&*store).await;
    let kept = answer(organization, "key-1", at(T0));
    insert_with(&*store, "first@example.com", kept.clone())
        .await
        .expect("insert");
    let expires_at = kept.expires_at.timestamp_micros();
    for now in [T0, expires_at - 1] {
        assert_eq!(
            find(&*store, organization, "key-1", at(now)).await,
            Some(kept.clone()),
            "at {now}"
        );
    }
    for now in [expires_at, expires_at + 1] {
        assert_eq!(
            find(&*store, organization, "key-1", at(now)).await,
            None,
            "at {now}"
        );
    }
    assert_eq!(find(&*store, organization, "key-2", at(T0)).await, None);
}

pub(crate) async fn an_answer_is_found_only_in_its_organization(store: Arc<dyn Store>) {
    let acme = ensure_acme(&*store).await;
    let globex = store.organization_ensure("globex").await.expect("globex");
    insert_with(&*store, "first@example.com", answer(acme, "key-1", at(T0)))
        .await
        .expect("insert");
    assert_eq!(find(&*store, globex, "key-1", at(T0)).await, None);
}

pub(crate) async fn the_same_key_in_two_organizations_is_two_answers(store: Arc<dyn Store>) {
    let acme = ensure_acme(&*store).await;
    let globex = store.organization_ensure("globex").await.expect("globex");
    let ours = answer(acme, "key-1", at(T0));
    let mut theirs = answer(globex, "key-1", at(T0 + 1));
    theirs.fingerprint = [0xcd; 32];
    theirs.body = b"theirs".to_vec();
    // The same email too: each organization's lead is its own.
    insert_with(&*store, "same@example.com", ours.clone())
        .await
        .expect("insert");
    insert_with(&*store, "same@example.com", theirs.clone())
        .await
        .expect("the same key in another organization");
    assert_eq!(find(&*store, acme, "key-1", at(T0 + 1)).await, Some(ours));
    assert_eq!(
        find(&*store, globex, "key-1", at(T0 + 1)).await,
        Some(theirs)
    );
}

pub(crate) async fn a_sweep_deletes_only_the_expired_and_counts_them(store: Arc<dyn Store>) {
    let acme = ensure_acme(&*store).await;
    let globex = store.organization_ensure("globex").await.expect("globex");
    // Each expires an hour after it is created: at T0 + HOUR + 0, 10, 20 and 30.
    let answers = [
        answer(acme, "expired-before", at(T0)),
        answer(globex, "expired-before", at(T0)),
        answer(acme, "expired-at", at(T0 + 10)),
        answer(globex, "alive", at(T0 + 20)),
        answer(acme, "alive", at(T0 + 30)),
    ];
    for (n, kept) in answers.iter().enumerate() {
        insert_with(&*store, &format!("s{n}@example.com"), kept.clone())
            .await
            .expect("insert");
    }
    let now = at(T0 + HOUR + 10);
    assert_eq!(store.idempotent_answers_sweep(now).await.expect("sweep"), 3);

    // Asked as of their creation, when none had expired: only the unexpired remain.
    for kept in &answers {
        let found = find(&*store, kept.organization, &kept.key, kept.created_at).await;
        let alive = kept.expires_at > now;
        assert_eq!(
            found.is_some(),
            alive,
            "{} {:?}",
            kept.key,
            kept.organization
        );
    }
    assert_eq!(store.idempotent_answers_sweep(now).await.expect("sweep"), 0);
    // The leads they answered stay.
    assert_eq!(list_all(&*store, acme).await.len(), 3);
    assert_eq!(list_all(&*store, globex).await.len(), 2);
}

pub(crate) async fn an_answer_of_another_organization_than_its_lead_is_refused(
    store: Arc<dyn Store>,
) {
    let acme = ensure_acme(&*store).await;
    let globex = store.organization_ensure("globex").await.expect("globex");
    let result = store
        .lead_insert(
            lead(acme, "mixed@example.com", at(T0)),
            Some(answer(globex, "key-1", at(T0))),
        )
        .await;
    assert_internal(result);
    assert!(list_all(&*store, acme).await.is_empty());
    assert_eq!(find(&*store, globex, "key-1", at(T0)).await, None);
}
