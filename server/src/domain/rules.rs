//! The rules a lead obeys beyond the shape the spec gives it.

use std::str::FromStr;

use chrono::{DateTime, Utc};

use serde_json::{Map, Value};

use super::LeadSource;
use crate::error::Error;

/// Whether `zone` names a zone of the IANA time zone database.
pub fn is_timezone(zone: &str) -> bool {
    chrono_tz::Tz::from_str(zone).is_ok()
}

/// `timezone` must name a zone of the IANA time zone database. (Requests are checked against
/// the spec's `iana-time-zone` format first; this keeps the rule true whatever the spec says.)
pub fn check_timezone(field: &str, timezone: &str) -> Result<(), Error> {
    if is_timezone(timezone) {
        return Ok(());
    }
    Err(Error::invalid_field(
        field,
        "must be an IANA time zone such as America/New_York",
    ))
}

/// A lead's `source`, derived from its attribution metadata.
pub fn derive_source(metadata: Option<&Map<String, Value>>) -> LeadSource {
    let text = |key: &str| {
        metadata
            .and_then(|metadata| metadata.get(key))
            .and_then(|value| value.as_str())
            .map(String::from)
    };
    LeadSource {
        referrer: text("referrer"),
        utm_campaign: text("utmCampaign"),
        utm_content: text("utmContent"),
        utm_medium: text("utmMedium"),
        utm_source: text("utmSource"),
        utm_term: text("utmTerm"),
    }
}

/// The current time at the precision the store keeps (microseconds), so that what a create
/// returns equals what a later read returns.
pub fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn real_zones_pass_and_others_fail() {
        assert!(check_timezone("timezone", "America/New_York").is_ok());
        assert!(check_timezone("timezone", "UTC").is_ok());
        for bad in ["Mars/Olympus_Mons", "america/new_york ", "", "+02:00"] {
            assert!(check_timezone("timezone", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn source_comes_from_the_utm_keys_and_referrer() {
        let metadata = json!({
            "utmSource": "google", "utmMedium": "cpc", "utmCampaign": "spring",
            "utmTerm": "crm", "utmContent": "ad-1", "referrer": "https://a.example",
            "utmId": "ignored"
        });
        let source = derive_source(metadata.as_object());
        assert_eq!(
            source,
            LeadSource {
                referrer: Some("https://a.example".into()),
                utm_campaign: Some("spring".into()),
                utm_content: Some("ad-1".into()),
                utm_medium: Some("cpc".into()),
                utm_source: Some("google".into()),
                utm_term: Some("crm".into()),
            }
        );
        assert_eq!(derive_source(None), LeadSource::default());
    }

    #[test]
    fn now_has_microsecond_precision() {
        assert_eq!(now().timestamp_subsec_nanos() % 1000, 0);
    }
}
