//! Identity API `POST /api/id/v1/auth/token` (SPEC §3.4, id-api dialect): client credentials
//! by HTTP Basic only, form bodies only; the granted scope is echoed in the answer and carried
//! in the token's `scp` as well as `scope`. `authorization_code` redeems a code from the
//! interactive login (`GET /oauth/authorize`) and answers `id_token` / `refresh_token` where
//! `openid` / `offline_access` were granted.

use crate::failure::Failure;
use crate::oauth::client_auth::{authenticate, basic_credentials, presented};
use crate::oauth::grant::authorization_code;
use crate::oauth::grant::client_credentials::{self, Options};
use crate::params::Params;
use crate::reasons;
use crate::service::Tessera;
use serde::Serialize;

/// The route, for metrics and audit.
pub const ROUTE: &str = "/api/id/v1/auth/token";

/// `{"scope","token_type":"Bearer","access_token","expires_in"}` (SPEC §3.4), in that order.
#[derive(Debug, Clone, Serialize)]
pub struct IdTokenAnswer {
    /// The granted scopes, space-separated (empty when none).
    pub scope: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// The signed access token.
    pub access_token: String,
    /// Seconds until expiry (`exp - iat`).
    pub expires_in: i64,
    /// OIDC ID token, when `openid` was granted to a user (authorization_code).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// Refresh token, when `offline_access` was granted (authorization_code).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

/// 401 `invalid_client` with a Basic challenge: this API knows no other method.
fn basic_required(detail: &str) -> Failure {
    let mut f = Failure::new(reasons::MISSING_CLIENT_AUTH, detail);
    f.basic_challenge = true;
    f
}

/// Answers one request.
pub async fn token(
    t: &Tessera,
    authorization: Option<&str>,
    remote: &str,
    params: &Params,
) -> Result<IdTokenAnswer, Failure> {
    if params.get("client_secret").is_some() || params.get("client_assertion").is_some() {
        return Err(basic_required(
            "this API takes client credentials by HTTP Basic only, never in the body",
        ));
    }
    let grant = params
        .get("grant_type")
        .ok_or_else(|| Failure::missing("grant_type"))?;
    if !matches!(grant, "client_credentials" | "authorization_code") {
        return Err(Failure::unsupported_grant(grant));
    }
    if basic_credentials(authorization).is_none() {
        return Err(basic_required(
            "client authentication by HTTP Basic is required",
        ));
    }
    let presented = presented(authorization, params)?;
    let client = authenticate(t, &presented, remote, false).await?;
    if grant == "authorization_code" {
        let opts = authorization_code::Options {
            with_scp: true,
            route: ROUTE,
            cnf: None,
            peer_x5t: None,
            proof: None,
        };
        let issued = authorization_code::exchange(t, &client, params, remote, opts).await?;
        return Ok(IdTokenAnswer {
            scope: issued.access.scope,
            token_type: "Bearer",
            access_token: issued.access.token,
            expires_in: issued.access.expires_in,
            id_token: issued.id_token,
            refresh_token: issued.refresh_token,
        });
    }
    let opts = Options {
        token_use: None,
        with_scp: true,
        cnf: None,
        proof: None,
    };
    let issued = client_credentials::issue(t, &client, params, remote, ROUTE, opts).await?;
    Ok(IdTokenAnswer {
        scope: issued.scope,
        token_type: "Bearer",
        access_token: issued.token,
        expires_in: issued.expires_in,
        id_token: None,
        refresh_token: None,
    })
}
