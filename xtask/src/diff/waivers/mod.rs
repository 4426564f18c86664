//! Waivers: breaking changes an API designer has accepted, each for a reason, in
//! [`WAIVERS_PATH`] (its header comment documents the format). This module owns reading that
//! file (every mistake named by entry and line), matching its entries to the changes of a
//! comparison, and saying what is wrong with an entry that matches nothing or has expired.
//!
//! A waiver names one change by the two things a report prints for it, its `kind` and its
//! `pointer` ([`Change::pointer`]): the rules may be refined, but an entry never waives more
//! than the change a reviewer read.

use std::path::Path;

use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::Value;

use super::change::{Change, Class};
use super::lines::Lines;
use super::rules;

/// Where the waivers live, relative to the workspace root.
pub const WAIVERS_PATH: &str = "openapi/released/waivers.yaml";

/// One accepted breaking change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Waiver {
    /// Its place in the file, from 1: how messages name it.
    pub number: usize,
    /// The line of its entry in the file, when known.
    pub line: Option<usize>,
    pub kind: String,
    pub pointer: String,
    /// On one line, however the file folds it.
    pub reason: String,
    /// The last day it holds (UTC), if it is temporary.
    pub expires: Option<NaiveDate>,
}

impl Waiver {
    /// `waiver 2 (response-enum-value-added at /components/schemas/ErrorCode/enum/12)`.
    pub fn label(&self) -> String {
        format!("waiver {} ({} at {})", self.number, self.kind, self.pointer)
    }

    /// The reason, with the expiry when there is one.
    pub fn reason_until(&self) -> String {
        match self.expires {
            Some(date) => format!("{} (until {date})", self.reason),
            None => self.reason.clone(),
        }
    }
}

/// The file as written; every field is checked again in [`parse`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    waivers: Option<Vec<Entry>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    kind: String,
    pointer: String,
    reason: String,
    #[serde(default)]
    expires: Option<String>,
}

/// The waivers of the workspace at `root`; none if it has no waivers file.
pub fn load(root: &Path) -> Result<Vec<Waiver>> {
    let path = root.join(WAIVERS_PATH);
    if !path.exists() {
        return Ok(Vec::new());
    }
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {WAIVERS_PATH}"))?;
    parse(&text)
}

/// Reads the waivers file's text. An error names the file, the line and the entry.
pub fn parse(text: &str) -> Result<Vec<Waiver>> {
    let value: Value =
        leads_spec::parse(text).with_context(|| format!("{WAIVERS_PATH} is not valid YAML"))?;
    let lines = Lines::of(text);
    let at = |pointer: &str| match lines.find(pointer) {
        Some(line) => format!("{WAIVERS_PATH}:{line}"),
        None => WAIVERS_PATH.to_string(),
    };
    // An empty file, or one with only comments, waives nothing.
    if value.is_null() {
        return Ok(Vec::new());
    }
    let file: File = leads_spec::pointer::deserialize(&value).map_err(|error| {
        let entry = error
            .pointer
            .strip_prefix("/waivers/")
            .and_then(|rest| rest.split('/').next())
            .and_then(|index| index.parse::<usize>().ok())
            .map(|index| format!(" waiver {}:", index + 1))
            .unwrap_or_default();
        anyhow::anyhow!("{}:{entry} {}", at(&error.pointer), error.message)
    })?;
    let mut waivers: Vec<Waiver> = Vec::new();
    for (index, entry) in file.waivers.unwrap_or_default().into_iter().enumerate() {
        let entry_pointer = format!("/waivers/{index}");
        let number = index + 1;
        let fail = |field: &str, message: String| -> anyhow::Error {
            anyhow::anyhow!(
                "{}: waiver {number}: {field}: {message}",
                at(&format!("{entry_pointer}/{field}"))
            )
        };
        if !known_kind(&entry.kind) {
            return Err(fail(
                "kind",
                format!(
                    "`{}` is no kind the diff engine reports (they are the `kind`s of `cargo \
                     xtask diff --format json`)",
                    entry.kind
                ),
            ));
        }
        if !entry.pointer.starts_with('/') {
            return Err(fail(
                "pointer",
                format!(
                    "`{}` is not a JSON pointer into the spec (it starts with `/`)",
                    entry.pointer
                ),
            ));
        }
        let reason = entry
            .reason
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if reason.is_empty() {
            return Err(fail(
                "reason",
                "empty; say why consumers are not hurt by the change".to_string(),
            ));
        }
        let expires = match &entry.expires {
            None => None,
            Some(text) => Some(NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
                fail(
                    "expires",
                    format!("`{text}` is not a date written YYYY-MM-DD"),
                )
            })?),
        };
        if let Some(earlier) = waivers
            .iter()
            .find(|earlier| earlier.kind == entry.kind && earlier.pointer == entry.pointer)
        {
            bail!(
                "{}: waiver {number} repeats waiver {} (the same kind and pointer)",
                at(&entry_pointer),
                earlier.number
            );
        }
        waivers.push(Waiver {
            number,
            line: lines.find(&entry_pointer),
            kind: entry.kind,
            pointer: entry.pointer,
            reason,
            expires,
        });
    }
    Ok(waivers)
}

fn known_kind(kind: &str) -> bool {
    let plain = rules::PLAIN.iter().map(|rule| rule.kind);
    let directed = rules::DIRECTED
        .iter()
        .flat_map(|rule| [rule.request.kind, rule.response.kind]);
    plain.chain(directed).any(|known| known == kind)
}

/// Today, as expiry dates are read: in UTC, so that CI and a laptop agree.
pub fn today() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

/// What is wrong with a waiver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// It matches no change.
    Stale,
    /// It matches only changes of this class, which need no waiver.
    NotBreaking(Class),
    /// Its date has passed: it waives nothing any more.
    Expired,
}

/// A waiver that did not waive anything, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    pub waiver: Waiver,
    pub problem: Problem,
}

impl Note {
    /// An expired waiver fails the gate; the others only ask to be cleaned up.
    pub fn is_error(&self) -> bool {
        self.problem == Problem::Expired
    }

    /// `stale`, `expired`: the word reports tag it with.
    pub fn word(&self) -> &'static str {
        match self.problem {
            Problem::Stale | Problem::NotBreaking(_) => "stale",
            Problem::Expired => "expired",
        }
    }

    /// What is wrong and what to do, one line.
    pub fn message(&self) -> String {
        let label = self.waiver.label();
        match &self.problem {
            Problem::Stale => {
                format!("{label} matches no change: remove it (a released change needs none)")
            }
            Problem::NotBreaking(class) => format!(
                "{label} matches only a {} change, which needs no waiver: remove it",
                class.name()
            ),
            Problem::Expired => format!(
                "{label} expired after {}: the change it waived is breaking again; renew the \
                 waiver with a later date (and a reason that still holds), or remove it and take \
                 the major step",
                self.waiver
                    .expires
                    .map_or_else(String::new, |date| date.to_string())
            ),
        }
    }
}

/// Applies the workspace's waivers to `changes` when `old` is the latest release, the document
/// waivers judge changes from (a comparison from an older document is shown unwaived);
/// returns the waivers that waived nothing. A malformed waivers file is an error whatever is
/// compared.
pub fn apply_waivers(root: &Path, old: &Value, changes: &mut [Change]) -> Result<Vec<Note>> {
    let waivers = load(root)?;
    if waivers.is_empty() {
        return Ok(Vec::new());
    }
    let Some(latest) = crate::release::latest(root)? else {
        return Ok(Vec::new());
    };
    if leads_spec::load(&latest.path)? != *old {
        return Ok(Vec::new());
    }
    Ok(apply(changes, &waivers, today()))
}

/// Marks each breaking change a live waiver names as waived; returns the waivers that waived
/// nothing, in file order. A waiver holds through its `expires` day.
pub fn apply(changes: &mut [Change], waivers: &[Waiver], today: NaiveDate) -> Vec<Note> {
    let mut notes = Vec::new();
    for waiver in waivers {
        let note = |problem| Note {
            waiver: waiver.clone(),
            problem,
        };
        if waiver.expires.is_some_and(|last| today > last) {
            notes.push(note(Problem::Expired));
            continue;
        }
        let mut matched: Option<Class> = None;
        for change in changes
            .iter_mut()
            .filter(|change| change.kind == waiver.kind && change.pointer() == waiver.pointer)
        {
            matched = matched.max(Some(change.class));
            if change.class == Class::Breaking {
                change.waiver = Some(waiver.clone());
            }
        }
        match matched {
            None => notes.push(note(Problem::Stale)),
            Some(Class::Breaking) => {}
            Some(class) => notes.push(note(Problem::NotBreaking(class))),
        }
    }
    notes
}

#[cfg(test)]
mod tests;
