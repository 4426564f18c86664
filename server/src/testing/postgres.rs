//! Throwaway PostgreSQL databases for tests: one per test, in the server that
//! `LEADS_TEST_POSTGRES_URL` names (`eval "$(.ci/postgres)"` starts one), dropped after it.
//!
//! The tests that need one are ignored unless that variable was set when they were built:
//! they carry `#[cfg_attr(not(leads_postgres), ignore = "needs PostgreSQL: …")]`, and the
//! crate's build script sets `cfg(leads_postgres)` (see `server/build.rs`). Once it is set, a
//! test whose database cannot be created fails, saying why.

use anyhow::{Context, Result, bail};
use tokio_postgres::{Config, NoTls};
use url::Url;
use uuid::Uuid;

use crate::config::Database;

/// The variable naming the PostgreSQL server tests create their databases in.
pub const URL_VARIABLE: &str = "LEADS_TEST_POSTGRES_URL";

/// A database of its own for one test, dropped (with its connections) with this value.
pub struct ScratchDatabase {
    /// The server's URL, to create and drop databases from.
    admin_url: Url,
    name: String,
}

impl ScratchDatabase {
    /// A new, empty database in the server of [`URL_VARIABLE`], which must be set.
    pub async fn create() -> Result<ScratchDatabase> {
        let admin_url = match std::env::var(URL_VARIABLE) {
            Ok(url) if !url.is_empty() => url,
            _ => bail!(
                "{URL_VARIABLE} must name a PostgreSQL server (`eval \"$(.ci/postgres)\"` starts \
                 a throwaway one)"
            ),
        };
        Self::create_in(&admin_url).await
    }

    async fn create_in(admin_url: &str) -> Result<ScratchDatabase> {
        let shown = Database::Postgres(admin_url.to_owned());
        let admin_url = Url::parse(admin_url)
            .with_context(|| format!("{URL_VARIABLE} ({shown}) is not a URL"))?;
        let name = format!("leads_test_{}", Uuid::new_v4().simple());
        execute(&admin_url, &format!("CREATE DATABASE {name}"))
            .await
            .with_context(|| {
                format!("creating a test database in the server of {URL_VARIABLE} ({shown})")
            })?;
        Ok(ScratchDatabase { admin_url, name })
    }

    /// Its URL: the server's, naming this database.
    pub fn url(&self) -> String {
        with_database(&self.admin_url, &self.name).into()
    }

    /// How to connect to it.
    pub fn config(&self) -> Result<Config> {
        self.url().parse().context("the scratch database's URL")
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        // `FORCE` closes the connections a store dropped just before may still hold.
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        // A drop cannot await, and may run inside a test's runtime, which must not be blocked
        // on: a runtime of its own, on a thread of its own.
        let dropped = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(anyhow::Error::from)
                .and_then(|runtime| runtime.block_on(execute(&admin_url, &sql)))
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("test database {} was left behind", self.name);
        }
    }
}

/// Runs `sql` on a connection of its own to the database of `url`.
async fn execute(url: &Url, sql: &str) -> Result<()> {
    let config: Config = url
        .as_str()
        .parse()
        .with_context(|| format!("{URL_VARIABLE} is not a PostgreSQL URL"))?;
    let (client, connection) = config
        .connect(NoTls)
        .await
        .context("connecting to it (is it running?)")?;
    let connection = tokio::spawn(connection);
    let outcome = client.batch_execute(sql).await;
    drop(client);
    let _ = connection.await;
    match outcome {
        Ok(()) => Ok(()),
        Err(error) => bail!("{sql}: {error}"),
    }
}

/// `url` with its path (the database name) replaced by `database`; its user, host, port and
/// parameters kept.
fn with_database(url: &Url, database: &str) -> Url {
    let mut url = url.clone();
    url.set_path(&format!("/{database}"));
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    fn renamed(url: &str) -> String {
        with_database(&Url::parse(url).expect("a URL"), "t1").into()
    }

    #[test]
    fn the_url_names_the_scratch_database() {
        assert_eq!(
            renamed("postgres://postgres@127.0.0.1:5432/postgres"),
            "postgres://postgres@127.0.0.1:5432/t1"
        );
        assert_eq!(
            renamed("postgres://u@h:1?sslmode=disable"),
            "postgres://u@h:1/t1?sslmode=disable"
        );
        assert_eq!(
            renamed(
                "postgresql://u:p%40ss@[::1]:5432/leads?sslmode=verify-full&sslrootcert=/ca.crt"
            ),
            "postgresql://u:p%40ss@[::1]:5432/t1?sslmode=verify-full&sslrootcert=/ca.crt"
        );
        assert_eq!(
            renamed("postgres:///postgres?host=/run/postgresql"),
            "postgres:///t1?host=/run/postgresql"
        );
    }

    /// CI sets `LEADS_TEST_POSTGRES_URL` (and `LEADS_TEST_POSTGRES_CA`) before it builds the
    /// tests, so that none of them is ignored there: a CI run built without them fails here.
    #[test]
    fn ci_builds_the_postgresql_tests() {
        let missing: Vec<&str> = [
            (cfg!(leads_postgres), URL_VARIABLE),
            (cfg!(leads_postgres_tls), "LEADS_TEST_POSTGRES_CA"),
        ]
        .into_iter()
        .filter_map(|(built, variable)| (!built).then_some(variable))
        .collect();
        assert!(
            std::env::var_os("CI").is_none() || missing.is_empty(),
            "CI must run every PostgreSQL test: set {} before building them \
             (`eval \"$(.ci/postgres)\"` starts a throwaway server and sets both)",
            missing.join(" and ")
        );
    }
}
