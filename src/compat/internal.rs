//! Internal token API `POST /v1/auth/token` (SPEC §3.1, problem dialect). Dispatches on the
//! body: no `grant_type` is a service token for the calling service (SPEC §4 authenticates
//! it); `client_credentials` with `client_id` and `client_secret` is a partner token.

use super::{partner_token, TokenAnswer};
use crate::failure::Failure;
use crate::oauth::client_auth::{authenticate, presented};
use crate::oauth::scope;
use crate::params::Params;
use crate::s2s::{self, Service};
use crate::service::{event, Tessera};
use crate::tokens::{Audience, IssuedToken, TokenRequest, TokenUse};

/// The route, for metrics and audit.
pub const ROUTE: &str = "/v1/auth/token";

/// The profile of service tokens.
pub const SERVICE_PROFILE: &str = "service";

/// Answers one request.
pub async fn token(
    t: &Tessera,
    caller: s2s::Presented<'_>,
    params: &Params,
) -> Result<TokenAnswer, Failure> {
    match params.get("grant_type") {
        None => {
            let caller_auth = s2s::authenticate(t, caller).await?;
            // SPEC §9: a service that proved itself by a known client certificate gets tokens
            // bound to it.
            let cnf = crate::tokens::Confirmation {
                jkt: None,
                x5t_s256: caller_auth.x5t_s256,
            }
            .some();
            Ok(
                service_token(t, &caller_auth.service, cnf, caller.remote, ROUTE)
                    .await?
                    .into(),
            )
        }
        Some("client_credentials") => {
            Failure::require(&["client_id", "client_secret"], |f| params.get(f).is_some())?;
            let presented = presented(caller.authorization, params)?;
            let client = authenticate(t, &presented, caller.remote, false).await?;
            Ok(partner_token(t, &client, params, caller.remote, ROUTE)
                .await?
                .into())
        }
        Some(other) => Err(Failure::unsupported_grant(other)),
    }
}

/// A service token (SPEC §3.1): `sub` and `client_id` = the service's name, `token_use`
/// `service`, audience and lifetime from the `service` profile as the service narrows them;
/// `cnf` binds it to a client certificate (RFC 8705 §3).
pub async fn service_token(
    t: &Tessera,
    service: &Service,
    cnf: Option<crate::tokens::Confirmation>,
    remote: &str,
    route: &'static str,
) -> Result<IssuedToken, Failure> {
    let profile = t.required_profile(SERVICE_PROFILE, "service tokens")?;
    let aud = scope::audience(
        &service.audiences,
        profile.audience.as_deref(),
        &t.settings.issuer,
        &[],
    )?;
    let req = TokenRequest {
        sub: service.name.clone(),
        aud: Audience::from_list(aud),
        ttl: scope::ttl(service.ttl, profile.ttl, t.settings.tokens.max_ttl),
        client_id: service.name.clone(),
        scopes: Vec::new(),
        token_use: TokenUse::Service,
        // Services are global; a token without a tenant belongs to `default` (SPEC §2.4).
        tenant_id: None,
        project_id: None,
        with_scp: false,
        alg: None,
        cnf,
    };
    let issued = t.issuer.issue(&req).map_err(|e| Failure::internal(&e))?;
    metrics::counter!("tessera_tokens_issued_total", "grant" => "service", "route" => route)
        .increment(1);
    let mut ev = event(t.clock.now(), "token.issued", "success");
    ev.actor = Some(service.name.clone());
    ev.subject = Some(service.name.clone());
    ev.jti = Some(issued.jti.clone());
    ev.remote = Some(remote.to_string());
    t.audit_token(ev).await?;
    Ok(issued)
}
