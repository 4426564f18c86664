//! Where the server's keys come from, and key files.
//!
//! Keys are 32 random bytes in standard base64 (`openssl rand -base64 32` makes one). A key
//! file holds one a line, the first the one that seals; blank lines and lines starting with
//! `#` are ignored. `LEADS_SECRETS_KEY` holds the same, keys separated by commas or spaces.
//!
//! Without either, an SQLite database keeps its keys beside it, in `<database>.key` (mode
//! 0600), made when the server first starts on it: the quick start needs no setting. A
//! PostgreSQL database has no such place (its replicas may not share a disk), so there a key
//! must be given, the same to every replica.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};

use super::{KEY_BYTES, Keyring, key_id, new_key};
use crate::config::Database;

/// The variable that holds the keys themselves.
pub const KEYS_VARIABLE: &str = "LEADS_SECRETS_KEY";

/// The variable (and `--secrets-key-file`) that names a key file.
pub const FILE_VARIABLE: &str = "LEADS_SECRETS_KEY_FILE";

/// Where the server's keys come from.
#[derive(Clone)]
pub enum KeySource {
    /// A key file, which must exist.
    File(PathBuf),
    /// The keys themselves, as [`KEYS_VARIABLE`] holds them.
    Variable(String),
    /// Beside an SQLite database, made if missing; nowhere for PostgreSQL.
    Default,
}

impl std::fmt::Debug for KeySource {
    /// Never the keys.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySource::File(path) => write!(f, "File({})", path.display()),
            KeySource::Variable(_) => write!(f, "Variable({KEYS_VARIABLE})"),
            KeySource::Default => f.write_str("Default"),
        }
    }
}

/// What loading the keys did, for the operator to read.
#[derive(Debug, PartialEq, Eq)]
pub enum Loaded {
    /// Read from this file.
    Read(PathBuf),
    /// A new key, in this new file.
    Created(PathBuf),
    /// From [`KEYS_VARIABLE`].
    Variable,
}

/// The key file an SQLite database at `database` keeps beside it.
pub fn beside(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".key");
    PathBuf::from(name)
}

/// The keys of `source` for `database`. The file beside an SQLite database is made if it is
/// missing and `may_create` (the caller knows no secret is sealed yet: a key made now could
/// unseal nothing older).
pub fn load(
    source: &KeySource,
    database: &Database,
    may_create: bool,
) -> Result<(Keyring, Loaded)> {
    match (source, database) {
        (KeySource::File(path), _) => Ok((read(path)?, Loaded::Read(path.clone()))),
        (KeySource::Variable(text), _) => Ok((
            parse(text).with_context(|| format!("the keys of {KEYS_VARIABLE}"))?,
            Loaded::Variable,
        )),
        (KeySource::Default, Database::Sqlite(path)) => {
            let file = beside(path);
            match fs::symlink_metadata(&file) {
                Ok(_) => Ok((read(&file)?, Loaded::Read(file))),
                Err(error) if error.kind() == io::ErrorKind::NotFound && may_create => {
                    create(&file, &new_key())?;
                    Ok((read(&file)?, Loaded::Created(file)))
                }
                Err(error) if error.kind() == io::ErrorKind::NotFound => bail!(
                    "the secrets key file {} is missing (a new key is made only for a \
                     database that holds no sealed webhook signing secret, and never by \
                     `secrets rotate`): restore the file from the backup that has the \
                     database, or give its keys with --secrets-key-file or {KEYS_VARIABLE}",
                    file.display()
                ),
                Err(error) => Err(error)
                    .with_context(|| format!("reading the secrets key file {}", file.display())),
            }
        }
        (KeySource::Default, Database::Postgres(_)) => bail!(
            "no secrets key: on PostgreSQL the key that seals webhook signing secrets must be \
             given, the same to every replica. Make one with `leads-server secrets generate \
             FILE` (or `openssl rand -base64 32 > FILE`), keep it secret, and start every \
             replica with --secrets-key-file FILE (or {FILE_VARIABLE}=FILE, or the key itself \
             in {KEYS_VARIABLE})"
        ),
    }
}

/// The keys of the key file at `path`.
pub fn read(path: &Path) -> Result<Keyring> {
    let shown = path.display();
    let text = fs::read_to_string(path)
        .with_context(|| format!("reading the secrets key file {shown}"))?;
    parse(&text).with_context(|| format!("the secrets key file {shown}"))
}

/// Whether others than its owner may read the file at `path` (Unix only; `false` elsewhere).
pub fn readable_by_others(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path).is_ok_and(|metadata| metadata.permissions().mode() & 0o077 != 0)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        false
    }
}

/// The keys `text` holds, the first the one that seals. Errors count keys from 1 and never
/// show one.
pub fn parse(text: &str) -> Result<Keyring> {
    let mut keys: Vec<[u8; KEY_BYTES]> = Vec::new();
    let entries = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.starts_with('#'))
        .flat_map(|line| line.split(|c: char| c == ',' || c.is_whitespace()))
        .filter(|entry| !entry.is_empty());
    for (number, entry) in (1..).zip(entries) {
        let bytes = STANDARD
            .decode(entry)
            .or_else(|_| STANDARD_NO_PAD.decode(entry))
            .ok()
            .and_then(|bytes| <[u8; KEY_BYTES]>::try_from(bytes).ok());
        let Some(key) = bytes else {
            bail!("key {number} is not {KEY_BYTES} bytes in base64");
        };
        if keys.contains(&key) {
            bail!("key {number} appears twice");
        }
        keys.push(key);
    }
    Keyring::new(&keys).context("it holds no key")
}

/// The text of a key file's entry for `key`: a comment naming it, then the key.
fn entry(key: &[u8; KEY_BYTES]) -> String {
    format!(
        "# key {}, made {}\n{}\n",
        key_id(key),
        chrono::Utc::now().format("%Y-%m-%d"),
        STANDARD.encode(key)
    )
}

const HEADER: &str = "\
# The keys that seal this Leads server's webhook signing secrets at rest.
# One key a line, in base64: the first seals, every one unseals. Keep this file secret, and
# back it up with the database: without its keys no subscription's secret can be unsealed.
";

/// Makes a key file at `path` holding `key`, readable by its owner only. Fails if the path is
/// taken: it is written whole under another name, then linked to its own, so a reader never
/// sees half a file and, of two processes making it at once, one key wins.
pub fn create(path: &Path, key: &[u8; KEY_BYTES]) -> Result<()> {
    write_new(path, &format!("{HEADER}{}", entry(key)), false)
        .with_context(|| format!("creating the secrets key file {}", path.display()))
}

/// Adds a new key to the key file at `path`, first (it seals from the next start on) or last
/// (it only unseals, until moved first); makes the file if it is missing. The new key's id.
pub fn add_key(path: &Path, last: bool) -> Result<String> {
    let key = new_key();
    let shown = path.display();
    match fs::read_to_string(path) {
        Err(error) if error.kind() == io::ErrorKind::NotFound => create(path, &key)?,
        Err(error) => return Err(error).with_context(|| format!("reading {shown}")),
        Ok(text) => {
            parse(&text).with_context(|| format!("the secrets key file {shown}"))?;
            let text = if last {
                format!(
                    "{}{}{}",
                    text,
                    if text.ends_with('\n') { "" } else { "\n" },
                    entry(&key)
                )
            } else {
                // After the comments that open the file, before its first key.
                let lines: Vec<&str> = text.split_inclusive('\n').collect();
                let opening = lines
                    .iter()
                    .take_while(|line| line.starts_with('#') || line.trim().is_empty())
                    .count();
                // The comment naming the first key stays with it.
                let opening = if opening > 0
                    && lines[..opening]
                        .last()
                        .is_some_and(|line| line.starts_with("# key "))
                {
                    opening - 1
                } else {
                    opening
                };
                let (head, tail) = lines.split_at(opening);
                format!("{}{}{}", head.concat(), entry(&key), tail.concat())
            };
            write_new(path, &text, true).with_context(|| format!("rewriting {shown}"))?;
        }
    }
    Ok(key_id(&key))
}

/// Writes `text` to a new file beside `path`, readable by its owner only, then gives it
/// `path`'s name: replacing a file there if `replace`, else failing if there is one.
fn write_new(path: &Path, text: &str, replace: bool) -> io::Result<()> {
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = path.with_file_name(format!(".{name}.{:016x}.new", rand::random::<u64>()));
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = options.open(&temporary).and_then(|mut file| {
        file.write_all(text.as_bytes())?;
        file.sync_all()
    });
    let named = written.and_then(|()| {
        if replace {
            fs::rename(&temporary, path)
        } else {
            fs::hard_link(&temporary, path)
        }
    });
    // Gone after a rename; after a link, or a failure, the temporary name goes.
    let _ = fs::remove_file(&temporary);
    named
}
