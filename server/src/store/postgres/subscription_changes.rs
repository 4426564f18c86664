//! What changes a webhook subscription after it is made, besides deliveries' outcomes: enabled
//! again after repeated failures disabled it, and its signing secret rotated. Each is one
//! statement, scoped to the organization, that answers with the subscription as it leaves it;
//! it locks the subscription's row as an attempt's record does, so the two take turns.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use uuid::Uuid;

use super::statements::query_opt;
use super::webhooks::subscription;
use crate::domain::{OrganizationId, Subscription};
use crate::store::{SealedSecret, StoreError};

/// What both statements return: the columns [`subscription`] reads.
const RETURNING: &str =
    "RETURNING id, organization_id, event_type, target_url, created_at, disabled_at";

pub(super) async fn enable(
    client: &impl GenericClient,
    organization: OrganizationId,
    id: Uuid,
) -> Result<Option<Subscription>, StoreError> {
    // An active subscription keeps its count of failures: only a disabled one starts afresh.
    query_opt(
        client,
        "enabling a webhook subscription",
        &format!(
            "UPDATE webhook_subscriptions SET disabled_at = NULL, consecutive_failures = \
             CASE WHEN disabled_at IS NULL THEN consecutive_failures ELSE 0 END \
             WHERE organization_id = $1 AND id = $2 {RETURNING}"
        ),
        &[&organization.0, &id],
    )
    .await?
    .map(|row| subscription(&row))
    .transpose()
}

pub(super) async fn rotate(
    client: &impl GenericClient,
    organization: OrganizationId,
    id: Uuid,
    new: &SealedSecret,
    previous_expires_at: DateTime<Utc>,
) -> Result<Option<Subscription>, StoreError> {
    // The right-hand sides read the row as it was: the current secret moves, sealed as it
    // is (its seal is bound to the subscription, not to the column), and the previous one
    // before it is overwritten.
    query_opt(
        client,
        "rotating a webhook secret",
        &format!(
            "UPDATE webhook_subscriptions SET previous_secret = secret, \
             previous_secret_key_id = secret_key_id, previous_secret_expires_at = $3, \
             secret = $4, secret_key_id = $5 WHERE organization_id = $1 AND id = $2 {RETURNING}"
        ),
        &[
            &organization.0,
            &id,
            &previous_expires_at,
            &new.sealed,
            &new.key_id,
        ],
    )
    .await?
    .map(|row| subscription(&row))
    .transpose()
}
