//! Configuration of a server: where it listens, where its database is, its limits.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::ratelimit::Limits;

/// The largest request body accepted: 1 MiB.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// How many API requests may be in flight at once by default; over it, `503`.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 64;

/// How long a request's body may take to arrive by default.
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Everything needed to start a server.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where to listen; port 0 picks a free port.
    pub bind: SocketAddr,
    /// The SQLite database file, created if missing.
    pub database: PathBuf,
    pub rate_limits: Limits,
    /// The most API requests in flight at once; more are answered `503 SERVICE_UNAVAILABLE`.
    pub max_in_flight: usize,
    /// A body not received within this long is cut off.
    pub body_read_timeout: Duration,
    /// Log level of the request log (`error`, `warn`, `info`, `debug`, `trace`).
    pub log_level: dropshot::ConfigLoggingLevel,
}
