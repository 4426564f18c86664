//! The forms of a report: text for a terminal, JSON for tools, Markdown for a pull request,
//! and for CI, GitHub Actions annotations ([`super::github`]) and JUnit XML
//! ([`super::junit`]). Each lists changes by group (operations, then schemas, then the
//! document), shows a waived change as waived with its reason, names the waivers that waived
//! nothing, and gives the counts per class and the semver bump they call for.

use semver::Version;
use serde_json::{Value, json};

use super::change::{Bump, Change, Class, Group, required_bump};
use super::lines::Lines;
use super::waivers::{Note, WAIVERS_PATH, Waiver};

/// The form of a report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// For a terminal.
    Text,
    /// One object per change, for tools.
    Json,
    /// To paste into a pull request.
    Markdown,
    /// GitHub Actions workflow commands: one annotation per change, on the spec's line.
    Github,
    /// JUnit XML: one test case per change, a breaking one failed.
    Junit,
}

/// What a report says about the two documents besides their changes.
#[derive(Clone, Debug, Default)]
pub struct Title {
    /// How the old and new documents were named (`1.0.0`, `git:HEAD`, a path).
    pub labels: Option<(String, String)>,
    /// The old document's `info.version`: the bump is counted from it.
    pub old_version: Option<Version>,
    /// The new document's file relative to the workspace root, as annotations name it.
    pub file: Option<String>,
    /// Where pointers land in the new document's text.
    pub lines: Lines,
    /// The waivers that waived nothing: stale or expired.
    pub waiver_notes: Vec<Note>,
}

/// A report naming the documents compared.
pub fn render_titled(changes: &[Change], format: Format, title: &Title) -> String {
    match format {
        Format::Text => text(changes, title),
        Format::Json => json(changes),
        Format::Markdown => markdown(changes, title),
        Format::Github => super::github::render(changes, title),
        Format::Junit => super::junit::render(changes, title),
    }
}

/// The changes of each group, groups in the order of first appearance (which `compare` makes
/// operations, schemas, document).
pub(super) fn grouped(changes: &[Change]) -> Vec<(&Group, Vec<&Change>)> {
    let mut groups: Vec<(&Group, Vec<&Change>)> = Vec::new();
    for change in changes {
        match groups.iter_mut().find(|(group, _)| **group == change.group) {
            Some((_, members)) => members.push(change),
            None => groups.push((&change.group, vec![change])),
        }
    }
    groups
}

/// `2 breaking, 1 compatible, 0 documentation; required bump: major`; waived changes, when
/// there are any, counted apart from the breaking ones.
pub(super) fn summary(changes: &[Change], title: &Title) -> String {
    let count = |class: Class| {
        changes
            .iter()
            .filter(|change| change.effective_class() == class && change.waiver.is_none())
            .count()
    };
    let waived = changes
        .iter()
        .filter(|change| change.waiver.is_some())
        .count();
    let waived = if waived > 0 {
        format!(", {waived} breaking waived")
    } else {
        String::new()
    };
    let assumed = Version::new(1, 0, 0);
    let version = title.old_version.as_ref().unwrap_or(&assumed);
    let bump = required_bump(changes, version);
    let from = match &title.old_version {
        Some(version) if bump != Bump::None => format!(" (from {version})"),
        Some(_) => String::new(),
        None if bump == Bump::Major => " (minor if the old version is 0.x)".to_string(),
        None => String::new(),
    };
    format!(
        "{} breaking{waived}, {} compatible, {} documentation; required bump: {}{from}",
        count(Class::Breaking),
        count(Class::Compatible),
        count(Class::Documentation),
        bump.name()
    )
}

/// `breaking`, or `breaking, waived`: how a report tags a change.
pub(super) fn tag(change: &Change) -> String {
    match &change.waiver {
        Some(_) => format!("{}, waived", change.class.name()),
        None => change.class.name().to_string(),
    }
}

/// `waived (waiver 1): reason (until 2027-06-30)`.
pub(super) fn waived_line(waiver: &Waiver) -> String {
    format!(
        "waived (waiver {}): {}",
        waiver.number,
        waiver.reason_until()
    )
}

pub(super) fn absent(pointer: &Option<String>) -> &str {
    pointer.as_deref().unwrap_or("(absent)")
}

/// The line of the new document where `change` lands, when the report names a file. Something
/// removed has no new pointer: it lands where it was, its nearest ancestor in the new document.
pub(super) fn line_of(change: &Change, title: &Title) -> Option<usize> {
    let pointer = change.new_pointer.as_ref().or(change.old_pointer.as_ref());
    title
        .file
        .as_ref()
        .and(pointer)
        .and_then(|pointer| title.lines.find(pointer))
}

/// `head: what`, then why, both pointers, who reaches it and its waiver, a line each: the body
/// of an annotation or a test case.
pub(super) fn details(change: &Change, head: &str) -> String {
    let mut text = format!(
        "{head}: {}\nwhy: {}\nold: {}\nnew: {}",
        change.what,
        change.why,
        absent(&change.old_pointer),
        absent(&change.new_pointer)
    );
    if !change.reached_by.is_empty() {
        text.push_str(&format!("\nreached by: {}", change.reached_by.join(", ")));
    }
    if let Some(waiver) = &change.waiver {
        text.push_str(&format!("\n{}", waived_line(waiver)));
    }
    text
}

fn text(changes: &[Change], title: &Title) -> String {
    let mut out = String::new();
    if let Some((old, new)) = &title.labels {
        out.push_str(&format!("API changes from {old} to {new}\n\n"));
    }
    if changes.is_empty() {
        out.push_str("No changes.\n\n");
    }
    for (group, members) in grouped(changes) {
        out.push_str(&format!("{}\n", group.title()));
        for change in members {
            out.push_str(&format!(
                "  [{}] {}: {}\n",
                tag(change),
                change.kind,
                change.what
            ));
            out.push_str(&format!("    old: {}\n", absent(&change.old_pointer)));
            out.push_str(&format!("    new: {}\n", absent(&change.new_pointer)));
            out.push_str(&format!("    why: {}\n", change.why));
            if !change.reached_by.is_empty() {
                out.push_str(&format!(
                    "    reached by: {}\n",
                    change.reached_by.join(", ")
                ));
            }
            if let Some(waiver) = &change.waiver {
                out.push_str(&format!("    {}\n", waived_line(waiver)));
            }
        }
        out.push('\n');
    }
    if !title.waiver_notes.is_empty() {
        out.push_str(&format!("waivers ({WAIVERS_PATH})\n"));
        for note in &title.waiver_notes {
            out.push_str(&format!("  [{}] {}\n", note.word(), note.message()));
        }
        out.push('\n');
    }
    out.push_str(&format!("Summary: {}\n", summary(changes, title)));
    out
}

fn group_json(group: &Group) -> (&'static str, Value) {
    match group {
        Group::Operation(label) => ("operation", json!(label)),
        Group::Schema(name) => ("schema", json!(name)),
        Group::Document => ("document", Value::Null),
    }
}

fn json(changes: &[Change]) -> String {
    let entries: Vec<Value> = changes
        .iter()
        .map(|change| {
            let (group_kind, group_name) = group_json(&change.group);
            json!({
                "pointer": change.pointer(),
                "old_pointer": change.old_pointer,
                "new_pointer": change.new_pointer,
                "kind": change.kind,
                "class": change.class.name(),
                "breaking": change.effective_class() == Class::Breaking,
                "group": change.group.title(),
                "group_kind": group_kind,
                "group_name": group_name,
                "what": change.what,
                "why": change.why,
                "reached_by": change.reached_by,
                "waiver": change.waiver.as_ref().map(|waiver| json!({
                    "number": waiver.number,
                    "reason": waiver.reason,
                    "expires": waiver.expires.map(|date| date.to_string()),
                })),
            })
        })
        .collect();
    // A Vec of JSON values always serializes.
    let mut out = serde_json::to_string_pretty(&entries).unwrap_or_default();
    out.push('\n');
    out
}

/// Text for a Markdown table cell: no line breaks, pipes escaped.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn markdown(changes: &[Change], title: &Title) -> String {
    let mut out = match &title.labels {
        Some((old, new)) => format!("## API changes: `{old}` → `{new}`\n\n"),
        None => "## API changes\n\n".to_string(),
    };
    out.push_str(&format!("**Summary:** {}\n\n", summary(changes, title)));
    if changes.is_empty() {
        out.push_str("No changes.\n");
    }
    for (group, members) in grouped(changes) {
        out.push_str(&format!("### {}\n\n", cell(&group.title())));
        if let Some(users) = members
            .first()
            .filter(|_| matches!(group, Group::Schema(_)))
            .map(|change| &change.reached_by)
            && !users.is_empty()
        {
            out.push_str(&format!("Reached by: {}\n\n", cell(&users.join(", "))));
        }
        out.push_str("| class | kind | what | old | new | why |\n|---|---|---|---|---|---|\n");
        for change in members {
            out.push_str(&format!(
                "| {} | `{}` | {} | `{}` | `{}` | {} |\n",
                match (&change.waiver, change.class) {
                    (Some(_), _) => "breaking, *waived*",
                    (None, Class::Breaking) => "**breaking**",
                    (None, class) => class.name(),
                },
                change.kind,
                cell(&change.what),
                cell(absent(&change.old_pointer)),
                cell(absent(&change.new_pointer)),
                match &change.waiver {
                    Some(waiver) => cell(&format!("{}; **{}**", change.why, waived_line(waiver))),
                    None => cell(&change.why),
                }
            ));
        }
        out.push('\n');
    }
    if !title.waiver_notes.is_empty() {
        out.push_str(&format!("### waivers (`{WAIVERS_PATH}`)\n\n"));
        for note in &title.waiver_notes {
            out.push_str(&format!(
                "- **{}**: {}\n",
                note.word(),
                cell(&note.message())
            ));
        }
        out.push('\n');
    }
    out
}
