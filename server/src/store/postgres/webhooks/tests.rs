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

/// An event's body is stored deflated, beside its size as sent; a row stored before bodies
/// were deflated (its text, and `NULL` in the columns migration 0011 added) is sent from its
/// text, byte for byte, and the log gives its text's size. Also how much TOAST's own
/// compression would have kept of the text (printed with `--nocapture`).
#[cfg_attr(
    not(leads_postgres),
    ignore = "needs PostgreSQL: set LEADS_TEST_POSTGRES_URL"
)]
#[tokio::test]
async fn a_body_is_stored_deflated_and_a_row_stored_before_still_sends() {
    let (database, store, _) = open().await;
    let (queued, body) = crate::store::suite::webhooks::queue_the_largest_lead(&store).await;
    let raw = raw(&database).await;
    let stored = raw
        .query_one(
            "SELECT body IS NULL AS no_text, octet_length(body_deflated) AS deflated, \
             body_size FROM webhook_events",
            &[],
        )
        .await
        .expect("the stored event");
    let (no_text, deflated, size): (bool, i32, i32) = (
        stored.get("no_text"),
        stored.get("deflated"),
        stored.get("body_size"),
    );
    assert!(no_text);
    assert_eq!(usize::try_from(size).ok(), Some(body.len()));
    assert!(deflated * 3 < size, "{deflated} B");

    raw.execute(
        "UPDATE webhook_events SET body = $1, body_deflated = NULL, body_size = NULL",
        &[&body],
    )
    .await
    .expect("the row as it was stored before 0011");
    let toasted: i32 = raw
        .query_one("SELECT pg_column_size(body) FROM webhook_events", &[])
        .await
        .expect("the text's stored size")
        .get(0);
    eprintln!("a {size} B body: deflated {deflated} B, as text under TOAST {toasted} B");
    let (sent, resent, delivery) =
        crate::store::suite::webhooks::send_then_resend(&store, &queued).await;
    assert!(sent == body && resent == body, "sent from its text");
    assert_eq!(delivery.payload_size_bytes, body.len() as u64);
}
