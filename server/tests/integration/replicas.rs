//! Two `leads-server` processes on one PostgreSQL database, as replicas behind a load
//! balancer are, with requests alternating between them: what one replica does, the other
//! must see at once (a revocation, as soon as its notification arrives), and a limit must hold
//! across both.
//!
//! Each test gets a database of its own in the server `LEADS_TEST_POSTGRES_URL` names (see
//! `leads_server::testing::postgres`); built without that variable, they are ignored.

use std::collections::HashSet;
use std::ffi::OsString;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use leads_server::testing::postgres::ScratchDatabase;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{NO_LIMITS, Server, cli, create_keys};

/// Two replicas on a new database, each started with `serve_args`, and a key of the
/// organization `replicas`.
struct Replicas {
    servers: [Server; 2],
    key: String,
    http: reqwest::Client,
    /// Dropped last: the servers' connections go first.
    _database: ScratchDatabase,
}

impl Replicas {
    async fn start(serve_args: &[&str]) -> Replicas {
        let database = crate::scratch_database().await;
        let url = OsString::from(database.url());
        // The first key migrates the new database; both replicas then start on it at once.
        let key = create_keys(&url, &["replicas"]).remove(0);
        let (a, b) = std::thread::scope(|scope| {
            let a = scope.spawn(|| Server::on(url.clone(), serve_args));
            let b = scope.spawn(|| Server::on(url.clone(), serve_args));
            (a.join().expect("replica a"), b.join().expect("replica b"))
        });
        let http = crate::http_client(Duration::from_secs(10));
        Replicas {
            servers: [a, b],
            key,
            http,
            _database: database,
        }
    }

    /// The replica the `n`th request goes to: each in turn.
    fn base(&self, n: usize) -> String {
        format!("http://{}", self.servers[n % 2].address)
    }

    fn database(&self) -> &OsString {
        &self.servers[0].database
    }

    async fn create(&self, n: usize, key: &str, email: &str) -> (StatusCode, Value) {
        let response = self
            .http
            .post(format!("{}/v1/leads", self.base(n)))
            .bearer_auth(key)
            .json(&json!({ "email": email }))
            .send()
            .await
            .expect("an answer");
        let status = response.status();
        (status, response.json().await.expect("a JSON body"))
    }

    async fn get(&self, n: usize, key: &str, path_and_query: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path_and_query}", self.base(n)))
            .bearer_auth(key)
            .send()
            .await
            .expect("an answer")
    }
}

#[cfg_attr(
    not(leads_postgres),
    ignore = "needs PostgreSQL: set LEADS_TEST_POSTGRES_URL"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_200_concurrent_creates_with_one_email_exactly_one_succeeds() {
    let _alone = crate::ONE_AT_A_TIME.lock().await;
    let replicas = Replicas::start(NO_LIMITS).await;
    let replicas = Arc::new(replicas);
    let creates: Vec<_> = (0..200)
        .map(|n| {
            let replicas = Arc::clone(&replicas);
            tokio::spawn(async move {
                let key = replicas.key.clone();
                replicas.create(n, &key, "Same.Person@Example.com").await
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for create in creates {
        let (status, body) = create.await.expect("no panic");
        if status == StatusCode::CONFLICT {
            assert_eq!(body["code"], "CONFLICT", "{body}");
        }
        statuses.push(status);
    }
    let created = statuses
        .iter()
        .filter(|status| **status == StatusCode::CREATED)
        .count();
    let refused = statuses
        .iter()
        .filter(|status| **status == StatusCode::CONFLICT)
        .count();
    assert_eq!((created, refused), (1, 199), "{statuses:?}");
    let page: Value = replicas
        .get(0, &replicas.key, "/v1/leads?limit=100")
        .await
        .json()
        .await
        .expect("a page");
    assert_eq!(page["data"].as_array().map(Vec::len), Some(1), "{page}");
}

#[cfg_attr(
    not(leads_postgres),
    ignore = "needs PostgreSQL: set LEADS_TEST_POSTGRES_URL"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_walk_through_the_pages_sees_every_lead_once_while_the_other_replica_inserts() {
    let _alone = crate::ONE_AT_A_TIME.lock().await;
    let replicas = Replicas::start(NO_LIMITS).await;
    let replicas = Arc::new(replicas);
    let mut seeded = HashSet::new();
    for n in 0..300 {
        let (status, body) = replicas
            .create(n, &replicas.key, &format!("seed-{n}@example.com"))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        seeded.insert(body["data"]["id"].as_str().expect("an id").to_string());
    }
    // Inserts through replica b for as long as the walk lasts.
    let walking = Arc::new(AtomicBool::new(true));
    let inserting = {
        let (replicas, walking) = (Arc::clone(&replicas), Arc::clone(&walking));
        tokio::spawn(async move {
            let mut inserted = 0;
            while walking.load(Ordering::SeqCst) {
                let email = format!("during-{inserted}@example.com");
                let (status, body) = replicas.create(1, &replicas.key, &email).await;
                assert_eq!(status, StatusCode::CREATED, "{body}");
                inserted += 1;
            }
            inserted
        })
    };
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for page_number in 0.. {
        // Each page through the other replica than the last.
        let query = match &cursor {
            Some(cursor) => format!("/v1/leads?limit=50&cursor={cursor}"),
            None => "/v1/leads?limit=50".to_string(),
        };
        let page: Value = replicas
            .get(page_number, &replicas.key, &query)
            .await
            .json()
            .await
            .expect("a page");
        for lead in page["data"].as_array().expect("data") {
            seen.push(lead["id"].as_str().expect("an id").to_string());
        }
        // Slow enough that inserts land between pages.
        tokio::time::sleep(Duration::from_millis(20)).await;
        match page["pagination"]["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    walking.store(false, Ordering::SeqCst);
    let inserted = inserting.await.expect("no panic");
    assert!(inserted > 0, "nothing was inserted during the walk");
    let unique: HashSet<_> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "a lead was seen twice");
    let seen_seeded = unique.intersection(&seeded).count();
    assert_eq!(seen_seeded, seeded.len(), "a lead was skipped");
}

#[cfg_attr(
    not(leads_postgres),
    ignore = "needs PostgreSQL: set LEADS_TEST_POSTGRES_URL"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keys_rate_limit_holds_across_both_replicas() {
    let _alone = crate::ONE_AT_A_TIME.lock().await;
    // 10 a minute: one refills every 6 s, longer than the test's 20 requests take.
    let replicas = Replicas::start(&[
        "--rate-limit-per-key",
        "10",
        "--unfamiliar-keys-per-address",
        "0",
    ])
    .await;
    let mut remaining = Vec::new();
    let mut refused = 0;
    for n in 0..20 {
        let response = replicas.get(n, &replicas.key, "/v1/leads?limit=1").await;
        match response.status() {
            StatusCode::OK => remaining.push(
                response.headers()["x-ratelimit-remaining"]
                    .to_str()
                    .expect("a number")
                    .to_string(),
            ),
            StatusCode::TOO_MANY_REQUESTS => {
                assert!(response.headers().contains_key("retry-after"));
                refused += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(
        remaining,
        ["9", "8", "7", "6", "5", "4", "3", "2", "1", "0"],
        "one count, whichever replica answers"
    );
    assert_eq!(refused, 10);
}

#[cfg_attr(
    not(leads_postgres),
    ignore = "needs PostgreSQL: set LEADS_TEST_POSTGRES_URL"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_revoked_through_one_replica_is_refused_by_the_other() {
    let _alone = crate::ONE_AT_A_TIME.lock().await;
    let replicas = Replicas::start(NO_LIMITS).await;
    let doomed = cli(
        replicas.database(),
        &["keys", "create", "--org", "replicas"],
    );
    for n in 0..2 {
        let status = replicas.get(n, &doomed, "/v1/leads?limit=1").await.status();
        assert_eq!(status, StatusCode::OK, "replica {n} knows the key");
    }
    cli(replicas.database(), &["keys", "revoke", &doomed[..21]]);
    // A replica that remembers the key forgets it when the revocation's notification
    // arrives, milliseconds after the commit: asked until then, for 10 s at most.
    for n in 0..2 {
        let mut status = StatusCode::OK;
        for _ in 0..200 {
            status = replicas.get(n, &doomed, "/v1/leads?limit=1").await.status();
            if status != StatusCode::OK {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(status, StatusCode::UNAUTHORIZED, "replica {n} refuses it");
    }
    let status = replicas
        .get(0, &replicas.key, "/v1/leads?limit=1")
        .await
        .status();
    assert_eq!(status, StatusCode::OK, "other keys still work");
}
