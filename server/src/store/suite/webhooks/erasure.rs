//! Erasure of a lead (`lead_delete`): the lead gone and its email free, its copies in the
//! outbox (delivered or not) and in kept answers gone, nothing of another lead touched, one
//! `lead.deleted` delivery to its subscribers, and the version condition honoured.

use super::*;

/// Deletes the organization's lead at `T0 + seconds`, unconditionally.
async fn delete(store: &dyn Store, organization: OrganizationId, id: Uuid, seconds: i64) -> bool {
    store
        .lead_delete(organization, id, None, at(T0 + seconds * SECOND))
        .await
        .expect("delete")
}

/// A kept answer under `key` whose body holds `email`, as a create's answer does.
fn kept(organization: OrganizationId, key: &str, email: &str) -> IdempotentAnswer {
    IdempotentAnswer {
        organization,
        key: key.to_owned(),
        fingerprint: [3; 32],
        status: 201,
        body: format!("{{\"data\":{{\"email\":\"{email}\"}},\"success\":true}}").into_bytes(),
        created_at: at(T0),
        expires_at: later(),
    }
}

pub(crate) async fn a_deleted_lead_is_gone_and_its_email_free(store: Arc<dyn Store>) {
    let organization = ensure_acme(&*store).await;
    let globex = store.organization_ensure("globex").await.expect("globex");
    let gone = create(&*store, organization, "Erase.Me@example.com", 1).await;

    // Another organization's delete finds nothing and changes nothing.
    assert!(!delete(&*store, globex, gone.id, 2).await);
    assert!(
        store
            .lead_get(organization, gone.id)
            .await
            .expect("get")
            .is_some()
    );

    assert!(delete(&*store, organization, gone.id, 3).await);
    assert_eq!(
        store.lead_get(organization, gone.id).await.expect("get"),
        None
    );
    assert_eq!(list_all(&*store, organization).await, []);
    // Gone for every write too: a second delete and an update find nothing.
    assert!(!delete(&*store, organization, gone.id, 4).await);
    let updated = store
        .lead_update(
            organization,
            gone.id,
            rename("Again"),
            None,
            at(T0 + 5 * SECOND),
        )
        .await
        .expect("update");
    assert_eq!(updated, None);
    // Its email, in any case, is free again.
    create(&*store, organization, "erase.me@EXAMPLE.com", 6).await;
}

pub(crate) async fn a_delete_erases_the_leads_events_and_kept_answers_only(store: Arc<dyn Store>) {
    let organization = ensure_acme(&*store).await;
    for event in EventType::ALL {
        subscribe(&*store, organization, event).await;
    }
    let gone = store
        .lead_insert(
            lead(organization, "gone@example.com", at(T0 + SECOND)),
            Some(kept(organization, "gone-key", "gone@example.com")),
        )
        .await
        .expect("insert the lead to delete");
    let stays = store
        .lead_insert(
            lead(organization, "stays@example.com", at(T0 + SECOND)),
            Some(kept(organization, "stays-key", "stays@example.com")),
        )
        .await
        .expect("insert the lead that stays");
    store
        .lead_update(
            organization,
            gone.id,
            rename("Gone"),
            None,
            at(T0 + 2 * SECOND),
        )
        .await
        .expect("update");
    // One of its deliveries delivered already: delivered events are erased too.
    let claimed = claim(&*store, at(T0 + 2 * SECOND), 10).await;
    let delivered = claimed
        .iter()
        .find(|due| body(due)["data"]["id"] == gone.id.to_string())
        .expect("a delivery about the lead to delete");
    record(
        &*store,
        attempt(delivered.id, at(T0 + 2 * SECOND), AttemptOutcome::Delivered),
        10,
    )
    .await;
    let before = deliveries(&*store, organization, None).await;
    assert_eq!(before.len(), 3, "created twice, updated once: {before:?}");

    assert!(delete(&*store, organization, gone.id, 3).await);

    // What stays: the other lead's creation, and the deletion's one delivery.
    let after = deliveries(&*store, organization, None).await;
    let mut types: Vec<EventType> = after.iter().map(|delivery| delivery.event_type).collect();
    types.sort_by_key(|event| event.as_str());
    assert_eq!(
        types,
        [EventType::LeadCreated, EventType::LeadDeleted],
        "{after:?}"
    );
    let due = claim_all(&*store).await;
    let bodies: Vec<Value> = due.iter().map(body).collect();
    let created = bodies
        .iter()
        .find(|body| body["event"] == "lead.created")
        .expect("the other lead's creation is still due");
    assert_eq!(created["data"]["id"], stays.id.to_string());
    let deleted = bodies
        .iter()
        .find(|body| body["event"] == "lead.deleted")
        .expect("the deletion is due");
    assert_eq!(deleted["data"]["id"], gone.id.to_string());
    assert_eq!(deleted["created_at"], json_time(at(T0 + 3 * SECOND)));
    assert!(
        due.iter()
            .all(|delivery| !delivery.body.contains("gone@example.com")),
        "no event holds the deleted lead's email: {bodies:?}"
    );

    // Its kept answer is gone; the other lead's stays.
    let find = |key: &'static str| {
        let store = Arc::clone(&store);
        async move {
            store
                .idempotent_answer_find(organization, key, at(T0 + 4 * SECOND))
                .await
                .expect("find")
        }
    };
    assert_eq!(find("gone-key").await, None);
    assert!(find("stays-key").await.is_some());
}

pub(crate) async fn a_delete_honours_the_version_condition(store: Arc<dyn Store>) {
    let organization = ensure_acme(&*store).await;
    let lead = create(&*store, organization, "versioned@example.com", 1).await;
    let stale = VersionCondition::OneOf(vec![lead.version + 1]);
    let refused = store
        .lead_delete(organization, lead.id, Some(stale), at(T0 + 2 * SECOND))
        .await;
    assert!(
        matches!(refused, Err(StoreError::VersionMismatch)),
        "{refused:?}"
    );
    assert!(
        store
            .lead_get(organization, lead.id)
            .await
            .expect("get")
            .is_some()
    );

    let current = VersionCondition::OneOf(vec![lead.version]);
    let deleted = store
        .lead_delete(organization, lead.id, Some(current), at(T0 + 3 * SECOND))
        .await
        .expect("delete");
    assert!(deleted);
    // A condition on a lead that is gone: none, whatever the condition.
    let missing = store
        .lead_delete(
            organization,
            lead.id,
            Some(VersionCondition::Any),
            at(T0 + 4 * SECOND),
        )
        .await
        .expect("delete again");
    assert!(!missing);
}

/// A time as the test renderer writes it.
fn json_time(time: DateTime<Utc>) -> Value {
    serde_json::to_value(time).expect("a time")
}
