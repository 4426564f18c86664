//! What only the PostgreSQL outbox has: which events its SQL stores, its sweep in batches,
//! and the indexes its sweeps and lists read; the backend-independent suite runs from the
//! backend's `mod.rs`.

use super::super::tests::{assert_reads_in_order, open, planner, raw};
use super::*;
use crate::store::prelude::*;
use crate::store::suite::webhooks::sealed;
use crate::store::suite::{T0, at, lead};

/// How many rows `table` has.
async fn count(raw: &tokio_postgres::Client, table: &str) -> i64 {
    raw.query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .await
        .expect("count")
        .get(0)
}

#[cfg_attr(
    not(leads_postgres),
    ignore = "needs PostgreSQL: set LEADS_TEST_POSTGRES_URL"
)]
#[tokio::test]
async fn an_event_is_stored_only_if_a_subscription_wants_it() {
    let (database, store, organization) = open().await;
    let raw = raw(&database).await;
    store
        .lead_insert(lead(organization, "one@example.com", at(T0)), None)
        .await
        .expect("insert");
    assert_eq!(count(&raw, "webhook_events").await, 0);

    let subscription = Subscription {
        id: Uuid::now_v7(),
        organization,
        event_type: EventType::LeadCreated,
        target_url: "https://hooks.example.com/".to_owned(),
        created_at: at(T0),
        disabled_at: None,
    };
    store
        .webhook_subscription_insert(subscription.clone(), sealed(), 25)
        .await
        .expect("subscribe");
    store
        .lead_insert(lead(organization, "two@example.com", at(T0)), None)
        .await
        .expect("insert");
    assert_eq!(count(&raw, "webhook_events").await, 1);

    // Deleting the subscription leaves the event without deliveries: the sweep deletes it.
    assert!(
        store
            .webhook_subscription_delete(organization, subscription.id)
            .await
            .expect("delete")
    );
    assert_eq!(count(&raw, "webhook_events").await, 1);
    assert_eq!(
        store
            .webhook_deliveries_sweep(at(T0 + 1))
            .await
            .expect("sweep"),
        0
    );
    assert_eq!(count(&raw, "webhook_events").await, 0);
}

#[cfg_attr(
    not(leads_postgres),
    ignore = "needs PostgreSQL: set LEADS_TEST_POSTGRES_URL"
)]
#[tokio::test]
async fn a_sweep_of_more_than_a_batch_deletes_every_old_delivery_and_event() {
    let (database, store, organization) = open().await;
    let raw = raw(&database).await;
    let old = 2 * i64::from(SWEEP_BATCH) + 7;
    let subscription = Uuid::now_v7();
    raw.execute(
        "INSERT INTO webhook_subscriptions (id, organization_id, event_type, target_url, \
         secret, created_at) VALUES ($1, $2, 'lead.created', 'https://hooks.example.com/', \
         'whsec_x', $3)",
        &[&subscription, &organization.0, &at(T0)],
    )
    .await
    .expect("a subscription");
    // One event per delivery; the last three are new, and one old one is still pending.
    raw.batch_execute(&format!(
        "CREATE TEMPORARY TABLE made AS SELECT n, gen_random_uuid() AS event, \
         gen_random_uuid() AS delivery, \
         CASE WHEN n <= {old} THEN timestamptz '2023-11-14 22:13:20Z' \
         ELSE timestamptz '2023-11-16 00:00:00Z' END AS created_at \
         FROM generate_series(1, {old} + 3) AS n"
    ))
    .await
    .expect("rows to make");
    raw.execute(
        "INSERT INTO webhook_events SELECT event, $1, 'lead.created', '{}', created_at \
         FROM made",
        &[&organization.0],
    )
    .await
    .expect("events");
    raw.execute(
        "INSERT INTO webhook_deliveries (id, organization_id, subscription_id, event_id, \
         status, next_attempt_at, created_at) SELECT delivery, $1, $2, event, \
         CASE WHEN n = 1 THEN 'pending' ELSE 'success' END, \
         CASE WHEN n = 1 THEN created_at END, created_at FROM made",
        &[&organization.0, &subscription],
    )
    .await
    .expect("deliveries");

    assert_eq!(
        store
            .webhook_deliveries_sweep(at(T0 + 1))
            .await
            .expect("sweep"),
        (old - 1).unsigned_abs()
    );
    assert_eq!(count(&raw, "webhook_deliveries").await, 4);
    assert_eq!(count(&raw, "webhook_events").await, 4);
}

/// Neither sweep statement reads its whole table: each finds old rows on an index by age.
#[cfg_attr(
    not(leads_postgres),
    ignore = "needs PostgreSQL: set LEADS_TEST_POSTGRES_URL"
)]
#[tokio::test]
async fn each_sweep_statement_reads_an_index_by_age() {
    let (database, _store, _) = open().await;
    let planner = planner(&database).await;
    let plan = |sql: &'static str| {
        let planner = &planner;
        async move {
            let rows = planner
                .query(
                    &format!("EXPLAIN {sql}"),
                    &[&at(T0), &i64::from(SWEEP_BATCH)],
                )
                .await
                .expect("plan");
            let lines: Vec<String> = rows.iter().map(|row| row.get(0)).collect();
            lines.join("\n")
        }
    };
    let deliveries = plan(SWEEP_DELIVERIES).await;
    assert!(
        deliveries.contains("webhook_deliveries_finished_by_created")
            && deliveries.contains("Index Cond: (created_at < "),
        "{deliveries}"
    );
    assert!(!deliveries.contains("Seq Scan"), "{deliveries}");
    // The planner may walk `webhook_events_by_created` or the primary key in a merge join:
    // ids are UUIDv7, in creation order, so either reads the oldest events first and stops
    // at the batch's limit.
    let events = plan(SWEEP_EVENTS).await;
    assert!(events.contains("webhook_deliveries_by_event"), "{events}");
    assert!(!events.contains("Seq Scan"), "{events}");
}

#[cfg_attr(
    not(leads_postgres),
    ignore = "needs PostgreSQL: set LEADS_TEST_POSTGRES_URL"
)]
#[tokio::test]
async fn each_list_query_reads_an_index_in_order() {
    let (database, _store, organization) = open().await;
    let planner = planner(&database).await;
    let keyset = Keyset {
        created_at: at(T0),
        id: Uuid::now_v7(),
    };
    for after in [None, Some(keyset)] {
        let seeks = after.is_some();
        assert_reads_in_order(
            &planner,
            subscription_list_query(organization, None, after, 10),
            "webhook_subscriptions_by_created",
            seeks,
        )
        .await;
        assert_reads_in_order(
            &planner,
            subscription_list_query(organization, Some(EventType::LeadUpdated), after, 10),
            "webhook_subscriptions_by_event",
            seeks,
        )
        .await;
        assert_reads_in_order(
            &planner,
            delivery_list_query(organization, None, after, 10),
            "webhook_deliveries_by_created",
            seeks,
        )
        .await;
        assert_reads_in_order(
            &planner,
            delivery_list_query(organization, Some(Uuid::now_v7()), after, 10),
            "webhook_deliveries_by_subscription",
            seeks,
        )
        .await;
    }
}

/// Each scheduling statement reads the outbox on an index: the deliveries leased, and each
/// subscription's pending deliveries by due time, never the whole table.
#[cfg_attr(
    not(leads_postgres),
    ignore = "needs PostgreSQL: set LEADS_TEST_POSTGRES_URL"
)]
#[tokio::test]
async fn each_scheduling_statement_reads_an_index() {
    let (database, _store, _) = open().await;
    let planner = planner(&database).await;
    let explain = async |sql: &str, parameters: &[&(dyn tokio_postgres::types::ToSql + Sync)]| {
        let rows = planner
            .query(&format!("EXPLAIN {sql}"), parameters)
            .await
            .expect("plan");
        rows.iter()
            .map(|row| row.get::<_, String>(0))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let now = at(T0);
    let candidates = explain(fairness::CANDIDATES, &[&now, &4_i64]).await;
    assert!(
        candidates.contains("webhook_deliveries_due_by_subscription")
            && candidates.contains("Index Cond: ((subscription_id = s.id)"),
        "{candidates}"
    );
    let leased = explain(fairness::LEASED, &[&now]).await;
    assert!(
        leased.contains("webhook_deliveries_leased")
            && leased.contains("Index Cond: (leased_until > "),
        "{leased}"
    );
    let trim = explain(fairness::TRIM, &[&now, &10_i64, &"message"]).await;
    assert!(
        trim.contains("Scan Backward using webhook_deliveries_due_by_subscription"),
        "{trim}"
    );
    for plan in [candidates, leased, trim] {
        assert!(!plan.contains("Seq Scan on webhook_deliveries"), "{plan}");
    }
}

/// A body is stored as the text sent, which PostgreSQL compresses by itself (TOAST): a lead at
/// its largest keeps under a third of its size (printed with `--nocapture`, beside what the
/// SQLite outbox's deflate stores of it), and the log gives its size as sent.
#[cfg_attr(
    not(leads_postgres),
    ignore = "needs PostgreSQL: set LEADS_TEST_POSTGRES_URL"
)]
#[tokio::test]
async fn a_large_body_is_kept_compressed_by_toast() {
    let (database, store, _) = open().await;
    let (_, body) = crate::store::suite::webhooks::queue_the_largest_lead(&store).await;
    let row = raw(&database)
        .await
        .query_one(
            "SELECT octet_length(body) AS sent, pg_column_size(body) AS stored, \
             current_setting('default_toast_compression') AS method FROM webhook_events",
            &[],
        )
        .await
        .expect("the stored event");
    let (sent, stored, method): (i32, i32, String) =
        (row.get("sent"), row.get("stored"), row.get("method"));
    let deflated = crate::store::sqlite::event_body::StoredBody::new(body.clone())
        .deflated
        .map_or(0, |bytes| bytes.len());
    eprintln!(
        "a {sent} B body: {stored} B in the table ({method}); SQLite's deflate: {deflated} B"
    );
    assert_eq!(usize::try_from(sent).ok(), Some(body.len()));
    assert!(stored * 3 < sent, "{stored} B");
}
