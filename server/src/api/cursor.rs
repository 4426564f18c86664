//! The lists' opaque cursor: base64url of a small JSON object naming the last item (lead,
//! subscription or delivery) of the previous page, `{"c": created_at, "i": id}`. Keyset
//! pagination on `(created_at, id)` needs nothing more, and an item inserted meanwhile cannot
//! shift what the next page holds.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::types;
use crate::domain::Keyset;
use crate::error::Error;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Position {
    c: DateTime<Utc>,
    i: Uuid,
}

pub fn encode(keyset: Keyset) -> String {
    let position = Position {
        c: keyset.created_at,
        i: keyset.id,
    };
    // Serializing a timestamp and a UUID cannot fail.
    let json = serde_json::to_vec(&position).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(json)
}

/// The first `limit` of `items` (fetched one more than a page, which tells whether another
/// page follows) and the pagination that leads past them.
pub fn page<T>(
    mut items: Vec<T>,
    limit: u32,
    keyset: impl Fn(&T) -> Keyset,
) -> (Vec<T>, types::Pagination) {
    let has_more = items.len() > limit as usize;
    items.truncate(limit as usize);
    let next_cursor = match items.last() {
        Some(last) if has_more => Some(encode(keyset(last))),
        _ => None,
    };
    (
        items,
        types::Pagination {
            has_more,
            next_cursor,
        },
    )
}

pub fn decode(cursor: &str) -> Result<Keyset, Error> {
    URL_SAFE_NO_PAD
        .decode(cursor.trim_end_matches('='))
        .ok()
        .and_then(|json| serde_json::from_slice::<Position>(&json).ok())
        .map(|position| Keyset {
            created_at: position.c,
            id: position.i,
        })
        .ok_or_else(|| Error::invalid_field("cursor", "was not issued by this API"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        let keyset = Keyset {
            created_at: DateTime::from_timestamp_micros(1_768_636_800_123_456).unwrap(),
            id: Uuid::new_v4(),
        };
        assert_eq!(decode(&encode(keyset)).unwrap(), keyset);
    }

    #[test]
    fn anything_else_is_a_validation_error() {
        let not_json = URL_SAFE_NO_PAD.encode("hello");
        let wrong_shape = URL_SAFE_NO_PAD.encode(r#"{"c": 1, "i": "x"}"#);
        for bad in ["", "!!!", not_json.as_str(), wrong_shape.as_str()] {
            let error = decode(bad).unwrap_err();
            assert!(matches!(error, Error::Validation { .. }), "{bad}");
        }
    }
}
