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
    narrow(req, |s| allowed(client, s), "this client")
}

/// The scopes of a space-separated request, each checked by `allowed` (RFC 6749 §3.3
/// characters, no duplicates); `whose` names the holder in the error (`this client`).
pub fn narrow(
    req: &str,
    allowed: impl Fn(&str) -> bool,
    whose: &str,
) -> Result<Vec<String>, Failure> {
    let mut out: Vec<String> = Vec::new();
    for s in req.split(' ').filter(|s| !s.is_empty()) {
        if !s
            .chars()
            .all(|c| c == '!' || ('#'..='[').contains(&c) || (']'..='~').contains(&c))
        {
            return Err(Failure::new(
                reasons::INVALID_SCOPE,
                "scope contains characters RFC 6749 §3.3 does not allow",
            )
            .with_field("/scope", "invalid characters"));
        }
        if !allowed(s) {
            return Err(Failure::new(
                reasons::INVALID_SCOPE,
                format!("scope {s} is not allowed for {whose}"),
            )
            .with_field("/scope", format!("{s} is not allowed for {whose}")));
        }
        if !out.iter().any(|o| o == s) {
            out.push(s.to_string());
        }
    }
    Ok(out)
}

/// The `aud` of a token: requested audiences must be allowed (profile's fixed audience, or
/// the caller's own audiences — a client's or a service's); without a request, the profile's
/// audience, else the caller's audiences, else the issuer.
pub fn audience(
    own: &[String],
    profile_audience: Option<&str>,
    issuer: &str,
    requested: &[&str],
) -> Result<Vec<String>, Failure> {
    let allowed: Vec<&str> = match profile_audience {
        Some(a) => vec![a],
        None if own.is_empty() => vec![issuer],
        None => own.iter().map(String::as_str).collect(),
    };
    if requested.is_empty() {
        return Ok(allowed.iter().map(|s| s.to_string()).collect());
    }
    let mut out: Vec<String> = Vec::new();
    for r in requested {
        if !allowed.contains(r) {
            return Err(Failure::new(
                reasons::INVALID_TARGET,
                format!("audience {r} is not allowed for this client"),
            ));
        }
        if !out.iter().any(|o| o == r) {
            out.push(r.to_string());
        }
    }
    Ok(out)
}

/// A token lifetime: the caller's own (a client's or a service's), narrowed to its profile's
/// and to `tokens.max_ttl`, never below one second.
pub fn ttl(own: Option<i64>, profile_ttl: i64, max_ttl: i64) -> i64 {
    own.map_or(profile_ttl, |c| c.min(profile_ttl))
        .min(max_ttl)
        .max(1)
}
