//! `cargo xtask`: the project's chores, driven by `openapi/leads.yaml`.
//!
//! Each subcommand is a thin wrapper around one module:
//! - `generate` ([`generate`]) writes every file derived from the spec; `--check` only compares.
//! - `lint` ([`lint`]) checks the spec itself.
//! - `diff` ([`diff`]) reports what changed between two versions of the spec, classified from
//!   the consumer's side.
//! - `check` runs lint, generate in check mode, conformance, and the release checks and the
//!   semver gate ([`gate`]); it is what CI and API designers run.
//! - `release` ([`release`]) freezes the spec as a released version; `check` also checks
//!   that released versions stay frozen.
//! - `docs` ([`docs`]) writes the API reference page the server serves at `/docs`.
//! - `fuzz` ([`fuzz`]) runs Schemathesis against a real server, with the working spec or a
//!   released one.
//! - `bench` ([`bench`]) measures the release server's throughput and latency against its
//!   ceilings (`/health`, raw rusqlite) in one run.
//!
//! [`server`] builds, starts and stops the throwaway servers `fuzz` and `bench` use.

mod bench;
mod diff;
mod docs;
mod fuzz;
mod gate;
mod generate;
mod lint;
mod release;
mod server;
mod support;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use leads_spec::SPEC_PATH;

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "Chores of the Leads API workspace",
    version
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Regenerate every file derived from openapi/leads.yaml (the progenitor client).
    Generate {
        /// Change nothing; fail, naming each stale file, if a generated file differs from what
        /// the spec produces now.
        #[arg(long)]
        check: bool,
    },
    /// Check the spec: valid OpenAPI 3.0.x, complete operations, valid examples, error
    /// envelopes on every 4xx/5xx, no dangling $ref.
    Lint {
        /// The spec to lint [default: the workspace's openapi/leads.yaml].
        spec: Option<PathBuf>,
    },
    /// Everything CI checks about the spec and its generated code: `lint`, `generate --check`,
    /// the conformance test (the server's rendered document against the spec), released
    /// versions as frozen, and the semver gate (info.version moved as far as the changes since
    /// the latest release need).
    Check,
    /// Freeze openapi/leads.yaml as openapi/released/<info.version>.yaml and set leads-client's
    /// version to match. Runs `check` first: the version must be right for what changed.
    Release,
    /// Report what changed between two versions of the spec, each change classified from the
    /// consumer's side (breaking, compatible, documentation), and the semver bump it needs.
    /// OLD and NEW are each a path, `git:REV` (openapi/leads.yaml at that revision) or a
    /// released version (`1.0.0`: openapi/released/1.0.0.yaml). When OLD is the latest
    /// release, the waivers of openapi/released/waivers.yaml apply: a waived change is shown
    /// as waived, with its reason.
    Diff {
        /// The old version [default: the latest released version].
        old: Option<String>,
        /// The new version [default: openapi/leads.yaml].
        new: Option<String>,
        #[arg(long, value_enum, default_value = "text")]
        format: diff::Format,
    },
    /// Write the API reference page (what the server serves at /docs) to a file.
    Docs {
        /// Where to write it [default: target/docs/index.html].
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Fuzz a real server with Schemathesis (installed from PyPI into
    /// target/schemathesis-venv): every check, valid and invalid inputs; fails on any finding.
    Fuzz {
        /// The spec to fuzz with: a path, or `released` for every release the support policy
        /// (`openapi/released/supported.yaml`) says the server serves, one run each (their
        /// consumers' view of the API: every request sends `api-version: <that release>`, and
        /// every answer is checked against that release's schemas) [default:
        /// openapi/leads.yaml].
        #[arg(long)]
        spec: Option<String>,
        /// Which inputs: `positive` (valid requests, which the server must accept and answer
        /// as the spec says), `negative` (invalid ones, which it must reject), or `all`.
        #[arg(long, value_enum, default_value_t = fuzz::Mode::All)]
        mode: fuzz::Mode,
        /// Test cases per API operation (and test phase).
        #[arg(long, default_value_t = 100)]
        max_examples: u32,
        /// Seed of the generator: the same seed generates the same test cases.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Stop and fail the run after this many seconds.
        #[arg(long, default_value_t = 600)]
        timeout: u64,
    },
    /// Measure the release server (a separate process on a temporary database, rate limits
    /// out of reach) against its ceilings, in one run: /health, create, view, list pages
    /// (first, deep, filtered), raw rusqlite inserts, the server's peak RSS; prints req/s,
    /// p50, p99 and their ratios. Fails if any request fails.
    Bench(bench::Options),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let root = workspace_root();
    let outcome = match cli.command {
        Command::Generate { check } => generate::run(&root, check),
        Command::Lint { spec } => lint::run(&spec.unwrap_or_else(|| root.join(SPEC_PATH))),
        Command::Check => check(&root),
        Command::Release => release(&root),
        Command::Diff { old, new, format } => {
            diff::run(&root, old.as_deref(), new.as_deref(), format)
        }
        Command::Docs { out } => docs::run(&root, out),
        Command::Bench(options) => bench::run(&root, &options),
        Command::Fuzz {
            spec,
            mode,
            max_examples,
            seed,
            timeout,
        } => fuzz_specs(&root, spec.as_deref()).and_then(|specs| {
            let mut passed = true;
            for (spec, api_version) in specs {
                let options = fuzz::Options {
                    spec,
                    api_version,
                    mode,
                    max_examples,
                    seed,
                    timeout: std::time::Duration::from_secs(timeout),
                };
                passed &= fuzz::run(&root, &options)?;
            }
            Ok(passed)
        }),
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs every check, even after one fails, so that one run shows all that is wrong.
fn check(root: &Path) -> Result<bool> {
    let lint_ok = lint::run(&root.join(SPEC_PATH))?;
    let generate_ok = generate::run(root, true)?;
    let conformance_ok = conformance(root)?;
    let releases_ok = releases(root)?;
    let gate_ok = gate::check(root)?;
    let support_ok = support::check(root)?;
    Ok(lint_ok && generate_ok && conformance_ok && releases_ok && gate_ok && support_ok)
}

/// Released documents are as frozen, and the client's version follows the latest.
fn releases(root: &Path) -> Result<bool> {
    let problems = release::frozen_problems(root)?;
    if problems.is_empty() {
        println!("releases: every released document is as frozen");
        return Ok(true);
    }
    for problem in &problems {
        eprintln!("{problem}");
    }
    Ok(false)
}

/// `cargo xtask release`, after `check` passes.
fn release(root: &Path) -> Result<bool> {
    if !check(root)? {
        eprintln!("release: `cargo xtask check` fails; fix that first");
        return Ok(false);
    }
    release::run(root)
}

/// The specs `fuzz --spec` names, relative to the workspace root, each with the version its
/// requests name in `api-version`: the working spec or a path (no header: the server answers
/// in its newest version), or (`released`) every release the support policy
/// (`openapi/released/supported.yaml`) says the server serves, each asking for its own version:
/// what their consumers were promised still holds. Empty, said why, when the policy lists none.
fn fuzz_specs(root: &Path, spec: Option<&str>) -> Result<Vec<(PathBuf, Option<String>)>> {
    match spec {
        None => Ok(vec![(PathBuf::from(SPEC_PATH), None)]),
        Some("released") => {
            let supported = support::supported(root)?;
            if supported.is_empty() {
                println!(
                    "fuzz: nothing to do: {} lists no release the server serves",
                    support::POLICY_PATH
                );
            }
            Ok(supported
                .into_iter()
                .map(|s| {
                    let version = s.release.version.to_string();
                    let path = PathBuf::from(release::RELEASED_DIR).join(format!("{version}.yaml"));
                    (path, Some(version))
                })
                .collect())
        }
        Some(path) => Ok(vec![(PathBuf::from(path), None)]),
    }
}

/// The server crate's conformance test: its rendered OpenAPI document describes the spec.
fn conformance(root: &Path) -> Result<bool> {
    println!("conformance: cargo test -p leads-server --lib api::conformance");
    let status = std::process::Command::new(std::env::var("CARGO").unwrap_or("cargo".into()))
        .current_dir(root)
        .args([
            "test",
            "--quiet",
            "-p",
            "leads-server",
            "--lib",
            "api::conformance",
        ])
        .status()
        .context("running cargo test")?;
    Ok(status.success())
}

/// The workspace root: xtask lives one level below it.
fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map_or_else(|| manifest_dir.to_path_buf(), Path::to_path_buf)
}
