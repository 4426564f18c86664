//! The load generator: `connections` tasks, each with its own HTTP/1.1 keep-alive
//! connection (hyper's connection API, nothing pooled or shared), sending one request at a
//! time for a fixed time and recording each answer's latency in an HDR histogram.
//!
//! Every task connects before the clock starts (a barrier releases them together), and the
//! phase lasts until the last task's last answer, so throughput counts only time spent
//! answering. An answer that is not 2xx, or a request that gets no answer, is a failure,
//! counted by status; a broken connection is reopened.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bytes::Bytes;
use hdrhistogram::Histogram;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::Barrier;

/// Which request a task sends next: the task's number and its count of requests so far.
#[derive(Clone, Copy, Debug)]
pub struct Turn {
    pub task: usize,
    pub n: u64,
}

/// Builds each request of a phase.
pub type MakeRequest = Arc<dyn Fn(Turn) -> Result<Request<Full<Bytes>>> + Send + Sync>;

/// Reads what a phase keeps of a successful answer's body (the id of a created lead, say).
pub type Keep = fn(&[u8]) -> Option<String>;

/// What one phase measured.
pub struct Measured {
    /// Latency of every answer, in microseconds.
    pub latencies: Histogram<u64>,
    /// Answers received, failures included.
    pub answers: u64,
    /// Failures by kind: an HTTP status, or `no answer`.
    pub failures: BTreeMap<String, u64>,
    /// From the moment all tasks start to the last answer.
    pub elapsed: Duration,
    /// What [`Keep`] kept, from every task.
    pub kept: Vec<String>,
}

impl Measured {
    fn empty() -> Result<Self> {
        Ok(Measured {
            latencies: histogram()?,
            answers: 0,
            failures: BTreeMap::new(),
            elapsed: Duration::ZERO,
            kept: Vec::new(),
        })
    }
}

/// The highest latency the histograms hold (longer ones are recorded as this): one minute.
const MAX_LATENCY_MICROS: u64 = 60_000_000;

/// A histogram of latencies in microseconds, 3 significant digits.
pub fn histogram() -> Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, MAX_LATENCY_MICROS, 3).context("creating a histogram")
}

/// Runs `connections` tasks against `address` for `duration`, each sending what `request`
/// builds, one at a time.
pub async fn run(
    address: SocketAddr,
    connections: usize,
    duration: Duration,
    request: MakeRequest,
    keep: Option<Keep>,
) -> Result<Measured> {
    let barrier = Arc::new(Barrier::new(connections + 1));
    let mut tasks = Vec::with_capacity(connections);
    for task in 0..connections {
        let sender = connect(address)
            .await
            .with_context(|| format!("opening connection {task} to {address}"))?;
        let (barrier, request) = (Arc::clone(&barrier), Arc::clone(&request));
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            drive(address, sender, task, duration, &*request, keep).await
        }));
    }
    barrier.wait().await;
    let started = Instant::now();
    let mut measured = Measured::empty()?;
    for task in tasks {
        let part = task.await.context("a load task panicked")??;
        measured
            .latencies
            .add(&part.latencies)
            .context("merging histograms")?;
        measured.answers += part.answers;
        for (kind, count) in part.failures {
            *measured.failures.entry(kind).or_default() += count;
        }
        measured.kept.extend(part.kept);
    }
    measured.elapsed = started.elapsed();
    Ok(measured)
}

/// One task: requests back to back on its connection until `duration` has passed.
async fn drive(
    address: SocketAddr,
    mut sender: SendRequest<Full<Bytes>>,
    task: usize,
    duration: Duration,
    request: &(dyn Fn(Turn) -> Result<Request<Full<Bytes>>> + Send + Sync),
    keep: Option<Keep>,
) -> Result<Measured> {
    let mut measured = Measured::empty()?;
    let deadline = Instant::now() + duration;
    let mut n = 0;
    while Instant::now() < deadline {
        let next = request(Turn { task, n })?;
        n += 1;
        let sent = Instant::now();
        match exchange(&mut sender, next).await {
            Ok((status, body)) => {
                let micros = u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX);
                measured.latencies.saturating_record(micros.max(1));
                measured.answers += 1;
                if !status.is_success() {
                    *measured.failures.entry(status.to_string()).or_default() += 1;
                } else if let Some(id) = keep.and_then(|keep| keep(&body)) {
                    measured.kept.push(id);
                }
            }
            Err(_) => {
                *measured.failures.entry("no answer".into()).or_default() += 1;
                match connect(address).await {
                    Ok(reopened) => sender = reopened,
                    Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                }
            }
        }
    }
    Ok(measured)
}

/// Opens one HTTP/1.1 connection; its driver runs as a task of its own until it closes.
async fn connect(address: SocketAddr) -> Result<SendRequest<Full<Bytes>>> {
    let stream = TcpStream::connect(address).await?;
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        // It ends when the connection closes; a broken one shows as a failed request.
        let _ = connection.await;
    });
    Ok(sender)
}

/// Sends one request and reads its whole answer.
async fn exchange(
    sender: &mut SendRequest<Full<Bytes>>,
    request: Request<Full<Bytes>>,
) -> Result<(StatusCode, Bytes)> {
    sender.ready().await?;
    let response = sender.send_request(request).await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, body))
}

/// One request on a connection of its own, outside any phase: to check an answer.
pub async fn fetch(
    address: SocketAddr,
    request: Request<Full<Bytes>>,
) -> Result<(StatusCode, Bytes)> {
    let mut sender = connect(address).await?;
    exchange(&mut sender, request).await
}
