//! `cargo xtask diff`: what changed between two versions of the spec, each change classified
//! from the consumer's side (code written against the old document, our progenitor-generated
//! client included) as breaking, compatible or documentation only, and the semver bump that
//! calls for.
//!
//! # Our own walker, not Oxide's `drift`
//!
//! `drift` 0.2.0 (the engine of dropshot-api-manager) was evaluated and not used, for these
//! reasons, read in its source:
//! - It detects too little to classify on. Within a schema it reports any difference of a
//!   string, number or integer schema as one "Unhandled" change ("string schema changed"),
//!   and likewise "object required properties changed", "object properties changed",
//!   "array maxItems changed": it does not say *which* property, bound or enum value changed,
//!   or which way. Our rules (a shorter `maxLength`, an enum value added, a property that
//!   became required) would have to re-read both schemas at each of its locations, that is,
//!   do the whole walk again.
//! - Its classes answer another question: whether a *server* may evolve, so a new 500
//!   response is "backward-incompatible", a pattern change "unhandled". Mapping them to a
//!   consumer's view needs the detail it does not give.
//! - It does not compare response headers, security requirements or documentation, and
//!   panics (`assert!`, `todo!()`) when a media type is added or removed, where a report
//!   must go on.
//! - It reads documents as `openapiv3` types, whose paths are not our JSON pointers; the
//!   report must point into both documents, as leads-spec's [`leads_spec::Document`] does.
//!
//! So the comparison walks both documents with leads-spec (operations, `$ref`s, pointers),
//! and every comparing function ends with a safety net ([`walk::Diff::rest`]): a difference no
//! rule classifies is reported as "unclassified", which is breaking, so the gate stays safe
//! while rules are missing.
//!
//! # Layout
//! - [`change`]: [`Change`], [`Class`], [`Group`], [`Bump`], [`required_bump`].
//! - [`rules`]: every rule's kind, class and why.
//! - [`walk`]: the state of a comparison and the safety net.
//! - [`requests`]: paths, operations, parameters, request bodies, security.
//! - [`responses`]: statuses, headers, the error envelope; [`content`]: media types.
//! - [`schemas`]: two schemas in one direction; [`components`]: component schemas, each
//!   compared once in the directions operations use it.
//! - [`document`]: `info`, tags, security schemes, examples, components added or removed.
//! - [`source`]: where documents come from; [`report`]: text, JSON and Markdown;
//!   [`github`]: workflow annotations; [`junit`]: JUnit XML; [`lines`]: where a pointer lands
//!   in a YAML file.
//! - [`waivers`]: breaking changes a designer accepted, in `openapi/released/waivers.yaml`.

mod change;
mod components;
mod content;
mod document;
mod github;
mod junit;
mod lines;
mod report;
mod requests;
mod responses;
mod rules;
mod schemas;
mod source;
mod waivers;
mod walk;

#[cfg(test)]
mod corpus;
#[cfg(test)]
mod corpus_formats;
#[cfg(test)]
pub mod real_spec;

use std::path::Path;

use anyhow::Result;
use leads_spec::SPEC_PATH;
use serde_json::Value;

pub use change::{Bump, Class, required_bump};
pub use change::{Change, Group};
pub use report::{Format, Title, render_titled};
pub use source::{latest_release, load_source};
pub use waivers::{Note, WAIVERS_PATH, apply_waivers};

/// Every change from `old` to `new`, classified: operations (in path and method order), then
/// component schemas (by name), then the document.
pub fn compare(old: &Value, new: &Value) -> Vec<Change> {
    let mut diff = walk::Diff::new(old, new);
    diff.envelopes = responses::envelopes(diff.old);
    requests::compare_paths(&mut diff);
    let usage = components::Usage::of(&diff);
    components::compare_schemas(&mut diff, &usage);
    document::compare(&mut diff);
    let mut changes = merge_shared(diff.changes);
    changes.sort_by_key(|change| change.group.rank());
    changes
}

/// A change found inside a component several operations use (a shared response, parameter
/// or header) is found once per operation; it is reported once, under the first, listing all.
fn merge_shared(changes: Vec<Change>) -> Vec<Change> {
    let mut merged: Vec<Change> = Vec::new();
    for change in changes {
        let Group::Operation(label) = &change.group else {
            merged.push(change);
            continue;
        };
        let earlier = merged.iter_mut().find(|kept| {
            matches!(kept.group, Group::Operation(_))
                && kept.kind == change.kind
                && kept.old_pointer == change.old_pointer
                && kept.new_pointer == change.new_pointer
                && kept.what == change.what
        });
        match earlier {
            Some(kept) => {
                if kept.reached_by.is_empty()
                    && let Group::Operation(first) = &kept.group
                {
                    kept.reached_by.push(first.clone());
                }
                if !kept.reached_by.contains(label) {
                    kept.reached_by.push(label.clone());
                }
            }
            None => merged.push(change),
        }
    }
    merged
}

/// `cargo xtask diff [OLD] [NEW] --format …`: prints the report. Succeeds whatever changed,
/// an expired waiver included (the report shows it; the gate fails on it); only documents or
/// a waivers file that fail to load fail it (the semver gate is `cargo xtask check`).
pub fn run(root: &Path, old: Option<&str>, new: Option<&str>, format: Format) -> Result<bool> {
    let old = match old {
        Some(arg) => load_source(root, arg)?,
        None => latest_release(root)?,
    };
    let new = load_source(root, new.unwrap_or(SPEC_PATH))?;
    let mut changes = compare(&old.spec, &new.spec);
    let waiver_notes = apply_waivers(root, &old.spec, &mut changes)?;
    // JSON's stdout is the array of changes, which tools parse: what is wrong with a waiver
    // goes beside it, not into it.
    if format == Format::Json {
        for note in &waiver_notes {
            eprintln!("{WAIVERS_PATH}: {}: {}", note.word(), note.message());
        }
    }
    // A document without a semver version still gets its report, with the bump unanchored.
    let old_version = crate::release::version_of(&old.spec, &old.label).ok();
    let title = Title {
        labels: Some((old.label, new.label)),
        old_version,
        file: new.file,
        lines: lines::Lines::of(&new.text),
        waiver_notes,
    };
    print!("{}", render_titled(&changes, format, &title));
    Ok(true)
}
