//! What metrics cost: create and view on a server serving them (`--metrics-bind`, scraped
//! every second as Prometheus would) against the same server without them. Three servers in
//! turn on one database, off, on, off again, so that the database's growth and the machine's
//! drift weigh on both sides: the baseline is the mean of the two runs without. Each run
//! creates as an organization of its own, whose new emails no earlier run has taken.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::requests::Api;
use super::scenario::{self, Load, Phase, name};
use crate::server::{self, Server, free_loopback_port, get_ok};

/// How often the metrics are scraped while they are measured.
const SCRAPE_EVERY: Duration = Duration::from_secs(1);

/// The six phases: create and view with metrics off, on, and off again.
pub fn measure(
    server_binary: &Path,
    database: &Path,
    logs: &Path,
    load: Load,
    runtime: &tokio::runtime::Runtime,
) -> Result<Vec<Phase>> {
    let mut phases = Vec::new();
    for (on, create, view) in [
        (false, name::METRICS_OFF_CREATE, name::METRICS_OFF_VIEW),
        (true, name::METRICS_ON_CREATE, name::METRICS_ON_VIEW),
        (
            false,
            name::METRICS_OFF_AGAIN_CREATE,
            name::METRICS_OFF_AGAIN_VIEW,
        ),
    ] {
        let key = server::create_key(server_binary, database, &create.replace(' ', "-"))?;
        let metrics = on.then(free_loopback_port).transpose()?;
        let metrics_bind = metrics.map(|address| address.to_string());
        let mut serve_args = Vec::new();
        if let Some(bind) = &metrics_bind {
            serve_args.extend(["--metrics-bind", bind.as_str()]);
        }
        let log = std::fs::File::create(logs.join(format!("server-{create}.log")))?;
        let server = Server::start(
            server_binary,
            database,
            "info",
            Stdio::from(log),
            &serve_args,
        )?;
        println!(
            "bench: {create} and view, a server at http://{}",
            server.address()
        );
        let scraping = Arc::new(AtomicBool::new(true));
        let scrapes = Arc::new(AtomicU64::new(0));
        let scraper = metrics.map(|address| {
            let (scraping, scrapes) = (Arc::clone(&scraping), Arc::clone(&scrapes));
            std::thread::spawn(move || {
                while scraping.load(Ordering::Relaxed) {
                    scrape(address)?;
                    scrapes.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(SCRAPE_EVERY);
                }
                anyhow::Ok(())
            })
        });
        let measured = runtime.block_on(async {
            let api = Api::new(server.address(), &key)?;
            scenario::create_then_view(&api, load, create, view).await
        });
        scraping.store(false, Ordering::Relaxed);
        if let Some(scraper) = scraper {
            scraper
                .join()
                .map_err(|_| anyhow::anyhow!("the scraper panicked"))?
                .context("scraping the metrics")?;
            if scrapes.load(Ordering::Relaxed) == 0 {
                bail!("the metrics were never scraped");
            }
        }
        phases.extend(measured?);
    }
    Ok(phases)
}

/// One `GET /metrics`, read to its end; an error unless it is `200`.
fn scrape(address: SocketAddr) -> Result<()> {
    if !get_ok(address, "/metrics")? {
        bail!("GET /metrics did not answer 200");
    }
    Ok(())
}
