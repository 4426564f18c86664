//! The key that seals webhook signing secrets, as an operator meets it: made beside a new
//! SQLite database with no setting (mode 0600), no secret in the database file, a wrong key or
//! none on PostgreSQL refused at start saying what to do, and a rotation from the command
//! line after which the old key can go.

use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use leads_server::secrets::key_file::KEYS_VARIABLE;
use serde_json::json;

use crate::{NO_LIMITS, Server, cli};

fn serve_args() -> Vec<&'static str> {
    let mut serve_args = NO_LIMITS.to_vec();
    serve_args.push("--webhooks-allow-insecure-targets");
    serve_args
}

/// Subscribes to `lead.created` through the API of `server`; the secret shown once.
async fn subscribe(server: &Server, key: &str) -> String {
    let answer: serde_json::Value = crate::http_client(Duration::from_secs(10))
        .post(format!("http://{}/v1/webhooks", server.address))
        .bearer_auth(key)
        .json(&json!({"event_type": "lead.created", "target_url": "http://127.0.0.1:9/hook"}))
        .send()
        .await
        .expect("an answer")
        .json()
        .await
        .expect("a JSON body");
    answer["data"]["secret"]
        .as_str()
        .unwrap_or_else(|| panic!("a secret: {answer}"))
        .to_owned()
}

/// Every byte of the SQLite database at `database` (with its WAL, if any).
fn file_bytes(database: &OsString) -> Vec<u8> {
    let mut bytes = std::fs::read(database).expect("the database file");
    let mut wal = database.clone();
    wal.push("-wal");
    bytes.extend(std::fs::read(&wal).unwrap_or_default());
    bytes
}

fn holds(bytes: &[u8], text: &str) -> bool {
    bytes
        .windows(text.len())
        .any(|window| window == text.as_bytes())
}

/// Runs `leads-server serve` on `database` with `environment`, which must stop by itself
/// (refusing to start) within 20 seconds.
fn refused(database: &OsString, environment: &[(&str, &str)]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_leads-server"))
        .args(["serve", "--bind", "127.0.0.1:0", "--database"])
        .arg(database)
        .env_remove(KEYS_VARIABLE)
        .envs(environment.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("leads-server runs");
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().expect("its status").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the server started, or hung, instead of refusing to start");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().expect("its output");
    assert!(!output.status.success(), "{output:?}");
    output
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test]
async fn the_quick_start_makes_a_private_key_and_no_secret_reaches_the_database_file() {
    let _one = crate::ONE_AT_A_TIME.lock().await;
    let (server, keys) = Server::start(&serve_args(), &["acme"]);
    let mut key_file = server.database.clone();
    key_file.push(".key");
    #[cfg(unix)]
    assert_eq!(mode(Path::new(&key_file)), 0o600);
    let secret = subscribe(&server, &keys[0]).await;
    assert!(secret.starts_with("whsec_"));
    let bytes = file_bytes(&server.database);
    assert!(!holds(&bytes, &secret));
    assert!(!holds(&bytes, &secret["whsec_".len()..]));

    // Another key than the one that sealed it: refused at start, naming key ids, never keys.
    let mut server = server;
    server.kill();
    let wrong = STANDARD.encode([7u8; 32]);
    let output = refused(&server.database, &[(KEYS_VARIABLE, &wrong)]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("sealed with key"), "{stderr}");
    assert!(!stderr.contains(&wrong), "{stderr}");
}

#[cfg_attr(
    not(leads_postgres),
    ignore = "needs PostgreSQL: set LEADS_TEST_POSTGRES_URL"
)]
#[tokio::test]
async fn on_postgres_a_server_without_a_key_refuses_to_start_and_says_how_to_make_one() {
    let database = crate::scratch_database().await;
    let output = refused(&OsString::from(database.url()), &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("leads-server secrets generate") && stderr.contains("--secrets-key-file"),
        "{stderr}"
    );
}

/// A new key put first, every secret resealed with it, the old key removed: the server still
/// starts, so its check unsealed with the new key alone.
#[tokio::test]
async fn a_rotation_from_the_command_line_lets_the_old_key_go() {
    let _one = crate::ONE_AT_A_TIME.lock().await;
    let (mut server, keys) = Server::start(&serve_args(), &["acme"]);
    for _ in 0..3 {
        subscribe(&server, &keys[0]).await;
    }
    server.kill();
    let database = server.database.clone();
    let mut key_file = database.clone();
    key_file.push(".key");
    let key_file = Path::new(&key_file).to_owned();
    let old = std::fs::read_to_string(&key_file).expect("the key file");
    let key_file_arg = key_file.to_string_lossy().into_owned();
    let generated = Command::new(env!("CARGO_BIN_EXE_leads-server"))
        .args(["secrets", "generate", &key_file_arg])
        .output()
        .expect("leads-server runs");
    assert!(generated.status.success(), "{generated:?}");
    assert!(String::from_utf8_lossy(&generated.stdout).contains("first"));
    let rotated = cli(&database, &["secrets", "rotate"]);
    assert!(rotated.contains("resealed 3 "), "{rotated}");
    // Only the new key left: the file's first entry, its comment with it.
    let text = std::fs::read_to_string(&key_file).expect("the key file");
    let old_key = old
        .lines()
        .find(|line| !line.starts_with('#') && !line.trim().is_empty())
        .expect("the old key");
    let kept: String = text
        .lines()
        .filter(|line| *line != old_key)
        .map(|line| format!("{line}\n"))
        .collect();
    std::fs::write(&key_file, kept).expect("the old key removed");
    server.restart();
    let restarted = crate::http_client(Duration::from_secs(10))
        .get(format!("http://{}/health", server.address))
        .send()
        .await
        .expect("an answer");
    assert_eq!(restarted.status(), 200);
}
