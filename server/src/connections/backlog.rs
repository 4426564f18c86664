//! Listen backlogs: how many connections the kernel holds complete but not yet accepted, on
//! the public listener and on dropshot's.
//!
//! The front door turns a burst of clients into a burst of connects to dropshot: 500 clients
//! arriving together are 500 connects to its loopback port within milliseconds, while
//! dropshot's accept loop shares two cores with everything else. dropshot binds with the
//! standard library, whose backlog is 128, and takes no listener of ours; beyond those 128
//! the kernel drops the connects, and some came back about a second later as a reset, which
//! the client saw as a connection closed without an answer. Linux (like the BSDs) takes a
//! second `listen` on a listening socket as a new backlog, so the front door gives dropshot's
//! listener its own, [`BACKLOG`], before it relays a connection.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{BorrowedFd, RawFd};

use socket2::SockRef;
use tokio::net::{TcpListener, TcpSocket};

/// How many connections the kernel may hold complete but not yet accepted: enough for a
/// burst of them while an accept loop is busy (the system's own cap, `somaxconn`, applies).
pub(super) const BACKLOG: u32 = 4096;

/// A listener on `bind` with [`BACKLOG`], which a restarted server can take over at once.
pub(super) fn listen(bind: SocketAddr) -> io::Result<TcpListener> {
    let socket = match bind {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(bind)?;
    socket.listen(BACKLOG)
}

/// Gives the listening socket on `address`, one this process opened elsewhere (dropshot's),
/// a backlog of [`BACKLOG`]; `false` if the process has no such socket, or says nothing of
/// its descriptors (a system without `/proc`).
pub(super) fn widen(address: SocketAddr) -> io::Result<bool> {
    let Ok(descriptors) = std::fs::read_dir("/proc/self/fd") else {
        return Ok(false);
    };
    let backlog = i32::try_from(BACKLOG).unwrap_or(i32::MAX);
    for entry in descriptors {
        let Ok(descriptor) = entry?.file_name().to_string_lossy().parse::<RawFd>() else {
            continue;
        };
        // SAFETY: only for the calls below, which read a socket's addresses and set a
        // listener's backlog: on a descriptor closed meanwhile they fail with `EBADF`, on one
        // that is not a socket with `ENOTSOCK`, and they change nothing else.
        let descriptor = unsafe { BorrowedFd::borrow_raw(descriptor) };
        let socket = SockRef::from(&descriptor);
        let on_address = socket
            .local_addr()
            .is_ok_and(|local| local.as_socket() == Some(address));
        // A socket connected on the address (one dropshot accepted) has a peer; its listener
        // has none.
        if on_address && socket.peer_addr().is_err() {
            socket.listen(backlog)?;
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Connects `count` times to `address` at once; how many were complete within `within`.
    async fn connects_completed(address: SocketAddr, count: usize, within: Duration) -> usize {
        let connects: Vec<_> = (0..count)
            .map(|_| {
                tokio::spawn(async move {
                    tokio::time::timeout(within, tokio::net::TcpStream::connect(address)).await
                })
            })
            .collect();
        let mut completed = Vec::new();
        for connect in connects {
            if let Ok(Ok(Ok(stream))) = connect.await {
                completed.push(stream);
            }
        }
        completed.len()
    }

    #[tokio::test]
    async fn a_standard_listener_gets_the_backlog_of_the_front_door() {
        // As dropshot binds; nothing accepts, as when its accept loop is busy.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        assert!(widen(address).unwrap());
        let completed = connects_completed(address, 600, Duration::from_millis(500)).await;
        assert_eq!(completed, 600, "the standard backlog holds 128");
        drop(listener);
    }

    #[tokio::test]
    async fn without_widening_a_standard_listener_holds_fewer() {
        // The test above's control: it fails if its burst would fit anyway.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let completed = connects_completed(address, 600, Duration::from_millis(500)).await;
        assert!(completed < 600, "{completed} connects completed");
        drop(listener);
    }

    #[test]
    fn an_address_nothing_listens_on_is_not_found() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        drop(listener);
        assert!(!widen(address).unwrap());
    }
}
