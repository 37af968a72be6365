//! The tenant token API (SPEC §3.3): `generateToken` and `oidcToken` for admins and users.
//! The checks run in the SPEC's order, each with its own answer, and every refusal is
//! audited. HTTP (body reading, the problem dialect) is in `http::tenant_api`.

use crate::failure::Failure;
use crate::oauth::client_auth::{
    basic_credentials, counts_as_failure, decode_basic, verify_client_secret,
};
use crate::oauth::introspect::bearer_claims;
use crate::oauth::user_token::{self, Kind, Origin};
use crate::reasons;
use crate::secret::Secret;
use crate::service::Tessera;
use crate::tenants::{AuthMethod, Client, Status, DEFAULT_TENANT};
use crate::tokens::IssuedToken;
use serde_json::Value;
use std::sync::Arc;

/// The scope a bearer token needs to call `generateToken` for its tenant without a secret.
pub const GENERATE_SCOPE: &str = "tessera:generate";

/// The body of `generateToken`.
#[derive(Debug, Clone)]
pub struct GenerateRequest {
    /// Tenant of the client and the user.
    pub tenant_id: String,
    /// Project of the client.
    pub project_id: String,
    /// The client the token is issued to.
    pub client_id: String,
    /// The user's e-mail.
    pub email_id: String,
    /// The client's secret; absent: HTTP Basic or a `tessera:generate` bearer token instead.
    pub secret_id: Option<Secret>,
}

/// Where a request came from: the route for metrics and audit, the caller's address.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    /// Admin or user token.
    pub kind: Kind,
    /// The route path.
    pub route: &'static str,
    /// Caller address.
    pub remote: &'a str,
    /// The `Authorization` header, if any.
    pub authorization: Option<&'a str>,
}

fn missing_auth() -> Failure {
    Failure::new(reasons::MISSING_CLIENT_AUTH, "secret_id, HTTP Basic client credentials or a bearer token with scope tessera:generate is required")
}

fn bad_bearer(detail: &str) -> Failure {
    let mut f = Failure::new(reasons::BAD_BEARER_TOKEN, detail);
    f.bearer_challenge = true;
    f
}

/// The bearer token of an `Authorization` header, if it uses that scheme.
pub fn bearer_token(authorization: Option<&str>) -> Option<&str> {
    let (scheme, rest) = authorization?.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(rest.trim())
        .filter(|t| !t.is_empty())
}

/// The tenant a token's claims belong to (no `tenant_id`: `default`).
fn claims_tenant(claims: &serde_json::Map<String, Value>) -> &str {
    claims
        .get("tenant_id")
        .and_then(Value::as_str)
        .unwrap_or(DEFAULT_TENANT)
}

/// The active client a valid access token of this issuer was issued to, with the token's
/// claims; `None` for anything else.
async fn bearer_client(
    t: &Tessera,
    token: &str,
) -> Result<Option<(Arc<Client>, serde_json::Map<String, Value>)>, Failure> {
    let Some(claims) = bearer_claims(t, token).await? else {
        return Ok(None);
    };
    let Some(client_id) = claims.get("client_id").and_then(Value::as_str) else {
        return Ok(None);
    };
    let client = t.client(client_id).await?;
    Ok(client
        .filter(|c| c.status == Status::Active && c.tenant_id == claims_tenant(&claims))
        .map(|c| (c, claims)))
}

/// SPEC §7.1: a public client proves nothing about itself, so a token it holds (say, a user's
/// from the login flow) never authorizes minting tokens (as token exchange refuses it).
fn confidential(client: &Client) -> Result<(), Failure> {
    if client.auth_method != AuthMethod::None {
        return Ok(());
    }
    Err(Failure::new(
        reasons::CLIENT_NOT_ALLOWED_GRANT,
        "a public client cannot exchange or mint tokens",
    ))
}

/// Step "caller authorized" of generateToken (401 unless): `secret_id` is the client's secret
/// (hashed or in Vault; Vault unreachable is 503), or, without it, HTTP Basic credentials of
/// that client or a bearer token of this issuer with scope `tessera:generate` for the tenant.
/// The attempt counts against the failure limits before anything is verified.
async fn authorize_caller(
    t: &Tessera,
    client: &Client,
    secret_id: Option<&Secret>,
    call: Call<'_>,
) -> Result<(), Failure> {
    let attempt = t.attempt(call.remote, Some(&client.client_id)).await?;
    match check_caller(t, client, secret_id, call).await? {
        Ok(()) => {
            attempt.succeeded();
            Ok(())
        }
        Err(refusal) => {
            attempt.failed();
            metrics::counter!("tessera_auth_failures_total").increment(1);
            Err(refusal)
        }
    }
}

/// The credential check of [`authorize_caller`]: `Ok(Err(refusal))` for a wrong credential or
/// a Vault that could not be read (a failed authentication); `Err` for what is no guess
/// (nothing presented, a malformed header, a database fault).
async fn check_caller(
    t: &Tessera,
    client: &Client,
    secret_id: Option<&Secret>,
    call: Call<'_>,
) -> Result<Result<(), Failure>, Failure> {
    let usable = client.status == Status::Active;
    let basic = basic_credentials(call.authorization);
    match (secret_id, basic, bearer_token(call.authorization)) {
        (Some(secret), _, _) => {
            let refusal = Failure::bad_client();
            if !usable {
                return Ok(Err(refusal));
            }
            secret_verdict(t, client, secret.expose(), refusal).await
        }
        (None, Some(b), _) => {
            let mut refusal = Failure::bad_client();
            refusal.basic_challenge = true;
            let (id, secret) = decode_basic(b).map_err(|e| {
                if e.status == 400 {
                    e // an over-long client id: invalid_request
                } else {
                    refusal.clone()
                }
            })?;
            if !usable || id != client.client_id {
                return Ok(Err(refusal));
            }
            secret_verdict(t, client, &secret, refusal).await
        }
        (None, None, Some(token)) => match bearer_client(t, token).await? {
            Some((bearer, claims)) => {
                confidential(&bearer)?;
                let scoped = claims
                    .get("scope")
                    .and_then(Value::as_str)
                    .is_some_and(|s| s.split(' ').any(|x| x == GENERATE_SCOPE));
                if scoped && claims_tenant(&claims) == client.tenant_id {
                    return Ok(Ok(()));
                }
                Ok(Err(bad_bearer(
                    "the bearer token lacks scope tessera:generate for this tenant",
                )))
            }
            None => Ok(Err(bad_bearer("invalid or expired bearer token"))),
        },
        (None, None, None) => Err(missing_auth()),
    }
}

/// A secret check as [`check_caller`] reports it: a Vault that could not be read is a
/// failed authentication too (answered 503 with no detail).
async fn secret_verdict(
    t: &Tessera,
    client: &Client,
    secret: &str,
    refusal: Failure,
) -> Result<Result<(), Failure>, Failure> {
    match verify_client_secret(t, client, secret).await {
        Ok(true) => Ok(Ok(())),
        Ok(false) => Ok(Err(refusal)),
        Err(f) if counts_as_failure(&f) => Ok(Err(f)),
        Err(f) => Err(f),
    }
}

/// Audits a refusal with what is known of the tenant and client, then passes `result` on.
async fn audited(
    t: &Tessera,
    result: Result<IssuedToken, Failure>,
    known: &(Option<String>, Option<String>),
    subject: Option<&str>,
    remote: &str,
) -> Result<IssuedToken, Failure> {
    if let Err(f) = &result {
        user_token::audit_refused(
            t,
            f,
            known.0.as_deref(),
            known.1.as_deref(),
            subject,
            remote,
        )
        .await;
    }
    result
}

/// `generateToken`: the checks of SPEC §3.3 in order, then the token.
pub async fn generate_token(
    t: &Tessera,
    req: &GenerateRequest,
    call: Call<'_>,
) -> Result<IssuedToken, Failure> {
    let result = generate_inner(t, req, call).await;
    let known = (Some(req.tenant_id.clone()), Some(req.client_id.clone()));
    audited(t, result, &known, Some(&req.email_id), call.remote).await
}

async fn generate_inner(
    t: &Tessera,
    req: &GenerateRequest,
    call: Call<'_>,
) -> Result<IssuedToken, Failure> {
    user_token::active_tenant(t, &req.tenant_id).await?;
    t.store
        .get_project(&req.tenant_id, &req.project_id)
        .await?
        .ok_or_else(|| Failure::not_found(reasons::PROJECT_NOT_FOUND, "project not found"))?;
    let client = t
        .client(&req.client_id)
        .await?
        .filter(|c| {
            c.tenant_id == req.tenant_id && c.project_id.as_deref() == Some(&req.project_id)
        })
        .ok_or_else(|| {
            Failure::not_found(
                reasons::CLIENT_NOT_FOUND,
                "client not found in this project",
            )
        })?;
    authorize_caller(t, &client, req.secret_id.as_ref(), call).await?;
    if call.kind == Kind::Admin {
        user_token::check_admin_client(&client)?;
    }
    let user = user_token::tenant_user(t, &req.tenant_id, &req.email_id, call.kind).await?;
    user_token::issue(
        t,
        &client,
        &user,
        call.kind,
        None,
        &[],
        Origin {
            grant: "generate_token",
            route: call.route,
            remote: call.remote,
            cnf: None,
        },
    )
    .await
}

/// `oidcToken`: the calling client by its bearer access token, then the upstream ID token,
/// then as generateToken.
pub async fn oidc_token(
    t: &Tessera,
    oidc_token: &str,
    call: Call<'_>,
) -> Result<IssuedToken, Failure> {
    let mut known: (Option<String>, Option<String>) = (None, None);
    let result = oidc_inner(t, oidc_token, call, &mut known).await;
    audited(t, result, &known, None, call.remote).await
}

async fn oidc_inner(
    t: &Tessera,
    oidc_token: &str,
    call: Call<'_>,
    known: &mut (Option<String>, Option<String>),
) -> Result<IssuedToken, Failure> {
    let token = bearer_token(call.authorization).ok_or_else(|| {
        bad_bearer("a bearer access token issued by Tessera to the calling client is required")
    })?;
    let Some((client, _)) = bearer_client(t, token).await? else {
        return Err(bad_bearer("invalid or expired bearer token"));
    };
    *known = (
        Some(client.tenant_id.clone()),
        Some(client.client_id.clone()),
    );
    confidential(&client)?;
    user_token::active_tenant(t, &client.tenant_id).await?;
    if call.kind == Kind::Admin {
        user_token::check_admin_client(&client)?;
    }
    let verified = t
        .upstreams
        .verify_id_token(&client.tenant_id, oidc_token)
        .await?;
    let user = user_token::tenant_user(t, &client.tenant_id, &verified.email, call.kind).await?;
    user_token::issue(
        t,
        &client,
        &user,
        call.kind,
        None,
        &[],
        Origin {
            grant: "oidc_token",
            route: call.route,
            remote: call.remote,
            cnf: None,
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_read_case_insensitively_and_never_empty() {
        assert_eq!(bearer_token(Some("Bearer abc")), Some("abc"));
        assert_eq!(bearer_token(Some("bearer  abc ")), Some("abc"));
        assert_eq!(bearer_token(Some("Bearer ")), None);
        assert_eq!(bearer_token(Some("Basic abc")), None);
        assert_eq!(bearer_token(None), None);
    }
}
