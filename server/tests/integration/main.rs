//! The server's integration tests, in one binary so that they link once (as dropshot's
//! `tests/integration-tests`). What the contract suite cannot reach:
//!
//! - [`router`]: answers the spec does not document (dropshot's router);
//! - [`cli`]: `leads-server`'s command line, run as a binary;
//! - [`secrets`]: the key that seals webhook signing secrets, at start and rotated;
//! - [`replicas`]: two servers on one PostgreSQL database, requests alternating between them;
//! - [`operators`]: what an operator sees of a known mix: metrics, the JSON log, traces;
//! - [`drills`]: real processes under attack, load and `kill -9`, seconds each. They are
//!   reported ignored by `cargo test --workspace`, to keep it quick, and CI runs them:
//!   `cargo test -p leads-server --test integration -- --ignored drills`.
//!
//! They print their numbers (`-- --nocapture`).

mod cli;
mod drills;
mod operators;
mod replicas;
mod router;
mod secrets;

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

use leads_server::testing::postgres::ScratchDatabase;

/// Held by each test that runs a server process while it runs: they measure, and two at once
/// on two cores would measure each other.
pub static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A new, empty PostgreSQL database of the test's own, in the server `LEADS_TEST_POSTGRES_URL`
/// names; dropped with the value. Tests that call it carry
/// `#[cfg_attr(not(leads_postgres), ignore = "needs PostgreSQL: …")]` (see `server/build.rs`),
/// so that without that variable they are ignored, not passed.
///
/// # Panics
/// If the database cannot be created: the variable said there is a server.
pub async fn scratch_database() -> ScratchDatabase {
    ScratchDatabase::create()
        .await
        .unwrap_or_else(|error| panic!("a database of the test's own: {error:#}"))
}

/// `serve` options that put every limit out of a test's reach.
pub const NO_LIMITS: &[&str] = &[
    "--rate-limit-per-key",
    "10000000",
    "--rate-limit-per-org",
    "10000000",
    "--unfamiliar-keys-per-address",
    "0",
    "--max-in-flight",
    "512",
];

/// A `leads-server serve` process; killed when dropped.
pub struct Server {
    child: Child,
    /// `127.0.0.1:<port>`.
    pub address: String,
    /// What it was given as `--database`: a file, or a PostgreSQL URL.
    pub database: OsString,
    serve_args: Vec<String>,
    /// The descriptor limit it runs with, if not the test's own.
    descriptors: Option<u64>,
    /// Its database file's directory, if it made one.
    _dir: Option<tempfile::TempDir>,
}

impl Server {
    /// A server on a new SQLite database, started with `serve_args` besides its address and
    /// database, and a key of each organization in `organizations` (created), in that order.
    pub fn start(serve_args: &[&str], organizations: &[&str]) -> (Server, Vec<String>) {
        Server::start_with_descriptors(serve_args, organizations, None)
    }

    /// [`Server::start`], the process limited to `descriptors` open files (soft and hard
    /// limit alike, so that the server cannot raise it) if given.
    pub fn start_with_descriptors(
        serve_args: &[&str],
        organizations: &[&str],
        descriptors: Option<u64>,
    ) -> (Server, Vec<String>) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let database = dir.path().join("leads.db").into_os_string();
        let keys = create_keys(&database, organizations);
        let serve_args: Vec<String> = serve_args.iter().map(|arg| arg.to_string()).collect();
        let (child, address) = serve(&database, "127.0.0.1:0", &serve_args, descriptors);
        let server = Server {
            child,
            address,
            database,
            serve_args,
            descriptors,
            _dir: Some(dir),
        };
        (server, keys)
    }

    /// A server on `database`, which exists already (a PostgreSQL database other servers may
    /// share), started with `serve_args` besides its address and database.
    pub fn on(database: OsString, serve_args: &[&str]) -> Server {
        let serve_args: Vec<String> = serve_args.iter().map(|arg| arg.to_string()).collect();
        let (child, address) = serve(&database, "127.0.0.1:0", &serve_args, None);
        Server {
            child,
            address,
            database,
            serve_args,
            descriptors: None,
            _dir: None,
        }
    }

    /// The process id, for `/proc`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the process with `SIGKILL`: no shutdown, no flush, as a crash.
    pub fn kill(&mut self) {
        self.child.kill().expect("the server is killed");
        self.child.wait().expect("the server is reaped");
    }

    /// Starts the server again, on its database and address.
    pub fn restart(&mut self) {
        let (child, address) = serve(
            &self.database,
            &self.address,
            &self.serve_args,
            self.descriptors,
        );
        assert_eq!(address, self.address, "the same address");
        self.child = child;
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A key of each organization in `organizations` (created), in that order.
pub fn create_keys(database: &OsString, organizations: &[&str]) -> Vec<String> {
    organizations
        .iter()
        .map(|org| cli(database, &["keys", "create", "--create-org", "--org", org]))
        .collect()
}

/// The secrets key every server of this run on PostgreSQL is given, as replicas share one.
/// (On SQLite each database makes its own, beside it.)
pub fn postgres_secrets_key() -> &'static str {
    static KEY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    KEY.get_or_init(|| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(leads_server::secrets::new_key())
    })
}

/// `leads-server` with its environment for `database`: on PostgreSQL, the run's secrets key.
pub fn leads_server(database: &OsString) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_leads-server"));
    if database.to_string_lossy().starts_with("postgres") {
        command.env(
            leads_server::secrets::key_file::KEYS_VARIABLE,
            postgres_secrets_key(),
        );
    }
    command
}

/// Starts `leads-server serve` on `database` at `bind`, with at most `descriptors` open files
/// if given; the child and where it serves.
fn serve(
    database: &OsString,
    bind: &str,
    serve_args: &[String],
    descriptors: Option<u64>,
) -> (Child, String) {
    let mut command = leads_server(database);
    command
        .args(["serve", "--bind", bind, "--log-level", "error"])
        .args(serve_args)
        .arg("--database")
        .arg(database)
        .stdout(Stdio::piped());
    if let Some(limit) = descriptors {
        let limit = libc::rlimit {
            rlim_cur: limit,
            rlim_max: limit,
        };
        // SAFETY: `setrlimit` is async-signal-safe, and the closure touches nothing else.
        unsafe {
            command.pre_exec(move || {
                if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            });
        }
    }
    let mut child = command.spawn().expect("the server starts");
    let mut line = String::new();
    let stdout = child.stdout.take().expect("stdout");
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("the server says where it serves");
    let address = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("an address")
        .to_string();
    (child, address)
}

/// Runs `leads-server <args> --database <database>`; what it printed.
pub fn cli(database: &OsString, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_leads-server"))
        .args(args)
        .arg("--database")
        .arg(database)
        .output()
        .expect("leads-server runs");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// An HTTP client whose requests give up after `timeout`, so that a request to a dying server
/// cannot hang a test.
pub fn http_client(timeout: std::time::Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .expect("an HTTP client")
}

/// Every item of a paginated list at `url` (`/v1/leads`, `/v1/webhook-deliveries`), following
/// its cursors.
pub async fn every_item(http: &reqwest::Client, url: &str, key: &str) -> Vec<serde_json::Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut request = http.get(url).bearer_auth(key).query(&[("limit", "100")]);
        if let Some(cursor) = &cursor {
            request = request.query(&[("cursor", cursor)]);
        }
        let page: serde_json::Value = request
            .send()
            .await
            .expect("a page")
            .json()
            .await
            .expect("JSON");
        items.extend(page["data"].as_array().expect("items").iter().cloned());
        match page["pagination"]["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return items,
        }
    }
}
