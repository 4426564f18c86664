//! How the store's connections are made, with the URL's TLS (`tls`): the pools that requests
//! borrow from, and connections of their own for what a pool cannot do (the key cache's
//! `LISTEN`, whose notifications arrive only to whoever drives the connection).

use std::pin::Pin;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use futures::Stream;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_postgres::{AsyncMessage, Client, Config, Connection, NoTls};

use super::tls::Tls;
use crate::store::StoreError;

/// How long a request waits for a pooled connection, and for a new one to be made, before it
/// fails rather than hang while the database is unreachable.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(10);

/// A pool of at most `size` connections made with `config` and `tls`, made as they are
/// needed.
pub(super) fn pool(config: Config, tls: &Tls, size: usize) -> Result<Pool, StoreError> {
    let manager_config = ManagerConfig {
        // A connection that died is replaced; one that lives is not probed on every
        // checkout, which would cost a round trip per request.
        recycling_method: RecyclingMethod::Fast,
    };
    let manager = match tls {
        Tls::Plain => Manager::from_config(config, NoTls, manager_config),
        Tls::Opportunistic(connector) | Tls::Verified(connector) => {
            Manager::from_config(config, connector.clone(), manager_config)
        }
    };
    Pool::builder(manager)
        .max_size(size)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(CONNECTION_TIMEOUT))
        .create_timeout(Some(CONNECTION_TIMEOUT))
        .build()
        .map_err(|error| StoreError::Internal(format!("building a pool: {error}")))
}

/// What a connection of its own sends unasked (notifications, notices) and its end. Polling
/// it is what drives the connection: its client's requests are answered only meanwhile.
pub(super) type Messages =
    Pin<Box<dyn Stream<Item = Result<AsyncMessage, tokio_postgres::Error>> + Send + 'static>>;

/// A connection of its own, outside the pools, made with `config` and `tls` as theirs are.
pub(super) async fn dedicated(
    config: &Config,
    tls: &Tls,
) -> Result<(Client, Messages), tokio_postgres::Error> {
    match tls {
        Tls::Plain => config.connect(NoTls).await.map(driven),
        Tls::Opportunistic(connector) | Tls::Verified(connector) => {
            config.connect(connector.clone()).await.map(driven)
        }
    }
}

/// `client`, and its `connection` as the stream of [`Messages`] that the caller drives.
fn driven<S, T>((client, mut connection): (Client, Connection<S, T>)) -> (Client, Messages)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let messages = futures::stream::poll_fn(move |context| connection.poll_message(context));
    (client, Box::pin(messages))
}
