//! Service-to-service caller authentication (SPEC §4): registered services and their
//! bindings, matched in a fixed order — a trusted gateway header first, then an AWS IAM proof
//! (a presigned `sts:GetCallerIdentity` request, see [`aws_iam`]), then a client certificate's
//! SAN URI as a TLS-terminating proxy forwards it (`s2s.mtls_header`), then the service's own
//! secret by HTTP Basic. The gateway and certificate headers are believed only when the TCP
//! peer is inside `s2s.trusted_proxies`; from anywhere else they are ignored (and audited or
//! logged), never trusted.

pub mod aws_iam;

use crate::failure::Failure;
use crate::oauth::client_auth::{burn_secret_check, check_secrets, decode_basic};
use crate::reasons;
use crate::service::{event, Tessera};
use crate::tenants::ClientSecrets;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::sync::Arc;

/// How a service may prove who it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Binding {
    /// HTTP Basic with the service's name and a Tessera-generated secret.
    Secret,
    /// The caller ARN in the gateway header (exact, or a `*` pattern), from a trusted proxy.
    Gateway {
        /// ARN or pattern.
        arn: String,
    },
    /// A presigned `sts:GetCallerIdentity` request whose ARN matches (exact or `*` pattern).
    AwsIam {
        /// ARN or pattern.
        arn: String,
    },
    /// A client certificate whose SAN URI matches, as verified and forwarded by a trusted
    /// TLS-terminating proxy (exact or `*` pattern).
    Mtls {
        /// SAN URI, e.g. a SPIFFE ID.
        san: String,
    },
}

/// A registered internal service. Global: it belongs to no tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// Name: the `sub` and `client_id` of its tokens and its HTTP Basic user name.
    pub name: String,
    /// Audiences of its tokens; empty = the `service` profile's.
    pub audiences: Vec<String>,
    /// Token lifetime; narrows the `service` profile's, never widens it.
    pub ttl: Option<i64>,
    /// How it authenticates, in registration order.
    pub bindings: Vec<Binding>,
    /// Secret hashes (HMAC under the master key) for a `secret` binding; never Vault.
    pub secrets: ClientSecrets,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

impl Service {
    /// True if the service has a `secret` binding.
    pub fn has_secret_binding(&self) -> bool {
        self.bindings.contains(&Binding::Secret)
    }

    /// How well an ARN matches a binding of `kind`: `Some(true)` exact, `Some(false)` by
    /// pattern.
    fn arn_match(&self, kind: BindingKind, arn: &str) -> Option<bool> {
        let mut by_pattern = false;
        for pattern in self.bindings.iter().filter_map(|b| b.arn(kind)) {
            if pattern == arn {
                return Some(true);
            }
            by_pattern |= pattern.contains('*') && glob_match(pattern, arn);
        }
        by_pattern.then_some(false)
    }
}

/// The bindings matched by a name (an ARN or a certificate SAN), exactly or by `*` pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindingKind {
    /// `gateway`: the ARN a trusted gateway passes in a header.
    Gateway,
    /// `aws_iam`: the ARN STS answers for a presigned `GetCallerIdentity`.
    AwsIam,
    /// `mtls`: a SAN URI of the client certificate a trusted TLS-terminating proxy verified.
    Mtls,
}

impl BindingKind {
    /// The binding type's name.
    pub fn as_str(self) -> &'static str {
        match self {
            BindingKind::Gateway => "gateway",
            BindingKind::AwsIam => "aws_iam",
            BindingKind::Mtls => "mtls",
        }
    }
}

impl Binding {
    /// The ARN or SAN (or pattern) of a binding of `kind`.
    pub fn arn(&self, kind: BindingKind) -> Option<&str> {
        match (self, kind) {
            (Binding::Gateway { arn }, BindingKind::Gateway) => Some(arn),
            (Binding::AwsIam { arn }, BindingKind::AwsIam) => Some(arn),
            (Binding::Mtls { san }, BindingKind::Mtls) => Some(san),
            _ => None,
        }
    }
}

/// `*` matches any run of characters (none included); every other character matches itself.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    // Position after the last `*` seen and the text position it was tried at.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi + 1, ti));
                pi += 1;
            }
            Some(c) if *c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((after, tried)) => {
                    pi = after;
                    ti = tried + 1;
                    star = Some((after, tried + 1));
                }
                None => return false,
            },
        }
    }
    p[pi.min(p.len())..].iter().all(|c| *c == '*')
}

/// Parses `s2s.trusted_proxies`: CIDRs, or bare addresses meaning one host.
pub fn parse_proxies(list: &[String]) -> Result<Vec<IpNet>, String> {
    list.iter()
        .map(|s| {
            let s = s.trim();
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("s2s.trusted_proxies: {s:?} is not a CIDR or an IP address"))
        })
        .collect()
}

/// True if `peer` (IPv4-mapped IPv6 counts as IPv4) is inside one of `proxies`.
pub fn is_trusted(proxies: &[IpNet], peer: IpAddr) -> bool {
    let peer = match peer {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(peer, IpAddr::V4),
        v4 => v4,
    };
    proxies.iter().any(|net| net.contains(&peer))
}

/// What a request offers to prove which service it is.
#[derive(Clone, Copy)]
pub struct Caller<'a> {
    /// The `Authorization` header, if any.
    pub authorization: Option<&'a str>,
    /// The gateway header (`s2s.gateway_header`), if any.
    pub gateway_arn: Option<&'a str>,
    /// A presigned `sts:GetCallerIdentity` request from the body, if any.
    pub iam: Option<&'a aws_iam::Proof>,
    /// The client-certificate header (`s2s.mtls_header`), if any.
    pub client_cert: Option<&'a str>,
    /// The TCP peer address.
    pub peer: IpAddr,
    /// The peer as text, for limits and audit.
    pub remote: &'a str,
}

/// Written by hand so the `Authorization` header (it may hold a secret) never reaches `{:?}`.
impl std::fmt::Debug for Caller<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller")
            .field("authorization", &self.authorization.map(|_| "[redacted]"))
            .field("gateway_arn", &self.gateway_arn)
            .field("iam", &self.iam.map(|_| "[presigned request]"))
            .field("client_cert", &self.client_cert)
            .field("peer", &self.peer)
            .field("remote", &self.remote)
            .finish()
    }
}

/// 401 for a call that is not an authenticated service (nothing about why).
pub fn unauthenticated(basic_used: bool) -> Failure {
    let mut f = Failure::new(
        reasons::BAD_SERVICE_CREDENTIALS,
        "service authentication failed",
    );
    f.basic_challenge = basic_used;
    f
}

/// Longest gateway header value considered (an ARN is at most 2048 characters).
const MAX_ARN: usize = 2048;

/// Authenticates the calling service: the gateway header (trusted proxies only), then an
/// AWS IAM proof, then HTTP Basic `name:secret`. A binding that does not match falls through
/// to the next.
pub async fn authenticate(t: &Tessera, caller: Caller<'_>) -> Result<Arc<Service>, Failure> {
    if let Some(arn) = caller.gateway_arn.filter(|a| !a.is_empty()) {
        let arn: String = arn.chars().take(MAX_ARN).collect();
        if is_trusted(&t.trusted_proxies, caller.peer) {
            if let Some(s) = by_names(t, BindingKind::Gateway, std::slice::from_ref(&arn)).await? {
                return Ok(s);
            }
            audit_failure(t, "failure:unknown_arn", &arn, caller.remote).await;
        } else {
            tracing::warn!(
                remote = caller.remote,
                "gateway header from an untrusted address ignored"
            );
            let mut ev = event(t.clock.now(), "s2s.gateway_untrusted", "ignored");
            ev.subject = Some(arn);
            ev.remote = Some(caller.remote.to_string());
            t.audit(ev).await;
        }
    }
    // No service has an aws_iam binding: no proof is sent anywhere.
    let iam = match caller.iam {
        Some(p) if !t.arn_services(BindingKind::AwsIam).await?.is_empty() => Some(p),
        _ => None,
    };
    if let Some(proof) = iam {
        let attempt = t.attempt(caller.remote, None).await?;
        match aws_iam::caller_arn(t, proof).await? {
            Some(arn) => {
                let names = aws_iam::arns_to_match(&arn);
                if let Some(s) = by_names(t, BindingKind::AwsIam, &names).await? {
                    attempt.succeeded();
                    return Ok(s);
                }
                // Counted like a refusal: a replayed proof cannot make STS calls without end.
                attempt.failed();
                audit_failure(t, "failure:unknown_arn", &arn, caller.remote).await;
            }
            None => {
                attempt.failed();
                audit_failure(t, "failure:sts_refused", "aws_iam", caller.remote).await;
                metrics::counter!("tessera_auth_failures_total").increment(1);
            }
        }
    }
    if let Some(value) = caller.client_cert.filter(|v| !v.is_empty()) {
        if is_trusted(&t.trusted_proxies, caller.peer) {
            if let Some(s) = by_names(t, BindingKind::Mtls, &cert_uris(value)).await? {
                return Ok(s);
            }
            let shown: String = value.chars().take(MAX_ARN).collect();
            audit_failure(t, "failure:unknown_san", &shown, caller.remote).await;
        } else {
            tracing::warn!(
                remote = caller.remote,
                "client-certificate header from an untrusted address ignored"
            );
        }
    }
    let Some(basic) = crate::oauth::client_auth::basic_credentials(caller.authorization) else {
        return Err(unauthenticated(false));
    };
    let (name, secret) = decode_basic(basic).map_err(|f| {
        if f.status == 400 {
            f // an over-long name: invalid_request, before any lookup or limit
        } else {
            unauthenticated(true)
        }
    })?;
    let limit_key = format!("service:{name}");
    let attempt = t.attempt(caller.remote, Some(&limit_key)).await?;
    let service = t.service(&name).await?;
    let ok = match service.as_deref() {
        Some(s) if s.has_secret_binding() => check_secrets(t, &s.secrets, &secret).await?,
        _ => {
            burn_secret_check(t, &secret);
            false
        }
    };
    match service {
        Some(s) if ok => {
            attempt.succeeded();
            Ok(s)
        }
        _ => {
            attempt.failed();
            audit_failure(t, "failure", &name, caller.remote).await;
            metrics::counter!("tessera_auth_failures_total").increment(1);
            Err(unauthenticated(true))
        }
    }
}

/// The SAN URIs in a client-certificate header. Envoy's `X-Forwarded-Client-Cert` holds one
/// element per proxy hop (`,`-separated), each `key=value` pairs (`;`-separated) whose values
/// may be quoted; only the **last** element is the one the nearest proxy — the trusted one —
/// added, and only its `URI=` values count (`By=` names the proxy; a quoted `Subject` may
/// contain `;URI=…` text, which a quote-blind split would take for a SAN). Any other value
/// (no `=`) is the SAN URI itself.
pub fn cert_uris(value: &str) -> Vec<String> {
    if !value.contains('=') {
        let v = value.trim();
        return if v.is_empty() {
            vec![]
        } else {
            vec![v.to_string()]
        };
    }
    let elements = split_unquoted(value, ',');
    let Some(last) = elements.last() else {
        return vec![];
    };
    split_unquoted(last, ';')
        .iter()
        .filter_map(|pair| pair.split_once('='))
        .filter(|(k, _)| k.trim().eq_ignore_ascii_case("URI"))
        .map(|(_, v)| unquote(v.trim()))
        .filter(|v| !v.is_empty())
        .collect()
}

/// Splits at `sep` outside double quotes (a `\` escapes the next character inside them).
fn split_unquoted(s: &str, sep: char) -> Vec<String> {
    let mut parts = vec![String::new()];
    let (mut quoted, mut escaped) = (false, false);
    for c in s.chars() {
        if escaped {
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if c == sep && !quoted {
            parts.push(String::new());
            continue;
        }
        if let Some(last) = parts.last_mut() {
            last.push(c);
        }
    }
    parts
}

/// A value without its surrounding quotes and escapes.
fn unquote(v: &str) -> String {
    match v.strip_prefix('"').and_then(|x| x.strip_suffix('"')) {
        Some(inner) => inner.replace("\\\"", "\"").replace("\\\\", "\\"),
        None => v.to_string(),
    }
}

/// The service one of `names` (an ARN and what else it may be matched as, or SANs) maps to
/// by a binding of `kind`: an exact binding on any of them wins over every pattern; among
/// patterns, the first service in name order.
async fn by_names(
    t: &Tessera,
    kind: BindingKind,
    names: &[String],
) -> Result<Option<Arc<Service>>, Failure> {
    let all = t.arn_services(kind).await?;
    let mut pattern_hit = None;
    for s in all.iter() {
        for name in names {
            match s.arn_match(kind, name) {
                Some(true) => return Ok(Some(s.clone())),
                Some(false) if pattern_hit.is_none() => pattern_hit = Some(s.clone()),
                _ => {}
            }
        }
    }
    Ok(pattern_hit)
}

async fn audit_failure(t: &Tessera, outcome: &str, subject: &str, remote: &str) {
    let mut ev = event(t.clock.now(), "s2s.auth.failed", outcome);
    ev.subject = Some(subject.to_string());
    ev.remote = Some(remote.to_string());
    t.audit_refusal(ev).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn san_uris_come_from_an_xfcc_header_or_the_plain_value() {
        assert_eq!(
            cert_uris("By=spiffe://mesh/tessera;Hash=abc;URI=spiffe://example.org/orders"),
            vec!["spiffe://example.org/orders".to_string()],
            "By= names the proxy, not the client"
        );
        assert_eq!(
            cert_uris("spiffe://example.org/orders"),
            vec!["spiffe://example.org/orders".to_string()]
        );
        assert_eq!(
            cert_uris("Hash=abc;URI=spiffe://a/x,Hash=def;URI=\"spiffe://b/y\""),
            vec!["spiffe://b/y".to_string()],
            "only the last element, the nearest proxy's, counts"
        );
        assert_eq!(
            cert_uris(
                "Hash=abc;Subject=\"CN=x;URI=spiffe://prod/payments\";URI=spiffe://dev/orders"
            ),
            vec!["spiffe://dev/orders".to_string()],
            "text inside a quoted Subject is not a SAN"
        );
        assert!(cert_uris("Hash=abc").is_empty());
    }

    #[test]
    fn a_star_matches_any_run_of_characters() {
        let arn = "arn:aws:sts::123456789012:assumed-role/orders/i-0abc";
        assert!(glob_match(arn, arn));
        assert!(glob_match(
            "arn:aws:sts::123456789012:assumed-role/orders/*",
            arn
        ));
        assert!(glob_match("arn:aws:sts::*:assumed-role/*/i-0abc", arn));
        assert!(glob_match("*", arn));
        assert!(glob_match("arn:*:*:*", arn));
        assert!(!glob_match(
            "arn:aws:sts::123456789012:assumed-role/billing/*",
            arn
        ));
        assert!(!glob_match(
            "arn:aws:sts::123456789012:assumed-role/orders",
            arn
        ));
        assert!(!glob_match("", arn));
        assert!(glob_match("a*b*c", "aXbYbc"));
        assert!(!glob_match("a*b*c", "aXbYbd"));
    }

    #[test]
    fn exact_gateway_bindings_are_told_apart_from_patterns() {
        let s = Service {
            name: "orders".into(),
            audiences: vec![],
            ttl: None,
            bindings: vec![
                Binding::Gateway {
                    arn: "arn:aws:iam::1:role/orders-*".into(),
                },
                Binding::Gateway {
                    arn: "arn:aws:iam::1:role/orders-api".into(),
                },
            ],
            secrets: ClientSecrets::default(),
            created_at: 0,
            updated_at: 0,
        };
        assert_eq!(
            s.arn_match(BindingKind::Gateway, "arn:aws:iam::1:role/orders-api"),
            Some(true)
        );
        assert_eq!(
            s.arn_match(BindingKind::Gateway, "arn:aws:iam::1:role/orders-x"),
            Some(false)
        );
        assert_eq!(
            s.arn_match(BindingKind::Gateway, "arn:aws:iam::1:role/billing"),
            None
        );
        assert_eq!(
            s.arn_match(BindingKind::AwsIam, "arn:aws:iam::1:role/orders-api"),
            None,
            "a gateway binding is not an aws_iam binding"
        );
    }

    #[test]
    fn proxies_are_cidrs_or_hosts_and_ipv4_mapped_peers_count_as_ipv4() {
        let p = parse_proxies(&["127.0.0.1/32".into(), " 10.1.2.3 ".into()]).unwrap();
        assert!(is_trusted(&p, "127.0.0.1".parse().unwrap()));
        assert!(is_trusted(&p, "::ffff:127.0.0.1".parse().unwrap()));
        assert!(is_trusted(&p, "10.1.2.3".parse().unwrap()));
        assert!(!is_trusted(&p, "127.0.0.2".parse().unwrap()));
        assert!(parse_proxies(&["10.0.0.0/33".into()]).is_err());
        assert!(parse_proxies(&["example.com".into()]).is_err());
    }

    #[test]
    fn a_caller_never_shows_its_authorization_header_in_debug_output() {
        let c = Caller {
            authorization: Some("Basic b3JkZXJzOnMzY3IzdA=="),
            gateway_arn: None,
            iam: None,
            client_cert: None,
            peer: "127.0.0.1".parse().unwrap(),
            remote: "127.0.0.1",
        };
        assert!(!format!("{c:?}").contains("b3JkZXJz"));
    }

    #[test]
    fn bindings_have_the_appendix_a_wire_form() {
        let b: Vec<Binding> = serde_json::from_str(
            r#"[{"type":"secret"},{"type":"gateway","arn":"a"},{"type":"aws_iam","arn":"b"},{"type":"mtls","san":"spiffe://x"}]"#,
        )
        .unwrap();
        assert_eq!(b[0], Binding::Secret);
        assert_eq!(
            serde_json::to_string(&b[1]).unwrap(),
            r#"{"type":"gateway","arn":"a"}"#
        );
    }
}
