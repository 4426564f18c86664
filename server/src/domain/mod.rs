//! The rules of a lead, independent of HTTP and of storage: what a lead is, what may change,
//! how it is listed.

mod json;
mod lead;
pub mod limits;
mod rules;

pub use json::*;
pub use lead::*;
pub use rules::*;
