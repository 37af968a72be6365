//! Scope and audience rules (RFC 6749 §3.3, RFC 8707) shared by every client grant.

use crate::failure::Failure;
use crate::reasons;
use crate::tenants::Client;

/// The scope that lets a token call the admin API.
pub const ADMIN_SCOPE: &str = "tessera:admin";

/// Whether `client` may hold `scope`.
pub fn allowed(client: &Client, scope: &str) -> bool {
    if scope == ADMIN_SCOPE {
        return client.admin_tokens;
    }
    client.scopes.iter().any(|s| s == scope)
}

/// Scopes to grant: the requested ones (all must be allowed) or the client's defaults.
pub fn grant(client: &Client, requested: Option<&str>) -> Result<Vec<String>, Failure> {
    let Some(req) = requested else {
        return Ok(client
            .default_scopes
            .iter()
            .filter(|s| allowed(client, s))
            .cloned()
            .collect());
    };
    pick(
        req,
        |s| allowed(client, s),
        "is not allowed for this client",
    )
}

/// The distinct scopes of a space-separated request, each of valid characters (RFC 6749
/// §3.3) and accepted by `ok`; otherwise `invalid_scope` saying the scope `why`.
pub fn pick(req: &str, ok: impl Fn(&str) -> bool, why: &str) -> Result<Vec<String>, Failure> {
    let mut out: Vec<String> = Vec::new();
    for s in req.split(' ').filter(|s| !s.is_empty()) {
        if !s
            .chars()
            .all(|c| c == '!' || ('#'..='[').contains(&c) || (']'..='~').contains(&c))
        {
            return Err(Failure::new(
                reasons::INVALID_SCOPE,
                "invalid_scope",
                "scope contains characters RFC 6749 §3.3 does not allow",
            )
            .with_field("/scope", "invalid characters"));
        }
        if !ok(s) {
            return Err(Failure::new(
                reasons::INVALID_SCOPE,
                "invalid_scope",
                format!("scope {s} {why}"),
            )
            .with_field("/scope", format!("{s} {why}")));
        }
        if !out.iter().any(|o| o == s) {
            out.push(s.to_string());
        }
    }
    Ok(out)
}

/// The `aud` of a token: requested audiences must be allowed (profile's fixed audience, or
/// the client's audiences); without a request, the profile's audience, else the client's
/// audiences, else the issuer.
pub fn audience(
    client: &Client,
    profile_audience: Option<&str>,
    issuer: &str,
    requested: &[&str],
) -> Result<Vec<String>, Failure> {
    let allowed: Vec<&str> = match profile_audience {
        Some(a) => vec![a],
        None if client.audiences.is_empty() => vec![issuer],
        None => client.audiences.iter().map(String::as_str).collect(),
    };
    if requested.is_empty() {
        return Ok(allowed.iter().map(|s| s.to_string()).collect());
    }
    let mut out: Vec<String> = Vec::new();
    for r in requested {
        if !allowed.contains(r) {
            return Err(Failure::new(
                reasons::INVALID_TARGET,
                "invalid_target",
                format!("audience {r} is not allowed for this client"),
            ));
        }
        if !out.iter().any(|o| o == r) {
            out.push(r.to_string());
        }
    }
    Ok(out)
}
