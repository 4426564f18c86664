//! Entity tags (RFC 9110 §8.8.3) and the conditional headers that name them: a lead's version
//! as its `ETag`, `If-Match` as the condition of an update, and `If-None-Match`.

use crate::domain::VersionCondition;

/// The strong entity tag of a lead at `version`: `"<version>"`.
pub fn lead_etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// Whether an `If-None-Match` value names `etag`: `*`, or a comma-separated list of entity
/// tags compared weakly (§13.1.2), so that `W/"x"` names `"x"`.
pub fn if_none_match_hits(value: &str, etag: &str) -> bool {
    value.split(',').map(str::trim).any(|candidate| {
        candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == etag
    })
}

/// The condition an `If-Match` value sets on a lead's version: `*` admits any, a list admits
/// the versions its strong tags name. Comparison is strong (§13.1.1), so a weak tag, or a
/// tag this server never issued, admits nothing.
pub fn if_match_condition(value: &str) -> VersionCondition {
    let candidates = value.split(',').map(str::trim);
    if candidates.clone().any(|candidate| candidate == "*") {
        return VersionCondition::Any;
    }
    VersionCondition::OneOf(
        candidates
            .filter_map(|candidate| candidate.strip_prefix('"')?.strip_suffix('"'))
            .filter_map(|text| {
                // Only the canonical form this server issues: `"3"`, never `"03"` or `"+3"`.
                let version = text.parse::<i64>().ok()?;
                (version.to_string() == text).then_some(version)
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_compares_weakly_and_takes_lists_and_stars() {
        let etag = "\"abc\"";
        assert!(if_none_match_hits("\"abc\"", etag));
        assert!(if_none_match_hits("W/\"abc\"", etag));
        assert!(if_none_match_hits("\"x\", \"abc\"", etag));
        assert!(if_none_match_hits("*", etag));
        assert!(!if_none_match_hits("\"abcd\"", etag));
        assert!(!if_none_match_hits("abc", etag));
        assert!(!if_none_match_hits("", etag));
    }

    #[test]
    fn if_match_compares_strongly() {
        let admits = |value: &str, version: i64| if_match_condition(value).admits(version);
        assert!(admits("\"3\"", 3));
        assert!(admits(" \"1\" , \"3\" ", 3));
        assert!(admits("*", 3));
        assert!(!admits("\"2\"", 3));
        assert!(!admits("W/\"3\"", 3), "a weak tag never matches");
        assert!(!admits("\"03\"", 3), "not a tag this server issued");
        assert!(!admits("\"+3\"", 3));
        assert!(!admits("3", 3));
        assert_eq!(lead_etag(3), "\"3\"");
    }
}
