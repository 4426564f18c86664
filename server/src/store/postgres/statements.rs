//! Running a statement: prepared once per connection (deadpool's statement cache, which
//! saves a round trip on every later use), its errors turned into [`StoreError`]s that say
//! what was being done.

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::errors::Context;
use crate::store::StoreError;

pub(super) type Parameters<'a> = &'a [&'a (dyn ToSql + Sync)];

/// How many rows `sql` changed.
pub(super) async fn execute(
    client: &impl GenericClient,
    doing: &str,
    sql: &str,
    parameters: Parameters<'_>,
) -> Result<u64, StoreError> {
    let statement = client.prepare_cached(sql).await.context(doing)?;
    client.execute(&statement, parameters).await.context(doing)
}

/// Every row of `sql`.
pub(super) async fn query(
    client: &impl GenericClient,
    doing: &str,
    sql: &str,
    parameters: Parameters<'_>,
) -> Result<Vec<Row>, StoreError> {
    let statement = client.prepare_cached(sql).await.context(doing)?;
    client.query(&statement, parameters).await.context(doing)
}

/// The row of `sql`, if any; an error if more than one.
pub(super) async fn query_opt(
    client: &impl GenericClient,
    doing: &str,
    sql: &str,
    parameters: Parameters<'_>,
) -> Result<Option<Row>, StoreError> {
    let statement = client.prepare_cached(sql).await.context(doing)?;
    client
        .query_opt(&statement, parameters)
        .await
        .context(doing)
}
