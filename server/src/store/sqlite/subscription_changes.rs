//! What changes a webhook subscription after it is made, besides deliveries' outcomes: enabled
//! again after repeated failures disabled it, and its signing secret rotated. Each is one
//! statement in the writer's transaction, scoped to the organization, and answers with the
//! subscription as the transaction leaves it.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, named_params};
use uuid::Uuid;

use super::errors::Context;
use super::values::{id_text, micros};
use super::webhooks::subscription_select;
use crate::domain::{OrganizationId, Subscription};
use crate::store::{SealedSecret, StoreError};

pub(super) fn enable(
    transaction: &Connection,
    organization: OrganizationId,
    id: Uuid,
) -> Result<Option<Subscription>, StoreError> {
    // Only a disabled one: an active subscription's count of failures is its own business.
    transaction
        .execute(
            "UPDATE webhook_subscriptions SET disabled_at = NULL, consecutive_failures = 0 \
             WHERE id = ?1 AND organization_id = ?2 AND disabled_at IS NOT NULL",
            [id_text(id), id_text(organization.0)],
        )
        .context("enabling a webhook subscription")?;
    subscription_select(transaction, organization, id)
}

pub(super) fn rotate(
    transaction: &Connection,
    organization: OrganizationId,
    id: Uuid,
    new: &SealedSecret,
    previous_expires_at: DateTime<Utc>,
) -> Result<Option<Subscription>, StoreError> {
    // The right-hand sides read the row as it was: the current secret moves, sealed as it
    // is (its seal is bound to the subscription, not to the column), and the previous one
    // before it is overwritten.
    transaction
        .prepare_cached(
            "UPDATE webhook_subscriptions SET previous_secret = secret, \
             previous_secret_key_id = secret_key_id, \
             previous_secret_expires_at = :previous_expires_at, \
             secret = :secret, secret_key_id = :secret_key_id \
             WHERE id = :id AND organization_id = :organization_id",
        )
        .and_then(|mut statement| {
            statement.execute(named_params! {
                ":previous_expires_at": micros(previous_expires_at),
                ":secret": new.sealed,
                ":secret_key_id": new.key_id,
                ":id": id_text(id),
                ":organization_id": id_text(organization.0),
            })
        })
        .context("rotating a webhook secret")?;
    subscription_select(transaction, organization, id)
}
