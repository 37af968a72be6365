//! The admin REST API `/admin/v1` (SPEC §5, Appendix A), problem dialect, bearer-protected:
//! the bootstrap token, or an access token of this issuer with scope `tessera:admin`, whose
//! reach is its client's tenant (every tenant for a client of tenant `default`).

mod clients;
mod fields;
mod keys_audit;
mod services;
mod tenants;
pub mod users;

use super::body::{media_type, parse_json_entries, read_limited};
use super::errors::{render, Dialect};
use super::Shared;
use crate::crypto::ct_eq;
use crate::failure::Failure;
use crate::oauth::introspect::active_claims;
use crate::oauth::scope::ADMIN_SCOPE;
use crate::reasons;
use crate::service::{event, Tessera};
use crate::tenants::{ADMIN_ROLE, DEFAULT_TENANT};
use axum::body::Body;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Router;
pub use fields::Fields;
use serde_json::Value;

/// What the caller may administer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// Every tenant, services and keys (bootstrap token, or a client of tenant `default`).
    All,
    /// One tenant.
    Tenant(String),
}

/// An authenticated admin caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// For audit: `bootstrap` or the client id.
    pub actor: String,
    /// What it may touch.
    pub reach: Reach,
    /// Remote address.
    pub remote: String,
}

impl Caller {
    /// 403 unless the caller reaches tenant `t`.
    pub fn check_tenant(&self, t: &str) -> Result<(), Failure> {
        match &self.reach {
            Reach::All => Ok(()),
            Reach::Tenant(own) if own == t => Ok(()),
            Reach::Tenant(_) => Err(forbidden()),
        }
    }

    /// 403 unless the caller reaches everything.
    pub fn check_all(&self) -> Result<(), Failure> {
        match self.reach {
            Reach::All => Ok(()),
            Reach::Tenant(_) => Err(forbidden()),
        }
    }
}

fn forbidden() -> Failure {
    Failure::new(
        reasons::FORBIDDEN,
        "access_denied",
        "outside the caller's reach",
    )
}

fn unauthorized(detail: &str) -> Failure {
    let mut f = Failure::new(reasons::BAD_ADMIN_CREDENTIALS, "invalid_token", detail);
    f.bearer_challenge = true;
    f
}

/// Authenticates the bearer token of an admin request.
pub async fn authenticate(
    t: &Tessera,
    headers: &HeaderMap,
    remote: &str,
) -> Result<Caller, Failure> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(unauthorized("a bearer token is required"));
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, tok)| tok.trim())
        .filter(|tok| !tok.is_empty())
        .ok_or_else(|| unauthorized("a bearer token is required"))?;
    // Counted before the token is checked: admin tokens are guessed like any credential.
    let attempt = t.attempt(remote, None).await?;
    if let Some(expected) = &t.admin_token_hash {
        if ct_eq(&t.master.hash_secret(token.as_bytes()), expected) {
            attempt.succeeded();
            return Ok(Caller {
                actor: "bootstrap".into(),
                reach: Reach::All,
                remote: remote.to_string(),
            });
        }
    }
    let claims = active_claims(t, token).await?;
    let caller = claims.and_then(|c| {
        let has_scope = c
            .get("scope")
            .and_then(Value::as_str)
            .is_some_and(|s| s.split(' ').any(|x| x == ADMIN_SCOPE));
        let client_id = c.get("client_id").and_then(Value::as_str)?.to_string();
        let tenant = c
            .get("tenant_id")
            .and_then(Value::as_str)
            .unwrap_or(DEFAULT_TENANT)
            .to_string();
        // A token about a user (login flow, tenant API) speaks for that user.
        let user = match c.get("token_use").and_then(Value::as_str) {
            Some("user" | "admin") => Some(c.get("sub").and_then(Value::as_str)?.to_string()),
            _ => None,
        };
        has_scope.then_some((client_id, tenant, user))
    });
    // The client must still exist in the token's tenant, be active and hold admin rights.
    let admin_client = match &caller {
        Some((client_id, tenant, _)) => t.client(client_id).await?.is_some_and(|c| {
            c.admin_tokens && c.status == crate::tenants::Status::Active && &c.tenant_id == tenant
        }),
        None => false,
    };
    let Some((client_id, tenant, user)) = caller.filter(|_| admin_client) else {
        attempt.failed();
        let mut ev = event(t.clock.now(), "admin.auth.failed", "failure");
        ev.remote = Some(remote.to_string());
        t.audit_refusal(ev).await;
        metrics::counter!("tessera_auth_failures_total").increment(1);
        return Err(unauthorized("invalid or expired admin token"));
    };
    // The token is genuine: what follows refuses a valid credential, it is no guess.
    attempt.succeeded();
    // SPEC §7.1: a disabled tenant's admin tokens are refused (its status is the one thing
    // only a global caller can change back).
    if !t.tenant_active(&tenant).await? {
        return Err(Failure::new(
            reasons::TENANT_DISABLED,
            "access_denied",
            "the caller's tenant is disabled",
        ));
    }
    // A user's token follows what the user holds now: refused as soon as the user is gone,
    // disabled or no longer holds the tenant's admin role.
    let actor = match user {
        None => client_id,
        Some(user_id) => admin_user(t, &tenant, &user_id).await?,
    };
    let reach = if tenant == DEFAULT_TENANT {
        Reach::All
    } else {
        Reach::Tenant(tenant)
    };
    Ok(Caller {
        actor,
        reach,
        remote: remote.to_string(),
    })
}

/// The e-mail of `user_id` (the audit actor) if it is an active user holding the tenant's
/// `admin` role: 401 for a user that is gone or disabled, 403 `USER_NOT_ADMIN` otherwise.
async fn admin_user(t: &Tessera, tenant: &str, user_id: &str) -> Result<String, Failure> {
    let user = t
        .store
        .get_user(tenant, user_id)
        .await?
        .filter(|u| u.status == crate::tenants::Status::Active)
        .ok_or_else(|| unauthorized("invalid or expired admin token"))?;
    if !user.roles.iter().any(|r| r == ADMIN_ROLE) {
        return Err(Failure::new(
            reasons::USER_NOT_ADMIN,
            "access_denied",
            "the token's user no longer holds the tenant's admin role",
        ));
    }
    Ok(user.email)
}

/// Authenticates an admin request for tenant `tenant`: the caller must reach it and it must
/// exist (401, 403, then 404).
pub async fn tenant_caller(
    t: &Tessera,
    headers: &HeaderMap,
    addr: crate::http::Remote,
    tenant: &str,
) -> Result<Caller, Failure> {
    let c = authenticate(t, headers, &crate::http::remote_ip(addr)).await?;
    c.check_tenant(tenant)?;
    tenants::existing_tenant(t, tenant).await?;
    Ok(c)
}

/// Authenticates an admin request that needs every tenant in reach (tenants, services, keys).
pub async fn global_caller(
    t: &Tessera,
    headers: &HeaderMap,
    addr: crate::http::Remote,
) -> Result<Caller, Failure> {
    let c = authenticate(t, headers, &crate::http::remote_ip(addr)).await?;
    c.check_all()?;
    Ok(c)
}

/// Reads a JSON object body (64 KiB, `application/json`, no duplicate keys).
pub async fn json_body(headers: &HeaderMap, body: Body) -> Result<Fields, Failure> {
    let bytes = read_limited(headers, body).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Fields::new(Vec::new()));
    }
    match media_type(headers).as_deref() {
        Some("application/json") | None => {}
        Some(_) => {
            return Err(Failure::new(
                reasons::UNSUPPORTED_MEDIA_TYPE,
                "invalid_request",
                "body must be application/json",
            ))
        }
    }
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| Failure::malformed("the body is not valid UTF-8"))?;
    Ok(Fields::new(parse_json_entries(text)?))
}

/// A JSON response.
pub fn json(status: StatusCode, v: Value) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        v.to_string(),
    )
        .into_response()
}

/// Renders an admin result in the problem dialect.
pub fn respond(result: Result<Response, Failure>, path: &str) -> Response {
    match result {
        Ok(r) => r,
        Err(f) => render(&f, Dialect::Problem, path),
    }
}

/// Records an admin change.
pub async fn audit_change(
    t: &Tessera,
    caller: &Caller,
    name: &str,
    tenant: Option<&str>,
    subject: &str,
) {
    let mut ev = event(t.clock.now(), name, "success");
    ev.actor = Some(caller.actor.clone());
    ev.tenant_id = tenant.map(str::to_string);
    ev.subject = Some(subject.to_string());
    ev.remote = Some(caller.remote.clone());
    if name.starts_with("admin.client.") {
        ev.client_id = Some(subject.to_string());
    }
    // SPEC §7.3: an acknowledged change keeps its event through SIGKILL, so it is written
    // before the answer instead of waiting in the queue (admin changes are rare). Should the
    // database refuse it now, the queue takes it and retries.
    if let Err(e) = t.store.insert_audit(std::slice::from_ref(&ev)).await {
        tracing::warn!(error = %e, event = name, "admin change event queued: the database refused it");
        t.audit(ev).await;
    }
}

/// Adds the admin routes.
pub fn routes(r: Router<Shared>) -> Router<Shared> {
    use super::with_405;
    r.route(
        "/admin/v1/tenants",
        with_405(
            post(tenants::create).get(tenants::list),
            "/admin/v1/tenants",
        ),
    )
    .route(
        "/admin/v1/tenants/{tenant}",
        with_405(
            get(tenants::get).patch(tenants::patch),
            "/admin/v1/tenants/{tenant}",
        ),
    )
    .route(
        "/admin/v1/tenants/{tenant}/projects",
        with_405(
            post(tenants::create_project).get(tenants::list_projects),
            "/admin/v1/tenants/{tenant}/projects",
        ),
    )
    .route(
        "/admin/v1/tenants/{tenant}/projects/{project}",
        with_405(
            get(tenants::get_project),
            "/admin/v1/tenants/{tenant}/projects/{project}",
        ),
    )
    .route(
        "/admin/v1/tenants/{tenant}/clients",
        with_405(
            post(clients::create).get(clients::list),
            "/admin/v1/tenants/{tenant}/clients",
        ),
    )
    .route(
        "/admin/v1/tenants/{tenant}/clients/{client}",
        with_405(
            get(clients::get)
                .patch(clients::patch)
                .delete(clients::delete),
            "/admin/v1/tenants/{tenant}/clients/{client}",
        ),
    )
    .route(
        "/admin/v1/tenants/{tenant}/clients/{client}/secret/rotate",
        with_405(
            post(clients::rotate_secret),
            "/admin/v1/tenants/{tenant}/clients/{client}/secret/rotate",
        ),
    )
    .route(
        "/admin/v1/tenants/{tenant}/users",
        with_405(
            post(users::create_user).get(users::list_users),
            "/admin/v1/tenants/{tenant}/users",
        ),
    )
    .route(
        "/admin/v1/tenants/{tenant}/users/{user}",
        with_405(
            get(users::get_user).patch(users::patch_user),
            "/admin/v1/tenants/{tenant}/users/{user}",
        ),
    )
    .route(
        "/admin/v1/tenants/{tenant}/roles",
        with_405(
            post(users::create_role).get(users::list_roles),
            "/admin/v1/tenants/{tenant}/roles",
        ),
    )
    .route(
        "/admin/v1/tenants/{tenant}/upstreams",
        with_405(
            post(users::create_upstream).get(users::list_upstreams),
            "/admin/v1/tenants/{tenant}/upstreams",
        ),
    )
    .route(
        "/admin/v1/tenants/{tenant}/upstreams/{upstream}",
        with_405(
            delete(users::delete_upstream),
            "/admin/v1/tenants/{tenant}/upstreams/{upstream}",
        ),
    )
    .route(
        "/admin/v1/services",
        with_405(
            post(services::create).get(services::list),
            "/admin/v1/services",
        ),
    )
    .route(
        "/admin/v1/services/{service}",
        with_405(
            get(services::get).delete(services::delete),
            "/admin/v1/services/{service}",
        ),
    )
    .route(
        "/admin/v1/services/{service}/secret/rotate",
        with_405(
            post(services::rotate_secret),
            "/admin/v1/services/{service}/secret/rotate",
        ),
    )
    .route(
        "/admin/v1/keys",
        with_405(get(keys_audit::list_keys), "/admin/v1/keys"),
    )
    .route(
        "/admin/v1/keys/rotate",
        with_405(post(keys_audit::rotate_keys), "/admin/v1/keys/rotate"),
    )
    .route(
        "/admin/v1/audit",
        with_405(get(keys_audit::audit), "/admin/v1/audit"),
    )
}
