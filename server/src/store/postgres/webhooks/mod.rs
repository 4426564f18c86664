//! The webhook tables: subscriptions, the events a lead write stores (the outbox), and their
//! deliveries, claimed under a lease by the delivery workers of every replica and updated by
//! their attempts.
//!
//! Several replicas share these tables, so each statement says how it keeps out of the
//! others' way. Rows are locked in one order, a subscription before its deliveries, by every
//! transaction that locks both (deleting a subscription, recording an attempt), so that they
//! wait for each other rather than deadlock; a lead write only share-locks the subscriptions
//! it fans out to, so concurrent lead writes never wait for each other here.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use uuid::Uuid;

use super::errors::internal;
use super::statements::{Value, bound, column, execute, page, query, query_opt};
use super::webhook_secrets;
use crate::domain::{
    Attempt, AttemptOutcome, Delivery, DeliveryStatus, DueDelivery, Emission, EventType, Keyset,
    Lead, OrganizationId, Subscription,
};
use crate::store::{
    DISABLED_MESSAGE, SWEEP_BATCH, SealedSecret, StoreError, StoredSecret, SweptBatch,
};

const SELECT_SUBSCRIPTIONS: &str = "SELECT id, organization_id, event_type, target_url, \
     created_at, disabled_at FROM webhook_subscriptions WHERE organization_id = $1";

/// A row of [`SELECT_SUBSCRIPTIONS`] as a [`Subscription`].
pub(super) fn subscription(row: &Row) -> Result<Subscription, StoreError> {
    let doing = "reading a webhook subscription";
    Ok(Subscription {
        id: column(row, doing, "id")?,
        organization: OrganizationId(column(row, doing, "organization_id")?),
        event_type: event_type_of(column(row, doing, "event_type")?)?,
        target_url: column(row, doing, "target_url")?,
        created_at: column(row, doing, "created_at")?,
        disabled_at: column(row, doing, "disabled_at")?,
    })
}

/// Stores `subscription` with its secret, unless its organization already has `max`, in the
/// caller's transaction.
pub(super) async fn subscription_insert(
    client: &impl GenericClient,
    subscription: &Subscription,
    secret: &SealedSecret,
    max: u32,
) -> Result<(), StoreError> {
    let Subscription {
        id,
        organization,
        event_type,
        target_url,
        created_at,
        disabled_at,
    } = subscription;
    // Two inserts racing would each count the other's absence: locking the organization's
    // row makes them take turns, and the second counts after the first committed. (`NO KEY
    // UPDATE`, not `UPDATE`: the lock the organization's lead inserts take for their foreign
    // key does not wait for it.)
    let locked = query_opt(
        client,
        "locking an organization's subscriptions",
        "SELECT 1 FROM organizations WHERE id = $1 FOR NO KEY UPDATE",
        &[&organization.0],
    )
    .await?;
    if locked.is_none() {
        return Err(internal(
            "a subscription was given for an unknown organization",
        ));
    }
    let doing = "counting webhook subscriptions";
    let count: i64 = match query_opt(
        client,
        doing,
        "SELECT count(*) FROM webhook_subscriptions WHERE organization_id = $1",
        &[&organization.0],
    )
    .await?
    {
        Some(row) => column(&row, doing, "count")?,
        None => return Err(internal("a count returned no row")),
    };
    if count >= i64::from(max) {
        return Err(StoreError::SubscriptionLimitReached(max));
    }
    execute(
        client,
        "inserting a webhook subscription",
        "INSERT INTO webhook_subscriptions \
         (id, organization_id, event_type, target_url, secret, secret_key_id, created_at, \
         disabled_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            id,
            &organization.0,
            &event_type.as_str(),
            target_url,
            &secret.sealed,
            &secret.key_id,
            created_at,
            disabled_at,
        ],
    )
    .await?;
    Ok(())
}

/// The organization's subscription with this id.
pub(super) async fn subscription_select(
    client: &impl GenericClient,
    organization: OrganizationId,
    id: Uuid,
) -> Result<Option<Subscription>, StoreError> {
    query_opt(
        client,
        "reading a webhook subscription",
        &format!("{SELECT_SUBSCRIPTIONS} AND id = $2"),
        &[&organization.0, &id],
    )
    .await?
    .map(|row| subscription(&row))
    .transpose()
}

/// At most `limit` of the organization's subscriptions (to `event_type` only, if given), in
/// the list order, strictly after `after`.
pub(super) async fn subscription_list(
    client: &impl GenericClient,
    organization: OrganizationId,
    event_type: Option<EventType>,
    after: Option<Keyset>,
    limit: u32,
) -> Result<Vec<Subscription>, StoreError> {
    let (sql, values) = subscription_list_query(organization, event_type, after, limit);
    query(
        client,
        "listing webhook subscriptions",
        &sql,
        &bound(&values),
    )
    .await?
    .iter()
    .map(subscription)
    .collect()
}

/// The subscription list's query and parameters: a statement with the filter and one
/// without, each planned for the index that serves it.
fn subscription_list_query(
    organization: OrganizationId,
    event_type: Option<EventType>,
    after: Option<Keyset>,
    limit: u32,
) -> (String, Vec<Value>) {
    let mut sql = SELECT_SUBSCRIPTIONS.to_owned();
    let mut values: Vec<Value> = vec![Box::new(organization.0)];
    if let Some(event_type) = event_type {
        values.push(Box::new(event_type.as_str()));
        sql.push_str(&format!(" AND event_type = ${}", values.len()));
    }
    page(&mut sql, &mut values, "", after, limit);
    (sql, values)
}

/// Deletes the organization's subscription and all its deliveries, in the caller's
/// transaction; whether it existed.
pub(super) async fn subscription_delete(
    client: &impl GenericClient,
    organization: OrganizationId,
    id: Uuid,
) -> Result<bool, StoreError> {
    // Locked first: a lead write fanning out to it meanwhile share-locks it, so this waits
    // for that write to commit and then deletes its deliveries too (the next statement sees
    // them), and a lead write that comes later waits for this and finds it gone. Without
    // the lock, such a delivery would be committed after the deliveries were deleted, and
    // would refuse the subscription's deletion (its foreign key).
    let locked = query_opt(
        client,
        "locking a webhook subscription",
        "SELECT 1 FROM webhook_subscriptions WHERE id = $1 AND organization_id = $2 \
         FOR UPDATE",
        &[&id, &organization.0],
    )
    .await?;
    if locked.is_none() {
        return Ok(false);
    }
    execute(
        client,
        "deleting a subscription's deliveries",
        "DELETE FROM webhook_deliveries WHERE subscription_id = $1",
        &[&id],
    )
    .await?;
    execute(
        client,
        "deleting a webhook subscription",
        "DELETE FROM webhook_subscriptions WHERE id = $1",
        &[&id],
    )
    .await?;
    Ok(true)
}

/// Stores each of `events` about `lead` (as it is after the change), rendered once, and a
/// delivery of it to every active subscription of the lead's organization to that event, in
/// the caller's transaction. An event no subscription wants is not stored.
pub(super) async fn emit(
    client: &impl GenericClient,
    events: &[EventType],
    lead: &Lead,
    events_of: &Emission,
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = events.iter().map(|event| event.as_str()).collect();
    let doing = "finding the subscribers of an event";
    // `FOR SHARE`: a subscription being disabled (`record`) or deleted is waited for, then
    // left out if it no longer qualifies, so that no delivery is stored for it; concurrent
    // lead writes share the lock and do not wait for each other.
    let subscribers = query(
        client,
        doing,
        "SELECT id, event_type FROM webhook_subscriptions \
         WHERE organization_id = $1 AND event_type = ANY ($2) AND disabled_at IS NULL \
         FOR SHARE",
        &[&lead.organization_id.0, &names],
    )
    .await?
    .iter()
    .map(|row| {
        Ok((
            column::<Uuid>(row, doing, "id")?,
            event_type_of(column(row, doing, "event_type")?)?,
        ))
    })
    .collect::<Result<Vec<_>, StoreError>>()?;
    for &event in events {
        let to: Vec<Uuid> = subscribers
            .iter()
            .filter(|(_, wanted)| *wanted == event)
            .map(|(id, _)| *id)
            .collect();
        if to.is_empty() {
            continue;
        }
        let deliveries: Vec<Uuid> = to.iter().map(|_| Uuid::now_v7()).collect();
        let body = events_of
            .render(event, lead)
            .map_err(StoreError::Internal)?;
        execute(
            client,
            "storing an event and its deliveries",
            INSERT_EVENT,
            &[
                &Uuid::now_v7(),
                &lead.organization_id.0,
                &event.as_str(),
                &body,
                &lead.updated_at,
                &deliveries,
                &to,
                &lead.id,
                &events_of.stored_trace(),
            ],
        )
        .await?;
    }
    Ok(())
}

/// Stores an event (`$1` its id, `$2` the organization, `$3` its type, `$4` its body, `$5`
/// when, `$8` the lead it is about, which an erasure finds it by, none for a test event; `$9`
/// the `traceparent` of the request that caused it, if it sent one) and
/// a pending delivery of it, due then, to each subscription of `$7` (with the ids of `$6`),
/// in one statement: the deliveries' foreign key is checked at the statement's end, when the
/// event is there.
pub(super) const INSERT_EVENT: &str = "WITH event AS (INSERT INTO webhook_events \
     (id, organization_id, event_type, body, created_at, lead_id, trace_parent) \
     VALUES ($1, $2, $3, $4, $5, $8, $9)) \
     INSERT INTO webhook_deliveries (id, organization_id, subscription_id, event_id, \
     status, next_attempt_at, created_at) \
     SELECT delivery.id, $2, delivery.subscription_id, $1, 'pending', $5, $5 \
     FROM unnest($6::uuid[], $7::uuid[]) AS delivery (id, subscription_id)";

/// What [`delivery`] reads, of a delivery `d` and its event `e`.
const SELECT_DELIVERIES: &str = "SELECT d.id, d.subscription_id, e.event_type, d.status, \
     d.status_code, d.response_time_ms, d.error_message, d.attempt_count, \
     octet_length(e.body) AS payload_size_bytes, d.created_at, d.next_attempt_at \
     FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id \
     WHERE d.organization_id = $1";

/// A row of [`SELECT_DELIVERIES`] as a [`Delivery`].
fn delivery(row: &Row) -> Result<Delivery, StoreError> {
    let doing = "reading a webhook delivery";
    let status: String = column(row, doing, "status")?;
    Ok(Delivery {
        id: column(row, doing, "id")?,
        subscription_id: column(row, doing, "subscription_id")?,
        event_type: event_type_of(column(row, doing, "event_type")?)?,
        status: DeliveryStatus::parse(&status)
            .ok_or_else(|| internal(&format!("a delivery has status {status:?}")))?,
        status_code: column::<Option<i32>>(row, doing, "status_code")?
            .map(|code| in_range(code, "status_code"))
            .transpose()?,
        response_time_ms: column::<Option<i64>>(row, doing, "response_time_ms")?
            .map(|time| in_range(time, "response_time_ms"))
            .transpose()?,
        error_message: column(row, doing, "error_message")?,
        attempt_count: in_range(column::<i32>(row, doing, "attempt_count")?, "attempt_count")?,
        payload_size_bytes: in_range(
            column::<i32>(row, doing, "payload_size_bytes")?,
            "payload_size_bytes",
        )?,
        created_at: column(row, doing, "created_at")?,
        next_attempt_at: column(row, doing, "next_attempt_at")?,
    })
}

/// At most `limit` of the organization's deliveries (to `subscription` only, if given), in
/// the list order, strictly after `after`.
pub(super) async fn delivery_list(
    client: &impl GenericClient,
    organization: OrganizationId,
    subscription: Option<Uuid>,
    after: Option<Keyset>,
    limit: u32,
) -> Result<Vec<Delivery>, StoreError> {
    let (sql, values) = delivery_list_query(organization, subscription, after, limit);
    query(client, "listing webhook deliveries", &sql, &bound(&values))
        .await?
        .iter()
        .map(delivery)
        .collect()
}

/// The deliveries log's query and parameters: a statement with the filter and one without,
/// each planned for the index that serves it.
fn delivery_list_query(
    organization: OrganizationId,
    subscription: Option<Uuid>,
    after: Option<Keyset>,
    limit: u32,
) -> (String, Vec<Value>) {
    let mut sql = SELECT_DELIVERIES.to_owned();
    let mut values: Vec<Value> = vec![Box::new(organization.0)];
    if let Some(subscription) = subscription {
        values.push(Box::new(subscription));
        sql.push_str(&format!(" AND d.subscription_id = ${}", values.len()));
    }
    page(&mut sql, &mut values, "d.", after, limit);
    (sql, values)
}

/// Leases at most `limit` deliveries due and unleased at `now`, chosen in turn
/// ([`fairness::due_in_turn`]), until `lease_until`; returns them in that order.
///
/// The lease is one statement, safe with every replica's worker claiming at once: `FOR
/// UPDATE SKIP LOCKED` passes over the deliveries another claim is leasing rather than
/// waiting for it, and one whose lease another claim committed since the choice is checked
/// again on what that claim left, so it is not leased twice.
pub(super) async fn claim(
    client: &impl GenericClient,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<DueDelivery<StoredSecret>>, StoreError> {
    let chosen = fairness::due_in_turn(client, now, limit).await?;
    if chosen.is_empty() {
        return Ok(Vec::new());
    }
    let doing = "claiming due deliveries";
    query(
        client,
        doing,
        "WITH due AS (SELECT d.id FROM webhook_deliveries d \
         JOIN webhook_subscriptions s ON s.id = d.subscription_id \
         WHERE d.id = ANY ($3) AND d.status = 'pending' AND d.next_attempt_at <= $1 \
         AND (d.leased_until IS NULL OR d.leased_until <= $1) AND s.disabled_at IS NULL \
         FOR UPDATE OF d SKIP LOCKED), \
         claimed AS (UPDATE webhook_deliveries d SET leased_until = $2 FROM due \
         WHERE d.id = due.id \
         RETURNING d.id, d.subscription_id, d.event_id, d.attempt_count, \
         d.attempts_before_send) \
         SELECT c.id, c.subscription_id, s.target_url, s.secret, s.secret_key_id, e.body, \
         c.attempt_count - c.attempts_before_send AS attempt_count, s.previous_secret, s.previous_secret_key_id, \
         s.previous_secret_expires_at, e.trace_parent \
         FROM claimed c JOIN webhook_subscriptions s ON s.id = c.subscription_id \
         JOIN webhook_events e ON e.id = c.event_id ORDER BY array_position($3, c.id)",
        &[&now, &lease_until, &chosen],
    )
    .await?
    .iter()
    .map(|row| {
        Ok(DueDelivery {
            id: column(row, doing, "id")?,
            subscription_id: column(row, doing, "subscription_id")?,
            target_url: column(row, doing, "target_url")?,
            secret: webhook_secrets::stored(row, doing)?,
            previous_secret: webhook_secrets::previous(row, doing, now)?,
            body: column(row, doing, "body")?,
            attempt_count: in_range(column::<i32>(row, doing, "attempt_count")?, "attempt_count")?,
            trace: column::<Option<String>>(row, doing, "trace_parent")?
                .and_then(|trace| trace.parse().ok()),
        })
    })
    .collect()
}

/// Records `attempt` of a pending delivery, and what it means for its subscription, in the
/// caller's transaction (see [`crate::store::Store::webhook_delivery_record`]).
pub(super) async fn record(
    client: &impl GenericClient,
    attempt: &Attempt,
    disable_after: u32,
) -> Result<(), StoreError> {
    // The subscription first, as its deletion locks it, so that the two take turns rather
    // than deadlock; and so that attempts of its deliveries count its failures in turn.
    let doing = "locking a delivery's subscription";
    let Some(row) = query_opt(
        client,
        doing,
        "SELECT s.id FROM webhook_subscriptions s \
         JOIN webhook_deliveries d ON d.subscription_id = s.id \
         WHERE d.id = $1 AND d.status = 'pending' FOR NO KEY UPDATE OF s",
        &[&attempt.delivery],
    )
    .await?
    else {
        return Ok(());
    };
    let subscription: Uuid = column(&row, doing, "id")?;
    let (status, next_attempt_at) = match attempt.outcome {
        AttemptOutcome::Delivered => (DeliveryStatus::Success, None),
        AttemptOutcome::RetryAt(at) => (DeliveryStatus::Pending, Some(at)),
        AttemptOutcome::GaveUp => (DeliveryStatus::Failed, None),
    };
    // Checked again: the delivery may have stopped being pending while the lock was waited
    // for (its subscription was disabled, say).
    let doing = "recording a delivery attempt";
    let recorded = query_opt(
        client,
        doing,
        "UPDATE webhook_deliveries SET status = $2, attempt_count = attempt_count + 1, \
         status_code = $3, response_time_ms = $4, error_message = $5, \
         next_attempt_at = $6, leased_until = NULL \
         WHERE id = $1 AND status = 'pending' RETURNING attempt_count",
        &[
            &attempt.delivery,
            &status.as_str(),
            &attempt.status_code.map(i32::from),
            &i64::try_from(attempt.response_time_ms).unwrap_or(i64::MAX),
            &attempt.error,
            &next_attempt_at,
        ],
    )
    .await?;
    let Some(recorded) = recorded else {
        return Ok(());
    };
    history::keep_attempt(client, attempt, column(&recorded, doing, "attempt_count")?).await?;
    match status {
        DeliveryStatus::Pending => {}
        DeliveryStatus::Success => {
            execute(
                client,
                "counting a delivered event",
                // A subscription with no failure to forget is not written again (a new row
                // version each delivery, otherwise).
                "UPDATE webhook_subscriptions SET consecutive_failures = 0 \
                 WHERE id = $1 AND consecutive_failures != 0",
                &[&subscription],
            )
            .await?;
        }
        DeliveryStatus::Failed => {
            let doing = "counting a failed delivery";
            let failures: i32 = match query_opt(
                client,
                doing,
                "UPDATE webhook_subscriptions \
                 SET consecutive_failures = consecutive_failures + 1 \
                 WHERE id = $1 RETURNING consecutive_failures",
                &[&subscription],
            )
            .await?
            {
                Some(row) => column(&row, doing, "consecutive_failures")?,
                None => return Err(internal("a locked subscription was not found")),
            };
            if i64::from(failures) >= i64::from(disable_after) {
                disable(client, subscription, attempt.at).await?;
            }
        }
    }
    Ok(())
}

/// Disables a subscription, and fails its pending deliveries: nothing more is sent to it.
async fn disable(
    client: &impl GenericClient,
    subscription: Uuid,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    execute(
        client,
        "disabling a subscription",
        "UPDATE webhook_subscriptions SET disabled_at = $2 WHERE id = $1 AND disabled_at IS NULL",
        &[&subscription, &at],
    )
    .await?;
    execute(
        client,
        "failing a disabled subscription's deliveries",
        "UPDATE webhook_deliveries SET status = 'failed', next_attempt_at = NULL, \
         leased_until = NULL, error_message = $2 \
         WHERE subscription_id = $1 AND status = 'pending'",
        &[&subscription, &DISABLED_MESSAGE],
    )
    .await?;
    Ok(())
}

/// The earliest time a pending delivery of an active subscription is due and unleased.
pub(super) async fn next_due(
    client: &impl GenericClient,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    let doing = "finding the next due delivery";
    // Each active subscription's earliest unleased delivery, from
    // `webhook_deliveries_due_by_subscription` (its few leased ones come first and are stepped
    // over), and the later of due and lease of every leased one, from
    // `webhook_deliveries_leased`: never the whole outbox.
    match query_opt(
        client,
        doing,
        "SELECT min(due) AS due FROM (\
         SELECT (SELECT x.next_attempt_at FROM webhook_deliveries x \
         WHERE x.subscription_id = s.id AND x.status = 'pending' AND x.leased_until IS NULL \
         ORDER BY x.next_attempt_at, x.id LIMIT 1) AS due \
         FROM webhook_subscriptions s WHERE s.disabled_at IS NULL \
         UNION ALL SELECT GREATEST(d.next_attempt_at, d.leased_until) FROM webhook_deliveries d \
         JOIN webhook_subscriptions s ON s.id = d.subscription_id \
         WHERE d.status = 'pending' AND d.leased_until IS NOT NULL \
         AND s.disabled_at IS NULL) due",
        &[],
    )
    .await?
    {
        Some(row) => column(&row, doing, "due"),
        None => Err(internal("an aggregate returned no row")),
    }
}

/// Ends every lease of every delivery.
pub(super) async fn release_leases(client: &impl GenericClient) -> Result<(), StoreError> {
    execute(
        client,
        "releasing the leases of deliveries",
        "UPDATE webhook_deliveries SET leased_until = NULL WHERE leased_until IS NOT NULL",
        &[],
    )
    .await?;
    Ok(())
}

/// Deletes at most a batch of finished deliveries created before a time, found in age order
/// on `webhook_deliveries_finished_by_created`. (`DELETE … LIMIT` is not PostgreSQL's;
/// selecting the keys first is, and CockroachDB's.)
const SWEEP_DELIVERIES: &str = "DELETE FROM webhook_deliveries WHERE id IN \
    (SELECT id FROM webhook_deliveries WHERE created_at < $1 AND status <> 'pending' LIMIT $2)";

/// Deletes at most a batch of events created before a time that no delivery is left of, found
/// on `webhook_events_by_created`, each tested on `webhook_deliveries_by_event`.
const SWEEP_EVENTS: &str = "DELETE FROM webhook_events WHERE id IN \
    (SELECT e.id FROM webhook_events e WHERE e.created_at < $1 AND NOT EXISTS \
    (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id) LIMIT $2)";

/// Deletes at most [`SWEEP_BATCH`] deliveries created before `before` and no longer pending,
/// then at most as many events created before it that no delivery is left of (sweeping
/// deliveries leaves them, and so does deleting a subscription), in the caller's transaction.
pub(super) async fn sweep_batch(
    client: &impl GenericClient,
    before: DateTime<Utc>,
) -> Result<SweptBatch, StoreError> {
    let batch = i64::from(SWEEP_BATCH);
    let deliveries = execute(
        client,
        "sweeping old deliveries",
        SWEEP_DELIVERIES,
        &[&before, &batch],
    )
    .await?;
    // A statement of its own, which sees what the first deleted. No delivery is ever added to
    // an event already stored, so one found without any stays so.
    let events = execute(
        client,
        "sweeping events without deliveries",
        SWEEP_EVENTS,
        &[&before, &batch],
    )
    .await?;
    Ok(SweptBatch { deliveries, events })
}

fn event_type_of(text: String) -> Result<EventType, StoreError> {
    EventType::parse(&text).ok_or_else(|| internal(&format!("an unknown event type {text:?}")))
}

/// A number the database holds as what the domain holds, if it fits.
fn in_range<From: Copy + std::fmt::Display, To: TryFrom<From>>(
    value: From,
    column: &str,
) -> Result<To, StoreError> {
    To::try_from(value).map_err(|_| internal(&format!("{column} {value} is out of range")))
}

mod fairness;
mod history;
mod recovery;

pub(super) use fairness::trim as backlog_trim;
pub(super) use history::{attempt_list, delivery_select, summary};
pub(super) use recovery::{recover, resend, test_enqueue};

#[cfg(test)]
mod tests;
