//! Access tokens about a tenant user (SPEC §3.3): the tenant, user and admin-role checks and
//! the issuing shared by the tenant token API (`generateToken`, `oidcToken`) and RFC 8693
//! token exchange. `sub` is the user's id; the token carries the user's roles, scopes (direct
//! ∪ role scopes), resources, groups and e-mail.

use crate::failure::Failure;
use crate::keys::signer::Alg;
use crate::reasons;
use crate::service::{event, Tessera};
use crate::tenants::users::effective_scopes;
use crate::tenants::{Client, Status, Tenant, User, ADMIN_ROLE};
use crate::tokens::{IssuedToken, TokenRequest, TokenUse, UserClaims};

/// Which kind of user token is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A tenant administrator's token (`token_use` `admin`).
    Admin,
    /// A tenant user's token (`token_use` `user`).
    User,
}

impl Kind {
    /// The `token_use` claim.
    pub fn token_use(self) -> TokenUse {
        match self {
            Kind::Admin => TokenUse::Admin,
            Kind::User => TokenUse::User,
        }
    }
}

/// The tenant, if it exists (404 `TENANT_NOT_FOUND`) and is active (403 `TENANT_DISABLED`).
pub async fn active_tenant(t: &Tessera, tenant_id: &str) -> Result<Tenant, Failure> {
    let tenant = t
        .store
        .get_tenant(tenant_id)
        .await?
        .ok_or_else(|| Failure::not_found(reasons::TENANT_NOT_FOUND, "tenant not found"))?;
    if tenant.status != Status::Active {
        return Err(Failure::new(reasons::TENANT_DISABLED, "tenant is disabled"));
    }
    Ok(tenant)
}

/// 403 `CLIENT_NOT_ALLOWED_GRANT` unless `client` may obtain admin tokens.
pub fn check_admin_client(client: &Client) -> Result<(), Failure> {
    if client.admin_tokens {
        return Ok(());
    }
    Err(Failure::new(
        reasons::CLIENT_NOT_ALLOWED_GRANT,
        "client not allowed this grant (admin tokens need admin_tokens: true)",
    )
    .with_status(403))
}

/// The tenant user with `email`: 404 `USER_NOT_FOUND`, 403 `USER_DISABLED`, and for an admin
/// token 403 `USER_NOT_ADMIN` unless the user holds the tenant's admin role.
pub async fn tenant_user(
    t: &Tessera,
    tenant_id: &str,
    email: &str,
    kind: Kind,
) -> Result<User, Failure> {
    let user = t
        .store
        .find_user_by_email(tenant_id, email)
        .await?
        .ok_or_else(|| Failure::not_found(reasons::USER_NOT_FOUND, "user not found"))?;
    if user.status != Status::Active {
        return Err(Failure::new(reasons::USER_DISABLED, "user is disabled"));
    }
    if kind == Kind::Admin && !user.roles.iter().any(|r| r == ADMIN_ROLE) {
        return Err(Failure::new(
            reasons::USER_NOT_ADMIN,
            "user does not hold the tenant's admin role",
        ));
    }
    Ok(user)
}

/// How a user token is asked for, for metrics and audit.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    /// `grant` label (`generate_token`, `oidc_token`, `token_exchange`).
    pub grant: &'static str,
    /// `route` label.
    pub route: &'static str,
    /// Caller address.
    pub remote: &'a str,
    /// What the token is bound to (SPEC §9; the tenant API binds nothing).
    pub cnf: Option<&'a crate::tokens::Confirmation>,
}

/// Issues a user or admin token for `user` to `client`. `scope` (space-separated), when
/// given, narrows the user's scopes (each must be held: `invalid_scope`); `requested` are
/// RFC 8707 audiences checked as for client_credentials.
pub async fn issue(
    t: &Tessera,
    client: &Client,
    user: &User,
    kind: Kind,
    scope: Option<&str>,
    requested: &[&str],
    origin: Origin<'_>,
) -> Result<IssuedToken, Failure> {
    crate::oauth::grant::require_binding(client, origin.cnf)?;
    // The implicit admin role has no scopes, so the stored roles are all that matter here.
    let roles = t.store.list_roles(&user.tenant_id).await?;
    let held = effective_scopes(user, &roles);
    let scopes = match scope {
        None => held,
        Some(s) => {
            crate::oauth::scope::narrow(s, |want| held.iter().any(|h| h == want), "this user")?
        }
    };
    let (aud, ttl) = crate::oauth::grant::audience_and_ttl(t, client, requested)?;
    let req = TokenRequest {
        sub: user.id.clone(),
        aud,
        ttl,
        client_id: client.client_id.clone(),
        scopes,
        token_use: kind.token_use(),
        tenant_id: Some(client.tenant_id.clone()),
        project_id: client.project_id.clone(),
        with_scp: false,
        alg: client.signing_alg.as_deref().and_then(Alg::parse),
        cnf: origin.cnf.cloned(),
    };
    let claims = UserClaims {
        email: Some(user.email.clone()),
        roles: user.roles.clone(),
        groups: user.groups.clone(),
        resources: user.resources.clone(),
    };
    let issued = t
        .issuer
        .issue_with(&req, Some(&claims))
        .map_err(|e| Failure::internal(&e))?;
    metrics::counter!("tessera_tokens_issued_total", "grant" => origin.grant, "route" => origin.route)
        .increment(1);
    crate::oauth::grant::audit_issued(t, client, &user.id, &issued, origin.remote).await?;
    Ok(issued)
}

/// Records a refused user-token request: `token.refused` with outcome `failure:{karmoCode}`
/// (never a secret or a token).
pub async fn audit_refused(
    t: &Tessera,
    f: &Failure,
    tenant: Option<&str>,
    client: Option<&str>,
    subject: Option<&str>,
    remote: &str,
) {
    if f.unaudited {
        return;
    }
    let mut ev = event(
        t.clock.now(),
        "token.refused",
        &format!("failure:{}", f.reason.karmo_code(f.status)),
    );
    ev.actor = client.map(str::to_string);
    ev.tenant_id = tenant.map(str::to_string);
    ev.client_id = client.map(str::to_string);
    ev.subject = subject.map(str::to_string);
    ev.remote = Some(remote.to_string());
    t.audit_refusal(ev).await;
    metrics::counter!("tessera_tokens_refused_total", "reason" => f.reason.code.to_string())
        .increment(1);
}
