//! The support policy, `openapi/released/supported.yaml`: which released versions the server
//! serves besides the working spec's own, and when each is deprecated and sunset.
//!
//! `cargo xtask check` validates it (every entry a release, dates in order) and lists the
//! releases it no longer serves; `cargo xtask fuzz --spec released` runs every supported
//! version's document against the working server, asking for that version; and `cargo xtask
//! generate` writes each supported version's client for the contract suite's `compat`
//! scenarios.

use std::path::Path;

use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use semver::Version;
use serde::Deserialize;

use crate::release::{self, Released};

/// The policy file, relative to the workspace root.
pub const POLICY_PATH: &str = "openapi/released/supported.yaml";

/// One supported release.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Supported {
    pub release: Released,
    pub deprecated: Option<NaiveDate>,
    pub sunset: Option<NaiveDate>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    supported: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    version: String,
    deprecated: Option<NaiveDate>,
    sunset: Option<NaiveDate>,
}

/// The supported releases the server serves besides the working spec at version `working`,
/// oldest first: those older than it. The policy may list the working spec's own release,
/// which is served as the working spec; a newer one is refused.
pub fn served_besides(root: &Path, working: &Version) -> Result<Vec<Supported>> {
    let mut served = Vec::new();
    for supported in supported(root)? {
        let version = &supported.release.version;
        if version > working {
            bail!(
                "{POLICY_PATH} serves {version}, which is newer than the working spec's \
                 info.version {working}"
            );
        }
        if version < working {
            served.push(supported);
        }
    }
    Ok(served)
}

/// The supported releases, oldest first; an error naming the entry for anything wrong.
pub fn supported(root: &Path) -> Result<Vec<Supported>> {
    let text = std::fs::read_to_string(root.join(POLICY_PATH))
        .with_context(|| format!("reading {POLICY_PATH}"))?;
    let file: PolicyFile =
        serde_yaml_ng::from_str(&text).with_context(|| format!("{POLICY_PATH} is malformed"))?;
    let releases = release::released(root)?;
    let mut supported: Vec<Supported> = Vec::new();
    for (number, entry) in file.supported.into_iter().enumerate() {
        let at = || format!("{POLICY_PATH}: entry {} ({})", number + 1, entry.version);
        let version = Version::parse(&entry.version)
            .with_context(|| format!("{}: not a semver version", at()))?;
        let Some(release) = releases.iter().find(|r| r.version == version) else {
            bail!(
                "{}: no such release; released: {}",
                at(),
                list(releases.iter().map(|r| &r.version))
            );
        };
        if supported.iter().any(|s| s.release.version == version) {
            bail!("{}: listed twice", at());
        }
        if let (Some(deprecated), Some(sunset)) = (entry.deprecated, entry.sunset)
            && sunset < deprecated
        {
            bail!(
                "{}: sunset {sunset} comes before deprecated {deprecated}",
                at()
            );
        }
        supported.push(Supported {
            release: release.clone(),
            deprecated: entry.deprecated,
            sunset: entry.sunset,
        });
    }
    supported.sort_by(|a, b| a.release.version.cmp(&b.release.version));
    Ok(supported)
}

/// `cargo xtask check`'s step: the policy is valid; says what is served and what is not.
pub fn check(root: &Path) -> Result<bool> {
    let supported = match supported(root) {
        Ok(supported) => supported,
        Err(error) => {
            eprintln!("support policy FAILED: {error:#}");
            return Ok(false);
        }
    };
    let today = chrono::Utc::now().date_naive();
    if let Some(gone) = supported
        .iter()
        .find(|s| s.sunset.is_some_and(|sunset| sunset <= today))
    {
        eprintln!(
            "support policy FAILED: {POLICY_PATH} still lists {}, whose sunset day has come: \
             the server refuses it now. Remove its entry (and run `cargo xtask generate`), or \
             move the sunset if the version must be served longer.",
            describe(gone)
        );
        return Ok(false);
    }
    let working = leads_spec::load(&root.join(leads_spec::SPEC_PATH)).ok();
    let working = working
        .as_ref()
        .and_then(|spec| spec.pointer("/info/version"))
        .and_then(serde_json::Value::as_str)
        .and_then(|text| Version::parse(text).ok());
    let mut served: Vec<String> = Vec::new();
    let mut working_listed = false;
    for entry in &supported {
        if working.as_ref() == Some(&entry.release.version) {
            working_listed = true;
            served.push(format!("{} (the working spec)", describe(entry)));
        } else {
            served.push(describe(entry));
        }
    }
    if !working_listed {
        served.push(match working {
            Some(version) => format!("the working spec ({version}, unreleased)"),
            None => "the working spec".to_string(),
        });
    }
    let dropped: Vec<Version> = release::released(root)?
        .into_iter()
        .map(|r| r.version)
        .filter(|version| !supported.iter().any(|s| s.release.version == *version))
        .collect();
    println!(
        "support policy: serves {}; not served: {}",
        served.join(", "),
        list(dropped.iter())
    );
    Ok(true)
}

fn describe(supported: &Supported) -> String {
    let mut text = supported.release.version.to_string();
    if let Some(date) = supported.deprecated {
        text.push_str(&format!(" (deprecated {date}"));
        text.push_str(
            &supported
                .sunset
                .map_or(")".to_string(), |s| format!(", sunset {s})")),
        );
    } else if let Some(date) = supported.sunset {
        text.push_str(&format!(" (sunset {date})"));
    }
    text
}

fn list<'a>(versions: impl Iterator<Item = &'a Version>) -> String {
    let names: Vec<String> = versions.map(ToString::to_string).collect();
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A workspace with releases `versions` (empty documents) and the policy `policy`.
    fn workspace(versions: &[&str], policy: &str) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join(release::RELEASED_DIR);
        std::fs::create_dir_all(&dir).unwrap();
        for version in versions {
            std::fs::write(dir.join(format!("{version}.yaml")), "openapi: 3.0.3\n").unwrap();
        }
        std::fs::write(root.path().join(POLICY_PATH), policy).unwrap();
        root
    }

    fn error(versions: &[&str], policy: &str) -> String {
        format!(
            "{:#}",
            supported(workspace(versions, policy).path()).unwrap_err()
        )
    }

    #[test]
    fn the_policy_lists_releases_with_their_dates() {
        let root = workspace(
            &["3.0.0", "4.0.0"],
            "supported:\n  - version: 4.0.0\n  - version: 3.0.0\n    deprecated: 2027-01-01\n    sunset: 2027-06-30\n",
        );
        let supported = supported(root.path()).unwrap();
        let versions: Vec<String> = supported.iter().map(describe).collect();
        assert_eq!(
            versions,
            ["3.0.0 (deprecated 2027-01-01, sunset 2027-06-30)", "4.0.0"]
        );
        assert!(check(root.path()).unwrap());
    }

    #[test]
    fn a_listed_version_past_its_sunset_fails_the_check() {
        let root = workspace(
            &["4.0.0"],
            "supported:\n  - version: 4.0.0\n    deprecated: 2020-01-01\n    sunset: 2020-06-30\n",
        );
        assert!(supported(root.path()).is_ok(), "the file itself is valid");
        assert!(!check(root.path()).unwrap(), "but its sunset has come");
    }

    #[test]
    fn a_version_that_was_never_released_is_refused() {
        let message = error(&["4.0.0"], "supported:\n  - version: 4.1.0\n");
        assert_eq!(
            message,
            "openapi/released/supported.yaml: entry 1 (4.1.0): no such release; released: 4.0.0"
        );
    }

    #[test]
    fn a_sunset_before_the_deprecation_is_refused() {
        let message = error(
            &["4.0.0"],
            "supported:\n  - version: 4.0.0\n    deprecated: 2027-06-30\n    sunset: 2027-01-01\n",
        );
        assert!(
            message.ends_with("sunset 2027-01-01 comes before deprecated 2027-06-30"),
            "{message}"
        );
    }

    #[test]
    fn a_repeated_version_an_unknown_field_and_a_bad_date_are_refused() {
        let twice = error(
            &["4.0.0"],
            "supported:\n  - version: 4.0.0\n  - version: 4.0.0\n",
        );
        assert!(twice.ends_with("entry 2 (4.0.0): listed twice"), "{twice}");
        let unknown = error(
            &["4.0.0"],
            "supported:\n  - version: 4.0.0\n    sunsets: 2027-01-01\n",
        );
        assert!(unknown.contains("unknown field `sunsets`"), "{unknown}");
        let date = error(
            &["4.0.0"],
            "supported:\n  - version: 4.0.0\n    sunset: 2027-13-01\n",
        );
        assert!(date.contains("is malformed"), "{date}");
    }

    #[test]
    fn the_workspace_policy_is_valid() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        assert!(!supported(&root).unwrap().is_empty());
    }
}
