//! The suite's tests of single leads: round trips, tenancy, email uniqueness, updates, and
//! many at once.

use std::sync::Arc;

use serde_json::json;
use uuid::Uuid;

use super::{T0, assert_internal, at, ensure_acme, full_lead, lead, list_all, object};
use crate::domain::{Lead, LeadChanges, LeadFilter, LeadStatus};
use crate::store::{Store, StoreError};

pub(crate) async fn insert_then_get_round_trips_every_field(store: Arc<dyn Store>) {
    let organization = ensure_acme(&*store).await;
    let lead = full_lead(organization);
    let inserted = store.lead_insert(lead.clone(), None).await.expect("insert");
    assert_eq!(inserted, lead);
    assert_eq!(
        store.lead_get(organization, lead.id).await.expect("get"),
        Some(lead)
    );
}

pub(crate) async fn insert_then_get_round_trips_absent_fields(store: Arc<dyn Store>) {
    let organization = ensure_acme(&*store).await;
    let lead = lead(organization, "bare@example.com", at(T0));
    store.lead_insert(lead.clone(), None).await.expect("insert");
    assert_eq!(
        store.lead_get(organization, lead.id).await.expect("get"),
        Some(lead)
    );
}

pub(crate) async fn every_status_round_trips(store: Arc<dyn Store>) {
    let organization = ensure_acme(&*store).await;
    for (n, status) in LeadStatus::ALL.into_iter().enumerate() {
        let mut lead = lead(organization, &format!("s{n}@example.com"), at(T0));
        lead.status = status;
        store.lead_insert(lead.clone(), None).await.expect("insert");
        let got = store.lead_get(organization, lead.id).await.expect("get");
        assert_eq!(got.map(|lead| lead.status), Some(status));
    }
}

pub(crate) async fn get_of_an_unknown_lead_is_none(store: Arc<dyn Store>) {
    let organization = ensure_acme(&*store).await;
    assert_eq!(
        store
            .lead_get(organization, Uuid::new_v4())
            .await
            .expect("get"),
        None
    );
}

pub(crate) async fn another_organizations_lead_is_invisible(store: Arc<dyn Store>) {
    let acme = ensure_acme(&*store).await;
    let globex = store.organization_ensure("globex").await.expect("globex");
    let theirs = store
        .lead_insert(full_lead(globex), None)
        .await
        .expect("insert");

    assert_eq!(store.lead_get(acme, theirs.id).await.expect("get"), None);
    let changes = LeadChanges {
        full_name: Some("Hijacked".to_owned()),
        ..LeadChanges::default()
    };
    assert_eq!(
        store
            .lead_update(acme, theirs.id, changes, None, at(T0 + 5))
            .await
            .expect("update"),
        None
    );
    assert_eq!(
        store
            .lead_update(acme, theirs.id, LeadChanges::default(), None, at(T0 + 5))
            .await
            .expect("empty update"),
        None
    );
    assert!(list_all(&*store, acme).await.is_empty());
    let filtered = LeadFilter {
        status: Some(theirs.status),
        utm_source: theirs.source.utm_source.clone(),
        assigned_to_id: theirs.assigned_to_id.clone(),
        email: Some(theirs.email.clone()),
    };
    assert!(
        store
            .lead_list(acme, filtered, None, 10)
            .await
            .expect("list")
            .is_empty()
    );

    assert_eq!(
        store.lead_get(globex, theirs.id).await.expect("get"),
        Some(theirs.clone()),
        "the other organization's lead is unchanged"
    );
    assert_eq!(list_all(&*store, globex).await, [theirs]);
}

pub(crate) async fn an_email_is_taken_case_insensitively_within_an_organization(
    store: Arc<dyn Store>,
) {
    let acme = ensure_acme(&*store).await;
    let first = lead(acme, "Zoë.Doe@Example.com", at(T0));
    store
        .lead_insert(first.clone(), None)
        .await
        .expect("insert");

    // `to_lowercase` folds beyond ASCII: Ë is Zoë's capital.
    for email in ["zoë.doe@example.com", "ZOË.DOE@EXAMPLE.COM"] {
        let result = store.lead_insert(lead(acme, email, at(T0 + 1)), None).await;
        assert!(
            matches!(result, Err(StoreError::EmailTaken)),
            "{email}: {result:?}"
        );
    }
    assert_eq!(list_all(&*store, acme).await, [first]);

    let globex = store.organization_ensure("globex").await.expect("globex");
    store
        .lead_insert(lead(globex, "Zoë.Doe@Example.com", at(T0)), None)
        .await
        .expect("the same email in another organization");
}

pub(crate) async fn a_duplicate_id_is_not_mistaken_for_a_taken_email(store: Arc<dyn Store>) {
    let acme = ensure_acme(&*store).await;
    let first = lead(acme, "one@example.com", at(T0));
    store
        .lead_insert(first.clone(), None)
        .await
        .expect("insert");
    let mut again = lead(acme, "two@example.com", at(T0));
    again.id = first.id;
    assert_internal(store.lead_insert(again, None).await);
}

pub(crate) async fn an_update_changes_only_the_given_fields(store: Arc<dyn Store>) {
    let organization = ensure_acme(&*store).await;
    let before = store
        .lead_insert(full_lead(organization), None)
        .await
        .expect("insert");
    let now = at(T0 + 60_000_000);
    let changes = LeadChanges {
        email: Some("ada@example.org".to_owned()),
        status: Some(LeadStatus::Contacted),
        assigned_to_id: Some("user_7".to_owned()),
        ..LeadChanges::default()
    };

    let after = store
        .lead_update(organization, before.id, changes, None, now)
        .await
        .expect("update")
        .expect("the lead exists");

    let expected = Lead {
        email: "ada@example.org".to_owned(),
        status: LeadStatus::Contacted,
        assigned_to_id: Some("user_7".to_owned()),
        updated_at: now,
        version: before.version + 1,
        ..before.clone()
    };
    assert_eq!(after, expected);
    assert_eq!(
        store.lead_get(organization, before.id).await.expect("get"),
        Some(expected)
    );
}

pub(crate) async fn an_update_can_set_every_changeable_field(store: Arc<dyn Store>) {
    let organization = ensure_acme(&*store).await;
    let before = store
        .lead_insert(lead(organization, "bare@example.com", at(T0)), None)
        .await
        .expect("insert");
    let notes = vec![object(json!({"content": "hi", "pinned": true}))];
    let changes = LeadChanges {
        email: Some("Bare@Example.org".to_owned()),
        full_name: Some("Bare Lead".to_owned()),
        phone: Some("+1 555 0100".to_owned()),
        company: Some("Bare Inc".to_owned()),
        timezone: Some("America/New_York".to_owned()),
        status: Some(LeadStatus::Lost),
        assigned_to_id: Some("user_1".to_owned()),
        notes: Some(notes.clone()),
    };
    let now = at(T0 + 10);
    let after = store
        .lead_update(organization, before.id, changes, None, now)
        .await
        .expect("update");
    let expected = Lead {
        email: "Bare@Example.org".to_owned(),
        full_name: Some("Bare Lead".to_owned()),
        phone: Some("+1 555 0100".to_owned()),
        company: Some("Bare Inc".to_owned()),
        timezone: Some("America/New_York".to_owned()),
        status: LeadStatus::Lost,
        assigned_to_id: Some("user_1".to_owned()),
        notes,
        updated_at: now,
        version: before.version + 1,
        ..before
    };
    assert_eq!(after, Some(expected));
}

pub(crate) async fn an_update_replaces_every_note(store: Arc<dyn Store>) {
    let organization = ensure_acme(&*store).await;
    let before = store
        .lead_insert(full_lead(organization), None)
        .await
        .expect("insert");
    assert_eq!(before.notes.len(), 2);
    let replacement = vec![object(json!({"content": "only", "custom": [1, 2]}))];
    let changes = LeadChanges {
        notes: Some(replacement.clone()),
        ..LeadChanges::default()
    };
    let after = store
        .lead_update(organization, before.id, changes, None, at(T0 + 9))
        .await
        .expect("update")
        .expect("the lead exists");
    assert_eq!(after.notes, replacement);

    let cleared = LeadChanges {
        notes: Some(Vec::new()),
        ..LeadChanges::default()
    };
    let after = store
        .lead_update(organization, before.id, cleared, None, at(T0 + 10))
        .await
        .expect("update")
        .expect("the lead exists");
    assert!(after.notes.is_empty());
}

pub(crate) async fn an_empty_update_leaves_the_lead_untouched(store: Arc<dyn Store>) {
    let organization = ensure_acme(&*store).await;
    let before = store
        .lead_insert(full_lead(organization), None)
        .await
        .expect("insert");
    let after = store
        .lead_update(
            organization,
            before.id,
            LeadChanges::default(),
            None,
            at(T0 + 99),
        )
        .await
        .expect("update");
    assert_eq!(after, Some(before.clone()));
    assert_eq!(
        store.lead_get(organization, before.id).await.expect("get"),
        Some(before)
    );
}

pub(crate) async fn an_update_of_an_unknown_lead_is_none(store: Arc<dyn Store>) {
    let organization = ensure_acme(&*store).await;
    let changes = LeadChanges {
        company: Some("Nobody".to_owned()),
        ..LeadChanges::default()
    };
    assert_eq!(
        store
            .lead_update(organization, Uuid::new_v4(), changes, None, at(T0))
            .await
            .expect("update"),
        None
    );
}

pub(crate) async fn an_update_to_a_taken_email_fails_and_changes_nothing(store: Arc<dyn Store>) {
    let organization = ensure_acme(&*store).await;
    store
        .lead_insert(lead(organization, "taken@example.com", at(T0)), None)
        .await
        .expect("insert");
    let other = store
        .lead_insert(lead(organization, "other@example.com", at(T0 + 1)), None)
        .await
        .expect("insert");
    let changes = LeadChanges {
        email: Some("TAKEN@example.com".to_owned()),
        full_name: Some("Should not stick".to_owned()),
        ..LeadChanges::default()
    };
    let result = store
        .lead_update(organization, other.id, changes, None, at(T0 + 2))
        .await;
    assert!(matches!(result, Err(StoreError::EmailTaken)), "{result:?}");
    assert_eq!(
        store.lead_get(organization, other.id).await.expect("get"),
        Some(other)
    );
}

pub(crate) async fn a_lead_may_change_the_case_of_its_own_email(store: Arc<dyn Store>) {
    let organization = ensure_acme(&*store).await;
    let before = store
        .lead_insert(lead(organization, "mixed@example.com", at(T0)), None)
        .await
        .expect("insert");
    let changes = LeadChanges {
        email: Some("Mixed@Example.com".to_owned()),
        ..LeadChanges::default()
    };
    let after = store
        .lead_update(organization, before.id, changes, None, at(T0 + 1))
        .await
        .expect("update")
        .expect("the lead exists");
    assert_eq!(after.email, "Mixed@Example.com");
    // The old spelling is free no more: email_lower moved with it.
    let result = store
        .lead_insert(lead(organization, "MIXED@example.com", at(T0 + 2)), None)
        .await;
    assert!(matches!(result, Err(StoreError::EmailTaken)), "{result:?}");
}

pub(crate) async fn an_old_email_is_free_once_changed(store: Arc<dyn Store>) {
    let organization = ensure_acme(&*store).await;
    let before = store
        .lead_insert(lead(organization, "old@example.com", at(T0)), None)
        .await
        .expect("insert");
    let changes = LeadChanges {
        email: Some("new@example.com".to_owned()),
        ..LeadChanges::default()
    };
    store
        .lead_update(organization, before.id, changes, None, at(T0 + 1))
        .await
        .expect("update");
    store
        .lead_insert(lead(organization, "OLD@example.com", at(T0 + 2)), None)
        .await
        .expect("the old email is free");
}

pub(crate) async fn concurrent_reads_and_writes_all_complete(store: Arc<dyn Store>) {
    let organization = ensure_acme(&*store).await;
    // Far more tasks than a backend has connections, so some must wait for one.
    let tasks: Vec<_> = (0..64)
        .map(|n| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let lead = lead(organization, &format!("c{n}@example.com"), at(T0 + n));
                let stored = store.lead_insert(lead, None).await?;
                store.health().await?;
                store
                    .lead_list(organization, LeadFilter::default(), None, 10)
                    .await?;
                store.lead_get(organization, stored.id).await
            })
        })
        .collect();
    for task in tasks {
        let got = task.await.expect("task").expect("store");
        assert!(got.is_some());
    }
    assert_eq!(list_all(&*store, organization).await.len(), 64);
}
