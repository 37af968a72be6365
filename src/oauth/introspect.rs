//! Checking our own access tokens: introspection (RFC 7662), revocation (RFC 7009), and the
//! bearer tokens the admin API accepts.

use crate::failure::Failure;
use crate::service::Tessera;
use crate::tenants::{Client, DEFAULT_TENANT};
use serde_json::{Map, Value};

/// Leeway for `nbf`/`iat` of our own tokens across nodes' clocks.
const LEEWAY: i64 = 5;

/// The claims of a token this Tessera issued that is signed, unexpired and not revoked.
pub async fn active_claims(
    t: &Tessera,
    token: &str,
) -> Result<Option<Map<String, Value>>, Failure> {
    let Some(claims) = verified_claims(t, token) else {
        return Ok(None);
    };
    let now = t.clock.now();
    let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
    let nbf = claims.get("nbf").and_then(Value::as_i64).unwrap_or(0);
    if exp <= now || nbf > now + LEEWAY {
        return Ok(None);
    }
    if let Some(jti) = claims.get("jti").and_then(Value::as_str) {
        if t.store.is_jti_revoked(jti).await? {
            return Ok(None);
        }
    }
    Ok(Some(claims))
}

/// The claims of an active token presented as a bearer token (RFC 6750) to a route that takes
/// nothing else (the admin and tenant APIs): a sender-constrained token (`cnf`: DPoP, RFC 9449
/// §7.2, or a certificate, RFC 8705 §3) is worth nothing there without its key, so it counts
/// as no token at all.
pub async fn bearer_claims(
    t: &Tessera,
    token: &str,
) -> Result<Option<Map<String, Value>>, Failure> {
    Ok(active_claims(t, token)
        .await?
        .filter(|c| !c.contains_key("cnf")))
}

/// Claims of a token whose signature is ours and whose `iss` is this issuer (expiry unchecked).
pub fn verified_claims(t: &Tessera, token: &str) -> Option<Map<String, Value>> {
    let v = t.keys.verify(token).ok()?;
    // Only access tokens: an ID token (typ JWT) is not a bearer credential here.
    if v.header.get("typ").and_then(Value::as_str) != Some("at+jwt") {
        return None;
    }
    let Value::Object(claims) = v.claims else {
        return None;
    };
    (claims.get("iss").and_then(Value::as_str) == Some(t.settings.issuer.as_str()))
        .then_some(claims)
}

/// RFC 7662 answer for `token` asked by `asker`. Tokens of another tenant are inactive to a
/// client outside tenant `default` (tokens with no tenant belong to `default`), and so are
/// the tokens of a disabled tenant.
pub async fn introspect(t: &Tessera, asker: &Client, token: &str) -> Result<Value, Failure> {
    let inactive = || serde_json::json!({"active": false});
    let Some(mut claims) = active_claims(t, token).await? else {
        return Ok(inactive());
    };
    let token_tenant = claims
        .get("tenant_id")
        .and_then(Value::as_str)
        .unwrap_or(DEFAULT_TENANT);
    if asker.tenant_id != DEFAULT_TENANT && token_tenant != asker.tenant_id {
        return Ok(inactive());
    }
    // A disabled tenant's tokens stop being valid with it (as a disabled Keycloak realm's).
    if !t.tenant_active(token_tenant).await? {
        return Ok(inactive());
    }
    claims.insert("active".into(), Value::Bool(true));
    // RFC 9449 §6.2: a DPoP-bound token is of type DPoP; its `cnf` claim is already there.
    let dpop = claims.get("cnf").and_then(|c| c.get("jkt")).is_some();
    let token_type = if dpop { "DPoP" } else { "Bearer" };
    claims.insert("token_type".into(), Value::String(token_type.into()));
    Ok(Value::Object(claims))
}

/// RFC 7009: revokes an access token's `jti` until its `exp` when it was issued to `asker`:
/// the same `client_id` in the same tenant (SPEC §7.1). Service tokens belong to no client.
/// Unknown or foreign tokens are ignored (200 anyway) and stay valid.
pub async fn revoke(t: &Tessera, asker: &Client, token: &str) -> Result<bool, Failure> {
    let Some(claims) = verified_claims(t, token) else {
        return Ok(false);
    };
    let owner = claims.get("client_id").and_then(Value::as_str);
    let tenant = claims
        .get("tenant_id")
        .and_then(Value::as_str)
        .unwrap_or(DEFAULT_TENANT);
    let service = claims.get("token_use").and_then(Value::as_str) == Some("service");
    if service || owner != Some(asker.client_id.as_str()) || tenant != asker.tenant_id {
        return Ok(false);
    }
    let (Some(jti), Some(exp)) = (
        claims.get("jti").and_then(Value::as_str),
        claims.get("exp").and_then(Value::as_i64),
    ) else {
        return Ok(false);
    };
    if exp <= t.clock.now() {
        return Ok(false);
    }
    t.store.revoke_jti(jti, exp).await?;
    Ok(true)
}
