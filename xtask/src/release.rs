//! Released versions of the spec: `cargo xtask release` freezes `openapi/leads.yaml` as
//! `openapi/released/<version>.yaml`, and the gate checks that nothing frozen has changed.
//!
//! A released document is never edited again, except for documentation. To tell the two apart
//! without the original at hand (CI may clone without history), the release records a digest
//! of the document's *contract* in `openapi/released/frozen.json`: the document with every
//! documentation keyword (`description`, `summary`, `title`, `example`, `examples`,
//! `externalDocs`, `x-…` but `x-extensible` and `x-only-when-sent`) taken out, as canonical
//! JSON, hashed with SHA-256.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use semver::Version;
use serde_json::Value;
use sha2::{Digest, Sha256};

use leads_spec::{EXTENSIBLE, ONLY_WHEN_SENT, SPEC_PATH};

/// Where released documents live, relative to the workspace root.
pub const RELEASED_DIR: &str = "openapi/released";

/// The digests of the released contracts, by version.
const FROZEN_FILE: &str = "openapi/released/frozen.json";

/// The client crate's manifest, whose version follows the API's.
const CLIENT_MANIFEST: &str = "client/Cargo.toml";

/// A released document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Released {
    pub version: Version,
    pub path: PathBuf,
}

/// Every released document, oldest first.
pub fn released(root: &Path) -> Result<Vec<Released>> {
    let dir = root.join(RELEASED_DIR);
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut versions = Vec::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {RELEASED_DIR}"))? {
        let path = entry?.path();
        // The waivers file and the support policy sit beside the releases, and are none of them.
        if path.ends_with(crate::diff::WAIVERS_PATH) || path.ends_with(crate::support::POLICY_PATH)
        {
            continue;
        }
        let Some(stem) = path
            .file_name()
            .and_then(|name| name.to_str())
            .and_then(|name| name.strip_suffix(".yaml"))
        else {
            continue;
        };
        let version = Version::parse(stem).with_context(|| {
            format!(
                "{RELEASED_DIR}/{stem}.yaml: a released document is named by its semver version"
            )
        })?;
        versions.push(Released { version, path });
    }
    versions.sort_by(|a, b| a.version.cmp(&b.version));
    Ok(versions)
}

/// The latest released document, if any.
pub fn latest(root: &Path) -> Result<Option<Released>> {
    Ok(released(root)?.pop())
}

/// The `info.version` of a document, as semver.
pub fn version_of(document: &Value, label: &str) -> Result<Version> {
    let text = document
        .pointer("/info/version")
        .and_then(Value::as_str)
        .with_context(|| format!("{label} has no info.version"))?;
    Version::parse(text)
        .with_context(|| format!("{label}: info.version `{text}` is not a semver version"))
}

/// `cargo xtask release`: freezes the working spec under its `info.version`, records its
/// contract digest, and sets the client crate's version to match. The semver gate must pass
/// first (run by the caller), so that the version is right for what changed.
pub fn run(root: &Path) -> Result<bool> {
    let spec_path = root.join(SPEC_PATH);
    let spec = leads_spec::load(&spec_path)?;
    let version = version_of(&spec, SPEC_PATH)?;
    if let Some(latest) = latest(root)?
        && latest.version >= version
    {
        bail!(
            "{SPEC_PATH} is at {version}, and {} is already released: raise info.version \
             first (see `cargo xtask diff` for the bump the changes need)",
            latest.version
        );
    }
    let target = root.join(RELEASED_DIR).join(format!("{version}.yaml"));
    std::fs::create_dir_all(root.join(RELEASED_DIR))?;
    // A byte copy: the released document is exactly what was reviewed.
    std::fs::copy(&spec_path, &target).with_context(|| format!("writing {}", target.display()))?;
    let mut frozen = read_frozen(root)?;
    frozen.insert(version.to_string(), contract_digest(&spec));
    write_frozen(root, &frozen)?;
    set_client_version(root, &version)?;
    println!(
        "release: froze {SPEC_PATH} as {RELEASED_DIR}/{version}.yaml, recorded its contract \
         digest in {FROZEN_FILE}, and set leads-client's version to {version}. Commit all \
         three; never edit the released document's contract again."
    );
    Ok(true)
}

/// Problems with the released documents: one whose contract is not what was frozen, a digest
/// without a document or a document without a digest, and a client crate whose version is
/// not the latest release's.
pub fn frozen_problems(root: &Path) -> Result<Vec<String>> {
    let frozen = read_frozen(root)?;
    let documents = released(root)?;
    let mut problems = Vec::new();
    for document in &documents {
        let key = document.version.to_string();
        let shown = format!("{RELEASED_DIR}/{key}.yaml");
        let Some(recorded) = frozen.get(&key) else {
            problems.push(format!(
                "{shown} has no digest in {FROZEN_FILE}: released documents are made by \
                 `cargo xtask release`, not by hand"
            ));
            continue;
        };
        let value = leads_spec::load(&document.path)?;
        if contract_digest(&value) != *recorded {
            problems.push(format!(
                "{shown} was released and its contract has changed since: only documentation \
                 may change in a released document (revert the change; `git diff {shown}` \
                 shows it)"
            ));
        }
    }
    for version in frozen.keys() {
        if !documents.iter().any(|d| d.version.to_string() == *version) {
            problems.push(format!(
                "{FROZEN_FILE} records {version}, but {RELEASED_DIR}/{version}.yaml is missing"
            ));
        }
    }
    if let Some(latest) = documents.last() {
        let client = client_version(root)?;
        if client != latest.version {
            problems.push(format!(
                "leads-client is at {client} but the latest released API is {}: the client's \
                 version follows the API's (`cargo xtask release` sets it)",
                latest.version
            ));
        }
    }
    Ok(problems)
}

/// The SHA-256 of `document`'s contract: canonical JSON without documentation keywords.
pub fn contract_digest(document: &Value) -> String {
    let contract = without_documentation(document, false);
    let digest = Sha256::digest(contract.to_string().as_bytes());
    format!("sha256:{}", hex::encode(digest))
}

/// Keywords that document and never constrain: taking them out leaves the contract. Two
/// extensions are the contract's own: what a consumer must accept (`x-extensible`) and when
/// an answer can come (`x-only-when-sent`) are promises made to the consumers of a release,
/// which the diff engine reads, so a released document may not change them.
fn is_documentation(key: &str) -> bool {
    matches!(
        key,
        "description" | "summary" | "title" | "example" | "examples" | "externalDocs"
    ) || (key.starts_with("x-") && ![EXTENSIBLE, ONLY_WHEN_SENT].contains(&key))
}

/// Objects whose keys are names (a property called `title`, a path, a status code), where
/// no key is a keyword to take out.
fn holds_names(key: &str) -> bool {
    matches!(
        key,
        "properties"
            | "paths"
            | "schemas"
            | "parameters"
            | "responses"
            | "requestBodies"
            | "headers"
            | "securitySchemes"
            | "links"
            | "callbacks"
            | "content"
            | "encoding"
            | "variables"
            | "mapping"
            | "scopes"
    )
}

/// `value` without documentation keywords; `names` says that its keys are names.
fn without_documentation(value: &Value, names: bool) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(key, _)| names || !is_documentation(key))
                .map(|(key, child)| {
                    let child_names = !names && holds_names(key);
                    (key.clone(), without_documentation(child, child_names))
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| without_documentation(item, false))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn read_frozen(root: &Path) -> Result<BTreeMap<String, String>> {
    let path = root.join(FROZEN_FILE);
    if !path.exists() {
        return Ok(BTreeMap::new());
    }
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {FROZEN_FILE}"))?;
    serde_json::from_str(&text).with_context(|| format!("{FROZEN_FILE} is not a JSON object"))
}

fn write_frozen(root: &Path, frozen: &BTreeMap<String, String>) -> Result<()> {
    let text = serde_json::to_string_pretty(frozen)? + "\n";
    std::fs::write(root.join(FROZEN_FILE), text).with_context(|| format!("writing {FROZEN_FILE}"))
}

fn client_manifest(root: &Path) -> Result<toml_edit::DocumentMut> {
    let text = std::fs::read_to_string(root.join(CLIENT_MANIFEST))
        .with_context(|| format!("reading {CLIENT_MANIFEST}"))?;
    text.parse()
        .with_context(|| format!("{CLIENT_MANIFEST} is not valid TOML"))
}

fn client_version(root: &Path) -> Result<Version> {
    let manifest = client_manifest(root)?;
    let text = manifest["package"]["version"]
        .as_str()
        .with_context(|| format!("{CLIENT_MANIFEST} has no package.version"))?;
    Version::parse(text).with_context(|| format!("{CLIENT_MANIFEST}: version `{text}`"))
}

fn set_client_version(root: &Path, version: &Version) -> Result<()> {
    let mut manifest = client_manifest(root)?;
    manifest["package"]["version"] = toml_edit::value(version.to_string());
    std::fs::write(root.join(CLIENT_MANIFEST), manifest.to_string())
        .with_context(|| format!("writing {CLIENT_MANIFEST}"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn documentation_does_not_change_the_digest_and_the_contract_does() {
        let base = json!({
            "info": {"title": "A", "version": "1.0.0", "description": "x"},
            "paths": {"/a": {"get": {"summary": "s", "responses": {"200": {"description": "ok"}}}}},
            "components": {"schemas": {"A": {"type": "object", "description": "d",
                "properties": {"title": {"type": "string", "example": "t"}}}}}
        });
        let mut documented = base.clone();
        documented["info"]["description"] = json!("other words");
        documented["paths"]["/a"]["get"]["summary"] = json!("another summary");
        documented["components"]["schemas"]["A"]["properties"]["title"]["example"] = json!("u");
        documented["components"]["schemas"]["A"]["x-note"] = json!(1);
        assert_eq!(contract_digest(&base), contract_digest(&documented));

        let mut renamed = base.clone();
        let properties = renamed["components"]["schemas"]["A"]["properties"]
            .as_object_mut()
            .unwrap();
        let title = properties.remove("title").unwrap();
        properties.insert("name".into(), title);
        assert_ne!(
            contract_digest(&base),
            contract_digest(&renamed),
            "a property called `title` is a name, not documentation"
        );

        let mut tightened = base.clone();
        tightened["components"]["schemas"]["A"]["properties"]["title"]["maxLength"] = json!(5);
        assert_ne!(contract_digest(&base), contract_digest(&tightened));

        for (extension, value) in [
            (EXTENSIBLE, json!(true)),
            (
                ONLY_WHEN_SENT,
                json!([{"in": "header", "name": "If-None-Match"}]),
            ),
        ] {
            let mut promised = base.clone();
            promised["components"]["schemas"]["A"][extension] = value;
            assert_ne!(
                contract_digest(&base),
                contract_digest(&promised),
                "{extension} is a promise to consumers, part of the contract"
            );
        }
    }

    /// A workspace with the real spec released under its own version, and that version's
    /// released document.
    fn released_workspace() -> (tempfile::TempDir, PathBuf) {
        let root = tempfile::tempdir().unwrap();
        let spec = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(SPEC_PATH);
        std::fs::create_dir_all(root.path().join("openapi")).unwrap();
        std::fs::create_dir_all(root.path().join("client")).unwrap();
        std::fs::copy(&spec, root.path().join(SPEC_PATH)).unwrap();
        std::fs::write(
            root.path().join(CLIENT_MANIFEST),
            "[package]\nname = \"leads-client\"\nversion = \"0.1.0\"\n",
        )
        .unwrap();
        assert!(run(root.path()).unwrap());
        let version = version_of(&leads_spec::load(&spec).unwrap(), SPEC_PATH).unwrap();
        let released = root
            .path()
            .join(RELEASED_DIR)
            .join(format!("{version}.yaml"));
        (root, released)
    }

    #[test]
    fn a_release_freezes_the_spec_and_sets_the_client_version() {
        let (root, released) = released_workspace();
        assert_eq!(
            std::fs::read(&released).unwrap(),
            std::fs::read(root.path().join(SPEC_PATH)).unwrap()
        );
        let spec = leads_spec::load(&released).unwrap();
        assert_eq!(
            client_version(root.path()).unwrap(),
            version_of(&spec, "the spec").unwrap()
        );
        assert_eq!(frozen_problems(root.path()).unwrap(), Vec::<String>::new());
        let again = run(root.path()).unwrap_err().to_string();
        assert!(again.contains("already released"), "{again}");
    }

    #[test]
    fn a_released_contract_may_not_change_but_its_documentation_may() {
        let (root, released) = released_workspace();
        let text = std::fs::read_to_string(&released).unwrap();
        let reworded = text.replacen(
            "A lead, a person who may become a customer of your organization.",
            "Someone who may buy from your organization.",
            1,
        );
        assert_ne!(reworded, text);
        std::fs::write(&released, &reworded).unwrap();
        assert_eq!(frozen_problems(root.path()).unwrap(), Vec::<String>::new());

        let tightened = text.replacen("maxLength: 200", "maxLength: 100", 1);
        assert_ne!(tightened, text);
        std::fs::write(&released, tightened).unwrap();
        let problems = frozen_problems(root.path()).unwrap();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains("its contract has changed"),
            "{problems:?}"
        );
    }

    #[test]
    fn the_workspace_releases_are_frozen_and_the_client_follows() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        assert_eq!(frozen_problems(&root).unwrap(), Vec::<String>::new());
    }
}
