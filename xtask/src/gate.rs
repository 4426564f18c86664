//! The semver gate, part of `cargo xtask check`: the working spec's `info.version` must have
//! moved from the latest released version by at least the step its changes need.
//!
//! - Lower than the latest release: refused.
//! - Equal: only if nothing at all changed since the release.
//! - Higher: a breaking change needs a major step (a minor one while the major is 0), any other
//!   change of the contract at least a minor step, documentation alone at least a patch.
//!
//! The changes and their classes come from [`crate::diff`]; a failure names each change that
//! needs a bigger step than the one taken, the version to use, and the command that prints the
//! whole report.

use std::path::Path;

use anyhow::Result;
use semver::Version;

use leads_spec::SPEC_PATH;

use crate::diff::{self, Bump, Change};
use crate::release;

/// Runs the gate; prints what it found. Returns whether it passed.
pub fn check(root: &Path) -> Result<bool> {
    let Some(latest) = release::latest(root)? else {
        println!("semver gate: nothing is released yet, so any version goes");
        return Ok(true);
    };
    let old = leads_spec::load(&latest.path)?;
    let new = leads_spec::load(&root.join(SPEC_PATH))?;
    let new_version = release::version_of(&new, SPEC_PATH)?;
    let changes = diff::compare(&old, &new);
    let verdict = judge(&latest.version, &new_version, &changes);
    match &verdict {
        Verdict::Passed(summary) => {
            println!("semver gate: {summary}");
            Ok(true)
        }
        Verdict::Failed { message, offending } => {
            eprintln!("semver gate FAILED: {message}");
            for change in offending {
                eprintln!(
                    "  - [{}] {}: {} ({})",
                    class_name(change),
                    change.kind,
                    change.what,
                    change
                        .new_pointer
                        .as_deref()
                        .or(change.old_pointer.as_deref())
                        .unwrap_or("/")
                );
            }
            eprintln!(
                "The full report: cargo xtask diff {} {SPEC_PATH}",
                latest.version
            );
            Ok(false)
        }
    }
}

/// What the gate concluded.
#[derive(Debug)]
enum Verdict<'a> {
    Passed(String),
    Failed {
        message: String,
        /// The changes that need a bigger step than the one taken.
        offending: Vec<&'a Change>,
    },
}

fn judge<'a>(old: &Version, new: &Version, changes: &'a [Change]) -> Verdict<'a> {
    let needed = diff::required_bump(changes, old);
    if new < old {
        return Verdict::Failed {
            message: format!(
                "{SPEC_PATH} is at {new}, below the latest release {old}: a version never goes \
                 back"
            ),
            offending: Vec::new(),
        };
    }
    let taken = step(old, new);
    if taken >= needed {
        let summary = match (taken, changes.len()) {
            (Bump::None, _) => format!("{new} is the latest release, unchanged"),
            (_, 0) => format!("{new} follows the latest release {old}; nothing changed yet"),
            (_, count) => format!(
                "{count} change(s) since {old}; they need {}, and {new} is {}",
                describe(needed),
                describe(taken)
            ),
        };
        return Verdict::Passed(summary);
    }
    let offending = changes
        .iter()
        .filter(|change| diff::required_bump(std::slice::from_ref(*change), old) > taken)
        .collect();
    let message = if taken == Bump::None {
        format!(
            "{SPEC_PATH} changed since {old} was released but info.version is still {old}: the \
             changes below need {}; set info.version to {}",
            describe(needed),
            next(old, needed)
        )
    } else {
        format!(
            "{SPEC_PATH} is at {new}, {} after {old}, but the changes below need {}; set \
             info.version to {}",
            describe(taken),
            describe(needed),
            next(old, needed)
        )
    };
    Verdict::Failed { message, offending }
}

/// The step from `old` to `new` (`new` not lower).
fn step(old: &Version, new: &Version) -> Bump {
    if new.major > old.major {
        Bump::Major
    } else if new.minor > old.minor {
        Bump::Minor
    } else if new > old {
        Bump::Patch
    } else {
        Bump::None
    }
}

/// The version after `old` by the step `bump`.
fn next(old: &Version, bump: Bump) -> Version {
    match bump {
        Bump::Major => Version::new(old.major + 1, 0, 0),
        Bump::Minor => Version::new(old.major, old.minor + 1, 0),
        Bump::Patch => Version::new(old.major, old.minor, old.patch + 1),
        Bump::None => old.clone(),
    }
}

fn describe(bump: Bump) -> &'static str {
    match bump {
        Bump::Major => "a major step",
        Bump::Minor => "a minor step",
        Bump::Patch => "a patch step",
        Bump::None => "no step",
    }
}

fn class_name(change: &Change) -> &'static str {
    match change.class {
        diff::Class::Breaking => "breaking",
        diff::Class::Compatible => "compatible",
        diff::Class::Documentation => "documentation",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::diff::real_spec::mutations::{
        add_archived_status, add_score, remove_lead_company, require_full_name, reword_lead,
        shorten_company,
    };

    fn version(text: &str) -> Version {
        Version::parse(text).unwrap()
    }

    fn released_spec() -> Value {
        leads_spec::load_workspace_spec(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    /// The verdict on `mutate` applied to the spec, released as `old` and now at `new`.
    fn verdict_of(old: &str, new: &str, mutate: impl FnOnce(&mut Value)) -> (bool, String) {
        let before = released_spec();
        let mut after = before.clone();
        mutate(&mut after);
        let changes = diff::compare(&before, &after);
        match judge(&version(old), &version(new), &changes) {
            Verdict::Passed(summary) => (true, summary),
            Verdict::Failed { message, offending } => {
                let kinds: Vec<&str> = offending.iter().map(|c| c.kind).collect();
                (false, format!("{message} {kinds:?}"))
            }
        }
    }

    /// A change made to a copy of the spec.
    type Mutation = fn(&mut Value);

    #[test]
    fn each_breaking_mutation_needs_a_major_step() {
        let mutations: [(&str, Mutation); 3] = [
            ("remove Lead.company", remove_lead_company),
            ("require full_name on create", require_full_name),
            ("shorten LeadCreate.company", shorten_company),
        ];
        for (name, mutate) in mutations {
            for new in ["1.0.0", "1.1.0", "1.0.1"] {
                let (passed, message) = verdict_of("1.0.0", new, mutate);
                assert!(!passed, "{name} at {new} passed: {message}");
                assert!(
                    message.contains("set info.version to 2.0.0"),
                    "{name}: {message}"
                );
            }
            let (passed, message) = verdict_of("1.0.0", "2.0.0", mutate);
            assert!(passed, "{name} at 2.0.0: {message}");
        }
    }

    #[test]
    fn a_breaking_change_of_a_0_x_version_needs_a_minor_step() {
        assert!(!verdict_of("0.3.0", "0.3.1", remove_lead_company).0);
        assert!(verdict_of("0.3.0", "0.4.0", remove_lead_company).0);
    }

    #[test]
    fn an_optional_request_field_needs_a_minor_step() {
        let (passed, message) = verdict_of("1.0.0", "1.0.1", add_score);
        assert!(!passed);
        assert!(message.contains("set info.version to 1.1.0"), "{message}");
        assert!(verdict_of("1.0.0", "1.1.0", add_score).0);
    }

    #[test]
    fn a_value_added_to_an_extensible_enum_needs_a_minor_step() {
        let (passed, message) = verdict_of("1.0.0", "1.0.1", add_archived_status);
        assert!(!passed);
        assert!(message.contains("set info.version to 1.1.0"), "{message}");
        assert!(verdict_of("1.0.0", "1.1.0", add_archived_status).0);
    }

    #[test]
    fn documentation_needs_a_patch_and_nothing_needs_nothing() {
        assert!(!verdict_of("1.0.0", "1.0.0", reword_lead).0);
        assert!(verdict_of("1.0.0", "1.0.1", reword_lead).0);
        assert!(verdict_of("1.0.0", "1.0.0", |_| {}).0);
        assert!(verdict_of("1.0.0", "1.2.0", |_| {}).0);
    }

    #[test]
    fn a_version_never_goes_back() {
        assert!(!verdict_of("1.2.0", "1.1.9", |_| {}).0);
    }

    #[test]
    fn the_working_spec_passes_the_gate() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        assert!(check(&root).unwrap());
    }
}
