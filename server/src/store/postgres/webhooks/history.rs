//! One delivery, the outbox at a glance, and the history of a delivery's attempts: each
//! attempt a record adds ([`keep_attempt`]), bounded to the newest [`ATTEMPTS_KEPT`] of its
//! delivery, and gone with it by the schema's cascade.

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use uuid::Uuid;

use super::super::statements::{Value, bound, column, execute, page, query, query_opt};
use super::{SELECT_DELIVERIES, delivery, in_range};
use crate::domain::{
    ATTEMPTS_KEPT, Attempt, AttemptOutcome, AttemptRecord, Delivery, Keyset, OrganizationId,
};
use crate::store::{OutboxSummary, StoreError};

/// The organization's delivery `id` of `subscription`.
pub(in crate::store::postgres) async fn delivery_select(
    client: &impl GenericClient,
    organization: OrganizationId,
    subscription: Uuid,
    id: Uuid,
) -> Result<Option<Delivery>, StoreError> {
    query_opt(
        client,
        "reading a webhook delivery",
        &format!("{SELECT_DELIVERIES} AND d.subscription_id = $2 AND d.id = $3"),
        &[&organization.0, &subscription, &id],
    )
    .await?
    .map(|row| delivery(&row))
    .transpose()
}

/// Adds `attempt`, the delivery's `number`th, to its history, and forgets those beyond the
/// newest [`ATTEMPTS_KEPT`], in the caller's transaction (which holds its subscription's
/// lock, so that attempts of one delivery are kept in turn).
pub(super) async fn keep_attempt(
    client: &impl GenericClient,
    attempt: &Attempt,
    number: i32,
) -> Result<(), StoreError> {
    execute(
        client,
        "keeping a delivery attempt",
        "INSERT INTO webhook_delivery_attempts (id, delivery_id, number, created_at, \
         status_code, response_time_ms, error_message, succeeded) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            &Uuid::now_v7(),
            &attempt.delivery,
            &number,
            &attempt.at,
            &attempt.status_code.map(i32::from),
            &i64::try_from(attempt.response_time_ms).unwrap_or(i64::MAX),
            &attempt.error,
            &(attempt.outcome == AttemptOutcome::Delivered),
        ],
    )
    .await?;
    let kept = i32::try_from(ATTEMPTS_KEPT).unwrap_or(i32::MAX);
    if number <= kept {
        // Numbers start at 1: none is old enough to forget yet (most deliveries).
        return Ok(());
    }
    execute(
        client,
        "forgetting a delivery's oldest attempts",
        "DELETE FROM webhook_delivery_attempts WHERE delivery_id = $1 AND number <= $2",
        &[&attempt.delivery, &(number - kept)],
    )
    .await?;
    Ok(())
}

pub(in crate::store::postgres) async fn attempt_list(
    client: &impl GenericClient,
    delivery: Uuid,
    after: Option<Keyset>,
    limit: u32,
) -> Result<Vec<AttemptRecord>, StoreError> {
    let mut sql = String::from(
        "SELECT id, number, created_at, status_code, response_time_ms, error_message, succeeded \
         FROM webhook_delivery_attempts WHERE delivery_id = $1",
    );
    let mut values: Vec<Value> = vec![Box::new(delivery)];
    page(&mut sql, &mut values, "", after, limit);
    query(
        client,
        "listing a delivery's attempts",
        &sql,
        &bound(&values),
    )
    .await?
    .iter()
    .map(attempt)
    .collect()
}

fn attempt(row: &Row) -> Result<AttemptRecord, StoreError> {
    let doing = "reading a delivery attempt";
    Ok(AttemptRecord {
        id: column(row, doing, "id")?,
        number: in_range(column::<i32>(row, doing, "number")?, "number")?,
        at: column(row, doing, "created_at")?,
        status_code: column::<Option<i32>>(row, doing, "status_code")?
            .map(|code| in_range(code, "status_code"))
            .transpose()?,
        response_time_ms: in_range(
            column::<i64>(row, doing, "response_time_ms")?,
            "response_time_ms",
        )?,
        error: column(row, doing, "error_message")?,
        succeeded: column(row, doing, "succeeded")?,
    })
}

/// The outbox at a glance, every replica's alike: one statement over the pending deliveries
/// (a scan a scrape can afford) and the subscriptions.
pub(in crate::store::postgres) async fn summary(
    client: &impl GenericClient,
) -> Result<OutboxSummary, StoreError> {
    const DOING: &str = "summing up the outbox";
    let rows = query(
        client,
        DOING,
        "SELECT count(*) AS pending, min(created_at) AS oldest, \
             (SELECT count(*) FROM webhook_subscriptions WHERE disabled_at IS NOT NULL) \
                 AS disabled \
         FROM webhook_deliveries WHERE status = 'pending'",
        &[],
    )
    .await?;
    let Some(row) = rows.first() else {
        return Ok(OutboxSummary::default());
    };
    let count = |name| column::<i64>(row, DOING, name).map(|n| u64::try_from(n).unwrap_or(0));
    Ok(OutboxSummary {
        pending: count("pending")?,
        oldest_pending: column(row, DOING, "oldest")?,
        disabled_subscriptions: count("disabled")?,
    })
}
