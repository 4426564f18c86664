//! `leads-server`'s command line, run as a binary: `keys create` refuses an unknown
//! organization without `--create-org`, `keys list` shows prefixes and never keys, `keys
//! revoke` takes a prefix; `serve` refuses a port list it cannot use before it opens anything.

use std::path::Path;
use std::process::{Command, Output};

fn keys(database: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_leads-server"))
        .arg("keys")
        .args(args)
        .arg("--database")
        .arg(database)
        .output()
        .expect("leads-server runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn create_list_revoke() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let database = dir.path().join("leads.db");

    let refused = keys(&database, &["create", "--org", "acme"]);
    assert!(
        !refused.status.success(),
        "a typo must not create an organization"
    );
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--create-org"));

    let created = keys(&database, &["create", "--org", "acme", "--create-org"]);
    assert!(created.status.success());
    let key = stdout(&created).trim().to_string();
    let again = keys(&database, &["create", "--org", "acme"]);
    assert!(
        again.status.success(),
        "an existing organization needs no flag"
    );

    let listed = keys(&database, &["list", "--org", "acme"]);
    let listing = stdout(&listed);
    assert!(listed.status.success());
    let prefix = &key[..21];
    assert!(listing.contains(prefix), "{listing}");
    assert!(
        !listing.contains(&key),
        "the key itself is never shown: {listing}"
    );
    assert_eq!(listing.matches("active").count(), 2, "{listing}");

    let revoked = keys(&database, &["revoke", prefix]);
    assert!(revoked.status.success(), "{revoked:?}");
    let listing = stdout(&keys(&database, &["list", "--org", "acme"]));
    assert_eq!(listing.matches("revoked").count(), 1, "{listing}");
    let twice = keys(&database, &["revoke", prefix]);
    assert!(
        !twice.status.success(),
        "a revoked key is not active any more"
    );
}

/// `--webhooks-allowed-ports` takes a comma-separated list of ports (443 and 8443 unless told
/// otherwise), and a value that is not one is refused at once, with the flag named.
#[test]
fn webhook_ports_are_a_list_of_ports() {
    let help = Command::new(env!("CARGO_BIN_EXE_leads-server"))
        .args(["serve", "--help"])
        .output()
        .expect("leads-server runs");
    assert!(
        stdout(&help).contains("[default: 443 8443]"),
        "{}",
        stdout(&help)
    );
    let dir = tempfile::tempdir().expect("a temporary directory");
    let database = dir.path().join("leads.db");
    for refused in ["0", "65536", "https", ""] {
        let output = Command::new(env!("CARGO_BIN_EXE_leads-server"))
            .args([
                "serve",
                "--bind",
                "127.0.0.1:0",
                "--webhooks-allowed-ports",
                refused,
            ])
            .arg("--database")
            .arg(&database)
            .output()
            .expect("leads-server runs");
        assert_eq!(output.status.code(), Some(2), "{refused:?}: {output:?}");
        assert!(
            String::from_utf8_lossy(&output.stderr).contains("--webhooks-allowed-ports"),
            "{refused:?}: {output:?}"
        );
        assert!(!database.exists(), "{refused:?}: nothing is opened");
    }
}
