//! Throwaway PostgreSQL databases for tests: one per test, in the server that
//! `LEADS_TEST_POSTGRES_URL` names (`eval "$(.ci/postgres)"` starts one), dropped after it.
//!
//! Without that variable, tests that need PostgreSQL are skipped with one line on stderr
//! saying how to run them, unless `CI` is set: CI must run them, so there they fail.

use anyhow::{Context, Result, bail};
use tokio_postgres::{Config, NoTls};
use uuid::Uuid;

/// The variable naming the PostgreSQL server tests create their databases in.
pub const URL_VARIABLE: &str = "LEADS_TEST_POSTGRES_URL";

/// A database of its own for one test, dropped (with its connections) with this value.
pub struct ScratchDatabase {
    /// The server's URL, to create and drop databases from.
    admin_url: String,
    name: String,
}

impl ScratchDatabase {
    /// A new, empty database in the server of [`URL_VARIABLE`]; `None` if the variable is
    /// unset, after saying on stderr that `what` was skipped and how to run it.
    ///
    /// # Panics
    /// If the variable is unset while `CI` is set.
    pub async fn create_or_skip(what: &str) -> Result<Option<ScratchDatabase>> {
        let Ok(admin_url) = std::env::var(URL_VARIABLE) else {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must run {what}: set {URL_VARIABLE}=postgres://… \
                 (`eval \"$(.ci/postgres)\"` starts a throwaway server)"
            );
            eprintln!(
                "skipped: {what}; set {URL_VARIABLE}=postgres://… to run it \
                 (see README \"Running on PostgreSQL\")"
            );
            return Ok(None);
        };
        Self::create_in(&admin_url).await.map(Some)
    }

    /// A new, empty database in the server of [`URL_VARIABLE`], which must be set.
    pub async fn create() -> Result<ScratchDatabase> {
        let admin_url = std::env::var(URL_VARIABLE).with_context(|| {
            format!(
                "{URL_VARIABLE} must name a PostgreSQL server (`eval \"$(.ci/postgres)\"` starts \
                 a throwaway one)"
            )
        })?;
        Self::create_in(&admin_url).await
    }

    async fn create_in(admin_url: &str) -> Result<ScratchDatabase> {
        let name = format!("leads_test_{}", Uuid::new_v4().simple());
        execute(admin_url, &format!("CREATE DATABASE {name}")).await?;
        Ok(ScratchDatabase {
            admin_url: admin_url.to_string(),
            name,
        })
    }

    /// Its URL: the server's, naming this database.
    pub fn url(&self) -> String {
        with_database(&self.admin_url, &self.name)
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
async fn execute(url: &str, sql: &str) -> Result<()> {
    let config: Config = url
        .parse()
        .with_context(|| format!("{URL_VARIABLE} is not a PostgreSQL URL"))?;
    let (client, connection) = config
        .connect(NoTls)
        .await
        .with_context(|| format!("connecting to the server of {URL_VARIABLE}"))?;
    let connection = tokio::spawn(connection);
    let outcome = client.batch_execute(sql).await;
    drop(client);
    let _ = connection.await;
    match outcome {
        Ok(()) => Ok(()),
        Err(error) => bail!("{sql}: {error}"),
    }
}

/// `url` with its path (the database name) replaced by `database`.
fn with_database(url: &str, database: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let query = tail.split_once('?').map(|(_, query)| query);
    match query {
        Some(query) => format!("{scheme}://{authority}/{database}?{query}"),
        None => format!("{scheme}://{authority}/{database}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_names_the_scratch_database() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "t1"),
            "postgres://postgres@127.0.0.1:5432/t1"
        );
        assert_eq!(
            with_database("postgres://u@h:1?sslmode=disable", "t1"),
            "postgres://u@h:1/t1?sslmode=disable"
        );
    }
}
