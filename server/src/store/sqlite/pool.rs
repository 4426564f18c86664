//! The connections to the database file: the settings each one needs, and the pool that lends
//! read-only connections to reads.
//!
//! The pool is [deadpool] 0.13's generic one, with a manager of our own; deadpool knows nothing
//! of SQLite, so the build keeps its single rusqlite 0.40 and libsqlite3-sys. Two ready-made
//! SQLite pools were weighed and not taken, though both build on rusqlite 0.40 too:
//!
//! - `deadpool-sqlite` 0.14 opens every connection read-write, with no way to ask for
//!   `SQLITE_OPEN_READ_ONLY`; it checks each connection with a query on every checkout, one
//!   more trip through the blocking pool per read; and `deadpool-sync`'s wrapper closes
//!   connections in a background task, which needs a tokio runtime wherever the pool is
//!   dropped and lets a reader close after the writer, leaving the WAL file behind (see
//!   [`super::SqliteStore`]).
//! - `r2d2` 0.8 with `r2d2_sqlite` 0.35 opens read-only connections with an init hook, but it
//!   is a blocking pool: a read waiting for a connection would park a thread of tokio's
//!   blocking pool, which writes need too.
//!
//! deadpool waits for a connection asynchronously, in FIFO order, and drops idle connections
//! where the pool is dropped.
//!
//! [deadpool]: https://docs.rs/deadpool

use std::path::{Path, PathBuf};
use std::time::Duration;

use deadpool::managed::{self, Metrics, RecycleResult};
use rusqlite::{Connection, OpenFlags};

use super::errors::Context;
use crate::store::StoreError;

/// Enough for reads to overlap each other and the writer without holding many file handles.
const READERS: usize = 4;

/// How long a connection waits for another's lock (e.g. a second process) before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Read-only connections, opened at start ([`open_all`]) and lent to one read at a time.
pub(super) type ReaderPool = managed::Pool<Readers>;

/// The pool of readers of the database at `path`, whose schema must be in place already.
pub(super) fn readers(path: &Path) -> Result<ReaderPool, StoreError> {
    ReaderPool::builder(Readers {
        path: path.to_owned(),
    })
    .max_size(READERS)
    .build()
    .map_err(|error| StoreError::Internal(format!("building the reader pool: {error}")))
}

/// Settings every connection needs; `journal_mode` is the file's, set once by the writer.
/// Temporary files (statement journals, sorts) are kept in memory: a file opened in the middle
/// of a request would fail that request whenever the process is short of descriptors.
pub(super) fn configure(connection: &Connection) -> rusqlite::Result<()> {
    connection.busy_timeout(BUSY_TIMEOUT)?;
    connection.pragma_update(None, "temp_store", "MEMORY")?;
    connection.pragma_update(None, "foreign_keys", "ON")
}

/// Opens every reader `pool` may lend, so that none has to be opened while a request waits
/// (when the process might be short of descriptors).
pub(super) async fn open_all(pool: &ReaderPool) -> Result<(), StoreError> {
    let mut readers = Vec::with_capacity(READERS);
    for _ in 0..READERS {
        readers.push(
            pool.get()
                .await
                .map_err(|error| StoreError::Internal(format!("opening a reader: {error}")))?,
        );
    }
    // Dropped, they go back to the pool, open.
    Ok(())
}

/// Opens the readers of one database file.
pub(super) struct Readers {
    path: PathBuf,
}

impl managed::Manager for Readers {
    type Type = Connection;
    type Error = StoreError;

    async fn create(&self) -> Result<Connection, StoreError> {
        let path = self.path.clone();
        super::blocking(move || {
            // Read-only, so a bug in a read path cannot write behind the writer's back.
            let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_URI
                | OpenFlags::SQLITE_OPEN_NO_MUTEX;
            Connection::open_with_flags(&path, flags)
                .and_then(|reader| configure(&reader).map(|()| reader))
                .context(&format!("opening a reader of {}", path.display()))
        })
        .await
    }

    async fn recycle(&self, _: &mut Connection, _: &Metrics) -> RecycleResult<StoreError> {
        // A reader holds no state between reads: statements reset when dropped, and it never
        // opens a transaction. So a returned reader is as good as new, and checking it with a
        // query would only cost a trip through the blocking pool.
        Ok(())
    }
}
