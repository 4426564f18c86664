//! `cargo xtask`: the project's chores, driven by `openapi/leads.yaml`.
//!
//! Each subcommand is a thin wrapper around one module:
//! - `generate` ([`generate`]) writes every file derived from the spec; `--check` only compares.
//! - `lint` ([`lint`]) checks the spec itself.
//! - `check` runs both in check mode; it is what CI and API designers run.
//! - `fuzz` ([`fuzz`]) runs Schemathesis against a real server.

mod diff;
mod fuzz;
mod generate;
mod lint;

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
    /// and the conformance test (the server's rendered document against the spec).
    Check,
    /// Report what changed between two versions of the spec, each change classified from the
    /// consumer's side (breaking, compatible, documentation), and the semver bump it needs.
    /// OLD and NEW are each a path, `git:REV` (openapi/leads.yaml at that revision) or a
    /// released version (`1.0.0`: openapi/released/1.0.0.yaml).
    Diff {
        /// The old version [default: the latest released version].
        old: Option<String>,
        /// The new version [default: openapi/leads.yaml].
        new: Option<String>,
        #[arg(long, value_enum, default_value = "text")]
        format: diff::Format,
    },
    /// Fuzz a real server with Schemathesis (installed from PyPI into
    /// target/schemathesis-venv): every check, valid and invalid inputs; fails on any finding.
    Fuzz {
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let root = workspace_root();
    let outcome = match cli.command {
        Command::Generate { check } => generate::run(&root, check),
        Command::Lint { spec } => lint::run(&spec.unwrap_or_else(|| root.join(SPEC_PATH))),
        Command::Check => check(&root),
        Command::Diff { old, new, format } => {
            diff::run(&root, old.as_deref(), new.as_deref(), format)
        }
        Command::Fuzz {
            max_examples,
            seed,
            timeout,
        } => fuzz::run(
            &root,
            &fuzz::Options {
                max_examples,
                seed,
                timeout: std::time::Duration::from_secs(timeout),
            },
        ),
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
    Ok(lint_ok && generate_ok && conformance_ok)
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
