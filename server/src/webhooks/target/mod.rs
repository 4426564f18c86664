//! Where a webhook may be sent: an absolute `https` URL on an allowed port whose host resolves
//! only to public addresses, so that a subscriber cannot make the server reach its own
//! network (SSRF) or probe other services (ports).
//!
//! The rules are checked when a subscription is made and again at every delivery. At delivery
//! the HTTP client resolves names through [`CheckedResolver`], so the addresses checked are the
//! addresses connected to: a name that resolved to a public address at creation and to a
//! private one later (DNS rebinding) is refused then. `--webhooks-allow-insecure-targets`
//! ([`TargetPolicy::Insecure`]) lifts every rule, for local development and tests.
//!
//! What a refusal says is meant for the subscriber and tells nothing of the server's network:
//! never the addresses a name resolves to, and the same words whether a name does not exist or
//! resolves to a private address (see [`Unresolved`]).

pub mod address;
pub mod resolve;

use url::{Host, Url};

pub use self::address::is_forbidden;
pub use self::resolve::{
    CheckedResolver, DELIVERY_LOOKUPS, Lookup, LookupError, RESOLVE_TIMEOUT, Resolver,
    SUBSCRIPTION_LOOKUPS, SystemLookup, Unresolved, WhenBusy,
};

/// The ports a target may use by default: 443, the port of `https`, and 8443, the usual
/// alternative for HTTPS served by an unprivileged process. Any other port a subscriber could
/// name (22, 25, 6379, …) runs a service that takes no webhooks: sending to it would only
/// probe it.
pub const DEFAULT_ALLOWED_PORTS: &[u16] = &[443, 8443];

/// Which targets are allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetPolicy {
    /// `https` only, allowed ports only, public addresses only: the default.
    Public,
    /// Anything `http` or `https`, on any port, loopback included: for local development and
    /// tests.
    Insecure,
}

/// The rules of a [`TargetPolicy`], with the ports it allows and the resolver it checks names
/// with.
#[derive(Debug)]
pub struct Targets {
    policy: TargetPolicy,
    ports: Vec<u16>,
    resolver: Resolver,
}

impl Targets {
    /// `ports` are the ports the public policy allows (the insecure one allows any).
    pub fn new(policy: TargetPolicy, ports: Vec<u16>, resolver: Resolver) -> Self {
        Self {
            policy,
            ports,
            resolver,
        }
    }

    pub fn policy(&self) -> TargetPolicy {
        self.policy
    }

    /// The URL, if it is one this policy may send to as far as its text tells (scheme, user
    /// name, port, and the host when it is an address); else why not, for the subscriber.
    pub fn check_url(&self, text: &str) -> Result<Url, String> {
        let url = Url::parse(text).map_err(|error| format!("is not an absolute URL: {error}"))?;
        match (url.scheme(), self.policy) {
            ("https", _) | ("http", TargetPolicy::Insecure) => {}
            (scheme, TargetPolicy::Public) => {
                return Err(format!("must be an https URL, not {scheme}"));
            }
            (scheme, TargetPolicy::Insecure) => {
                return Err(format!("must be an http or https URL, not {scheme}"));
            }
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not carry a user name or password".to_string());
        }
        if self.policy == TargetPolicy::Insecure {
            return match url.host() {
                None => Err("has no host".to_string()),
                Some(_) => Ok(url),
            };
        }
        match url.port_or_known_default() {
            Some(port) if self.ports.contains(&port) => {}
            _ => return Err(format!("must use {}", ports_in_words(&self.ports))),
        }
        let address = match url.host() {
            None => return Err("has no host".to_string()),
            Some(Host::Domain(_)) => return Ok(url),
            Some(Host::Ipv4(address)) => address.into(),
            Some(Host::Ipv6(address)) => address.into(),
        };
        if is_forbidden(address) {
            return Err("is not a public address".to_string());
        }
        Ok(url)
    }

    /// Checks `url` (already through [`Targets::check_url`]) by resolving its host now,
    /// within the resolver's time limit ([`RESOLVE_TIMEOUT`] unless configured otherwise):
    /// every address it resolves to must be public.
    pub async fn check_resolved(&self, url: &Url) -> Result<(), Unresolved> {
        let Some(Host::Domain(host)) = url.host() else {
            return Ok(());
        };
        if self.policy == TargetPolicy::Insecure {
            return Ok(());
        }
        self.resolver.public_addresses(host).await.map(|_| ())
    }

    /// The HTTP client's resolver for deliveries under these rules.
    pub fn checked_resolver(&self) -> CheckedResolver {
        CheckedResolver::new(self.resolver.clone())
    }
}

/// `port 443`, `port 443 or 8443`, `port 443, 8443 or 9443`.
fn ports_in_words(ports: &[u16]) -> String {
    match ports {
        [] => "an allowed port (none is configured)".to_string(),
        [port] => format!("port {port}"),
        [first @ .., last] => {
            let first: Vec<String> = first.iter().map(u16::to_string).collect();
            format!("port {} or {last}", first.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use reqwest::dns::Resolve;

    use super::resolve::tests::FakeLookup;
    use super::*;

    fn rules(policy: TargetPolicy, ports: &[u16], lookup: Arc<dyn Lookup>) -> Targets {
        Targets::new(
            policy,
            ports.to_vec(),
            Resolver::new(lookup, RESOLVE_TIMEOUT),
        )
    }

    fn public() -> Targets {
        rules(
            TargetPolicy::Public,
            DEFAULT_ALLOWED_PORTS,
            FakeLookup::of(&["93.184.216.34"]),
        )
    }

    #[test]
    fn only_https_urls_without_credentials_pass_by_default() {
        let targets = public();
        assert!(targets.check_url("https://hooks.example.com/aura").is_ok());
        for (url, why) in [
            (
                "http://hooks.example.com/aura",
                "must be an https URL, not http",
            ),
            ("ftp://hooks.example.com/", "must be an https URL, not ftp"),
            (
                "https://user:pw@hooks.example.com/",
                "must not carry a user name or password",
            ),
            ("hooks.example.com/aura", "is not an absolute URL"),
            ("https://127.0.0.1/hook", "is not a public address"),
            ("https://[::1]:8443/hook", "is not a public address"),
            ("https://169.254.169.254/latest", "is not a public address"),
            // The URL parser reads every spelling of an IPv4 address as the address.
            ("https://0x7f.1/hook", "is not a public address"),
            ("https://2130706433/hook", "is not a public address"),
            ("https://0251.0376.0251.0376/", "is not a public address"),
        ] {
            let error = targets.check_url(url).unwrap_err();
            assert!(error.starts_with(why), "{url}: {error}");
        }
    }

    /// The addresses of issue 20, accepted before as URLs: each is refused, and the answer
    /// does not repeat it.
    #[test]
    fn the_ipv6_forms_of_forbidden_addresses_are_refused_as_urls() {
        let targets = public();
        for url in [
            "https://[::ffff:0:7f00:1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://[64:ff9b::7f00:1]/",
            "https://[64:ff9b:1::a00:1]/",
            "https://[2002:7f00:1::]/",
            "https://[2002:a9fe:a9fe::]/",
            "https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",
            "https://[100::1]/",
            "https://[::127.0.0.1]/",
            "https://[fd00:ec2::254]/",
        ] {
            assert_eq!(
                targets.check_url(url).unwrap_err(),
                "is not a public address",
                "{url}"
            );
        }
        assert!(targets.check_url("https://[2606:4700::1111]/").is_ok());
        assert!(targets.check_url("https://[64:ff9b::808:808]/").is_ok());
    }

    #[test]
    fn only_the_allowed_ports_pass() {
        let targets = public();
        for allowed in [
            "https://8.8.8.8/",
            "https://8.8.8.8:443/",
            "https://hooks.example.com:8443/",
        ] {
            assert!(targets.check_url(allowed).is_ok(), "{allowed}");
        }
        for refused in [
            "https://8.8.8.8:22/",
            "https://hooks.example.com:80/",
            "https://hooks.example.com:6379/",
            "https://hooks.example.com:9443/",
        ] {
            assert_eq!(
                targets.check_url(refused).unwrap_err(),
                "must use port 443 or 8443",
                "{refused}"
            );
        }
        let configured = rules(
            TargetPolicy::Public,
            &[443, 8443, 9443],
            FakeLookup::of(&[]),
        );
        assert!(
            configured
                .check_url("https://hooks.example.com:9443/")
                .is_ok()
        );
        assert_eq!(
            configured.check_url("https://8.8.8.8:22/").unwrap_err(),
            "must use port 443, 8443 or 9443"
        );
        let only_443 = rules(TargetPolicy::Public, &[443], FakeLookup::of(&[]));
        assert_eq!(
            only_443.check_url("https://8.8.8.8:8443/").unwrap_err(),
            "must use port 443"
        );
    }

    #[test]
    fn the_insecure_policy_lets_loopback_http_on_any_port_through() {
        let targets = rules(
            TargetPolicy::Insecure,
            DEFAULT_ALLOWED_PORTS,
            FakeLookup::of(&[]),
        );
        assert!(targets.check_url("http://127.0.0.1:9000/hook").is_ok());
        assert!(targets.check_url("https://[::1]:22/hook").is_ok());
        assert!(targets.check_url("ftp://127.0.0.1/").is_err());
    }

    #[tokio::test]
    async fn a_name_is_resolved_at_creation_and_refused_unless_public() {
        let url = public().check_url("https://hooks.example.com/").unwrap();
        assert!(public().check_resolved(&url).await.is_ok());
        let private = rules(
            TargetPolicy::Public,
            DEFAULT_ALLOWED_PORTS,
            FakeLookup::of(&["93.184.216.34", "10.0.0.7"]),
        );
        let refused = private.check_resolved(&url).await.unwrap_err();
        assert_eq!(
            refused.to_string(),
            "does not resolve to public addresses only"
        );
        let slow = Targets::new(
            TargetPolicy::Public,
            DEFAULT_ALLOWED_PORTS.to_vec(),
            Resolver::new(Arc::new(FakeLookup::Never), Duration::from_millis(20)),
        );
        // The outer bound is generous: only a check that never gives up gets near it.
        let checked = tokio::time::timeout(Duration::from_secs(10), slow.check_resolved(&url));
        assert!(matches!(
            checked.await.expect("the check gave up on its own"),
            Err(Unresolved::TimedOut(_))
        ));
        let insecure = Targets::new(
            TargetPolicy::Insecure,
            Vec::new(),
            Resolver::new(Arc::new(FakeLookup::Never), RESOLVE_TIMEOUT),
        );
        assert!(insecure.check_resolved(&url).await.is_ok(), "no lookup");
    }

    #[tokio::test]
    async fn localhost_is_refused_at_creation_and_at_delivery_without_naming_its_address() {
        let targets = rules(
            TargetPolicy::Public,
            DEFAULT_ALLOWED_PORTS,
            Arc::new(SystemLookup::new(2, WhenBusy::Refuse)),
        );
        let url = targets.check_url("https://localhost:8443/hook").unwrap();
        let refused = targets.check_resolved(&url).await.unwrap_err();
        assert_eq!(
            refused.to_string(),
            "does not resolve to public addresses only"
        );
        assert!(
            refused.detail().contains("loopback"),
            "{}",
            refused.detail()
        );
        let name: reqwest::dns::Name = "localhost".parse().unwrap();
        let refused = targets
            .checked_resolver()
            .resolve(name)
            .await
            .err()
            .unwrap();
        assert_eq!(
            refused.to_string(),
            "does not resolve to public addresses only"
        );
    }

    #[test]
    fn ports_read_as_words() {
        assert_eq!(ports_in_words(&[443]), "port 443");
        assert_eq!(ports_in_words(&[443, 8443]), "port 443 or 8443");
        assert_eq!(ports_in_words(&[1, 2, 3]), "port 1, 2 or 3");
        assert_eq!(ports_in_words(&[]), "an allowed port (none is configured)");
    }
}
