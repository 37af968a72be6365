//! The client address behind trusted proxies (SPEC §7.2): when the TCP peer is in
//! `s2s.trusted_proxies`, the client is the right-most `Forwarded: for=` (RFC 7239) or
//! `X-Forwarded-For` address that is not itself a trusted proxy. Addresses further left were
//! written by whoever sent the request and prove nothing; an address that cannot be read
//! stops the walk at the last trusted hop.

use crate::config::TrustedProxies;
use axum::http::HeaderMap;
use std::net::{IpAddr, SocketAddr};

/// Most hops looked at: a longer chain is not a real proxy path.
const MAX_HOPS: usize = 32;

/// The address limits and audit use for a request from `peer` with `headers`.
pub fn client_ip(trusted: &TrustedProxies, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
    if trusted.is_empty() || !trusted.trusts(peer) {
        return peer;
    }
    let forwarded: Vec<&str> = headers
        .get_all("forwarded")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let hops: Vec<Option<IpAddr>> = if !forwarded.is_empty() {
        forwarded
            .iter()
            .flat_map(|v| v.split(','))
            .map(forwarded_for)
            .collect()
    } else {
        headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(parse_node)
            .collect()
    };
    let mut client = peer;
    for hop in hops.into_iter().rev().take(MAX_HOPS) {
        match hop {
            Some(ip) if trusted.trusts(ip) => client = ip,
            Some(ip) => return ip,
            None => return client,
        }
    }
    client
}

/// The `for=` address of one `Forwarded` element (`for=192.0.2.1;proto=https`).
fn forwarded_for(element: &str) -> Option<IpAddr> {
    element
        .split(';')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("for"))
        .and_then(|(_, v)| parse_node(v.trim().trim_matches('"')))
}

/// An address as proxies write it: `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1` or
/// `[2001:db8::1]:4711`. IPv4-mapped IPv6 counts as IPv4.
pub fn parse_node(node: &str) -> Option<IpAddr> {
    let node = node.trim();
    let ip = node
        .parse::<IpAddr>()
        .ok()
        .or_else(|| node.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| {
            node.strip_prefix('[')
                .and_then(|rest| rest.split_once(']'))
                .and_then(|(inner, _)| inner.parse().ok())
        })?;
    Some(match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_right_most_untrusted_address_is_the_client() {
        let trusted = TrustedProxies::try_from(&["10.0.0.0/8"][..]).unwrap();
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 1.2.3.4, 10.0.0.2")]);
        assert_eq!(client_ip(&trusted, ip("10.0.0.1"), &h), ip("1.2.3.4"));
        let h = headers(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-for", "1.2.3.4"),
        ]);
        assert_eq!(client_ip(&trusted, ip("10.0.0.1"), &h), ip("1.2.3.4"));
        let h = headers(&[(
            "forwarded",
            "for=6.6.6.6, for=\"[2001:db8::17]:4711\";proto=https, for=10.0.0.3",
        )]);
        assert_eq!(client_ip(&trusted, ip("10.0.0.1"), &h), ip("2001:db8::17"));
    }

    #[test]
    fn headers_from_an_untrusted_peer_are_ignored() {
        let trusted = TrustedProxies::try_from(&["10.0.0.0/8"][..]).unwrap();
        let h = headers(&[("x-forwarded-for", "1.2.3.4")]);
        assert_eq!(client_ip(&trusted, ip("8.8.8.8"), &h), ip("8.8.8.8"));
        assert_eq!(
            client_ip(&TrustedProxies::default(), ip("10.0.0.1"), &h),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn an_unreadable_hop_stops_at_the_last_trusted_one() {
        let trusted = TrustedProxies::try_from(&["10.0.0.0/8"][..]).unwrap();
        let h = headers(&[("x-forwarded-for", "1.2.3.4, unknown, 10.0.0.9")]);
        assert_eq!(client_ip(&trusted, ip("10.0.0.1"), &h), ip("10.0.0.9"));
        let h = headers(&[("x-forwarded-for", "10.0.0.7")]);
        assert_eq!(client_ip(&trusted, ip("10.0.0.1"), &h), ip("10.0.0.7"));
        assert_eq!(parse_node("1.2.3.4:80"), Some(ip("1.2.3.4")));
        assert_eq!(parse_node("::ffff:1.2.3.4"), Some(ip("1.2.3.4")));
        assert_eq!(parse_node("_hidden"), None);
    }
}
