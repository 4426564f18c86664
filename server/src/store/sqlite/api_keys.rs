//! The `api_keys` table: each key's hash and the organization it acts for.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension};
use uuid::Uuid;

use super::errors::Context;
use super::values::{id_text, micros, parse_id};
use crate::domain::{ApiKeyId, OrganizationId};
use crate::store::{KeyHash, StoreError};

/// Stores a new key of `organization` by its hash.
pub(super) fn insert(
    connection: &Connection,
    organization: OrganizationId,
    hash: KeyHash,
    created_at: DateTime<Utc>,
) -> Result<ApiKeyId, StoreError> {
    let id = Uuid::new_v4();
    connection
        .prepare_cached(
            "INSERT INTO api_keys (id, organization_id, key_hash, created_at) \
             VALUES (?, ?, ?, ?)",
        )
        .and_then(|mut statement| {
            statement.execute((
                id_text(id),
                id_text(organization.0),
                hash,
                micros(created_at),
            ))
        })
        .context("storing an API key")?;
    Ok(ApiKeyId(id))
}

/// The key with this hash and its organization, if it exists.
pub(super) fn find(
    connection: &Connection,
    hash: KeyHash,
) -> Result<Option<(ApiKeyId, OrganizationId)>, StoreError> {
    let found: Option<(String, String)> = connection
        .prepare_cached("SELECT id, organization_id FROM api_keys WHERE key_hash = ?")
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
