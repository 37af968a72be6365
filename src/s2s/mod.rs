//! Service-to-service caller authentication (SPEC §4): registered services and their
//! bindings, matched in a fixed order — a trusted gateway header first, then an AWS IAM proof
//! (a presigned `sts:GetCallerIdentity` request, see [`aws_iam`]), then a client certificate's
//! SAN URI — of a certificate Tessera's own TLS listener verified to `tls.client_ca`, or as a
//! TLS-terminating proxy forwards it (`s2s.mtls_header`) — then the service's own secret by
//! HTTP Basic. The gateway and certificate headers are believed only when the TCP
//! peer is inside `s2s.trusted_proxies`; from anywhere else they are ignored (and audited or
//! logged), never trusted.

pub mod aws_iam;

use crate::failure::Failure;
use crate::oauth::client_auth::{burn_secret_check, check_secrets, decode_basic};
use crate::reasons;
use crate::service::{event, Tessera};
use std::net::IpAddr;
use std::sync::Arc;

pub use crate::tenants::services::{glob_match, Binding, BindingKind, Service};

/// What a request offers to prove which service it is.
#[derive(Clone, Copy)]
pub struct Presented<'a> {
    /// The `Authorization` header, if any.
    pub authorization: Option<&'a str>,
    /// The gateway header (`s2s.gateway_header`), if any.
    pub gateway_arn: Option<&'a str>,
    /// A presigned `sts:GetCallerIdentity` request from the body, if any.
    pub iam: Option<&'a aws_iam::Proof>,
    /// The client-certificate header (`s2s.mtls_header`), if any.
    pub client_cert: Option<&'a str>,
    /// The certificate of the TLS connection (Tessera's own listener), if any.
    pub tls_cert: Option<&'a crate::tls::ClientCertificate>,
    /// The TCP peer address.
    pub peer: IpAddr,
    /// The peer as text, for limits and audit.
    pub remote: &'a str,
}

/// Written by hand so the `Authorization` header (it may hold a secret) never reaches `{:?}`.
impl std::fmt::Debug for Presented<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Presented")
            .field("authorization", &self.authorization.map(|_| "[redacted]"))
            .field("gateway_arn", &self.gateway_arn)
            .field("iam", &self.iam.map(|_| "[presigned request]"))
            .field("client_cert", &self.client_cert)
            .field("tls_cert", &self.tls_cert.map(|c| &c.subject_dn))
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

/// An authenticated service.
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// The service.
    pub service: Arc<Service>,
    /// RFC 8705 §3.1: the `x5t#S256` of the client certificate it authenticated with by an
    /// `mtls` binding, when the certificate is known (Tessera's own listener, or a proxy
    /// header carrying `Cert=` or `Hash=`): its tokens are bound to it.
    pub x5t_s256: Option<String>,
}

impl Authenticated {
    fn by(service: Arc<Service>) -> Authenticated {
        Authenticated {
            service,
            x5t_s256: None,
        }
    }
}

/// Authenticates the calling service: the gateway header (trusted proxies only), then an
/// AWS IAM proof, then a client certificate (Tessera's own TLS, then a trusted proxy's
/// header), then HTTP Basic `name:secret`. A binding that does not match falls through to
/// the next.
pub async fn authenticate(t: &Tessera, caller: Presented<'_>) -> Result<Authenticated, Failure> {
    if let Some(arn) = caller.gateway_arn.filter(|a| !a.is_empty()) {
        let arn: String = arn.chars().take(MAX_ARN).collect();
        if t.trusted_proxies.trusts(caller.peer) {
            if let Some(s) = by_names(t, BindingKind::Gateway, std::slice::from_ref(&arn)).await? {
                return Ok(Authenticated::by(s));
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
                    return Ok(Authenticated::by(s));
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
    // SPEC §9: a certificate Tessera verified itself; a self-signed one or one of another CA
    // proves nothing about a SAN.
    if let Some(cert) = caller.tls_cert.filter(|c| c.chains_to_ca) {
        if let Some(first) = cert.san_uris.first() {
            if let Some(s) = by_names(t, BindingKind::Mtls, &cert.san_uris).await? {
                return Ok(Authenticated {
                    service: s,
                    x5t_s256: Some(cert.x5t_s256.clone()),
                });
            }
            let shown: String = first.chars().take(MAX_ARN).collect();
            audit_failure(t, "failure:unknown_san", &shown, caller.remote).await;
        }
    }
    if let Some(value) = caller.client_cert.filter(|v| !v.is_empty()) {
        if t.trusted_proxies.trusts(caller.peer) {
            if let Some(s) = by_names(t, BindingKind::Mtls, &cert_uris(value)).await? {
                return Ok(Authenticated {
                    service: s,
                    x5t_s256: cert_x5t(value),
                });
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
            Ok(Authenticated::by(s))
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

/// The `x5t#S256` of the client certificate in an XFCC header's last element (the trusted
/// proxy's): from `Cert=` (the URL-encoded PEM certificate) when present, else from `Hash=`
/// (hex SHA-256 of the DER certificate, as Envoy writes it). `None` when neither is there or
/// readable: the token is then not bound.
pub fn cert_x5t(value: &str) -> Option<String> {
    if !value.contains('=') {
        return None;
    }
    let elements = split_unquoted(value, ',');
    let last = elements.last()?;
    let pairs = split_unquoted(last, ';');
    let field = |name: &str| {
        pairs
            .iter()
            .filter_map(|pair| pair.split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| unquote(v.trim()))
    };
    if let Some(cert) = field("Cert") {
        use rustls_pki_types::pem::PemObject;
        let pem = crate::params::percent_decode(cert.as_bytes());
        return match rustls_pki_types::CertificateDer::from_pem_slice(&pem) {
            Ok(der) => Some(crate::tls::x5t_s256(der.as_ref())),
            Err(_) => {
                tracing::warn!("the client-certificate header's Cert= is not a PEM certificate: token not bound");
                None
            }
        };
    }
    let hash = field("Hash")?;
    let bytes: Option<Vec<u8>> = (hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| {
            (0..32)
                .map(|i| {
                    hash.get(2 * i..2 * i + 2)
                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                })
                .collect()
        })
        .flatten();
    match bytes {
        Some(b) => Some(crate::crypto::b64url(&b)),
        None => {
            tracing::warn!(
                "the client-certificate header's Hash= is not a hex SHA-256: token not bound"
            );
            None
        }
    }
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
    use crate::tenants::ClientSecrets;

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
    fn the_certificate_thumbprint_comes_from_xfcc_cert_or_hash() {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["a.example".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let want = crate::tls::x5t_s256(cert.der());
        let pem: String = cert
            .pem()
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' => char::from(b).to_string(),
                other => format!("%{other:02X}"),
            })
            .collect();
        let xfcc = format!("Hash=00;Cert=\"{pem}\";URI=spiffe://a/x");
        assert_eq!(
            cert_x5t(&xfcc).as_deref(),
            Some(want.as_str()),
            "Cert= wins"
        );
        let hex: String = crate::crypto::sha256(cert.der())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let xfcc = format!("By=spiffe://mesh/proxy;Hash={hex};URI=spiffe://a/x");
        assert_eq!(cert_x5t(&xfcc).as_deref(), Some(want.as_str()));
        assert_eq!(
            cert_x5t(&format!("Hash={hex};URI=spiffe://a/x,URI=spiffe://a/x")),
            None,
            "only the last element counts"
        );
        assert_eq!(cert_x5t("Hash=3f;URI=spiffe://a/x"), None);
        assert_eq!(cert_x5t("spiffe://a/x"), None);
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
    fn a_caller_never_shows_its_authorization_header_in_debug_output() {
        let c = Presented {
            authorization: Some("Basic b3JkZXJzOnMzY3IzdA=="),
            gateway_arn: None,
            iam: None,
            client_cert: None,
            tls_cert: None,
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
