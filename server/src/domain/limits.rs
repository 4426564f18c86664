//! How large a lead may be: the limits the spec states in words (encoded sizes), which no
//! JSON Schema keyword can express. The counts (`maxProperties`, `maxItems`) are in the spec's
//! schemas and enforced by the request validator; they are repeated here so that the rules
//! hold whatever the spec says.

use serde_json::Value;

use crate::error::{Error, FieldProblem};

/// The most top-level keys `metadata` may have.
pub const METADATA_MAX_KEYS: usize = 100;
/// The most bytes `metadata` may take as compact JSON.
pub const METADATA_MAX_BYTES: usize = 16 * 1024;
/// The most notes a lead may have.
pub const NOTES_MAX_COUNT: usize = 100;
/// The most bytes one note may take as compact JSON.
// 16 KiB, so that a note whose `content` is at its `maxLength` (10,000 characters) of plain
// text fits: the schema's limits and this one agree at the boundary.
pub const NOTE_MAX_BYTES: usize = 16 * 1024;
/// The most bytes all of a lead's notes may take together as compact JSON.
pub const NOTES_MAX_BYTES: usize = 64 * 1024;

/// `metadata` (a JSON object) within its limits.
pub fn check_metadata(metadata: &Value) -> Result<(), Error> {
    let keys = metadata.as_object().map_or(0, serde_json::Map::len);
    if keys > METADATA_MAX_KEYS {
        return Err(over(
            "metadata",
            format!("must have at most {METADATA_MAX_KEYS} keys"),
        ));
    }
    let bytes = compact_len(metadata);
    if bytes > METADATA_MAX_BYTES {
        return Err(over(
            "metadata",
            format!("must be at most {METADATA_MAX_BYTES} bytes as compact JSON, is {bytes}"),
        ));
    }
    Ok(())
}

/// `notes` (each a JSON object) within their limits; each note too large is named.
pub fn check_notes(notes: &[Value]) -> Result<(), Error> {
    if notes.len() > NOTES_MAX_COUNT {
        return Err(over(
            "notes",
            format!("must have at most {NOTES_MAX_COUNT} items"),
        ));
    }
    let sizes: Vec<usize> = notes.iter().map(compact_len).collect();
    let details: Vec<FieldProblem> = sizes
        .iter()
        .enumerate()
        .filter(|(_, bytes)| **bytes > NOTE_MAX_BYTES)
        .map(|(index, bytes)| {
            FieldProblem::new(
                format!("notes.{index}"),
                format!("must be at most {NOTE_MAX_BYTES} bytes as compact JSON, is {bytes}"),
            )
        })
        .collect();
    if !details.is_empty() {
        return Err(body_error(details));
    }
    // The array's brackets and commas count too.
    let total = sizes.iter().sum::<usize>() + notes.len().saturating_sub(1) + 2;
    if total > NOTES_MAX_BYTES {
        return Err(over(
            "notes",
            format!("must be at most {NOTES_MAX_BYTES} bytes as compact JSON, is {total}"),
        ));
    }
    Ok(())
}

/// A limit broken by `field`.
fn over(field: &str, message: String) -> Error {
    body_error(vec![FieldProblem::new(field, message)])
}

/// A request body error naming each field, worded as the request validator words its own.
fn body_error(details: Vec<FieldProblem>) -> Error {
    let problems: Vec<String> = details
        .iter()
        .map(|problem| format!("{} {}", problem.field, problem.message))
        .collect();
    Error::Validation {
        message: format!("Invalid request body: {}", problems.join("; ")),
        details,
    }
}

/// How many bytes `value` takes as compact JSON, counted without building the text.
fn compact_len(value: &Value) -> usize {
    let mut counter = ByteCounter(0);
    // Writing to a counter cannot fail, and a `Value` always serializes.
    let _ = serde_json::to_writer(&mut counter, value);
    counter.0
}

struct ByteCounter(usize);

impl std::io::Write for ByteCounter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn fields(error: Error) -> Vec<String> {
        match error {
            Error::Validation { details, .. } => details.into_iter().map(|d| d.field).collect(),
            other => panic!("not a validation error: {other:?}"),
        }
    }

    #[test]
    fn metadata_at_the_limits_passes_and_over_them_fails() {
        let keys: serde_json::Map<String, Value> = (0..METADATA_MAX_KEYS)
            .map(|i| (format!("k{i}"), json!(i)))
            .collect();
        assert!(check_metadata(&Value::Object(keys.clone())).is_ok());
        let mut more = keys;
        more.insert("one_more".into(), json!(1));
        assert_eq!(
            fields(check_metadata(&Value::Object(more)).unwrap_err()),
            ["metadata"]
        );
        // `{"b":"…"}` is 8 bytes around the string.
        let exact = json!({"b": "x".repeat(METADATA_MAX_BYTES - 8)});
        assert_eq!(compact_len(&exact), METADATA_MAX_BYTES);
        assert!(check_metadata(&exact).is_ok());
        let over = json!({"b": "x".repeat(METADATA_MAX_BYTES - 7)});
        assert_eq!(fields(check_metadata(&over).unwrap_err()), ["metadata"]);
    }

    #[test]
    fn notes_are_bounded_each_and_together() {
        let note = |bytes: usize| json!({"content": "x".repeat(bytes), "created_at": "2026-01-01T00:00:00Z"});
        assert!(check_notes(&[note(100), note(100)]).is_ok());
        let error = check_notes(&[note(100), note(NOTE_MAX_BYTES)]).unwrap_err();
        assert_eq!(fields(error), ["notes.1"]);
        let many = vec![note(10); NOTES_MAX_COUNT + 1];
        assert_eq!(fields(check_notes(&many).unwrap_err()), ["notes"]);
        let large = vec![note(7000); 10];
        assert_eq!(fields(check_notes(&large).unwrap_err()), ["notes"]);
    }
}
