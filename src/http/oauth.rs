//! `/oauth/*` routes (oauth dialect): token, introspection, revocation.

use super::body::{parse_params, read_limited, Accept, Params};
use super::errors::{render, Dialect};
use super::{remote_ip, Shared};
use crate::failure::Failure;
use crate::http::Remote;
use crate::oauth::client_auth::{authenticate, presented};
use crate::oauth::grant::{
    authorization_code, client_credentials, refresh_token, token_exchange, token_response,
};
use crate::oauth::introspect;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// Grants `/oauth/token` implements, for discovery.
pub const GRANT_TYPES: &[&str] = &[
    "client_credentials",
    "authorization_code",
    "refresh_token",
    token_exchange::GRANT_TYPE,
];

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

/// `POST /oauth/token` (RFC 6749 §3.2).
pub async fn token(State(t): State<Shared>, addr: Remote, req: Request) -> Response {
    let remote = remote_ip(addr);
    match token_inner(&t, &remote, req).await {
        Ok(r) => r,
        Err(f) => render(&f, Dialect::OAuth, "/oauth/token"),
    }
}

async fn token_inner(
    t: &crate::service::Tessera,
    remote: &str,
    req: Request,
) -> Result<Response, Failure> {
    let (headers, params) = read_params(req, Accept::FormOrJson).await?;
    let grant = params
        .get("grant_type")
        .ok_or_else(|| Failure::missing("grant_type"))?;
    if !GRANT_TYPES.contains(&grant) {
        return Err(Failure::unsupported_grant(grant));
    }
    let presented = presented(authorization(&headers)?, &params)?;
    // Public clients (PKCE) redeem codes and refresh tokens with their client_id alone.
    let public_ok = grant != "client_credentials";
    let client = authenticate(t, &presented, remote, public_ok).await?;
    let body = match grant {
        "authorization_code" => {
            authorization_code::exchange(t, &client, &params, remote, Default::default())
                .await?
                .response()
        }
        "refresh_token" => refresh_token::refresh(t, &client, &params, remote, Default::default())
            .await?
            .response(),
        token_exchange::GRANT_TYPE => {
            let issued = token_exchange::issue(t, &client, &params, remote, "/oauth/token").await?;
            let mut body = token_response(&issued);
            body["issued_token_type"] = token_exchange::ACCESS_TOKEN_TYPE.into();
            body
        }
        _ => {
            let issued = client_credentials::issue(
                t,
                &client,
                &params,
                remote,
                "/oauth/token",
                client_credentials::Options::default(),
            )
            .await?;
            token_response(&issued)
        }
    };
    Ok(no_store_json(StatusCode::OK, &body))
}

/// `POST /oauth/introspect` (RFC 7662).
pub async fn introspect(State(t): State<Shared>, addr: Remote, req: Request) -> Response {
    let remote = remote_ip(addr);
    let result = async {
        let (headers, params) = read_params(req, Accept::FormOrJson).await?;
        let presented = presented(authorization(&headers)?, &params)?;
        let client = authenticate(&t, &presented, &remote, false).await?;
        let token = params
            .get("token")
            .ok_or_else(|| Failure::missing("token"))?;
        introspect::introspect(&t, &client, token).await
    }
    .await;
    match result {
        Ok(body) => no_store_json(StatusCode::OK, &body),
        Err(f) => render(&f, Dialect::OAuth, "/oauth/introspect"),
    }
}

/// `POST /oauth/revoke` (RFC 7009): 200 whether or not the token was known.
pub async fn revoke(State(t): State<Shared>, addr: Remote, req: Request) -> Response {
    let remote = remote_ip(addr);
    let result = async {
        let (headers, params) = read_params(req, Accept::FormOrJson).await?;
        let presented = presented(authorization(&headers)?, &params)?;
        let client = authenticate(&t, &presented, &remote, true).await?;
        let token = params
            .get("token")
            .ok_or_else(|| Failure::missing("token"))?;
        let revoked = match refresh_token::revoke(&t, &client, token).await? {
            Some(r) => r,
            None => introspect::revoke(&t, &client, token).await?,
        };
        if revoked {
            let mut ev = crate::service::event(t.clock.now(), "token.revoked", "success");
            ev.actor = Some(client.client_id.clone());
            ev.client_id = Some(client.client_id.clone());
            ev.tenant_id = Some(client.tenant_id.clone());
            ev.remote = Some(remote.clone());
            t.audit(ev).await;
        }
        Ok::<_, Failure>(())
    }
    .await;
    match result {
        Ok(()) => no_store_json(StatusCode::OK, &serde_json::json!({})),
        Err(f) => render(&f, Dialect::OAuth, "/oauth/revoke"),
    }
}
