//! Which client address to believe behind reverse proxies: the rule, as a pure function of the
//! TCP peer, the forwarding headers and the configured trusted proxies.
//!
//! A forwarding header is believed only when the TCP peer is a trusted proxy, and then only as
//! far as the chain of trusted proxies reaches: the header is read from the right (the entry
//! the nearest proxy appended) and each entry that is itself a trusted proxy leads one step
//! further left; the first untrusted entry is the client. Entries left of it were written by
//! the client, or by proxies we do not know, and are never believed. `X-Forwarded-For` is read
//! when present, `Forwarded` (RFC 7239, its `for=` parameters) otherwise: a proxy that writes
//! only `Forwarded` must therefore drop any `X-Forwarded-For` its clients send.

use std::net::{IpAddr, SocketAddr};

/// The addresses (single IPs or CIDR blocks) of the reverse proxies whose forwarding headers
/// are believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    blocks: Vec<(IpAddr, u8)>,
}

impl TrustedProxies {
    /// Parses entries such as `10.0.0.1`, `10.0.0.0/8` or `fd00::/8`; an error names the
    /// entry that is neither an IP address nor a CIDR block.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, String> {
        let blocks = entries
            .iter()
            .map(|entry| {
                let entry = entry.as_ref().trim();
                let invalid = || format!("`{entry}` is not an IP address or a CIDR block");
                let (ip, prefix) = match entry.split_once('/') {
                    Some((ip, prefix)) => {
                        let ip: IpAddr = ip.parse().map_err(|_| invalid())?;
                        (ip, prefix.parse::<u8>().map_err(|_| invalid())?)
                    }
                    None => {
                        let ip: IpAddr = entry.parse().map_err(|_| invalid())?;
                        (ip, if ip.is_ipv4() { 32 } else { 128 })
                    }
                };
                let bits = if ip.is_ipv4() { 32 } else { 128 };
                if prefix > bits {
                    return Err(invalid());
                }
                Ok((ip, prefix))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { blocks })
    }

    /// Whether no proxy is trusted (forwarding headers are then always ignored).
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// Whether `ip` is one of the trusted proxies (an IPv4-mapped IPv6 address counts as its
    /// IPv4 address).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.blocks
            .iter()
            .any(|&(block, prefix)| match (canonical(block), ip) {
                (IpAddr::V4(block), IpAddr::V4(ip)) => prefix_matches(
                    u128::from(block.to_bits()),
                    u128::from(ip.to_bits()),
                    prefix,
                    32,
                ),
                (IpAddr::V6(block), IpAddr::V6(ip)) => {
                    prefix_matches(block.to_bits(), ip.to_bits(), prefix, 128)
                }
                _ => false,
            })
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

fn prefix_matches(block: u128, ip: u128, prefix: u8, bits: u32) -> bool {
    let ignored = bits - u32::from(prefix);
    ignored >= bits || (block >> ignored) == (ip >> ignored)
}

/// The client's address for a request from the TCP peer `peer` carrying these
/// `X-Forwarded-For` and `Forwarded` header values (every occurrence, in order). The peer
/// itself unless it is a trusted proxy; a forwarded address has port 0 unless the header
/// gave one. A malformed or obfuscated entry (`unknown`, `_hidden`) stops the walk at the
/// proxy that wrote it.
pub fn client_address(
    peer: SocketAddr,
    x_forwarded_for: &[&str],
    forwarded: &[&str],
    trusted: &TrustedProxies,
) -> SocketAddr {
    if !trusted.contains(peer.ip()) {
        return peer;
    }
    let entries: Vec<Option<SocketAddr>> = if !x_forwarded_for.is_empty() {
        x_forwarded_for
            .iter()
            .flat_map(|value| value.split(','))
            .map(|entry| parse_node(entry.trim()))
            .collect()
    } else {
        forwarded
            .iter()
            .flat_map(|value| value.split(','))
            .filter_map(forwarded_for)
            .map(|node| parse_node(&node))
            .collect()
    };
    let mut client = peer;
    for entry in entries.iter().rev() {
        match entry {
            Some(address) => {
                client = *address;
                if !trusted.contains(address.ip()) {
                    break;
                }
            }
            None => break,
        }
    }
    client
}

/// The `for=` value of one `Forwarded` element, unquoted; `None` when the element has none.
fn forwarded_for(element: &str) -> Option<String> {
    element.split(';').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("for")
            .then(|| value.trim().trim_matches('"').to_owned())
    })
}

/// An address as forwarding headers write it: `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`,
/// `[2001:db8::1]` or `[2001:db8::1]:4711`.
fn parse_node(node: &str) -> Option<SocketAddr> {
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(SocketAddr::new(ip, 0));
    }
    if let Ok(address) = node.parse::<SocketAddr>() {
        return Some(address);
    }
    let bracketed = node.strip_prefix('[')?.strip_suffix(']')?;
    bracketed
        .parse::<IpAddr>()
        .ok()
        .map(|ip| SocketAddr::new(ip, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(text: &str) -> SocketAddr {
        SocketAddr::new(text.parse().expect("an address"), 40000)
    }

    fn proxies(entries: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(entries).expect("valid entries")
    }

    #[test]
    fn entries_parse_as_addresses_or_blocks() {
        let trusted = proxies(&["10.0.0.0/8", "192.0.2.7", "fd00::/8"]);
        assert!(trusted.contains("10.200.3.4".parse().expect("ip")));
        assert!(trusted.contains("192.0.2.7".parse().expect("ip")));
        assert!(!trusted.contains("192.0.2.8".parse().expect("ip")));
        assert!(trusted.contains("fd12::1".parse().expect("ip")));
        assert!(trusted.contains("::ffff:10.1.1.1".parse().expect("ip")));
        assert!(!trusted.contains("11.0.0.1".parse().expect("ip")));
        assert!(proxies(&["0.0.0.0/0"]).contains("203.0.113.9".parse().expect("ip")));
        for bad in ["10.0.0.0/33", "proxy.internal", "10.0.0.0/x", "::/129"] {
            assert!(TrustedProxies::parse(&[bad]).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn headers_from_an_untrusted_peer_are_ignored() {
        let client = client_address(
            peer("203.0.113.5"),
            &["198.51.100.1"],
            &["for=198.51.100.2"],
            &proxies(&["10.0.0.0/8"]),
        );
        assert_eq!(client, peer("203.0.113.5"));
        assert_eq!(
            client_address(
                peer("10.0.0.1"),
                &["198.51.100.1"],
                &[],
                &TrustedProxies::default()
            ),
            peer("10.0.0.1"),
            "nothing is trusted by default"
        );
    }

    #[test]
    fn the_walk_stops_at_the_first_untrusted_entry_from_the_right() {
        let trusted = proxies(&["10.0.0.0/8"]);
        // The client forged the first entry; the proxy appended the real one.
        let client = client_address(
            peer("10.0.0.1"),
            &["1.2.3.4, 198.51.100.7", "10.0.0.2"],
            &[],
            &trusted,
        );
        assert_eq!(client.ip(), "198.51.100.7".parse::<IpAddr>().expect("ip"));
        // Only trusted proxies in the chain: the leftmost is the client.
        let inner = client_address(peer("10.0.0.1"), &["10.9.9.9"], &[], &trusted);
        assert_eq!(inner.ip(), "10.9.9.9".parse::<IpAddr>().expect("ip"));
        // A malformed entry stops at the proxy that wrote it.
        let stopped = client_address(peer("10.0.0.1"), &["198.51.100.7, unknown"], &[], &trusted);
        assert_eq!(stopped, peer("10.0.0.1"));
    }

    #[test]
    fn forwarded_is_read_when_there_is_no_x_forwarded_for() {
        let trusted = proxies(&["10.0.0.1"]);
        let client = client_address(
            peer("10.0.0.1"),
            &[],
            &["for=192.0.2.60;proto=http;by=203.0.113.43, For=\"[2001:db8:cafe::17]:4711\""],
            &trusted,
        );
        assert_eq!(client, "[2001:db8:cafe::17]:4711".parse().expect("address"));
        let with_both = client_address(
            peer("10.0.0.1"),
            &["198.51.100.9"],
            &["for=192.0.2.60"],
            &trusted,
        );
        assert_eq!(
            with_both.ip(),
            "198.51.100.9".parse::<IpAddr>().expect("ip")
        );
    }
}
