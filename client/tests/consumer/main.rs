//! The client as its consumers use it, against a real server in-process
//! (`leads_server::testing::TestServer`): one test binary, so that it links once.
//!
//! - [`integration`]: a consumer's own integration test, as the README shows it;
//! - [`examples`]: every program in `client/examples/` runs, as its doc says, against a fresh
//!   server;
//! - [`retries`]: the client's retry policy, against a scripted server (`wiremock`);
//! - [`retries_end_to_end`]: the retries against the real server, with a lost answer and
//!   `429`s;
//! - [`webhooks`]: a webhook receiver verifying the real server's deliveries;
//! - [`extensible`]: answers with enum values this client does not know, read, not refused;
//! - [`readme`]: every Rust block of the README is code that one of the above runs.

mod examples;
mod extensible;
mod integration;
mod readme;
mod retries;
mod retries_end_to_end;
mod webhooks;
