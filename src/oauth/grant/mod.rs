//! Grants of the token endpoint, one file each.

pub mod authorization_code;
pub mod client_credentials;
pub mod refresh_token;

use crate::config::Profile;
use crate::failure::Failure;
use crate::service::Tessera;
use crate::tenants::Client;
use crate::tokens::IssuedToken;
use serde_json::{json, Value};

/// The RFC 6749 §5.1 success body.
pub fn token_response(t: &IssuedToken) -> Value {
    let mut body = json!({
        "access_token": t.token,
        "token_type": "Bearer",
        "expires_in": t.expires_in,
    });
    if !t.scope.is_empty() {
        body["scope"] = Value::String(t.scope.clone());
    }
    body
}

/// The token profile a client names.
pub fn profile_of<'a>(t: &'a Tessera, client: &Client) -> Result<&'a Profile, Failure> {
    t.profile(&client.profile).ok_or_else(|| {
        Failure::internal(&std::io::Error::other(format!(
            "client {} names unknown profile {}",
            client.client_id, client.profile
        )))
    })
}

/// Access-token lifetime: the client's narrowing of its profile's, capped by `tokens.max_ttl`.
pub fn access_ttl(t: &Tessera, client: &Client, profile: &Profile) -> i64 {
    client
        .token_ttl
        .map_or(profile.ttl, |c| c.min(profile.ttl))
        .min(t.settings.tokens.max_ttl)
        .max(1)
}

/// RFC 6749 §6: a `scope` sent with a code or refresh token may only narrow what was granted.
pub fn narrow(granted: &str, requested: Option<&str>) -> Result<Vec<String>, Failure> {
    let granted: Vec<String> = granted
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let Some(req) = requested else {
        return Ok(granted);
    };
    crate::oauth::scope::pick(req, |s| granted.iter().any(|g| g == s), "was not granted")
}

/// `unauthorized_client` unless `client` is registered for `grant`.
pub fn require_grant(client: &Client, grant: &str) -> Result<(), Failure> {
    if client.grant_types.iter().any(|g| g == grant) {
        Ok(())
    } else {
        Err(Failure::new(
            crate::reasons::CLIENT_NOT_ALLOWED_GRANT,
            "unauthorized_client",
            "client not allowed this grant",
        ))
    }
}

/// `invalid_grant` (RFC 6749 §5.2) with a safe description.
pub fn invalid_grant(detail: &str) -> Failure {
    Failure::new(crate::reasons::INVALID_GRANT, "invalid_grant", detail)
}
