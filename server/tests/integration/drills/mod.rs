//! Drills: a real `leads-server` process attacked, loaded and killed, each for seconds and
//! bounded in time. Each is `#[ignore]`d with the command that runs them, so that
//! `cargo test --workspace` lists them as not run; `.ci/run` runs them all.
//!
//! - [`abuse`]: the server attacked as a hostile tenant would;
//! - [`flood`]: thousands of connections that send no request, on a low descriptor limit;
//! - [`crash`]: creates retried with idempotency keys across a `kill -9` and a restart;
//! - [`webhook_crash`]: webhook events of committed changes delivered across a `kill -9`.

mod abuse;
mod crash;
mod flood;
mod webhook_crash;
