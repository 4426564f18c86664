//! A throwaway `leads-server` for the chores that need a real one (`fuzz`, `bench`).
//!
//! - [`build`]: builds a binary of the workspace with cargo and returns its executable,
//!   wherever the target directory is;
//! - [`create_key`]: creates an organization's API key in a database (creating the database,
//!   with the server's own schema, if it is new), printing nothing of the key;
//! - [`Server`]: the server started on a free loopback port with rate limits no run reaches,
//!   ready once `GET /health` answers 200, and killed when dropped, however the run ends.

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// How long the freshly started server may take to answer `GET /health`.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// A rate limit (requests a minute, per key and per organization) that no run reaches: 429s
/// would hide every other answer.
const UNREACHABLE_RATE_LIMIT: &str = "100000000";

/// Which cargo profile [`build`] builds with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    Dev,
    Release,
}

/// Builds the binary `binary` of the package of the same name and returns its executable,
/// wherever the target directory is.
pub fn build(root: &Path, profile: Profile, binary: &str) -> Result<PathBuf> {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or("cargo".into()));
    command.current_dir(root).arg("build");
    if profile == Profile::Release {
        command.arg("--release");
    }
    command.args([
        "-p",
        binary,
        "--bin",
        binary,
        "--message-format=json-render-diagnostics",
    ]);
    let release = if profile == Profile::Release {
        " --release"
    } else {
        ""
    };
    println!("cargo build{release} -p {binary}");
    let output = command
        .stderr(Stdio::inherit())
        .output()
        .context("running cargo build")?;
    if !output.status.success() {
        bail!("cargo build{release} -p {binary} failed");
    }
    // Cargo reports each artifact as a JSON line; the binary's names its executable.
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["target"]["name"] == binary)
        .find_map(|message| message["executable"].as_str().map(PathBuf::from))
        .with_context(|| format!("cargo build named no {binary} executable"))
}

/// Creates an API key of `organization` (and the organization, and the database with the
/// server's schema, if need be) and returns it, printing nothing of it.
pub fn create_key(
    server_binary: &Path,
    database: impl AsRef<OsStr>,
    organization: &str,
) -> Result<String> {
    let output = Command::new(server_binary)
        .args([
            "keys",
            "create",
            "--create-org",
            "--org",
            organization,
            "--database",
        ])
        .arg(database)
        .stderr(Stdio::inherit())
        .output()
        .context("running leads-server keys create")?;
    if !output.status.success() {
        bail!("leads-server keys create failed ({})", output.status);
    }
    let key = String::from_utf8(output.stdout)
        .context("the key is not UTF-8")?
        .trim()
        .to_owned();
    if key.is_empty() || key.contains(char::is_whitespace) {
        bail!("leads-server keys create did not print exactly one key");
    }
    Ok(key)
}

/// A running server; dropping it kills the process.
pub struct Server {
    process: KillOnDrop,
    address: SocketAddr,
}

impl Server {
    /// Starts the server on `database` (a file, or a PostgreSQL URL), on a free loopback port,
    /// with rate limits and the per-address bound on connections out of reach (every
    /// connection of a benchmark or a fuzzer comes from one address) and `log_level`, its log going to `log`; waits until
    /// `GET /health` answers 200.
    pub fn start(
        server_binary: &Path,
        database: impl AsRef<OsStr>,
        log_level: &str,
        log: Stdio,
        serve_args: &[&str],
    ) -> Result<Self> {
        let address = free_loopback_port()?;
        let mut command = Command::new(server_binary);
        let on_postgres = database.as_ref().to_string_lossy().starts_with("postgres");
        if on_postgres && std::env::var_os("LEADS_SECRETS_KEY").is_none() {
            // PostgreSQL needs a key to seal webhook secrets with (SQLite makes its own); the
            // database is a throwaway, so is the key: 32 bytes of two random UUIDs.
            use base64::Engine;
            let bytes = [
                uuid::Uuid::new_v4().into_bytes(),
                uuid::Uuid::new_v4().into_bytes(),
            ];
            let key = base64::engine::general_purpose::STANDARD.encode(bytes.concat());
            command.env("LEADS_SECRETS_KEY", key);
        }
        let child = command
            .arg("serve")
            .args(["--bind", &address.to_string()])
            .arg("--database")
            .arg(database)
            .args(["--rate-limit-per-key", UNREACHABLE_RATE_LIMIT])
            .args(["--rate-limit-per-org", UNREACHABLE_RATE_LIMIT])
            .args(["--max-connections-per-address", "0"])
            .args(["--log-level", log_level])
            .args(serve_args)
            // Its stdout is only the greeting.
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("starting leads-server serve")?;
        let mut server = Self {
            process: KillOnDrop(child),
            address,
        };
        let started = Instant::now();
        loop {
            if let Some(status) = server.process.0.try_wait()? {
                bail!("leads-server exited before it was ready ({status})");
            }
            if health_is_ok(address) {
                return Ok(server);
            }
            if started.elapsed() > STARTUP_TIMEOUT {
                bail!(
                    "leads-server did not answer GET /health with 200 within {} s",
                    STARTUP_TIMEOUT.as_secs()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.process.0.id()
    }
}

/// A loopback address whose port was free a moment ago. Another process could take it before
/// the server binds it; then the server exits and the run fails saying so.
pub fn free_loopback_port() -> Result<SocketAddr> {
    let listener =
        TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("finding a free loopback port")?;
    Ok(listener.local_addr()?)
}

/// Whether `GET /health` answers 200.
fn health_is_ok(address: SocketAddr) -> bool {
    get_ok(address, "/health").is_ok_and(|ok| ok)
}

/// Whether `GET path` answers 200, its answer read to the end: one HTTP/1.1 request by hand,
/// which is all it takes.
pub fn get_ok(address: SocketAddr, path: &str) -> std::io::Result<bool> {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(1))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    Ok(answer.starts_with(b"HTTP/1.1 200"))
}

/// A child process that is killed (and reaped) when this goes out of scope, error or not.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        // An error means it has exited already, which is what we want.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
