//! Handlers of the compatible token APIs (SPEC §3): read the body and headers, call
//! `compat::*`, answer in the route's dialect. Every refusal is audited here as
//! `token.refused` (a failed authentication is also `auth.failed`, recorded where it happens).

use super::body::Accept;
use super::errors::{render, Dialect};
use super::oauth::{authorization, no_store_text, read_params};
use super::{remote_ip, Shared};
use crate::compat::{identity, internal, partner};
use crate::failure::Failure;
use crate::http::Remote;
use crate::oauth::client_auth::{basic_credentials, decode_basic};
use crate::params::Params;
use crate::s2s;
use crate::service::{event, Tessera};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Serialize;

/// Who a refused request said it was (body `client_id` or the Basic user), for audit only.
fn named_caller(headers: &HeaderMap, params: &Params) -> Option<String> {
    params.get("client_id").map(str::to_string).or_else(|| {
        let value = authorization(headers).ok().flatten();
        basic_credentials(value)
            .and_then(|b| decode_basic(b).ok())
            .map(|(id, _)| id)
    })
}

/// Where and how a route answers.
#[derive(Debug, Clone, Copy)]
struct RouteContext<'a> {
    /// The route path (problem `instance`, audit subject).
    path: &'static str,
    /// Its error dialect.
    dialect: Dialect,
    /// The caller's address.
    remote: &'a str,
}

impl<'a> RouteContext<'a> {
    fn new(path: &'static str, dialect: Dialect, remote: &'a str) -> RouteContext<'a> {
        RouteContext {
            path,
            dialect,
            remote,
        }
    }
}

/// Audits a refusal as `token.refused` and renders it in the route's dialect.
async fn refuse(
    t: &Tessera,
    f: &Failure,
    who: Option<String>,
    route: RouteContext<'_>,
) -> Response {
    if f.unaudited {
        return render(f, route.dialect, route.path);
    }
    let outcome = format!("failure:{}", f.reason.title.replace([' ', '/'], "_"));
    let mut ev = event(t.clock.now(), "token.refused", &outcome);
    ev.client_id = who;
    ev.subject = Some(route.path.to_string());
    ev.remote = Some(route.remote.to_string());
    t.audit_refusal(ev).await;
    render(f, route.dialect, route.path)
}

/// The 200 answer (`Cache-Control: no-store`), or the audited refusal.
async fn finish<T: Serialize>(
    t: &Tessera,
    result: Result<T, Failure>,
    headers: &HeaderMap,
    params: &Params,
    route: RouteContext<'_>,
) -> Response {
    // Serialized straight from the struct so the fields keep the order callers know.
    let body = result.and_then(|b| serde_json::to_string(&b).map_err(|e| Failure::internal(&e)));
    match body {
        Ok(body) => no_store_text(StatusCode::OK, body),
        Err(f) => refuse(t, &f, named_caller(headers, params), route).await,
    }
}

/// Reads the body as the route accepts it; a body that cannot be read is refused at once.
async fn read(
    t: &Tessera,
    req: Request,
    accept: Accept,
    route: RouteContext<'_>,
) -> Result<(HeaderMap, Params), Response> {
    match read_params(req, accept).await {
        Ok(read) => Ok(read),
        Err(f) => Err(refuse(t, &f, None, route).await),
    }
}

/// The value of a caller-identity header (the gateway ARN, the client certificate), present
/// at most once: a second copy means something between the client and the trusted proxy
/// added or kept one, and neither can be believed (401 `40100209`, SPEC §7.2).
fn single_header<'h>(headers: &'h HeaderMap, name: &str) -> Result<Option<&'h str>, Failure> {
    let mut values = headers.get_all(name).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(s2s::unauthenticated(false));
    }
    Ok(first.and_then(|v| v.to_str().ok()))
}

/// `POST /v1/auth/token` (SPEC §3.1).
pub async fn internal_token(State(t): State<Shared>, addr: Remote, req: Request) -> Response {
    let remote = remote_ip(addr);
    let route = RouteContext::new(internal::ROUTE, Dialect::Problem, &remote);
    let tls_cert = super::mtls::peer_certificate(&req);
    let (headers, params) = match read(&t, req, Accept::FormOrJson, route).await {
        Ok(read) => read,
        Err(refused) => return refused,
    };
    let result = async {
        let gateway = single_header(&headers, &t.settings.s2s.gateway_header)?;
        let client_cert = single_header(&headers, &t.settings.s2s.mtls_header)?;
        let iam = s2s::aws_iam::Proof::from_params(&params)?;
        let caller = s2s::Presented {
            authorization: authorization(&headers)?,
            gateway_arn: gateway,
            iam: iam.as_ref(),
            client_cert,
            tls_cert: tls_cert.as_deref(),
            peer: addr.peer.ip(),
            remote: &remote,
        };
        internal::token(&t, caller, &params).await
    }
    .await;
    finish(&t, result, &headers, &params, route).await
}

/// `POST /v1/oauth/token` (SPEC §3.2).
pub async fn partner_token(State(t): State<Shared>, addr: Remote, req: Request) -> Response {
    let remote = remote_ip(addr);
    let route = RouteContext::new(partner::ROUTE, Dialect::Problem, &remote);
    let (headers, params) = match read(&t, req, Accept::FormOrJson, route).await {
        Ok(read) => read,
        Err(refused) => return refused,
    };
    let result = async { partner::token(&t, authorization(&headers)?, &remote, &params).await };
    finish(&t, result.await, &headers, &params, route).await
}

/// `POST /api/id/v1/auth/token` (SPEC §3.4).
pub async fn identity_token(State(t): State<Shared>, addr: Remote, req: Request) -> Response {
    let remote = remote_ip(addr);
    let route = RouteContext::new(identity::ROUTE, Dialect::IdApi, &remote);
    let (headers, params) = match read(&t, req, Accept::FormOnly, route).await {
        Ok(read) => read,
        Err(refused) => return refused,
    };
    let result = async { identity::token(&t, authorization(&headers)?, &remote, &params).await };
    finish(&t, result.await, &headers, &params, route).await
}
