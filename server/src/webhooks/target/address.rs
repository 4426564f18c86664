//! Which IP addresses a webhook may reach: those the IANA special-purpose registries
//! (<https://www.iana.org/assignments/iana-ipv4-special-registry>,
//! <https://www.iana.org/assignments/iana-ipv6-special-registry>) do not set apart, and for
//! IPv6 only global unicast (`2000::/3`) or NAT64 of an allowed IPv4 address.
//!
//! Every range is refused whole, even where the registry marks a few addresses in it globally
//! reachable (the PCP and TURN anycasts in `192.0.0.0/24`, AMT and AS112 in `2001::/23`):
//! none of them serves webhooks, and a blunt rule is one less thing to get wrong. The ranges the
//! registry marks globally reachable outside those blocks (AS112 `192.31.196.0/24` and
//! `192.175.48.0/24`, AMT `192.52.193.0/24`, `2620:4f:8000::/48`) are public addresses and
//! pass.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};

/// A range of addresses a webhook must not reach, and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    pub net: Net,
    pub name: &'static str,
}

/// An IPv4 or IPv6 prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Net {
    V4(Ipv4Net),
    V6(Ipv6Net),
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.net {
            Net::V4(net) => write!(f, "{} ({net})", self.name),
            Net::V6(net) => write!(f, "{} ({net})", self.name),
        }
    }
}

const fn v4(a: u8, b: u8, c: u8, d: u8, prefix: u8, name: &'static str) -> Range {
    // `new_assert` in a `const` item: a wrong prefix length fails the build, never a request.
    Range {
        net: Net::V4(Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), prefix)),
        name,
    }
}

const fn v6(segments: [u16; 8], prefix: u8, name: &'static str) -> Range {
    let [a, b, c, d, e, f, g, h] = segments;
    Range {
        net: Net::V6(Ipv6Net::new_assert(
            Ipv6Addr::new(a, b, c, d, e, f, g, h),
            prefix,
        )),
        name,
    }
}

/// The IPv4 ranges refused; the first that holds an address names it.
const FORBIDDEN_V4: &[Range] = &[
    v4(0, 0, 0, 0, 8, "\"this network\""),
    v4(10, 0, 0, 0, 8, "private"),
    v4(100, 64, 0, 0, 10, "shared (carrier-grade NAT)"),
    v4(127, 0, 0, 0, 8, "loopback"),
    // Cloud metadata services (169.254.169.254) live here.
    v4(169, 254, 0, 0, 16, "link-local"),
    v4(172, 16, 0, 0, 12, "private"),
    // DS-Lite, PCP and TURN anycasts, NAT64 discovery: infrastructure, never a receiver.
    v4(192, 0, 0, 0, 24, "IETF protocol assignments"),
    v4(192, 0, 2, 0, 24, "documentation (TEST-NET-1)"),
    v4(192, 88, 99, 0, 24, "6to4 relay anycast (deprecated)"),
    v4(192, 168, 0, 0, 16, "private"),
    v4(198, 18, 0, 0, 15, "benchmarking"),
    v4(198, 51, 100, 0, 24, "documentation (TEST-NET-2)"),
    v4(203, 0, 113, 0, 24, "documentation (TEST-NET-3)"),
    v4(224, 0, 0, 0, 4, "multicast"),
    v4(255, 255, 255, 255, 32, "limited broadcast"),
    v4(240, 0, 0, 0, 4, "reserved"),
];

/// The IPv6 ranges refused; the first that holds an address names it. Those outside
/// `2000::/3` are refused anyway (see [`NOT_GLOBAL_UNICAST`]) and are listed for their names.
const FORBIDDEN_V6: &[Range] = &[
    v6([0, 0, 0, 0, 0, 0, 0, 0], 128, "unspecified"),
    v6([0, 0, 0, 0, 0, 0, 0, 1], 128, "loopback"),
    // The forms that carry an IPv4 address and reach it through the host's own stack or a
    // translator near it: refused whatever the IPv4 address, which a subscriber can name
    // directly if it is public.
    v6([0, 0, 0, 0, 0, 0xffff, 0, 0], 96, "IPv4-mapped"),
    v6([0, 0, 0, 0, 0xffff, 0, 0, 0], 96, "IPv4-translated"),
    v6([0, 0, 0, 0, 0, 0, 0, 0], 96, "IPv4-compatible (deprecated)"),
    v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48, "local-use NAT64"),
    v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64, "discard-only"),
    v6([0x100, 0, 0, 1, 0, 0, 0, 0], 64, "dummy prefix"),
    // 2001::/23 holds Teredo, benchmarking, ORCHID and more infrastructure; the named rows
    // come first so that a refusal says which.
    v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 32, "Teredo"),
    v6([0x2001, 2, 0, 0, 0, 0, 0, 0], 48, "benchmarking"),
    v6([0x2001, 0x10, 0, 0, 0, 0, 0, 0], 28, "ORCHID (deprecated)"),
    v6([0x2001, 0x20, 0, 0, 0, 0, 0, 0], 28, "ORCHIDv2"),
    v6(
        [0x2001, 0, 0, 0, 0, 0, 0, 0],
        23,
        "IETF protocol assignments",
    ),
    v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32, "documentation"),
    // 6to4 tunnels to the IPv4 address it embeds, through relays deprecated since RFC 7526; a
    // host that has one has that public IPv4 address to be reached at.
    v6([0x2002, 0, 0, 0, 0, 0, 0, 0], 16, "6to4"),
    v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, "documentation"),
    v6([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16, "segment routing SIDs"),
    // AWS's metadata service answers at fd00:ec2::254.
    v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, "unique-local"),
    v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, "link-local"),
    v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, "site-local (deprecated)"),
    v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, "multicast"),
];

/// The well-known NAT64 prefix (RFC 6052): globally reachable, as the IPv4 address in its
/// last 32 bits is, which a DNS64 resolver hands an IPv6-only host for an IPv4-only name.
const NAT64: Ipv6Net = Ipv6Net::new_assert(Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96);

/// Global unicast, the only IPv6 space IANA allocates to networks; the rest is reserved.
const GLOBAL_UNICAST: Ipv6Net = Ipv6Net::new_assert(Ipv6Addr::new(0x2000, 0, 0, 0, 0, 0, 0, 0), 3);

/// The name an IPv6 address outside [`GLOBAL_UNICAST`] and the named ranges is refused by.
const NOT_GLOBAL_UNICAST: Range = v6(
    [0x2000, 0, 0, 0, 0, 0, 0, 0],
    3,
    "not global unicast (outside 2000::/3)",
);

/// Whether `address` is one a webhook must never reach.
pub fn is_forbidden(address: IpAddr) -> bool {
    forbidden_range(address).is_some()
}

/// The range that forbids `address`, if one does: for NAT64, the range of the IPv4 address it
/// translates to.
pub fn forbidden_range(address: IpAddr) -> Option<Range> {
    match address {
        IpAddr::V4(address) => forbidden_v4(address),
        IpAddr::V6(address) => forbidden_v6(address),
    }
}

fn forbidden_v4(address: Ipv4Addr) -> Option<Range> {
    FORBIDDEN_V4
        .iter()
        .find(|range| matches!(range.net, Net::V4(net) if net.contains(&address)))
        .copied()
}

fn forbidden_v6(address: Ipv6Addr) -> Option<Range> {
    if NAT64.contains(&address) {
        let [.., a, b, c, d] = address.octets();
        return forbidden_v4(Ipv4Addr::new(a, b, c, d));
    }
    let named = FORBIDDEN_V6
        .iter()
        .find(|range| matches!(range.net, Net::V6(net) if net.contains(&address)))
        .copied();
    match named {
        Some(range) => Some(range),
        None if !GLOBAL_UNICAST.contains(&address) => Some(NOT_GLOBAL_UNICAST),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One row per range, with the range that must refuse it; the addresses of issue 20 each
    /// have a row.
    #[test]
    fn every_special_purpose_range_is_refused_by_its_own_row() {
        for (address, range) in [
            // IPv4.
            ("0.0.0.0", "\"this network\""),
            ("0.1.2.3", "\"this network\""),
            ("10.1.2.3", "private"),
            ("100.64.0.1", "shared (carrier-grade NAT)"),
            ("100.127.255.254", "shared (carrier-grade NAT)"),
            ("127.0.0.1", "loopback"),
            ("127.255.255.254", "loopback"),
            ("169.254.169.254", "link-local"),
            ("172.16.0.1", "private"),
            ("172.31.255.254", "private"),
            ("192.0.0.8", "IETF protocol assignments"),
            ("192.0.0.170", "IETF protocol assignments"),
            ("192.0.2.1", "documentation (TEST-NET-1)"),
            ("192.88.99.1", "6to4 relay anycast (deprecated)"),
            ("192.168.1.1", "private"),
            ("198.18.0.1", "benchmarking"),
            ("198.19.255.254", "benchmarking"),
            ("198.51.100.7", "documentation (TEST-NET-2)"),
            ("203.0.113.9", "documentation (TEST-NET-3)"),
            ("224.0.0.1", "multicast"),
            ("239.255.255.250", "multicast"),
            ("240.0.0.1", "reserved"),
            ("255.255.255.254", "reserved"),
            ("255.255.255.255", "limited broadcast"),
            // IPv6.
            ("::", "unspecified"),
            ("::1", "loopback"),
            ("::ffff:127.0.0.1", "IPv4-mapped"),
            ("::ffff:169.254.169.254", "IPv4-mapped"),
            ("::ffff:8.8.8.8", "IPv4-mapped"),
            ("::ffff:0:7f00:1", "IPv4-translated"),
            ("::ffff:0:808:808", "IPv4-translated"),
            ("::127.0.0.1", "IPv4-compatible (deprecated)"),
            ("::8.8.8.8", "IPv4-compatible (deprecated)"),
            ("64:ff9b::7f00:1", "loopback"),
            ("64:ff9b::a00:1", "private"),
            ("64:ff9b::a9fe:a9fe", "link-local"),
            ("64:ff9b:1::a00:1", "local-use NAT64"),
            ("64:ff9b:1::808:808", "local-use NAT64"),
            ("100::1", "discard-only"),
            ("100:0:0:1::1", "dummy prefix"),
            ("2001:0:4136:e378:8000:63bf:80ff:fffe", "Teredo"),
            ("2001:2::1", "benchmarking"),
            ("2001:10::1", "ORCHID (deprecated)"),
            ("2001:20::1", "ORCHIDv2"),
            ("2001:3::1", "IETF protocol assignments"),
            ("2001:4:112::1", "IETF protocol assignments"),
            ("2001:1::1", "IETF protocol assignments"),
            ("2001:db8::1", "documentation"),
            ("2002:7f00:1::", "6to4"),
            ("2002:a9fe:a9fe::", "6to4"),
            ("2002:808:808::1", "6to4"),
            ("3fff::1", "documentation"),
            ("3fff:fff::1", "documentation"),
            ("5f00::1", "segment routing SIDs"),
            ("fd00:ec2::254", "unique-local"),
            ("fc00::1", "unique-local"),
            ("fe80::1", "link-local"),
            ("febf::1", "link-local"),
            ("fec0::1", "site-local (deprecated)"),
            ("ff02::1", "multicast"),
            ("ff0e::1", "multicast"),
            ("400::1", "not global unicast (outside 2000::/3)"),
            ("4000::1", "not global unicast (outside 2000::/3)"),
            ("64:ff9a::1", "not global unicast (outside 2000::/3)"),
        ] {
            let parsed: IpAddr = address.parse().unwrap();
            let refused = forbidden_range(parsed).map(|range| range.name);
            assert_eq!(refused, Some(range), "{address}");
            assert!(is_forbidden(parsed), "{address}");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for address in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.216.34",
            "100.63.255.255",
            "100.128.0.1",
            "172.32.0.1",
            "192.0.1.1",
            "192.31.196.1",
            "192.52.193.1",
            "192.175.48.1",
            "198.17.255.255",
            "198.20.0.1",
            "223.255.255.255",
            "2606:4700::1111",
            "2a00:1450:4001:80b::200e",
            "2001:200::1",
            "2001:4860:4860::8888",
            "2620:4f:8000::1",
            "64:ff9b::808:808",
            "64:ff9b::5db8:d822",
        ] {
            let parsed: IpAddr = address.parse().unwrap();
            assert_eq!(forbidden_range(parsed), None, "{address}");
        }
    }

    #[test]
    fn a_refusal_names_its_range_for_the_operator() {
        let range = forbidden_range("2002:a9fe:a9fe::".parse().unwrap());
        assert_eq!(
            range.map(|r| r.to_string()).as_deref(),
            Some("6to4 (2002::/16)")
        );
    }
}
