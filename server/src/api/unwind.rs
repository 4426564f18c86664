//! A panic in a handler becomes a `500` in the envelope, and the server keeps serving.
//!
//! dropshot runs each handler in its own task, so a panic never takes the server down; but
//! its answer would not be the error envelope. Every handler's work (admission included, which
//! the body extractor runs) goes through [`caught`], which turns a panic into
//! [`Error::Internal`], logged with its message like any internal error and never sent.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;

use crate::error::Error;

/// `work`'s result, or an internal error if it panicked.
pub async fn caught<T>(work: impl Future<Output = Result<T, Error>>) -> Result<T, Error> {
    // Unwind safety: a panicking request shares nothing it could leave half-changed but the
    // store (transactions roll back) and mutexes (whose users recover from poisoning).
    AssertUnwindSafe(work)
        .catch_unwind()
        .await
        .unwrap_or_else(|panic| {
            Err(Error::Internal(format!(
                "a handler panicked: {}",
                message(&panic)
            )))
        })
}

fn message(panic: &Box<dyn Any + Send>) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}
