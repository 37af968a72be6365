//! Admin: tenant users, roles and upstream OpenID providers.

use super::tenants::conflict;
use super::{json, Answer, Fields, Id, TenantCall};
use crate::clock::rfc3339;
use crate::crypto::random_token;
use crate::failure::Failure;
use crate::reasons;
use crate::service::Tessera;
use crate::tenants::users::{normalize_email, valid_email};
use crate::tenants::{valid_id, Role, Status, Upstream, User, ADMIN_ROLE};
use axum::http::StatusCode;
use serde_json::{json, Value};

/// Wire form of a user: never the password or its hash.
pub fn user_json(u: &User) -> Value {
    json!({
        "id": u.id, "tenant_id": u.tenant_id, "email": u.email, "name": u.name,
        "roles": u.roles, "scopes": u.scopes, "resources": u.resources, "groups": u.groups,
        "status": u.status.as_str(), "has_password": u.password_hash.is_some(),
        "created_at": rfc3339(u.created_at), "updated_at": rfc3339(u.updated_at),
    })
}

fn role_json(r: &Role) -> Value {
    json!({"name": r.name, "tenant_id": r.tenant_id, "scopes": r.scopes, "created_at": rfc3339(r.created_at)})
}

fn upstream_json(u: &Upstream) -> Value {
    json!({"id": u.id, "tenant_id": u.tenant_id, "issuer": u.issuer, "client_id": u.client_id,
           "name": u.name, "created_at": rfc3339(u.created_at)})
}

/// The tenant's roles, with the implicit `admin` role first when it is not stored.
pub async fn tenant_roles(t: &Tessera, tenant: &str) -> Result<Vec<Role>, Failure> {
    let mut roles = t.store.list_roles(tenant).await?;
    if !roles.iter().any(|r| r.name == ADMIN_ROLE) {
        roles.insert(
            0,
            Role {
                tenant_id: tenant.into(),
                name: ADMIN_ROLE.into(),
                scopes: vec![],
                created_at: 0,
            },
        );
    }
    Ok(roles)
}

/// Applies user fields from a body; checks roles exist.
async fn apply_user(
    t: &Tessera,
    f: &mut Fields,
    u: &mut User,
    creating: bool,
) -> Result<(), Failure> {
    if let Some(email) = f.string("email", creating) {
        if valid_email(&email) {
            u.email = normalize_email(&email);
        } else {
            f.error("email", "email must be an e-mail address");
        }
    }
    if let Some(name) = f.string("name", false) {
        u.name = Some(name);
    }
    let password = f.string("password", false);
    if password.as_ref().is_some_and(|p| p.len() < 8) {
        f.error("password", "password must be at least 8 characters");
    }
    if let Some(roles) = f.strings("roles", false) {
        let known = tenant_roles(t, &u.tenant_id).await?;
        if let Some(bad) = roles.iter().find(|r| !known.iter().any(|k| &k.name == *r)) {
            f.error("roles", format!("unknown role {bad}"));
        }
        u.roles = roles;
    }
    for (field, target) in [
        ("scopes", &mut u.scopes),
        ("resources", &mut u.resources),
        ("groups", &mut u.groups),
    ] {
        if let Some(list) = f.strings(field, false) {
            *target = list;
        }
    }
    match f.string("status", false).as_deref() {
        None => {}
        Some("active") => u.status = Status::Active,
        Some("disabled") => u.status = Status::Disabled,
        Some(_) => f.error("status", "status must be active or disabled"),
    }
    // Hashed last, and only for a body that is otherwise good: a refused request costs no
    // argon2 computation.
    if let Some(p) = password.filter(|_| !f.has_errors()) {
        u.password_hash = Some(t.hashes.hash(p.as_bytes()).await?);
    }
    Ok(())
}

/// `POST /admin/v1/tenants/{t}/users`.
pub async fn create_user(call: TenantCall, mut f: Fields) -> Result<Answer, Failure> {
    let t = &call.t;
    let id = match f.string("id", false) {
        Some(id) if valid_id(&id) => id,
        Some(_) => {
            f.error("id", "id must be 1-128 characters of A-Z a-z 0-9 . _ - : @");
            String::new()
        }
        None => random_token(12).map_err(|e| Failure::internal(&e))?,
    };
    let now = t.clock.now();
    let mut u = User {
        tenant_id: call.tenant.clone(),
        id,
        email: String::new(),
        name: None,
        password_hash: None,
        roles: vec![],
        scopes: vec![],
        resources: vec![],
        groups: vec![],
        status: Status::Active,
        created_at: now,
        updated_at: now,
    };
    apply_user(t, &mut f, &mut u, true).await?;
    f.finish()?;
    call.recording("admin.user.created", &u.id)
        .create_user(&u)
        .await
        .map_err(|e| conflict(e, "user (id or email)"))?;
    Ok(json(StatusCode::CREATED, user_json(&u)))
}

/// `GET /admin/v1/tenants/{t}/users`.
pub async fn list_users(call: TenantCall) -> Result<Answer, Failure> {
    let t = &call.t;
    let items: Vec<Value> = t
        .store
        .list_users(&call.tenant)
        .await?
        .iter()
        .map(user_json)
        .collect();
    Ok(json(StatusCode::OK, json!({ "items": items })))
}

async fn existing_user(t: &Tessera, tenant: &str, id: &str) -> Result<User, Failure> {
    t.store
        .get_user(tenant, id)
        .await?
        .ok_or_else(|| Failure::not_found(reasons::USER_NOT_FOUND, format!("user {id} not found")))
}

/// `GET /admin/v1/tenants/{t}/users/{id}`.
pub async fn get_user(call: TenantCall, Id(id): Id) -> Result<Answer, Failure> {
    let t = &call.t;
    Ok(json(
        StatusCode::OK,
        user_json(&existing_user(t, &call.tenant, &id).await?),
    ))
}

/// `PATCH /admin/v1/tenants/{t}/users/{id}`.
pub async fn patch_user(call: TenantCall, Id(id): Id, mut f: Fields) -> Result<Answer, Failure> {
    let t = &call.t;
    let mut u = existing_user(t, &call.tenant, &id).await?;
    let before = (u.status, u.password_hash.clone());
    apply_user(t, &mut f, &mut u, false).await?;
    f.finish()?;
    u.updated_at = t.clock.now();
    // SPEC §7.1: disabling a user or setting its password ends its sign-ins: token
    // families (refresh and access tokens) revoked, login sessions gone. Ended before the
    // change is committed (a SIGKILL in between cannot leave a changed user's sign-ins alive)
    // and again after it (none begun in between survives).
    let disabled = before.0 == Status::Active && u.status != Status::Active;
    let ends_logins = disabled || before.1 != u.password_hash;
    if ends_logins {
        t.store
            .end_user_logins(&call.tenant, &u.id, u.updated_at)
            .await?;
    }
    call.recording("admin.user.updated", &u.id)
        .update_user(&u)
        .await
        .map_err(|e| conflict(e, "user (email)"))?;
    if ends_logins {
        t.store
            .end_user_logins(&call.tenant, &u.id, u.updated_at)
            .await?;
    }
    Ok(json(StatusCode::OK, user_json(&u)))
}

/// `POST /admin/v1/tenants/{t}/roles` with `{"name","scopes":[…]}`.
pub async fn create_role(call: TenantCall, mut f: Fields) -> Result<Answer, Failure> {
    let t = &call.t;
    let name = f.string("name", true);
    let scopes = f.strings("scopes", false).unwrap_or_default();
    if name.as_deref().is_some_and(|n| !valid_id(n)) {
        f.error(
            "name",
            "name must be 1-128 characters of A-Z a-z 0-9 . _ - : @",
        );
    }
    if scopes.iter().any(|s| s.is_empty() || s.contains(' ')) {
        f.error("scopes", "scopes must be non-empty and contain no spaces");
    }
    f.finish()?;
    let Some(name) = name else {
        return Err(Failure::missing("name"));
    };
    // Role `admin` exists in every tenant without being stored (SPEC §3.3): a duplicate.
    if name == ADMIN_ROLE {
        return Err(conflict(crate::store::StoreError::Conflict, "role"));
    }
    let role = Role {
        tenant_id: call.tenant.clone(),
        name,
        scopes,
        created_at: t.clock.now(),
    };
    call.recording("admin.role.created", &role.name)
        .create_role(&role)
        .await
        .map_err(|e| conflict(e, "role"))?;
    Ok(json(StatusCode::CREATED, role_json(&role)))
}

/// `GET /admin/v1/tenants/{t}/roles` (role `admin` is always listed).
pub async fn list_roles(call: TenantCall) -> Result<Answer, Failure> {
    let t = &call.t;
    let items: Vec<Value> = tenant_roles(t, &call.tenant)
        .await?
        .iter()
        .map(role_json)
        .collect();
    Ok(json(StatusCode::OK, json!({ "items": items })))
}

/// `POST /admin/v1/tenants/{t}/upstreams` with `{"issuer","client_id","name"?,"id"?}`.
pub async fn create_upstream(call: TenantCall, mut f: Fields) -> Result<Answer, Failure> {
    let t = &call.t;
    let issuer = f.string("issuer", true);
    let client_id = f.string("client_id", true);
    let name = f.string("name", false);
    let id = f.string("id", false);
    match issuer.as_deref() {
        Some(i) if !(i.starts_with("https://") || i.starts_with("http://")) || i.ends_with('/') => {
            f.error(
                "issuer",
                "issuer must be an http(s) URL without a trailing slash",
            );
        }
        // SPEC §7.1: an issuer Tessera may not fetch from (not https to a public
        // address, and not in upstream.allowed_networks) is refused before anything is
        // stored.
        Some(i) => {
            if let Err(refused) = t.upstreams.check_issuer(i).await {
                f.error("issuer", format!("issuer refused: {refused}"));
            }
        }
        None => {}
    }
    if id.as_deref().is_some_and(|i| !valid_id(i)) {
        f.error("id", "id must be 1-128 characters of A-Z a-z 0-9 . _ - : @");
    }
    f.finish()?;
    let (Some(issuer), Some(client_id)) = (issuer, client_id) else {
        return Err(Failure::missing("issuer"));
    };
    let id = match id {
        Some(id) => id,
        None => random_token(9).map_err(|e| Failure::internal(&e))?,
    };
    let u = Upstream {
        tenant_id: call.tenant.clone(),
        id,
        issuer,
        client_id,
        name,
        created_at: t.clock.now(),
    };
    call.recording("admin.upstream.created", &u.id)
        .create_upstream(&u)
        .await
        .map_err(|e| conflict(e, "upstream (id or issuer+client_id)"))?;
    Ok(json(StatusCode::CREATED, upstream_json(&u)))
}

/// `GET /admin/v1/tenants/{t}/upstreams`.
pub async fn list_upstreams(call: TenantCall) -> Result<Answer, Failure> {
    let t = &call.t;
    let items: Vec<Value> = t
        .store
        .list_upstreams(&call.tenant)
        .await?
        .iter()
        .map(upstream_json)
        .collect();
    Ok(json(StatusCode::OK, json!({ "items": items })))
}

/// `DELETE /admin/v1/tenants/{t}/upstreams/{id}`.
pub async fn delete_upstream(call: TenantCall, Id(id): Id) -> Result<StatusCode, Failure> {
    call.recording("admin.upstream.deleted", &id)
        .delete_upstream(&call.tenant, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
