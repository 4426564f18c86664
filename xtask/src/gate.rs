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
//!
//! Waivers ([`diff::WAIVERS_PATH`]) are applied first: a waived breaking change needs a minor
//! step, and is listed with its reason; a stale waiver is reported, an expired one fails.

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
    let mut changes = diff::compare(&old, &new);
    let notes = diff::apply_waivers(root, &old, &mut changes)?;
    let waivers_ok = report_waivers(&changes, &notes);
    let verdict = judge(&latest.version, &new_version, &changes);
    match &verdict {
        Verdict::Passed(summary) => {
            println!("semver gate: {summary}");
            Ok(waivers_ok)
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

/// Prints each waived change with its reason, and each waiver that waived nothing; returns
/// false if one has expired.
fn report_waivers(changes: &[Change], notes: &[diff::Note]) -> bool {
    for (change, waiver) in changes
        .iter()
        .filter_map(|change| change.waiver.as_ref().map(|waiver| (change, waiver)))
    {
        println!(
            "semver gate: waived (waiver {}): [{}] {}: {} ({}): {}",
            waiver.number,
            class_name(change),
            change.kind,
            change.what,
            change.pointer(),
            waiver.reason_until()
        );
    }
    for note in notes {
        let message = note.message();
        if note.is_error() {
            eprintln!("semver gate FAILED: {}: {message}", diff::WAIVERS_PATH);
        } else {
            println!("semver gate: warning: {}: {message}", diff::WAIVERS_PATH);
        }
    }
    !notes.iter().any(diff::Note::is_error)
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
    let waived = match changes
        .iter()
        .filter(|change| change.waiver.is_some())
        .count()
    {
        0 => String::new(),
        count => format!(" ({count} breaking, waived)"),
    };
    if taken >= needed {
        let summary = match (taken, changes.len()) {
            (Bump::None, _) => format!("{new} is the latest release, unchanged"),
            (_, 0) => format!("{new} follows the latest release {old}; nothing changed yet"),
            (_, count) => format!(
                "{count} change(s) since {old}{waived}; they need {}, and {new} is {}",
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
        add_archived_status, add_score, close_lead_status, remove_lead_company, require_full_name,
        reword_lead, shorten_company,
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

    /// A workspace whose latest release is the spec as 1.0.0 with `LeadStatus` not extensible,
    /// and whose working spec is that with `archived` added to `LeadStatus` (a breaking
    /// change), at `version`; `waivers` is its waivers file.
    fn workspace(version: &str, waivers: &str) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        let released_dir = root.path().join(release::RELEASED_DIR);
        std::fs::create_dir_all(&released_dir).unwrap();
        let mut spec = released_spec();
        close_lead_status(&mut spec);
        spec["info"]["version"] = "1.0.0".into();
        // JSON is YAML: the documents need no other writer.
        let released = serde_json::to_string(&spec).unwrap();
        std::fs::write(released_dir.join("1.0.0.yaml"), released).unwrap();
        add_archived_status(&mut spec);
        spec["info"]["version"] = version.into();
        let working = serde_json::to_string(&spec).unwrap();
        std::fs::write(root.path().join(SPEC_PATH), working).unwrap();
        std::fs::write(root.path().join(diff::WAIVERS_PATH), waivers).unwrap();
        root
    }

    /// A waiver of the `archived` status, until `expires`.
    fn waiver_of_archived(expires: &str) -> String {
        let index = released_spec()["components"]["schemas"]["LeadStatus"]["enum"]
            .as_array()
            .unwrap()
            .len();
        format!(
            "waivers:\n  - kind: response-enum-value-added\n    pointer: \
             /components/schemas/LeadStatus/enum/{index}\n    reason: No client lists \
             archived leads.\n    expires: {expires}\n"
        )
    }

    #[test]
    fn a_waived_breaking_change_needs_only_a_minor_step() {
        assert!(!check(workspace("1.1.0", "waivers: []\n").path()).unwrap());
        let waived = waiver_of_archived("9999-12-31");
        assert!(check(workspace("1.1.0", &waived).path()).unwrap());
        // A change of the contract still needs a step.
        assert!(!check(workspace("1.0.1", &waived).path()).unwrap());
    }

    #[test]
    fn an_expired_waiver_fails_the_gate_even_when_the_step_is_enough() {
        let expired = waiver_of_archived("2000-01-01");
        assert!(!check(workspace("1.1.0", &expired).path()).unwrap());
        assert!(!check(workspace("2.0.0", &expired).path()).unwrap());
    }

    #[test]
    fn a_stale_waiver_is_reported_and_passes() {
        let stale = "waivers:\n  - kind: response-enum-value-added\n    pointer: /nowhere\n    \
                     reason: Left over.\n";
        assert!(check(workspace("2.0.0", stale).path()).unwrap());
        assert!(!check(workspace("1.1.0", stale).path()).unwrap());
    }

    #[test]
    fn a_malformed_waivers_file_is_an_error_naming_the_entry() {
        let malformed = "waivers:\n  - kind: response-enum-value-added\n    pointer: /a\n";
        let error = check(workspace("2.0.0", malformed).path()).unwrap_err();
        assert_eq!(
            format!("{error:#}"),
            "openapi/released/waivers.yaml:2: waiver 1: missing field `reason`"
        );
    }

    #[test]
    fn the_working_spec_passes_the_gate() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        assert!(check(&root).unwrap());
    }
}
