//! Rendering a [`Failure`] in each route family's dialect (SPEC §3): oauth (RFC 6749 §5.2),
//! problem (RFC 9457 with `karmoCode`/`karmoErrors`), id-api (`error`/`errorDescription`).

use crate::failure::Failure;
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// The error dialect of a route family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `/oauth/*`: `{"error","error_description"}`.
    OAuth,
    /// `/v1/*`, `/auth/*`, `/admin/v1/*`: `application/problem+json`.
    Problem,
    /// `/api/id/v1/*`: `{"error","errorDescription"}`.
    IdApi,
}

impl IntoResponse for Failure {
    /// A bare response that carries the failure; [`render_failures`] turns it into the body
    /// of the route's dialect with the request path, so a handler just returns `Err(f)`.
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut r = status.into_response();
        r.extensions_mut().insert(self);
        r
    }
}

/// The failure layer (on the admin routes): renders a [`Failure`] a handler or extractor
/// returned in the dialect of the request's route family, with the request path as the problem
/// `instance`.
pub async fn render_failures(req: Request, next: Next) -> Response {
    // A `Uri` clone shares its bytes: nothing is copied on the way in.
    let uri = req.uri().clone();
    let mut resp = next.run(req).await;
    match resp.extensions_mut().remove::<Failure>() {
        Some(f) => render(&f, super::dialect_of(uri.path()), uri.path()),
        None => resp,
    }
}

/// Builds the response for `f` in `dialect`.
pub fn render(f: &Failure, dialect: Dialect, instance: &str) -> Response {
    f.log_cause(instance);
    let status = StatusCode::from_u16(f.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    metrics::counter!("tessera_failures_total", "reason" => f.reason.code.to_string()).increment(1);
    let (body, content_type) = match dialect {
        Dialect::OAuth => (
            json!({"error": f.oauth_error, "error_description": f.detail}),
            "application/json",
        ),
        Dialect::IdApi => (
            json!({"error": f.oauth_error, "errorDescription": f.detail}),
            "application/json",
        ),
        Dialect::Problem => (
            json!({
                "type": f.reason.type_uri(),
                "title": f.reason.title,
                "status": f.status,
                "detail": f.detail,
                "instance": instance,
                "karmoCode": f.reason.karmo_code(f.status),
                "karmoErrors": f.errors,
            }),
            "application/problem+json",
        ),
    };
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    if f.basic_challenge {
        headers.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"tessera\""),
        );
    } else if f.dpop_challenge {
        let value = format!(
            "DPoP error=\"{}\", algs=\"{}\"",
            f.oauth_error,
            crate::oauth::dpop::ALGS.join(" ")
        );
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(header::WWW_AUTHENTICATE, v);
        }
    } else if f.bearer_challenge {
        headers.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"tessera\""),
        );
    }
    if let Some(secs) = f.retry_after {
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            headers.insert(header::RETRY_AFTER, v);
        }
    }
    (status, headers, body.to_string()).into_response()
}
