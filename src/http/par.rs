//! `POST /oauth/par`: pushed authorization requests (RFC 9126 §2), oauth dialect.

use super::body::Accept;
use super::errors::{render, Dialect};
use super::oauth::{authorization, dpop_checked, no_store_json, read_params, with_nonce};
use super::{remote_ip, Shared};
use crate::failure::Failure;
use crate::http::Remote;
use crate::oauth::client_auth::{authenticate_with_certificate, presented};
use crate::oauth::par;
use crate::service::Tessera;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

/// The route, for error rendering.
const ROUTE: &str = "/oauth/par";

/// `POST /oauth/par` (RFC 9126 §2.1): 201 with the `request_uri` (§2.2), or the error as
/// JSON (§2.3), never a redirect.
pub async fn par(State(t): State<Shared>, addr: Remote, req: Request) -> Response {
    let remote = remote_ip(addr);
    let resp = match push(&t, &remote, req).await {
        Ok(body) => no_store_json(StatusCode::CREATED, &body),
        Err(f) => render(&f, Dialect::OAuth, ROUTE),
    };
    with_nonce(&t, resp)
}

/// Client authentication exactly as at the token endpoint (§2: a public client by its
/// `client_id` alone, as for the authorization code grant), then the push.
async fn push(t: &Tessera, remote: &str, req: Request) -> Result<Value, Failure> {
    let cert = super::mtls::peer_certificate(&req);
    let (headers, params) = read_params(req, Accept::FormOnly).await?;
    let presented = presented(authorization(&headers)?, &params)?;
    let client =
        authenticate_with_certificate(t, &presented, cert.as_deref(), remote, true).await?;
    // RFC 9449 §10.1: a proof binds the code this request will bring to the proof's key; it
    // is recorded once the push is valid.
    let proof = dpop_checked(t, &headers, "POST", ROUTE, None)?;
    let pushed = par::push(t, &client, &params, remote, proof).await?;
    Ok(json!({"request_uri": pushed.request_uri, "expires_in": pushed.expires_in}))
}
