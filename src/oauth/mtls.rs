//! Mutual TLS in the protocol core (RFC 8705, SPEC §9): client authentication by the
//! connection's certificate, and access tokens bound to it (a public client's refresh tokens
//! too: `grant::refresh_token`, §4). The certificate comes from Tessera's own TLS listener
//! (`tls::ClientCertificate`), never from a header.

use crate::failure::Failure;
use crate::reasons;
use crate::tenants::{AuthMethod, Client, Security};
use crate::tls::{dn::Name, ClientCertificate};
use serde_json::Value;

/// RFC 8705 §2: true if `cert` authenticates `client` by the client's registered method.
/// - `tls_client_auth` (§2.1): the chain verified to `tls.client_ca`, and the registered
///   subject DN or SAN is the certificate's (each one registered must match).
/// - `self_signed_tls_client_auth` (§2.2): the certificate's public key is in the client's
///   `jwks`; no CA is involved.
pub fn authenticates(client: &Client, cert: &ClientCertificate) -> bool {
    match client.auth_method {
        AuthMethod::TlsClientAuth => cert.chains_to_ca && names_match(&client.security, cert),
        AuthMethod::SelfSignedTlsClientAuth => cert.key_in_jwks(client.jwks.as_ref()),
        _ => false,
    }
}

/// RFC 8705 §2.1.2: the registered `tls_client_auth_*` values all name `cert`, and at least
/// one is registered.
fn names_match(sec: &Security, cert: &ClientCertificate) -> bool {
    let dn = sec
        .tls_client_auth_subject_dn
        .as_deref()
        .map(|registered| Name::parse(registered).is_some_and(|name| cert.subject.matches(&name)));
    let uri = sec
        .tls_client_auth_san_uri
        .as_deref()
        .map(|u| cert.has_san_uri(u));
    let dns = sec
        .tls_client_auth_san_dns
        .as_deref()
        .map(|d| cert.has_san_dns(d));
    let registered: Vec<bool> = [dn, uri, dns].into_iter().flatten().collect();
    !registered.is_empty() && registered.iter().all(|ok| *ok)
}

/// True for the two methods whose credential is the connection's certificate.
pub fn uses_certificate(method: AuthMethod) -> bool {
    matches!(
        method,
        AuthMethod::TlsClientAuth | AuthMethod::SelfSignedTlsClientAuth
    )
}

/// RFC 8705 §3: the `x5t#S256` an access token for `client` is bound to — the certificate
/// of this connection, for a client registered with
/// `tls_client_certificate_bound_access_tokens` (any certificate: it need not be the one
/// that authenticated the client). Such a client without a certificate is refused;
/// other clients get unbound tokens.
pub fn bound_x5t(
    client: &Client,
    cert: Option<&ClientCertificate>,
) -> Result<Option<String>, Failure> {
    if !client.security.tls_client_certificate_bound_access_tokens {
        return Ok(None);
    }
    match cert {
        Some(c) => Ok(Some(c.x5t_s256.clone())),
        None => Err(Failure::new(
            reasons::CLIENT_CERTIFICATE_REQUIRED,
            "this client's access tokens are bound to its TLS client certificate: connect with one",
        )),
    }
}

/// RFC 8705 §3: a token whose claims carry `cnf."x5t#S256"` is honoured only over a
/// connection presenting that certificate (401 `invalid_token`, a Bearer challenge).
pub fn check_binding(
    claims: &serde_json::Map<String, Value>,
    cert: Option<&ClientCertificate>,
) -> Result<(), Failure> {
    let Some(bound) = claims
        .get("cnf")
        .and_then(|c| c.get("x5t#S256"))
        .and_then(Value::as_str)
    else {
        return Ok(());
    };
    let presented = cert.map(|c| c.x5t_s256.as_str());
    if presented.is_some_and(|p| crate::crypto::ct_eq(p.as_bytes(), bound.as_bytes())) {
        return Ok(());
    }
    let mut f = Failure::new(
        reasons::INVALID_TOKEN,
        "the access token is bound to a client certificate this connection did not present",
    );
    f.bearer_challenge = true;
    Err(f)
}
