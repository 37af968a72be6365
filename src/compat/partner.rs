//! Partner token API `POST /v1/oauth/token` (SPEC §3.2, problem dialect): `grant_type`
//! required and only `client_credentials`; credentials by HTTP Basic or in the body (form or
//! JSON); the same partner token as the internal API.

use super::{partner_token, TokenAnswer};
use crate::failure::Failure;
use crate::oauth::client_auth::{authenticate, presented};
use crate::params::Params;
use crate::service::Tessera;

/// The route, for metrics and audit.
pub const ROUTE: &str = "/v1/oauth/token";

/// Answers one request.
pub async fn token(
    t: &Tessera,
    authorization: Option<&str>,
    remote: &str,
    params: &Params,
) -> Result<TokenAnswer, Failure> {
    let grant = params
        .get("grant_type")
        .ok_or_else(|| Failure::missing("grant_type"))?;
    if grant != "client_credentials" {
        return Err(Failure::unsupported_grant(grant));
    }
    let presented = presented(authorization, params)?;
    let client = authenticate(t, &presented, remote, false).await?;
    let issued = partner_token(t, &client, params, remote, ROUTE).await?;
    Ok(issued.into())
}
