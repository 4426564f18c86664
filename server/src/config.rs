//! Configuration of a server: where it listens, where its database is, its limits.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::ratelimit::Limits;

/// The largest request body accepted: 1 MiB.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Everything needed to start a server.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where to listen; port 0 picks a free port.
    pub bind: SocketAddr,
    /// The SQLite database file, created if missing.
    pub database: PathBuf,
    pub rate_limits: Limits,
    /// Log level of the request log (`error`, `warn`, `info`, `debug`, `trace`).
    pub log_level: dropshot::ConfigLoggingLevel,
}
