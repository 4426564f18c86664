//! The contract suite: every scenario drives the generated client (raw HTTP only where the
//! client cannot send the request, said at each such call) against a real server, pins the
//! answers with insta, and, once all have run, the spec coverage gate fails if any documented
//! (operationId, status) pair was not exercised.
//!
//! Run against a deployment with `LEADS_BASE_URL`, `LEADS_API_KEY` and
//! `LEADS_API_KEY_OTHER_ORG`; scenarios that need control of the server (rate limits,
//! failures) are then ignored, and so is the coverage gate.
//!
//! In-process, the server runs on SQLite, or with `LEADS_TEST_BACKEND=postgres` on a database
//! of its own in the PostgreSQL server `LEADS_TEST_POSTGRES_URL` names. Asked for PostgreSQL
//! without that URL, the run fails at once, before any scenario: it never passes on SQLite
//! instead, nor reports scenarios ignored that were asked for.

mod access;
mod api_versions;
mod compat;
mod create;
mod erasure;
mod faults;
mod idempotency;
mod list;
mod reference;
mod sync;
mod update;
mod versions;
mod webhooks;

use std::future::Future;

use libtest_mimic::{Arguments, Trial};

/// Pins an exchange's redacted snapshot under `name`.
#[macro_export]
macro_rules! pin {
    ($name:expr, $exchange:expr) => {
        insta::assert_json_snapshot!($name, $exchange.snapshot())
    };
}

/// A scenario: an async test with its own runtime (and so its own in-process server).
pub fn scenario<Fut>(name: &str, test: fn() -> Fut) -> Trial
where
    Fut: Future<Output = ()> + 'static,
{
    Trial::test(name, move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|error| format!("no runtime: {error}"))?;
        runtime.block_on(test());
        Ok(())
    })
}

/// A scenario that needs control of the server: ignored against a deployment.
pub fn in_process_scenario<Fut>(name: &str, test: fn() -> Fut) -> Trial
where
    Fut: Future<Output = ()> + 'static,
{
    scenario(name, test).with_ignored_flag(!leads_contract_tests::in_process())
}

fn main() {
    let mut arguments = Arguments::from_args();
    // As libtest's harness does: `--test-threads`, else `RUST_TEST_THREADS` (which
    // `.cargo/config.toml` sets), else a thread per core.
    if arguments.test_threads.is_none() {
        arguments.test_threads = std::env::var("RUST_TEST_THREADS")
            .ok()
            .and_then(|threads| threads.parse().ok());
    }
    if leads_contract_tests::in_process()
        && let Err(error) = leads_server::testing::Backend::from_env()
    {
        eprintln!("error: {error:#}");
        std::process::exit(101);
    }
    let trials: Vec<Trial> = [
        access::trials(),
        api_versions::trials(),
        compat::trials(),
        create::trials(),
        erasure::trials(),
        faults::trials(),
        idempotency::trials(),
        list::trials(),
        reference::trials(),
        sync::trials(),
        update::trials(),
        versions::trials(),
        webhooks::trials(),
    ]
    .into_iter()
    .flatten()
    .collect();
    let every_trial_ran = arguments.filter.is_none()
        && arguments.skip.is_empty()
        && !arguments.list
        && !arguments.ignored;
    let conclusion = libtest_mimic::run(&arguments, trials);
    if every_trial_ran && leads_contract_tests::in_process() {
        let missing = leads_contract_tests::coverage::missing();
        if missing.is_empty() {
            println!("spec coverage: every documented (operationId, status) pair was exercised");
        } else {
            eprintln!("spec coverage gate FAILED: no test exercised these documented pairs:");
            for (operation, status) in &missing {
                eprintln!("  {operation} {status}");
            }
            std::process::exit(101);
        }
    }
    conclusion.exit();
}
