//! The admin REST API `/admin/v1` (SPEC §5, Appendix A), problem dialect, bearer-protected:
//! the bootstrap token, or an access token of this issuer with scope `tessera:admin`, whose
//! reach is its client's tenant (every tenant for a client of tenant `default`).

mod call;
pub mod clients;
mod fields;
pub mod keys_audit;
pub mod services;
pub mod tenants;
pub mod users;

use super::body::{media_type, read_limited};
use super::Shared;
use crate::crypto::ct_eq;
use crate::failure::Failure;
use crate::oauth::introspect::bearer_claims;
use crate::oauth::scope::ADMIN_SCOPE;
use crate::params::parse_json_entries;
use crate::reasons;
use crate::service::{event, Tessera};
use crate::store::StoreError;
use crate::tenants::{ADMIN_ROLE, DEFAULT_TENANT};
use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, MethodRouter};
use axum::Router;
pub use call::{AdminCall, GlobalCall, Id, TenantCall};
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
pub struct AdminCaller {
    /// For audit: `bootstrap` or the client id.
    pub actor: String,
    /// What it may touch.
    pub reach: Reach,
    /// Remote address.
    pub remote: String,
}

impl AdminCaller {
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
    Failure::new(reasons::FORBIDDEN, "outside the caller's reach")
}

fn unauthorized(detail: &str) -> Failure {
    let mut f = Failure::new(reasons::BAD_ADMIN_CREDENTIALS, detail);
    f.bearer_challenge = true;
    f
}

/// Authenticates the bearer token of an admin request.
pub async fn authenticate(
    t: &Tessera,
    headers: &HeaderMap,
    remote: &str,
) -> Result<AdminCaller, Failure> {
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
            return Ok(AdminCaller {
                actor: "bootstrap".into(),
                reach: Reach::All,
                remote: remote.to_string(),
            });
        }
    }
    let claims = bearer_claims(t, token).await?;
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
    Ok(AdminCaller {
        actor,
        reach,
        remote: remote.to_string(),
    })
}

/// The audit actor of a user: `{tenant}/{e-mail}`. A `/` is in no tenant or client id, so
/// the actor can be taken neither for a client nor for a same-named user of another tenant.
pub fn user_actor(user: &crate::tenants::User) -> String {
    format!("{}/{}", user.tenant_id, user.email)
}

/// The audit actor of `user_id` (see [`user_actor`]) if it is an active user holding the
/// tenant's `admin` role: 401 for a user that is gone or disabled, 403 `USER_NOT_ADMIN`
/// otherwise.
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
            "the token's user no longer holds the tenant's admin role",
        ));
    }
    Ok(user_actor(&user))
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
                "body must be application/json",
            ))
        }
    }
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| Failure::malformed("the body is not valid UTF-8"))?;
    Ok(Fields::new(parse_json_entries(text)?))
}

/// What an admin operation answers: a status and a JSON body. The API sends it as JSON; the
/// console (SPEC §8) calls the same operation and shows the body.
#[derive(Debug)]
pub struct Answer {
    /// The HTTP status.
    pub status: StatusCode,
    /// The body.
    pub body: Value,
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        (
            self.status,
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            self.body.to_string(),
        )
            .into_response()
    }
}

/// An [`Answer`].
pub fn json(status: StatusCode, body: Value) -> Answer {
    Answer { status, body }
}

/// SPEC §7.3: while the database is known to be down, admin calls answer 503 `50300902` at
/// once, and one in flight when it goes down is answered then instead of waiting on a
/// connection a hung server may never release.
async fn database_guard(
    axum::extract::State(t): axum::extract::State<Shared>,
    req: Request,
    next: Next,
) -> Response {
    let down = || Failure::database_unavailable(&StoreError::down()).into_response();
    if t.db.is_down() {
        return down();
    }
    tokio::select! {
        r = next.run(req) => r,
        () = t.db.went_down() => down(),
    }
}

/// The admin routes, each path written once; while the database is known to be down they
/// answer 503 at once (see [`database_guard`]).
pub fn routes(state: Shared) -> Router<Shared> {
    let table: Vec<(&'static str, MethodRouter<Shared>)> = vec![
        (
            "/admin/v1/tenants",
            post(tenants::create).get(tenants::list),
        ),
        (
            "/admin/v1/tenants/{tenant}",
            get(tenants::get).patch(tenants::patch),
        ),
        (
            "/admin/v1/tenants/{tenant}/projects",
            post(tenants::create_project).get(tenants::list_projects),
        ),
        (
            "/admin/v1/tenants/{tenant}/projects/{project}",
            get(tenants::get_project),
        ),
        (
            "/admin/v1/tenants/{tenant}/clients",
            post(clients::create).get(clients::list),
        ),
        (
            "/admin/v1/tenants/{tenant}/clients/{client}",
            get(clients::get)
                .patch(clients::patch)
                .delete(clients::delete),
        ),
        (
            "/admin/v1/tenants/{tenant}/clients/{client}/secret/rotate",
            post(clients::rotate_secret),
        ),
        (
            "/admin/v1/tenants/{tenant}/users",
            post(users::create_user).get(users::list_users),
        ),
        (
            "/admin/v1/tenants/{tenant}/users/{user}",
            get(users::get_user).patch(users::patch_user),
        ),
        (
            "/admin/v1/tenants/{tenant}/roles",
            post(users::create_role).get(users::list_roles),
        ),
        (
            "/admin/v1/tenants/{tenant}/upstreams",
            post(users::create_upstream).get(users::list_upstreams),
        ),
        (
            "/admin/v1/tenants/{tenant}/upstreams/{upstream}",
            delete(users::delete_upstream),
        ),
        (
            "/admin/v1/services",
            post(services::create).get(services::list),
        ),
        (
            "/admin/v1/services/{service}",
            get(services::get).delete(services::delete),
        ),
        (
            "/admin/v1/services/{service}/secret/rotate",
            post(services::rotate_secret),
        ),
        ("/admin/v1/keys", get(keys_audit::list_keys)),
        ("/admin/v1/keys/rotate", post(keys_audit::rotate_keys)),
        ("/admin/v1/audit", get(keys_audit::audit)),
    ];
    // The failure layer wraps the guard, so both hand it a `Failure`. It sits on these
    // routes only: handlers elsewhere still render their own, and the token hot path pays
    // nothing for it.
    super::routes_of(table)
        .route_layer(axum::middleware::from_fn_with_state(state, database_guard))
        .route_layer(axum::middleware::from_fn(super::errors::render_failures))
}
