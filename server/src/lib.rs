//! The Leads API server: a dropshot interface generated from `openapi/leads.yaml`,
//! implemented on SQLite (embedded, the default) or PostgreSQL (for several replicas).
//!
//! | module | owns |
//! |---|---|
//! | [`api`] | the generated trait and wire types, the extractors, the error envelope, the handlers |
//! | [`domain`] | what a lead is and the rules it obeys |
//! | [`store`] | storage behind a small trait; SQLite and PostgreSQL, each with migrations |
//! | [`webhooks`] | the delivery of lead events to subscribers: signing, target checks, the worker |
//! | [`secrets`] | the keys that seal webhook signing secrets at rest; sealing, the check at start, rotation |
//! | [`auth`] | API keys: generation, hashing, authentication |
//! | [`ratelimit`] | per-key and per-organization rate limits, in memory or in the database |
//! | [`reference`] | the embedded spec, served as `/openapi.json`, `/openapi.yaml` and `/docs` |
//! | [`error`] | the one error type of the server's own code |
//! | [`metrics`] | what operators scrape: the metric families of every layer, on a listener of their own |
//! | [`connections`] | the front door: connections counted, timed and relayed to dropshot |
//! | [`config`], [`context`], [`server`] | configuration, shared state, start-up |
//! | `testing` (feature `testing`) | `TestServer`: a real server in-process, for tests, on either backend; throwaway PostgreSQL databases |

pub mod api;
pub mod auth;
pub mod config;
pub mod connections;
pub mod context;
pub mod domain;
pub mod error;
pub mod log;
pub mod metrics;
pub mod ratelimit;
pub mod reference;
pub mod secrets;
pub mod server;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
pub mod webhooks;
