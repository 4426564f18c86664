//! The suite's tests of lead versions and the conditions an update may set on them: a version
//! counts the changes, a condition it does not meet changes nothing, and of concurrent
//! updates on the same version only one succeeds.

use std::sync::Arc;

use uuid::Uuid;

use super::{T0, at, ensure_acme, full_lead, lead};
use crate::domain::{Lead, LeadChanges, VersionCondition};
use crate::store::{Store, StoreError};

/// Changes that set the full name.
fn rename(name: &str) -> LeadChanges {
    LeadChanges {
        full_name: Some(name.to_owned()),
        ..LeadChanges::default()
    }
}

/// The stored lead with this id, which the test knows exists.
async fn get(store: &dyn Store, lead: &Lead) -> Lead {
    store
        .lead_get(lead.organization_id, lead.id)
        .await
        .expect("get")
        .expect("the lead exists")
}

pub(crate) async fn a_new_lead_is_at_version_1(store: Arc<dyn Store>) {
    let organization = ensure_acme(&*store).await;
    let new = lead(organization, "new@example.com", at(T0));
    assert_eq!(new.version, 1);
    let inserted = store.lead_insert(new, None).await.expect("insert");
    assert_eq!(inserted.version, 1);
    assert_eq!(get(&*store, &inserted).await.version, 1);
}

pub(crate) async fn each_changing_update_adds_one_to_the_version(store: Arc<dyn Store>) {
    let organization = ensure_acme(&*store).await;
    let inserted = store
        .lead_insert(lead(organization, "v@example.com", at(T0)), None)
        .await
        .expect("insert");
    let mut last = inserted.clone();
    for n in 1..=3 {
        let updated = store
            .lead_update(
                organization,
                inserted.id,
                rename(&format!("Name {n}")),
                None,
                at(T0 + n),
            )
            .await
            .expect("update")
            .expect("the lead exists");
        assert_eq!(updated.version, 1 + n);
        assert_eq!(get(&*store, &inserted).await, updated);
        last = updated;
    }

    // No changes: neither the version nor `updated_at` moves.
    let untouched = store
        .lead_update(
            organization,
            inserted.id,
            LeadChanges::default(),
            None,
            at(T0 + 99),
        )
        .await
        .expect("empty update");
    assert_eq!(untouched, Some(last.clone()));
    assert_eq!(get(&*store, &inserted).await, last);
}

pub(crate) async fn any_admits_every_version(store: Arc<dyn Store>) {
    let organization = ensure_acme(&*store).await;
    let inserted = store
        .lead_insert(full_lead(organization), None)
        .await
        .expect("insert");
    let mut version = inserted.version;
    for n in 1..=2 {
        let updated = store
            .lead_update(
                organization,
                inserted.id,
                rename(&format!("Any {n}")),
                Some(VersionCondition::Any),
                at(T0 + n),
            )
            .await
            .expect("update")
            .expect("the lead exists");
        assert_eq!(updated.version, version + 1);
        assert_eq!(
            updated.full_name.as_deref(),
            Some(format!("Any {n}").as_str())
        );
        version = updated.version;
    }
    let current = get(&*store, &inserted).await;
    let untouched = store
        .lead_update(
            organization,
            inserted.id,
            LeadChanges::default(),
            Some(VersionCondition::Any),
            at(T0 + 99),
        )
        .await
        .expect("empty update");
    assert_eq!(untouched, Some(current));
}

pub(crate) async fn a_condition_the_version_meets_lets_the_update_through(store: Arc<dyn Store>) {
    let organization = ensure_acme(&*store).await;
    let inserted = store
        .lead_insert(lead(organization, "match@example.com", at(T0)), None)
        .await
        .expect("insert");
    let updated = store
        .lead_update(
            organization,
            inserted.id,
            rename("First"),
            Some(VersionCondition::OneOf(vec![1])),
            at(T0 + 1),
        )
        .await
        .expect("update")
        .expect("the lead exists");
    let expected = Lead {
        full_name: Some("First".to_owned()),
        updated_at: at(T0 + 1),
        version: 2,
        ..inserted.clone()
    };
    assert_eq!(updated, expected);

    // Any of several versions will do (`If-Match: "7", "2", "9"`).
    let updated = store
        .lead_update(
            organization,
            inserted.id,
            rename("Second"),
            Some(VersionCondition::OneOf(vec![7, 2, 9])),
            at(T0 + 2),
        )
        .await
        .expect("update")
        .expect("the lead exists");
    assert_eq!(updated.version, 3);
    assert_eq!(updated.full_name.as_deref(), Some("Second"));
    assert_eq!(get(&*store, &inserted).await, updated);

    let untouched = store
        .lead_update(
            organization,
            inserted.id,
            LeadChanges::default(),
            Some(VersionCondition::OneOf(vec![3])),
            at(T0 + 3),
        )
        .await
        .expect("empty update");
    assert_eq!(untouched, Some(updated));
}

pub(crate) async fn a_condition_the_version_fails_changes_nothing(store: Arc<dyn Store>) {
    let organization = ensure_acme(&*store).await;
    store
        .lead_insert(lead(organization, "taken@example.com", at(T0)), None)
        .await
        .expect("insert");
    let inserted = store
        .lead_insert(lead(organization, "stale@example.com", at(T0)), None)
        .await
        .expect("insert");
    let current = store
        .lead_update(organization, inserted.id, rename("Now"), None, at(T0 + 1))
        .await
        .expect("update")
        .expect("the lead exists");
    assert_eq!(current.version, 2);

    let attempts = [
        (VersionCondition::OneOf(vec![1]), rename("Stale")),
        (VersionCondition::OneOf(vec![1, 3]), rename("Stale")),
        (VersionCondition::OneOf(Vec::new()), rename("Stale")),
        // Even with nothing to change, the condition is the caller's to meet.
        (VersionCondition::OneOf(vec![1]), LeadChanges::default()),
        // The condition is checked first: what the update would have done does not matter.
        (
            VersionCondition::OneOf(vec![1]),
            LeadChanges {
                email: Some("TAKEN@example.com".to_owned()),
                ..LeadChanges::default()
            },
        ),
    ];
    for (condition, changes) in attempts {
        let result = store
            .lead_update(
                organization,
                inserted.id,
                changes.clone(),
                Some(condition.clone()),
                at(T0 + 2),
            )
            .await;
        assert!(
            matches!(result, Err(StoreError::VersionMismatch)),
            "{condition:?} {changes:?}: {result:?}"
        );
        assert_eq!(get(&*store, &inserted).await, current, "{condition:?}");
    }
}

pub(crate) async fn a_condition_on_a_missing_lead_is_none(store: Arc<dyn Store>) {
    let acme = ensure_acme(&*store).await;
    let globex = store.organization_ensure("globex").await.expect("globex");
    let theirs = store
        .lead_insert(lead(globex, "theirs@example.com", at(T0)), None)
        .await
        .expect("insert");
    for condition in [VersionCondition::Any, VersionCondition::OneOf(vec![1])] {
        for changes in [LeadChanges::default(), rename("Nobody")] {
            // An unknown id, and another organization's lead at the very version asked for.
            for id in [Uuid::new_v4(), theirs.id] {
                let result = store
                    .lead_update(
                        acme,
                        id,
                        changes.clone(),
                        Some(condition.clone()),
                        at(T0 + 1),
                    )
                    .await;
                assert!(
                    matches!(result, Ok(None)),
                    "{condition:?} {changes:?}: {result:?}"
                );
            }
        }
    }
    assert_eq!(get(&*store, &theirs).await, theirs);
}

pub(crate) async fn of_concurrent_updates_on_one_version_only_one_succeeds(store: Arc<dyn Store>) {
    let organization = ensure_acme(&*store).await;
    let inserted = store
        .lead_insert(lead(organization, "race@example.com", at(T0)), None)
        .await
        .expect("insert");
    let tasks: Vec<_> = (0..16)
        .map(|n| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let name = format!("Writer {n}");
                let result = store
                    .lead_update(
                        organization,
                        inserted.id,
                        rename(&name),
                        Some(VersionCondition::OneOf(vec![1])),
                        at(T0 + n),
                    )
                    .await;
                (name, result)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        match task.await.expect("task") {
            (name, Ok(Some(updated))) => winners.push((name, updated)),
            (_, Err(StoreError::VersionMismatch)) => {}
            (name, other) => panic!("{name}: {other:?}"),
        }
    }
    let [(name, updated)] = winners.as_slice() else {
        panic!("exactly one update wins: {winners:?}");
    };
    assert_eq!(updated.version, 2);
    assert_eq!(updated.full_name.as_ref(), Some(name));
    assert_eq!(&get(&*store, &inserted).await, updated);
}
