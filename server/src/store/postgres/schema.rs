//! The schema: the numbered migrations in `migrations/`, and the runner that brings a
//! database up to date as the store connects.
//!
//! A runner of our own rather than a migration crate: it is one transaction and a table, and
//! it takes the lock that lets replicas start at once inside that transaction, so that the
//! lock, the schema change and its record commit or roll back together.

use deadpool_postgres::Client;

use super::errors::Context;
use crate::store::StoreError;

/// The schema, one migration per version, oldest first: version `n` is `MIGRATIONS[n - 1]`.
/// `schema_migrations` records the versions applied, so only append: never edit or reorder a
/// migration that has shipped.
pub(super) const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_initial.sql"),
    include_str!("migrations/0002_rate_limit_buckets.sql"),
    include_str!("migrations/0003_webhooks.sql"),
    include_str!("migrations/0004_sweep_index.sql"),
    include_str!("migrations/0005_sealed_secrets.sql"),
    include_str!("migrations/0006_fair_claims.sql"),
    include_str!("migrations/0007_previous_secrets.sql"),
    include_str!("migrations/0008_lead_changes.sql"),
    include_str!("migrations/0009_erasure.sql"),
    include_str!("migrations/0010_delivery_attempts.sql"),
    include_str!("migrations/0011_no_global_due_index.sql"),
    include_str!("migrations/0012_event_traces.sql"),
];

/// The advisory lock that serializes migrations across processes: any constant no other
/// application sharing the database uses ("leadsmig" in ASCII).
const MIGRATION_LOCK: i64 = 0x6c65_6164_736d_6967;

/// Applies every migration the database lacks, all in one transaction, while holding
/// [`MIGRATION_LOCK`]: a replica starting while another migrates waits for it, then finds
/// its schema current. Refuses a database whose schema is newer than this build's.
///
/// `pg_advisory_xact_lock` is PostgreSQL's; CockroachDB would need another lock (a row
/// locked with `SELECT … FOR UPDATE`, say) before this runner could serve it.
pub(super) async fn migrate(client: &mut Client) -> Result<(), StoreError> {
    let transaction = client
        .transaction()
        .await
        .context("beginning the migrations")?;
    transaction
        .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .context("waiting for other processes' migrations")?;
    transaction
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (\
                 version    integer     NOT NULL PRIMARY KEY, \
                 applied_at timestamptz NOT NULL DEFAULT now())",
        )
        .await
        .context("creating schema_migrations")?;
    let applied: i32 = transaction
        .query_one(
            "SELECT COALESCE(max(version), 0) FROM schema_migrations",
            &[],
        )
        .await
        .and_then(|row| row.try_get(0))
        .context("reading the schema's version")?;
    let migrations = (1_i32..).zip(MIGRATIONS);
    let known = migrations.clone().last().map_or(0, |(version, _)| version);
    if applied > known {
        return Err(StoreError::Internal(format!(
            "the database's schema is at version {applied}, newer than this build's {known}: \
             run a newer server"
        )));
    }
    for (version, sql) in migrations.filter(|(version, _)| *version > applied) {
        let doing = format!("applying migration {version}");
        transaction.batch_execute(sql).await.context(&doing)?;
        transaction
            .execute(
                "INSERT INTO schema_migrations (version) VALUES ($1)",
                &[&version],
            )
            .await
            .context(&doing)?;
    }
    transaction
        .commit()
        .await
        .context("committing the migrations")
}
