//! Name lookups of webhook targets: bounded in time ([`RESOLVE_TIMEOUT`]) and in number, and
//! checked against the address rules, when a subscription is made and, through
//! [`CheckedResolver`], at every delivery.
//!
//! The system's resolver (`getaddrinfo`, through [`SystemLookup`]) runs on tokio's blocking
//! pool, which the SQLite store shares, and cannot be cancelled: a lookup given up on keeps its
//! thread until the system's own timeouts end it. So each [`SystemLookup`] lets only so many
//! run at once, counting those given up on until they really end. (An async resolver such as
//! hickory's could be cancelled, but would read DNS its own way rather than as the operator
//! configured the host, `/etc/hosts` and split-horizon setups included.)

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use tokio::sync::Semaphore;

use super::address::forbidden_range;

/// How long a target's name may take to resolve: 5 seconds, when a subscription is made and at
/// each delivery. A subscriber's DNS answers in well under a second; a name that takes longer
/// would hold one of the server's in-flight request slots for as long.
pub const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// How many lookups for new subscriptions may run at once; one more is answered `503` at once
/// rather than queued, so that slow names never hold more than this many request slots.
pub const SUBSCRIPTION_LOOKUPS: usize = 8;

/// How many lookups for deliveries may run at once: one per attempt in flight; an attempt
/// beyond them waits its turn within [`RESOLVE_TIMEOUT`].
pub const DELIVERY_LOOKUPS: usize = 16;

/// Why a lookup gave no addresses.
#[derive(Debug)]
pub enum LookupError {
    /// As many lookups as allowed are running.
    Busy,
    /// The resolver failed, or the name does not exist.
    Failed(io::Error),
}

/// Resolves host names: the system's resolver in a server, one of their own in tests.
pub trait Lookup: Send + Sync + fmt::Debug {
    /// Every address of `host`.
    fn lookup(&self, host: &str) -> BoxFuture<'static, Result<Vec<IpAddr>, LookupError>>;
}

/// What a [`SystemLookup`] does when as many lookups as it allows are running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WhenBusy {
    /// Answers [`LookupError::Busy`] at once.
    Refuse,
    /// Waits for one to end.
    Wait,
}

/// The system's resolver, as `getaddrinfo` sees it (`/etc/hosts`, `nsswitch.conf`, the
/// configured name servers), a bounded number of lookups at a time.
#[derive(Debug)]
pub struct SystemLookup {
    running: Arc<Semaphore>,
    when_busy: WhenBusy,
}

impl SystemLookup {
    /// Lets `at_once` lookups run at a time.
    pub fn new(at_once: usize, when_busy: WhenBusy) -> Self {
        Self {
            running: Arc::new(Semaphore::new(at_once)),
            when_busy,
        }
    }
}

impl Lookup for SystemLookup {
    fn lookup(&self, host: &str) -> BoxFuture<'static, Result<Vec<IpAddr>, LookupError>> {
        let running = Arc::clone(&self.running);
        let when_busy = self.when_busy;
        let host = host.to_owned();
        Box::pin(async move {
            let permit = match when_busy {
                WhenBusy::Refuse => running.try_acquire_owned().ok(),
                WhenBusy::Wait => running.acquire_owned().await.ok(),
            }
            .ok_or(LookupError::Busy)?;
            let looked_up = tokio::task::spawn_blocking(move || {
                // Held by the thread, not by the caller: a lookup the caller gave up on still
                // counts until `getaddrinfo` returns.
                let _permit = permit;
                (host.as_str(), 0)
                    .to_socket_addrs()
                    .map(|addresses| addresses.map(|address| address.ip()).collect())
            })
            .await;
            match looked_up {
                Ok(addresses) => addresses.map_err(LookupError::Failed),
                Err(failed) => Err(LookupError::Failed(io::Error::other(failed))),
            }
        })
    }
}

/// Why a name is not one to send to.
#[derive(Debug)]
pub enum Unresolved {
    /// The name does not exist, has no address, its lookup failed, or one of its addresses is
    /// not public: one answer for all, so that subscribing is no way to learn which names
    /// the server's DNS knows. `detail` says which, for the operator's log only.
    NotPublic { detail: String },
    /// The lookup took longer than this.
    TimedOut(Duration),
    /// As many lookups as allowed are running.
    Busy,
}

impl Unresolved {
    /// What happened, with the name and addresses: for the operator's log, never an answer.
    pub fn detail(&self) -> String {
        match self {
            Unresolved::NotPublic { detail } => detail.clone(),
            other => other.to_string(),
        }
    }
}

impl fmt::Display for Unresolved {
    /// What a subscriber is told.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unresolved::NotPublic { .. } => {
                f.write_str("does not resolve to public addresses only")
            }
            Unresolved::TimedOut(after) => {
                write!(f, "did not resolve within {}", in_words(*after))
            }
            Unresolved::Busy => f.write_str("could not be resolved now: too many lookups running"),
        }
    }
}

impl std::error::Error for Unresolved {}

/// `5 seconds`, `1 second`, `250 ms`.
fn in_words(duration: Duration) -> String {
    match (duration.as_secs(), duration.subsec_millis()) {
        (1, 0) => "1 second".to_string(),
        (seconds, 0) => format!("{seconds} seconds"),
        _ => format!("{} ms", duration.as_millis()),
    }
}

/// Looks names up within a time limit and keeps only names whose every address is public.
#[derive(Clone, Debug)]
pub struct Resolver {
    lookup: Arc<dyn Lookup>,
    timeout: Duration,
}

impl Resolver {
    pub fn new(lookup: Arc<dyn Lookup>, timeout: Duration) -> Self {
        Self { lookup, timeout }
    }

    /// Every address of `host`, if there is at least one and each is public.
    pub async fn public_addresses(&self, host: &str) -> Result<Vec<IpAddr>, Unresolved> {
        let addresses = match tokio::time::timeout(self.timeout, self.lookup.lookup(host)).await {
            Err(_) => return Err(Unresolved::TimedOut(self.timeout)),
            Ok(Err(LookupError::Busy)) => return Err(Unresolved::Busy),
            Ok(Err(LookupError::Failed(error))) => {
                return Err(Unresolved::NotPublic {
                    detail: format!("{host} does not resolve: {error}"),
                });
            }
            Ok(Ok(addresses)) => addresses,
        };
        if addresses.is_empty() {
            return Err(Unresolved::NotPublic {
                detail: format!("{host} has no address"),
            });
        }
        for address in &addresses {
            if let Some(range) = forbidden_range(*address) {
                return Err(Unresolved::NotPublic {
                    detail: format!("{host} resolves to {address}, {range}"),
                });
            }
        }
        Ok(addresses)
    }
}

/// The HTTP client's resolver at delivery: a name resolves only if every address it has is
/// public, so that the connection can only go to an address checked here. Its error is an
/// [`Unresolved`], which the delivery finds in the request's error to say what happened.
#[derive(Clone, Debug)]
pub struct CheckedResolver {
    resolver: Resolver,
}

impl CheckedResolver {
    pub fn new(resolver: Resolver) -> Self {
        Self { resolver }
    }
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let resolver = self.resolver.clone();
        Box::pin(async move {
            let addresses = resolver.public_addresses(name.as_str()).await?;
            // Port 0: the client puts the URL's port in.
            let addresses: Addrs = Box::new(
                addresses
                    .into_iter()
                    .map(|address| SocketAddr::new(address, 0)),
            );
            Ok(addresses)
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A resolver a test controls: every name has these addresses, or never resolves.
    #[derive(Debug)]
    pub(crate) enum FakeLookup {
        Addresses(Vec<IpAddr>),
        Fails,
        Never,
        Busy,
    }

    impl FakeLookup {
        pub(crate) fn of(addresses: &[&str]) -> Arc<dyn Lookup> {
            Arc::new(FakeLookup::Addresses(
                addresses.iter().map(|a| a.parse().unwrap()).collect(),
            ))
        }
    }

    impl Lookup for FakeLookup {
        fn lookup(&self, _host: &str) -> BoxFuture<'static, Result<Vec<IpAddr>, LookupError>> {
            let answer = match self {
                FakeLookup::Addresses(addresses) => Some(Ok(addresses.clone())),
                FakeLookup::Fails => Some(Err(LookupError::Failed(io::Error::new(
                    io::ErrorKind::NotFound,
                    "Name or service not known",
                )))),
                FakeLookup::Busy => Some(Err(LookupError::Busy)),
                FakeLookup::Never => None,
            };
            Box::pin(async move {
                match answer {
                    Some(answer) => answer,
                    None => std::future::pending().await,
                }
            })
        }
    }

    fn resolver(lookup: FakeLookup) -> Resolver {
        Resolver::new(Arc::new(lookup), Duration::from_millis(50))
    }

    /// Generous: only a resolver that never gives up gets near it.
    const NO_LONGER_THAN: Duration = Duration::from_secs(10);

    #[tokio::test]
    async fn a_lookup_that_never_ends_is_cut_off_at_the_timeout() {
        let never = resolver(FakeLookup::Never);
        let refused =
            tokio::time::timeout(NO_LONGER_THAN, never.public_addresses("slow.example.com"))
                .await
                .expect("the resolver gave up on its own")
                .unwrap_err();
        assert!(matches!(refused, Unresolved::TimedOut(_)), "{refused:?}");
        assert_eq!(refused.to_string(), "did not resolve within 50 ms");
    }

    #[tokio::test]
    async fn a_missing_name_and_a_private_one_get_the_same_answer() {
        let answers = [
            FakeLookup::Fails,
            FakeLookup::Addresses(Vec::new()),
            FakeLookup::Addresses(vec!["10.0.0.7".parse().unwrap()]),
            FakeLookup::Addresses(vec![
                "93.184.216.34".parse().unwrap(),
                "fd00:ec2::254".parse().unwrap(),
            ]),
        ];
        for lookup in answers {
            let shown = format!("{lookup:?}");
            let refused = resolver(lookup)
                .public_addresses("internal.example.com")
                .await
                .unwrap_err();
            assert_eq!(
                refused.to_string(),
                "does not resolve to public addresses only",
                "{shown}"
            );
            assert!(
                refused.detail().starts_with("internal.example.com "),
                "{shown}"
            );
        }
        let refused = resolver(FakeLookup::Addresses(vec!["10.0.0.7".parse().unwrap()]))
            .public_addresses("internal.example.com")
            .await
            .unwrap_err();
        assert_eq!(
            refused.detail(),
            "internal.example.com resolves to 10.0.0.7, private (10.0.0.0/8)"
        );
    }

    #[tokio::test]
    async fn a_name_with_only_public_addresses_resolves() {
        let addresses = resolver(FakeLookup::Addresses(vec![
            "93.184.216.34".parse().unwrap(),
            "2606:4700::1111".parse().unwrap(),
        ]))
        .public_addresses("hooks.example.com")
        .await
        .unwrap();
        assert_eq!(addresses.len(), 2);
    }

    #[tokio::test]
    async fn a_busy_resolver_says_so() {
        let refused = resolver(FakeLookup::Busy)
            .public_addresses("hooks.example.com")
            .await
            .unwrap_err();
        assert!(matches!(refused, Unresolved::Busy), "{refused:?}");
    }

    #[tokio::test]
    async fn the_system_lookup_refuses_beyond_its_bound_and_resolves_within_it() {
        let full = SystemLookup::new(0, WhenBusy::Refuse);
        let refused = tokio::time::timeout(NO_LONGER_THAN, full.lookup("localhost"))
            .await
            .expect("refused at once, not queued");
        assert!(matches!(refused, Err(LookupError::Busy)), "{refused:?}");
        let system = Resolver::new(
            Arc::new(SystemLookup::new(1, WhenBusy::Refuse)),
            RESOLVE_TIMEOUT,
        );
        let refused = system.public_addresses("localhost").await.unwrap_err();
        assert!(
            refused.detail().contains("loopback"),
            "{}",
            refused.detail()
        );
        assert!(!refused.to_string().contains("127.0.0.1"), "{refused}");
    }

    #[tokio::test]
    async fn the_delivery_resolver_refuses_a_private_name_with_an_unresolved_error() {
        let checked = CheckedResolver::new(resolver(FakeLookup::Addresses(vec![
            "127.0.0.1".parse().unwrap(),
        ])));
        let error = checked
            .resolve("hooks.example.com".parse().unwrap())
            .await
            .err()
            .unwrap();
        assert!(error.downcast_ref::<Unresolved>().is_some(), "{error}");
        let checked = CheckedResolver::new(resolver(FakeLookup::Addresses(vec![
            "93.184.216.34".parse().unwrap(),
        ])));
        let addresses: Vec<SocketAddr> = checked
            .resolve("hooks.example.com".parse().unwrap())
            .await
            .unwrap()
            .collect();
        assert_eq!(addresses, ["93.184.216.34:0".parse().unwrap()]);
    }

    #[test]
    fn durations_read_as_words() {
        assert_eq!(in_words(RESOLVE_TIMEOUT), "5 seconds");
        assert_eq!(in_words(Duration::from_secs(1)), "1 second");
        assert_eq!(in_words(Duration::from_millis(1500)), "1500 ms");
    }
}
