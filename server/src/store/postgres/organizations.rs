//! The `organizations` table: the tenants that own leads and API keys.

use chrono::Utc;
use deadpool_postgres::GenericClient;
use uuid::Uuid;

use super::errors::Context;
use super::statements::{execute, query_opt};
use crate::domain::OrganizationId;
use crate::store::StoreError;

/// Whether no organization exists yet (a new database).
pub(super) async fn none_exist(client: &impl GenericClient) -> Result<bool, StoreError> {
    let doing = "counting organizations";
    let sql = "SELECT NOT EXISTS (SELECT 1 FROM organizations)";
    match query_opt(client, doing, sql, &[]).await? {
        Some(row) => row.try_get(0).context(doing),
        None => Err(StoreError::Internal(format!("{doing}: no answer"))),
    }
}

/// The organization called `name`, if it exists.
pub(super) async fn find(
    client: &impl GenericClient,
    name: &str,
) -> Result<Option<OrganizationId>, StoreError> {
    let doing = "finding an organization";
    let sql = "SELECT id FROM organizations WHERE name = $1";
    query_opt(client, doing, sql, &[&name])
        .await?
        .map(|row| row.try_get(0).map(OrganizationId).context(doing))
        .transpose()
}

/// The organization called `name`, created if it does not exist.
pub(super) async fn ensure(
    client: &impl GenericClient,
    name: &str,
) -> Result<OrganizationId, StoreError> {
    // Two statements, not one: a statement does not see what a concurrent `ensure` committed
    // after it began, even once its `ON CONFLICT` has waited for it; the next statement does.
    execute(
        client,
        "creating an organization",
        "INSERT INTO organizations (id, name, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (name) DO NOTHING",
        &[&Uuid::new_v4(), &name, &Utc::now()],
    )
    .await?;
    find(client, name)
        .await?
        .ok_or_else(|| StoreError::Internal(format!("organization {name:?} vanished")))
}
