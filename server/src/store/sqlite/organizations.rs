//! The `organizations` table: the tenants that own leads and API keys.

use chrono::Utc;
use rusqlite::{Connection, OptionalExtension};
use uuid::Uuid;

use super::errors::Context;
use super::values::{id_text, micros, parse_id};
use crate::domain::OrganizationId;
use crate::store::StoreError;

/// Whether no organization exists yet (a new database).
pub(super) fn none_exist(connection: &Connection) -> Result<bool, StoreError> {
    connection
        .query_row(
            "SELECT NOT EXISTS (SELECT 1 FROM organizations)",
            [],
            |row| row.get(0),
        )
        .context("counting organizations")
}

/// The organization called `name`, if it exists.
pub(super) fn find(
    connection: &Connection,
    name: &str,
) -> Result<Option<OrganizationId>, StoreError> {
    let id: Option<String> = connection
        .query_row(
            "SELECT id FROM organizations WHERE name = ?",
            [name],
            |row| row.get(0),
        )
        .optional()
        .context("finding an organization")?;
    id.map(|id| Ok(OrganizationId(parse_id(&id, "organizations.id")?)))
        .transpose()
}

/// The organization called `name`, created if it does not exist.
pub(super) fn ensure(connection: &Connection, name: &str) -> Result<OrganizationId, StoreError> {
    connection
        .prepare_cached(
            "INSERT INTO organizations (id, name, created_at) VALUES (?, ?, ?) \
             ON CONFLICT (name) DO NOTHING",
        )
        .and_then(|mut statement| {
            statement.execute((id_text(Uuid::new_v4()), name, micros(Utc::now())))
        })
        .context("creating an organization")?;
    let id: String = connection
        .query_row(
            "SELECT id FROM organizations WHERE name = ?",
            [name],
            |row| row.get(0),
        )
        .context("reading an organization")?;
    Ok(OrganizationId(parse_id(&id, "organizations.id")?))
}
