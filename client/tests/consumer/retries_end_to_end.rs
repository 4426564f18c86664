//! The client's retries against the real server in-process, with the faults they exist for:
//! an answer lost after the create committed (a dropped connection), and `429`s. Each ends
//! with exactly one lead.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use leads_client::{Client, types};
use leads_server::ratelimit::Limits;
use leads_server::testing::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A TCP proxy in front of `upstream` that, when told to, swallows the next answer coming
/// back and closes the connection: the server did the work, the client never hears of it.
struct LossyProxy {
    address: String,
    lose_next_answer: Arc<AtomicBool>,
}

impl LossyProxy {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let address = format!("http://{}", listener.local_addr().expect("an address"));
        let lose_next_answer = Arc::new(AtomicBool::new(false));
        let lose = Arc::clone(&lose_next_answer);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let lose = Arc::clone(&lose);
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(&upstream).await {
                        relay(client, server, lose).await;
                    }
                });
            }
        });
        Self {
            address,
            lose_next_answer,
        }
    }

    fn lose_next_answer(&self) {
        self.lose_next_answer.store(true, Ordering::SeqCst);
    }
}

/// Copies bytes both ways until either side closes; an answer arriving while `lose` is set is
/// dropped with both connections.
async fn relay(client: TcpStream, server: TcpStream, lose: Arc<AtomicBool>) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let requests = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
    });
    let mut buffer = vec![0; 64 * 1024];
    loop {
        match server_read.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(_) if lose.swap(false, Ordering::SeqCst) => break,
            Ok(read) => {
                if client_write.write_all(&buffer[..read]).await.is_err() {
                    break;
                }
            }
        }
    }
    requests.abort();
}

/// How many leads of the server's organization have `email`.
async fn leads_with(client: &Client, email: &str) -> usize {
    let page = client.lead_list().limit(100).send().await.expect("a page");
    page.data
        .iter()
        .filter(|lead| lead.email.as_str() == email)
        .count()
}

fn new_lead(email: &str) -> types::builder::LeadCreate {
    types::LeadCreate::builder().email(email)
}

#[tokio::test]
async fn a_create_whose_answer_was_lost_is_retried_into_one_lead() {
    let server = TestServer::start().await.expect("a server");
    let upstream = server.base_url().trim_start_matches("http://").to_string();
    let proxy = LossyProxy::start(upstream).await;
    let client = Client::with_api_key(&proxy.address, server.api_key()).expect("a client");

    proxy.lose_next_answer();
    let created = client
        .lead_create()
        .body(new_lead("lost.answer@example.com"))
        .send()
        .await
        .expect("created, on the retry");

    assert_eq!(
        created.headers()["idempotent-replayed"],
        "true",
        "the retry got the first answer, kept by the server"
    );
    assert_eq!(leads_with(&client, "lost.answer@example.com").await, 1);
}

#[tokio::test]
async fn a_rate_limited_create_is_retried_after_the_wait_into_one_lead() {
    // 120 a minute: one request back every half second, so `Retry-After` is 1 s.
    let limits = Limits {
        per_key: 120,
        ..Limits::default()
    };
    let server = TestServer::builder()
        .rate_limits(limits)
        .start()
        .await
        .expect("a server");
    let client = Client::with_api_key(server.base_url(), server.api_key()).expect("a client");
    let unretrying = client
        .clone()
        .with_retry_policy(leads_client::RetryPolicy::none());
    while unretrying.lead_list().send().await.is_ok() {}

    let created = client
        .lead_create()
        .body(new_lead("rate.limited@example.com"))
        .send()
        .await
        .expect("created after the wait");

    assert_eq!(created.status(), 201);
    assert!(
        created.headers().get("idempotent-replayed").is_none(),
        "the 429 created nothing"
    );
    assert_eq!(leads_with(&client, "rate.limited@example.com").await, 1);
}
