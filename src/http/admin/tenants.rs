//! Admin: tenants and projects.

use super::{json, Answer, Fields, GlobalCall, Id, TenantCall};
use crate::clock::rfc3339;
use crate::failure::Failure;
use crate::reasons;
use crate::service::Tessera;
use crate::tenants::{valid_id, Project, Status, Tenant, DEFAULT_TENANT};
use axum::http::StatusCode;
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

/// The required `id` and `name` of a tenant or project body.
fn id_and_name(mut f: Fields) -> Result<(String, String), Failure> {
    let id = f.string("id", true);
    let name = f.string("name", true);
    if id.as_deref().is_some_and(|i| !valid_id(i)) {
        f.error("id", "id must be 1-128 characters of A-Z a-z 0-9 . _ - : @");
    }
    f.finish()?;
    match (id, name) {
        (Some(id), Some(name)) => Ok((id, name)),
        _ => Err(Failure::missing("id")),
    }
}

/// `POST /admin/v1/tenants`.
pub async fn create(call: GlobalCall, f: Fields) -> Result<Answer, Failure> {
    let (id, name) = id_and_name(f)?;
    let tenant = Tenant {
        id,
        name,
        status: Status::Active,
        created_at: call.t.clock.now(),
    };
    call.recording("admin.tenant.created", Some(&tenant.id), &tenant.id)
        .create_tenant(&tenant)
        .await
        .map_err(|e| conflict(e, "tenant"))?;
    Ok(json(StatusCode::CREATED, tenant_json(&tenant)))
}

/// Maps a storage conflict to a 409 naming the kind of thing.
pub fn conflict(e: crate::store::StoreError, what: &str) -> Failure {
    match e {
        crate::store::StoreError::Conflict => Failure::new(
            reasons::ALREADY_EXISTS,
            format!("a {what} with this id already exists"),
        ),
        other => other.into(),
    }
}

/// `GET /admin/v1/tenants`.
pub async fn list(call: GlobalCall) -> Result<Answer, Failure> {
    let items: Vec<Value> = call
        .t
        .store
        .list_tenants()
        .await?
        .iter()
        .map(tenant_json)
        .collect();
    Ok(json(StatusCode::OK, json!({ "items": items })))
}

/// `GET /admin/v1/tenants/{t}`.
pub async fn get(call: TenantCall) -> Result<Answer, Failure> {
    Ok(json(StatusCode::OK, tenant_json(&call.record)))
}

/// `PATCH /admin/v1/tenants/{t}` with `{"name"?,"status"?}`.
pub async fn patch(call: TenantCall, mut f: Fields) -> Result<Answer, Failure> {
    let mut tenant = call.record.clone();
    if let Some(name) = f.string("name", false) {
        tenant.name = name;
    }
    let status = f.string("status", false);
    if status.is_some() {
        // SPEC §7.1: a tenant admin never changes its own tenant's status.
        call.caller.check_all()?;
    }
    match status.as_deref() {
        None => {}
        Some("active") => tenant.status = Status::Active,
        // Tenant `default` holds the global administrators: disabled, nobody but the
        // bootstrap token could administer anything any more.
        Some("disabled") if tenant.id == DEFAULT_TENANT => f.error(
            "status",
            "tenant default holds the global administrators and cannot be disabled",
        ),
        Some("disabled") => tenant.status = Status::Disabled,
        Some(_) => f.error("status", "status must be active or disabled"),
    }
    f.finish()?;
    call.recording("admin.tenant.updated", &tenant.id)
        .update_tenant(&tenant)
        .await?;
    call.t.forget_tenant(&tenant.id).await;
    Ok(json(StatusCode::OK, tenant_json(&tenant)))
}

/// `POST /admin/v1/tenants/{t}/projects`.
pub async fn create_project(call: TenantCall, f: Fields) -> Result<Answer, Failure> {
    let (id, name) = id_and_name(f)?;
    let p = Project {
        tenant_id: call.tenant.clone(),
        id,
        name,
        created_at: call.t.clock.now(),
    };
    call.recording("admin.project.created", &p.id)
        .create_project(&p)
        .await
        .map_err(|e| conflict(e, "project"))?;
    Ok(json(StatusCode::CREATED, project_json(&p)))
}

/// `GET /admin/v1/tenants/{t}/projects`.
pub async fn list_projects(call: TenantCall) -> Result<Answer, Failure> {
    let items: Vec<Value> = call
        .t
        .store
        .list_projects(&call.tenant)
        .await?
        .iter()
        .map(project_json)
        .collect();
    Ok(json(StatusCode::OK, json!({ "items": items })))
}

/// `GET /admin/v1/tenants/{t}/projects/{p}`.
pub async fn get_project(call: TenantCall, Id(id): Id) -> Result<Answer, Failure> {
    let p = call
        .t
        .store
        .get_project(&call.tenant, &id)
        .await?
        .ok_or_else(|| {
            Failure::not_found(
                reasons::PROJECT_NOT_FOUND,
                format!("project {id} not found"),
            )
        })?;
    Ok(json(StatusCode::OK, project_json(&p)))
}
