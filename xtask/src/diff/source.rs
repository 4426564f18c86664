//! Where the documents compared come from: a path, `git:REV` (the spec as committed at a
//! revision), a bare version (`1.0.0`, a released spec under `openapi/released/`), or by
//! default the latest released version.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use leads_spec::SPEC_PATH;
use semver::Version;
use serde_json::Value;

/// Where released versions of the spec are kept, as `<semver>.yaml`.
pub const RELEASED_DIR: &str = "openapi/released";

/// Loads the document `arg` names, relative to the workspace `root`: `git:REV`, a bare
/// version, or a path (as given, else under `root`). Returns how to name it, and the document.
pub fn load_source(root: &Path, arg: &str) -> Result<(String, Value)> {
    if let Some(revision) = arg.strip_prefix("git:") {
        return Ok((arg.to_string(), at_revision(root, revision)?));
    }
    if let Ok(version) = Version::parse(arg) {
        let path = released(root, &version);
        let spec = leads_spec::load(&path)
            .with_context(|| format!("loading released version {version}"))?;
        return Ok((arg.to_string(), spec));
    }
    let given = PathBuf::from(arg);
    let path = if given.exists() {
        given
    } else {
        root.join(arg)
    };
    Ok((arg.to_string(), leads_spec::load(&path)?))
}

/// The latest released version: the highest `<semver>.yaml` under [`RELEASED_DIR`].
pub fn latest_release(root: &Path) -> Result<(String, Value)> {
    let Some(latest) = released_versions(&root.join(RELEASED_DIR))?
        .into_iter()
        .max()
    else {
        bail!("no released version yet: run `cargo xtask release`");
    };
    load_source(root, &latest.to_string())
}

/// The versions released into `dir`; none if there is no such directory yet.
fn released_versions(dir: &Path) -> Result<Vec<Version>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error).with_context(|| format!("listing {}", dir.display())),
    };
    let mut versions = Vec::new();
    for entry in entries {
        let name = entry
            .with_context(|| format!("listing {}", dir.display()))?
            .file_name();
        let stem = name.to_str().and_then(|name| name.strip_suffix(".yaml"));
        if let Some(version) = stem.and_then(|stem| Version::parse(stem).ok()) {
            versions.push(version);
        }
    }
    Ok(versions)
}

fn released(root: &Path, version: &Version) -> PathBuf {
    root.join(RELEASED_DIR).join(format!("{version}.yaml"))
}

/// The spec as committed at `revision`, read with `git show` in the workspace root.
fn at_revision(root: &Path, revision: &str) -> Result<Value> {
    let object = format!("{revision}:{SPEC_PATH}");
    let output = Command::new("git")
        .current_dir(root)
        .args(["show", &object])
        .output()
        .context("running git show")?;
    if !output.status.success() {
        bail!(
            "git show {object}: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let text =
        String::from_utf8(output.stdout).with_context(|| format!("{object} is not UTF-8"))?;
    leads_spec::parse(&text).with_context(|| format!("parsing {object} as YAML"))
}
