//! The store's place in the layers: it imports nothing from the HTTP layer or the webhooks
//! (a test reads its source files to check it).

use std::path::{Path, PathBuf};

/// The modules the store may not import: the layers above it.
const ABOVE: [&str; 2] = ["api", "webhooks"];

/// Whether `code` (a line without its comment) names one of [`ABOVE`] through `crate::`
/// or `super::super::`, also inside a group (`use crate::{domain, api};`).
fn imports_above(code: &str) -> bool {
    let first_segment = |path: &str| -> String {
        path.trim()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    ["crate::", "super::super::"].iter().any(|root| {
        code.split(root).skip(1).any(|path| {
            let segments: Vec<String> = match path.strip_prefix('{') {
                Some(group) => group
                    .split('}')
                    .next()
                    .unwrap_or_default()
                    .split(',')
                    .map(first_segment)
                    .collect(),
                None => vec![first_segment(path)],
            };
            segments
                .iter()
                .any(|segment| ABOVE.contains(&segment.as_str()))
        })
    })
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("the store's folder reads") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        }
    }
}

#[test]
fn imports_are_recognised() {
    assert!(imports_above("use crate::webhooks::payload;"));
    assert!(imports_above("use crate::{domain, api};"));
    assert!(imports_above("let x = crate::api::types::Lead;"));
    assert!(imports_above("use super::super::webhooks;"));
    assert!(!imports_above("use crate::domain::webhook::EventType;"));
    assert!(!imports_above("use crate::domain::{ApiKeyId, EventType};"));
    assert!(!imports_above("use super::webhooks;"));
}

/// `server/src/store` imports nothing from the HTTP layer or the webhooks: storage
/// depends on the domain only.
#[test]
fn the_store_imports_nothing_from_the_layers_above_it() {
    let store = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/store");
    let mut files = Vec::new();
    rust_files(&store, &mut files);
    assert!(files.len() > 10, "the store's files were found: {files:?}");
    let mut offending = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("a source file reads");
        for (number, line) in text.lines().enumerate() {
            // The code before any comment or string literal (this test's own examples).
            let code = line
                .split("//")
                .next()
                .and_then(|code| code.split('"').next())
                .unwrap_or_default();
            if imports_above(code) {
                offending.push(format!(
                    "{}:{}: {}",
                    file.display(),
                    number + 1,
                    line.trim()
                ));
            }
        }
    }
    assert!(
        offending.is_empty(),
        "the store imports from the layers above it (api, webhooks); give it what it needs \
         through the domain instead:\n{}",
        offending.join("\n")
    );
}
