//! The contract-test harness: a Leads server to test (in-process by default, or any deployment),
//! and the checks every answer goes through.
//!
//! - [`Env`] starts a `leads-server` in-process on `127.0.0.1:0` with its own temporary
//!   database and a key for each of two organizations. With `LEADS_BASE_URL`,
//!   `LEADS_API_KEY` and `LEADS_API_KEY_OTHER_ORG` set it points at that deployment instead.
//! - Every answer becomes an [`Exchange`], and on the way is [recorded](coverage): its
//!   (operationId, status) counts towards the spec coverage gate, its body is validated against
//!   the spec's schema for that operation and status, and error answers are checked for the
//!   envelope (`success: false`, a code matching the status, `requestId` = `x-request-id`).
//! - A released version's client (`released::v4_0_0`) has its answers checked against that
//!   release's own document instead ([`Release`]), and not counted towards the gate.
//! - [`operations::every_operation`] calls every operation that needs a key once, for the
//!   answers they all share.
//! - [`Exchange::snapshot`] is what the tests pin with insta: status, the headers that matter,
//!   and the body, with ids, timestamps, request ids, cursors and per-test tags redacted so
//!   that the snapshots hold on any server.

pub mod coverage;
mod env;
mod exchange;
pub mod operations;
mod release;

/// The clients generated from the released specs the support policy lists (`cargo xtask
/// generate` writes `released/mod.rs` and one file per version): what old consumers run, one
/// module per version (`released::v4_0_0`). The `compat` scenarios drive the server with each,
/// for every version [`released_versions!`] lists.
#[rustfmt::skip]
#[allow(unused_imports, clippy::all, clippy::pedantic, missing_docs, rustdoc::all)]
pub mod released;

pub use env::{Env, Org, in_process};
pub use exchange::{Exchange, redact_event};
pub use release::{API_VERSION_HEADER, Release, assert_served_in_version};
