//! OIDC Core §5.3 UserInfo: the claims of the user behind a bearer access token of the
//! login flow, by granted scope (`profile` → `name`, `email` → `email`, `email_verified`).

use crate::failure::Failure;
use crate::oauth::introspect::active_claims;
use crate::reasons;
use crate::service::Tessera;
use crate::tenants::Status;
use serde_json::{json, Value};

fn invalid_token(detail: &str) -> Failure {
    let mut f = Failure::new(reasons::INVALID_TOKEN, detail);
    f.bearer_challenge = true;
    f
}

/// The bearer token of an `Authorization` header value (RFC 6750 §2.1).
pub fn bearer(authorization: Option<&str>) -> Option<&str> {
    let (scheme, token) = authorization?.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The UserInfo response for `token`, asked over a connection presenting `cert` (a
/// certificate-bound token needs its certificate, RFC 8705 §3).
pub async fn userinfo(
    t: &Tessera,
    token: Option<&str>,
    cert: Option<&crate::tls::ClientCertificate>,
) -> Result<Value, Failure> {
    let token = token.ok_or_else(|| invalid_token("a bearer access token is required"))?;
    let claims = active_claims(t, token)
        .await?
        .ok_or_else(|| invalid_token("the access token is invalid, expired or revoked"))?;
    crate::oauth::mtls::check_binding(&claims, cert)?;
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
