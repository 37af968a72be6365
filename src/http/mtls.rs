//! Mutual TLS at the HTTP layer (RFC 8705, SPEC §9): the connection's client certificate as
//! handlers see it, and what discovery says about it.

use super::Shared;
use crate::tls::ClientCertificate;
use axum::extract::Request;
use serde_json::{json, Value};
use std::sync::Arc;

/// The client certificate of the request's TLS connection (set by the accept loop, never
/// from a header); `None` on plain HTTP or when the client sent none.
pub fn peer_certificate(req: &Request) -> Option<Arc<ClientCertificate>> {
    req.extensions().get::<Arc<ClientCertificate>>().cloned()
}

/// Extractor of [`peer_certificate`] for handlers that do not take the whole request.
#[derive(Debug, Clone)]
pub struct PeerCertificate(pub Option<Arc<ClientCertificate>>);

impl axum::extract::FromRequestParts<Shared> for PeerCertificate {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &Shared,
    ) -> Result<PeerCertificate, Self::Rejection> {
        Ok(PeerCertificate(
            parts.extensions.get::<Arc<ClientCertificate>>().cloned(),
        ))
    }
}

/// RFC 8705 §3.3 and §5 metadata: certificate-bound tokens and the two certificate
/// authentication methods when `listen` speaks TLS, and the `tls.listen` aliases of the
/// endpoints that take client certificates.
pub fn add_discovery(t: &crate::service::Tessera, m: &mut Value) {
    let tls = &t.settings.tls;
    crate::json::set(
        m,
        "tls_client_certificate_bound_access_tokens",
        Value::Bool(tls.enabled()),
    );
    if !tls.enabled() {
        return;
    }
    for key in [
        "token_endpoint_auth_methods_supported",
        "introspection_endpoint_auth_methods_supported",
        "revocation_endpoint_auth_methods_supported",
    ] {
        if let Some(Value::Array(methods)) = m.get_mut(key) {
            for method in ["tls_client_auth", "self_signed_tls_client_auth"] {
                methods.push(Value::String(method.into()));
            }
        }
    }
    if !tls.listen.is_empty() && !tls.url.is_empty() {
        let base = &tls.url;
        crate::json::set(
            m,
            "mtls_endpoint_aliases",
            json!({
                "token_endpoint": format!("{base}/oauth/token"),
                "introspection_endpoint": format!("{base}/oauth/introspect"),
                "revocation_endpoint": format!("{base}/oauth/revoke"),
                "userinfo_endpoint": format!("{base}/userinfo"),
            }),
        );
    }
}
