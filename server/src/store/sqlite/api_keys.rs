//! The `api_keys` table: each key's hash, its prefix, the organization it acts for, when it
//! was last used and whether it is revoked (a revoked key is never found).

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension};
use uuid::Uuid;

use super::errors::Context;
use super::values::{from_micros, id_text, micros, parse_id};
use crate::domain::{ApiKeyId, OrganizationId};
use crate::store::{ApiKeyInfo, KeyHash, NewApiKey, RevokeOutcome, StoreError};

/// Stores a new key by its hash and prefix.
pub(super) fn insert(connection: &Connection, key: &NewApiKey) -> Result<ApiKeyId, StoreError> {
    let id = Uuid::new_v4();
    connection
        .prepare_cached(
            "INSERT INTO api_keys (id, organization_id, key_hash, prefix, created_at) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .and_then(|mut statement| {
            statement.execute((
                id_text(id),
                id_text(key.organization.0),
                key.hash,
                &key.prefix,
                micros(key.created_at),
            ))
        })
        .context("storing an API key")?;
    Ok(ApiKeyId(id))
}

/// Every key of `organization`, oldest first.
pub(super) fn list(
    connection: &Connection,
    organization: OrganizationId,
) -> Result<Vec<ApiKeyInfo>, StoreError> {
    type Row = (String, Option<String>, i64, Option<i64>, Option<i64>);
    let rows: Vec<Row> = connection
        .prepare_cached(
            "SELECT id, prefix, created_at, last_used_at, revoked_at FROM api_keys \
             WHERE organization_id = ? ORDER BY created_at, id",
        )
        .and_then(|mut statement| {
            statement
                .query_map([id_text(organization.0)], |row| row.try_into())?
                .collect()
        })
        .context("listing API keys")?;
    let time = |micros: Option<i64>, column: &str| {
        micros.map(|micros| from_micros(micros, column)).transpose()
    };
    rows.into_iter()
        .map(|(id, prefix, created_at, last_used_at, revoked_at)| {
            Ok(ApiKeyInfo {
                id: ApiKeyId(parse_id(&id, "api_keys.id")?),
                prefix,
                created_at: from_micros(created_at, "api_keys.created_at")?,
                last_used_at: time(last_used_at, "api_keys.last_used_at")?,
                revoked_at: time(revoked_at, "api_keys.revoked_at")?,
            })
        })
        .collect()
}

/// Revokes the one unrevoked key whose prefix or id is `prefix`.
pub(super) fn revoke(
    connection: &Connection,
    prefix: &str,
    at: DateTime<Utc>,
) -> Result<RevokeOutcome, StoreError> {
    let ids: Vec<String> = connection
        .prepare_cached(
            "SELECT id FROM api_keys WHERE (prefix = ?1 OR id = ?1) AND revoked_at IS NULL \
             LIMIT 2",
        )
        .and_then(|mut statement| statement.query_map([prefix], |row| row.get(0))?.collect())
        .context("finding the key to revoke")?;
    let id = match ids.as_slice() {
        [] => return Ok(RevokeOutcome::NotFound),
        [id] => id,
        _ => return Ok(RevokeOutcome::Ambiguous),
    };
    connection
        .prepare_cached("UPDATE api_keys SET revoked_at = ? WHERE id = ?")
        .and_then(|mut statement| statement.execute((micros(at), id)))
        .context("revoking an API key")?;
    Ok(RevokeOutcome::Revoked(ApiKeyId(parse_id(
        id,
        "api_keys.id",
    )?)))
}

/// Records a key's last use.
pub(super) fn touch(
    connection: &Connection,
    key: ApiKeyId,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    connection
        .prepare_cached("UPDATE api_keys SET last_used_at = ? WHERE id = ?")
        .and_then(|mut statement| statement.execute((micros(at), id_text(key.0))))
        .context("recording an API key's use")?;
    Ok(())
}

/// The key with this hash and its organization, if it exists.
pub(super) fn find(
    connection: &Connection,
    hash: KeyHash,
) -> Result<Option<(ApiKeyId, OrganizationId)>, StoreError> {
    let found: Option<(String, String)> = connection
        .prepare_cached(
            "SELECT id, organization_id FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL",
        )
        .and_then(|mut statement| {
            statement
                .query_row([hash], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()
        })
        .context("looking up an API key")?;
    found
        .map(|(id, organization)| {
            Ok((
                ApiKeyId(parse_id(&id, "api_keys.id")?),
                OrganizationId(parse_id(&organization, "api_keys.organization_id")?),
            ))
        })
        .transpose()
}
