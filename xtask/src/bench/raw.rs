//! Raw rusqlite, the baseline for creates: lead rows inserted on one connection in the
//! server's configuration, one commit per row and 100 per commit, for a fixed time.
//!
//! Each commit is a `BEGIN IMMEDIATE … COMMIT` around a cached prepared `INSERT`, the least
//! a server committing each create on its own could do.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;
use rusqlite::TransactionBehavior;
use serde::Serialize;

use super::db::{self, NewLead};
use super::stats::per_second;

/// What one raw phase measured.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RawSummary {
    pub rows_per_commit: usize,
    pub rows: u64,
    pub seconds: f64,
    pub rows_per_second: f64,
}

/// Inserts lead rows into `organization` of the database at `path`, `rows_per_commit` per
/// transaction, until `duration` has passed.
pub fn measure(
    path: &Path,
    organization: &str,
    rows_per_commit: usize,
    duration: Duration,
) -> Result<RawSummary> {
    let mut connection = db::open(path)?;
    let started = Instant::now();
    let mut rows: u64 = 0;
    while started.elapsed() < duration {
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut statement = transaction.prepare_cached(db::INSERT)?;
            for _ in 0..rows_per_commit {
                let lead = NewLead {
                    // As the server makes them (`Lead::new`).
                    id: uuid::Uuid::now_v7().to_string(),
                    email: format!("raw-{rows_per_commit}-{rows}@example.com"),
                    full_name: format!("Raw Lead {rows}"),
                    company: "Example Industries",
                    status: "new",
                    utm_source: Some("google"),
                    created_at: chrono::Utc::now().timestamp_micros(),
                };
                db::insert(&mut statement, organization, &lead)?;
                rows += 1;
            }
        }
        transaction.commit()?;
    }
    let elapsed = started.elapsed();
    Ok(RawSummary {
        rows_per_commit,
        rows,
        seconds: elapsed.as_secs_f64(),
        rows_per_second: per_second(rows, elapsed),
    })
}
