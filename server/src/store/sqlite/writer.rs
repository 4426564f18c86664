//! The one connection that writes, on a thread of its own, committing the writes queued
//! meanwhile together (group commit).
//!
//! SQLite admits one writer at a time, and a commit costs far more than the statements before
//! it. So the writer thread takes every write waiting in its queue (up to [`MAX_BATCH`]), runs
//! them in one `BEGIN IMMEDIATE … COMMIT`, each inside a savepoint of its own, and answers each
//! only once the commit is done: an acknowledged write is as durable as if it had committed
//! alone. A write that fails rolls back to its savepoint and fails alone; its batch-mates
//! commit. A failed commit fails the whole batch, and nothing of it is kept.
//!
//! Under light load a batch is one write, and the queue costs one channel hop instead of a
//! trip through tokio's blocking pool.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;
use std::thread::JoinHandle;

use std::time::Instant;

use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use rusqlite::Connection;
use tokio::sync::oneshot;

use super::checkpoint::{self, Checkpointer};
use super::errors::Context;
use crate::metrics::SqliteMetrics;
use crate::store::StoreError;

/// The most writes one transaction commits: enough to amortize a commit over a busy
/// server's concurrent writes, few enough that the first of them does not wait long.
const MAX_BATCH: usize = 128;

/// A write queued for the writer thread.
trait Job: Send {
    /// Runs the write in the open transaction, inside a savepoint of its own.
    fn run(&mut self, connection: &Connection);
    /// Answers the caller: with the write's outcome if the transaction committed, else with
    /// why it did not.
    fn finish(self: Box<Self>, committed: Result<(), String>);
}

/// A write returning `T`, and where its caller waits for it.
struct Write<T, F> {
    work: Option<F>,
    outcome: Option<Result<T, StoreError>>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> Job for Write<T, F>
where
    T: Send,
    F: FnOnce(&Connection) -> Result<T, StoreError> + Send,
{
    fn run(&mut self, connection: &Connection) {
        if let Some(work) = self.work.take() {
            self.outcome = Some(in_savepoint(connection, work));
        }
    }

    fn finish(self: Box<Self>, committed: Result<(), String>) {
        let answer = match (committed, self.outcome) {
            (Ok(()), Some(outcome)) => outcome,
            (Ok(()), None) => Err(StoreError::Internal("a write never ran".to_string())),
            (Err(why), _) => Err(StoreError::Internal(why)),
        };
        // The caller may have gone (its request was dropped); the write stands regardless.
        let _ = self.reply.send(answer);
    }
}

/// Runs `work` inside a savepoint: kept if it succeeds, undone if it fails or panics.
fn in_savepoint<T>(
    connection: &Connection,
    work: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    execute(connection, "SAVEPOINT write").context("opening a savepoint")?;
    let outcome = catch_unwind(AssertUnwindSafe(|| work(connection))).unwrap_or_else(|_| {
        Err(StoreError::Internal(
            "a write panicked on the writer thread".to_string(),
        ))
    });
    if outcome.is_err() {
        execute(connection, "ROLLBACK TO write").context("undoing a failed write")?;
    }
    execute(connection, "RELEASE write").context("closing a savepoint")?;
    outcome
}

/// Runs one statement without parameters through the statement cache: the writer runs the
/// same few (transactions, savepoints) for every write, and parsing them each time showed.
fn execute(connection: &Connection, sql: &str) -> rusqlite::Result<()> {
    connection.prepare_cached(sql)?.execute([]).map(drop)
}

/// The handle to the writer thread: queues writes, and stops the thread when dropped.
pub(super) struct Writer {
    jobs: Option<mpsc::Sender<Box<dyn Job>>>,
    thread: Option<JoinHandle<()>>,
    /// The writes queued, for the metrics.
    queued: Gauge,
}

impl Writer {
    /// Starts the writer thread on `connection`, which must be configured and migrated, and
    /// hands the WAL's checkpoints to a thread of their own on `checkpoints`, a second
    /// read-write connection to the same file. Both record into `metrics`.
    pub(super) fn start(
        connection: Connection,
        checkpoints: Connection,
        metrics: &SqliteMetrics,
    ) -> Result<Writer, StoreError> {
        connection
            .pragma_update(
                None,
                "wal_autocheckpoint",
                checkpoint::WRITER_BACKSTOP_PAGES,
            )
            .context("handing checkpoints over")?;
        let checkpointer = Checkpointer::start(checkpoints, metrics.checkpoint_duration.clone())?;
        let queued = metrics.writer_queue.clone();
        let thread_metrics = metrics.clone();
        let (jobs, queue) = mpsc::channel::<Box<dyn Job>>();
        let thread = std::thread::Builder::new()
            .name("sqlite-writer".to_string())
            .spawn(move || {
                commit_batches(&connection, &queue, &checkpointer, &thread_metrics);
                // Its connection closes first, so that the writer's is the last to close.
                drop(checkpointer);
                drop(connection);
            })
            .map_err(|error| StoreError::Internal(format!("starting the writer: {error}")))?;
        Ok(Writer {
            jobs: Some(jobs),
            thread: Some(thread),
            queued,
        })
    }

    /// Runs `work` in the writer's next transaction; its outcome once that committed.
    pub(super) async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Box::new(Write {
            work: Some(work),
            outcome: None,
            reply,
        });
        let stopped = || StoreError::Internal("the writer thread has stopped".to_string());
        let jobs = self.jobs.as_ref().ok_or_else(stopped)?;
        self.queued.inc();
        jobs.send(job).map_err(|_| {
            self.queued.dec();
            stopped()
        })?;
        answer.await.map_err(|_| stopped())?
    }
}

impl Drop for Writer {
    /// Lets the thread finish the queued writes and close the connection before returning, so
    /// that the database file is closed (and its WAL checkpointed) when the store is gone.
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The writer thread: until every handle is gone, takes what is queued and commits it as one
/// transaction.
fn commit_batches(
    connection: &Connection,
    queue: &mpsc::Receiver<Box<dyn Job>>,
    checkpointer: &Checkpointer,
    metrics: &SqliteMetrics,
) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let taken = i64::try_from(batch.len()).unwrap_or(i64::MAX);
        metrics.writer_queue.dec_by(taken);
        metrics.batch_size.observe(taken as f64);
        let committed = commit(connection, &mut batch, &metrics.commit_duration);
        if committed.is_ok() {
            checkpointer.committed();
        }
        for job in batch {
            job.finish(committed.clone());
        }
    }
}

/// Runs `batch` in one transaction and commits it, timing the `COMMIT`; why not, if it did
/// not.
fn commit(
    connection: &Connection,
    batch: &mut [Box<dyn Job>],
    commit_duration: &Histogram,
) -> Result<(), String> {
    // IMMEDIATE takes the write lock up front, so no other process (`leads-server keys`)
    // writes between a job's read and its write.
    execute(connection, "BEGIN IMMEDIATE")
        .map_err(|error| format!("starting a transaction: {error}"))?;
    for job in batch.iter_mut() {
        job.run(connection);
    }
    let started = Instant::now();
    let committed = execute(connection, "COMMIT").map_err(|error| {
        // A failed COMMIT may leave the transaction open; end it so the next batch can begin.
        let _ = connection.execute_batch("ROLLBACK");
        format!("committing a transaction: {error}")
    });
    commit_duration.observe(started.elapsed().as_secs_f64());
    committed
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn writer() -> (Writer, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let open = || Connection::open(dir.path().join("w.db")).unwrap();
        let connection = open();
        connection
            .execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (n INTEGER PRIMARY KEY)")
            .unwrap();
        (
            Writer::start(connection, open(), &SqliteMetrics::default()).unwrap(),
            dir,
        )
    }

    fn insert(n: i64) -> impl FnOnce(&Connection) -> Result<i64, StoreError> + Send {
        move |connection| {
            connection
                .execute("INSERT INTO t (n) VALUES (?)", [n])
                .context("inserting")?;
            Ok(n)
        }
    }

    /// The rows committed, read through a connection of their own.
    fn rows(dir: &tempfile::TempDir) -> Vec<i64> {
        let reader = Connection::open(dir.path().join("w.db")).unwrap();
        let mut statement = reader.prepare("SELECT n FROM t ORDER BY n").unwrap();
        let rows = statement.query_map([], |row| row.get(0)).unwrap();
        rows.map(Result::unwrap).collect()
    }

    /// Writes queued behind a slow one share its transaction; the one that fails (or panics)
    /// is undone alone, and its batch-mates commit.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_write_fails_alone() {
        let (writer, dir) = writer();
        let slow = writer.write(|connection| {
            std::thread::sleep(Duration::from_millis(100));
            insert(1)(connection)
        });
        let failing = writer.write(|connection| {
            insert(2)(connection)?;
            Err::<i64, _>(StoreError::EmailTaken)
        });
        let panicking = writer.write(|connection| -> Result<i64, StoreError> {
            insert(3)(connection)?;
            panic!("a bug");
        });
        let fine = writer.write(insert(4));
        let (slow, failing, panicking, fine) = tokio::join!(slow, failing, panicking, fine);
        assert_eq!(slow.unwrap(), 1);
        assert!(matches!(failing, Err(StoreError::EmailTaken)));
        assert!(matches!(panicking, Err(StoreError::Internal(_))));
        assert_eq!(fine.unwrap(), 4);
        assert_eq!(rows(&dir), [1, 4]);
    }

    /// The checkpoint thread copies committed pages into the database file, which the writer
    /// (whose own checkpoints wait for a WAL of 10,000 pages) never does here.
    #[tokio::test]
    async fn commits_are_checkpointed_off_the_writer_thread() {
        let (writer, dir) = writer();
        let file = dir.path().join("w.db");
        let empty = std::fs::metadata(&file).unwrap().len();
        for n in 0..200 {
            writer.write(insert(n)).await.unwrap();
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::fs::metadata(&file).unwrap().len() == empty {
            assert!(
                std::time::Instant::now() < deadline,
                "no checkpoint in 10 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let wal_pages: i64 = writer
            .write(|connection| {
                connection
                    .query_row("PRAGMA wal_autocheckpoint", [], |row| row.get(0))
                    .context("reading the writer's automatic checkpoint")
            })
            .await
            .unwrap();
        assert_eq!(wal_pages, i64::from(checkpoint::WRITER_BACKSTOP_PAGES));
    }

    /// A write is answered only once committed: another connection sees it by then.
    #[tokio::test]
    async fn an_answered_write_is_committed() {
        let (writer, dir) = writer();
        writer.write(insert(7)).await.unwrap();
        assert_eq!(rows(&dir), [7]);
    }
}
