//! Personal data kept out of the log: a drain that rewrites the `uri` of a record before it
//! is written, so that `GET /v1/leads?email=…` (the email filter) never puts an email address
//! in a log line.
//!
//! dropshot logs every request with its `uri`, query included, and offers no hook to change
//! what it logs; so the value is rewritten on its way to the log, in the record's own values
//! and in the logger's (dropshot puts `uri` in a request's logger).

use std::fmt;

use slog::{BorrowedKV, Drain, KV, Key, OwnedKV, OwnedKVList, Record, RecordStatic, Serializer};

/// The query parameters whose values are personal data, and what replaces them.
const PERSONAL: &[&str] = &["email"];
const REDACTED: &str = "[redacted]";

/// `uri` with the value of each [`PERSONAL`] query parameter replaced by [`REDACTED`].
pub fn redact_uri(uri: &str) -> String {
    let Some((path, query)) = uri.split_once('?') else {
        return uri.to_string();
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if PERSONAL.contains(&name) => format!("{name}={REDACTED}"),
            _ => pair.to_string(),
        })
        .collect();
    format!("{path}?{}", pairs.join("&"))
}

/// A drain that passes every record on to `D` with its `uri` redacted.
pub struct Redacting<D>(pub D);

impl<D: Drain> Drain for Redacting<D> {
    type Ok = D::Ok;
    type Err = D::Err;

    fn log(&self, record: &Record<'_>, values: &OwnedKVList) -> Result<D::Ok, D::Err> {
        let record_kv = record.kv();
        let kv = RedactedKV(&record_kv);
        let location = record.location();
        let static_part = RecordStatic {
            location,
            tag: record.tag(),
            level: record.level(),
        };
        let redacted = Record::new(&static_part, record.msg(), BorrowedKV(&kv));
        let values = OwnedKVList::from(OwnedKV(RedactedValues(values.clone())));
        self.0.log(&redacted, &values)
    }
}

/// A record's values, redacted as they are serialized.
struct RedactedKV<'a, K: ?Sized>(&'a K);

impl<K: KV + ?Sized> KV for RedactedKV<'_, K> {
    fn serialize(&self, record: &Record<'_>, serializer: &mut dyn Serializer) -> slog::Result {
        self.0
            .serialize(record, &mut RedactingSerializer(serializer))
    }
}

/// A logger's values, redacted as they are serialized.
struct RedactedValues(OwnedKVList);

impl KV for RedactedValues {
    fn serialize(&self, record: &Record<'_>, serializer: &mut dyn Serializer) -> slog::Result {
        self.0
            .serialize(record, &mut RedactingSerializer(serializer))
    }
}

/// Passes every value on as it is, but `uri`, which it redacts.
struct RedactingSerializer<'a>(&'a mut dyn Serializer);

/// Forwards `emit_…` methods to the inner serializer unchanged, so that a value keeps its
/// type (a number stays a number for a structured format).
macro_rules! forward {
    ($($method:ident: $type:ty),* $(,)?) => {
        $(fn $method(&mut self, key: Key, value: $type) -> slog::Result {
            self.0.$method(key, value)
        })*
    };
}

impl Serializer for RedactingSerializer<'_> {
    fn emit_arguments(&mut self, key: Key, value: &fmt::Arguments<'_>) -> slog::Result {
        if key == "uri" {
            let redacted = redact_uri(&value.to_string());
            return self.0.emit_arguments(key, &format_args!("{redacted}"));
        }
        self.0.emit_arguments(key, value)
    }

    fn emit_str(&mut self, key: Key, value: &str) -> slog::Result {
        if key == "uri" {
            return self.0.emit_str(key, &redact_uri(value));
        }
        self.0.emit_str(key, value)
    }

    forward! {
        emit_usize: usize, emit_isize: isize, emit_bool: bool, emit_char: char,
        emit_u8: u8, emit_i8: i8, emit_u16: u16, emit_i16: i16, emit_u32: u32, emit_i32: i32,
        emit_f32: f32, emit_u64: u64, emit_i64: i64, emit_f64: f64, emit_u128: u128,
        emit_i128: i128,
    }

    fn emit_unit(&mut self, key: Key) -> slog::Result {
        self.0.emit_unit(key)
    }

    fn emit_none(&mut self, key: Key) -> slog::Result {
        self.0.emit_none(key)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[test]
    fn only_the_values_of_personal_parameters_are_redacted() {
        assert_eq!(
            redact_uri("/v1/leads?limit=5&email=John.Doe%40example.com&status=new"),
            "/v1/leads?limit=5&email=[redacted]&status=new"
        );
        assert_eq!(
            redact_uri("/v1/leads/0192f8a4?x=1"),
            "/v1/leads/0192f8a4?x=1"
        );
        assert_eq!(redact_uri("/health"), "/health");
    }

    /// Every record's values, formatted, as a drain sees them.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<String>>>);

    struct Line<'a>(&'a mut String);

    impl Serializer for Line<'_> {
        fn emit_arguments(&mut self, key: Key, value: &fmt::Arguments<'_>) -> slog::Result {
            self.0.push_str(&format!("{key}={value} "));
            Ok(())
        }
    }

    impl Drain for Captured {
        type Ok = ();
        type Err = slog::Never;

        fn log(&self, record: &Record<'_>, values: &OwnedKVList) -> Result<(), slog::Never> {
            let mut line = String::new();
            let _ = record.kv().serialize(record, &mut Line(&mut line));
            let _ = values.serialize(record, &mut Line(&mut line));
            if let Ok(mut lines) = self.0.lock() {
                lines.push(line);
            }
            Ok(())
        }
    }

    #[test]
    fn a_uri_is_redacted_in_the_record_and_in_the_logger_and_the_rest_kept() {
        let captured = Captured::default();
        let log = slog::Logger::root(Redacting(captured.clone()), slog::o!("component" => "x"));
        let request = log.new(slog::o!("uri" => "/v1/leads?email=a@b.co"));
        slog::info!(request, "request completed"; "response_code" => 200_u16);
        slog::info!(log, "another"; "uri" => %"/v1/leads?email=c@d.co&limit=2");
        let lines = captured.0.lock().unwrap().clone();
        assert_eq!(lines.len(), 2);
        assert!(!lines.iter().any(|line| line.contains('@')), "{lines:?}");
        assert!(
            lines[0].contains("uri=/v1/leads?email=[redacted]"),
            "{lines:?}"
        );
        assert!(lines[0].contains("response_code=200"), "{lines:?}");
        assert!(lines[1].contains("email=[redacted]&limit=2"), "{lines:?}");
        assert!(lines[1].contains("component=x"), "{lines:?}");
    }
}
