//! Keys found valid, remembered while a connection of this replica's own `LISTEN`s for
//! revocations, so that an authenticated request skips the round trip of its key's lookup.
//!
//! A key may be revoked through any replica, or by `leads-server keys revoke` in another
//! process. Each revocation sends `pg_notify` on [`CHANNEL`] in its own transaction, so the
//! notification exists exactly when the revocation commits; every replica holds one
//! connection outside the pool that `LISTEN`s on it and forgets every remembered key on each
//! notification. Why the cache is never wrong:
//!
//! - **Only while listening.** A key is remembered only while the listening connection is up
//!   and its `LISTEN` has been answered; when the connection fails (an error, its end, or a
//!   heartbeat unanswered for [`HEARTBEAT_TIMEOUT`]), everything is forgotten and nothing is
//!   remembered until a new connection listens again, reconnected in the background with a
//!   growing wait. Meanwhile every lookup goes to the database, as without a cache.
//! - **No stale answer is remembered.** A lookup may read a key valid, the key then be
//!   revoked and its notification handled, and only then the lookup's answer come back. So
//!   each lookup takes a ticket, the cache's generation when it began, and its answer is
//!   remembered only if the generation is still the same: every notification, loss of the
//!   connection and new `LISTEN` moves the generation on, under the lock that remembering
//!   takes. A lookup that began after `LISTEN` was answered read a snapshot taken after it:
//!   a revocation committed before that snapshot is in it (the key is not found), and one
//!   committed after notifies this replica, which forgets the key or refuses to remember it.
//! - **The replica's own revocations** forget every key as they commit, so a key revoked
//!   through a replica is refused by it from the next request on.
//!
//! What remains is the delivery itself: another replica's (or process's) revocation reaches
//! this one when its notification arrives, normally milliseconds after the commit; until
//! then a request with the revoked key may still be served from memory. If the listening
//! connection silently stops carrying anything (a network partition that no error reports),
//! the heartbeat notices within [`HEARTBEAT`] and [`HEARTBEAT_TIMEOUT`], about 5 s.
//!
//! Keys found unknown are not remembered here: the [`Authenticator`] remembers them itself,
//! which keys being random makes safe, as it does on SQLite.
//!
//! [`Authenticator`]: crate::auth::Authenticator

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::StreamExt;
use tokio::task::AbortHandle;
use tokio_postgres::{AsyncMessage, Client, Config};

use super::connections::{self, Messages};
use super::tls::Tls;
use crate::domain::{ApiKeyId, OrganizationId};
use crate::store::KeyHash;

/// The channel revocations are notified on.
pub(super) const CHANNEL: &str = "leads_api_keys";

/// How the listening connection names itself in `pg_stat_activity`.
pub(super) const APPLICATION_NAME: &str = "leads-server key cache";

/// Enough for every key of a busy server; an evicted key is looked up again.
const REMEMBERED: usize = 10_000;

/// How often the listening connection is asked whether it is still there.
const HEARTBEAT: Duration = Duration::from_secs(2);

/// How long a heartbeat, a connection or its `LISTEN` may take before the connection is
/// taken for lost.
const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(3);

/// The first wait before connecting again; each later one doubles, up to [`LONGEST_WAIT`].
const FIRST_WAIT: Duration = Duration::from_millis(100);

/// The longest wait between attempts to connect again.
const LONGEST_WAIT: Duration = Duration::from_secs(5);

/// A key's caller.
type Caller = (ApiKeyId, OrganizationId);

/// The generation a lookup began in, to remember its answer with ([`KeyCache::remember`]).
#[derive(Clone, Copy, Debug)]
pub(super) struct Ticket(Option<u64>);

/// The keys remembered, and the connection that keeps them true.
pub(super) struct KeyCache {
    remembered: Arc<Remembered>,
    /// The listening task, ended when the store is dropped (and its connection with it).
    listener: AbortHandle,
}

impl KeyCache {
    /// A cache whose connection, made with `config` and `tls` as the pool's are, starts
    /// listening in the background; until it does, nothing is remembered.
    pub(super) fn start(mut config: Config, tls: Tls) -> KeyCache {
        config
            .application_name(APPLICATION_NAME)
            .connect_timeout(HEARTBEAT_TIMEOUT);
        let remembered = Arc::new(Remembered::new());
        let listener = tokio::spawn(listen(Arc::clone(&remembered), config, tls)).abort_handle();
        KeyCache {
            remembered,
            listener,
        }
    }

    /// The caller of `hash`, if it was found valid and nothing may have revoked it since.
    pub(super) fn get(&self, hash: &KeyHash) -> Option<Caller> {
        // Every key remembered is true: forgetting and remembering happen under the lock,
        // and nothing is remembered while not listening.
        self.remembered.found.get(hash)
    }

    /// Take before looking a key up in the database, to remember the answer with.
    pub(super) fn ticket(&self) -> Ticket {
        self.remembered.ticket()
    }

    /// Remembers that `hash` was found valid for `caller` by a lookup that began with
    /// `ticket`, unless something may have revoked it since.
    pub(super) fn remember(&self, ticket: Ticket, hash: KeyHash, caller: Caller) {
        self.remembered.remember(ticket, hash, caller);
    }

    /// Forgets every key: a key was revoked.
    pub(super) fn forget(&self) {
        self.remembered.change(|_| {});
    }

    /// Whether the connection listens, so that keys are remembered.
    #[cfg(test)]
    pub(super) fn listening(&self) -> bool {
        self.remembered.state().listening
    }
}

impl Drop for KeyCache {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

/// Where the cache stands.
#[derive(Clone, Copy)]
struct State {
    /// Moved on by every change that may make a key remembered untrue.
    generation: u64,
    listening: bool,
}

/// The keys, and what says whether they may be used.
struct Remembered {
    found: quick_cache::sync::Cache<KeyHash, Caller>,
    /// Held while remembering and while forgetting, so that no answer of an older generation
    /// is remembered after the forgetting.
    state: Mutex<State>,
}

impl Remembered {
    fn new() -> Remembered {
        Remembered {
            found: quick_cache::sync::Cache::new(REMEMBERED),
            state: Mutex::new(State {
                generation: 0,
                listening: false,
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // Nothing panics while holding it; were it poisoned, the state is still whole.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn ticket(&self) -> Ticket {
        let state = *self.state();
        Ticket(state.listening.then_some(state.generation))
    }

    fn remember(&self, Ticket(began): Ticket, hash: KeyHash, caller: Caller) {
        let state = self.state();
        if state.listening && began == Some(state.generation) {
            self.found.insert(hash, caller);
        }
    }

    /// Forgets every key and moves the generation on, after applying `change` to the state.
    fn change(&self, change: impl FnOnce(&mut State)) {
        let mut state = self.state();
        change(&mut state);
        state.generation = state.generation.wrapping_add(1);
        self.found.clear();
    }

    fn set_listening(&self, listening: bool) {
        self.change(|state| state.listening = listening);
    }
}

/// Listens for revocations for as long as the cache lives: connects, listens until the
/// connection fails, forgets everything, waits, and connects again.
async fn listen(remembered: Arc<Remembered>, config: Config, tls: Tls) {
    let mut wait = FIRST_WAIT;
    loop {
        if let Ok((client, mut messages)) = connect(&config, &tls).await {
            let listened = session(&remembered, &client, &mut messages).await;
            remembered.set_listening(false);
            if listened {
                wait = FIRST_WAIT;
            }
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(LONGEST_WAIT);
    }
}

/// A connection of its own, unless it cannot be made within [`HEARTBEAT_TIMEOUT`].
async fn connect(config: &Config, tls: &Tls) -> Result<(Client, Messages), ()> {
    match tokio::time::timeout(HEARTBEAT_TIMEOUT, connections::dedicated(config, tls)).await {
        Ok(Ok(connected)) => Ok(connected),
        _ => Err(()),
    }
}

/// Listens on `client`'s connection, whose messages are `messages`, and forgets every key
/// on each notification, until the connection fails. Whether it got as far as listening.
async fn session(remembered: &Remembered, client: &Client, messages: &mut Messages) -> bool {
    let listen = format!("LISTEN {CHANNEL}");
    if ask(remembered, client.batch_execute(&listen), messages)
        .await
        .is_err()
    {
        return false;
    }
    // From here, every revocation that commits is notified here.
    remembered.set_listening(true);
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            message = messages.next() => {
                if handle(remembered, message).is_err() {
                    return true;
                }
            }
            _ = heartbeat.tick() => {
                if ask(remembered, client.batch_execute("SELECT 1"), messages).await.is_err() {
                    return true;
                }
            }
        }
    }
}

/// Waits for `request`'s answer, driving the connection meanwhile (its answer arrives only
/// through `messages`) and handling the notifications that arrive before it; an error if
/// the connection fails or the answer takes longer than [`HEARTBEAT_TIMEOUT`].
async fn ask(
    remembered: &Remembered,
    request: impl Future<Output = Result<(), tokio_postgres::Error>>,
    messages: &mut Messages,
) -> Result<(), ()> {
    let answered = async {
        tokio::pin!(request);
        loop {
            tokio::select! {
                answer = &mut request => return answer.map_err(|_| ()),
                message = messages.next() => handle(remembered, message)?,
            }
        }
    };
    tokio::time::timeout(HEARTBEAT_TIMEOUT, answered)
        .await
        .map_err(|_| ())?
}

/// Forgets every key on a notification; an error when the connection has ended.
fn handle(
    remembered: &Remembered,
    message: Option<Result<AsyncMessage, tokio_postgres::Error>>,
) -> Result<(), ()> {
    match message {
        Some(Ok(AsyncMessage::Notification(_))) => {
            remembered.change(|_| {});
            Ok(())
        }
        // Notices say nothing of keys.
        Some(Ok(_)) => Ok(()),
        Some(Err(_)) | None => Err(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CALLER: Caller = (
        ApiKeyId(uuid::Uuid::nil()),
        OrganizationId(uuid::Uuid::nil()),
    );

    fn listening() -> Remembered {
        let remembered = Remembered::new();
        remembered.set_listening(true);
        remembered
    }

    #[test]
    fn an_answer_is_remembered_only_while_listening_and_in_its_own_generation() {
        let remembered = listening();
        let ticket = remembered.ticket();
        remembered.remember(ticket, [1; 32], CALLER);
        assert_eq!(remembered.found.get(&[1; 32]), Some(CALLER));

        // Looked up, then revoked and notified, then the stale answer comes back.
        let stale = remembered.ticket();
        remembered.change(|_| {});
        assert_eq!(remembered.found.get(&[1; 32]), None, "forgotten");
        remembered.remember(stale, [2; 32], CALLER);
        assert_eq!(remembered.found.get(&[2; 32]), None, "not remembered");

        // Looked up while listening, then the connection lost.
        let before_the_loss = remembered.ticket();
        remembered.set_listening(false);
        remembered.remember(before_the_loss, [3; 32], CALLER);
        let while_lost = remembered.ticket();
        remembered.remember(while_lost, [3; 32], CALLER);
        // Listening again: an answer from before does not count.
        remembered.set_listening(true);
        remembered.remember(while_lost, [3; 32], CALLER);
        assert_eq!(remembered.found.get(&[3; 32]), None);
        let now = remembered.ticket();
        remembered.remember(now, [3; 32], CALLER);
        assert_eq!(remembered.found.get(&[3; 32]), Some(CALLER));
    }

    #[test]
    fn losing_the_connection_forgets_every_key() {
        let remembered = listening();
        remembered.remember(remembered.ticket(), [1; 32], CALLER);
        remembered.set_listening(false);
        assert_eq!(remembered.found.get(&[1; 32]), None);
    }
}
