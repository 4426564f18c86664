//! The outbox's scheduling on SQLite: which due deliveries a claim takes (the choice is
//! [`crate::store::fairness`]'s, from what the statements here read), and the bound on each
//! subscription's backlog.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, named_params};

use super::errors::Context;
use super::values::micros;
use crate::domain::IN_FLIGHT_PER_SUBSCRIPTION;
use crate::store::fairness::{Candidate, Leased, in_turn};
use crate::store::{StoreError, backlog_message};

/// The earliest due and unleased deliveries of each active subscription, at most
/// `:per_subscription` each, each read from `webhook_deliveries_due_by_subscription`; in due
/// order.
const CANDIDATES: &str = "SELECT d.id, d.subscription_id, s.organization_id \
    FROM webhook_subscriptions s JOIN webhook_deliveries d ON d.id IN \
    (SELECT x.id FROM webhook_deliveries x WHERE x.subscription_id = s.id \
    AND x.status = 'pending' AND x.next_attempt_at <= :now \
    AND (x.leased_until IS NULL OR x.leased_until <= :now) \
    ORDER BY x.next_attempt_at, x.id LIMIT :per_subscription) \
    WHERE s.disabled_at IS NULL ORDER BY d.next_attempt_at, d.id";

/// How many deliveries of each subscription are leased at `:now`, from
/// `webhook_deliveries_leased` alone.
const LEASED: &str = "SELECT subscription_id, organization_id, count(*) \
    FROM webhook_deliveries WHERE status = 'pending' AND leased_until > :now \
    GROUP BY subscription_id, organization_id";

/// Fails each subscription's pending deliveries beyond the `:max` due last, unless leased at
/// `:now`, walking `webhook_deliveries_due_by_subscription` from the latest due.
const TRIM: &str = "UPDATE webhook_deliveries SET status = 'failed', next_attempt_at = NULL, \
    leased_until = NULL, error_message = :message WHERE id IN \
    (SELECT d.id FROM webhook_subscriptions s JOIN webhook_deliveries d ON d.id IN \
    (SELECT x.id FROM webhook_deliveries x WHERE x.subscription_id = s.id \
    AND x.status = 'pending' ORDER BY x.next_attempt_at DESC, x.id DESC LIMIT -1 OFFSET :max) \
    WHERE d.leased_until IS NULL OR d.leased_until <= :now)";

/// The ids of the deliveries a claim of at most `limit` at `now` takes, in turn.
pub(super) fn due_in_turn(
    connection: &Connection,
    now: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<String>, StoreError> {
    let now = micros(now);
    let leased = connection
        .prepare_cached(LEASED)
        .and_then(|mut statement| {
            statement
                .query_map(named_params! { ":now": now }, |row| {
                    Ok(Leased {
                        subscription: row.get(0)?,
                        organization: row.get(1)?,
                        count: row.get(2)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .context("counting the deliveries in flight")?;
    let candidates = connection
        .prepare_cached(CANDIDATES)
        .and_then(|mut statement| {
            statement
                .query_map(
                    named_params! {
                        ":now": now,
                        ":per_subscription": IN_FLIGHT_PER_SUBSCRIPTION,
                    },
                    |row| {
                        Ok(Candidate {
                            delivery: row.get(0)?,
                            subscription: row.get(1)?,
                            organization: row.get(2)?,
                        })
                    },
                )?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .context("finding due deliveries")?;
    Ok(in_turn(candidates, &leased, limit))
}

/// Bounds every subscription's backlog to `max` pending deliveries at `now`, in the caller's
/// transaction (see [`crate::store::OutboxStore::webhook_backlog_trim`]).
pub(super) fn trim(
    transaction: &Connection,
    max: u32,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let failed = transaction
        .prepare_cached(TRIM)
        .and_then(|mut statement| {
            statement.execute(named_params! {
                ":message": backlog_message(max),
                ":max": max,
                ":now": micros(now),
            })
        })
        .context("failing the deliveries beyond a backlog's bound")?;
    Ok(u64::try_from(failed).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{open, plan, raw};
    use super::*;

    /// Each statement reads the outbox on its index, never by scanning it.
    #[tokio::test]
    async fn each_scheduling_statement_reads_an_index() {
        let (dir, _store, _) = open().await;
        let raw = raw(&dir);
        let candidates = plan(
            &raw,
            CANDIDATES,
            named_params! { ":now": 0, ":per_subscription": 4 },
        );
        assert!(
            candidates.contains("webhook_deliveries_due_by_subscription (subscription_id=?"),
            "{candidates}"
        );
        let leased = plan(&raw, LEASED, named_params! { ":now": 0 });
        assert!(
            leased.contains("COVERING INDEX webhook_deliveries_leased (leased_until>?)"),
            "{leased}"
        );
        let trim = plan(
            &raw,
            TRIM,
            named_params! { ":message": "", ":max": 10, ":now": 0 },
        );
        assert!(
            trim.contains("webhook_deliveries_due_by_subscription (subscription_id=?"),
            "{trim}"
        );
        for plan in [candidates, leased, trim] {
            assert!(!plan.contains("SCAN d"), "{plan}");
            assert!(!plan.contains("SCAN x"), "{plan}");
            assert!(!plan.contains("SCAN webhook_deliveries"), "{plan}");
        }
    }
}
