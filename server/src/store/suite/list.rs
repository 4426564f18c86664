//! The suite's tests of the list: its order, its limit, keyset paging and filters.

use std::collections::HashSet;
use std::sync::Arc;

use uuid::Uuid;

use super::{T0, at, ensure_acme, lead, list_all};
use crate::domain::{Keyset, Lead, LeadFilter, LeadStatus};
use crate::store::Store;

fn ids(leads: &[Lead]) -> Vec<Uuid> {
    leads.iter().map(|lead| lead.id).collect()
}

/// `leads` in the list order: newest first, then by id descending.
fn in_list_order(mut leads: Vec<Lead>) -> Vec<Lead> {
    leads.sort_by_key(|lead| std::cmp::Reverse((lead.created_at, lead.id)));
    leads
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
        store.lead_insert(lead, None).await.expect("insert");
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
        leads.push(store.lead_insert(lead, None).await.expect("insert"));
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
        leads.push(store.lead_insert(lead, None).await.expect("insert"));
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
        expected.push(store.lead_insert(lead, None).await.expect("insert"));
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
            let lead = store.lead_insert(lead, None).await.expect("insert");
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
        leads.push(store.lead_insert(lead, None).await.expect("insert"));
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
            ..LeadFilter::default()
        },
        LeadFilter {
            email: Some("F7@Example.COM".to_owned()),
            ..LeadFilter::default()
        },
        LeadFilter {
            email: Some("f7@example.com".to_owned()),
            status: Some(statuses[7 % 3]),
            ..LeadFilter::default()
        },
        LeadFilter {
            email: Some("f7@example.com".to_owned()),
            status: Some(statuses[8 % 3]),
            ..LeadFilter::default()
        },
        LeadFilter {
            email: Some("f7@example.co".to_owned()),
            ..LeadFilter::default()
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
                    && filter
                        .email
                        .as_ref()
                        .is_none_or(|email| lead.email.eq_ignore_ascii_case(email))
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

/// The email filter finds the one lead of the organization that holds the address, in any
/// case, beyond ASCII too; another organization's lead with the same email is not found.
pub(crate) async fn the_email_filter_finds_the_holder_in_any_case_within_the_organization(
    store: Arc<dyn Store>,
) {
    let organization = ensure_acme(&*store).await;
    let other = store
        .organization_ensure("globex")
        .await
        .expect("organization");
    let holder = store
        .lead_insert(lead(organization, "Zoë.Ünal@Example.com", at(T0)), None)
        .await
        .expect("insert");
    store
        .lead_insert(lead(other, "zoë.ünal@example.com", at(T0)), None)
        .await
        .expect("insert");
    store
        .lead_insert(lead(organization, "someone@example.com", at(T0)), None)
        .await
        .expect("insert");
    for asked in [
        "zoë.ünal@example.com",
        "ZOË.ÜNAL@EXAMPLE.COM",
        "Zoë.Ünal@Example.com",
    ] {
        let found = store
            .lead_list(
                organization,
                LeadFilter {
                    email: Some(asked.to_owned()),
                    ..LeadFilter::default()
                },
                None,
                10,
            )
            .await
            .expect("list");
        assert_eq!(ids(&found), [holder.id], "{asked}");
    }
}
