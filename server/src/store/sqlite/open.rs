//! Opening the database file: the writer's connection in WAL mode, as durable as
//! [`Synchronous`] says, its schema brought up to date by the migrations.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};
use rusqlite_migration::{M, Migrations};

use super::errors::Context;
use super::pool;
use crate::store::StoreError;

/// When a commit reaches the disk, and so what an acknowledged write survives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Synchronous {
    /// Every commit is flushed to the disk before it is acknowledged (once per group commit):
    /// a `201` survives a power loss. The default.
    #[default]
    Full,
    /// Commits are flushed at checkpoints only: faster, and a power loss (not a crash of the
    /// process) may drop the last commits already acknowledged. WAL keeps the file
    /// consistent either way.
    Normal,
}

impl Synchronous {
    fn pragma(self) -> &'static str {
        match self {
            Synchronous::Full => "FULL",
            Synchronous::Normal => "NORMAL",
        }
    }
}

/// The schema, one migration per version, oldest first. `PRAGMA user_version` records how
/// many have been applied, so only append: never edit or reorder a migration that has shipped.
pub(super) const MIGRATION_STEPS: &[M<'static>] = &[
    M::up(include_str!("migrations/0001_initial.sql")),
    M::up(include_str!("migrations/0002_api_key_lifecycle.sql")),
    M::up(include_str!("migrations/0003_versions_and_answers.sql")),
    M::up(include_str!("migrations/0004_status_and_source_index.sql")),
    M::up(include_str!("migrations/0005_webhooks.sql")),
    M::up(include_str!("migrations/0006_sweep_indexes.sql")),
    M::up(include_str!("migrations/0007_sealed_secrets.sql")),
    M::up(include_str!("migrations/0008_fair_claims.sql")),
    M::up(include_str!("migrations/0009_previous_secrets.sql")),
    M::up(include_str!("migrations/0010_lead_changes.sql")),
    // 0011 rebuilds a table, so migrations run with foreign keys off (`try_open_writer`)
    // and this one checks them.
    M::up(include_str!("migrations/0011_erasure.sql")).foreign_key_check(),
    M::up(include_str!("migrations/0012_delivery_attempts.sql")),
    M::up(include_str!("migrations/0013_deflated_event_bodies.sql")),
    M::up(include_str!("migrations/0014_no_global_due_index.sql")),
    M::up(include_str!("migrations/0015_event_traces.sql")),
];
pub(super) const MIGRATIONS: Migrations<'static> = Migrations::from_slice(MIGRATION_STEPS);

/// How many times opening is tried while other processes may be opening the same file.
const OPEN_ATTEMPTS: u32 = 5;

/// The writer connection of the file at `path`: configured, in WAL mode, migrated.
///
/// Two processes opening a new file at once race twice: switching to WAL needs a lock the
/// busy timeout does not wait for, and `rusqlite_migration` reads the schema version before
/// it opens its transaction, so the second process applies migrations the first has just
/// committed, and fails (its transaction rolls back). Opening again finds the file in WAL mode
/// and its schema current, so trying again, a few times, is all it takes.
pub(super) fn open_writer(path: &Path, synchronous: Synchronous) -> Result<Connection, StoreError> {
    let mut attempt = 1;
    loop {
        match try_open_writer(path, synchronous) {
            Err(_) if attempt < OPEN_ATTEMPTS => {
                std::thread::sleep(std::time::Duration::from_millis(20 * u64::from(attempt)));
                attempt += 1;
            }
            outcome => return outcome,
        }
    }
}

fn try_open_writer(path: &Path, synchronous: Synchronous) -> Result<Connection, StoreError> {
    let shown = path.display();
    let mut writer = Connection::open(path).context(&format!("opening database {shown}"))?;
    pool::configure(&writer).context(&format!("configuring database {shown}"))?;
    let journal_mode: String = writer
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .context(&format!("enabling WAL on {shown}"))?;
    // Without WAL, readers and the writer would block each other: fail loudly instead.
    if !journal_mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Internal(format!(
            "database {shown} refused WAL journal mode (it is in {journal_mode} mode)"
        )));
    }
    writer
        .pragma_update(None, "synchronous", synchronous.pragma())
        .context(&format!("configuring database {shown}"))?;
    // rusqlite_migration opens its transaction with the connection's default behaviour.
    // IMMEDIATE takes the write lock up front: a deferred transaction that reads first
    // fails with SQLITE_BUSY when another process wrote meanwhile, which the busy timeout
    // cannot cure. (The store's own transactions ask for IMMEDIATE by name.)
    writer.set_transaction_behavior(TransactionBehavior::Immediate);
    // A table rebuild (0011) must not see its dependants' references checked while the
    // table is briefly gone; `foreign_keys` cannot change inside the migrations' transaction,
    // so it is off around it, and the rebuilding migration checks the keys itself.
    writer
        .pragma_update(None, "foreign_keys", "OFF")
        .context(&format!("configuring database {shown}"))?;
    // All pending migrations run in one transaction; a file whose schema is newer than
    // this build's is refused rather than used.
    MIGRATIONS
        .to_latest(&mut writer)
        .map_err(|error| StoreError::Internal(format!("migrating database {shown}: {error}")))?;
    writer
        .pragma_update(None, "foreign_keys", "ON")
        .context(&format!("configuring database {shown}"))?;
    // Every byte the writer frees is zeroed (deleted rows, rewritten cells, freed pages), so
    // that an erased lead, and every older version of it, leaves nothing in the file: the
    // price is writing zeros where SQLite would leave garbage (README, "Erasure").
    writer
        .pragma_update(None, "secure_delete", "ON")
        .context(&format!("configuring database {shown}"))?;
    Ok(writer)
}
