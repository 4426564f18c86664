//! The suite's tests of the `changed` order, which incremental sync walks: the order of
//! writes, per organization, resumable from any change without skipping one.

use std::collections::HashMap;
use std::sync::Arc;

use uuid::Uuid;

use super::{T0, at, ensure_acme, lead};
use crate::domain::{ChangedLead, LeadChanges, LeadFilter, LeadStatus, OrganizationId};
use crate::store::Store;

/// Every lead changed after `after`, in pages of `limit`, with its change.
async fn changed_after(
    store: &dyn Store,
    organization: OrganizationId,
    filter: &LeadFilter,
    after: i64,
) -> Vec<ChangedLead> {
    store
        .lead_list_changed(organization, filter.clone(), after, 1000)
        .await
        .expect("list changed leads")
}

fn ids(changed: &[ChangedLead]) -> Vec<Uuid> {
    changed.iter().map(|changed| changed.lead.id).collect()
}

fn status(status: LeadStatus) -> LeadChanges {
    LeadChanges {
        status: Some(status),
        ..LeadChanges::default()
    }
}

pub(crate) async fn the_changed_order_is_the_order_of_writes(store: Arc<dyn Store>) {
    let organization = ensure_acme(&*store).await;
    // Created newest first, so that the creation order cannot pass for the order of writes.
    let mut leads = Vec::new();
    for n in 0..3 {
        let lead = lead(organization, &format!("w{n}@example.com"), at(T0 - n));
        leads.push(store.lead_insert(lead, None).await.expect("insert"));
    }
    let all = LeadFilter::default();
    let first = changed_after(&*store, organization, &all, 0).await;
    assert_eq!(ids(&first), [leads[0].id, leads[1].id, leads[2].id]);
    assert!(first.windows(2).all(|pair| pair[0].change < pair[1].change));

    // An update moves its lead to the end, with the lead as it now is.
    let updated = store
        .lead_update(
            organization,
            leads[0].id,
            status(LeadStatus::Qualified),
            None,
            at(T0),
        )
        .await
        .expect("update")
        .expect("a lead");
    let then = changed_after(&*store, organization, &all, 0).await;
    assert_eq!(ids(&then), [leads[1].id, leads[2].id, leads[0].id]);
    assert_eq!(then[2].lead, updated);
    assert!(then[2].change > first[2].change);

    // An update that changes nothing is no change.
    store
        .lead_update(
            organization,
            leads[1].id,
            LeadChanges::default(),
            None,
            at(T0),
        )
        .await
        .expect("an empty update");
    let unchanged = changed_after(&*store, organization, &all, 0).await;
    assert_eq!(ids(&unchanged), ids(&then));

    // A deleted lead leaves the order.
    let deleted = store
        .lead_delete(organization, leads[2].id, None, at(T0))
        .await
        .expect("delete");
    assert!(deleted);
    let left = changed_after(&*store, organization, &all, 0).await;
    assert_eq!(ids(&left), [leads[1].id, leads[0].id]);
}

pub(crate) async fn a_walk_resumes_after_its_last_change_and_misses_none(store: Arc<dyn Store>) {
    let organization = ensure_acme(&*store).await;
    let mut latest = HashMap::new();
    for n in 0..5 {
        let lead = lead(organization, &format!("s{n}@example.com"), at(T0 + n));
        let lead = store.lead_insert(lead, None).await.expect("insert");
        latest.insert(lead.id, lead.version);
    }
    let mut seen: HashMap<Uuid, i64> = HashMap::new();
    let mut after = 0;
    let mut writes = 0..3;
    loop {
        let page = store
            .lead_list_changed(organization, LeadFilter::default(), after, 2)
            .await
            .expect("a page");
        let Some(last) = page.last() else { break };
        after = last.change;
        for changed in &page {
            seen.insert(changed.lead.id, changed.lead.version);
        }
        // Between pages, another client updates a lead already seen and creates one.
        if let Some(n) = writes.next() {
            let seen_one = page[0].lead.id;
            let updated = store
                .lead_update(
                    organization,
                    seen_one,
                    status(LeadStatus::Contacted),
                    None,
                    at(T0),
                )
                .await
                .expect("update")
                .expect("a lead");
            latest.insert(updated.id, updated.version);
            let new = lead(organization, &format!("new{n}@example.com"), at(T0 - 100));
            let new = store.lead_insert(new, None).await.expect("insert");
            latest.insert(new.id, new.version);
        }
    }
    // Every lead, as its last write left it: the walk skipped no change.
    assert_eq!(seen, latest);
    // And from where it stopped, nothing more until the next write.
    assert!(
        changed_after(&*store, organization, &LeadFilter::default(), after)
            .await
            .is_empty()
    );
}

pub(crate) async fn changes_are_the_organization_s_own_and_filtered(store: Arc<dyn Store>) {
    let organization = ensure_acme(&*store).await;
    let other = store
        .organization_ensure("globex")
        .await
        .expect("another organization");
    let ours = store
        .lead_insert(lead(organization, "ours@example.com", at(T0)), None)
        .await
        .expect("insert");
    let theirs = store
        .lead_insert(lead(other, "theirs@example.com", at(T0)), None)
        .await
        .expect("insert");
    let qualified = store
        .lead_insert(lead(organization, "qualified@example.com", at(T0)), None)
        .await
        .expect("insert");
    store
        .lead_update(
            organization,
            qualified.id,
            status(LeadStatus::Qualified),
            None,
            at(T0),
        )
        .await
        .expect("update");

    let all = LeadFilter::default();
    assert_eq!(
        ids(&changed_after(&*store, organization, &all, 0).await),
        [ours.id, qualified.id]
    );
    let their_changes = changed_after(&*store, other, &all, 0).await;
    assert_eq!(ids(&their_changes), [theirs.id]);
    // Each organization numbers its own changes.
    assert_eq!(their_changes[0].change, 1);
    let only_qualified = LeadFilter {
        status: Some(LeadStatus::Qualified),
        ..LeadFilter::default()
    };
    assert_eq!(
        ids(&changed_after(&*store, organization, &only_qualified, 0).await),
        [qualified.id]
    );
}
