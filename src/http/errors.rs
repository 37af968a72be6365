//! Rendering a [`Failure`] in each route family's dialect (SPEC §3): oauth (RFC 6749 §5.2),
//! problem (RFC 9457 with `karmoCode`/`karmoErrors`), id-api (`error`/`errorDescription`).

use crate::failure::Failure;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
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

/// A failure bound to the dialect and path it is answered on.
#[derive(Debug)]
pub struct ApiError {
    /// What went wrong.
    pub failure: Failure,
    /// How to say it.
    pub dialect: Dialect,
    /// The request path (problem `instance`).
    pub instance: String,
}

impl ApiError {
    /// Binds a failure to a dialect and path.
    pub fn new(failure: Failure, dialect: Dialect, instance: &str) -> ApiError {
        ApiError {
            failure,
            dialect,
            instance: instance.to_string(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        render(&self.failure, self.dialect, &self.instance)
    }
}

/// Builds the response for `f` in `dialect`.
pub fn render(f: &Failure, dialect: Dialect, instance: &str) -> Response {
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
