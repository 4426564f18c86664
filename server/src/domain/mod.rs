//! The rules of a lead, independent of HTTP and of storage: what a lead is, what may change,
//! how it is listed, and the webhooks that tell subscribers about its changes.

mod json;
mod lead;
pub mod limits;
mod rules;
mod trace;
mod webhook;

pub use json::*;
pub use lead::*;
pub use rules::*;
pub use trace::*;
pub use webhook::*;
