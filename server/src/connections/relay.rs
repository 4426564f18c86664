//! Bytes relayed between a client and dropshot, both ways, until both sides are done or the
//! connection has been idle (no byte either way) for the idle timeout.
//!
//! When dropshot answers before it has read all a client sends (a `401` to a large body, say)
//! and closes, the client is still sending. Closing on it then would reset the connection, and
//! a reset can destroy the answer before the client reads it; so, once the answer is through,
//! the rest of what it sends is read and dropped until it closes, as HTTP servers do before
//! closing (nginx's lingering close): for at most [`LINGER`], and no longer than
//! [`LINGER_QUIET`] without a byte.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// How long the rest of a client's request is read and dropped, at most, after dropshot has
/// answered and closed: long enough for a client busy sending to read the answer.
const LINGER: Duration = Duration::from_secs(30);

/// How long a lingering client may send nothing before it is closed.
const LINGER_QUIET: Duration = Duration::from_secs(5);

/// The bytes moved by one read.
const CHUNK: usize = 8 * 1024;

/// Whether the relay ended by itself or was cut for idling.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Ended {
    Closed,
    Idle,
}

/// Relays between `client` and `upstream` until both are done, an error, or `idle` without a
/// byte either way.
pub(super) async fn relay(
    mut client: TcpStream,
    mut upstream: TcpStream,
    idle: Duration,
) -> io::Result<Ended> {
    let activity = Activity::new();
    let (mut client_in, mut client_out) = client.split();
    let (mut upstream_in, mut upstream_out) = upstream.split();
    let requests = forward_requests(&mut client_in, &mut upstream_out, &activity);
    let answers = forward(&mut upstream_in, &mut client_out, &activity);
    let both = async {
        tokio::pin!(requests, answers);
        tokio::select! {
            answered = &mut answers => {
                answered?;
                // The client has everything; what it still sends is dropped, for a while.
                tokio::select! {
                    _ = requests => {}
                    () = tokio::time::sleep(LINGER) => {}
                    () = activity.idle_for(LINGER_QUIET) => {}
                }
            }
            sent = &mut requests => {
                sent?;
                answers.await?;
            }
        }
        Ok(Ended::Closed)
    };
    tokio::select! {
        ended = both => ended,
        () = activity.idle_for(idle) => Ok(Ended::Idle),
    }
}

/// Copies dropshot's answers (`from`) to the client (`to`) until dropshot ends, then ends `to`.
///
/// dropshot closing a connection with request bytes it did not read (after answering early)
/// makes the kernel reset the relay's side: that, too, is the end of its answers, which the
/// client then gets with the lingering close, not a reset of its own.
async fn forward(
    from: &mut (impl AsyncRead + Unpin),
    to: &mut (impl AsyncWrite + Unpin),
    activity: &Activity,
) -> io::Result<()> {
    let mut buffer = vec![0; CHUNK];
    loop {
        let read = match from.read(&mut buffer).await {
            Err(error) if error.kind() == io::ErrorKind::ConnectionReset => 0,
            read => read?,
        };
        if read == 0 {
            return to.shutdown().await;
        }
        activity.moved();
        to.write_all(&buffer[..read]).await?;
    }
}

/// Copies the client's bytes to dropshot until the client ends; once dropshot takes no more,
/// reads and drops them.
async fn forward_requests(
    from: &mut (impl AsyncRead + Unpin),
    to: &mut (impl AsyncWrite + Unpin),
    activity: &Activity,
) -> io::Result<()> {
    let mut buffer = vec![0; CHUNK];
    let mut taken = true;
    loop {
        let read = from.read(&mut buffer).await?;
        if read == 0 {
            if taken {
                let _ = to.shutdown().await;
            }
            return Ok(());
        }
        activity.moved();
        taken = taken && to.write_all(&buffer[..read]).await.is_ok();
    }
}

/// When bytes last moved, either way.
struct Activity {
    start: Instant,
    last: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Self {
            start: Instant::now(),
            last: AtomicU64::new(0),
        }
    }

    fn moved(&self) {
        let millis = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(millis, Ordering::Relaxed);
    }

    /// Resolves once no byte has moved for `idle`.
    async fn idle_for(&self, idle: Duration) {
        loop {
            let last = self.start + Duration::from_millis(self.last.load(Ordering::Relaxed));
            if last.elapsed() >= idle {
                return;
            }
            tokio::time::sleep_until(last + idle).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// A connected pair of loopback sockets.
    async fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let near = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (far, _) = listener.accept().await.unwrap();
        (near, far)
    }

    #[tokio::test]
    async fn bytes_cross_both_ways_and_a_close_ends_the_relay() {
        let (mut client, client_far) = pair().await;
        let (upstream_far, mut upstream) = pair().await;
        let relaying = tokio::spawn(relay(client_far, upstream_far, Duration::from_secs(5)));
        client.write_all(b"ping").await.unwrap();
        let mut buffer = [0; 4];
        upstream.read_exact(&mut buffer).await.unwrap();
        assert_eq!(&buffer, b"ping");
        upstream.write_all(b"pong").await.unwrap();
        client.read_exact(&mut buffer).await.unwrap();
        assert_eq!(&buffer, b"pong");
        drop(upstream);
        assert_eq!(
            client.read(&mut buffer).await.unwrap(),
            0,
            "the close crosses too"
        );
        drop(client);
        assert_eq!(relaying.await.unwrap().unwrap(), Ended::Closed);
    }

    #[tokio::test]
    async fn an_answer_before_the_whole_request_reaches_the_client_still_sending() {
        let (mut client, client_far) = pair().await;
        let (upstream_far, mut upstream) = pair().await;
        let relaying = tokio::spawn(relay(client_far, upstream_far, Duration::from_secs(5)));
        let sending = tokio::spawn(async move {
            let chunk = vec![b' '; 64 * 1024];
            for _ in 0..64 {
                if client.write_all(&chunk).await.is_err() {
                    break;
                }
            }
            let mut answer = Vec::new();
            client.read_to_end(&mut answer).await.map(|_| answer)
        });
        upstream.read_exact(&mut [0; 1024]).await.unwrap();
        upstream.write_all(b"401").await.unwrap();
        drop(upstream);
        let answer = sending.await.unwrap().expect("no reset");
        assert_eq!(answer, b"401");
        assert_eq!(relaying.await.unwrap().unwrap(), Ended::Closed);
    }

    /// A byte every 100 ms, as a slow body goes on, for 1.2 s before the client reads: every
    /// byte is taken, and the `400` given meanwhile is still there to read, not reset.
    async fn dribble_then_read_the_400(client: &mut TcpStream) {
        for _ in 0..12 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            client.write_all(b" ").await.expect("still taken");
        }
        let mut answer = [0; 3];
        client.read_exact(&mut answer).await.expect("no reset");
        assert_eq!(&answer, b"400");
    }

    #[tokio::test]
    async fn a_client_still_sending_reads_the_answer_however_late_it_reads() {
        let (mut client, client_far) = pair().await;
        let (upstream_far, mut upstream) = pair().await;
        let relaying = tokio::spawn(relay(client_far, upstream_far, Duration::from_secs(60)));
        client.write_all(b"POST / HTTP/1.1\r\n\r\n{").await.unwrap();
        upstream.read_exact(&mut [0; 20]).await.unwrap();
        upstream.write_all(b"400").await.unwrap();
        drop(upstream);
        dribble_then_read_the_400(&mut client).await;
        drop(client);
        assert_eq!(relaying.await.unwrap().unwrap(), Ended::Closed);
    }

    #[tokio::test]
    async fn an_answer_survives_dropshot_resetting_its_side() {
        let (mut client, client_far) = pair().await;
        let (upstream_far, mut upstream) = pair().await;
        let relaying = tokio::spawn(relay(client_far, upstream_far, Duration::from_secs(60)));
        client.write_all(&[b' '; 100]).await.unwrap();
        upstream.read_exact(&mut [0; 100]).await.unwrap();
        client.write_all(b"unread").await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        upstream.write_all(b"400").await.unwrap();
        // Closed with bytes it did not read: the kernel resets the relay's side.
        drop(upstream);
        dribble_then_read_the_400(&mut client).await;
        drop(client);
        relaying.await.unwrap().expect("ended without an error");
    }

    #[tokio::test]
    async fn an_idle_connection_is_cut_and_traffic_keeps_it_open() {
        let (mut client, client_far) = pair().await;
        let (upstream_far, mut upstream) = pair().await;
        let idle = Duration::from_millis(600);
        let relaying = tokio::spawn(relay(client_far, upstream_far, idle));
        for _ in 0..4 {
            tokio::time::sleep(idle / 4).await;
            client.write_all(b"x").await.unwrap();
            upstream.read_exact(&mut [0; 1]).await.unwrap();
        }
        assert!(
            !relaying.is_finished(),
            "traffic within the timeout keeps it open"
        );
        let ended = tokio::time::timeout(idle * 5, relaying).await;
        assert_eq!(ended.unwrap().unwrap().unwrap(), Ended::Idle);
        assert_eq!(
            client.read(&mut [0; 1]).await.unwrap(),
            0,
            "the client sees it closed"
        );
    }
}
