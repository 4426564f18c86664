//! Running a statement: prepared once per connection (deadpool's statement cache, which
//! saves a round trip on every later use), its errors turned into [`StoreError`]s that say
//! what was being done; and what the tables' statements share: the list order's pages, and
//! reading a column.

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use tokio_postgres::types::{FromSql, ToSql};

use super::errors::Context;
use crate::domain::Keyset;
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

/// A parameter of a statement built at run time.
pub(super) type Value = Box<dyn ToSql + Sync + Send>;

/// The parameters of a statement built at run time, as the driver takes them.
pub(super) fn bound(values: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    values
        .iter()
        .map(|value| value.as_ref() as &(dyn ToSql + Sync))
        .collect()
}

/// Appends one page of the list order every list shares (`created_at` descending, then `id`
/// descending) to a query whose columns `alias` qualifies (`"d."`, or `""` for none): the rows
/// strictly after `after`, at most `limit`, every value bound.
pub(super) fn page(
    sql: &mut String,
    values: &mut Vec<Value>,
    alias: &str,
    after: Option<Keyset>,
    limit: u32,
) {
    if let Some(Keyset { created_at, id }) = after {
        // A row comparison: an index on `(…, created_at DESC, id DESC)` seeks straight to it.
        values.push(Box::new(created_at));
        values.push(Box::new(id));
        let n = values.len();
        sql.push_str(&format!(
            " AND ({alias}created_at, {alias}id) < (${}, ${n})",
            n - 1
        ));
    }
    values.push(Box::new(i64::from(limit)));
    sql.push_str(&format!(
        " ORDER BY {alias}created_at DESC, {alias}id DESC LIMIT ${}",
        values.len()
    ));
}

/// The column `name` of a row read while `doing`.
pub(super) fn column<'a, T: FromSql<'a>>(
    row: &'a Row,
    doing: &str,
    name: &str,
) -> Result<T, StoreError> {
    row.try_get(name).context(doing)
}
