//! The outbox's scheduling on PostgreSQL: which due deliveries a claim takes (the choice is
//! [`crate::store::fairness`]'s, from what the statements here read), and the bound on each
//! subscription's backlog.
//!
//! Both only read to choose; the statements that change rows ([`super::claim`]'s lease, the
//! trim's update) check each row again as they lock it, so a replica's claim or attempt
//! between the reading and the writing is never undone.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use uuid::Uuid;

use super::super::statements::{column, execute, query};
use super::in_range;
use crate::domain::IN_FLIGHT_PER_SUBSCRIPTION;
use crate::store::fairness::{Candidate, Leased, in_turn};
use crate::store::{StoreError, backlog_message};

/// The earliest due and unleased deliveries of each active subscription, at most `$2` each,
/// each read from `webhook_deliveries_due_by_subscription`; in due order.
pub(super) const CANDIDATES: &str = "SELECT d.id, s.id AS subscription_id, s.organization_id \
    FROM webhook_subscriptions s CROSS JOIN LATERAL \
    (SELECT x.id, x.next_attempt_at FROM webhook_deliveries x \
    WHERE x.subscription_id = s.id AND x.status = 'pending' AND x.next_attempt_at <= $1 \
    AND (x.leased_until IS NULL OR x.leased_until <= $1) \
    ORDER BY x.next_attempt_at, x.id LIMIT $2) d \
    WHERE s.disabled_at IS NULL ORDER BY d.next_attempt_at, d.id";

/// How many deliveries of each subscription are leased at `$1`, from
/// `webhook_deliveries_leased`.
pub(super) const LEASED: &str = "SELECT subscription_id, organization_id, count(*) AS leased \
    FROM webhook_deliveries WHERE status = 'pending' AND leased_until > $1 \
    GROUP BY subscription_id, organization_id";

/// Fails each subscription's pending deliveries beyond the `$2` due last, unless leased at
/// `$1`, walking `webhook_deliveries_due_by_subscription` from the latest due. The update
/// checks each row again once locked: one a claim leased meanwhile is left to its attempt.
pub(super) const TRIM: &str = "UPDATE webhook_deliveries d SET status = 'failed', \
    next_attempt_at = NULL, leased_until = NULL, error_message = $3 \
    FROM (SELECT x.id FROM webhook_subscriptions s CROSS JOIN LATERAL \
    (SELECT y.id FROM webhook_deliveries y WHERE y.subscription_id = s.id \
    AND y.status = 'pending' ORDER BY y.next_attempt_at DESC, y.id DESC OFFSET $2) x) beyond \
    WHERE d.id = beyond.id AND d.status = 'pending' \
    AND (d.leased_until IS NULL OR d.leased_until <= $1)";

/// The ids of the deliveries a claim of at most `limit` at `now` takes, in turn.
pub(super) async fn due_in_turn(
    client: &impl GenericClient,
    now: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<Uuid>, StoreError> {
    let doing = "counting the deliveries in flight";
    let leased = query(client, doing, LEASED, &[&now])
        .await?
        .iter()
        .map(|row| {
            Ok(Leased {
                subscription: column(row, doing, "subscription_id")?,
                organization: column(row, doing, "organization_id")?,
                count: in_range(column::<i64>(row, doing, "leased")?, "leased")?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let doing = "finding due deliveries";
    let candidates = query(
        client,
        doing,
        CANDIDATES,
        &[&now, &i64::from(IN_FLIGHT_PER_SUBSCRIPTION)],
    )
    .await?
    .iter()
    .map(|row| {
        Ok(Candidate {
            delivery: column(row, doing, "id")?,
            subscription: column(row, doing, "subscription_id")?,
            organization: column(row, doing, "organization_id")?,
        })
    })
    .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(in_turn(candidates, &leased, limit))
}

/// Bounds every subscription's backlog to `max` pending deliveries at `now` (see
/// [`crate::store::OutboxStore::webhook_backlog_trim`]).
pub(in crate::store::postgres) async fn trim(
    client: &impl GenericClient,
    max: u32,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    execute(
        client,
        "failing the deliveries beyond a backlog's bound",
        TRIM,
        &[&now, &i64::from(max), &backlog_message(max)],
    )
    .await
}
