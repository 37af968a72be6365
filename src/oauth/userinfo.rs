//! OIDC Core §5.3 UserInfo: the claims of the user behind a bearer access token of the
//! login flow, by granted scope (`profile` → `name`, `email` → `email`, `email_verified`).

use crate::failure::Failure;
use crate::oauth::introspect::active_claims;
use crate::reasons;
use crate::service::Tessera;
use crate::tenants::Status;
use serde_json::{json, Map, Value};

fn invalid_token(detail: &str) -> Failure {
    let mut f = Failure::new(reasons::INVALID_TOKEN, detail);
    f.bearer_challenge = true;
    f
}

/// How an access token was presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `Authorization: Bearer` (RFC 6750 §2.1).
    Bearer,
    /// `Authorization: DPoP` with a `DPoP` proof (RFC 9449 §7.1).
    Dpop,
}

/// The scheme and access token of an `Authorization` header value.
pub fn access_token(authorization: Option<&str>) -> Option<(Scheme, &str)> {
    let (scheme, token) = authorization?.split_once(' ')?;
    let token = token.trim();
    let scheme = if scheme.eq_ignore_ascii_case("bearer") {
        Scheme::Bearer
    } else if scheme.eq_ignore_ascii_case("dpop") {
        Scheme::Dpop
    } else {
        return None;
    };
    (!token.is_empty()).then_some((scheme, token))
}

/// 401 `invalid_token` with a `DPoP` challenge (RFC 9449 §7.1).
fn dpop_refusal(detail: &str) -> Failure {
    let mut f = Failure::new(reasons::INVALID_TOKEN, detail);
    f.dpop_challenge = true;
    f
}

/// A refused DPoP proof as a resource answers it (RFC 9449 §7.1): 401 with a `DPoP`
/// challenge, `invalid_token` (SPEC §9), or `use_dpop_nonce` with the next nonce.
pub fn proof_refusal(f: Failure) -> Failure {
    if f.reason == reasons::USE_DPOP_NONCE {
        let mut f = f.with_status(401);
        f.dpop_challenge = true;
        f
    } else if f.reason == reasons::INVALID_DPOP_PROOF {
        dpop_refusal(&f.detail)
    } else {
        f
    }
}

/// The claims of the access token presented to UserInfo, when it is active: 401 else, with
/// the challenge of the scheme it came with.
pub async fn presented_claims(
    t: &Tessera,
    token: Option<(Scheme, &str)>,
) -> Result<(Scheme, Map<String, Value>), Failure> {
    let (scheme, token) =
        token.ok_or_else(|| invalid_token("a bearer access token is required"))?;
    let claims = active_claims(t, token).await?.ok_or_else(|| {
        let f = invalid_token("the access token is invalid, expired or revoked");
        if scheme == Scheme::Dpop {
            dpop_refusal(&f.detail)
        } else {
            f
        }
    })?;
    Ok((scheme, claims))
}

/// The `cnf.jkt` of a DPoP-bound token's claims.
pub fn bound_jkt(claims: &Map<String, Value>) -> Option<&str> {
    claims
        .get("cnf")
        .and_then(|c| c.get("jkt"))
        .and_then(Value::as_str)
}

/// The UserInfo response for an active token's `claims` (see [`presented_claims`]), presented
/// with `scheme`; `proof_jkt` is the key of the request's verified DPoP proof, `cert` the
/// connection's client certificate (a certificate-bound token needs its certificate, RFC 8705
/// §3).
pub async fn userinfo(
    t: &Tessera,
    scheme: Scheme,
    claims: &Map<String, Value>,
    proof_jkt: Option<&str>,
    cert: Option<&crate::tls::ClientCertificate>,
) -> Result<Value, Failure> {
    match (bound_jkt(claims), scheme) {
        (Some(jkt), Scheme::Dpop) if proof_jkt == Some(jkt) => {}
        (Some(_), Scheme::Dpop) => {
            return Err(dpop_refusal(
                "the DPoP proof is not signed by the access token's key",
            ))
        }
        // RFC 9449 §7.2: a DPoP-bound token is worth nothing as a bearer token.
        (Some(_), Scheme::Bearer) => {
            return Err(dpop_refusal(
                "the access token is DPoP-bound: present it with the DPoP scheme and a proof",
            ))
        }
        (None, Scheme::Dpop) => {
            return Err(dpop_refusal("the access token is not DPoP-bound"));
        }
        (None, Scheme::Bearer) => {}
    }
    crate::oauth::mtls::check_binding(claims, cert)?;
    let text = |k: &str| claims.get(k).and_then(Value::as_str);
    let scopes: Vec<&str> = text("scope").unwrap_or("").split(' ').collect();
    if text("token_use") != Some("user") || !scopes.contains(&"openid") {
        let mut f = Failure::new(
            reasons::INSUFFICIENT_SCOPE,
            "the access token was not issued to a user with scope openid",
        );
        f.bearer_challenge = true;
        return Err(f);
    }
    let (Some(sub), Some(tenant)) = (text("sub"), text("tenant_id")) else {
        return Err(invalid_token("the access token names no user"));
    };
    if !t.tenant_active(tenant).await? {
        return Err(invalid_token("the access token's tenant is disabled"));
    }
    let user = t
        .store
        .get_user(tenant, sub)
        .await?
        .filter(|u| u.status == Status::Active)
        .ok_or_else(|| invalid_token("the user is unknown or disabled"))?;
    let mut out = json!({ "sub": user.id });
    if scopes.contains(&"profile") {
        if let Some(n) = &user.name {
            crate::json::set(&mut out, "name", Value::String(n.clone()));
        }
    }
    if scopes.contains(&"email") {
        crate::json::set(&mut out, "email", Value::String(user.email.clone()));
        crate::json::set(&mut out, "email_verified", Value::Bool(false));
    }
    Ok(out)
}
