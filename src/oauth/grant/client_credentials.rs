//! RFC 6749 §4.4 client credentials: the authenticated client gets a token for itself.

use super::GrantType;
use crate::failure::Failure;
use crate::keys::signer::Alg;
use crate::oauth::scope;
use crate::params::Params;
use crate::service::Tessera;
use crate::tenants::Client;
use crate::tokens::{Confirmation, IssuedToken, TokenRequest, TokenUse};

/// Options a compatible route can impose on the grant.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Force this `token_use` (compat partner routes).
    pub token_use: Option<TokenUse>,
    /// Also emit `scp` (identity API).
    pub with_scp: bool,
    /// What the token is bound to (SPEC §9; `/oauth/token` only).
    pub cnf: Option<Confirmation>,
    /// The DPoP proof naming `cnf.jkt`, recorded just before the token is signed.
    pub proof: Option<crate::oauth::dpop::Checked>,
}

/// The route the token was asked on, for metrics and audit.
pub type RoutePath = &'static str;

/// Issues a client-credentials token to `client` per the request parameters.
pub async fn issue(
    t: &Tessera,
    client: &Client,
    params: &Params,
    remote: &str,
    route: RoutePath,
    mut opts: Options,
) -> Result<IssuedToken, Failure> {
    super::require_grant(client, GrantType::ClientCredentials)?;
    super::require_binding(client, opts.cnf.as_ref())?;
    let scopes = scope::grant(client, params.get("scope"))?;
    let requested: Vec<&str> = [params.get("audience"), params.get("resource")]
        .into_iter()
        .flatten()
        .collect();
    let (aud, ttl) = super::audience_and_ttl(t, client, &requested)?;
    // Only registered services get `token_use: service` (SPEC §7.1); a client left with the
    // service profile by an older version gets a plain client token.
    let token_use = opts.token_use.unwrap_or(match client.profile.as_str() {
        "partner" => TokenUse::Partner,
        _ => TokenUse::Client,
    });
    let req = TokenRequest {
        sub: client.client_id.clone(),
        aud,
        ttl,
        client_id: client.client_id.clone(),
        scopes,
        token_use,
        tenant_id: Some(client.tenant_id.clone()),
        project_id: client.project_id.clone(),
        with_scp: opts.with_scp,
        alg: client.signing_alg.as_deref().and_then(Alg::parse),
        cnf: opts.cnf,
    };
    super::record_proof(t, &mut opts.proof).await?;
    let issued = t.issuer.issue(&req).map_err(|e| Failure::internal(&e))?;
    metrics::counter!("tessera_tokens_issued_total", "grant" => GrantType::ClientCredentials.as_str(), "route" => route)
        .increment(1);
    super::audit_issued(t, client, &client.client_id, &issued, remote).await?;
    Ok(issued)
}
