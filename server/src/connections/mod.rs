//! The front door: every TCP connection to the server's address is accepted here, counted and
//! timed, before dropshot sees a byte of it.
//!
//! dropshot 0.18 owns its accept loop and offers no limit on connections, no deadline before
//! a connection's protocol is known and no idle timeout for HTTP/2, and it does not expose its
//! connection handler. So dropshot listens on a loopback port of its own, and the public
//! address is this module's. A connection is
//!
//! 1. let in or refused at once ([`admission`]): at most [`ConnectionLimits::max_connections`]
//!    in all (no more than the descriptor limit has room for, see [`descriptors`]) and
//!    [`ConnectionLimits::max_per_address`] per client address; a refused one is answered
//!    `503 SERVICE_UNAVAILABLE` in the envelope and closed;
//! 2. given [`ConnectionLimits::first_request_timeout`] to send the start of a request
//!    ([`first_request`]), or closed; while it has not, a newer connection may take its place;
//! 3. relayed to dropshot ([`relay`]), whose listener takes a burst as the public one does
//!    ([`backlog`]), until either side closes or nothing has crossed it for
//!    [`ConnectionLimits::idle_timeout`], whatever its protocol.
//!
//! dropshot sees every connection come from loopback; [`ClientAddresses`] tells the request
//! handlers which client each one relays.

mod admission;
mod backlog;
mod descriptors;
mod first_request;
mod relay;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use slog::{Logger, debug, info, warn};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout_at};

use crate::api::{ApiError, RETRY_AFTER_UNAVAILABLE};
use crate::error::{ConnectionBound, Error};
use crate::metrics::{Refusal as Counted, Refusals};
use admission::{Admission, Refusal, Ticket};

/// Connections the server holds at most by default.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// Connections one client address (an IPv6 client by its /64) holds at most by default.
pub const DEFAULT_MAX_PER_ADDRESS: usize = 128;
/// How long a new connection has by default to send the start of its first request.
pub const DEFAULT_FIRST_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a connection may carry nothing either way by default before it is closed.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// The bounds on connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Connections held at once; lowered at start to what the descriptor limit has room for.
    pub max_connections: usize,
    /// Connections one client address holds at once (an IPv6 client counts by its /64);
    /// `None` for no limit, behind a proxy that every client shares.
    pub max_per_address: Option<usize>,
    /// A connection that has not sent the start of a request this long after it was
    /// accepted is closed.
    pub first_request_timeout: Duration,
    /// A connection that has carried nothing either way for this long is closed.
    pub idle_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_per_address: Some(DEFAULT_MAX_PER_ADDRESS),
            first_request_timeout: DEFAULT_FIRST_REQUEST_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
        }
    }
}

/// Which client each of dropshot's connections relays, by the address dropshot sees.
#[derive(Clone, Default)]
pub struct ClientAddresses(Arc<Mutex<HashMap<SocketAddr, IpAddr>>>);

impl ClientAddresses {
    /// The client behind `peer`, the remote address of one of dropshot's connections; `peer`
    /// itself for a connection that did not come through the front door.
    pub fn client_of(&self, peer: SocketAddr) -> IpAddr {
        self.lock().get(&peer).copied().unwrap_or(peer.ip())
    }

    /// Notes that `relay` (the front door's end of a connection to dropshot) relays `client`,
    /// until the returned guard is dropped.
    fn register(&self, relay: SocketAddr, client: IpAddr) -> Registration {
        self.lock().insert(relay, client);
        Registration {
            addresses: self.clone(),
            relay,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SocketAddr, IpAddr>> {
        // One insert or remove at a time: a panic cannot leave the map half-changed.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A relayed connection's entry in [`ClientAddresses`].
struct Registration {
    addresses: ClientAddresses,
    relay: SocketAddr,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.addresses.lock().remove(&self.relay);
    }
}

/// The public listener, accepting until closed.
pub struct FrontDoor {
    local_addr: SocketAddr,
    stop: oneshot::Sender<()>,
    accepting: JoinHandle<()>,
}

/// The public listener, bound, not yet accepting.
pub struct BoundDoor {
    listener: TcpListener,
    limits: ConnectionLimits,
    refusals: Refusals,
    log: Logger,
}

impl FrontDoor {
    /// Listens on `bind`. Raises the descriptor limit to its ceiling, and refuses to start if
    /// that leaves room for no connection. Connections turned away are counted in `refusals`.
    pub fn bind(
        bind: SocketAddr,
        limits: ConnectionLimits,
        refusals: Refusals,
        log: &Logger,
    ) -> Result<BoundDoor> {
        let room = descriptors::connection_room().context("reading the descriptor limit")?;
        let room = usize::try_from(room).unwrap_or(usize::MAX);
        if room == 0 {
            bail!(
                "the process's descriptor limit leaves no room for connections (each takes {}, \
                 and {} are kept for the database and webhooks); raise it (`ulimit -n`)",
                descriptors::PER_CONNECTION,
                descriptors::RESERVE
            );
        }
        let log = log.new(slog::o!("component" => "front-door"));
        if limits.max_connections > room {
            warn!(log, "fewer connections than configured: the descriptor limit leaves room for {room}";
                "configured" => limits.max_connections);
        }
        let limits = ConnectionLimits {
            max_connections: limits.max_connections.min(room),
            ..limits
        };
        let listener = backlog::listen(bind).with_context(|| format!("listening on {bind}"))?;
        Ok(BoundDoor {
            listener,
            limits,
            refusals,
            log,
        })
    }

    /// The public address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting, and gives the address back, once it returns. Connections let in
    /// already are relayed until dropshot, shutting down, closes them.
    pub async fn close(self) {
        let _ = self.stop.send(());
        let _ = self.accepting.await;
    }
}

impl BoundDoor {
    /// Starts accepting, relaying what it lets in to dropshot at `upstream`.
    pub fn open(self, upstream: SocketAddr, clients: ClientAddresses) -> Result<FrontDoor> {
        let BoundDoor {
            listener,
            limits,
            refusals,
            log,
        } = self;
        let local_addr = listener.local_addr()?;
        if !backlog::widen(upstream).context("widening dropshot's listen backlog")? {
            warn!(log, "dropshot's listener keeps its backlog: a burst of connections may be \
                reset"; "upstream" => %upstream);
        }
        info!(log, "accepting connections"; "address" => %local_addr,
            "max_connections" => limits.max_connections,
            "max_per_address" => ?limits.max_per_address);
        let door = Door {
            upstream,
            limits,
            admission: Admission::new(
                limits.max_connections,
                limits.max_per_address.unwrap_or(usize::MAX),
            ),
            clients,
            refusals,
            log,
        };
        let (stop, stopped) = oneshot::channel();
        let accepting = tokio::spawn(door.accept(listener, stopped));
        Ok(FrontDoor {
            local_addr,
            stop,
            accepting,
        })
    }
}

/// What every connection's task needs.
struct Door {
    upstream: SocketAddr,
    limits: ConnectionLimits,
    admission: Arc<Admission>,
    clients: ClientAddresses,
    refusals: Refusals,
    log: Logger,
}

impl Door {
    async fn accept(self, listener: TcpListener, mut stopped: oneshot::Receiver<()>) {
        let door = Arc::new(self);
        loop {
            tokio::select! {
                _ = &mut stopped => return,
                accepted = listener.accept() => match accepted {
                    Ok((socket, peer)) => door.welcome(socket, peer),
                    Err(error) => door.accept_failed(&error).await,
                },
            }
        }
    }

    fn welcome(self: &Arc<Self>, socket: TcpStream, peer: SocketAddr) {
        match self.admission.admit(peer.ip()) {
            Ok(ticket) => {
                let door = Arc::clone(self);
                tokio::spawn(async move { door.serve(socket, peer, ticket).await });
            }
            Err(refusal) => {
                self.refusals.count(match refusal {
                    Refusal::AddressFull => Counted::AddressConnectionCap,
                    Refusal::ServerFull => Counted::ConnectionCap,
                });
                refuse(&socket, refusal, &self.log, peer);
            }
        }
    }

    /// A failed accept: nothing to do for one connection's trouble; a pause for the process's
    /// (out of descriptors), so that the loop does not spin while some are given back.
    async fn accept_failed(&self, error: &std::io::Error) {
        use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
        if !matches!(
            error.kind(),
            ConnectionAborted | ConnectionRefused | ConnectionReset
        ) {
            warn!(self.log, "accepting a connection failed"; "error" => %error);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// One connection, from its first byte to its close.
    async fn serve(&self, mut client: TcpStream, peer: SocketAddr, mut ticket: Ticket) {
        let deadline = Instant::now() + self.limits.first_request_timeout;
        let received = tokio::select! {
            received = first_request(&mut client, deadline) => received,
            () = ticket.displaced() => {
                self.refusals.count(Counted::Displaced);
                debug!(self.log, "closed a connection without a request for a newer one"; "peer" => %peer);
                return;
            }
        };
        let received = match received {
            Ok(received) => received,
            Err(Silence::TimedOut) => {
                self.refusals.count(Counted::FirstRequestTimeout);
                debug!(self.log, "closed a connection that sent no request in time"; "peer" => %peer);
                return;
            }
            Err(Silence::Closed) => return,
        };
        ticket.request_arrived();
        if let Err(error) = self.relay(client, peer, &received).await {
            debug!(self.log, "relaying a connection failed"; "peer" => %peer, "error" => %error);
        }
    }

    async fn relay(
        &self,
        client: TcpStream,
        peer: SocketAddr,
        received: &[u8],
    ) -> std::io::Result<()> {
        let mut upstream = TcpStream::connect(self.upstream).await?;
        client.set_nodelay(true)?;
        upstream.set_nodelay(true)?;
        let relay_address = upstream.local_addr()?;
        // dropshot's request log names this relay as the remote address: this line ties it to
        // the client.
        info!(self.log, "relaying a connection"; "peer" => %peer, "relay" => %relay_address);
        let _registration = self.clients.register(relay_address, peer.ip());
        upstream.write_all(received).await?;
        if relay::relay(client, upstream, self.limits.idle_timeout).await? == relay::Ended::Idle {
            debug!(self.log, "closed an idle connection"; "peer" => %peer);
        }
        Ok(())
    }
}

/// Why a connection's first request never came.
enum Silence {
    /// Not before the deadline.
    TimedOut,
    /// The client closed the connection (or it failed) first.
    Closed,
}

/// What `client` sends until the start of its first request, if that arrives before
/// `deadline`.
async fn first_request(client: &mut TcpStream, deadline: Instant) -> Result<Vec<u8>, Silence> {
    let mut received = Vec::new();
    let mut buffer = [0; 4096];
    loop {
        match timeout_at(deadline, client.read(&mut buffer)).await {
            Err(_) => return Err(Silence::TimedOut),
            Ok(Ok(0) | Err(_)) => return Err(Silence::Closed),
            Ok(Ok(read)) => received.extend_from_slice(&buffer[..read]),
        }
        if first_request::has_arrived(&received) {
            return Ok(received);
        }
    }
}

/// Answers a connection that was not let in with a `503` and closes it, without waiting: the
/// answer is written if the socket takes it at once, which a new socket does.
fn refuse(socket: &TcpStream, refusal: Refusal, log: &Logger, peer: SocketAddr) {
    debug!(log, "refused a connection"; "peer" => %peer, "reason" => ?refusal);
    let _ = socket.try_write(&refusal_answer(refusal));
}

/// The `503` a refused connection gets: the error envelope, with a request id of its own.
fn refusal_answer(refusal: Refusal) -> Vec<u8> {
    let request_id = uuid::Uuid::new_v4().to_string();
    let error = Error::TooManyConnections(match refusal {
        Refusal::AddressFull => ConnectionBound::Address,
        Refusal::ServerFull => ConnectionBound::Server,
    });
    let body = serde_json::to_string(&ApiError::new(error, &request_id)).unwrap_or_default();
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nretry-after: {RETRY_AFTER_UNAVAILABLE}\r\nx-request-id: {request_id}\r\n\
         connection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}
