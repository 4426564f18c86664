//! Where a webhook may be sent: an absolute `https` URL whose host resolves only to public
//! addresses, so that a subscriber cannot make the server reach its own network (SSRF).
//!
//! The rules are checked when a subscription is made and again at every delivery. At delivery
//! the HTTP client resolves names through [`CheckedResolver`], so the addresses checked are the
//! addresses connected to: a name that resolved to a public address at creation and to a
//! private one later (DNS rebinding) is refused then. `--webhooks-allow-insecure-targets`
//! ([`TargetPolicy::Insecure`]) lifts every rule, for local development and tests.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

/// Which targets are allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetPolicy {
    /// `https` only, public addresses only: the default.
    Public,
    /// Anything `http` or `https`, loopback included: for local development and tests.
    Insecure,
}

impl TargetPolicy {
    /// The URL, if it is one this policy may send to as far as its text tells (scheme, user
    /// name, and the host when it is an address); else why not, for the subscriber.
    pub fn check_url(self, text: &str) -> Result<Url, String> {
        let url = Url::parse(text).map_err(|error| format!("is not an absolute URL: {error}"))?;
        match (url.scheme(), self) {
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
        match url.host() {
            None => return Err("has no host".to_string()),
            Some(Host::Ipv4(address)) => self.check_address(IpAddr::V4(address))?,
            Some(Host::Ipv6(address)) => self.check_address(IpAddr::V6(address))?,
            Some(Host::Domain(_)) => {}
        }
        Ok(url)
    }

    /// Whether this policy may send to `address`.
    pub fn check_address(self, address: IpAddr) -> Result<(), String> {
        match self {
            TargetPolicy::Insecure => Ok(()),
            TargetPolicy::Public if is_forbidden(address) => Err(format!(
                "resolves to {address}, a loopback, private, link-local, shared or metadata \
                 address"
            )),
            TargetPolicy::Public => Ok(()),
        }
    }

    /// Checks `url` (already through [`TargetPolicy::check_url`]) by resolving its host now:
    /// every address it resolves to must be allowed.
    pub async fn check_resolved(self, url: &Url) -> Result<(), String> {
        let Some(Host::Domain(host)) = url.host() else {
            return Ok(());
        };
        if self == TargetPolicy::Insecure {
            return Ok(());
        }
        let port = url.port_or_known_default().unwrap_or(443);
        let addresses = tokio::net::lookup_host((host, port))
            .await
            .map_err(|error| format!("has a host that does not resolve: {error}"))?;
        for address in addresses {
            self.check_address(address.ip())?;
        }
        Ok(())
    }
}

/// Whether `address` is one a webhook must never reach: loopback, private, link-local
/// (cloud metadata services live there), shared (carrier-grade NAT), unspecified, multicast,
/// broadcast, documentation, benchmarking or reserved; IPv6 unique-local, link-local and the
/// IPv4 addresses mapped or translated into IPv6.
pub fn is_forbidden(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(address) => is_forbidden_v4(address),
        IpAddr::V6(address) => is_forbidden_v6(address),
    }
}

fn is_forbidden_v4(address: Ipv4Addr) -> bool {
    let [a, b, c, _] = address.octets();
    address.is_loopback()
        || address.is_private()
        || address.is_link_local()
        || address.is_unspecified()
        || address.is_multicast()
        || address.is_broadcast()
        || address.is_documentation()
        || a == 0
        // Shared address space (RFC 6598).
        || (a == 100 && (64..128).contains(&b))
        // IETF protocol assignments (RFC 6890), benchmarking (RFC 2544), reserved (RFC 1112).
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (18..20).contains(&b))
        || a >= 240
}

fn is_forbidden_v6(address: Ipv6Addr) -> bool {
    if let Some(mapped) = address.to_ipv4_mapped() {
        return is_forbidden_v4(mapped);
    }
    let segments = address.segments();
    address.is_loopback()
        || address.is_unspecified()
        || address.is_multicast()
        // Unique local (fc00::/7), where AWS's metadata service has fd00:ec2::254.
        || (segments[0] & 0xfe00) == 0xfc00
        // Link-local (fe80::/10) and the deprecated site-local (fec0::/10).
        || (segments[0] & 0xffc0) == 0xfe80
        || (segments[0] & 0xffc0) == 0xfec0
        // IPv4-compatible (::/96), NAT64 (64:ff96::/96): they reach IPv4 addresses.
        || segments[..6] == [0; 6]
        || segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0]
        // Documentation (2001:db8::/32).
        || (segments[0] == 0x2001 && segments[1] == 0x0db8)
}

/// The HTTP client's resolver at delivery: resolves a name and refuses it if any of its
/// addresses is forbidden, so that the connection can only go to an address checked here.
#[derive(Debug, Default)]
pub struct CheckedResolver;

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addresses: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some(forbidden) = addresses.iter().find(|address| is_forbidden(address.ip())) {
                return Err(format!(
                    "{host} resolves to {}, a loopback, private, link-local, shared or metadata \
                     address",
                    forbidden.ip()
                )
                .into());
            }
            let addresses: Addrs = Box::new(addresses.into_iter());
            Ok(addresses)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_forbidden_and_public_ones_are_not() {
        for forbidden in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
        ] {
            let address: IpAddr = forbidden.parse().unwrap();
            assert!(is_forbidden(address), "{forbidden} should be forbidden");
        }
        for allowed in ["93.184.216.34", "8.8.8.8", "100.128.0.1", "2606:4700::1111"] {
            let address: IpAddr = allowed.parse().unwrap();
            assert!(!is_forbidden(address), "{allowed} should be allowed");
        }
    }

    #[test]
    fn only_https_urls_without_credentials_pass_by_default() {
        let policy = TargetPolicy::Public;
        assert!(policy.check_url("https://hooks.example.com/aura").is_ok());
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
            ("https://127.0.0.1/hook", "resolves to 127.0.0.1"),
            ("https://[::1]:8443/hook", "resolves to ::1"),
            (
                "https://169.254.169.254/latest",
                "resolves to 169.254.169.254",
            ),
        ] {
            let error = policy.check_url(url).unwrap_err();
            assert!(error.starts_with(why), "{url}: {error}");
        }
    }

    #[test]
    fn the_insecure_policy_lets_loopback_http_through() {
        let policy = TargetPolicy::Insecure;
        assert!(policy.check_url("http://127.0.0.1:9000/hook").is_ok());
        assert!(policy.check_url("ftp://127.0.0.1/").is_err());
    }

    #[tokio::test]
    async fn a_name_resolving_to_loopback_is_refused_at_creation_and_at_delivery() {
        let policy = TargetPolicy::Public;
        let url = policy.check_url("https://localhost:8443/hook").unwrap();
        let error = policy.check_resolved(&url).await.unwrap_err();
        assert!(error.contains("loopback"), "{error}");
        let name: Name = "localhost".parse().unwrap();
        let refused = CheckedResolver.resolve(name).await.err().unwrap();
        assert!(
            refused.to_string().contains("localhost resolves to"),
            "{refused}"
        );
    }
}
