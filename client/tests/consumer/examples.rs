//! Every program in `client/examples/` runs as its doc says (`LEADS_API_KEY=… cargo run -p
//! leads-client --example NAME`) against a fresh server, and prints what it promises.
//!
//! `cargo test` builds a package's examples before its tests, so the binaries are beside this
//! test's own, in `target/<profile>/examples/`.

use std::path::{Path, PathBuf};

use leads_server::testing::TestServer;

/// What each example must print, line by line (each line starts with this).
const EXPECTED_OUTPUT: &[(&str, &[&str])] = &[(
    "quickstart",
    &[
        "created ",
        "read it back: source.utm_source = Some(\"google\")",
        "the organization has 1 lead(s)",
    ],
)];

/// The examples' sources, by name.
fn example_names() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("client/examples is readable")
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            (path.extension()? == "rs").then(|| path.file_stem()?.to_str().map(String::from))?
        })
        .collect();
    names.sort();
    names
}

/// `target/<profile>/examples/NAME`, from this test binary's `target/<profile>/deps/…`.
fn example_binary(name: &str) -> PathBuf {
    let test_binary = std::env::current_exe().expect("the test binary's path");
    let profile_dir = test_binary
        .parent()
        .and_then(Path::parent)
        .expect("the test binary is in target/<profile>/deps");
    profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

#[tokio::test]
async fn every_example_runs_against_a_fresh_server() {
    let names = example_names();
    assert_eq!(
        names,
        EXPECTED_OUTPUT
            .iter()
            .map(|(name, _)| name.to_string())
            .collect::<Vec<_>>(),
        "every example in client/examples has its expected output listed here"
    );
    for (name, expected) in EXPECTED_OUTPUT {
        let server = TestServer::start().await.expect("a server");
        let binary = example_binary(name);
        assert!(
            binary.exists(),
            "{} is missing: `cargo test -p leads-client` builds the examples",
            binary.display()
        );
        let output = tokio::process::Command::new(&binary)
            .env("LEADS_BASE_URL", server.base_url())
            .env("LEADS_API_KEY", server.api_key())
            .output()
            .await
            .expect("the example starts");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "example {name} failed ({}):\n{stdout}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(
            lines.len(),
            expected.len(),
            "example {name} printed:\n{stdout}"
        );
        for (line, start) in lines.iter().zip(*expected) {
            assert!(
                line.starts_with(start),
                "example {name} printed {line:?}, expected {start:?}…"
            );
        }
    }
}
