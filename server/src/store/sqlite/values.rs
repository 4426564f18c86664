//! How domain values are spelled in SQLite columns, and back.
//!
//! Ids are lowercase hyphenated UUID text, whose text order is the UUID order; timestamps are
//! integer microseconds since the Unix epoch, so keyset comparisons are exact; JSON objects
//! and arrays are their serde_json text, which the schema checks the shape of.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::store::StoreError;

pub(super) fn id_text(id: Uuid) -> String {
    // `Uuid`'s Display is lowercase hyphenated: the form whose text order is the UUID order.
    id.hyphenated().to_string()
}

pub(super) fn parse_id(text: &str, column: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(text)
        .map_err(|error| StoreError::Internal(format!("{column} {text:?} is not a UUID: {error}")))
}

pub(super) fn micros(time: DateTime<Utc>) -> i64 {
    time.timestamp_micros()
}

pub(super) fn from_micros(micros: i64, column: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(micros).ok_or_else(|| {
        StoreError::Internal(format!(
            "{column} {micros} is out of the range of a timestamp"
        ))
    })
}

pub(super) fn to_json<T: Serialize>(value: &T, column: &str) -> Result<String, StoreError> {
    serde_json::to_string(value)
        .map_err(|error| StoreError::Internal(format!("encoding {column}: {error}")))
}

pub(super) fn from_json<T: DeserializeOwned>(
    text: &str,
    column: &str,
    lead: Uuid,
) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|error| {
        StoreError::Internal(format!("lead {lead} has a corrupt {column}: {error}"))
    })
}
