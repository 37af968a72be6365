//! Grants of the token endpoint, one file each.

pub mod authorization_code;
pub mod client_credentials;
pub mod refresh_token;
pub mod token_exchange;

use crate::config::Profile;
use crate::failure::Failure;
use crate::oauth::scope;
use crate::service::{event, Tessera};
use crate::tenants::Client;
use crate::tokens::{Audience, IssuedToken};
use serde_json::{json, Value};

/// The `aud` and lifetime of a token for `client`: its profile's, narrowed by the client
/// (and by `requested` audiences, RFC 8707), the lifetime bounded by `tokens.max_ttl`.
pub fn audience_and_ttl(
    t: &Tessera,
    client: &Client,
    requested: &[&str],
) -> Result<(Audience, i64), Failure> {
    let profile = t.required_profile(&client.profile, &format!("client {}", client.client_id))?;
    let aud = scope::audience(
        &client.audiences,
        profile.audience.as_deref(),
        &t.settings.issuer,
        requested,
    )?;
    let ttl = scope::ttl(client.token_ttl, profile.ttl, t.settings.tokens.max_ttl);
    Ok((Audience::from_list(aud), ttl))
}

/// Records a `token.issued` audit event for a token issued to `client` about `subject`.
pub async fn audit_issued(
    t: &Tessera,
    client: &Client,
    subject: &str,
    issued: &IssuedToken,
    remote: &str,
) -> Result<(), Failure> {
    let mut ev = event(t.clock.now(), "token.issued", "success");
    ev.actor = Some(client.client_id.clone());
    ev.tenant_id = Some(client.tenant_id.clone());
    ev.client_id = Some(client.client_id.clone());
    ev.subject = Some(subject.to_string());
    ev.jti = Some(issued.jti.clone());
    ev.remote = Some(remote.to_string());
    t.audit_token(ev).await
}

/// The RFC 6749 §5.1 success body. `scope` is always there, empty when nothing was granted:
/// SPEC §2.1 lists it without the `?` it puts on optional members.
pub fn token_response(t: &IssuedToken) -> Value {
    json!({
        "access_token": t.token,
        "token_type": "Bearer",
        "expires_in": t.expires_in,
        "scope": t.scope,
    })
}

/// The token profile a client names.
pub fn profile_of<'a>(t: &'a Tessera, client: &Client) -> Result<&'a Profile, Failure> {
    t.required_profile(&client.profile, &format!("client {}", client.client_id))
}

/// Access-token lifetime: the client's narrowing of its profile's, capped by `tokens.max_ttl`.
pub fn access_ttl(t: &Tessera, client: &Client, profile: &Profile) -> i64 {
    scope::ttl(client.token_ttl, profile.ttl, t.settings.tokens.max_ttl)
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
    scope::narrow(req, |s| granted.iter().any(|g| g == s), "this grant")
}

/// `unauthorized_client` unless `client` is registered for `grant`.
pub fn require_grant(client: &Client, grant: &str) -> Result<(), Failure> {
    if allows_grant(client, grant) {
        Ok(())
    } else {
        Err(Failure::new(
            crate::reasons::CLIENT_NOT_ALLOWED_GRANT,
            "unauthorized_client",
            "client not allowed this grant",
        ))
    }
}

/// Whether `client` may use `grant`. A client registered for `authorization_code` may also
/// redeem refresh tokens: SPEC §3.4 issues one whenever `offline_access` is granted, so the
/// scope, not a second grant type, decides (as in Keycloak).
pub fn allows_grant(client: &Client, grant: &str) -> bool {
    client
        .grant_types
        .iter()
        .any(|g| g == grant || (grant == "refresh_token" && g == "authorization_code"))
}

/// `invalid_grant` (RFC 6749 §5.2) with a safe description.
pub fn invalid_grant(detail: &str) -> Failure {
    Failure::new(crate::reasons::INVALID_GRANT, "invalid_grant", detail)
}
