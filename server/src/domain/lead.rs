//! A lead and the values the store reads and writes.

use super::JsonObject;

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// The organization (tenant) that owns leads and API keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OrganizationId(pub Uuid);

/// An API key's id (not the key: the key itself is never stored).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ApiKeyId(pub Uuid);

/// Where a lead is in the funnel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LeadStatus {
    New,
    Contacted,
    Qualified,
    Disqualified,
    Closed,
    Lost,
}

impl LeadStatus {
    pub const ALL: [LeadStatus; 6] = [
        LeadStatus::New,
        LeadStatus::Contacted,
        LeadStatus::Qualified,
        LeadStatus::Disqualified,
        LeadStatus::Closed,
        LeadStatus::Lost,
    ];

    /// The status as the API and the database spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            LeadStatus::New => "new",
            LeadStatus::Contacted => "contacted",
            LeadStatus::Qualified => "qualified",
            LeadStatus::Disqualified => "disqualified",
            LeadStatus::Closed => "closed",
            LeadStatus::Lost => "lost",
        }
    }

    /// The inverse of [`LeadStatus::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == text)
    }
}

/// Where a lead came from, derived from its metadata at creation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeadSource {
    pub referrer: Option<String>,
    pub utm_campaign: Option<String>,
    pub utm_content: Option<String>,
    pub utm_medium: Option<String>,
    pub utm_source: Option<String>,
    pub utm_term: Option<String>,
}

/// A lead, as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct Lead {
    pub id: Uuid,
    pub organization_id: OrganizationId,
    pub email: String,
    pub full_name: Option<String>,
    pub phone: Option<String>,
    pub company: Option<String>,
    pub timezone: Option<String>,
    pub status: LeadStatus,
    pub assigned_to_id: Option<String>,
    pub source: LeadSource,
    /// Attribution metadata as given at creation, unknown keys included.
    pub metadata: Option<JsonObject>,
    /// Notes in the order given; each a JSON object (`content`, `created_at`, `user_id`, and
    /// any extra keys the client sent).
    pub notes: Vec<JsonObject>,
    pub disqualification_data: Option<JsonObject>,
    pub payment_count: i64,
    pub payment_status: Option<String>,
    pub last_payment_at: Option<DateTime<Utc>>,
    pub total_paid_cents: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// 1 when created, one more with every update that changes the lead: what an update's
    /// [`VersionCondition`] is checked against (the API's `ETag`).
    pub version: i64,
}

/// What an update requires of the lead's current version (HTTP `If-Match`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VersionCondition {
    /// Any version: the lead need only exist (`If-Match: *`).
    Any,
    /// One of these versions.
    OneOf(Vec<i64>),
}

impl VersionCondition {
    /// Whether a lead at `version` may be updated under this condition.
    pub fn admits(&self, version: i64) -> bool {
        match self {
            VersionCondition::Any => true,
            VersionCondition::OneOf(versions) => versions.contains(&version),
        }
    }
}

/// The fields an update changes; `None` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LeadChanges {
    pub email: Option<String>,
    pub full_name: Option<String>,
    pub phone: Option<String>,
    pub company: Option<String>,
    pub timezone: Option<String>,
    pub status: Option<LeadStatus>,
    pub assigned_to_id: Option<String>,
    /// Replaces every note.
    pub notes: Option<Vec<JsonObject>>,
}

impl LeadChanges {
    /// Whether the update changes nothing (an empty PATCH body).
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// The email as compared for uniqueness and found by the list's `email` filter: Rust's
/// lowercase folding, the same in every store whatever the database's locale (SQLite's
/// `lower()` folds ASCII only, PostgreSQL's depends on the collation).
pub fn email_key(email: &str) -> String {
    email.to_lowercase()
}

/// Which leads a list returns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeadFilter {
    pub status: Option<LeadStatus>,
    /// Matches `source.utm_source` exactly.
    pub utm_source: Option<String>,
    pub assigned_to_id: Option<String>,
    /// Matches the email without regard to case, as uniqueness does (at most one lead).
    pub email: Option<String>,
}

/// A lead as the `changed` order lists it: with its place in its organization's order of
/// changes, which every write that changes it moves to the end.
#[derive(Clone, Debug, PartialEq)]
pub struct ChangedLead {
    /// One more than the organization's change before; numbers follow the order in which
    /// the writes committed.
    pub change: i64,
    pub lead: Lead,
}

/// A position in the list order (`created_at` descending, then `id` descending): a page
/// after it holds only leads strictly older, or as old with a smaller id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keyset {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

impl Lead {
    /// The version of a lead as it is created.
    pub const FIRST_VERSION: i64 = 1;

    /// A lead of `organization` as it starts: status `new`, nothing but its email known, no
    /// notes, payments or assignee, never updated since `created_at`, at version 1.
    ///
    /// Its id is a UUIDv7, whose leading bits are the time it was made at: new ids sort after
    /// older ones, so an index on the id grows at its end instead of changing pages all over
    /// the b-tree with every create (what a random UUIDv4 does), which keeps a create's writes,
    /// and the checkpoints that copy them, small.
    pub fn new(organization: OrganizationId, email: String, created_at: DateTime<Utc>) -> Lead {
        Lead {
            id: Uuid::now_v7(),
            organization_id: organization,
            email,
            full_name: None,
            phone: None,
            company: None,
            timezone: None,
            status: LeadStatus::New,
            assigned_to_id: None,
            source: LeadSource::default(),
            metadata: None,
            notes: Vec::new(),
            disqualification_data: None,
            payment_count: 0,
            payment_status: None,
            last_payment_at: None,
            total_paid_cents: 0,
            created_at,
            updated_at: created_at,
            version: Self::FIRST_VERSION,
        }
    }

    /// This lead's position in the list order.
    pub fn keyset(&self) -> Keyset {
        Keyset {
            created_at: self.created_at,
            id: self.id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_admits_every_version() {
        for version in [1, 2, i64::MAX] {
            assert!(VersionCondition::Any.admits(version));
        }
    }

    #[test]
    fn one_of_admits_exactly_its_versions() {
        let condition = VersionCondition::OneOf(vec![2, 5]);
        assert!(condition.admits(2));
        assert!(condition.admits(5));
        assert!(!condition.admits(1));
        assert!(!condition.admits(3));
        assert!(!VersionCondition::OneOf(Vec::new()).admits(1));
    }
}
