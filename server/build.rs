//! Turns the tests that need PostgreSQL on or off at build time, so that without a server
//! they are reported as ignored (with the reason) rather than passed.
//!
//! - `cfg(leads_postgres)`: `LEADS_TEST_POSTGRES_URL` is set and not empty. Every test that
//!   creates a database in that server carries
//!   `#[cfg_attr(not(leads_postgres), ignore = "needs PostgreSQL: …")]`.
//! - `cfg(leads_postgres_tls)`: `LEADS_TEST_POSTGRES_CA` is set and not empty too: the server
//!   is `.ci/postgres`'s, which also accepts TLS with a certificate that CA signed.
//!
//! Cargo runs this again, and rebuilds the crate's targets, whenever either variable changes.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(leads_postgres)");
    println!("cargo::rustc-check-cfg=cfg(leads_postgres_tls)");
    let postgres = set("LEADS_TEST_POSTGRES_URL");
    let ca = set("LEADS_TEST_POSTGRES_CA");
    if postgres {
        println!("cargo::rustc-cfg=leads_postgres");
        if ca {
            println!("cargo::rustc-cfg=leads_postgres_tls");
        }
    }
}

/// Whether `variable` is set and not empty; Cargo watches it from now on.
fn set(variable: &str) -> bool {
    println!("cargo::rerun-if-env-changed={variable}");
    std::env::var_os(variable).is_some_and(|value| !value.is_empty())
}
