//! Grants of the token endpoint, one file each; [`GrantType`] names them and [`Issued`] is
//! what each returns.

pub mod authorization_code;
pub mod client_credentials;
pub mod device_code;
pub mod refresh_token;
pub mod token_exchange;

use crate::config::Profile;
use crate::failure::Failure;
use crate::oauth::scope;
use crate::params::Params;
use crate::service::{event, Tessera};
use crate::tenants::Client;
use crate::tokens::{Audience, Confirmation, IssuedToken};
use serde_json::{json, Value};

/// A grant of the token endpoint: the one list of `grant_type` values. `/oauth/token`
/// dispatches on it, discovery lists it (RFC 8414 §2 `grant_types_supported`) and the admin
/// API registers clients only for its members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantType {
    /// RFC 6749 §4.4: the client gets a token for itself.
    ClientCredentials,
    /// RFC 6749 §4.1.3: a code from the authorization endpoint, with PKCE (RFC 7636).
    AuthorizationCode,
    /// RFC 6749 §6: a refresh token for new tokens.
    RefreshToken,
    /// RFC 8693: an upstream ID token for a user access token.
    TokenExchange,
    /// RFC 8628 §3.4: a device code, once a user approved it at `/device`.
    DeviceCode,
}

impl GrantType {
    /// Every grant, in the order discovery lists them.
    pub const ALL: [GrantType; 5] = [
        GrantType::ClientCredentials,
        GrantType::AuthorizationCode,
        GrantType::RefreshToken,
        GrantType::TokenExchange,
        GrantType::DeviceCode,
    ];

    /// The `grant_type` value naming this grant (RFC 6749 §4, RFC 8693 §2.1, RFC 8628 §3.4).
    pub const fn as_str(self) -> &'static str {
        match self {
            GrantType::ClientCredentials => "client_credentials",
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::RefreshToken => "refresh_token",
            GrantType::TokenExchange => "urn:ietf:params:oauth:grant-type:token-exchange",
            GrantType::DeviceCode => "urn:ietf:params:oauth:grant-type:device_code",
        }
    }

    /// The grant a `grant_type` value names; `None` for one this server does not implement.
    pub fn parse(name: &str) -> Option<GrantType> {
        GrantType::ALL.into_iter().find(|g| g.as_str() == name)
    }

    /// Whether a public client (RFC 6749 §2.1: `client_id` alone) passes client
    /// authentication for this grant. Public clients redeem codes (PKCE binds those to them,
    /// RFC 7636) and the refresh tokens those bring; a client credentials token would rest on
    /// no proof at all. Token exchange lets them through to refuse them itself, with
    /// `unauthorized_client` rather than `invalid_client` (SPEC §7.1). Devices are the public
    /// clients RFC 8628 was written for: the user's approval, not a secret, is the proof.
    pub const fn allows_public_clients(self) -> bool {
        match self {
            GrantType::ClientCredentials => false,
            GrantType::AuthorizationCode
            | GrantType::RefreshToken
            | GrantType::TokenExchange
            | GrantType::DeviceCode => true,
        }
    }
}

/// What a grant issued: the tokens of the RFC 6749 §5.1 success body.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The access token.
    pub access: IssuedToken,
    /// The ID token, when `openid` was granted (user grants).
    pub id_token: Option<String>,
    /// The refresh token, when `offline_access` was granted (user grants).
    pub refresh_token: Option<String>,
    /// RFC 8693 §2.2.1 `issued_token_type` (token exchange).
    pub issued_token_type: Option<&'static str>,
}

impl From<IssuedToken> for Issued {
    fn from(access: IssuedToken) -> Issued {
        Issued {
            access,
            id_token: None,
            refresh_token: None,
            issued_token_type: None,
        }
    }
}

impl Issued {
    /// The RFC 6749 §5.1 success body, with `id_token`, `refresh_token` and
    /// `issued_token_type` where issued.
    pub fn response(&self) -> Value {
        let mut body = token_response(&self.access);
        if let Some(r) = &self.refresh_token {
            crate::json::set(&mut body, "refresh_token", Value::String(r.clone()));
        }
        if let Some(i) = &self.id_token {
            crate::json::set(&mut body, "id_token", Value::String(i.clone()));
        }
        if let Some(t) = self.issued_token_type {
            crate::json::set(&mut body, "issued_token_type", t);
        }
        body
    }
}

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
        "token_type": t.token_type,
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
pub fn require_grant(client: &Client, grant: GrantType) -> Result<(), Failure> {
    if allows_grant(client, grant) {
        Ok(())
    } else {
        Err(Failure::new(
            crate::reasons::CLIENT_NOT_ALLOWED_GRANT,
            "client not allowed this grant",
        ))
    }
}

/// The keyed hash (what the store looks it up by) of the one-time credential a grant redeems,
/// sent as `param` (`code`, `refresh_token`, `device_code`), once `client` is known to be
/// registered for `grant`.
pub fn presented_credential(
    t: &Tessera,
    client: &Client,
    grant: GrantType,
    params: &Params,
    param: &str,
) -> Result<Vec<u8>, Failure> {
    require_grant(client, grant)?;
    let value = params.get(param).ok_or_else(|| Failure::missing(param))?;
    Ok(t.master.hash_secret(value.as_bytes()))
}

/// Whether `client` may use `grant`. A client registered for `authorization_code` (or the
/// device grant) may also redeem refresh tokens: SPEC §3.4 issues one whenever
/// `offline_access` is granted, so the scope, not a second grant type, decides (as in
/// Keycloak).
pub fn allows_grant(client: &Client, grant: GrantType) -> bool {
    client.grant_types.iter().any(|g| {
        g == grant.as_str()
            || (grant == GrantType::RefreshToken
                && (g == GrantType::AuthorizationCode.as_str()
                    || g == GrantType::DeviceCode.as_str()))
    })
}

/// Records a token request's DPoP proof (RFC 9449 §11.1: a proof is accepted once), taking
/// it out of `proof`. Every grant (and a push to `/oauth/par`) calls this once its own
/// checks have passed, right before its point of no return (spending a refresh token or device code, creating a token
/// family, signing a token), so that a refused request writes nothing (SPEC §7.2) while
/// two requests racing with one proof still find exactly one winner.
pub async fn record_proof(
    t: &Tessera,
    proof: &mut Option<crate::oauth::dpop::Checked>,
) -> Result<(), Failure> {
    match proof.take() {
        Some(p) => p.record(t).await.map(drop),
        None => Ok(()),
    }
}

/// SPEC §9: a client whose access tokens must be sender-constrained gets none that is not.
/// The token endpoint binds them; the compatible routes (SPEC §3), which issue bearer tokens
/// only, are refused such clients rather than handing them tokens worth more than intended.
pub fn require_binding(client: &Client, cnf: Option<&Confirmation>) -> Result<(), Failure> {
    let s = &client.security;
    if s.dpop_bound_access_tokens && cnf.and_then(|c| c.jkt.as_ref()).is_none() {
        return Err(crate::oauth::dpop::invalid(
            "this client's access tokens are DPoP-bound: ask /oauth/token with a DPoP proof",
        ));
    }
    if s.tls_client_certificate_bound_access_tokens
        && cnf.and_then(|c| c.x5t_s256.as_ref()).is_none()
    {
        return Err(Failure::new(
            crate::reasons::CLIENT_CERTIFICATE_REQUIRED,
            "this client's access tokens are certificate-bound: ask /oauth/token over mutual TLS",
        ));
    }
    Ok(())
}

/// `invalid_grant` (RFC 6749 §5.2) with a safe description.
pub fn invalid_grant(detail: &str) -> Failure {
    Failure::new(crate::reasons::INVALID_GRANT, detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_grant_parses_from_its_name_and_nothing_else_parses() {
        for g in GrantType::ALL {
            assert_eq!(GrantType::parse(g.as_str()), Some(g));
        }
        for other in [
            "",
            "password",
            "implicit",
            "CLIENT_CREDENTIALS",
            "token_exchange",
        ] {
            assert_eq!(GrantType::parse(other), None, "{other}");
        }
    }

    #[test]
    fn only_client_credentials_needs_a_confidential_client() {
        let confidential: Vec<GrantType> = GrantType::ALL
            .into_iter()
            .filter(|g| !g.allows_public_clients())
            .collect();
        assert_eq!(confidential, [GrantType::ClientCredentials]);
    }
}
