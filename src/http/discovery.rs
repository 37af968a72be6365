//! Discovery documents (RFC 8414, OIDC Discovery 1.0) and the JWKS (RFC 7517). They list
//! exactly what this server implements.

use super::Shared;
use crate::oauth::grant::GrantType;
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// `GET /.well-known/jwks.json`: public keys (next, active, retired-but-still-valid).
pub async fn jwks(State(t): State<Shared>) -> Response {
    let max_age = format!("public, max-age={}", t.settings.keys.jwks_max_age.max(0));
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_str(&max_age)
                    .unwrap_or(HeaderValue::from_static("public, max-age=300")),
            ),
        ],
        t.keys.jwks().as_str().to_owned(),
    )
        .into_response()
}

/// The metadata shared by both discovery documents.
pub fn metadata(t: &crate::service::Tessera) -> Value {
    let iss = &t.settings.issuer;
    let algs: Vec<&str> = crate::keys::signer::Alg::ALL
        .iter()
        .map(|a| a.as_str())
        .collect();
    let mut m = json!({
        "issuer": iss,
        "authorization_endpoint": format!("{iss}/oauth/authorize"),
        "token_endpoint": format!("{iss}/oauth/token"),
        "userinfo_endpoint": format!("{iss}/userinfo"),
        "introspection_endpoint": format!("{iss}/oauth/introspect"),
        "revocation_endpoint": format!("{iss}/oauth/revoke"),
        "device_authorization_endpoint": format!("{iss}/oauth/device_authorization"),
        "end_session_endpoint": format!("{iss}/oauth/logout"),
        "jwks_uri": format!("{iss}/.well-known/jwks.json"),
        "grant_types_supported": GrantType::ALL.map(GrantType::as_str),
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "token_endpoint_auth_signing_alg_values_supported": algs,
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "access_token_signing_alg_values_supported": algs,
        "scopes_supported": ["openid", "profile", "email", "offline_access", crate::oauth::scope::ADMIN_SCOPE],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true,
        "id_token_signing_alg_values_supported": algs,
        "prompt_values_supported": ["none", "login"],
        "dpop_signing_alg_values_supported": crate::oauth::dpop::ALGS,
        "service_documentation": format!("{iss}/openapi.json"),
        "pushed_authorization_request_endpoint": format!("{iss}/oauth/par"),
        "require_pushed_authorization_requests": t.settings.par.required,
    });
    super::mtls::add_discovery(t, &mut m);
    m
}

fn json_doc(v: Value) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            ),
        ],
        v.to_string(),
    )
        .into_response()
}

/// `GET /.well-known/oauth-authorization-server` (RFC 8414).
pub async fn authorization_server(State(t): State<Shared>) -> Response {
    json_doc(metadata(&t))
}

/// `GET /.well-known/openid-configuration` (OIDC Discovery 1.0 §3).
pub async fn openid_configuration(State(t): State<Shared>) -> Response {
    let mut m = metadata(&t);
    crate::json::set(&mut m, "subject_types_supported", json!(["public"]));
    crate::json::set(
        &mut m,
        "claims_supported",
        json!([
            "iss",
            "sub",
            "aud",
            "exp",
            "iat",
            "nbf",
            "jti",
            "client_id",
            "scope",
            "token_use",
            "tenant_id",
            "project_id",
            "auth_time",
            "nonce",
            "at_hash",
            "azp",
            "name",
            "email",
            "email_verified"
        ]),
    );
    json_doc(m)
}
