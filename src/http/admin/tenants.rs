//! Admin: tenants and projects.

use super::{
    audit_change, authenticate, global_caller, json, json_body, respond, tenant_caller, Caller,
};
use crate::clock::rfc3339;
use crate::failure::Failure;
use crate::http::Remote;
use crate::http::{remote_ip, Shared};
use crate::reasons;
use crate::service::Tessera;
use crate::tenants::{valid_id, Project, Status, Tenant};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use serde_json::{json, Value};

/// Wire form of a tenant.
pub fn tenant_json(t: &Tenant) -> Value {
    json!({"id": t.id, "name": t.name, "status": t.status.as_str(), "created_at": rfc3339(t.created_at)})
}

fn project_json(p: &Project) -> Value {
    json!({"id": p.id, "tenant_id": p.tenant_id, "name": p.name, "created_at": rfc3339(p.created_at)})
}

/// The tenant named in a path, or 404.
pub async fn existing_tenant(t: &Tessera, id: &str) -> Result<Tenant, Failure> {
    t.store.get_tenant(id).await?.ok_or_else(|| {
        Failure::not_found(reasons::TENANT_NOT_FOUND, format!("tenant {id} not found"))
    })
}

async fn caller(t: &Tessera, headers: &HeaderMap, addr: Remote) -> Result<Caller, Failure> {
    authenticate(t, headers, &remote_ip(addr)).await
}

/// `POST /admin/v1/tenants`.
pub async fn create(
    State(t): State<Shared>,
    addr: Remote,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let r = async {
        let c = global_caller(&t, &headers, addr).await?;
        let mut f = json_body(&headers, body).await?;
        let id = f.string("id", true);
        let name = f.string("name", true);
        if id.as_deref().is_some_and(|i| !valid_id(i)) {
            f.error("id", "id must be 1-128 characters of A-Z a-z 0-9 . _ - : @");
        }
        f.finish()?;
        let (Some(id), Some(name)) = (id, name) else {
            return Err(Failure::missing("id"));
        };
        let tenant = Tenant {
            id,
            name,
            status: Status::Active,
            created_at: t.clock.now(),
        };
        t.store
            .create_tenant(&tenant)
            .await
            .map_err(|e| conflict(e, "tenant"))?;
        audit_change(&t, &c, "admin.tenant.created", Some(&tenant.id), &tenant.id).await;
        Ok(json(StatusCode::CREATED, tenant_json(&tenant)))
    }
    .await;
    respond(r, "/admin/v1/tenants")
}

/// Maps a storage conflict to a 409 naming the kind of thing.
pub fn conflict(e: crate::store::StoreError, what: &str) -> Failure {
    match e {
        crate::store::StoreError::Conflict => Failure::new(
            reasons::ALREADY_EXISTS,
            "invalid_request",
            format!("a {what} with this id already exists"),
        ),
        other => other.into(),
    }
}

/// `GET /admin/v1/tenants`.
pub async fn list(State(t): State<Shared>, addr: Remote, headers: HeaderMap) -> Response {
    let r = async {
        global_caller(&t, &headers, addr).await?;
        let items: Vec<Value> = t
            .store
            .list_tenants()
            .await?
            .iter()
            .map(tenant_json)
            .collect();
        Ok(json(StatusCode::OK, json!({ "items": items })))
    }
    .await;
    respond(r, "/admin/v1/tenants")
}

/// `GET /admin/v1/tenants/{t}`.
pub async fn get(
    State(t): State<Shared>,
    addr: Remote,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let path = uri.path().to_string();
    let r = async {
        let c = caller(&t, &headers, addr).await?;
        c.check_tenant(&id)?;
        Ok(json(
            StatusCode::OK,
            tenant_json(&existing_tenant(&t, &id).await?),
        ))
    }
    .await;
    respond(r, &path)
}

/// `PATCH /admin/v1/tenants/{t}` with `{"name"?,"status"?}`.
pub async fn patch(
    State(t): State<Shared>,
    addr: Remote,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let path = uri.path().to_string();
    let r = async {
        let c = caller(&t, &headers, addr).await?;
        c.check_tenant(&id)?;
        let mut tenant = existing_tenant(&t, &id).await?;
        let mut f = json_body(&headers, body).await?;
        if let Some(name) = f.string("name", false) {
            tenant.name = name;
        }
        let status = f.string("status", false);
        if status.is_some() {
            // SPEC §7.1: a tenant admin never changes its own tenant's status.
            c.check_all()?;
        }
        match status.as_deref() {
            None => {}
            Some("active") => tenant.status = Status::Active,
            Some("disabled") => tenant.status = Status::Disabled,
            Some(_) => f.error("status", "status must be active or disabled"),
        }
        f.finish()?;
        t.store.update_tenant(&tenant).await?;
        t.forget_tenant(&tenant.id).await;
        audit_change(&t, &c, "admin.tenant.updated", Some(&tenant.id), &tenant.id).await;
        Ok(json(StatusCode::OK, tenant_json(&tenant)))
    }
    .await;
    respond(r, &path)
}

/// `POST /admin/v1/tenants/{t}/projects`.
pub async fn create_project(
    State(t): State<Shared>,
    addr: Remote,
    Path(tenant_id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let path = uri.path().to_string();
    let r = async {
        let c = tenant_caller(&t, &headers, addr, &tenant_id).await?;
        let mut f = json_body(&headers, body).await?;
        let id = f.string("id", true);
        let name = f.string("name", true);
        if id.as_deref().is_some_and(|i| !valid_id(i)) {
            f.error("id", "id must be 1-128 characters of A-Z a-z 0-9 . _ - : @");
        }
        f.finish()?;
        let (Some(id), Some(name)) = (id, name) else {
            return Err(Failure::missing("id"));
        };
        let p = Project {
            tenant_id: tenant_id.clone(),
            id,
            name,
            created_at: t.clock.now(),
        };
        t.store
            .create_project(&p)
            .await
            .map_err(|e| conflict(e, "project"))?;
        audit_change(&t, &c, "admin.project.created", Some(&tenant_id), &p.id).await;
        Ok(json(StatusCode::CREATED, project_json(&p)))
    }
    .await;
    respond(r, &path)
}

/// `GET /admin/v1/tenants/{t}/projects`.
pub async fn list_projects(
    State(t): State<Shared>,
    addr: Remote,
    Path(tenant_id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let path = uri.path().to_string();
    let r = async {
        tenant_caller(&t, &headers, addr, &tenant_id).await?;
        let items: Vec<Value> = t
            .store
            .list_projects(&tenant_id)
            .await?
            .iter()
            .map(project_json)
            .collect();
        Ok(json(StatusCode::OK, json!({ "items": items })))
    }
    .await;
    respond(r, &path)
}

/// `GET /admin/v1/tenants/{t}/projects/{p}`.
pub async fn get_project(
    State(t): State<Shared>,
    addr: Remote,
    Path((tenant_id, id)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let path = uri.path().to_string();
    let r = async {
        tenant_caller(&t, &headers, addr, &tenant_id).await?;
        let p = t.store.get_project(&tenant_id, &id).await?.ok_or_else(|| {
            Failure::not_found(
                reasons::PROJECT_NOT_FOUND,
                format!("project {id} not found"),
            )
        })?;
        Ok(json(StatusCode::OK, project_json(&p)))
    }
    .await;
    respond(r, &path)
}
