//! What the comparison produces: [`Change`]s, their [`Class`] and [`Group`], and the semver
//! [`Bump`] a set of changes calls for.

use semver::Version;

use super::waivers::Waiver;

/// How a change affects a consumer written against the old document. Ordered by severity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    /// Nothing a consumer sends or reads changes: prose, examples, extensions.
    Documentation,
    /// Old consumers keep working unchanged.
    Compatible,
    /// Some old consumer may stop working.
    Breaking,
}

impl Class {
    /// The lowercase word reports use.
    pub fn name(self) -> &'static str {
        match self {
            Class::Documentation => "documentation",
            Class::Compatible => "compatible",
            Class::Breaking => "breaking",
        }
    }
}

/// Where a report lists a change.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Group {
    /// An operation, labelled `lead_create (POST /v1/leads)`.
    Operation(String),
    /// A component schema, by name: a change inside it is listed once, not once per operation.
    Schema(String),
    /// The document as a whole: `info`, tags, components no operation reaches.
    Document,
}

impl Group {
    /// Operations first, then schemas, then the document: the order of a report.
    pub(super) fn rank(&self) -> u8 {
        match self {
            Group::Operation(_) => 0,
            Group::Schema(_) => 1,
            Group::Document => 2,
        }
    }

    /// `operation lead_create (POST /v1/leads)`, `schema Lead`, `document`.
    pub fn title(&self) -> String {
        match self {
            Group::Operation(label) => format!("operation {label}"),
            Group::Schema(name) => format!("schema {name}"),
            Group::Document => "document".to_string(),
        }
    }
}

/// One difference between the two documents, classified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// The stable id of the rule that classified it (`response-property-removed`).
    pub kind: &'static str,
    pub class: Class,
    /// JSON pointer into the old document; `None` if the thing exists only in the new one.
    pub old_pointer: Option<String>,
    /// JSON pointer into the new document; `None` if the thing exists only in the old one.
    pub new_pointer: Option<String>,
    pub group: Group,
    /// What changed, one line.
    pub what: String,
    /// Why it has its class, one line, from the consumer's side.
    pub why: String,
    /// Who is affected: for a schema, each operation reaching it and in which direction
    /// (`lead_create (POST /v1/leads) request`); for a change inside a shared component
    /// (a response, a parameter), the other operations using it.
    pub reached_by: Vec<String>,
    /// The designer's waiver accepting this breaking change (`openapi/released/waivers.yaml`).
    pub waiver: Option<Waiver>,
}

impl Change {
    /// The class the semver step is counted from: a waived breaking change still changed the
    /// contract, so it needs what a compatible change needs.
    pub fn effective_class(&self) -> Class {
        match (&self.waiver, self.class) {
            (Some(_), Class::Breaking) => Class::Compatible,
            (_, class) => class,
        }
    }

    /// The pointer a reader looks at first: the new one, else the old one.
    pub fn pointer(&self) -> &str {
        self.new_pointer
            .as_deref()
            .or(self.old_pointer.as_deref())
            .unwrap_or_default()
    }
}

/// A semver bump, ordered by size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Bump {
    None,
    Patch,
    Minor,
    Major,
}

impl Bump {
    pub fn name(self) -> &'static str {
        match self {
            Bump::None => "none",
            Bump::Patch => "patch",
            Bump::Minor => "minor",
            Bump::Major => "major",
        }
    }
}

/// The bump the changes call for, from `old_version`: major for a breaking change (minor
/// while the major version is 0, as Cargo reads 0.x versions), minor for a compatible one,
/// patch for documentation only, none for no change. A waived breaking change counts as
/// compatible.
pub fn required_bump(changes: &[Change], old_version: &Version) -> Bump {
    match changes.iter().map(Change::effective_class).max() {
        None => Bump::None,
        Some(Class::Documentation) => Bump::Patch,
        Some(Class::Compatible) => Bump::Minor,
        Some(Class::Breaking) if old_version.major == 0 => Bump::Minor,
        Some(Class::Breaking) => Bump::Major,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(class: Class) -> Change {
        Change {
            kind: "k",
            class,
            old_pointer: None,
            new_pointer: Some("/n".into()),
            group: Group::Document,
            what: String::new(),
            why: String::new(),
            reached_by: Vec::new(),
            waiver: None,
        }
    }

    #[test]
    fn the_bump_follows_the_most_severe_change_and_0x_versions() {
        let one = Version::new(1, 4, 2);
        let zero = Version::new(0, 3, 0);
        assert_eq!(required_bump(&[], &one), Bump::None);
        let docs = [change(Class::Documentation)];
        assert_eq!(required_bump(&docs, &one), Bump::Patch);
        let compatible = [change(Class::Documentation), change(Class::Compatible)];
        assert_eq!(required_bump(&compatible, &one), Bump::Minor);
        let breaking = [change(Class::Breaking), change(Class::Compatible)];
        assert_eq!(required_bump(&breaking, &one), Bump::Major);
        assert_eq!(required_bump(&breaking, &zero), Bump::Minor);
        assert!(Class::Documentation < Class::Compatible && Class::Compatible < Class::Breaking);
        assert_eq!(change(Class::Breaking).pointer(), "/n");
    }

    #[test]
    fn a_waived_breaking_change_needs_a_minor_step() {
        let one = Version::new(1, 4, 2);
        let mut waived = change(Class::Breaking);
        waived.waiver = Some(Waiver {
            number: 1,
            line: None,
            kind: "k".into(),
            pointer: "/n".into(),
            reason: "r".into(),
            expires: None,
        });
        assert_eq!(waived.effective_class(), Class::Compatible);
        assert_eq!(
            required_bump(std::slice::from_ref(&waived), &one),
            Bump::Minor
        );
        let both = [waived, change(Class::Breaking)];
        assert_eq!(required_bump(&both, &one), Bump::Major);
    }
}
