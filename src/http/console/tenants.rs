//! Console: tenants (global administrators only: list, create, disable/enable) and a tenant's
//! projects (list, create). Every change is the admin API's own operation
//! ([`crate::http::admin::tenants`]).

use super::directory::{form_refusal, items, posted, text, Done};
use super::view::{self, encode};
use super::{body, error_page, fields_of, html, see_other, ConsoleCall, Form, Kind, Posted};
use crate::http::admin::tenants as api;
use crate::http::admin::GlobalCall;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;
use serde_json::Value;

/// The form fields of a tenant or a project.
const FIELDS: [(&str, Kind); 2] = [("id", Kind::Text), ("name", Kind::Text)];

/// `GET /console/tenants`: every tenant, and the create form.
pub async fn list(call: ConsoleCall, Query(done): Query<Done>) -> Response {
    let notice = done.notice("Tenant");
    tenants_page(&call, notice.as_deref(), &Value::Null, &[], StatusCode::OK).await
}

/// The tenants page; `typed` is the create form as posted (after a refusal).
async fn tenants_page(
    call: &ConsoleCall,
    notice: Option<&str>,
    typed: &Value,
    errors: &[(String, String)],
    status: StatusCode,
) -> Response {
    let found = match GlobalCall::of(call.call.clone()) {
        Ok(g) => api::list(g).await.map(body),
        Err(f) => Err(f),
    };
    let all = match found {
        Ok(v) => items(&v),
        Err(f) => return error_page(&call.call.t, Some(call), &f),
    };
    let frame = call.frame(call.home(), "tenants");
    let body = html! {
        @if let Some(n) = notice { (view::notice(n)) }
        @if all.is_empty() {
            div.empty { p { "No tenants yet. Create the first one below." } }
        } @else {
            table {
                thead { tr { th { "Tenant" } th { "Name" } th { "Status" } th { "Actions" } } }
                tbody {
                    @for t in &all {
                        @let id = text(t, "id");
                        @let active = text(t, "status") == "active";
                        tr {
                            td { a href={ "/console/t/" (encode(&id)) } { code { (id) } } }
                            td { (text(t, "name")) }
                            td { span class={ "status " (text(t, "status")) } { (text(t, "status")) } }
                            td {
                                @if id == call.home() {
                                    span.muted { "your own tenant" }
                                } @else {
                                    form method="post" action={ "/console/tenants/" (encode(&id)) "/status" } {
                                        (view::csrf(frame.csrf))
                                        @if active {
                                            input type="hidden" name="status" value="disabled";
                                            button.secondary type="submit" id={ "disable-" (id) } { "Disable" }
                                        } @else {
                                            input type="hidden" name="status" value="active";
                                            button.secondary type="submit" id={ "enable-" (id) } { "Enable" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            p.muted { (all.len()) " tenant" @if all.len() != 1 { "s" } }
        }
        section {
            h2 { "Create a tenant" }
            form id="tenant-form" method="post" action="/console/tenants" {
                (view::csrf(frame.csrf))
                (view::text_field("id", "Tenant id", &text(typed, "id"), "Letters, digits and . _ - : @ — it appears in URLs and cannot change.", errors))
                (view::text_field("name", "Name", &text(typed, "name"), "A name people recognise.", errors))
                button type="submit" id="create-tenant" { "Create tenant" }
            }
        }
    };
    html(status, view::page(&frame, "Tenants", body), &[])
}

/// `POST /console/tenants`: creates the tenant and opens it.
pub async fn create(Posted { call, form }: Posted) -> Response {
    let created = match GlobalCall::of(call.call.clone()) {
        Ok(g) => api::create(g, fields_of(&form, &FIELDS)).await.map(body),
        Err(f) => Err(f),
    };
    match created {
        Ok(v) => see_other(&format!("/console/t/{}", encode(&text(&v, "id"))), &[]),
        Err(f) => match form_refusal(&f, "id") {
            Some((status, errors)) => {
                tenants_page(&call, None, &posted(&form, &FIELDS), &errors, status).await
            }
            None => error_page(&call.call.t, Some(&call), &f),
        },
    }
}

/// `POST /console/tenants/{tenant}/status` with `status=active|disabled` (the API refuses a
/// tenant administrator).
pub async fn set_status(Path(tenant): Path<String>, Posted { call, form }: Posted) -> Response {
    let done = match call.tenant(&tenant).await {
        Ok(tc) => api::patch(tc, fields_of(&form, &[("status", Kind::Text)])).await,
        Err(f) => Err(f),
    };
    match done {
        Ok(_) => see_other("/console/tenants?saved=status", &[]),
        Err(f) => error_page(&call.call.t, Some(&call), &f),
    }
}

/// `GET /console/t/{tenant}/projects`: the tenant's projects and the create form.
pub async fn projects(
    call: ConsoleCall,
    Path(tenant): Path<String>,
    Query(done): Query<Done>,
) -> Response {
    let notice = done.notice("Project");
    projects_page(
        &call,
        &tenant,
        notice.as_deref(),
        &Form::default(),
        &[],
        StatusCode::OK,
    )
    .await
}

async fn projects_page(
    call: &ConsoleCall,
    tenant: &str,
    notice: Option<&str>,
    typed: &Form,
    errors: &[(String, String)],
    status: StatusCode,
) -> Response {
    let found = call.in_tenant(tenant, api::list_projects).await;
    let all = match found {
        Ok(v) => items(&v),
        Err(f) => return error_page(&call.call.t, Some(call), &f),
    };
    let frame = call.frame(tenant, "projects");
    let typed = posted(typed, &FIELDS);
    let action = format!("/console/t/{}/projects", encode(tenant));
    let body = html! {
        @if let Some(n) = notice { (view::notice(n)) }
        @if all.is_empty() {
            div.empty {
                p { "This tenant has no projects yet." }
                p { "Create one below, then name it as a client's project to group the tenant's clients." }
            }
        } @else {
            table {
                thead { tr { th { "Project" } th { "Name" } th { "Created" } } }
                tbody {
                    @for p in &all {
                        tr {
                            td { code { (text(p, "id")) } }
                            td { (text(p, "name")) }
                            td.small { (text(p, "created_at")) }
                        }
                    }
                }
            }
        }
        section {
            h2 { "Create a project" }
            form id="project-form" method="post" action=(action) novalidate {
                (view::csrf(frame.csrf))
                (view::text_field("id", "Project id", &text(&typed, "id"), "Letters, digits and . _ - : @", errors))
                (view::text_field("name", "Name", &text(&typed, "name"), "", errors))
                button type="submit" id="create-project" { "Create project" }
            }
        }
    };
    html(status, view::page(&frame, "Projects", body), &[])
}

/// `POST /console/t/{tenant}/projects`.
pub async fn create_project(Path(tenant): Path<String>, Posted { call, form }: Posted) -> Response {
    let created = call
        .in_tenant(&tenant, |tc| {
            api::create_project(tc, fields_of(&form, &FIELDS))
        })
        .await;
    match created {
        Ok(v) => see_other(
            &format!(
                "/console/t/{}/projects?created={}",
                encode(&tenant),
                encode(&text(&v, "id"))
            ),
            &[],
        ),
        Err(f) => match form_refusal(&f, "id") {
            Some((status, errors)) => {
                projects_page(&call, &tenant, None, &form, &errors, status).await
            }
            None => error_page(&call.call.t, Some(&call), &f),
        },
    }
}
