//! Bytes relayed between a client and dropshot, both ways, until either side closes or the
//! connection has been idle (no byte either way) for the idle timeout.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Whether the relay ended by itself or was cut for idling.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Ended {
    Closed,
    Idle,
}

/// Relays between `client` and `upstream` until one closes, an error, or `idle` without a
/// byte either way.
pub(super) async fn relay(
    client: TcpStream,
    upstream: TcpStream,
    idle: Duration,
) -> io::Result<Ended> {
    let start = Instant::now();
    let activity = Arc::new(AtomicU64::new(0));
    let mut client = Watched::new(client, start, &activity);
    let mut upstream = Watched::new(upstream, start, &activity);
    tokio::select! {
        copied = tokio::io::copy_bidirectional(&mut client, &mut upstream) => copied.map(|_| Ended::Closed),
        () = idle_for(idle, start, &activity) => Ok(Ended::Idle),
    }
}

/// Resolves once no byte has moved for `idle`.
async fn idle_for(idle: Duration, start: Instant, activity: &AtomicU64) {
    loop {
        let last = start + Duration::from_millis(activity.load(Ordering::Relaxed));
        if last.elapsed() >= idle {
            return;
        }
        tokio::time::sleep_until(last + idle).await;
    }
}

/// A stream that notes when bytes last moved through it.
struct Watched {
    stream: TcpStream,
    start: Instant,
    activity: Arc<AtomicU64>,
}

impl Watched {
    fn new(stream: TcpStream, start: Instant, activity: &Arc<AtomicU64>) -> Self {
        Self {
            stream,
            start,
            activity: Arc::clone(activity),
        }
    }

    fn moved(&self) {
        let millis = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.activity.store(millis, Ordering::Relaxed);
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.moved();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.stream).poll_write(cx, data);
        if matches!(polled, Poll::Ready(Ok(written)) if written > 0) {
            this.moved();
        }
        polled
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
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
    async fn an_idle_connection_is_cut_and_traffic_keeps_it_open() {
        let (mut client, client_far) = pair().await;
        let (upstream_far, mut upstream) = pair().await;
        let idle = Duration::from_secs(1);
        let relaying = tokio::spawn(relay(client_far, upstream_far, idle));
        for _ in 0..4 {
            tokio::time::sleep(idle / 3).await;
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
