//! File descriptors: the process's limit, raised as far as it may go, and how many
//! connections fit within it.
//!
//! A connection costs three descriptors: the client's socket, the front door's connection to
//! dropshot, and dropshot's end of it. Everything else the process opens (the database and
//! its reader pool, the delivery worker's sockets, the log) comes out of a reserve, so that
//! connections can never take the descriptor the store needs to answer a request.

/// Descriptors a connection holds.
pub(super) const PER_CONNECTION: u64 = 3;

/// Descriptors kept for everything but connections, beyond those open at start: webhook
/// deliveries (32 at once, and the connections their client keeps for reuse), PostgreSQL
/// pool connections, files the database opens later, and the accept of a refused connection.
pub(super) const RESERVE: u64 = 256;

/// How many connections the descriptor limit leaves room for, once it is raised to the hard
/// limit (the soft limit is a default for programs that never ask; the hard one is the
/// operator's ceiling).
pub(super) fn connection_room() -> std::io::Result<u64> {
    let limit = rlimit::increase_nofile_limit(u64::MAX)?;
    Ok(room(limit, open_now()))
}

/// Connections that fit in `limit` descriptors when `open` are in use.
pub(super) fn room(limit: u64, open: u64) -> u64 {
    limit.saturating_sub(open + RESERVE) / PER_CONNECTION
}

/// Descriptors open now, where the system says (Linux); else a guess.
fn open_now() -> u64 {
    std::fs::read_dir("/proc/self/fd").map_or(64, |entries| entries.count() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_is_what_the_limit_leaves_after_the_reserve() {
        assert_eq!(room(1024, 20), (1024 - 20 - RESERVE) / 3);
        assert_eq!(room(RESERVE + 30 + 9, 30), 3);
        assert_eq!(room(100, 30), 0, "a limit below the reserve leaves none");
    }
}
