//! The lists' opaque cursor: base64url of a small JSON object naming the last item (lead,
//! subscription or delivery) of the previous page, `{"c": created_at, "i": id}`. Keyset
//! pagination on `(created_at, id)` needs nothing more, and an item inserted meanwhile cannot
//! shift what the next page holds. In the lead list's `changed` order it names the last
//! change seen, `{"n": change}`, and every page has one: the walk resumes from it later.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::types;
use crate::domain::{ChangedLead, Keyset, Lead};
use crate::error::Error;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Position {
    c: DateTime<Utc>,
    i: Uuid,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangePosition {
    n: i64,
}

/// The cursor of `position`, whatever its kind.
fn encoded(position: &impl Serialize) -> String {
    // Serializing timestamps, UUIDs and integers cannot fail.
    let json = serde_json::to_vec(position).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(json)
}

/// What `cursor` names, if this API issued it as a `T`.
fn decoded<T: serde::de::DeserializeOwned>(cursor: &str) -> Option<T> {
    URL_SAFE_NO_PAD
        .decode(cursor.trim_end_matches('='))
        .ok()
        .and_then(|json| serde_json::from_slice(&json).ok())
}

/// The page of `changes` (fetched one more than `limit`) and its pagination: its cursor is
/// the last change on it, or `after` again on an empty page, so a walk can always resume.
pub fn page_of_changes(
    mut changes: Vec<ChangedLead>,
    limit: u32,
    after: i64,
) -> (Vec<Lead>, types::Pagination) {
    let has_more = changes.len() > limit as usize;
    changes.truncate(limit as usize);
    let last = changes.last().map_or(after, |changed| changed.change);
    let pagination = types::Pagination {
        has_more,
        next_cursor: Some(encoded(&ChangePosition { n: last })),
    };
    (
        changes.into_iter().map(|changed| changed.lead).collect(),
        pagination,
    )
}

/// Whether this API issued `cursor`, for either order.
pub fn is_issued(cursor: &str) -> bool {
    decoded::<Position>(cursor).is_some() || decoded::<ChangePosition>(cursor).is_some()
}

/// The change a cursor of the `changed` order names.
pub fn decode_change(cursor: &str) -> Result<i64, Error> {
    if let Some(ChangePosition { n }) = decoded(cursor) {
        return Ok(n);
    }
    let problem = if decoded::<Position>(cursor).is_some() {
        "is a cursor of the `created` order, not of `changed`"
    } else {
        "was not issued by this API"
    };
    Err(Error::invalid_field("cursor", problem))
}

pub fn encode(keyset: Keyset) -> String {
    encoded(&Position {
        c: keyset.created_at,
        i: keyset.id,
    })
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
    if let Some(Position { c, i }) = decoded(cursor) {
        return Ok(Keyset {
            created_at: c,
            id: i,
        });
    }
    let problem = if decoded::<ChangePosition>(cursor).is_some() {
        "is a cursor of the lead list's `changed` order: pass `order=changed` with it"
    } else {
        "was not issued by this API"
    };
    Err(Error::invalid_field("cursor", problem))
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
    fn a_page_of_changes_always_has_a_cursor_to_resume_from() {
        let changed = |change| ChangedLead {
            change,
            lead: Lead::new(
                crate::domain::OrganizationId(Uuid::new_v4()),
                format!("{change}@example.com"),
                DateTime::from_timestamp_micros(1_768_636_800_123_456).unwrap(),
            ),
        };
        let (leads, pagination) = page_of_changes(vec![changed(4), changed(7), changed(9)], 2, 3);
        assert_eq!(leads.len(), 2);
        assert!(pagination.has_more);
        assert_eq!(decode_change(&pagination.next_cursor.unwrap()).unwrap(), 7);
        // The last page, and an empty one, resume where the walk stands.
        let (_, last) = page_of_changes(vec![changed(9)], 2, 7);
        assert!(!last.has_more);
        assert_eq!(decode_change(&last.next_cursor.unwrap()).unwrap(), 9);
        let (_, empty) = page_of_changes(Vec::new(), 2, 9);
        assert_eq!(decode_change(&empty.next_cursor.unwrap()).unwrap(), 9);
    }

    #[test]
    fn a_cursor_of_one_order_is_refused_in_the_other_saying_so() {
        let keyset = Keyset {
            created_at: DateTime::from_timestamp_micros(1_768_636_800_123_456).unwrap(),
            id: Uuid::new_v4(),
        };
        let created = encode(keyset);
        let changed = encoded(&ChangePosition { n: 12 });
        assert!(is_issued(&created) && is_issued(&changed) && !is_issued("!!!"));
        let message = |error: Error| match error {
            Error::Validation { details, .. } => details[0].message.clone(),
            other => panic!("{other:?}"),
        };
        assert!(message(decode(&changed).unwrap_err()).contains("`changed` order"));
        assert!(message(decode_change(&created).unwrap_err()).contains("`created` order"));
        assert_eq!(
            message(decode_change("!!!").unwrap_err()),
            "was not issued by this API"
        );
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
