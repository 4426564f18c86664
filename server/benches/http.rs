//! Throughput and latency of the server over HTTP on this machine: `cargo bench -p
//! leads-server`. A server starts in-process on a temporary database (rate limits out of the
//! way); concurrent clients then create, read and list leads for a few seconds each, and the
//! figures are printed. Nothing here asserts a speed: the numbers are for the record.

use std::sync::Arc;
use std::time::{Duration, Instant};

use leads_server::testing::TestServer;
use serde_json::{Value, json};

const CLIENTS: usize = 32;
const PHASE: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() {
    let server = TestServer::builder()
        .unlimited()
        .start()
        .await
        .expect("the server starts");
    let base = Arc::new(server.base_url().to_string());
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(CLIENTS)
        .build()
        .expect("an HTTP client");
    let key = Arc::new(server.api_key().to_string());

    println!(
        "{CLIENTS} concurrent clients, {} s per phase",
        PHASE.as_secs()
    );
    let ids = phase(
        "create (POST /v1/leads)",
        &http,
        &base,
        &key,
        |http, base, key, n| {
            let body = json!({"email": format!("bench{n}@example.com"),
                          "metadata": {"utmSource": "bench", "landing": "a"}});
            http.post(format!("{base}/v1/leads"))
                .bearer_auth(key)
                .json(&body)
        },
    )
    .await;
    let ids = Arc::new(ids);
    phase(
        "view (GET /v1/leads/{id})",
        &http,
        &base,
        &key,
        move |http, base, key, n| {
            let id = ids[n % ids.len()].clone();
            http.get(format!("{base}/v1/leads/{id}")).bearer_auth(key)
        },
    )
    .await;
    phase(
        "list (GET /v1/leads?limit=50)",
        &http,
        &base,
        &key,
        |http, base, key, _| {
            http.get(format!("{base}/v1/leads?limit=50"))
                .bearer_auth(key)
        },
    )
    .await;
    println!("peak resident memory of the process: {}", peak_memory());
    server.stop().await.expect("the server stops");
}

/// Runs `request` from [`CLIENTS`] tasks for [`PHASE`]; prints throughput and latency, and
/// returns the ids of created leads (if the answers carry any).
async fn phase<F>(
    name: &str,
    http: &reqwest::Client,
    base: &Arc<String>,
    key: &Arc<String>,
    request: F,
) -> Vec<String>
where
    F: Fn(&reqwest::Client, &str, &str, usize) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    let request = Arc::new(request);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for client in 0..CLIENTS {
        let (http, base, key, request) = (http.clone(), base.clone(), key.clone(), request.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut ids = Vec::new();
            let mut n = client * 1_000_000;
            while started.elapsed() < PHASE {
                let sent = Instant::now();
                let response = request(&http, &base, &key, n)
                    .send()
                    .await
                    .expect("an answer");
                assert!(response.status().is_success(), "{}", response.status());
                let body: Value = response.json().await.expect("JSON");
                latencies.push(sent.elapsed());
                if let Some(id) = body["data"]["id"].as_str() {
                    ids.push(id.to_string());
                }
                n += 1;
            }
            (latencies, ids)
        }));
    }
    let mut latencies = Vec::new();
    let mut ids = Vec::new();
    for task in tasks {
        let (task_latencies, task_ids) = task.await.expect("a client task");
        latencies.extend(task_latencies);
        ids.extend(task_ids);
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    println!(
        "{name:32} {:>8.0} req/s   p50 {:>7.2?}   p99 {:>7.2?}   ({} requests)",
        latencies.len() as f64 / elapsed,
        at(0.50),
        at(0.99),
        latencies.len()
    );
    ids
}

fn peak_memory() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmHWM:"))
                .map(|line| line.trim_start_matches("VmHWM:").trim().to_string())
        })
        .unwrap_or_else(|| "unknown".to_string())
}
