//! The receiver the delivery scenarios subscribe: a wiremock server on loopback that records
//! when each request came, and the server that may send to it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use leads_contract_tests::Env;
use leads_server::testing::TestServer;
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// A receiver on loopback that answers `status` to every `POST` and records when each came.
pub(super) struct Receiver {
    pub(super) server: MockServer,
    arrivals: Arc<Mutex<Vec<(String, Instant)>>>,
}

struct Recording {
    arrivals: Arc<Mutex<Vec<(String, Instant)>>>,
    answer: u16,
}

impl Respond for Recording {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        self.arrivals
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .push((request.url.path().to_string(), Instant::now()));
        ResponseTemplate::new(self.answer)
    }
}

impl Receiver {
    /// Answers `500` on paths starting with `/fail`, `200` elsewhere.
    pub(super) async fn start() -> Self {
        let server = MockServer::start().await;
        let arrivals = Arc::new(Mutex::new(Vec::new()));
        for (answer, matcher) in [(500, true), (200, false)] {
            let mock = Mock::given(method("POST"));
            let mock = if matcher {
                mock.and(path_regex("^/fail"))
            } else {
                mock.and(path_regex("^/[^f]"))
            };
            mock.respond_with(Recording {
                arrivals: Arc::clone(&arrivals),
                answer,
            })
            .mount(&server)
            .await;
        }
        Self { server, arrivals }
    }

    /// Answers `500` to the first `failures` `POST`s, whatever their path, and `200` to every
    /// one after: a receiver that is down, then back.
    pub(super) async fn failing_first(failures: u64) -> Self {
        let server = MockServer::start().await;
        let arrivals = Arc::new(Mutex::new(Vec::new()));
        // The lower number is tried first; once spent, the failing mock matches nothing.
        for (answer, priority, times) in [(500, 1, Some(failures)), (200, 2, None)] {
            let mock = Mock::given(method("POST"))
                .respond_with(Recording {
                    arrivals: Arc::clone(&arrivals),
                    answer,
                })
                .with_priority(priority);
            let mock = match times {
                Some(times) => mock.up_to_n_times(times),
                None => mock,
            };
            mock.mount(&server).await;
        }
        Self { server, arrivals }
    }

    pub(super) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.uri())
    }

    /// The requests received so far, once at least `count` have arrived (within 10 s).
    pub(super) async fn wait_for(&self, count: usize) -> Vec<Request> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let received = self.server.received_requests().await.unwrap_or_default();
            if received.len() >= count {
                return received;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {count} deliveries arrived within 10 s",
                received.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub(super) fn arrivals(&self, path: &str) -> Vec<Instant> {
        self.arrivals
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .iter()
            .filter(|(arrived, _)| arrived == path)
            .map(|(_, at)| *at)
            .collect()
    }
}

pub(super) async fn loopback_env() -> Env {
    Env::start_built(TestServer::builder().webhooks_to_loopback()).await
}
