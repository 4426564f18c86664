//! The server's log: dropshot's terminal format, one record a line on stderr, formatted and
//! written on a thread of its own (slog-async), off the request path.
//!
//! dropshot's own terminal logger writes each record to stderr in many small unbuffered
//! writes, one system call per piece; under load that thread took a fifth of the server's CPU
//! (perf, `POST /v1/leads` at 64 connections on two cores). A line-buffered writer makes it
//! one write a line. On that thread, before a record is formatted, [`redact`] keeps personal
//! data out of it.

mod redact;

use std::io::LineWriter;

use dropshot::ConfigLoggingLevel;
use slog::Drain;

/// How many records may wait for the log thread; beyond that, records are dropped (and how
/// many is logged) rather than making requests wait, slog-async's default.
const QUEUE: usize = 1024;

/// The root logger, at `level`.
pub fn logger(level: &ConfigLoggingLevel) -> slog::Logger {
    let decorator = slog_term::PlainDecorator::new(LineWriter::new(std::io::stderr()));
    let drain = slog_term::FullFormat::new(decorator).build().fuse();
    let drain = slog::LevelFilter(redact::Redacting(drain), slog::Level::from(level)).fuse();
    let drain = slog_async::Async::new(drain)
        .chan_size(QUEUE)
        .build()
        .fuse();
    slog::Logger::root(drain, slog::o!())
}
