//! Which connections are let in: at most so many in all, and so many per client address (an
//! IPv6 client counted by its /64). A connection that has not yet sent a request is the
//! cheapest to lose, so when the server is full a new connection takes the place of such a
//! one: the oldest of the address that holds the most connections, so that a flood from a few
//! addresses displaces its own connections before anyone else's. Only when every connection
//! has sent a request is a new one refused.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::oneshot;

use crate::ratelimit::counted_as;

/// Why a connection was not let in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Refusal {
    /// Its address holds as many connections as one address may.
    AddressFull,
    /// The server holds as many connections as it may, each with a request sent.
    ServerFull,
}

/// The connections let in, counted.
pub(super) struct Admission {
    max_connections: usize,
    max_per_address: usize,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    open: usize,
    per_address: HashMap<IpAddr, usize>,
    /// The connections yet to send a request by address, oldest first, each with the signal
    /// that makes it give up its place.
    waiting: HashMap<IpAddr, BTreeMap<u64, oneshot::Sender<()>>>,
    next_ticket: u64,
}

impl State {
    /// Signals the connection to displace, if any waits: the oldest of the address holding
    /// the most connections.
    fn displace_one(&mut self) -> bool {
        let heaviest = self
            .waiting
            .iter()
            .filter_map(|(address, waiting)| {
                let (&oldest, _) = waiting.first_key_value()?;
                let held = self.per_address.get(address).copied().unwrap_or(0);
                Some((held, std::cmp::Reverse(oldest), *address))
            })
            .max();
        let Some((_, _, address)) = heaviest else {
            return false;
        };
        if let Some((_, displace)) = self.waiting.get_mut(&address).and_then(BTreeMap::pop_first) {
            let _ = displace.send(());
        }
        self.forget_if_empty(address);
        true
    }

    fn stop_waiting(&mut self, address: IpAddr, number: u64) {
        if let Some(waiting) = self.waiting.get_mut(&address) {
            waiting.remove(&number);
        }
        self.forget_if_empty(address);
    }

    fn forget_if_empty(&mut self, address: IpAddr) {
        if self.waiting.get(&address).is_some_and(BTreeMap::is_empty) {
            self.waiting.remove(&address);
        }
    }
}

/// A connection's place; given back when dropped.
pub(super) struct Ticket {
    admission: Arc<Admission>,
    address: IpAddr,
    number: u64,
    displaced: oneshot::Receiver<()>,
}

impl Admission {
    pub(super) fn new(max_connections: usize, max_per_address: usize) -> Arc<Self> {
        Arc::new(Self {
            max_connections,
            max_per_address,
            state: Mutex::default(),
        })
    }

    /// A place for a connection from `address`, displacing the oldest connection yet to send
    /// a request if the server is full.
    pub(super) fn admit(self: &Arc<Self>, address: IpAddr) -> Result<Ticket, Refusal> {
        let address = counted_as(address);
        let mut state = self.lock();
        if state.per_address.get(&address).copied().unwrap_or(0) >= self.max_per_address {
            return Err(Refusal::AddressFull);
        }
        // The displaced connection keeps its count until it has closed, a moment later, so
        // that the count never falls below the descriptors in use.
        if state.open >= self.max_connections && !state.displace_one() {
            return Err(Refusal::ServerFull);
        }
        state.open += 1;
        *state.per_address.entry(address).or_default() += 1;
        let number = state.next_ticket;
        state.next_ticket += 1;
        let (displace, displaced) = oneshot::channel();
        state
            .waiting
            .entry(address)
            .or_default()
            .insert(number, displace);
        Ok(Ticket {
            admission: Arc::clone(self),
            address,
            number,
            displaced,
        })
    }

    /// How many connections hold a place.
    #[cfg(test)]
    fn open(&self) -> usize {
        self.lock().open
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is consistent between statements: a panic elsewhere leaves nothing half-done.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Ticket {
    /// The connection has sent a request: it can no longer be displaced.
    pub(super) fn request_arrived(&self) {
        self.admission
            .lock()
            .stop_waiting(self.address, self.number);
    }

    /// Resolves when a newer connection has taken this one's place.
    pub(super) async fn displaced(&mut self) {
        if (&mut self.displaced).await.is_err() {
            // The sender was dropped without a signal: the request arrived first.
            std::future::pending::<()>().await;
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut state = self.admission.lock();
        state.open -= 1;
        state.stop_waiting(self.address, self.number);
        if let Some(count) = state.per_address.get_mut(&self.address) {
            *count -= 1;
            if *count == 0 {
                state.per_address.remove(&self.address);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv6Addr;
    use std::time::Duration;

    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));

    /// Whether `ticket` has been displaced, without waiting.
    async fn is_displaced(ticket: &mut Ticket) -> bool {
        tokio::time::timeout(Duration::from_millis(10), ticket.displaced())
            .await
            .is_ok()
    }

    #[test]
    fn an_address_gets_its_share_and_no_more() {
        let admission = Admission::new(10, 2);
        let first = admission.admit(A).unwrap();
        let _second = admission.admit(A).unwrap();
        assert_eq!(admission.admit(A).err(), Some(Refusal::AddressFull));
        assert!(admission.admit(B).is_ok(), "another address is let in");
        drop(first);
        assert!(
            admission.admit(A).is_ok(),
            "a closed connection gives its place back"
        );
    }

    #[test]
    fn an_ipv6_client_counts_by_its_slash_64() {
        let admission = Admission::new(10, 1);
        let _first = admission.admit("2001:db8:1:2::1".parse().unwrap()).unwrap();
        let same_64: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        assert_eq!(admission.admit(same_64).err(), Some(Refusal::AddressFull));
        assert!(admission.admit("2001:db8:1:3::1".parse().unwrap()).is_ok());
        let mapped = IpAddr::V6(Ipv6Addr::from(0xffff_c000_0201_u128));
        let _a = admission.admit(A).unwrap();
        assert_eq!(
            admission.admit(mapped).err(),
            Some(Refusal::AddressFull),
            "an IPv4-mapped address is the IPv4 address"
        );
    }

    #[tokio::test]
    async fn a_full_server_displaces_the_oldest_connection_without_a_request() {
        let admission = Admission::new(3, 10);
        let mut oldest = admission.admit(A).unwrap();
        let mut younger = admission.admit(A).unwrap();
        let mut working = admission.admit(A).unwrap();
        working.request_arrived();
        oldest.request_arrived();

        let _new = admission.admit(B).unwrap();
        assert!(
            is_displaced(&mut younger).await,
            "the oldest without a request goes"
        );
        assert!(!is_displaced(&mut oldest).await);
        assert!(!is_displaced(&mut working).await);
        assert_eq!(admission.open(), 4, "counted until it has closed");
        drop(younger);
        assert_eq!(admission.open(), 3);
    }

    #[tokio::test]
    async fn a_full_server_displaces_from_the_address_holding_the_most() {
        let admission = Admission::new(4, 10);
        let mut light = admission.admit(A).unwrap();
        let mut heavy: Vec<Ticket> = (0..3).map(|_| admission.admit(B).unwrap()).collect();
        let _new = admission.admit(A).unwrap();
        assert!(
            !is_displaced(&mut light).await,
            "the older, but of the lighter address"
        );
        assert!(
            is_displaced(&mut heavy[0]).await,
            "the oldest of the heaviest address"
        );
        for ticket in &mut heavy[1..] {
            assert!(!is_displaced(ticket).await);
        }
    }

    #[test]
    fn a_server_full_of_requests_refuses_a_new_connection() {
        let admission = Admission::new(2, 10);
        let tickets: Vec<Ticket> = (0..2).map(|_| admission.admit(A).unwrap()).collect();
        for ticket in &tickets {
            ticket.request_arrived();
        }
        assert_eq!(admission.admit(B).err(), Some(Refusal::ServerFull));
        drop(tickets);
        assert_eq!(admission.open(), 0);
        assert!(admission.admit(B).is_ok());
    }
}
