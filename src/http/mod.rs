//! HTTP: the router, per-dialect error rendering and body reading. axum lives here only.

pub mod admin;
pub mod body;
pub mod compat;
pub mod console;
pub mod device;
pub mod discovery;
pub mod errors;
pub mod forwarded;
pub mod login;
pub mod logout;
pub mod mtls;
pub mod oauth;
pub mod openapi;
pub mod ops;
pub mod par;
pub mod serve;
pub mod tenant_api;

use crate::failure::Failure;
use crate::service::Tessera;
use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{get, post, MethodRouter};
use axum::Router;
use errors::{render, Dialect};
use std::net::SocketAddr;
use std::sync::Arc;

/// The state every handler shares.
pub type Shared = Arc<Tessera>;

/// Who is calling, as the network sees it: the TCP peer (which decides whether proxy
/// headers are believed) and the client address limits and audit use (the peer, or behind a
/// trusted proxy the address it forwarded; see [`forwarded`]). Every handler takes this
/// instead of `ConnectInfo`, so there is one answer to "which address is this".
#[derive(Debug, Clone, Copy)]
pub struct Remote {
    /// The TCP peer.
    pub peer: SocketAddr,
    /// The client address for limits and audit.
    pub client: std::net::IpAddr,
}

impl axum::extract::FromRequestParts<Shared> for Remote {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        t: &Shared,
    ) -> Result<Remote, Self::Rejection> {
        // The accept loop always sets it; a request built in a test without it is local.
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<SocketAddr>>()
            .map_or(SocketAddr::from(([127, 0, 0, 1], 0)), |c| c.0);
        let client = forwarded::client_ip(&t.trusted_proxies, peer.ip(), &parts.headers);
        Ok(Remote { peer, client })
    }
}

/// The client address of `remote` as text for limits and audit (IPv4-mapped IPv6 shown as
/// IPv4).
pub fn remote_ip(remote: Remote) -> String {
    match remote.client {
        std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => v6.to_string(),
        },
        ip => ip.to_string(),
    }
}

/// The dialect of a path's route family (SPEC §3).
pub fn dialect_of(path: &str) -> Dialect {
    if path.starts_with("/oauth/") || path == "/userinfo" {
        Dialect::OAuth
    } else if path.starts_with("/api/id/") {
        Dialect::IdApi
    } else {
        Dialect::Problem
    }
}

/// Adds a 405 in the route's dialect for methods the route does not serve.
fn with_405(route: MethodRouter<Shared>, path: &'static str) -> MethodRouter<Shared> {
    route.fallback(move |uri: axum::http::Uri| async move {
        render(&Failure::method_not_allowed(), dialect_of(path), uri.path())
    })
}

async fn not_found(req: Request) -> Response {
    let path = req.uri().path().to_string();
    if path.starts_with("/console/") {
        return console::status_page(axum::http::StatusCode::NOT_FOUND);
    }
    render(
        &Failure::not_found(crate::reasons::NOT_FOUND, "no such route"),
        dialect_of(&path),
        &path,
    )
}

/// True when a segment of `path` (a tenant, project, client, user or service id in the admin
/// API) is, percent-decoded, longer than an identifier may be (SPEC §7.2).
fn path_segment_too_long(path: &str) -> bool {
    path.len() > crate::failure::MAX_IDENTIFIER
        && path.split('/').any(|seg| {
            seg.len() > crate::failure::MAX_IDENTIFIER
                && crate::failure::identifier_too_long(&String::from_utf8_lossy(
                    &crate::params::percent_decode(seg.as_bytes()),
                ))
        })
}

/// Reads every request body up front (64 KiB at most, 413 in the route's dialect), so a
/// handler that answers without reading the body (a 401, a GET) never leaves the client
/// writing into a closed connection. An over-long identifier in the path is refused here,
/// before any handler looks it up.
async fn buffer_body(req: Request, next: Next) -> Response {
    if path_segment_too_long(req.uri().path()) {
        let path = req.uri().path();
        if path.starts_with("/console") {
            return console::status_page(axum::http::StatusCode::BAD_REQUEST);
        }
        let f = Failure::malformed(format!(
            "a path segment is longer than {} characters",
            crate::failure::MAX_IDENTIFIER
        ));
        return render(&f, dialect_of(path), path);
    }
    let (parts, body) = req.into_parts();
    match body::read_limited(&parts.headers, body).await {
        Ok(bytes) => {
            next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
                .await
        }
        Err(f) if parts.uri.path().starts_with("/console") => console::status_page(
            axum::http::StatusCode::from_u16(f.status)
                .unwrap_or(axum::http::StatusCode::BAD_REQUEST),
        ),
        Err(f) => render(&f, dialect_of(parts.uri.path()), parts.uri.path()),
    }
}

/// A route pattern as a `&'static str`, so metric labels cost no allocation per request.
/// Patterns come from the router's fixed set, so the interned set stays small.
fn interned(route: &str) -> &'static str {
    use std::collections::HashSet;
    use std::sync::{OnceLock, RwLock};
    static ROUTES: OnceLock<RwLock<HashSet<&'static str>>> = OnceLock::new();
    let routes = ROUTES.get_or_init(Default::default);
    if let Some(found) = routes.read().ok().and_then(|r| r.get(route).copied()) {
        return found;
    }
    match routes.write() {
        Ok(mut w) => match w.get(route) {
            Some(found) => found,
            None => {
                let leaked: &'static str = Box::leak(route.to_owned().into_boxed_str());
                w.insert(leaked);
                leaked
            }
        },
        Err(_) => "unmatched",
    }
}

/// A status code as a `&'static str` label.
fn status_label(status: axum::http::StatusCode) -> metrics::SharedString {
    match status.as_u16() {
        200 => "200".into(),
        201 => "201".into(),
        204 => "204".into(),
        400 => "400".into(),
        401 => "401".into(),
        404 => "404".into(),
        429 => "429".into(),
        500 => "500".into(),
        other => other.to_string().into(),
    }
}

async fn track(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| interned(p.as_str()));
    let started = std::time::Instant::now();
    let resp = next.run(req).await;
    let status = status_label(resp.status());
    metrics::counter!("tessera_http_requests_total", "route" => route, "status" => status)
        .increment(1);
    metrics::histogram!("tessera_http_request_duration_seconds", "route" => route)
        .record(started.elapsed().as_secs_f64());
    resp
}

/// A router of `(path, methods)` rows: each path written once, with the 405 of its dialect
/// for any other method.
fn routes_of(table: Vec<(&'static str, MethodRouter<Shared>)>) -> Router<Shared> {
    table.into_iter().fold(Router::new(), |r, (path, methods)| {
        r.route(path, with_405(methods, path))
    })
}

/// Every route of the server.
pub fn router(state: Shared) -> Router {
    let table: Vec<(&'static str, MethodRouter<Shared>)> = vec![
        ("/oauth/token", post(oauth::token)),
        ("/oauth/introspect", post(oauth::introspect)),
        ("/oauth/revoke", post(oauth::revoke)),
        (
            "/oauth/device_authorization",
            post(device::device_authorization),
        ),
        ("/device", get(device::page).post(device::post)),
        ("/oauth/par", post(par::par)),
        ("/v1/auth/token", post(compat::internal_token)),
        ("/v1/oauth/token", post(compat::partner_token)),
        ("/api/id/v1/auth/token", post(compat::identity_token)),
        ("/oauth/authorize", get(login::authorize)),
        ("/login", post(login::login)),
        ("/login/consent", post(login::consent)),
        ("/login/upstream", post(login::upstream_start)),
        ("/login/upstream/callback", get(login::upstream_callback)),
        ("/logout", post(logout::logout)),
        ("/oauth/logout", get(logout::rp_logout)),
        ("/userinfo", get(login::userinfo).post(login::userinfo)),
        ("/.well-known/jwks.json", get(discovery::jwks)),
        (
            "/.well-known/openid-configuration",
            get(discovery::openid_configuration),
        ),
        (
            "/.well-known/oauth-authorization-server",
            get(discovery::authorization_server),
        ),
        ("/healthz", get(ops::healthz)),
        ("/readyz", get(ops::readyz)),
        ("/metrics", get(ops::metrics)),
        ("/openapi.json", get(ops::openapi)),
        (
            "/auth/admin/generateToken",
            post(tenant_api::admin_generate),
        ),
        ("/auth/user/generateToken", post(tenant_api::user_generate)),
        ("/auth/admin/oidcToken", post(tenant_api::admin_oidc)),
        ("/auth/user/oidcToken", post(tenant_api::user_oidc)),
    ];
    routes_of(table)
        .merge(admin::routes(state.clone()))
        .merge(console::routes())
        .fallback(not_found)
        .layer(axum::middleware::from_fn(buffer_body))
        .layer(axum::middleware::from_fn(track))
        .with_state(state)
}
