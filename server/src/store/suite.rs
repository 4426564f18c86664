//! The [`Store`] contract as tests that any backend must pass: round trips, tenancy, email
//! uniqueness, updates, list order, limits, keyset paging and filters, API keys,
//! organizations and concurrent use.
//!
//! A backend runs them all by invoking [`store_suite!`] with a factory of fresh, empty
//! stores, as `sqlite` does; what only one backend has (files, migrations, SQL) is tested in
//! that backend's own module. The fixtures here ([`lead`], [`full_lead`], …) serve those tests
//! too.

use std::any::Any;
use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use super::{KeyHash, Store, StoreError};
use crate::domain::{
    JsonObject, Keyset, Lead, LeadChanges, LeadFilter, LeadSource, LeadStatus, OrganizationId,
};

/// Declares one `#[tokio::test]` per test of the suite, each on a store of its own from
/// `$factory`, an `async fn() -> Subject`.
///
/// Every test below must be listed here: one left out is dead code, which the lint gate
/// refuses, and a name with no test does not compile.
macro_rules! store_suite {
    ($factory:path) => {
        $crate::store::suite::store_suite!(@tests $factory;
            insert_then_get_round_trips_every_field,
            insert_then_get_round_trips_absent_fields,
            every_status_round_trips,
            get_of_an_unknown_lead_is_none,
            another_organizations_lead_is_invisible,
            an_email_is_taken_case_insensitively_within_an_organization,
            a_duplicate_id_is_not_mistaken_for_a_taken_email,
            an_update_changes_only_the_given_fields,
            an_update_can_set_every_changeable_field,
            an_update_replaces_every_note,
            an_empty_update_leaves_the_lead_untouched,
            an_update_of_an_unknown_lead_is_none,
            an_update_to_a_taken_email_fails_and_changes_nothing,
            a_lead_may_change_the_case_of_its_own_email,
            an_old_email_is_free_once_changed,
            the_list_is_newest_first_with_ties_broken_by_id_descending,
            the_list_stops_at_the_limit,
            a_page_starts_strictly_after_its_keyset,
            walking_the_pages_returns_every_lead_once_despite_inserts_between_pages,
            the_list_filters_by_status_utm_source_and_assignee,
            api_keys_are_found_by_hash,
            an_api_key_of_an_unknown_organization_is_refused,
            a_new_database_is_empty_until_an_organization_exists,
            organization_ensure_is_idempotent,
            concurrent_reads_and_writes_all_complete(flavor = "multi_thread", worker_threads = 4),
        );
    };
    (@tests $factory:path; $($test:ident $(($($runtime:tt)*))?),+ $(,)?) => {
        $(
            #[tokio::test $(($($runtime)*))?]
            async fn $test() {
                let subject: $crate::store::suite::Subject = $factory().await;
                $crate::store::suite::$test(::std::sync::Arc::clone(&subject.store)).await;
            }
        )+
    };
}

pub(crate) use store_suite;

/// A fresh, empty store under test, and what must outlive it.
pub(crate) struct Subject {
    pub(crate) store: Arc<dyn Store>,
    /// Dropped after the store, since fields drop in order: e.g. the temporary directory
    /// holding the store's files.
    _outlives_the_store: Box<dyn Any + Send>,
}

impl Subject {
    pub(crate) fn new(store: impl Store, outlives_the_store: impl Any + Send) -> Subject {
        Subject {
            store: Arc::new(store),
            _outlives_the_store: Box::new(outlives_the_store),
        }
    }
}

/// 2023-11-14T22:13:20Z, in microseconds.
pub(crate) const T0: i64 = 1_700_000_000_000_000;

pub(crate) fn at(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).expect("a test timestamp in range")
}

pub(crate) fn object(value: serde_json::Value) -> JsonObject {
    match value {
        serde_json::Value::Object(object) => object,
        other => panic!("not a JSON object: {other}"),
    }
}

/// A lead with only the required fields set.
pub(crate) fn lead(organization: OrganizationId, email: &str, created_at: DateTime<Utc>) -> Lead {
    Lead {
        id: Uuid::new_v4(),
        organization_id: organization,
        email: email.to_owned(),
        full_name: None,
        phone: None,
        company: None,
        timezone: None,
        status: LeadStatus::New,
        assigned_to_id: None,
        source: LeadSource::default(),
        metadata: None,
        notes: Vec::new(),
        disqualification_data: None,
        payment_count: 0,
        payment_status: None,
        last_payment_at: None,
        total_paid_cents: 0,
        created_at,
        updated_at: created_at,
    }
}

/// A lead with every field set, JSON values holding keys the API does not know.
pub(crate) fn full_lead(organization: OrganizationId) -> Lead {
    Lead {
        id: Uuid::new_v4(),
        organization_id: organization,
        email: "Ada.Lovelace@Example.com".to_owned(),
        full_name: Some("Ada Lovelace".to_owned()),
        phone: Some("+44 20 7946 0000".to_owned()),
        company: Some("Analytical Engines Ltd".to_owned()),
        timezone: Some("Europe/London".to_owned()),
        status: LeadStatus::Qualified,
        assigned_to_id: Some("user_42".to_owned()),
        source: LeadSource {
            referrer: Some("https://news.example.com/".to_owned()),
            utm_campaign: Some("spring".to_owned()),
            utm_content: Some("banner".to_owned()),
            utm_medium: Some("cpc".to_owned()),
            utm_source: Some("google".to_owned()),
            utm_term: Some("engines".to_owned()),
        },
        metadata: Some(object(json!({
            "utm_source": "google",
            "referrer": "https://news.example.com/",
            "unknown_key": {"nested": [1, 2.5, null, true, "x"]},
            "unicode": "żółw 🐢",
        }))),
        notes: vec![
            object(json!({
                "content": "first call",
                "created_at": "2023-11-14T22:13:20Z",
                "user_id": "user_42",
                "extra": {"mood": "keen"},
            })),
            object(json!({"content": "second", "created_at": "2023-11-15T09:00:00Z"})),
        ],
        disqualification_data: Some(object(json!({"reason": "budget", "score": 3}))),
        payment_count: 2,
        payment_status: Some("paid".to_owned()),
        last_payment_at: Some(at(T0 + 123_456)),
        total_paid_cents: 199_900,
        created_at: at(T0),
        updated_at: at(T0 + 1),
    }
}

pub(crate) fn assert_internal<T: std::fmt::Debug>(result: Result<T, StoreError>) {
    assert!(
        matches!(result, Err(StoreError::Internal(_))),
        "expected an internal error, got {result:?}"
    );
}

/// The organization most tests work in.
async fn ensure_acme(store: &dyn Store) -> OrganizationId {
    store
        .organization_ensure("acme")
        .await
        .expect("organization")
}

async fn list_all(store: &dyn Store, organization: OrganizationId) -> Vec<Lead> {
    store
        .lead_list(organization, LeadFilter::default(), None, 1000)
        .await
        .expect("list")
}

fn ids(leads: &[Lead]) -> Vec<Uuid> {
    leads.iter().map(|lead| lead.id).collect()
}

/// `leads` in the list order: newest first, then by id descending.
fn in_list_order(mut leads: Vec<Lead>) -> Vec<Lead> {
    leads.sort_by_key(|lead| std::cmp::Reverse((lead.created_at, lead.id)));
    leads
}

pub(crate) async fn insert_then_get_round_trips_every_field(store: Arc<dyn Store>) {
    let organization = ensure_acme(&*store).await;
    let lead = full_lead(organization);
    let inserted = store.lead_insert(lead.clone()).await.expect("insert");
    assert_eq!(inserted, lead);
    assert_eq!(
        store.lead_get(organization, lead.id).await.expect("get"),
        Some(lead)
    );
}

pub(crate) async fn insert_then_get_round_trips_absent_fields(store: Arc<dyn Store>) {
    let organization = ensure_acme(&*store).await;
    let lead = lead(organization, "bare@example.com", at(T0));
    store.lead_insert(lead.clone()).await.expect("insert");
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
        store.lead_insert(lead.clone()).await.expect("insert");
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
    let theirs = store.lead_insert(full_lead(globex)).await.expect("insert");

    assert_eq!(store.lead_get(acme, theirs.id).await.expect("get"), None);
    let changes = LeadChanges {
        full_name: Some("Hijacked".to_owned()),
        ..LeadChanges::default()
    };
    assert_eq!(
        store
            .lead_update(acme, theirs.id, changes, at(T0 + 5))
            .await
            .expect("update"),
        None
    );
    assert_eq!(
        store
            .lead_update(acme, theirs.id, LeadChanges::default(), at(T0 + 5))
            .await
            .expect("empty update"),
        None
    );
    assert!(list_all(&*store, acme).await.is_empty());
    let filtered = LeadFilter {
        status: Some(theirs.status),
        utm_source: theirs.source.utm_source.clone(),
        assigned_to_id: theirs.assigned_to_id.clone(),
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
    store.lead_insert(first.clone()).await.expect("insert");

    // `to_lowercase` folds beyond ASCII: Ë is Zoë's capital.
    for email in ["zoë.doe@example.com", "ZOË.DOE@EXAMPLE.COM"] {
        let result = store.lead_insert(lead(acme, email, at(T0 + 1))).await;
        assert!(
            matches!(result, Err(StoreError::EmailTaken)),
            "{email}: {result:?}"
        );
    }
    assert_eq!(list_all(&*store, acme).await, [first]);

    let globex = store.organization_ensure("globex").await.expect("globex");
    store
        .lead_insert(lead(globex, "Zoë.Doe@Example.com", at(T0)))
        .await
        .expect("the same email in another organization");
}

pub(crate) async fn a_duplicate_id_is_not_mistaken_for_a_taken_email(store: Arc<dyn Store>) {
    let acme = ensure_acme(&*store).await;
    let first = lead(acme, "one@example.com", at(T0));
    store.lead_insert(first.clone()).await.expect("insert");
    let mut again = lead(acme, "two@example.com", at(T0));
    again.id = first.id;
    assert_internal(store.lead_insert(again).await);
}

pub(crate) async fn an_update_changes_only_the_given_fields(store: Arc<dyn Store>) {
    let organization = ensure_acme(&*store).await;
    let before = store
        .lead_insert(full_lead(organization))
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
        .lead_update(organization, before.id, changes, now)
        .await
        .expect("update")
        .expect("the lead exists");

    let expected = Lead {
        email: "ada@example.org".to_owned(),
        status: LeadStatus::Contacted,
        assigned_to_id: Some("user_7".to_owned()),
        updated_at: now,
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
        .lead_insert(lead(organization, "bare@example.com", at(T0)))
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
        .lead_update(organization, before.id, changes, now)
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
        ..before
    };
    assert_eq!(after, Some(expected));
}

pub(crate) async fn an_update_replaces_every_note(store: Arc<dyn Store>) {
    let organization = ensure_acme(&*store).await;
    let before = store
        .lead_insert(full_lead(organization))
        .await
        .expect("insert");
    assert_eq!(before.notes.len(), 2);
    let replacement = vec![object(json!({"content": "only", "custom": [1, 2]}))];
    let changes = LeadChanges {
        notes: Some(replacement.clone()),
        ..LeadChanges::default()
    };
    let after = store
        .lead_update(organization, before.id, changes, at(T0 + 9))
        .await
        .expect("update")
        .expect("the lead exists");
    assert_eq!(after.notes, replacement);

    let cleared = LeadChanges {
        notes: Some(Vec::new()),
        ..LeadChanges::default()
    };
    let after = store
        .lead_update(organization, before.id, cleared, at(T0 + 10))
        .await
        .expect("update")
        .expect("the lead exists");
    assert!(after.notes.is_empty());
}

pub(crate) async fn an_empty_update_leaves_the_lead_untouched(store: Arc<dyn Store>) {
    let organization = ensure_acme(&*store).await;
    let before = store
        .lead_insert(full_lead(organization))
        .await
        .expect("insert");
    let after = store
        .lead_update(organization, before.id, LeadChanges::default(), at(T0 + 99))
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
            .lead_update(organization, Uuid::new_v4(), changes, at(T0))
            .await
            .expect("update"),
        None
    );
}

pub(crate) async fn an_update_to_a_taken_email_fails_and_changes_nothing(store: Arc<dyn Store>) {
    let organization = ensure_acme(&*store).await;
    store
        .lead_insert(lead(organization, "taken@example.com", at(T0)))
        .await
        .expect("insert");
    let other = store
        .lead_insert(lead(organization, "other@example.com", at(T0 + 1)))
        .await
        .expect("insert");
    let changes = LeadChanges {
        email: Some("TAKEN@example.com".to_owned()),
        full_name: Some("Should not stick".to_owned()),
        ..LeadChanges::default()
    };
    let result = store
        .lead_update(organization, other.id, changes, at(T0 + 2))
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
        .lead_insert(lead(organization, "mixed@example.com", at(T0)))
        .await
        .expect("insert");
    let changes = LeadChanges {
        email: Some("Mixed@Example.com".to_owned()),
        ..LeadChanges::default()
    };
    let after = store
        .lead_update(organization, before.id, changes, at(T0 + 1))
        .await
        .expect("update")
        .expect("the lead exists");
    assert_eq!(after.email, "Mixed@Example.com");
    // The old spelling is free no more: email_lower moved with it.
    let result = store
        .lead_insert(lead(organization, "MIXED@example.com", at(T0 + 2)))
        .await;
    assert!(matches!(result, Err(StoreError::EmailTaken)), "{result:?}");
}

pub(crate) async fn an_old_email_is_free_once_changed(store: Arc<dyn Store>) {
    let organization = ensure_acme(&*store).await;
    let before = store
        .lead_insert(lead(organization, "old@example.com", at(T0)))
        .await
        .expect("insert");
    let changes = LeadChanges {
        email: Some("new@example.com".to_owned()),
        ..LeadChanges::default()
    };
    store
        .lead_update(organization, before.id, changes, at(T0 + 1))
        .await
        .expect("update");
    store
        .lead_insert(lead(organization, "OLD@example.com", at(T0 + 2)))
        .await
        .expect("the old email is free");
}

pub(crate) async fn the_list_is_newest_first_with_ties_broken_by_id_descending(
    store: Arc<dyn Store>,
) {
    let organization = ensure_acme(&*store).await;
    // Ids whose first digits compare differently as text and as numbers if case or
    // format were wrong: 0x0f < 0x9a < 0xa0 < 0xff.
    let tied = [0x0f, 0x9a, 0xa0, 0xff].map(|first: u128| Uuid::from_u128((first << 120) | 7));
    let mut leads = Vec::new();
    for (n, id) in tied.into_iter().enumerate() {
        let mut lead = lead(organization, &format!("tie{n}@example.com"), at(T0));
        lead.id = id;
        leads.push(lead);
    }
    leads.push(lead(organization, "older@example.com", at(T0 - 1)));
    leads.push(lead(organization, "newer@example.com", at(T0 + 1)));
    // Inserted in an order unlike the list order, so the insertion order cannot pass.
    for lead in [3, 0, 5, 2, 4, 1].map(|n| leads[n].clone()) {
        store.lead_insert(lead).await.expect("insert");
    }

    let listed = list_all(&*store, organization).await;
    let expected = ids(&in_list_order(leads.clone()));
    assert_eq!(ids(&listed), expected);
    let newest = &leads[5];
    let oldest = &leads[4];
    assert_eq!(listed.first().map(|lead| lead.id), Some(newest.id));
    assert_eq!(listed.last().map(|lead| lead.id), Some(oldest.id));
    assert_eq!(
        ids(&listed[1..5]),
        [tied[3], tied[2], tied[1], tied[0]],
        "ties by id descending"
    );
}

pub(crate) async fn the_list_stops_at_the_limit(store: Arc<dyn Store>) {
    let organization = ensure_acme(&*store).await;
    let mut leads = Vec::new();
    for n in 0..5 {
        let lead = lead(organization, &format!("l{n}@example.com"), at(T0 + n));
        leads.push(store.lead_insert(lead).await.expect("insert"));
    }
    let page = store
        .lead_list(organization, LeadFilter::default(), None, 2)
        .await
        .expect("list");
    assert_eq!(ids(&page), ids(&in_list_order(leads)[..2]));
    assert!(
        store
            .lead_list(organization, LeadFilter::default(), None, 0)
            .await
            .expect("list")
            .is_empty()
    );
}

pub(crate) async fn a_page_starts_strictly_after_its_keyset(store: Arc<dyn Store>) {
    let organization = ensure_acme(&*store).await;
    let mut leads = Vec::new();
    for n in 0..6 {
        // Pairs share a timestamp, so the keyset's id matters.
        let lead = lead(organization, &format!("k{n}@example.com"), at(T0 + n / 2));
        leads.push(store.lead_insert(lead).await.expect("insert"));
    }
    let ordered = in_list_order(leads);
    for (n, cursor) in ordered.iter().enumerate() {
        let page = store
            .lead_list(
                organization,
                LeadFilter::default(),
                Some(cursor.keyset()),
                100,
            )
            .await
            .expect("list");
        assert_eq!(ids(&page), ids(&ordered[n + 1..]), "after lead {n}");
    }
    // A keyset need not be a stored lead's.
    let between = Keyset {
        created_at: ordered[2].created_at,
        id: Uuid::max(),
    };
    let page = store
        .lead_list(organization, LeadFilter::default(), Some(between), 100)
        .await
        .expect("list");
    let tied_or_older: Vec<Uuid> = ordered
        .iter()
        .filter(|lead| lead.created_at <= between.created_at)
        .map(|lead| lead.id)
        .collect();
    assert_eq!(ids(&page), tied_or_older);
}

pub(crate) async fn walking_the_pages_returns_every_lead_once_despite_inserts_between_pages(
    store: Arc<dyn Store>,
) {
    let organization = ensure_acme(&*store).await;
    let mut expected = Vec::new();
    for n in 0..11 {
        // Three leads per timestamp and four per page: page breaks fall inside ties.
        let lead = lead(organization, &format!("w{n}@example.com"), at(T0 + n / 3));
        expected.push(store.lead_insert(lead).await.expect("insert"));
    }

    let mut seen = Vec::new();
    let mut after: Option<Keyset> = None;
    let mut inserted: u32 = 0;
    loop {
        let page = store
            .lead_list(organization, LeadFilter::default(), after, 4)
            .await
            .expect("list");
        seen.extend(page.iter().cloned());
        let Some(last) = page.last() else { break };
        let cursor = last.keyset();
        after = Some(cursor);
        // Older leads inserted on every page would keep the walk going for ever.
        if inserted == 2 {
            continue;
        }

        // Before the cursor (newer, or as new with a larger id): never on a later page.
        // After it (older, or as new with a smaller id): on a later page.
        let newer = lead(
            organization,
            &format!("n{inserted}@example.com"),
            at(T0 + 100),
        );
        let mut tied_larger = lead(
            organization,
            &format!("tl{inserted}@example.com"),
            cursor.created_at,
        );
        tied_larger.id = Uuid::from_u128(u128::MAX - u128::from(inserted));
        let mut tied_smaller = lead(
            organization,
            &format!("ts{inserted}@example.com"),
            cursor.created_at,
        );
        tied_smaller.id = Uuid::from_u128(u128::from(inserted));
        let older = lead(
            organization,
            &format!("o{inserted}@example.com"),
            at(T0 - 100 - i64::from(inserted)),
        );
        inserted += 1;
        for lead in [newer, tied_larger, tied_smaller, older] {
            let lead = store.lead_insert(lead).await.expect("insert");
            if (lead.created_at, lead.id) < (cursor.created_at, cursor.id) {
                expected.push(lead);
            }
        }
    }

    let unique: HashSet<Uuid> = seen.iter().map(|lead| lead.id).collect();
    assert_eq!(unique.len(), seen.len(), "no lead twice");
    assert_eq!(ids(&seen), ids(&in_list_order(expected)));
    let listed = |prefix: &str| {
        seen.iter()
            .filter(|lead| lead.email.starts_with(prefix))
            .count()
    };
    assert_eq!(listed("o"), 2, "older leads inserted meanwhile are listed");
    assert_eq!(listed("n"), 0, "newer leads inserted meanwhile are not");
    assert_eq!(
        listed("tl"),
        0,
        "nor those tied with the cursor, with a larger id"
    );
}

pub(crate) async fn the_list_filters_by_status_utm_source_and_assignee(store: Arc<dyn Store>) {
    let organization = ensure_acme(&*store).await;
    let mut leads = Vec::new();
    let statuses = [LeadStatus::New, LeadStatus::Qualified, LeadStatus::Lost];
    let sources = [Some("google"), Some("bing"), None];
    let assignees = [Some("user_1"), None, Some("user_2"), Some("user_1")];
    for n in 0..24_usize {
        let mut lead = lead(
            organization,
            &format!("f{n}@example.com"),
            at(T0 + i64::try_from(n % 5).expect("small")),
        );
        lead.status = statuses[n % 3];
        lead.source.utm_source = sources[n / 3 % 3].map(str::to_owned);
        lead.assigned_to_id = assignees[n % 4].map(str::to_owned);
        leads.push(store.lead_insert(lead).await.expect("insert"));
    }

    let filters = [
        LeadFilter {
            status: Some(LeadStatus::Qualified),
            ..LeadFilter::default()
        },
        LeadFilter {
            status: Some(LeadStatus::Closed),
            ..LeadFilter::default()
        },
        LeadFilter {
            utm_source: Some("google".to_owned()),
            ..LeadFilter::default()
        },
        LeadFilter {
            utm_source: Some("GOOGLE".to_owned()),
            ..LeadFilter::default()
        },
        LeadFilter {
            assigned_to_id: Some("user_1".to_owned()),
            ..LeadFilter::default()
        },
        LeadFilter {
            status: Some(LeadStatus::New),
            utm_source: Some("bing".to_owned()),
            assigned_to_id: Some("user_1".to_owned()),
        },
    ];
    for filter in filters {
        let matching: Vec<Lead> = leads
            .iter()
            .filter(|lead| {
                filter.status.is_none_or(|status| lead.status == status)
                    && filter
                        .utm_source
                        .as_ref()
                        .is_none_or(|source| lead.source.utm_source.as_ref() == Some(source))
                    && filter
                        .assigned_to_id
                        .as_ref()
                        .is_none_or(|user| lead.assigned_to_id.as_ref() == Some(user))
            })
            .cloned()
            .collect();
        let expected = ids(&in_list_order(matching));

        let listed = store
            .lead_list(organization, filter.clone(), None, 1000)
            .await
            .expect("list");
        assert_eq!(ids(&listed), expected, "{filter:?}");

        // And page by page, so the filter and the keyset bind in the right places.
        let mut paged = Vec::new();
        let mut after = None;
        loop {
            let page = store
                .lead_list(organization, filter.clone(), after, 2)
                .await
                .expect("list");
            let Some(last) = page.last() else { break };
            after = Some(last.keyset());
            paged.extend(ids(&page));
        }
        assert_eq!(paged, expected, "paged {filter:?}");
    }
}

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

pub(crate) async fn concurrent_reads_and_writes_all_complete(store: Arc<dyn Store>) {
    let organization = ensure_acme(&*store).await;
    // Far more tasks than a backend has connections, so some must wait for one.
    let tasks: Vec<_> = (0..64)
        .map(|n| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let lead = lead(organization, &format!("c{n}@example.com"), at(T0 + n));
                let stored = store.lead_insert(lead).await?;
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
