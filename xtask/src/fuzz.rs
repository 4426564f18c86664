//! `cargo xtask fuzz`: Schemathesis against a real `leads-server`.
//!
//! This module owns three things:
//! - the Schemathesis install: one pinned version from PyPI in a virtual environment under
//!   `target/`, so that a machine needs only Rust and `python3`;
//! - a throwaway server: built, given a fresh database with two organizations and a key for
//!   each, started on a free loopback port, and killed when the run ends, however it ends;
//! - the Schemathesis run: every check, valid and invalid inputs, the bounds that keep it
//!   finite and repeatable, and the little configuration the checks need to judge this API
//!   (see [`CONFIG`] and [`HOOKS`]). A released spec's run (`--spec released`) sends
//!   `api-version: <that release>` on every request, as that release's clients do, and
//!   Schemathesis checks every answer against that release's document, the one it runs.
//!
//! The API keys never reach a command line or the output: Schemathesis reads them from a file
//! in the run's private temporary directory, and masks `Authorization` in everything it prints
//! (`--output-sanitize`, on by default).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::server::{self, KillOnDrop, Profile, Server};

/// The Schemathesis release the fuzz run uses, installed from PyPI. Changing it changes which
/// test cases are generated, so bump it on purpose and rerun `cargo xtask fuzz`.
pub const SCHEMATHESIS_VERSION: &str = "4.32.5";

/// Where the virtual environment lives, relative to the workspace root: under `target/`, so
/// `cargo clean` removes it and git ignores it.
const VENV_DIR: &str = "target/schemathesis-venv";

/// The two organizations of the run. Schemathesis makes requests as the first; the second is
/// the peer of `object_level_authorization`, which replays the first's reads with the
/// second's key and fails if it sees the first's leads (the contract answers 404).
const ORGANIZATIONS: [&str; 2] = ["fuzz", "fuzz-other"];

/// What the fuzzed server is told besides its address and database. Webhook targets are
/// insecure-allowed: a valid `target_url` is any absolute `http(s)` URL as far as the schema
/// can tell, and the `https`-only and public-address rules are the server's (the hooks generate
/// such URLs, to hosts that need no name lookup). The subscription limit is out of reach, as
/// the rate limits are: Schemathesis makes hundreds of valid creates.
const SERVE_ARGS: [&str; 3] = [
    "--webhooks-allow-insecure-targets",
    "--webhooks-max-subscriptions",
    "1000000",
];

/// Schemathesis's configuration; `{auth_file}` and `{peers}` are filled in by [`run`].
///
/// - `negative_data_rejection` takes `413` as a rejection too: Schemathesis's default list of
///   rejecting statuses lacks it, but an invalid body over 1 MiB (a `notes` array past
///   `maxItems`, say) is rejected with `413 PAYLOAD_TOO_LARGE`, as the spec documents for
///   every operation with a body.
/// - `[auth.wfc]`: the keys, one per organization, in a Web Fuzzing Commons auth file. With
///   `peers`, `object_level_authorization` runs; without, `--checks all` skips it silently.
/// - `[cache]` off: Schemathesis would keep its findings in `.schemathesis/` in the working
///   tree and replay them first next time, so that a run would depend on the ones before it.
/// - `positive_data_acceptance` takes `412` and `422` as answers to valid requests too: both
///   depend on state, not on the data. A valid `If-Match` naming a version the lead is not at
///   is answered `412 PRECONDITION_FAILED`, and Schemathesis sends the spec's example
///   `Idempotency-Key` with many bodies, which the second one on is
///   `422 IDEMPOTENCY_KEY_REUSED`.
/// - No check is excluded: each applies to this API (the router's own 404/405 bodies, the
///   error answers without rate-limit headers and the 413 all conform to the spec).
const CONFIG: &str = r#"
[cache]
enabled = false

[checks.positive_data_acceptance]
expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "412", "422", "429", "5xx"]

[checks.negative_data_rejection]
expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "5xx"]

[auth.wfc]
path = {auth_file}
peers = {peers}
"#;

/// Schemathesis hooks: generators for string formats that JSON Schema cannot express, so that
/// a schema declaring one gets valid values where the checks expect valid values, and the
/// same for a recovery's `since`, whose bound is relative to the server's clock, and for the
/// lead list's cursor, whose kind follows the list's `order`. Without a
/// generator, any string of the right length passes for valid, and the server (rightly)
/// refusing it fails `positive_data_acceptance`.
const HOOKS: &str = r#"
import base64
import datetime
import json

import schemathesis
from hypothesis import strategies as st

# `iana-time-zone`: a zone of the IANA time zone database, which the server checks.
schemathesis.openapi.format(
    "iana-time-zone",
    st.sampled_from(
        [
            "UTC",
            "America/New_York",
            "America/Sao_Paulo",
            "Europe/Paris",
            "Africa/Nairobi",
            "Asia/Kolkata",
            "Asia/Tokyo",
            "Australia/Sydney",
            "Pacific/Auckland",
            "Etc/GMT+5",
        ]
    ),
)


def _cursor(position):
    created_at, lead_id = position
    text = json.dumps({"c": created_at.isoformat() + "Z", "i": str(lead_id)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


# `uri` (a webhook's `target_url`): the server sends to absolute http(s) URLs only, and the
# fuzzed server allows loopback targets, so valid ones are such URLs; the ports are closed, so
# a delivery to one fails at once and is retried on the schedule, harmlessly.
schemathesis.openapi.format(
    "uri",
    st.builds(
        lambda scheme, port, path: f"{scheme}://127.0.0.1:{port}/{path}",
        st.sampled_from(["http", "https"]),
        st.sampled_from([9, 1]),
        st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", max_size=24),
    ),
)


# `cursor`: the list's cursor, opaque to clients; valid ones are what the server issues,
# base64url of `{"c": created_at, "i": id}` (server/src/api/cursor.rs).
schemathesis.openapi.format(
    "cursor",
    st.tuples(
        st.datetimes(min_value=datetime.datetime(1970, 1, 1), max_value=datetime.datetime(2100, 1, 1)),
        st.uuids(),
    ).map(_cursor),
)


# A recovery's `since` must lie within the 30 days deliveries are kept, and not ahead: a
# bound relative to the server's clock, which a schema cannot state. In a valid case (the
# spec's example, and the positive ones generated) a `since` that is a date-time is moved into
# it, an hour ago; negative cases are left as they are, to be refused.
RECOVER = "POST /v1/webhooks/{id}/recover"


def _recent_since(case):
    body = case.body
    if not (isinstance(body, dict) and isinstance(body.get("since"), str)):
        return
    try:
        datetime.datetime.fromisoformat(body["since"])
    except ValueError:
        return
    recent = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)
    case.body = {**body, "since": recent.isoformat()}


# The lead list's `changed` order takes a cursor of its own kind, base64url of
# `{"n": change}`; a cursor of the `created` order is refused in it, as the spec says, a
# relation between two parameters that a schema cannot state. In a valid case with
# `order=changed`, a cursor becomes the `changed` order's, at a change the generated one picks.
LEAD_LIST = "GET /v1/leads"


def _cursor_of_its_order(case):
    query = case.query
    if not (isinstance(query, dict) and query.get("order") == "changed" and "cursor" in query):
        return
    change = sum(str(query["cursor"]).encode()) % 1_000_000
    text = json.dumps({"n": change}, separators=(",", ":"))
    cursor = base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")
    case.query = {**query, "cursor": cursor}


def _make_valid(case):
    if case.operation.label == RECOVER:
        _recent_since(case)
    elif case.operation.label == LEAD_LIST:
        _cursor_of_its_order(case)


@schemathesis.hook
def before_add_examples(context, examples):
    if context.operation is not None:
        for case in examples:
            _make_valid(case)


@schemathesis.hook
def map_case(context, case):
    positive = case.meta is None or case.meta.generation.mode == "positive"
    if positive:
        _make_valid(case)
    return case
"#;

/// The request header that names the version a request is to be served in; a released
/// spec's run sends it with that release's version.
const API_VERSION_HEADER: &str = "api-version";

/// The module name [`HOOKS`] is written under.
const HOOKS_MODULE: &str = "leads_fuzz_hooks";

/// Which test cases Schemathesis generates.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Mode {
    /// Valid requests only: the server must accept each and answer as the spec says.
    Positive,
    /// Invalid requests only: the server must reject each.
    Negative,
    /// Both.
    All,
}

impl Mode {
    fn as_arg(self) -> &'static str {
        match self {
            Mode::Positive => "positive",
            Mode::Negative => "negative",
            Mode::All => "all",
        }
    }
}

/// What `cargo xtask fuzz` takes from its command line.
pub struct Options {
    /// The spec whose operations are fuzzed and whose schemas the answers are checked
    /// against (Schemathesis's `response_schema_conformance` judges each answer by the
    /// document it runs): the working spec, or a released one (what old consumers were
    /// promised), so a released spec's run validates answers against that release's schemas.
    pub spec: PathBuf,
    /// The version every request asks to be served in, sent as `api-version: <version>` (as
    /// the generated clients of that version do): a released spec's own version, so that the
    /// server answers as that release; `None` sends no header (the server's newest version).
    pub api_version: Option<String>,
    pub mode: Mode,
    /// Test cases per API operation and phase (`--max-examples`).
    pub max_examples: u32,
    /// Seed of Schemathesis's generator: the same seed and version generate the same cases.
    pub seed: u64,
    /// Wall-clock limit for the Schemathesis run; past it the run is stopped and fails.
    pub timeout: Duration,
}

/// Runs Schemathesis against a server of its own; `Ok(false)` when Schemathesis found anything.
pub fn run(root: &Path, options: &Options) -> Result<bool> {
    let schemathesis = install_schemathesis(root)?;
    let server_binary = server::build(root, Profile::Dev, "leads-server")?;

    // Holds the database, the keys, the configuration and the hooks; private to this user.
    // Declared before the server guard, so the guard (dropped first) kills the server before
    // the directory is removed.
    let work = tempfile::tempdir().context("creating a temporary directory")?;
    let database = work.path().join("leads.db");
    let mut identities = Vec::new();
    for organization in ORGANIZATIONS {
        let key = server::create_key(&server_binary, &database, organization)?;
        identities.push(serde_json::json!({
            "name": organization,
            "fixedHeaders": [{"name": "Authorization", "value": format!("Bearer {key}")}],
        }));
    }
    let auth_file = work.path().join("auth.json");
    std::fs::write(
        &auth_file,
        serde_json::to_vec(&serde_json::json!({ "auth": identities }))?,
    )
    .context("writing the keys file")?;
    let auth_file = auth_file
        .to_str()
        .context("the temporary directory's path is not UTF-8")?;
    // JSON strings and arrays of them are valid TOML: this escapes what needs escaping.
    let config = CONFIG
        .replace("{auth_file}", &serde_json::to_string(auth_file)?)
        .replace("{peers}", &serde_json::to_string(&ORGANIZATIONS)?);
    let config_file = work.path().join("schemathesis.toml");
    std::fs::write(&config_file, config).context("writing the Schemathesis configuration")?;
    std::fs::write(work.path().join(format!("{HOOKS_MODULE}.py")), HOOKS)
        .context("writing the Schemathesis hooks")?;

    // Its log (warnings only) goes to ours; the run's output is mostly Schemathesis's.
    let server = Server::start(
        &server_binary,
        &database,
        "warn",
        Stdio::inherit(),
        &SERVE_ARGS,
    )?;
    let url = format!("http://{}", server.address());
    println!("fuzz: leads-server is up at {url}");

    let mut command = Command::new(&schemathesis);
    command
        .current_dir(root)
        // The hooks module is found on PYTHONPATH; nothing else the run needs is.
        .env("PYTHONPATH", work.path())
        .env("SCHEMATHESIS_HOOKS", HOOKS_MODULE)
        // Named explicitly, so that a stray schemathesis.toml in the workspace is not read.
        .arg("--config-file")
        .arg(&config_file)
        .arg("run")
        .arg(&options.spec)
        .args(["--url", &url])
        .args(["--checks", "all"])
        .args(["--mode", options.mode.as_arg()])
        .args(["--max-examples", &options.max_examples.to_string()])
        .args(["--seed", &options.seed.to_string()])
        // One worker: with more, the order of requests (and so the cases) varies between runs.
        .args(["--workers", "1"])
        // No example database: it would live in the working tree (`.hypothesis/`) and replay
        // earlier failures, making a run depend on the ones before it.
        .args(["--generation-database", "none"])
        // Report every distinct failure of an operation, not only its first.
        .arg("--continue-on-failure")
        .args(["--request-timeout", "10"])
        // The default, stated so that nobody turns it off: it masks the Authorization header.
        .args(["--output-sanitize", "true"]);
    // On every request, the peer's of `object_level_authorization` too; the keys are in the
    // auth file, this is no secret.
    let version_header = options
        .api_version
        .as_ref()
        .map(|version| format!("{API_VERSION_HEADER}: {version}"));
    if let Some(header) = &version_header {
        command.args(["--header", header]);
    }
    println!(
        "fuzz: schemathesis {SCHEMATHESIS_VERSION} run {}{} --url {url} --checks all --mode {} \
         --max-examples {} --seed {} --workers 1 (time limit {} s)",
        options.spec.display(),
        version_header
            .as_ref()
            .map_or(String::new(), |header| format!(" --header '{header}'")),
        options.mode.as_arg(),
        options.max_examples,
        options.seed,
        options.timeout.as_secs(),
    );
    let child = command
        .spawn()
        .with_context(|| format!("starting {}", schemathesis.display()))?;
    let mut schemathesis_run = KillOnDrop(child);
    let started = Instant::now();
    let status = loop {
        if let Some(status) = schemathesis_run.0.try_wait()? {
            break status;
        }
        if started.elapsed() > options.timeout {
            bail!(
                "Schemathesis did not finish within {} s (raise --timeout or lower --max-examples)",
                options.timeout.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    drop(server);
    Ok(status.success())
}

/// The `schemathesis` executable of the pinned version, installed first if need be.
fn install_schemathesis(root: &Path) -> Result<PathBuf> {
    let venv = root.join(VENV_DIR);
    let bin = venv.join(if cfg!(windows) { "Scripts" } else { "bin" });
    let python = bin.join(format!("python{}", std::env::consts::EXE_SUFFIX));
    let schemathesis = bin.join(format!("schemathesis{}", std::env::consts::EXE_SUFFIX));
    if installed_version(&python).as_deref() == Some(SCHEMATHESIS_VERSION) && schemathesis.exists()
    {
        return Ok(schemathesis);
    }
    if !python.exists() {
        println!("fuzz: creating the virtual environment {VENV_DIR}");
        let system_python = if cfg!(windows) { "python" } else { "python3" };
        // `--clear`: a venv whose interpreter is gone (Python was upgraded) is rebuilt whole.
        run_checked(
            Command::new(system_python)
                .args(["-m", "venv", "--clear"])
                .arg(&venv),
            "creating the virtual environment (is python3 with its venv module installed?)",
        )?;
    }
    println!("fuzz: installing schemathesis=={SCHEMATHESIS_VERSION} from PyPI into {VENV_DIR}");
    run_checked(
        Command::new(&python).args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            &format!("schemathesis=={SCHEMATHESIS_VERSION}"),
        ]),
        "installing Schemathesis with pip",
    )?;
    match installed_version(&python) {
        Some(version) if version == SCHEMATHESIS_VERSION => Ok(schemathesis),
        other => bail!("after pip install, the virtual environment has schemathesis {other:?}"),
    }
}

/// The Schemathesis version installed for `python`, if any.
fn installed_version(python: &Path) -> Option<String> {
    let output = Command::new(python)
        .args([
            "-c",
            "import importlib.metadata as m; print(m.version('schemathesis'))",
        ])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// Runs `command` and fails with `what` unless it succeeds; its output goes to ours.
fn run_checked(command: &mut Command, what: &str) -> Result<()> {
    let status = command.status().with_context(|| what.to_owned())?;
    if !status.success() {
        bail!("{what}: {status}");
    }
    Ok(())
}
