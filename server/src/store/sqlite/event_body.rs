//! How the SQLite outbox stores an event's body: deflated (raw DEFLATE, RFC 1951) when that
//! is smaller, as text otherwise.
//!
//! An event keeps the lead as `GET /v1/leads/{id}` answered it, for the 30 days the log is
//! kept, and a lead may be about 80 KB (notes and metadata at their limits); SQLite stores a
//! value as it is given, so each such event cost its full size in the file. The body stays
//! the exact bytes sent: it is inflated before every attempt (a resend and a recovery
//! included), so what is signed and sent is what was rendered. Its size as sent is stored
//! beside it, for the deliveries log's `payload_size_bytes`. Rows stored before bodies were
//! deflated have their text and no deflated bytes, and are read as they are:
//! [`StoredBody::into_text`] takes either.
//!
//! PostgreSQL needs none of this: it compresses a `text` value over about 2 KB by itself
//! (TOAST), and measured here kept less of a lead at its largest than deflate's fast level
//! does (`postgres::webhooks::tests`), so its outbox stores the text as it did.

use std::io::{Read, Write};

use flate2::Compression;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;

use super::StoreError;

/// miniz_oxide's fastest level. The body is deflated in the write's own transaction, on the
/// one writer thread every write waits for: on a lead at its largest (77 KB)
/// level 1 stores about 3.9× less in about 0.5 ms, where the default level 6 stores 5.7× less
/// in about 2.7 ms (`crate::webhooks::payload`'s `tests::a_lead_at_its_largest_deflates`).
pub(crate) const LEVEL: u32 = 1;

/// An event's body in the columns that store it: exactly one of `text` and `deflated`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StoredBody {
    pub(crate) text: Option<String>,
    pub(crate) deflated: Option<Vec<u8>>,
    /// The body's size as sent, in bytes (before deflating); a body is at most about 100 KB
    /// (a lead's limits), so an `i32`, as both backends' size columns are.
    pub(crate) size: i32,
}

impl StoredBody {
    /// `body` as it is stored: deflated, unless that would not be smaller (a body of a few
    /// bytes, or one of incompressible text).
    pub(crate) fn new(body: String) -> StoredBody {
        let size = i32::try_from(body.len()).unwrap_or(i32::MAX);
        match deflate(body.as_bytes()) {
            Some(deflated) if deflated.len() < body.len() => StoredBody {
                text: None,
                deflated: Some(deflated),
                size,
            },
            _ => StoredBody {
                text: Some(body),
                deflated: None,
                size,
            },
        }
    }

    /// The body as it was rendered, from either column as stored (`text` for rows stored
    /// before bodies were deflated).
    pub(crate) fn into_text(
        text: Option<String>,
        deflated: Option<Vec<u8>>,
    ) -> Result<String, StoreError> {
        match (text, deflated) {
            (Some(text), None) => Ok(text),
            (None, Some(deflated)) => {
                let mut text = String::with_capacity(deflated.len().saturating_mul(4));
                DeflateDecoder::new(deflated.as_slice())
                    .read_to_string(&mut text)
                    .map_err(|error| {
                        StoreError::Internal(format!("inflating an event's body: {error}"))
                    })?;
                Ok(text)
            }
            _ => Err(StoreError::Internal(
                "an event has both or neither of a text and a deflated body".to_owned(),
            )),
        }
    }
}

/// `bytes` deflated; `None` if the encoder fails (it writes to memory, so it should not),
/// and then the body is stored as text.
fn deflate(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut encoder = DeflateEncoder::new(Vec::new(), Compression::new(LEVEL));
    encoder.write_all(bytes).ok()?;
    encoder.finish().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::suite::largest_lead_body;

    #[test]
    fn a_body_reads_back_as_it_was_rendered_from_either_column() {
        let body = largest_lead_body();
        let stored = StoredBody::new(body.clone());
        assert!(stored.text.is_none(), "a large body is deflated");
        assert_eq!(stored.size, i32::try_from(body.len()).expect("size"));
        assert_eq!(
            StoredBody::into_text(stored.text, stored.deflated).expect("inflated"),
            body
        );
        // A row stored before bodies were deflated.
        assert_eq!(
            StoredBody::into_text(Some(body.clone()), None).expect("as it is"),
            body
        );
        assert!(StoredBody::into_text(None, None).is_err());
        assert!(StoredBody::into_text(Some(body), Some(vec![1])).is_err());
    }

    /// A body deflating would not shrink is kept as text.
    #[test]
    fn a_body_deflating_would_not_shrink_stays_text() {
        let stored = StoredBody::new("{}".to_owned());
        assert_eq!(stored.text.as_deref(), Some("{}"));
        assert_eq!((stored.deflated, stored.size), (None, 2));
    }
}
