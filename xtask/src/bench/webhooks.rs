//! The webhooks phase: creates a second with 0, 1 and 25 `lead.created` subscriptions to a
//! receiver in this process that answers `200` at once, how fast their deliveries drain, and
//! what the outbox stores for them.
//!
//! Each count runs as an organization of its own on a server of its own database
//! (`--webhooks-allow-insecure-targets`, so that a loopback `http` receiver may be
//! subscribed), apart from the standard phases, whose figures a busy delivery worker would
//! change. For each: the create phase's figures; the deliveries that create made (one per
//! lead and subscription); how many had arrived when the load stopped (the rest is the
//! backlog); how long the rest took to arrive; deliveries a second over the whole time, and
//! drained after the load ([`Drained`]); and the connections the server opened to the
//! receiver.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use tokio::net::TcpListener;

use super::largest::{self, LargestLead};
use super::outbox::Outbox;
use super::requests::Api;
use super::scenario::{self, Load, Phase};

/// The subscription counts measured.
pub const SUBSCRIPTIONS: [u32; 3] = [0, 1, 25];

/// How long the bench waits for the deliveries after the load stops; what has not arrived by
/// then is reported as left, not waited for.
const DRAIN_LIMIT: Duration = Duration::from_secs(60);

/// One subscription count's figures.
#[derive(Clone, Debug, Serialize)]
pub struct WebhooksRun {
    pub subscriptions: u32,
    /// The create phase, while the deliveries go out.
    pub create: Phase,
    /// Deliveries the creates made: leads created times subscriptions.
    pub deliveries: u64,
    /// Deliveries not yet received when the load stopped.
    pub backlog_at_end: u64,
    /// From the end of the load until the last delivery arrived (within [`DRAIN_LIMIT`]).
    pub drain_seconds: f64,
    /// Deliveries not received by the end of the wait ([`DRAIN_LIMIT`], or [`QUIET`] without
    /// one): still pending, or failed without an attempt as beyond their subscription's bound.
    pub left_undelivered: u64,
    /// Deliveries received a second, from the start of the load to the last arrival (or to
    /// the end of the wait).
    pub deliveries_per_second: f64,
    /// How fast the backlog drained once the load stopped, if there was one worth timing.
    pub drained: Option<Drained>,
    /// Connections the server opened to the receiver for them.
    pub receiver_connections: u64,
    /// What the outbox holds afterwards: events, their bodies' mean size as sent and as
    /// stored (deflated), delivery rows with the bytes of the deliveries table's pages per row
    /// (SQLite's `dbstat`), the same of the attempts each delivery keeps (one an attempt, all
    /// of them first attempts here), and the pages of every outbox table and index.
    pub events: u64,
    pub event_sent_bytes: f64,
    pub event_stored_bytes: f64,
    pub delivery_rows: u64,
    pub delivery_row_bytes: Option<f64>,
    pub attempt_rows: u64,
    pub attempt_row_bytes: Option<f64>,
    pub outbox_bytes: Option<f64>,
}

/// How long without a delivery ends the wait: the rest of the backlog is not coming (the
/// server failed what exceeded a subscription's bound of pending deliveries, 10,000, without
/// an attempt), and waiting for it would count the wait as draining time.
const QUIET: Duration = Duration::from_secs(3);

/// The smallest backlog whose drain is timed: a smaller one is gone within the bench's 20 ms
/// polls, which would time the polls.
const TIMED_BACKLOG: u64 = 2_000;

/// Deliveries a second while the backlog drained after the load: over the whole drain, and
/// over its first and second halves (by deliveries), which would differ if the worker's
/// cost grew with the backlog.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Drained {
    pub per_second: f64,
    pub first_half_per_second: f64,
    pub second_half_per_second: f64,
}

impl Drained {
    /// From the drain's progress (when, how many had arrived), the first entry when the load
    /// stopped; `None` for a drain of under [`TIMED_BACKLOG`].
    fn of(progress: &[(Duration, u64)]) -> Option<Drained> {
        let (&(_, at_end), &(drain, received)) = (progress.first()?, progress.last()?);
        let drained = received.checked_sub(at_end)?;
        if drained < TIMED_BACKLOG {
            return None;
        }
        let half = at_end + drained / 2;
        let &(half_drained, at_half) = progress.iter().find(|(_, count)| *count >= half)?;
        let rate = |count: u64, time: Duration| count as f64 / time.as_secs_f64().max(1e-3);
        Some(Drained {
            per_second: rate(drained, drain),
            first_half_per_second: rate(at_half - at_end, half_drained),
            second_half_per_second: rate(received - at_half, drain.saturating_sub(half_drained)),
        })
    }
}

/// Runs every subscription count against `server`, whose database is `database`, then the
/// largest lead's patches ([`largest`]); `keys` are the keys of one organization per count,
/// in [`SUBSCRIPTIONS`] order, then one for the largest lead.
pub async fn measure(
    server: SocketAddr,
    database: &Path,
    keys: &[String],
    load: Load,
) -> Result<(Vec<WebhooksRun>, LargestLead)> {
    let receiver = Receiver::start().await?;
    let mut runs = Vec::new();
    for (count, key) in SUBSCRIPTIONS.into_iter().zip(keys) {
        let api = Api::new(server, key)?;
        for n in 0..count {
            let target = format!("http://{}/hook/{count}/{n}", receiver.address);
            api.subscribe("lead.created", &target).await?;
        }
        receiver.received.store(0, Ordering::SeqCst);
        receiver.connections.store(0, Ordering::SeqCst);
        let started = Instant::now();
        let name = format!("create, {count} subscription(s)");
        let create = scenario::create_only(&api, load, &name).await?;
        let created = create.summary.requests - create.summary.failures.values().sum::<u64>();
        let deliveries = created * u64::from(count);
        let at_end = receiver.received.load(Ordering::SeqCst);
        let stopped = Instant::now();
        // How many had arrived, each time more had: the drain's progress.
        let mut progress = vec![(Duration::ZERO, at_end)];
        let mut last_arrival = Duration::ZERO;
        loop {
            let waited = stopped.elapsed();
            let received = receiver.received.load(Ordering::SeqCst);
            if received >= deliveries || waited >= DRAIN_LIMIT || waited - last_arrival >= QUIET {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            let now = receiver.received.load(Ordering::SeqCst);
            if progress.last().is_some_and(|(_, before)| now > *before) {
                last_arrival = stopped.elapsed();
                progress.push((last_arrival, now));
            }
        }
        let received = receiver.received.load(Ordering::SeqCst);
        let drain = if deliveries > at_end {
            last_arrival
        } else {
            Duration::ZERO
        };
        let total = (stopped - started + drain).as_secs_f64();
        let drained = Drained::of(&progress);
        let connections = receiver.connections.load(Ordering::SeqCst);
        let outbox = Outbox::read(database)?;
        println!(
            "bench: {count:>2} subscription(s): {:.0} creates/s, {deliveries} deliveries, \
             {} pending when the load stopped, {} left {:.1} s later, over {connections} \
             connection(s) to the receiver",
            create.summary.per_second,
            deliveries.saturating_sub(at_end),
            deliveries.saturating_sub(received),
            drain.as_secs_f64()
        );
        runs.push(WebhooksRun {
            subscriptions: count,
            create,
            deliveries,
            backlog_at_end: deliveries.saturating_sub(at_end),
            drain_seconds: drain.as_secs_f64(),
            left_undelivered: deliveries.saturating_sub(received),
            deliveries_per_second: received as f64 / total,
            drained,
            receiver_connections: connections,
            events: outbox.events,
            event_sent_bytes: outbox.event_sent_bytes,
            event_stored_bytes: outbox.event_stored_bytes,
            delivery_rows: outbox.deliveries.rows,
            delivery_row_bytes: outbox.deliveries.bytes_per_row,
            attempt_rows: outbox.attempts.rows,
            attempt_row_bytes: outbox.attempts.bytes_per_row,
            outbox_bytes: outbox.total_bytes,
        });
    }
    let key = keys
        .get(SUBSCRIPTIONS.len())
        .context("no key for the largest lead")?;
    let target = format!("http://{}/hook/largest", receiver.address);
    let largest = largest::measure(&Api::new(server, key)?, database, &target).await?;
    Ok((runs, largest))
}

/// A webhook receiver on a loopback port: answers every request `200` with no body at once,
/// and counts them.
struct Receiver {
    address: SocketAddr,
    received: Arc<AtomicU64>,
    /// Connections accepted: few, if the server reuses its connections.
    connections: Arc<AtomicU64>,
}

impl Receiver {
    async fn start() -> Result<Receiver> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the webhook receiver")?;
        let address = listener.local_addr()?;
        let received = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&received);
        let connections = Arc::new(AtomicU64::new(0));
        let accepted = Arc::clone(&connections);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                accepted.fetch_add(1, Ordering::SeqCst);
                let counter = Arc::clone(&counter);
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<Incoming>| {
                        let counter = Arc::clone(&counter);
                        async move {
                            // Read the whole body, as a receiver that checks signatures does.
                            let _ = request.into_body().collect().await;
                            counter.fetch_add(1, Ordering::SeqCst);
                            Ok::<_, Infallible>(
                                Response::builder()
                                    .status(StatusCode::OK)
                                    .body(Full::new(Bytes::new()))
                                    .unwrap_or_default(),
                            )
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Receiver {
            address,
            received,
            connections,
        })
    }
}
