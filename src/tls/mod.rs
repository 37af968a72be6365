//! Client certificates of mutual TLS (RFC 8705, SPEC §9): what a connection's certificate
//! says, read once per connection, and how it is compared with what a client or service
//! registered. The listener itself (rustls) is [`server`]; distinguished names are [`dn`].

pub mod dn;
pub mod server;

use crate::crypto::{b64url, b64url_decode, sha256};
use serde_json::Value;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

/// The certificate a TLS client presented, parsed once when its connection was accepted and
/// handed to every request of that connection as a request extension. Only Tessera's own
/// listener creates one: no header can forge it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCertificate {
    /// The DER certificate.
    pub der: Vec<u8>,
    /// RFC 8705 §3.1: base64url SHA-256 of the DER, the `cnf."x5t#S256"` of bound tokens.
    pub x5t_s256: String,
    /// True when the chain the client sent verifies to `tls.client_ca` (validity and
    /// extended key usage `clientAuth` included); required for `tls_client_auth` and service
    /// `mtls` bindings, never for `self_signed_tls_client_auth`.
    pub chains_to_ca: bool,
    /// The subject, for comparison with a registered `tls_client_auth_subject_dn`.
    pub subject: dn::Name,
    /// The subject as an RFC 4514 string (most specific first), for logs and audit.
    pub subject_dn: String,
    /// SAN `uniformResourceIdentifier` values (e.g. SPIFFE IDs).
    pub san_uris: Vec<String>,
    /// SAN `dNSName` values.
    pub san_dns: Vec<String>,
    /// The public key, for `self_signed_tls_client_auth`; `None` for a key type no client
    /// JWK can hold.
    pub key: Option<CertKey>,
}

/// A certificate's public key in the members a JWK (RFC 7518 §6) would carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertKey {
    /// `kty` `RSA`: modulus and exponent, big-endian without leading zeros.
    Rsa {
        /// `n`.
        n: Vec<u8>,
        /// `e`.
        e: Vec<u8>,
    },
    /// `kty` `EC`, uncompressed point.
    Ec {
        /// `crv` (`P-256`, `P-384`, `P-521`).
        crv: &'static str,
        /// `x`.
        x: Vec<u8>,
        /// `y`.
        y: Vec<u8>,
    },
    /// `kty` `OKP`, `crv` `Ed25519`: `x`.
    Ed25519(Vec<u8>),
}

/// RFC 8705 §3.1: the `x5t#S256` of a DER certificate.
pub fn x5t_s256(der: &[u8]) -> String {
    b64url(&sha256(der))
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|x| *x != 0).unwrap_or(b.len());
    b.get(start..).unwrap_or_default()
}

const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_EC: &str = "1.2.840.10045.2.1";
const OID_ED25519: &str = "1.3.101.112";

/// The key of a certificate's SubjectPublicKeyInfo, where a JWK can express it.
fn cert_key(cert: &X509Certificate<'_>) -> Option<CertKey> {
    let spki = cert.public_key();
    let data: &[u8] = spki.subject_public_key.data.as_ref();
    match spki.algorithm.algorithm.to_id_string().as_str() {
        OID_RSA => match spki.parsed().ok()? {
            x509_parser::public_key::PublicKey::RSA(rsa) => Some(CertKey::Rsa {
                n: strip_zeros(rsa.modulus).to_vec(),
                e: strip_zeros(rsa.exponent).to_vec(),
            }),
            _ => None,
        },
        OID_EC => {
            let curve = spki.algorithm.parameters.as_ref()?.as_oid().ok()?;
            let (crv, size) = match curve.to_id_string().as_str() {
                "1.2.840.10045.3.1.7" => ("P-256", 32),
                "1.3.132.0.34" => ("P-384", 48),
                "1.3.132.0.35" => ("P-521", 66),
                _ => return None,
            };
            // Only the uncompressed form (0x04 ‖ x ‖ y) maps to a JWK.
            let point = data.strip_prefix(&[4u8])?;
            if point.len() != 2 * size {
                return None;
            }
            let (x, y) = point.split_at(size);
            Some(CertKey::Ec {
                crv,
                x: x.to_vec(),
                y: y.to_vec(),
            })
        }
        OID_ED25519 if data.len() == 32 => Some(CertKey::Ed25519(data.to_vec())),
        _ => None,
    }
}

impl CertKey {
    /// True if `jwk` (RFC 7517) holds this very public key.
    pub fn matches_jwk(&self, jwk: &Value) -> bool {
        let s = |k: &str| jwk.get(k).and_then(Value::as_str);
        let bytes = |k: &str| s(k).and_then(b64url_decode);
        match self {
            CertKey::Rsa { n, e } => {
                s("kty") == Some("RSA")
                    && bytes("n").is_some_and(|v| strip_zeros(&v) == n.as_slice())
                    && bytes("e").is_some_and(|v| strip_zeros(&v) == e.as_slice())
            }
            CertKey::Ec { crv, x, y } => {
                s("kty") == Some("EC")
                    && s("crv") == Some(*crv)
                    && bytes("x").as_deref() == Some(x.as_slice())
                    && bytes("y").as_deref() == Some(y.as_slice())
            }
            CertKey::Ed25519(x) => {
                s("kty") == Some("OKP")
                    && s("crv") == Some("Ed25519")
                    && bytes("x").as_deref() == Some(x.as_slice())
            }
        }
    }
}

impl ClientCertificate {
    /// Reads a DER certificate; `None` if it is not an X.509 certificate this parser reads.
    /// `chains_to_ca` is what the listener's CA check found.
    pub fn parse(der: &[u8], chains_to_ca: bool) -> Option<ClientCertificate> {
        let (_, cert) = X509Certificate::from_der(der).ok()?;
        let mut san_uris = Vec::new();
        let mut san_dns = Vec::new();
        // A certificate with two SAN extensions is malformed (RFC 5280 §4.2): it has none.
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for name in &san.value.general_names {
                match name {
                    GeneralName::URI(u) => san_uris.push((*u).to_string()),
                    GeneralName::DNSName(d) => san_dns.push((*d).to_string()),
                    _ => {}
                }
            }
        }
        let subject = dn::Name::from_x509(cert.subject());
        Some(ClientCertificate {
            der: der.to_vec(),
            x5t_s256: x5t_s256(der),
            chains_to_ca,
            subject_dn: subject.to_string(),
            subject,
            san_uris,
            san_dns,
            key: cert_key(&cert),
        })
    }

    /// RFC 8705 §2.2: true if the certificate's public key is one of `jwks`' keys (a JWK
    /// Set); the certificate itself needs no CA.
    pub fn key_in_jwks(&self, jwks: Option<&Value>) -> bool {
        let Some(key) = &self.key else {
            return false;
        };
        jwks.and_then(|j| j.get("keys"))
            .and_then(Value::as_array)
            .is_some_and(|keys| keys.iter().any(|jwk| key.matches_jwk(jwk)))
    }

    /// True if one of the SAN URIs is `uri` (exact: URIs are compared as registered).
    pub fn has_san_uri(&self, uri: &str) -> bool {
        self.san_uris.iter().any(|u| u == uri)
    }

    /// True if one of the SAN DNS names is `name` (DNS names are case-insensitive).
    pub fn has_san_dns(&self, name: &str) -> bool {
        let name = name.trim_end_matches('.');
        self.san_dns
            .iter()
            .any(|d| d.trim_end_matches('.').eq_ignore_ascii_case(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ca_signed(params: rcgen::CertificateParams) -> (rcgen::Certificate, rcgen::KeyPair) {
        let key = rcgen::KeyPair::generate().unwrap();
        (params.self_signed(&key).unwrap(), key)
    }

    #[test]
    fn a_certificate_yields_its_thumbprint_subject_sans_and_key() {
        let mut p = rcgen::CertificateParams::new(vec!["client.example.com".into()]).unwrap();
        p.subject_alt_names.push(rcgen::SanType::URI(
            "spiffe://example.org/ns/prod/sa/orders".try_into().unwrap(),
        ));
        let mut name = rcgen::DistinguishedName::new();
        name.push(rcgen::DnType::OrganizationName, "Acme, Inc.");
        name.push(rcgen::DnType::CommonName, "orders");
        p.distinguished_name = name;
        let (cert, key) = ca_signed(p);
        let c = ClientCertificate::parse(cert.der(), true).unwrap();
        assert_eq!(c.x5t_s256, b64url(&sha256(cert.der())));
        assert_eq!(c.x5t_s256.len(), 43);
        assert_eq!(c.subject_dn, "CN=orders,O=Acme\\, Inc.");
        assert!(c.has_san_uri("spiffe://example.org/ns/prod/sa/orders"));
        assert!(c.has_san_dns("CLIENT.example.com."));
        assert!(!c.has_san_dns("example.com"));
        // The key (rcgen's default, ECDSA P-256) matches its own JWK and no other.
        let pubkey = key.public_key_raw();
        let (x, y) = pubkey[1..].split_at(32);
        let jwk = serde_json::json!({"kty": "EC", "crv": "P-256", "x": b64url(x), "y": b64url(y)});
        assert!(c.key_in_jwks(Some(&serde_json::json!({ "keys": [jwk] }))));
        let other =
            serde_json::json!({"kty": "EC", "crv": "P-256", "x": b64url(y), "y": b64url(x)});
        assert!(!c.key_in_jwks(Some(&serde_json::json!({ "keys": [other] }))));
        assert!(!c.key_in_jwks(None));
    }

    #[test]
    fn garbage_is_no_certificate() {
        assert!(ClientCertificate::parse(b"not a certificate", false).is_none());
    }
}
