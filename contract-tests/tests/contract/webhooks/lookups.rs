//! Name lookups of a new subscription's target that never end or find no free slot: the
//! request is answered in bounded time either way.

use std::sync::Arc;
use std::time::Duration;

use leads_client::types::WebhookEventType;
use leads_contract_tests::Env;
use leads_server::testing::TestServer;
use leads_server::webhooks::WebhookConfig;
use serde_json::json;

use super::{pin, subscribe};

/// Name lookups a scenario controls: one that never ends, or one that finds every lookup
/// slot taken.
#[derive(Debug)]
enum Lookup {
    Never,
    Busy,
}

impl leads_server::webhooks::target::Lookup for Lookup {
    fn lookup(
        &self,
        _host: &str,
    ) -> futures::future::BoxFuture<
        'static,
        Result<Vec<std::net::IpAddr>, leads_server::webhooks::target::LookupError>,
    > {
        match self {
            Lookup::Never => Box::pin(std::future::pending()),
            Lookup::Busy => {
                Box::pin(async { Err(leads_server::webhooks::target::LookupError::Busy) })
            }
        }
    }
}

/// A server whose name lookups are `lookup`, cut off after 200 ms.
async fn lookup_env(lookup: Lookup) -> Env {
    Env::start_built(TestServer::builder().webhooks(WebhookConfig {
        lookup: Some(Arc::new(lookup)),
        resolve_timeout: Duration::from_millis(200),
        ..WebhookConfig::default()
    }))
    .await
}

/// A name whose lookup never ends is answered `400` naming `target_url` once the lookup's
/// time is up (200 ms here, 5 s by default), and nothing is stored; while every lookup slot
/// is taken, a new subscription is answered `503` at once rather than queued.
pub(super) async fn a_slow_or_busy_name_lookup_holds_no_request_long() {
    let env = lookup_env(Lookup::Never).await;
    // Generous: only a server that never gives up on the lookup gets near it.
    let slow = tokio::time::timeout(
        Duration::from_secs(10),
        subscribe(
            &env,
            WebhookEventType::LeadCreated,
            "https://slow.example.com/",
        ),
    )
    .await
    .expect("the server gave up on the lookup");
    assert_eq!(slow.status, 400, "{slow:?}");
    pin("webhook_create_invalid_slow_lookup", &slow);
    let list = env
        .observe("webhook_list", env.a.client.webhook_list().send().await)
        .await;
    assert_eq!(list.data(), &json!([]));

    let env = lookup_env(Lookup::Busy).await;
    let busy = subscribe(
        &env,
        WebhookEventType::LeadCreated,
        "https://busy.example.com/",
    )
    .await;
    assert_eq!(busy.status, 503, "{busy:?}");
    assert_eq!(busy.body["code"], "SERVICE_UNAVAILABLE");
    assert!(busy.headers.contains_key("retry-after"), "{busy:?}");
}
