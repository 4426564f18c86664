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

/// A document to compare, with what reports need to point into it.
#[derive(Clone, Debug)]
pub struct Source {
    /// How it was named: `1.0.0`, `git:HEAD`, a path.
    pub label: String,
    pub spec: Value,
    /// Its text, in which pointers are found as lines.
    pub text: String,
    /// Its file relative to the workspace root, as annotations name it: the released file for
    /// a version, the spec for `git:REV`; `None` for a file outside the workspace.
    pub file: Option<String>,
}

/// Loads the document `arg` names, relative to the workspace `root`: `git:REV`, a bare
/// version, or a path (as given, else under `root`).
pub fn load_source(root: &Path, arg: &str) -> Result<Source> {
    let label = arg.to_string();
    if let Some(revision) = arg.strip_prefix("git:") {
        let (text, spec) = at_revision(root, revision)?;
        let file = Some(SPEC_PATH.to_string());
        return Ok(Source {
            label,
            spec,
            text,
            file,
        });
    }
    if let Ok(version) = Version::parse(arg) {
        let file = format!("{RELEASED_DIR}/{version}.yaml");
        let (text, spec) = read(&root.join(&file))
            .with_context(|| format!("loading released version {version}"))?;
        return Ok(Source {
            label,
            spec,
            text,
            file: Some(file),
        });
    }
    let given = PathBuf::from(arg);
    let path = if given.exists() {
        given
    } else {
        root.join(arg)
    };
    let (text, spec) = read(&path)?;
    Ok(Source {
        label,
        spec,
        text,
        file: relative(root, &path),
    })
}

/// The latest released version (see [`release::latest`]).
pub fn latest_release(root: &Path) -> Result<Source> {
    let Some(latest) = release::latest(root)? else {
        bail!("no released version yet: run `cargo xtask release`");
    };
    load_source(root, &latest.version.to_string())
}

/// A file's text and its document.
fn read(path: &Path) -> Result<(String, Value)> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let spec =
        leads_spec::parse(&text).with_context(|| format!("parsing {} as YAML", path.display()))?;
    Ok((text, spec))
}

/// `path` relative to `root`, `/`-separated, if it is inside it.
fn relative(root: &Path, path: &Path) -> Option<String> {
    let root = std::fs::canonicalize(root).ok()?;
    let path = std::fs::canonicalize(path).ok()?;
    let inside = path.strip_prefix(root).ok()?;
    let parts: Vec<String> = inside
        .components()
        .map(|part| part.as_os_str().to_string_lossy().into_owned())
        .collect();
    Some(parts.join("/"))
}

/// The spec as committed at `revision`, read with `git show` in the workspace root: its text
/// and its document.
fn at_revision(root: &Path, revision: &str) -> Result<(String, Value)> {
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
    let spec = leads_spec::parse(&text).with_context(|| format!("parsing {object} as YAML"))?;
    Ok((text, spec))
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
        // Beside the releases, and none of them.
        std::fs::write(dir.join("waivers.yaml"), "waivers: []\n").unwrap();
        root
    }

    fn version_of(spec: &Value) -> &str {
        spec["info"]["version"].as_str().unwrap()
    }

    #[test]
    fn a_path_loads_as_given_or_under_the_root() {
        let root = workspace_root();
        let source = load_source(&root, SPEC_PATH).unwrap();
        assert_eq!(source.label, SPEC_PATH);
        assert_eq!(
            source.spec,
            leads_spec::load(&root.join(SPEC_PATH)).unwrap()
        );
        assert_eq!(source.file.as_deref(), Some(SPEC_PATH));
        assert!(
            source.text.starts_with("openapi: 3.0"),
            "{}",
            &source.text[..40]
        );
        let absolute = root.join(SPEC_PATH);
        let same = load_source(Path::new("/nowhere"), absolute.to_str().unwrap()).unwrap();
        assert_eq!(same.spec, source.spec);
        // Outside the workspace, an annotation cannot name the file.
        assert_eq!(same.file, None);
        assert!(load_source(&root, "openapi/missing.yaml").is_err());
    }

    #[test]
    fn a_bare_version_is_a_released_spec() {
        let root = released_root(&["1.0.0", "1.2.0"]);
        let source = load_source(root.path(), "1.2.0").unwrap();
        assert_eq!(
            (source.label.as_str(), version_of(&source.spec)),
            ("1.2.0", "1.2.0")
        );
        assert_eq!(source.file.as_deref(), Some("openapi/released/1.2.0.yaml"));
        let error = load_source(root.path(), "2.0.0").unwrap_err();
        assert!(
            format!("{error:#}").contains("released version 2.0.0"),
            "{error:#}"
        );
    }

    #[test]
    fn git_head_is_the_committed_spec() {
        let root = workspace_root();
        let source = load_source(&root, "git:HEAD").unwrap();
        assert_eq!(source.label, "git:HEAD");
        assert!(source.spec["openapi"].as_str().unwrap().starts_with("3.0."));
        assert_eq!(source.file.as_deref(), Some(SPEC_PATH));
        assert_eq!(leads_spec::parse(&source.text).unwrap(), source.spec);
        let error = load_source(&root, "git:no-such-revision").unwrap_err();
        assert!(format!("{error:#}").contains("git show"), "{error:#}");
    }

    #[test]
    fn the_default_old_version_is_the_highest_release() {
        // 1.10.0 sorts below 1.9.0 as text, above it as a version.
        let root = released_root(&["1.9.0", "1.10.0", "0.3.0"]);
        let source = latest_release(root.path()).unwrap();
        assert_eq!(
            (source.label.as_str(), version_of(&source.spec)),
            ("1.10.0", "1.10.0")
        );
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
