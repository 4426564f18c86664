//! `leads-server keys …`: create refuses an unknown organization without `--create-org`,
//! list shows prefixes and never keys, revoke takes a prefix.

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
