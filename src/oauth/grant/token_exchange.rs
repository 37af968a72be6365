//! RFC 8693 token exchange: an authenticated client trades an ID token of an upstream OpenID
//! provider its tenant trusts (`subject_token_type` `…:id_token`) for an access token about the
//! tenant user with that e-mail (SPEC §2.1, §3.3), `token_use` `user`.

use super::{require_grant, GrantType, Issued};
use crate::failure::Failure;
use crate::oauth::user_token::{self, Kind, Origin};
use crate::params::Params;
use crate::service::Tessera;
use crate::tenants::{AuthMethod, Client};
use crate::tokens::Confirmation;

/// The only subject token type accepted: an OpenID Connect ID token (RFC 8693 §3).
pub const ID_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:id_token";
/// The type of the token issued (RFC 8693 §3).
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// RFC 8693 §2.2.2: a bad subject token (or one refused by policy) is `invalid_request`.
fn refused(mut f: Failure) -> Failure {
    if f.status < 500 {
        f.status = 400;
        f.oauth_error = "invalid_request";
    }
    f
}

/// Exchanges the request's `subject_token` for a user access token issued to `client`, bound
/// to `cnf`; `proof` (the DPoP proof naming `cnf.jkt`) is recorded once the subject token
/// passed.
pub async fn issue(
    t: &Tessera,
    client: &Client,
    params: &Params,
    remote: &str,
    route: &'static str,
    cnf: Option<&Confirmation>,
    mut proof: Option<crate::oauth::dpop::Checked>,
) -> Result<Issued, Failure> {
    // SPEC §7.1: a public client proves nothing about itself, so it cannot exchange tokens.
    if client.auth_method == AuthMethod::None {
        return Err(Failure::new(
            crate::reasons::CLIENT_NOT_ALLOWED_GRANT,
            "token exchange is for confidential clients",
        ));
    }
    require_grant(client, GrantType::TokenExchange)?;
    let subject_token = params
        .get("subject_token")
        .ok_or_else(|| Failure::missing("subject_token"))?;
    match params.get("subject_token_type") {
        None => return Err(Failure::missing("subject_token_type")),
        Some(ID_TOKEN_TYPE) => {}
        Some(_) => {
            return Err(Failure::invalid(
                "subject_token_type",
                format!("subject_token_type must be {ID_TOKEN_TYPE}"),
            ))
        }
    }
    if params
        .get("requested_token_type")
        .is_some_and(|r| r != ACCESS_TOKEN_TYPE)
    {
        return Err(Failure::invalid(
            "requested_token_type",
            format!("only {ACCESS_TOKEN_TYPE} can be issued"),
        ));
    }
    if params.get("actor_token").is_some() || params.get("actor_token_type").is_some() {
        return Err(Failure::invalid(
            "actor_token",
            "delegation (actor_token) is not supported",
        ));
    }
    let result = async {
        user_token::active_tenant(t, &client.tenant_id).await?;
        let verified = t
            .upstreams
            .verify_id_token(&client.tenant_id, subject_token)
            .await?;
        let user =
            user_token::tenant_user(t, &client.tenant_id, &verified.email, Kind::User).await?;
        Ok::<_, Failure>(user)
    }
    .await;
    let user = match result {
        Ok(u) => u,
        Err(f) => {
            let f = refused(f);
            user_token::audit_refused(
                t,
                &f,
                Some(&client.tenant_id),
                Some(&client.client_id),
                None,
                remote,
            )
            .await;
            return Err(f);
        }
    };
    let requested: Vec<&str> = [params.get("audience"), params.get("resource")]
        .into_iter()
        .flatten()
        .collect();
    super::record_proof(t, &mut proof).await?;
    let access = user_token::issue(
        t,
        client,
        &user,
        Kind::User,
        params.get("scope"),
        &requested,
        Origin {
            grant: "token_exchange",
            route,
            remote,
            cnf,
        },
    )
    .await?;
    Ok(Issued {
        issued_token_type: Some(ACCESS_TOKEN_TYPE),
        ..Issued::from(access)
    })
}
