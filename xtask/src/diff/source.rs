//! Where the documents compared come from: a path, `git:REV` (the spec as committed at a
//! revision), a bare version (`1.0.0`, a released spec under `openapi/released/`), or by
//! default the latest released version.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use leads_spec::SPEC_PATH;
use semver::Version;
use serde_json::Value;

use crate::release::{self, RELEASED_DIR};

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

/// The latest released version (see [`release::latest`]).
pub fn latest_release(root: &Path) -> Result<(String, Value)> {
    let Some(latest) = release::latest(root)? else {
        bail!("no released version yet: run `cargo xtask release`");
    };
    Ok((latest.version.to_string(), leads_spec::load(&latest.path)?))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace_root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap()
            .to_path_buf()
    }

    /// A workspace root holding released versions, each a tiny document naming its version.
    fn released_root(versions: &[&str]) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join(RELEASED_DIR);
        std::fs::create_dir_all(&dir).unwrap();
        for version in versions {
            let text =
                format!("openapi: 3.0.3\ninfo: {{title: t, version: {version}}}\npaths: {{}}\n");
            std::fs::write(dir.join(format!("{version}.yaml")), text).unwrap();
        }
        std::fs::write(dir.join("notes.txt"), "not a version").unwrap();
        root
    }

    fn version_of(spec: &Value) -> &str {
        spec["info"]["version"].as_str().unwrap()
    }

    #[test]
    fn a_path_loads_as_given_or_under_the_root() {
        let root = workspace_root();
        let (label, spec) = load_source(&root, SPEC_PATH).unwrap();
        assert_eq!(label, SPEC_PATH);
        assert_eq!(spec, leads_spec::load(&root.join(SPEC_PATH)).unwrap());
        let absolute = root.join(SPEC_PATH);
        let (_, same) = load_source(Path::new("/nowhere"), absolute.to_str().unwrap()).unwrap();
        assert_eq!(same, spec);
        assert!(load_source(&root, "openapi/missing.yaml").is_err());
    }

    #[test]
    fn a_bare_version_is_a_released_spec() {
        let root = released_root(&["1.0.0", "1.2.0"]);
        let (label, spec) = load_source(root.path(), "1.2.0").unwrap();
        assert_eq!((label.as_str(), version_of(&spec)), ("1.2.0", "1.2.0"));
        let error = load_source(root.path(), "2.0.0").unwrap_err();
        assert!(
            format!("{error:#}").contains("released version 2.0.0"),
            "{error:#}"
        );
    }

    #[test]
    fn git_head_is_the_committed_spec() {
        let root = workspace_root();
        let (label, spec) = load_source(&root, "git:HEAD").unwrap();
        assert_eq!(label, "git:HEAD");
        assert!(spec["openapi"].as_str().unwrap().starts_with("3.0."));
        let error = load_source(&root, "git:no-such-revision").unwrap_err();
        assert!(format!("{error:#}").contains("git show"), "{error:#}");
    }

    #[test]
    fn the_default_old_version_is_the_highest_release() {
        // 1.10.0 sorts below 1.9.0 as text, above it as a version.
        let root = released_root(&["1.9.0", "1.10.0", "0.3.0"]);
        let (label, spec) = latest_release(root.path()).unwrap();
        assert_eq!((label.as_str(), version_of(&spec)), ("1.10.0", "1.10.0"));
    }

    #[test]
    fn without_a_release_the_default_says_what_to_do() {
        let root = tempfile::tempdir().unwrap();
        let error = latest_release(root.path()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "no released version yet: run `cargo xtask release`"
        );
    }
}
