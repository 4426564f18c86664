//! The store's families, one set per backend: a server registers its own backend's only.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

use super::{Register, seconds};

/// SQLite's: the one writer thread and its group commits, the checkpoint thread, and the
/// pool of readers.
#[derive(Clone, Debug)]
pub struct SqliteMetrics {
    /// Writes queued for the writer thread, not yet taken into a transaction.
    pub writer_queue: Gauge,
    /// Writes per transaction.
    pub batch_size: Histogram,
    /// A transaction's `COMMIT`.
    pub commit_duration: Histogram,
    /// A `PASSIVE` checkpoint of the WAL by the checkpoint thread.
    pub checkpoint_duration: Histogram,
    /// How long a read waited for a connection of the pool.
    pub reader_wait: Histogram,
}

impl Default for SqliteMetrics {
    fn default() -> Self {
        Self {
            writer_queue: Gauge::default(),
            // 1 to 128, the most a transaction takes.
            batch_size: Histogram::new(exponential_buckets(1.0, 2.0, 8)),
            commit_duration: seconds(),
            checkpoint_duration: seconds(),
            reader_wait: seconds(),
        }
    }
}

impl Register for SqliteMetrics {
    fn register(&self, registry: &mut Registry) {
        registry.register(
            "sqlite_writer_queue",
            "Writes waiting for the writer thread",
            self.writer_queue.clone(),
        );
        registry.register(
            "sqlite_writer_batch_size",
            "Writes committed together in one transaction (group commit)",
            self.batch_size.clone(),
        );
        registry.register_with_unit(
            "sqlite_commit_duration",
            "The writer's COMMIT of a transaction",
            Unit::Seconds,
            self.commit_duration.clone(),
        );
        registry.register_with_unit(
            "sqlite_checkpoint_duration",
            "A checkpoint of the WAL into the database file, by the checkpoint thread",
            Unit::Seconds,
            self.checkpoint_duration.clone(),
        );
        registry.register_with_unit(
            "sqlite_reader_wait",
            "Time a read waited for a connection of the reader pool",
            Unit::Seconds,
            self.reader_wait.clone(),
        );
    }
}

/// PostgreSQL's: the connection pool, and the transactions run again after colliding.
#[derive(Clone, Debug)]
pub struct PostgresMetrics {
    /// How long a request waited for a connection of the pool.
    pub pool_wait: Histogram,
    /// Transactions run again after a serialization failure or a deadlock.
    pub contention_retries: Counter,
}

impl Default for PostgresMetrics {
    fn default() -> Self {
        Self {
            pool_wait: seconds(),
            contention_retries: Counter::default(),
        }
    }
}

impl Register for PostgresMetrics {
    fn register(&self, registry: &mut Registry) {
        registry.register_with_unit(
            "postgres_pool_wait",
            "Time a request waited for a connection of the pool",
            Unit::Seconds,
            self.pool_wait.clone(),
        );
        registry.register(
            "postgres_contention_retries",
            "Transactions run again after colliding with another (serialization failure, deadlock)",
            self.contention_retries.clone(),
        );
    }
}
