//! The `leads` table's own tests: its columns, the plans of its list queries, and what a
//! corrupt row reads as.

use super::super::tests::{first_column, open, open_with_a_lead, raw};
use super::*;
use crate::store::prelude::*;
use crate::store::suite::{T0, assert_internal, at, filters_and_their_indexes};

#[tokio::test]
async fn the_row_has_every_column_of_the_table() {
    let (dir, _store, _) = open().await;
    let table = first_column(
        &raw(&dir),
        "SELECT name FROM pragma_table_info('leads') ORDER BY cid",
    );
    // In the table's order too, so that the row reads like the schema.
    assert_eq!(table, LeadRow::COLUMNS);
}

/// The steps of `sql`'s plan, as `EXPLAIN QUERY PLAN` details them.
fn query_plan(raw: &rusqlite::Connection, sql: &str, parameters: Vec<Value>) -> Vec<String> {
    raw.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .and_then(|mut statement| {
            statement
                .query_map(params_from_iter(parameters), |row| row.get(3))?
                .collect::<rusqlite::Result<_>>()
        })
        .expect("plan")
}

/// The email filter is one lookup in the unique index of emails, whatever else is asked.
#[tokio::test]
async fn the_email_filter_reads_the_unique_index() {
    let (dir, _store, organization) = open().await;
    let raw = raw(&dir);
    let filter = LeadFilter {
        email: Some("A@example.com".to_owned()),
        status: Some(LeadStatus::New),
        ..LeadFilter::default()
    };
    let keyset = Keyset {
        created_at: at(T0),
        id: Uuid::new_v4(),
    };
    for after in [None, Some(keyset)] {
        let (sql, parameters) = list_query(organization, &filter, after, 10);
        let plan = query_plan(&raw, &sql, parameters);
        assert_eq!(
            plan,
            [
                "SEARCH leads USING INDEX sqlite_autoindex_leads_2 (organization_id=? AND email_lower=?)"
            ],
            "{after:?}"
        );
    }
}

#[tokio::test]
async fn the_changed_order_reads_its_index_in_order_and_each_lead_by_its_key() {
    let (dir, _store, organization) = open().await;
    let raw = raw(&dir);
    for (filter, _) in filters_and_their_indexes() {
        let (sql, parameters) = changed_query(organization, &filter, 41, 10);
        let plan = query_plan(&raw, &sql, parameters).join("; ");
        assert!(
            plan.starts_with(
                "SEARCH lead_changes USING INDEX lead_changes_in_order \
                 (organization_id=? AND change>?); \
                 SEARCH leads USING INDEX sqlite_autoindex_leads_1 (id=?)"
            ),
            "{filter:?}: {plan}"
        );
        assert!(!plan.contains("TEMP B-TREE"), "{filter:?}: {plan}");
    }
}

#[tokio::test]
async fn each_list_query_reads_an_index_in_order() {
    let (dir, _store, organization) = open().await;
    let raw = raw(&dir);
    let keyset = Keyset {
        created_at: at(T0),
        id: Uuid::new_v4(),
    };
    for (filter, index) in filters_and_their_indexes() {
        for after in [None, Some(keyset)] {
            let (sql, parameters) = list_query(organization, &filter, after, 10);
            let plan = query_plan(&raw, &sql, parameters).join("; ");
            assert!(plan.contains(index), "{filter:?} {after:?}: {plan}");
            assert!(
                !plan.contains("TEMP B-TREE"),
                "{filter:?} {after:?}: {plan}"
            );
            if after.is_some() {
                assert!(plan.contains("created_at<"), "{filter:?} seeks: {plan}");
            }
        }
    }
}

#[tokio::test]
async fn a_corrupt_json_column_is_an_internal_error() {
    let (dir, store, lead) = open_with_a_lead().await;
    let organization = lead.organization_id;
    // An array, as the schema checks, but of something other than objects.
    raw(&dir)
        .execute(
            "UPDATE leads SET notes = '[1]' WHERE id = ?",
            [id_text(lead.id)],
        )
        .expect("corrupt");
    assert_internal(store.lead_get(organization, lead.id).await);
    assert_internal(
        store
            .lead_list(organization, LeadFilter::default(), None, 1000)
            .await,
    );
    let changes = LeadChanges {
        company: Some("x".to_owned()),
        ..LeadChanges::default()
    };
    assert_internal(
        store
            .lead_update(organization, lead.id, changes, None, at(T0))
            .await,
    );
}
