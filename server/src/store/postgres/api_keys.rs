//! The `api_keys` table: each key's hash, its prefix, the organization it acts for, when it
//! was last used and whether it is revoked (a revoked key is never found, and its revocation
//! is notified to every replica's `key_cache`).

use chrono::{DateTime, Utc};
use deadpool_postgres::{GenericClient, Transaction};
use tokio_postgres::Row;
use uuid::Uuid;

use super::errors::Context;
use super::key_cache::CHANNEL;
use super::statements::{execute, query, query_opt};
use crate::domain::{ApiKeyId, OrganizationId};
use crate::store::{ApiKeyInfo, KeyHash, NewApiKey, RevokeOutcome, StoreError};

/// Stores a new key by its hash and prefix.
pub(super) async fn insert(
    client: &impl GenericClient,
    key: &NewApiKey,
) -> Result<ApiKeyId, StoreError> {
    let id = Uuid::new_v4();
    execute(
        client,
        "storing an API key",
        "INSERT INTO api_keys (id, organization_id, key_hash, prefix, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
        &[
            &id,
            &key.organization.0,
            &key.hash.as_slice(),
            &key.prefix,
            &key.created_at,
        ],
    )
    .await?;
    Ok(ApiKeyId(id))
}

/// Every key of `organization`, oldest first.
pub(super) async fn list(
    client: &impl GenericClient,
    organization: OrganizationId,
) -> Result<Vec<ApiKeyInfo>, StoreError> {
    let doing = "listing API keys";
    let read = |row: Row| -> Result<_, tokio_postgres::Error> {
        Ok(ApiKeyInfo {
            id: ApiKeyId(row.try_get(0)?),
            prefix: row.try_get(1)?,
            created_at: row.try_get(2)?,
            last_used_at: row.try_get(3)?,
            revoked_at: row.try_get(4)?,
        })
    };
    query(
        client,
        doing,
        "SELECT id, prefix, created_at, last_used_at, revoked_at FROM api_keys \
         WHERE organization_id = $1 ORDER BY created_at, id",
        &[&organization.0],
    )
    .await?
    .into_iter()
    .map(read)
    .collect::<Result<_, _>>()
    .context(doing)
}

/// Revokes the one unrevoked key whose prefix or id is `prefix`, and notifies every replica's
/// key cache, which the notification reaches only if the revocation commits.
pub(super) async fn revoke(
    transaction: &Transaction<'_>,
    prefix: &str,
    at: DateTime<Utc>,
) -> Result<RevokeOutcome, StoreError> {
    let doing = "finding the key to revoke";
    // Locked, so that the key found is still unrevoked when the update below runs.
    let ids: Vec<Uuid> = query(
        transaction,
        doing,
        "SELECT id FROM api_keys WHERE (prefix = $1 OR id::text = $1) \
         AND revoked_at IS NULL LIMIT 2 FOR UPDATE",
        &[&prefix],
    )
    .await?
    .iter()
    .map(|row| row.try_get(0))
    .collect::<Result<_, _>>()
    .context(doing)?;
    let id = match ids.as_slice() {
        [] => return Ok(RevokeOutcome::NotFound),
        [id] => *id,
        _ => return Ok(RevokeOutcome::Ambiguous),
    };
    execute(
        transaction,
        "revoking an API key",
        "UPDATE api_keys SET revoked_at = $1 WHERE id = $2",
        &[&at, &id],
    )
    .await?;
    execute(
        transaction,
        "notifying replicas of a revocation",
        "SELECT pg_notify($1, $2)",
        &[&CHANNEL, &id.to_string()],
    )
    .await?;
    Ok(RevokeOutcome::Revoked(ApiKeyId(id)))
}

/// Records a key's last use.
pub(super) async fn touch(
    client: &impl GenericClient,
    key: ApiKeyId,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    execute(
        client,
        "recording an API key's use",
        "UPDATE api_keys SET last_used_at = $1 WHERE id = $2",
        &[&at, &key.0],
    )
    .await?;
    Ok(())
}

/// The unrevoked key with this hash and its organization, if it exists.
pub(super) async fn find(
    client: &impl GenericClient,
    hash: KeyHash,
) -> Result<Option<(ApiKeyId, OrganizationId)>, StoreError> {
    let doing = "looking up an API key";
    let read = |row: Row| -> Result<_, tokio_postgres::Error> {
        Ok((ApiKeyId(row.try_get(0)?), OrganizationId(row.try_get(1)?)))
    };
    query_opt(
        client,
        doing,
        "SELECT id, organization_id FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL",
        &[&hash.as_slice()],
    )
    .await?
    .map(read)
    .transpose()
    .context(doing)
}
