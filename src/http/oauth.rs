//! `/oauth/*` routes (oauth dialect): token, introspection, revocation.

use super::body::{parse_params, read_limited, Accept};
use super::errors::{render, Dialect};
use super::{remote_ip, Shared};
use crate::failure::Failure;
use crate::http::Remote;
use crate::oauth::client_auth::{authenticate_with_certificate, presented};
use crate::oauth::grant::{
    authorization_code, client_credentials, device_code, refresh_token, token_exchange, GrantType,
};
use crate::oauth::{dpop, introspect};
use crate::params::Params;
use crate::service::Tessera;
use crate::tenants::Client;
use crate::tokens::Confirmation;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use std::sync::Arc;

/// A JSON body with `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 §5.1).
pub fn no_store_json(status: StatusCode, body: &serde_json::Value) -> Response {
    no_store_text(status, body.to_string())
}

/// Like [`no_store_json`] for JSON already serialized (keeps a struct's field order).
pub fn no_store_text(status: StatusCode, json_text: String) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    (status, headers, json_text).into_response()
}

/// Reads and parses a request body as token-endpoint parameters.
pub async fn read_params(req: Request, accept: Accept) -> Result<(HeaderMap, Params), Failure> {
    let (parts, body) = req.into_parts();
    let bytes = read_limited(&parts.headers, body).await?;
    let params = parse_params(&parts.headers, &bytes, accept)?;
    Ok((parts.headers, params))
}

/// The `Authorization` header as text, if present.
pub fn authorization(headers: &HeaderMap) -> Result<Option<&str>, Failure> {
    match headers.get(header::AUTHORIZATION) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(Some)
            .map_err(|_| Failure::malformed("the Authorization header is not valid text")),
    }
}

/// The request's `DPoP` header (RFC 9449 §4.1): `None` without one; two or more, or one that is not text,
/// are refused (RFC 9449 §4.3 check 1).
pub fn dpop_header(headers: &HeaderMap) -> Result<Option<&str>, Failure> {
    let mut all = headers.get_all("dpop").iter();
    match (all.next(), all.next()) {
        (None, _) => Ok(None),
        (Some(v), None) => v
            .to_str()
            .map(Some)
            .map_err(|_| dpop::invalid("the DPoP header is not valid text")),
        (Some(_), Some(_)) => Err(dpop::invalid("more than one DPoP header")),
    }
}

/// The DPoP proof of a request to `path` of this server, verified and recorded (RFC 9449
/// §4.3): `None` without one.
pub async fn dpop_proof(
    t: &Tessera,
    headers: &HeaderMap,
    method: &str,
    path: &str,
    access_token: Option<&str>,
) -> Result<Option<dpop::Proof>, Failure> {
    match dpop_checked(t, headers, method, path, access_token)? {
        Some(checked) => checked.record(t).await.map(Some),
        None => Ok(None),
    }
}

/// [`dpop_proof`] but for the record (see [`dpop::Checked`]).
pub fn dpop_checked(
    t: &Tessera,
    headers: &HeaderMap,
    method: &str,
    path: &str,
    access_token: Option<&str>,
) -> Result<Option<dpop::Checked>, Failure> {
    let Some(proof) = dpop_header(headers)? else {
        return Ok(None);
    };
    let url = format!("{}{path}", t.settings.issuer);
    let tls = &t.settings.tls;
    let alias =
        (!tls.listen.is_empty() && !tls.url.is_empty()).then(|| format!("{}{path}", tls.url));
    let expected = dpop::Expected {
        method,
        url: &url,
        alias: alias.as_deref(),
        access_token,
    };
    dpop::check(t, proof, &expected).map(Some)
}

/// Adds `DPoP-Nonce` to an answer of a route taking proofs when nonces are required
/// (RFC 9449 §8.2: every answer may name the nonce to use next; a `use_dpop_nonce` refusal
/// must).
pub fn with_nonce(t: &Tessera, mut resp: Response) -> Response {
    if t.settings.dpop.require_nonce {
        if let Ok(v) = HeaderValue::from_str(&dpop::nonce(t)) {
            resp.headers_mut().insert("dpop-nonce", v);
        }
    }
    resp
}

/// An `/oauth/*` answer: `body` as a no-store JSON 200, or the failure in the oauth dialect.
fn answer(result: Result<Value, Failure>, path: &str) -> Response {
    match result {
        Ok(body) => no_store_json(StatusCode::OK, &body),
        Err(f) => render(&f, Dialect::OAuth, path),
    }
}

/// `POST /oauth/token` (RFC 6749 §3.2).
pub async fn token(State(t): State<Shared>, addr: Remote, req: Request) -> Response {
    const ROUTE: &str = "/oauth/token";
    let remote = remote_ip(addr);
    with_nonce(
        &t,
        answer(token_inner(&t, &remote, req, ROUTE).await, ROUTE),
    )
}

async fn token_inner(
    t: &Tessera,
    remote: &str,
    req: Request,
    route: &'static str,
) -> Result<Value, Failure> {
    let cert = super::mtls::peer_certificate(&req);
    let (headers, params) = read_params(req, Accept::FormOrJson).await?;
    let name = params
        .get("grant_type")
        .ok_or_else(|| Failure::missing("grant_type"))?;
    let grant = GrantType::parse(name).ok_or_else(|| Failure::unsupported_grant(name))?;
    let presented = presented(authorization(&headers)?, &params)?;
    let client = authenticate_with_certificate(
        t,
        &presented,
        cert.as_deref(),
        remote,
        grant.allows_public_clients(),
    )
    .await?;
    // The proof is checked here, once the client is known; the grant records it once its own
    // checks pass (`grant::record_proof`), so that a refused request writes nothing (SPEC
    // §7.2).
    let proof = dpop_checked(t, &headers, "POST", route, None)?;
    // RFC 9449 §6 cnf.jkt for a proof's key; RFC 8705 §3 cnf."x5t#S256" for a client whose
    // tokens are certificate-bound.
    let cnf = Confirmation {
        jkt: proof.as_ref().map(|p| p.jkt.clone()),
        x5t_s256: crate::oauth::mtls::bound_x5t(&client, cert.as_deref())?,
    }
    .some();
    // Every grant checks this again where it issues; here it comes before a code or refresh
    // token is spent.
    crate::oauth::grant::require_binding(&client, cnf.as_ref())?;
    let code_opts = || authorization_code::Options {
        cnf: cnf.clone(),
        peer_x5t: cert.as_ref().map(|c| c.x5t_s256.clone()),
        proof: proof.clone(),
        ..Default::default()
    };
    // No catch-all: a grant added to `GrantType` does not build until it is dispatched here.
    let issued = match grant {
        GrantType::ClientCredentials => {
            let opts = client_credentials::Options {
                cnf: cnf.clone(),
                proof: proof.clone(),
                ..Default::default()
            };
            client_credentials::issue(t, &client, &params, remote, route, opts)
                .await?
                .into()
        }
        GrantType::AuthorizationCode => {
            authorization_code::exchange(t, &client, &params, remote, code_opts()).await?
        }
        GrantType::RefreshToken => {
            refresh_token::refresh(t, &client, &params, remote, code_opts()).await?
        }
        GrantType::TokenExchange => {
            let proof = proof.clone();
            token_exchange::issue(t, &client, &params, remote, route, cnf.as_ref(), proof).await?
        }
        GrantType::DeviceCode => {
            device_code::redeem(t, &client, &params, remote, code_opts()).await?
        }
    };
    Ok(issued.response())
}

/// What introspection (RFC 7662 §2.1) and revocation (RFC 7009 §2.1) start with: the body's
/// parameters, the calling client authenticated (a public one by its `client_id` alone when
/// `public_ok`), then the `token` parameter.
async fn client_and_token(
    t: &Tessera,
    remote: &str,
    req: Request,
    public_ok: bool,
) -> Result<(Arc<Client>, String), Failure> {
    let cert = super::mtls::peer_certificate(&req);
    let (headers, params) = read_params(req, Accept::FormOrJson).await?;
    let presented = presented(authorization(&headers)?, &params)?;
    let client =
        authenticate_with_certificate(t, &presented, cert.as_deref(), remote, public_ok).await?;
    let token = params
        .get("token")
        .ok_or_else(|| Failure::missing("token"))?;
    Ok((client, token.to_owned()))
}

/// `POST /oauth/introspect` (RFC 7662): for confidential clients only.
pub async fn introspect(State(t): State<Shared>, addr: Remote, req: Request) -> Response {
    let remote = remote_ip(addr);
    let result = async {
        let (client, token) = client_and_token(&t, &remote, req, false).await?;
        introspect::introspect(&t, &client, &token).await
    }
    .await;
    answer(result, "/oauth/introspect")
}

/// `POST /oauth/revoke` (RFC 7009): 200 whether or not the token was known. Public clients
/// may revoke their own tokens.
pub async fn revoke(State(t): State<Shared>, addr: Remote, req: Request) -> Response {
    let remote = remote_ip(addr);
    let result = async {
        let (client, token) = client_and_token(&t, &remote, req, true).await?;
        let revoked = match refresh_token::revoke(&t, &client, &token).await? {
            Some(r) => r,
            None => introspect::revoke(&t, &client, &token).await?,
        };
        if revoked {
            let mut ev = crate::service::event(t.clock.now(), "token.revoked", "success");
            ev.actor = Some(client.client_id.clone());
            ev.client_id = Some(client.client_id.clone());
            ev.tenant_id = Some(client.tenant_id.clone());
            ev.remote = Some(remote.clone());
            t.audit(ev).await;
        }
        Ok(serde_json::json!({}))
    }
    .await;
    answer(result, "/oauth/revoke")
}
