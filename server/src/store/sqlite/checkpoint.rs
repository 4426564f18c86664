//! Checkpoints on a thread of their own, so that the writer only ever appends to the WAL.
//!
//! In WAL mode every commit appends pages to the `-wal` file, and a checkpoint copies them back
//! into the database file and syncs it. Left to SQLite, the connection whose commit takes the
//! WAL past 1,000 pages runs that checkpoint itself, before it returns: on the writer thread,
//! every few hundred creates, with every queued write waiting behind it. Here the writer's own
//! automatic checkpoint is only a backstop ([`WRITER_BACKSTOP_PAGES`], for when this thread
//! falls far behind), and this thread, woken by the writer's commits, runs a `PASSIVE`
//! checkpoint (one that never waits for readers or the writer) at most every [`INTERVAL`].
//!
//! Durability does not depend on checkpoints: a commit is durable once it is in the WAL, and
//! opening the file after a crash replays the WAL.

use std::sync::mpsc::{self, RecvTimeoutError, Sender, SyncSender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use prometheus_client::metrics::histogram::Histogram;
use rusqlite::Connection;

use crate::store::StoreError;

/// The least time between two checkpoints: long enough for a checkpoint to copy many commits'
/// pages in one pass (and one sync), short enough that the WAL stays a few megabytes.
const INTERVAL: Duration = Duration::from_millis(100);

/// The WAL size, in pages, at which the writer checkpoints by itself after all (about 40 MB):
/// only if this thread has stopped keeping up.
pub(super) const WRITER_BACKSTOP_PAGES: u32 = 10_000;

/// The handle to the checkpoint thread: wakes it, and stops it when dropped.
pub(super) struct Checkpointer {
    wake: Option<SyncSender<()>>,
    /// Never sent on: dropping it (with `wake`) stops the thread, even between two
    /// checkpoints.
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts the checkpoint thread on `connection`, a read-write connection to the database
    /// whose WAL it checkpoints; each checkpoint's time goes to `durations`.
    pub(super) fn start(
        connection: Connection,
        durations: Histogram,
    ) -> Result<Checkpointer, StoreError> {
        // One pending wake-up is enough: commits while a checkpoint runs need one more pass.
        let (wake, woken) = mpsc::sync_channel(1);
        let (stop, stopped) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".to_string())
            .spawn(move || {
                while woken.recv().is_ok() {
                    // A failure (another process checkpointing, say) is retried on the next
                    // commit's wake-up; the writer's backstop bounds the WAL meanwhile.
                    let started = Instant::now();
                    let _ = connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                    durations.observe(started.elapsed().as_secs_f64());
                    if stopped.recv_timeout(INTERVAL) != Err(RecvTimeoutError::Timeout) {
                        break;
                    }
                }
            })
            .map_err(|error| StoreError::Internal(format!("starting the checkpointer: {error}")))?;
        Ok(Checkpointer {
            wake: Some(wake),
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Tells the thread that a transaction committed; returns at once.
    pub(super) fn committed(&self) {
        // Full: a wake-up is pending already. Disconnected: the thread has stopped.
        if let Some(wake) = &self.wake {
            let _ = wake.try_send(());
        }
    }
}

impl Drop for Checkpointer {
    /// Waits for a checkpoint under way to finish and closes the thread's connection, so that
    /// the writer's connection, closed after it, is the last and removes the WAL.
    fn drop(&mut self) {
        drop(self.wake.take());
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
