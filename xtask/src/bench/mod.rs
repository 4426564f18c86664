//! `cargo xtask bench`: the server's throughput and latency, against its own ceilings, in
//! one run on one machine.
//!
//! A run builds the release server, then, on databases in a temporary directory:
//! 1. measures raw rusqlite inserting lead rows, one and 100 per commit ([`raw`]);
//! 2. with `--leads N`, seeds N leads into an organization of their own ([`seed`]);
//! 3. starts the server as a separate process (a free loopback port, rate limits out of
//!    reach, its default log level, the log to a file) and runs the HTTP phases
//!    ([`scenario`]) with the load generator ([`load`]);
//! 4. starts another server, on a database of its own that may send webhooks to loopback, and
//!    measures creates with 0, 1 and 25 subscriptions and how their deliveries drain to a
//!    receiver in this process ([`webhooks`]);
//! 5. measures create and view with metrics served and scraped against without ([`metrics`]);
//! 6. with `--postgres URL`, starts the server again on that PostgreSQL database and runs the
//!    backend phases there ([`scenario::postgres`]), so that both backends are measured in
//!    the same run;
//! 7. reads the SQLite server's peak RSS, computes the ratios ([`stats`], [`report`]) and
//!    prints them; `--json PATH` writes them too. A phase with a failed request fails the run.
//!
//! The load generator and the raw inserts must not be slowed by a debug build: run from
//! `cargo xtask` (a debug build), the command builds xtask in release too and runs that.

mod db;
mod largest;
mod load;
mod metrics;
mod outbox;
mod raw;
mod report;
mod requests;
mod scenario;
mod seed;
mod stats;
mod webhooks;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result};

use self::report::Report;
use self::requests::{Api, PAGE};
use self::scenario::Load;
use crate::server::{self, Profile, Server};

/// The fewest leads `--leads` takes: enough for a first, a middle and a last page apart.
const MIN_LEADS: u64 = 4 * PAGE;

/// What `cargo xtask bench` takes from its command line.
#[derive(clap::Parser, Clone, Debug, PartialEq)]
pub struct Options {
    /// Concurrent connections, each driven by a task of its own, one request at a time.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u16).range(1..))]
    pub connections: u16,
    /// Seconds each phase lasts (each raw rusqlite phase too).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub duration: u64,
    /// Seed this many leads into one organization first, and measure list pages at its
    /// start, middle and end, and filtered lists (at least 200).
    #[arg(long, value_parser = clap::value_parser!(u64).range(MIN_LEADS..))]
    pub leads: Option<u64>,
    /// Also measure the server on this PostgreSQL database (`postgres://…`), which the run
    /// fills with leads: give it an empty, throwaway one.
    #[arg(long, value_name = "URL")]
    pub postgres: Option<String>,
    /// Also write every figure as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// The release `leads-server` to measure; set when the debug xtask hands the run over
    /// to the release one.
    #[arg(long, hide = true)]
    pub server_binary: Option<PathBuf>,
}

/// Runs the benchmark; `Ok(false)` when a request failed.
pub fn run(root: &Path, options: &Options) -> Result<bool> {
    let server_binary = match &options.server_binary {
        Some(binary) => binary.clone(),
        None if cfg!(debug_assertions) => return run_optimized(root),
        None => server::build(root, Profile::Release, "leads-server")?,
    };
    let report = measure(&server_binary, options)?;
    print!("{}", report::table(&report));
    if let Some(path) = &options.json {
        report::write_json(&report, path)?;
        println!("\nbench: wrote {}", path.display());
    }
    let failed: Vec<_> = report
        .phases
        .iter()
        .filter(|phase| phase.summary.failed() > 0)
        .collect();
    for phase in &failed {
        eprintln!(
            "bench: {} had failed requests: {:?}",
            phase.name, phase.summary.failures
        );
    }
    Ok(failed.is_empty())
}

/// Builds xtask and the server in release and runs this same command with them.
fn run_optimized(root: &Path) -> Result<bool> {
    println!("bench: building the release server, and xtask in release for the load generator");
    // Two builds, not one: built together, cargo would unify their dependencies' features
    // and measure a server that `cargo build --release -p leads-server` does not build.
    let leads_server = server::build(root, Profile::Release, "leads-server")?;
    let xtask = server::build(root, Profile::Release, "xtask")?;
    let status = Command::new(xtask)
        .args(std::env::args_os().skip(1))
        .arg("--server-binary")
        .arg(&leads_server)
        .status()
        .context("running the release xtask")?;
    Ok(status.success())
}

/// Every phase of one run.
fn measure(server_binary: &Path, options: &Options) -> Result<Report> {
    let load_before = load_average();
    let duration = Duration::from_secs(options.duration);
    // Declared before the server, so the server (dropped first) is gone before the directory.
    let work = tempfile::tempdir().context("creating a temporary directory")?;

    let raw_database = work.path().join("raw.db");
    server::create_key(server_binary, &raw_database, "raw")?;
    let raw_organization = db::organization_id(&db::open(&raw_database)?, "raw")?;
    let mut raw = Vec::new();
    for rows_per_commit in [1, 100] {
        println!(
            "bench: raw rusqlite, {rows_per_commit} row(s) per commit ({} s)",
            options.duration
        );
        raw.push(raw::measure(
            &raw_database,
            &raw_organization,
            rows_per_commit,
            duration,
        )?);
    }

    let database = work.path().join("leads.db");
    let key = server::create_key(server_binary, &database, "bench")?;
    let organization = db::organization_id(&db::open(&database)?, "bench")?;
    let mut scale = None;
    let mut seed_seconds = None;
    if let Some(leads) = options.leads {
        let scale_key = server::create_key(server_binary, &database, "scale")?;
        let scale_organization = db::organization_id(&db::open(&database)?, "scale")?;
        println!("bench: seeding {leads} leads");
        seed_seconds = Some(seed::seed(&database, &scale_organization, leads)?.as_secs_f64());
        scale = Some((scale_key, scale_organization, leads));
    }

    let log = std::fs::File::create(work.path().join("server.log"))?;
    let server = Server::start(server_binary, &database, "info", Stdio::from(log), &[])?;
    println!(
        "bench: leads-server (release) is up at http://{}",
        server.address()
    );
    let load = Load {
        connections: usize::from(options.connections),
        duration,
    };
    let runtime = tokio::runtime::Runtime::new().context("starting tokio")?;
    let mut phases = runtime.block_on(async {
        let api = Api::new(server.address(), &key)?;
        let mut phases = scenario::standard(&api, load, &database, &organization).await?;
        if let Some((scale_key, scale_organization, leads)) = &scale {
            let api = Api::new(server.address(), scale_key)?;
            phases
                .extend(scenario::scale(&api, load, &database, scale_organization, *leads).await?);
        }
        anyhow::Ok(phases)
    })?;
    let peak_rss_kib = std::fs::read_to_string(format!("/proc/{}/status", server.pid()))
        .ok()
        .and_then(|status| vm_hwm_kib(&status));
    drop(server);

    let hooks_database = work.path().join("webhooks.db");
    let hooks_keys = webhooks::SUBSCRIPTIONS
        .iter()
        .map(|count| format!("hooks{count}"))
        .chain(["hookslargest".to_owned()])
        .map(|name| server::create_key(server_binary, &hooks_database, &name))
        .collect::<Result<Vec<_>>>()?;
    let log = std::fs::File::create(work.path().join("server-webhooks.log"))?;
    let hooks_server = Server::start(
        server_binary,
        &hooks_database,
        "info",
        Stdio::from(log),
        &["--webhooks-allow-insecure-targets"],
    )?;
    let (webhooks, largest_lead) = runtime.block_on(webhooks::measure(
        hooks_server.address(),
        &hooks_database,
        &hooks_keys,
        load,
    ))?;
    drop(hooks_server);

    phases.extend(metrics::measure(
        server_binary,
        &database,
        work.path(),
        load,
        &runtime,
    )?);

    if let Some(url) = &options.postgres {
        let key = server::create_key(server_binary, url, "bench")?;
        let log = std::fs::File::create(work.path().join("server-postgres.log"))?;
        let server = Server::start(server_binary, url, "info", Stdio::from(log), &[])?;
        println!(
            "bench: leads-server (release) on PostgreSQL is up at http://{}",
            server.address()
        );
        phases.extend(runtime.block_on(async {
            scenario::postgres(&Api::new(server.address(), &key)?, load).await
        })?);
    }

    let raw_one_per_commit = raw.first().map(|raw| raw.rows_per_second);
    Ok(Report {
        connections: load.connections,
        duration_seconds: options.duration,
        leads: options.leads,
        seed_seconds,
        load_before,
        load_after: load_average(),
        ratios: report::ratios(&phases, raw_one_per_commit, peak_rss_kib),
        phases,
        raw,
        webhooks,
        largest_lead: Some(largest_lead),
        peak_rss_kib,
    })
}

/// `VmHWM` (peak resident set) from the text of `/proc/<pid>/status`, in KiB.
fn vm_hwm_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// The machine's 1, 5 and 15 minute load averages, where `/proc/loadavg` says.
fn load_average() -> Option<[f64; 3]> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    parse_load_average(&text)
}

fn parse_load_average(text: &str) -> Option<[f64; 3]> {
    let mut fields = text.split_whitespace().map(|field| field.parse().ok());
    Some([fields.next()??, fields.next()??, fields.next()??])
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn defaults() {
        let options = Options::try_parse_from(["bench"]).unwrap();
        assert_eq!(
            options,
            Options {
                connections: 64,
                duration: 10,
                leads: None,
                postgres: None,
                json: None,
                server_binary: None,
            }
        );
    }

    #[test]
    fn every_option() {
        let options = Options::try_parse_from([
            "bench",
            "--connections",
            "8",
            "--duration",
            "3",
            "--leads",
            "1000000",
            "--json",
            "out.json",
            "--postgres",
            "postgres://localhost/bench",
        ])
        .unwrap();
        assert_eq!(
            options.postgres.as_deref(),
            Some("postgres://localhost/bench")
        );
        assert_eq!(options.connections, 8);
        assert_eq!(options.duration, 3);
        assert_eq!(options.leads, Some(1_000_000));
        assert_eq!(options.json, Some(PathBuf::from("out.json")));
    }

    #[test]
    fn nonsense_is_refused() {
        for args in [
            &["bench", "--connections", "0"][..],
            &["bench", "--connections", "70000"],
            &["bench", "--duration", "0"],
            &["bench", "--leads", "10"],
            &["bench", "--leads", "-5"],
        ] {
            assert!(Options::try_parse_from(args).is_err(), "{args:?}");
        }
    }

    #[test]
    fn peak_rss_from_proc_status() {
        let status =
            "Name:\tleads-server\nVmPeak:\t  900000 kB\nVmHWM:\t   49152 kB\nVmRSS:\t 40000 kB\n";
        assert_eq!(vm_hwm_kib(status), Some(49_152));
        assert_eq!(vm_hwm_kib("Name:\tx\n"), None);
    }

    #[test]
    fn load_average_from_proc() {
        assert_eq!(
            parse_load_average("3.82 2.80 2.50 3/412 12345\n"),
            Some([3.82, 2.80, 2.50])
        );
        assert_eq!(parse_load_average("x"), None);
    }
}
