//! `cargo xtask docs`: the API reference page, rendered from the spec by `leads-reference`
//! exactly as the server serves it at `/docs`, written to a file for publishing without a
//! server.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use leads_spec::SPEC_PATH;

/// Where the page goes by default, relative to the workspace root.
pub const DEFAULT_OUT: &str = "target/docs/index.html";

/// Writes the page of the workspace's spec to `out` (default [`DEFAULT_OUT`]).
pub fn run(root: &Path, out: Option<PathBuf>) -> Result<bool> {
    let spec = leads_spec::load(&root.join(SPEC_PATH))?;
    let page = leads_reference::render(&spec)?;
    let out = out.unwrap_or_else(|| root.join(DEFAULT_OUT));
    if let Some(dir) = out.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&out, page).with_context(|| format!("writing {}", out.display()))?;
    println!("docs: wrote {}", out.display());
    Ok(true)
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
    }
}
