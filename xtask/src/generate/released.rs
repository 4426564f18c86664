//! The released clients of the contract suite: one progenitor client per released version the
//! support policy (`openapi/released/supported.yaml`) lists, each generated from that
//! release's own document into `contract-tests/src/released/v<version>.rs` (module
//! `released::v4_0_0` for 4.0.0), and `contract-tests/src/released/mod.rs`, which declares
//! them and lists them in the macro `released_versions!` (a Rust module list cannot be
//! computed at build time, so it is generated with them).
//!
//! Dropping a version from the policy leaves its file behind: [`obsolete`] finds it, so that
//! `cargo xtask generate` deletes it and `--check` fails on it.

use std::path::Path;

use anyhow::{Context, Result};
use quote::{format_ident, quote};
use semver::Version;

use super::{GENERATED_MARK, Output, client, render_file};
use crate::support::{self, Supported};

/// Where the released clients and their module file are generated, relative to the
/// workspace root.
pub const DIR: &str = "contract-tests/src/released";

/// The released clients of the support policy at `root` (oldest first), then the module file
/// that declares them.
pub(super) fn files(root: &Path) -> Result<Vec<Output>> {
    let supported = support::supported(root)?;
    let mut files = Vec::new();
    for entry in &supported {
        let version = &entry.release.version;
        let spec = leads_spec::load(&entry.release.path)?;
        let source = format!("{}/{version}.yaml", crate::release::RELEASED_DIR);
        files.push(Output {
            path: format!("{DIR}/{}.rs", module_name(version)),
            contents: client::render(&spec, &source, client::Sending::Plain)
                .with_context(|| format!("generating the client of {source}"))?,
        });
    }
    files.push(Output {
        path: format!("{DIR}/mod.rs"),
        contents: module_file(&supported)?,
    });
    Ok(files)
}

/// The module a release's client is generated as: `v` and the version, every character
/// that cannot be in a Rust identifier an underscore (`4.0.0` → `v4_0_0`).
pub(super) fn module_name(version: &Version) -> String {
    let name: String = version
        .to_string()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("v{name}")
}

/// `mod.rs`: a module per supported release, and `released_versions!`, which hands the list of
/// them to a macro of the caller's (so that a scenario written once runs for each).
fn module_file(supported: &[Supported]) -> Result<String> {
    let versions: Vec<(proc_macro2::Ident, String)> = supported
        .iter()
        .map(|entry| {
            let version = &entry.release.version;
            (
                format_ident!("{}", module_name(version)),
                version.to_string(),
            )
        })
        .collect();
    let modules = versions.iter().map(|(module, version)| {
        let doc = format!(
            " The client generated from `{}/{version}.yaml`.",
            crate::release::RELEASED_DIR
        );
        quote! {
            #[doc = #doc]
            pub mod #module;
        }
    });
    let list = versions
        .iter()
        .map(|(module, version)| quote! { (#module, #version) });
    let tokens = quote! {
        #![doc = " The clients of the released versions the support policy"]
        #![doc = " (`openapi/released/supported.yaml`) lists, one module each, generated from each"]
        #![doc = " release's own document: what the consumers of those versions run."]

        #(#modules)*

        /// Calls `$callback! { (module, "version"), … }` with every supported release, oldest
        /// first (none when the policy lists none): `module` is its client's module under
        /// `released`, `version` its `info.version`.
        #[macro_export]
        macro_rules! released_versions {
            ($callback:ident) => {
                $callback! { #(#list),* }
            };
        }
    };
    let file: syn::File =
        syn::parse2(tokens).context("the released clients' module does not parse as Rust")?;
    Ok(render_file(&file, support::POLICY_PATH))
}

/// The generated files in [`DIR`] that are none of `expected` (paths relative to the
/// workspace root): the clients of versions the policy no longer lists. A file there that
/// does not start with the generated header is not the generator's, and is left alone.
pub(super) fn obsolete<'a>(
    root: &Path,
    expected: impl Iterator<Item = &'a str> + Clone,
) -> Result<Vec<String>> {
    let dir = root.join(DIR);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error).with_context(|| format!("reading {DIR}")),
    };
    let mut obsolete = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("reading {DIR}"))?;
        let Some(name) = entry.file_name().to_str().map(String::from) else {
            continue;
        };
        let path = format!("{DIR}/{name}");
        if !name.ends_with(".rs") || expected.clone().any(|known| known == path) {
            continue;
        }
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        if text.starts_with(GENERATED_MARK) {
            obsolete.push(path);
        }
    }
    obsolete.sort();
    Ok(obsolete)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_module_is_named_after_its_version() {
        let name = |version: &str| module_name(&Version::parse(version).unwrap());
        assert_eq!(name("4.0.0"), "v4_0_0");
        assert_eq!(name("10.2.31"), "v10_2_31");
        assert_eq!(name("5.0.0-rc.1"), "v5_0_0_rc_1");
    }

    #[test]
    fn the_workspace_has_one_client_per_supported_release_and_a_module_file() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let supported = support::supported(&root).unwrap();
        let files = files(&root).unwrap();
        assert_eq!(files.len(), supported.len() + 1);
        let module_file = &files.last().unwrap().contents;
        assert!(module_file.starts_with(GENERATED_MARK), "{module_file}");
        for (entry, file) in supported.iter().zip(&files) {
            let module = module_name(&entry.release.version);
            assert_eq!(file.path, format!("{DIR}/{module}.rs"));
            assert!(file.contents.starts_with(&format!(
                "{GENERATED_MARK} from openapi/released/{}.yaml.\n",
                entry.release.version
            )));
            assert!(
                module_file.contains(&format!("pub mod {module};")),
                "{module_file}"
            );
            assert!(
                module_file.contains(&format!("({module}, \"{}\")", entry.release.version)),
                "{module_file}"
            );
        }
    }

    #[test]
    fn a_generated_file_nothing_generates_any_more_is_obsolete_and_others_stay() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join(DIR);
        std::fs::create_dir_all(&dir).unwrap();
        let generated = format!("{GENERATED_MARK} from openapi/released/3.0.0.yaml.\n");
        std::fs::write(dir.join("mod.rs"), &generated).unwrap();
        std::fs::write(dir.join("v4_0_0.rs"), &generated).unwrap();
        std::fs::write(dir.join("v3_0_0.rs"), &generated).unwrap();
        std::fs::write(dir.join("helpers.rs"), "//! By hand.\n").unwrap();
        std::fs::write(dir.join("notes.txt"), &generated).unwrap();
        let expected = [format!("{DIR}/mod.rs"), format!("{DIR}/v4_0_0.rs")];
        let obsolete = obsolete(root.path(), expected.iter().map(String::as_str)).unwrap();
        assert_eq!(obsolete, [format!("{DIR}/v3_0_0.rs")]);
    }

    #[test]
    fn no_directory_means_nothing_obsolete() {
        let root = tempfile::tempdir().unwrap();
        assert!(
            obsolete(root.path(), std::iter::empty())
                .unwrap()
                .is_empty()
        );
    }
}
