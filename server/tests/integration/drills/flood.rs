//! The connection flood: 1,000 connections that send nothing and 1,000 that send only the
//! HTTP/2 preface, from 20 loopback addresses, held (and opened again when closed) against a
//! server limited to 1,024 descriptors, while a normal client reads and writes. No key is
//! needed for any of it. It fails unless
//!
//! - every request of the normal client succeeds, none answered 5xx, with p99 under 1 s;
//! - every flooding connection the server let in is closed within the first-request
//!   deadline (or earlier, to make room for a newer one), and the others are answered `503`;
//! - the server never holds more descriptors than its limit.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;

use crate::Server;

/// The server's descriptor limit, soft and hard.
const DESCRIPTORS: u64 = 1024;

/// The server's first-request deadline.
const FIRST_REQUEST_SECS: u64 = 2;

/// Flooding connections of each kind, and the addresses they come from.
const PER_KIND: usize = 1000;
const ADDRESSES_PER_KIND: u8 = 10;

/// How long the flood lasts.
const FLOOD: Duration = Duration::from_secs(10);

/// What the HTTP/2-preface-only connections send.
const HTTP2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// How a flooding connection ended.
#[derive(Default)]
struct Outcomes {
    /// Answered `503` at once.
    refused: usize,
    /// Closed without an answer, and the longest such connection lived.
    closed: usize,
    longest: Duration,
    /// Anything else (an answer other than `503`, a connection not closed within 30 s).
    other: Vec<String>,
}

/// One flooding connection from `from`, held until the server closes it; what it received
/// and how long it lived.
async fn hold(
    server: std::net::SocketAddr,
    from: IpAddr,
    preface: bool,
) -> Result<(String, Duration), String> {
    let socket = TcpSocket::new_v4().map_err(|e| e.to_string())?;
    socket.bind((from, 0).into()).map_err(|e| e.to_string())?;
    let mut stream = socket
        .connect(server)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let opened = Instant::now();
    if preface {
        stream
            .write_all(HTTP2_PREFACE)
            .await
            .map_err(|e| e.to_string())?;
    }
    let mut received = Vec::new();
    match tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut received)).await {
        Ok(Ok(_)) => {}
        // A refusal may reset a connection that had sent the preface before it was read.
        Ok(Err(error)) if error.kind() == std::io::ErrorKind::ConnectionReset => {}
        Ok(Err(error)) => return Err(error.to_string()),
        Err(_) => return Err("not closed within 30 s".to_string()),
    }
    Ok((
        String::from_utf8_lossy(&received).into_owned(),
        opened.elapsed(),
    ))
}

/// Floods from `from` while `flooding`: each connection held until closed, then opened again.
async fn flood_from(
    server: std::net::SocketAddr,
    from: IpAddr,
    preface: bool,
    flooding: Arc<AtomicBool>,
) -> Outcomes {
    let mut outcomes = Outcomes::default();
    while flooding.load(Ordering::Relaxed) {
        match hold(server, from, preface).await {
            Ok((answer, _)) if answer.starts_with("HTTP/1.1 503 ") => outcomes.refused += 1,
            Ok((answer, lived)) if answer.is_empty() => {
                outcomes.closed += 1;
                outcomes.longest = outcomes.longest.max(lived);
            }
            Ok((answer, _)) => outcomes.other.push(answer.chars().take(80).collect()),
            Err(error) => outcomes.other.push(error),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    outcomes
}

fn open_descriptors(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |entries| entries.count())
}

#[ignore = "a drill, seconds long: `cargo test -p leads-server --test integration -- --ignored drills`"]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_flood() {
    let _alone = crate::ONE_AT_A_TIME.lock().await;
    let deadline = FIRST_REQUEST_SECS.to_string();
    let serve_args = [crate::NO_LIMITS, &["--first-request-timeout", &deadline]].concat();
    let (server, keys) =
        Server::start_with_descriptors(&serve_args, &["normal"], Some(DESCRIPTORS));
    let address: std::net::SocketAddr = server.address.parse().expect("an address");
    let base = format!("http://{address}");
    let key = keys[0].clone();

    let flooding = Arc::new(AtomicBool::new(true));
    let mut flooders = Vec::new();
    for (kind, preface) in [(1u8, false), (2, true)] {
        for host in 1..=ADDRESSES_PER_KIND {
            let from = IpAddr::V4(Ipv4Addr::new(127, 0, kind, host));
            for _ in 0..PER_KIND / usize::from(ADDRESSES_PER_KIND) {
                flooders.push(tokio::spawn(flood_from(
                    address,
                    from,
                    preface,
                    Arc::clone(&flooding),
                )));
            }
        }
    }

    // The normal client, from 127.0.0.1, while the flood lasts: a write, then a read.
    let http = crate::http_client(Duration::from_secs(10));
    let started = Instant::now();
    let (mut latencies, mut failures) = (Vec::new(), Vec::new());
    let mut most_descriptors = 0;
    let mut i = 0;
    while started.elapsed() < FLOOD {
        let sent = Instant::now();
        let answer = if i % 2 == 0 {
            http.post(format!("{base}/v1/leads"))
                .json(&json!({"email": format!("n{i}@example.com")}))
        } else {
            http.get(format!("{base}/v1/leads?limit=5"))
        }
        .bearer_auth(&key)
        .send()
        .await;
        latencies.push(sent.elapsed());
        match answer {
            Ok(answer) if answer.status().is_success() => {}
            Ok(answer) => failures.push(answer.status().to_string()),
            Err(error) => failures.push(format!("{error:?}")),
        }
        most_descriptors = most_descriptors.max(open_descriptors(server.pid()));
        i += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    flooding.store(false, Ordering::Relaxed);

    let mut total = Outcomes::default();
    for flooder in flooders {
        let outcomes = flooder.await.expect("a flooder");
        total.refused += outcomes.refused;
        total.closed += outcomes.closed;
        total.longest = total.longest.max(outcomes.longest);
        total.other.extend(outcomes.other);
    }
    latencies.sort();
    let p99 = latencies[(latencies.len() - 1) * 99 / 100];
    println!(
        "connection flood ({PER_KIND} silent, {PER_KIND} HTTP/2-preface-only, from {} addresses, \
         {} s, descriptor limit {DESCRIPTORS}): {} flooding connections closed without an answer \
         (the longest after {:.2} s; deadline {FIRST_REQUEST_SECS} s), {} refused with 503, {} \
         otherwise; normal client: {} requests, {} failed, p50 {:?}, p99 {p99:?}; the server \
         held at most {most_descriptors} descriptors",
        2 * ADDRESSES_PER_KIND,
        FLOOD.as_secs(),
        total.closed,
        total.longest.as_secs_f64(),
        total.refused,
        total.other.len(),
        latencies.len(),
        failures.len(),
        latencies[latencies.len() / 2],
    );
    assert!(
        failures.is_empty(),
        "the normal client's failures: {failures:?}"
    );
    assert!(p99 < Duration::from_secs(1), "p99 {p99:?}");
    assert!(total.closed > 0, "the flood reached the server");
    assert!(
        total.longest < Duration::from_secs(FIRST_REQUEST_SECS) + Duration::from_secs(1),
        "a flooding connection lived {:?}",
        total.longest
    );
    assert!(
        total.other.is_empty(),
        "unexpected: {:?}",
        &total.other[..total.other.len().min(5)]
    );
    assert!(most_descriptors <= DESCRIPTORS as usize);
}
