//! `cargo xtask docs`: the API reference page, rendered from the spec by `leads-reference`
//! exactly as the server serves it at `/docs` (the newest version's page, listing every
//! version the server serves), written to a file for publishing without a server.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use leads_reference::ServedVersion;
use leads_spec::SPEC_PATH;
use serde_json::Value;

/// Where the page goes by default, relative to the workspace root.
pub const DEFAULT_OUT: &str = "target/docs/index.html";

/// Writes the page of the workspace's spec to `out` (default [`DEFAULT_OUT`]).
pub fn run(root: &Path, out: Option<PathBuf>) -> Result<bool> {
    let spec = leads_spec::load(&root.join(SPEC_PATH))?;
    let page = leads_reference::render(&spec, &served_versions(root, &spec)?)?;
    let out = out.unwrap_or_else(|| root.join(DEFAULT_OUT));
    if let Some(dir) = out.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&out, page).with_context(|| format!("writing {}", out.display()))?;
    println!("docs: wrote {}", out.display());
    Ok(true)
}

/// The versions the server serves, as the server's generator reads them: the releases of the
/// support policy, oldest first, then the working spec `spec`, the newest. A release of the
/// working spec's own version is served as the working spec; a newer one is refused.
fn served_versions(root: &Path, spec: &Value) -> Result<Vec<ServedVersion>> {
    let working = spec
        .pointer("/info/version")
        .and_then(Value::as_str)
        .context("the working spec has no info.version")?;
    let newest = semver::Version::parse(working)
        .with_context(|| format!("the working spec's info.version `{working}` is not semver"))?;
    let mut served: Vec<ServedVersion> = crate::support::served_besides(root, &newest)?
        .into_iter()
        .map(|supported| ServedVersion {
            version: supported.release.version.to_string(),
            deprecated: supported.deprecated.map(|date| date.to_string()),
            sunset: supported.sunset.map(|date| date.to_string()),
        })
        .collect();
    served.push(ServedVersion {
        version: working.to_string(),
        deprecated: None,
        sunset: None,
    });
    Ok(served)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_is_written_where_asked() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("nested/reference.html");
        assert!(run(root, Some(out.clone())).unwrap());
        let page = std::fs::read_to_string(out).unwrap();
        assert!(page.starts_with("<!doctype html>"));
        assert!(page.contains("id=\"lead_create\""));
        assert!(page.contains("id=\"served-versions\""));
    }

    #[test]
    fn the_served_versions_end_with_the_working_spec() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let spec = leads_spec::load(&root.join(SPEC_PATH)).unwrap();
        let served = served_versions(root, &spec).unwrap();
        let (newest, older) = served.split_last().unwrap();
        let working = spec["info"]["version"].as_str().unwrap();
        assert_eq!(newest.version, working);
        assert_eq!((&newest.deprecated, &newest.sunset), (&None, &None));
        let releases: Vec<String> = crate::support::supported(root)
            .unwrap()
            .iter()
            .map(|supported| supported.release.version.to_string())
            .filter(|version| version != working)
            .collect();
        let older: Vec<&String> = older.iter().map(|served| &served.version).collect();
        assert_eq!(older, releases.iter().collect::<Vec<_>>());
    }
}
