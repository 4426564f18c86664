//! The server's log: dropshot's terminal format, one record a line on stderr, formatted and
//! written on a thread of its own (slog-async), off the request path.
//!
//! dropshot's own terminal logger writes each record to stderr in many small unbuffered
//! writes, one system call per piece; under load that thread took a fifth of the server's CPU
//! (perf, `POST /v1/leads` at 64 connections on two cores). A line-buffered writer makes it
//! one write a line. On that thread, before a record is formatted, [`redact`] keeps personal
//! data out of it.

mod redact;

use std::io::{LineWriter, Write};

use dropshot::ConfigLoggingLevel;
use slog::Drain;

/// How many records may wait for the log thread; beyond that, records are dropped (and how
/// many is logged) rather than making requests wait, slog-async's default.
const QUEUE: usize = 1024;

/// How each record is written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// For people at a console: `Dec 08 00:02:10.522 INFO request completed, key: value, …`.
    #[default]
    Text,
    /// For a log pipeline: one JSON object a line, with `ts`, `level` and `msg` beside the
    /// record's values (`req_id`, `method`, `uri`, `response_code`, `latency_us`, …).
    Json,
}

/// The root logger, at `level`, writing `format` to stderr.
pub fn logger(level: &ConfigLoggingLevel, format: Format) -> slog::Logger {
    let drain = slog_async::Async::new(drain(level, format, std::io::stderr()))
        .chan_size(QUEUE)
        .build()
        .fuse();
    slog::Logger::root(drain, slog::o!())
}

/// What the log thread runs: records at `level` or above, redacted, in `format`, a line at a
/// time to `out`.
fn drain(
    level: &ConfigLoggingLevel,
    format: Format,
    out: impl Write + Send + 'static,
) -> impl Drain<Ok = (), Err = slog::Never> + Send + 'static {
    let out = LineWriter::new(out);
    let written: Box<dyn Drain<Ok = (), Err = slog::Never> + Send> = match format {
        Format::Text => {
            let decorator = slog_term::PlainDecorator::new(out);
            Box::new(slog_term::FullFormat::new(decorator).build().fuse())
        }
        Format::Json => Box::new(slog_json::Json::default(out).fuse()),
    };
    slog::LevelFilter(redact::Redacting(written), slog::Level::from(level)).fuse()
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// What a drain wrote, shared with the test.
    #[derive(Clone, Default)]
    struct Written(Arc<Mutex<Vec<u8>>>);

    impl Write for Written {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| std::io::ErrorKind::Other)?
                .extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_json_format_is_one_object_a_line_with_the_uri_redacted() {
        let written = Written::default();
        let log = slog::Logger::root(
            // The log thread's drain, called here from the test's thread alone.
            Mutex::new(drain(
                &ConfigLoggingLevel::Info,
                Format::Json,
                written.clone(),
            ))
            .fuse(),
            slog::o!("component" => "test"),
        );
        let request = log.new(slog::o!("uri" => "/v1/leads?email=ada@example.com&limit=2"));
        slog::info!(request, "request completed"; "response_code" => 200_u16, "latency_us" => 1234_u64);
        slog::debug!(log, "below the level");
        drop((request, log));
        let text = String::from_utf8(written.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).expect("a JSON object"))
            .collect();
        assert_eq!(lines.len(), 1, "{text}");
        let line = &lines[0];
        assert_eq!(line["msg"], "request completed");
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["uri"], "/v1/leads?email=[redacted]&limit=2");
        assert_eq!(line["response_code"], 200, "a number stays a number");
        assert_eq!(line["latency_us"], 1234);
        assert_eq!(line["component"], "test");
        assert!(!text.contains("ada@"), "{text}");
    }
}
