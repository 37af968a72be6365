//! The three compatible token APIs (SPEC §3), each keeping its callers' wire contract on
//! top of the standard core (`oauth`) and service authentication (`s2s`):
//! - `internal`: `POST /v1/auth/token` — service tokens and partner tokens (problem dialect);
//! - `partner`: `POST /v1/oauth/token` — partner tokens (problem dialect);
//! - `identity`: `POST /api/id/v1/auth/token` — client tokens with `scp` (id-api dialect).
//!
//! No HTTP types here: the handlers in `http::compat` extract what these functions need.

pub mod identity;
pub mod internal;
pub mod partner;
pub mod tenant_api;

use crate::failure::Failure;
use crate::oauth::grant::client_credentials::{self, Options, RoutePath};
use crate::params::Params;
use crate::reasons;
use crate::service::Tessera;
use crate::tenants::Client;
use crate::tokens::{IssuedToken, TokenUse};
use serde::Serialize;

/// `{"access_token","token_type":"Bearer","expires_in"}`: the success body of the internal
/// and partner APIs (SPEC §3.1, §3.2), fields in that order.
#[derive(Debug, Clone, Serialize)]
pub struct TokenAnswer {
    /// The signed access token.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until expiry (`exp - iat`).
    pub expires_in: i64,
}

impl From<IssuedToken> for TokenAnswer {
    fn from(t: IssuedToken) -> TokenAnswer {
        TokenAnswer {
            access_token: t.token,
            token_type: "Bearer",
            expires_in: t.expires_in,
        }
    }
}

/// The profile a client must have to get a partner token.
pub const PARTNER_PROFILE: &str = "partner";

/// A partner token (SPEC §3.1, §3.2) for an authenticated client: only clients whose profile
/// is `partner` get one (others: 400 "client not allowed this grant"); `token_use` `partner`.
pub async fn partner_token(
    t: &Tessera,
    client: &Client,
    params: &Params,
    remote: &str,
    route: RoutePath,
) -> Result<IssuedToken, Failure> {
    if client.profile != PARTNER_PROFILE {
        return Err(Failure::new(
            reasons::CLIENT_NOT_ALLOWED_GRANT,
            "client not allowed this grant: partner tokens are for clients of the partner profile",
        ));
    }
    let opts = Options {
        token_use: Some(TokenUse::Partner),
        with_scp: false,
        cnf: None,
        proof: None,
    };
    client_credentials::issue(t, client, params, remote, route, opts).await
}
