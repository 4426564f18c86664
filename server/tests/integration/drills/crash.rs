//! Idempotent creates across a crash: 32 clients create leads, sending every create three
//! times with its one `Idempotency-Key` (and again while the server cannot be reached),
//! while the server is killed with `SIGKILL` and restarted on its database. In the end each
//! key has exactly one lead, and every lead a client was told of (a `201`) is there, with the
//! id it was told.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::Server;

const CLIENTS: usize = 32;
/// Every create is sent this many times, as a client retrying after lost answers would.
const SENDS_PER_CREATE: usize = 3;

/// What the clients saw.
#[derive(Default)]
struct Tally {
    requests: AtomicUsize,
    replays: AtomicUsize,
    unreachable: AtomicUsize,
}

#[ignore = "a drill, seconds long: `cargo test -p leads-server --test integration -- --ignored drills`"]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_survive_a_kill_and_a_restart() {
    let _alone = crate::ONE_AT_A_TIME.lock().await;
    let (mut server, keys) = Server::start(crate::NO_LIMITS, &["crash"]);
    let key = keys[0].clone();
    let base = format!("http://{}", server.address);
    let http = crate::http_client(Duration::from_secs(5));
    let running = Arc::new(AtomicBool::new(true));
    let tally = Arc::new(Tally::default());
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let (http, base, key) = (http.clone(), base.clone(), key.clone());
            let (running, tally) = (Arc::clone(&running), Arc::clone(&tally));
            tokio::spawn(async move {
                create_until_stopped(client, http, base, key, running, tally).await
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.kill();
    let down = Instant::now();
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.restart();
    let downtime = down.elapsed();
    tokio::time::sleep(Duration::from_millis(2000)).await;
    running.store(false, Ordering::SeqCst);

    // Key → the lead id of every 201 it got.
    let mut acknowledged: HashMap<String, Vec<String>> = HashMap::new();
    let mut keys_sent = 0;
    for client in clients {
        let (sent, answers) = client.await.expect("a client");
        keys_sent += sent;
        for (key, ids) in answers {
            acknowledged.entry(key).or_default().extend(ids);
        }
    }
    let stored = every_lead(&http, &base, &key).await;
    let mut leads_per_email: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for lead in &stored {
        let email = lead["email"].as_str().expect("an email");
        leads_per_email
            .entry(email)
            .or_default()
            .push(lead["id"].as_str().expect("an id"));
    }
    println!(
        "crash: {CLIENTS} clients, {keys_sent} creates each sent {SENDS_PER_CREATE} times \
         ({} requests, {} answered as replays, {} unanswered while the server was down or \
         dying); killed with SIGKILL after 1.5 s, serving again {:.0} ms later; {} creates \
         acknowledged, {} leads stored",
        tally.requests.load(Ordering::Relaxed),
        tally.replays.load(Ordering::Relaxed),
        tally.unreachable.load(Ordering::Relaxed),
        downtime.as_secs_f64() * 1000.0,
        acknowledged.len(),
        stored.len(),
    );
    for (email, ids) in &leads_per_email {
        assert_eq!(ids.len(), 1, "one lead per key: {email} has {ids:?}");
    }
    for (key, ids) in &acknowledged {
        let stored = leads_per_email
            .get(email_of(key).as_str())
            .unwrap_or_else(|| panic!("the acknowledged lead of {key} is lost"));
        for id in ids {
            assert_eq!(id, stored[0], "{key}: every 201 names the stored lead");
        }
    }
    assert!(acknowledged.len() > CLIENTS, "the clients got work done");
    assert!(
        tally.unreachable.load(Ordering::Relaxed) > 0,
        "the kill happened mid-run"
    );
}

fn email_of(key: &str) -> String {
    format!("{key}@crash.example.com")
}

/// One client: creates leads one after another until stopped, sending each create
/// [`SENDS_PER_CREATE`] times (and again while unanswered). How many creates it began, and
/// the lead ids its `201`s named, by key.
async fn create_until_stopped(
    client: usize,
    http: reqwest::Client,
    base: String,
    api_key: String,
    running: Arc<AtomicBool>,
    tally: Arc<Tally>,
) -> (usize, HashMap<String, Vec<String>>) {
    let mut acknowledged: HashMap<String, Vec<String>> = HashMap::new();
    let mut sent = 0;
    while running.load(Ordering::SeqCst) {
        let key = format!("c{client}-{sent}");
        sent += 1;
        let body = json!({"email": email_of(&key)});
        let mut sends = 0;
        while sends < SENDS_PER_CREATE && running.load(Ordering::SeqCst) {
            tally.requests.fetch_add(1, Ordering::Relaxed);
            let answer = http
                .post(format!("{base}/v1/leads"))
                .bearer_auth(&api_key)
                .header("idempotency-key", &key)
                .json(&body)
                .send()
                .await;
            let answer = match answer {
                Ok(answer) => answer,
                Err(_) => {
                    // Down or dying: the same create again, shortly.
                    tally.unreachable.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            };
            sends += 1;
            let status = answer.status();
            if answer.headers().contains_key("idempotent-replayed") {
                tally.replays.fetch_add(1, Ordering::Relaxed);
            }
            let body: Value = answer.json().await.unwrap_or(Value::Null);
            assert_eq!(status, 201, "{key}: {body}");
            let id = body["data"]["id"].as_str().expect("an id").to_string();
            acknowledged.entry(key.clone()).or_default().push(id);
        }
    }
    (sent, acknowledged)
}

/// Every lead of the key's organization, page by page.
async fn every_lead(http: &reqwest::Client, base: &str, key: &str) -> Vec<Value> {
    crate::every_item(http, &format!("{base}/v1/leads"), key).await
}
