//! Outbound HTTP: the one client builder (timeouts, no redirects) and the guard on requests
//! to upstream OpenID providers (SPEC §7.1).
//!
//! A tenant admin names an upstream's issuer, and the provider's discovery document names the
//! JWKS and token endpoints: all of it is tenant input, so without a guard Tessera would fetch
//! and POST wherever a tenant points it (loopback admin ports, the cloud metadata service,
//! private networks). [`Guarded`] sends such requests only to `https` URLs whose address is
//! public, unless the address lies in `upstream.allowed_networks` (where `http` is allowed
//! too). The check is made on the address actually connected: a [`reqwest::dns::Resolve`]
//! drops every address that is not allowed, so a name that resolves to a public address when
//! registered and to `127.0.0.1` when used (DNS rebinding) still never reaches `127.0.0.1`.
//! reqwest skips the resolver for IP-literal hosts, so those are checked before sending.
//! Redirects are never followed, and proxies from the environment are not used (a proxy
//! would be the address connected, and the check would no longer see the target).

use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::{Method, Url};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// Why an outbound request to an upstream provider was not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// A client builder with the settings every outbound client shares: `timeout` seconds for
/// connecting and for the whole request, and no redirects followed.
pub fn builder(timeout: i64) -> reqwest::ClientBuilder {
    let secs = seconds(timeout);
    reqwest::Client::builder()
        .timeout(secs)
        .connect_timeout(secs)
        .redirect(reqwest::redirect::Policy::none())
}

/// A client for an operator-configured endpoint (the STS of `aws_iam` proofs): not tenant
/// input, so not held to the upstream address guard ([`Guarded`]).
pub fn plain_client(timeout: i64) -> reqwest::Client {
    builder(timeout).build().unwrap_or_default()
}

fn seconds(timeout: i64) -> Duration {
    Duration::from_secs(u64::try_from(timeout.max(1)).unwrap_or(5))
}

/// Parses `upstream.allowed_networks`: CIDRs, or bare addresses (one host each).
pub fn parse_networks(list: &[String]) -> Result<Vec<IpNet>, String> {
    list.iter()
        .map(|s| {
            let s = s.trim();
            s.parse::<IpNet>()
                .map(|n| n.trunc())
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    format!("upstream.allowed_networks: {s:?} is not a CIDR or an IP address")
                })
                .and_then(|n| {
                    if n.prefix_len() == 0 {
                        Err(format!(
                            "upstream.allowed_networks: {s:?} would allow every address; name the networks"
                        ))
                    } else {
                        Ok(n)
                    }
                })
        })
        .collect()
}

/// An IPv4 address an IPv6 one stands for: IPv4-mapped (`::ffff:a.b.c.d`), NAT64
/// (`64:ff9b::/96`, RFC 6052) and 6to4 (`2002::/16`, RFC 3056) all lead to an IPv4 host.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    let s = ip.segments();
    let o = ip.octets();
    match s {
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(Ipv4Addr::new(o[12], o[13], o[14], o[15])),
        [0x2002, ..] => Some(Ipv4Addr::new(o[2], o[3], o[4], o[5])),
        _ => None,
    }
}

/// True if `ip` is a public unicast address: not loopback, private (RFC 1918, RFC 4193),
/// shared (100.64.0.0/10), link-local (metadata services live at 169.254.169.254), unspecified,
/// multicast, broadcast, documentation, benchmarking or otherwise reserved (RFC 6890
/// registries); an IPv6 address embedding an IPv4 one is judged by the IPv4 one.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let refused = a == 0 // "this network" (RFC 791), 0.0.0.0 included
        || a == 10 // RFC 1918
        || (a == 100 && (64..128).contains(&b)) // shared address space (RFC 6598)
        || a == 127 // loopback
        || (a == 169 && b == 254) // link-local, cloud metadata
        || (a == 172 && (16..32).contains(&b)) // RFC 1918
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // TEST-NET-1
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast
        || (a == 192 && b == 168) // RFC 1918
        || (a == 198 && (b == 18 || b == 19)) // benchmarking (RFC 2544)
        || (a == 198 && b == 51 && c == 100) // TEST-NET-2
        || (a == 203 && b == 0 && c == 113) // TEST-NET-3
        || a >= 224; // multicast, reserved, broadcast
    !refused
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let [a, b, ..] = ip.segments();
    // Only global unicast (2000::/3) is public; the rest (::, ::1, ::/96, 100::/64,
    // 64:ff9b:1::/48, fc00::/7, fe80::/10, fec0::/10, ff00::/8) is not.
    if a & 0xe000 != 0x2000 {
        return false;
    }
    let refused = (a == 0x2001 && (b < 0x200 || b == 0xdb8)) // IETF protocol assignments (Teredo, ORCHID…), documentation
        || (a == 0x3fff && b < 0x1000) // documentation (RFC 9637, 3fff::/20)
        || a == 0x5f00; // SRv6 SIDs
    !refused
}

/// True if `ip` lies in one of `allowed`. An IPv4-mapped address is judged as its IPv4
/// address only (so an IPv6 allowance never opens IPv4), and an unspecified address
/// (`0.0.0.0/8`, `::`), which the kernel connects to loopback, is never allowed.
fn in_networks(allowed: &[IpNet], ip: IpAddr) -> bool {
    let plain = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    let unspecified = match plain {
        IpAddr::V4(v4) => v4.octets()[0] == 0,
        IpAddr::V6(v6) => v6.is_unspecified(),
    };
    !unspecified && allowed.iter().any(|net| net.contains(&plain))
}

/// Which addresses a request may connect to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reach {
    /// `https`: public addresses and the allowed networks.
    PublicOrAllowed,
    /// `http`: the allowed networks only.
    AllowedOnly,
}

/// True if a request under `reach` may connect to `ip`.
fn may_connect(allowed: &[IpNet], reach: Reach, ip: IpAddr) -> bool {
    in_networks(allowed, ip) || (reach == Reach::PublicOrAllowed && is_public(ip))
}

/// The refusal for a host with no address a request may connect to.
fn refusal(host: &str, reach: Reach) -> Refused {
    Refused(match reach {
        Reach::PublicOrAllowed => format!(
            "{host} has no public address (non-public ones must lie in upstream.allowed_networks)"
        ),
        Reach::AllowedOnly => format!(
            "http://{host} is not in upstream.allowed_networks (elsewhere only https is allowed)"
        ),
    })
}

/// Resolves with the system resolver, then keeps only the addresses a request may connect to:
/// what the connector gets from here is what it connects to.
struct FilteringResolver {
    /// `upstream.allowed_networks`.
    allowed: Arc<[IpNet]>,
    /// What the client's scheme may reach.
    reach: Reach,
}

impl Resolve for FilteringResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allowed = self.allowed.clone();
        let reach = self.reach;
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let kept: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|a| may_connect(&allowed, reach, a.ip()))
                .collect();
            if kept.len() < found.len() {
                tracing::warn!(
                    host,
                    refused = found.len() - kept.len(),
                    "upstream request: addresses outside upstream.allowed_networks refused"
                );
            }
            if kept.is_empty() {
                return Err(Box::new(refusal(&host, reach)) as Box<_>);
            }
            let addrs: Addrs = Box::new(kept.into_iter());
            Ok(addrs)
        })
    }
}

/// The HTTP clients for upstream providers (discovery, JWKS, token endpoint): one per scheme,
/// each with a resolver that only yields the addresses its scheme may reach.
pub struct Guarded {
    /// `upstream.allowed_networks`.
    allowed: Arc<[IpNet]>,
    /// Client for `https` URLs.
    https: reqwest::Client,
    /// Client for `http` URLs.
    http: reqwest::Client,
    /// Bound on a registration-time lookup.
    timeout: Duration,
}

impl std::fmt::Debug for Guarded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guarded")
            .field("allowed", &self.allowed)
            .finish_non_exhaustive()
    }
}

impl Guarded {
    /// Clients whose requests time out after `timeout` seconds and reach only public
    /// addresses and `allowed`.
    pub fn new(timeout: i64, allowed: Vec<IpNet>) -> Guarded {
        let allowed: Arc<[IpNet]> = allowed.into();
        let client = |reach: Reach| {
            builder(timeout)
                .no_proxy()
                .https_only(reach == Reach::PublicOrAllowed)
                .dns_resolver(Arc::new(FilteringResolver {
                    allowed: allowed.clone(),
                    reach,
                }))
                .build()
                // Building fails only if TLS cannot be set up; a default client would have
                // no guard, so this one refuses everything instead.
                .unwrap_or_else(|e| {
                    tracing::error!(error = %e, "the upstream HTTP client could not be built");
                    refusing_client(timeout)
                })
        };
        Guarded {
            https: client(Reach::PublicOrAllowed),
            http: client(Reach::AllowedOnly),
            allowed,
            timeout: seconds(timeout),
        }
    }

    /// A request to `url` if the guard lets it go: `https`, or `http` to an allowed network;
    /// an IP-literal host checked here (reqwest resolves no literal), a name checked at
    /// connect time by the resolver.
    pub fn request(&self, method: Method, url: &str) -> Result<reqwest::RequestBuilder, Refused> {
        let url = Url::parse(url).map_err(|_| Refused(format!("{url:?} is not a URL")))?;
        let (client, reach) = match url.scheme() {
            "https" => (&self.https, Reach::PublicOrAllowed),
            "http" => (&self.http, Reach::AllowedOnly),
            other => return Err(Refused(format!("{other}: URLs are not fetched"))),
        };
        let host = url
            .host_str()
            .ok_or_else(|| Refused(format!("{url} has no host")))?;
        if let Some(ip) = literal(&url) {
            if !may_connect(&self.allowed, reach, ip) {
                return Err(refusal(host, reach));
            }
        }
        Ok(client.request(method, url))
    }

    /// Checks an issuer being registered (SPEC §7.1): `https` or `http`, and every address
    /// its host has now may be reached (`http`: all in the allowed networks). A name that does
    /// not resolve yet passes for `https`: the resolver checks it again at each connection.
    pub async fn check_issuer(&self, issuer: &str) -> Result<(), Refused> {
        let url = Url::parse(issuer).map_err(|_| Refused("issuer is not a URL".into()))?;
        let reach = match url.scheme() {
            "https" => Reach::PublicOrAllowed,
            "http" => Reach::AllowedOnly,
            _ => return Err(Refused("issuer must be an https URL".into())),
        };
        let host = url
            .host_str()
            .ok_or_else(|| Refused("issuer has no host".into()))?
            .to_string();
        let ips: Vec<IpAddr> = match literal(&url) {
            Some(ip) => vec![ip],
            None => {
                let lookup = tokio::net::lookup_host((host.as_str(), 0));
                match tokio::time::timeout(self.timeout, lookup).await {
                    Ok(Ok(found)) => found.map(|a| a.ip()).collect(),
                    _ => vec![],
                }
            }
        };
        if ips.is_empty() && reach == Reach::AllowedOnly {
            return Err(refusal(&host, reach));
        }
        if ips.iter().any(|ip| !may_connect(&self.allowed, reach, *ip)) {
            return Err(refusal(&host, reach));
        }
        Ok(())
    }
}

/// The address of an IP-literal URL host (`Url` has already normalised `0x7f.1` and the like
/// to dotted decimal, as the connector will read it).
fn literal(url: &Url) -> Option<IpAddr> {
    let host = url.host_str()?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    host.parse().ok()
}

/// A client that resolves nothing (every name refused; literals are checked before use).
fn refusing_client(timeout: i64) -> reqwest::Client {
    struct Nothing;
    impl Resolve for Nothing {
        fn resolve(&self, name: Name) -> Resolving {
            let host = name.as_str().to_string();
            Box::pin(async move { Err(Box::new(Refused(format!("{host}: no client"))) as Box<_>) })
        }
    }
    builder(timeout)
        .no_proxy()
        .dns_resolver(Arc::new(Nothing))
        .build()
        .unwrap_or_default()
}

/// The guard's refusal in `err`'s cause chain, if that is why a request failed.
pub fn refused_in<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a Refused> {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if let Some(r) = e.downcast_ref::<Refused>() {
            return Some(r);
        }
        cur = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn non_public_addresses_are_recognised() {
        for s in [
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "100.64.0.1",
            "100.127.255.254",
            "127.0.0.1",
            "127.255.255.254",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.88.99.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::127.0.0.1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::1",
            "2002:7f00:1::",
            "2002:c0a8:101::1",
            "100::1",
            "2001::1",
            "2001:db8::1",
            "3fff::1",
            "3fff:fff::1",
            "5f00::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "fd00:ec2::254",
        ] {
            assert!(!is_public(ip(s)), "{s} is not public");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for s in [
            "1.1.1.1",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.1",
            "172.15.255.255",
            "172.32.0.1",
            "192.0.1.1",
            "192.169.0.1",
            "198.17.255.255",
            "198.20.0.1",
            "223.255.255.255",
            "2606:4700:4700::1111",
            "2a00:1450:4001::200e",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
            "3fff:1000::1",
        ] {
            assert!(is_public(ip(s)), "{s} is public");
        }
    }

    #[test]
    fn the_allowed_networks_open_what_they_contain_and_nothing_else() {
        let allowed = parse_networks(&["127.0.0.0/8".into(), " ::1 ".into()]).unwrap();
        let r = Reach::PublicOrAllowed;
        assert!(may_connect(&allowed, r, ip("127.0.0.1")));
        assert!(may_connect(&allowed, r, ip("::ffff:127.9.9.9")));
        assert!(may_connect(&allowed, r, ip("::1")));
        assert!(!may_connect(&allowed, r, ip("10.0.0.1")));
        assert!(!may_connect(&allowed, r, ip("169.254.169.254")));
        assert!(may_connect(&allowed, r, ip("8.8.8.8")));
        // Plain http goes to the allowed networks only.
        let h = Reach::AllowedOnly;
        assert!(may_connect(&allowed, h, ip("127.0.0.1")));
        assert!(!may_connect(&allowed, h, ip("8.8.8.8")));
        assert!(!may_connect(&[], r, ip("127.0.0.1")));
        assert!(parse_networks(&["10.0.0.0/33".into()]).is_err());
        assert!(parse_networks(&["localhost".into()]).is_err());
        // Host bits are dropped: 10.1.2.3/8 means 10.0.0.0/8.
        let n = parse_networks(&["10.1.2.3/8".into()]).unwrap();
        assert!(in_networks(&n, ip("10.200.0.1")));
        // An allowance never reaches further than it names (found by an attack review).
        let zero = parse_networks(&["0.0.0.0".into()]).unwrap();
        assert!(
            !may_connect(&zero, h, ip("0.0.0.0")),
            "0.0.0.0 connects to loopback"
        );
        let v6 = parse_networks(&["::/1".into()]).unwrap();
        assert!(
            !may_connect(&v6, h, ip("::ffff:127.0.0.1")),
            "an IPv6 allowance opens no IPv4"
        );
        assert!(parse_networks(&["::/0".into()]).is_err());
        assert!(parse_networks(&["0.0.0.0/0".into()]).is_err());
    }

    #[tokio::test]
    async fn literal_hosts_are_checked_before_any_request_is_built() {
        let g = Guarded::new(1, vec![]);
        for url in [
            "https://127.0.0.1/x",
            "https://[::1]/x",
            "https://[::ffff:7f00:1]/x",
            "https://169.254.169.254/latest/meta-data",
            "https://0x7f.1/x",
            "https://2130706433/x",
            "http://8.8.8.8/x",
            "file:///etc/passwd",
            "ftp://8.8.8.8/",
            "not a url",
        ] {
            assert!(g.request(Method::GET, url).is_err(), "{url} refused");
        }
        assert!(g.request(Method::GET, "https://8.8.8.8/x").is_ok());
        assert!(g.request(Method::GET, "https://idp.example/x").is_ok());
        let g = Guarded::new(1, parse_networks(&["127.0.0.0/8".into()]).unwrap());
        assert!(g.request(Method::GET, "http://127.0.0.1:9/x").is_ok());
        assert!(g.request(Method::GET, "http://10.0.0.1/x").is_err());
    }

    #[tokio::test]
    async fn names_resolving_to_refused_addresses_fail_at_connect_time() {
        let g = Guarded::new(2, vec![]);
        let err = g
            .request(Method::GET, "https://localhost:9/x")
            .unwrap()
            .send()
            .await
            .unwrap_err();
        assert!(refused_in(&err).is_some(), "{err:?}");
        // Plain http to a name: only to the allowed networks, also judged at connect time.
        let err = g
            .request(Method::GET, "http://localhost:9/x")
            .unwrap()
            .send()
            .await
            .unwrap_err();
        assert!(refused_in(&err).is_some(), "{err:?}");
        assert!(g.check_issuer("https://localhost:9").await.is_err());
        assert!(g.check_issuer("http://127.0.0.1:9").await.is_err());
        // A name that does not resolve yet is judged again at each connection.
        assert!(g.check_issuer("https://idp.invalid").await.is_ok());
        assert!(g.check_issuer("http://idp.invalid").await.is_err());
        let g = Guarded::new(
            2,
            parse_networks(&["127.0.0.0/8".into(), "::1/128".into()]).unwrap(),
        );
        assert!(g.check_issuer("http://localhost:9").await.is_ok());
        assert!(g.check_issuer("http://127.0.0.1:9").await.is_ok());
    }
}
