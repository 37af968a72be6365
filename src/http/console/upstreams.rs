//! Console: a tenant's upstream OpenID providers (list, register, delete after a confirmation
//! that names the provider). Every change is the admin API's own operation
//! ([`crate::http::admin::users`]).

use super::directory::{form_refusal, items, posted, text, Done};
use super::view::{self, encode};
use super::{body, error_page, fields_of, html, see_other, ConsoleCall, Form, Kind, Posted};
use crate::failure::Failure;
use crate::http::admin::{users as api, Id};
use crate::reasons;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;
use serde_json::Value;

/// The form fields of an upstream provider.
const FIELDS: [(&str, Kind); 4] = [
    ("id", Kind::Text),
    ("name", Kind::Text),
    ("issuer", Kind::Text),
    ("client_id", Kind::Text),
];

/// `GET /console/t/{tenant}/upstreams`: the tenant's providers and the register form.
pub async fn list(
    call: ConsoleCall,
    Path(tenant): Path<String>,
    Query(done): Query<Done>,
) -> Response {
    let notice = done.notice("Upstream provider");
    upstreams_page(
        &call,
        &tenant,
        notice.as_deref(),
        &Form::default(),
        &[],
        StatusCode::OK,
    )
    .await
}

/// The tenant's providers as the API lists them.
async fn upstreams_of(call: &ConsoleCall, tenant: &str) -> Result<Vec<Value>, Failure> {
    let tc = call.tenant(tenant).await?;
    Ok(items(&body(api::list_upstreams(tc).await?)))
}

async fn upstreams_page(
    call: &ConsoleCall,
    tenant: &str,
    notice: Option<&str>,
    typed: &Form,
    errors: &[(String, String)],
    status: StatusCode,
) -> Response {
    let all = match upstreams_of(call, tenant).await {
        Ok(all) => all,
        Err(f) => return error_page(&call.call.t, Some(call), &f),
    };
    let frame = call.frame(tenant, "upstreams");
    let typed = posted(typed, &FIELDS);
    let base = format!("/console/t/{}/upstreams", encode(tenant));
    let body = html! {
        @if let Some(n) = notice { (view::notice(n)) }
        @if all.is_empty() {
            div.empty {
                p { "This tenant trusts no upstream OpenID provider yet." }
                p { "Register one below so its users can \"sign in with\" it and its ID tokens are accepted (oidcToken, token exchange)." }
            }
        } @else {
            table {
                thead { tr { th { "Id" } th { "Name" } th { "Issuer" } th { "Client id at the provider" } th { "Actions" } } }
                tbody {
                    @for u in &all {
                        tr {
                            td { code { (text(u, "id")) } }
                            td { (text(u, "name")) }
                            td { (text(u, "issuer")) }
                            td { code { (text(u, "client_id")) } }
                            td { a.button.danger href={ (base) "/" (encode(&text(u, "id"))) "/delete" } id={ "delete-" (text(u, "id")) } { "Delete…" } }
                        }
                    }
                }
            }
        }
        section {
            h2 { "Register a provider" }
            form method="post" action=(base) id="upstream-form" novalidate {
                (view::csrf(frame.csrf))
                @if !errors.is_empty() {
                    div.error role="alert" { "Some fields need attention; each says why below." }
                }
                (view::text_field("issuer", "Issuer", &text(&typed, "issuer"), "The provider's issuer URL (https, no trailing slash).", errors))
                (view::text_field("client_id", "Client id", &text(&typed, "client_id"), "Tessera's client id at the provider (the aud of its ID tokens).", errors))
                (view::text_field("name", "Name", &text(&typed, "name"), "Shown on the login page's \"sign in with\" button.", errors))
                (view::text_field("id", "Id", &text(&typed, "id"), "Optional: letters, digits and . _ - : @ (random when empty).", errors))
                button type="submit" id="create-upstream" { "Register provider" }
            }
        }
    };
    html(status, view::page(&frame, "Upstream providers", body), &[])
}

/// `POST /console/t/{tenant}/upstreams`.
pub async fn create(Path(tenant): Path<String>, Posted { call, form }: Posted) -> Response {
    let created = call
        .in_tenant(&tenant, |tc| {
            api::create_upstream(tc, fields_of(&form, &FIELDS))
        })
        .await;
    match created {
        Ok(v) => see_other(
            &format!(
                "/console/t/{}/upstreams?created={}",
                encode(&tenant),
                encode(&text(&v, "id"))
            ),
            &[],
        ),
        Err(f) => match form_refusal(&f, "id") {
            Some((status, errors)) => {
                upstreams_page(&call, &tenant, None, &form, &errors, status).await
            }
            None => error_page(&call.call.t, Some(&call), &f),
        },
    }
}

/// The provider of the path (404 when the tenant has none by that id).
async fn upstream_of(call: &ConsoleCall, tenant: &str, id: &str) -> Result<Value, Failure> {
    upstreams_of(call, tenant)
        .await?
        .into_iter()
        .find(|u| text(u, "id") == id)
        .ok_or_else(|| {
            Failure::not_found(
                reasons::NOT_FOUND,
                format!("upstream provider {id} not found"),
            )
        })
}

/// `GET …/upstreams/{upstream}/delete`: asks to type the provider's id.
pub async fn confirm_delete(
    call: ConsoleCall,
    Path((tenant, id)): Path<(String, String)>,
) -> Response {
    match upstream_of(&call, &tenant, &id).await {
        Ok(u) => delete_page(&call, &tenant, &u, None),
        Err(f) => error_page(&call.call.t, Some(&call), &f),
    }
}

fn delete_page(call: &ConsoleCall, tenant: &str, u: &Value, error: Option<&str>) -> Response {
    let frame = call.frame(tenant, "upstreams");
    let id = text(u, "id");
    let base = format!("/console/t/{}/upstreams", encode(tenant));
    let errors: Vec<(String, String)> = error
        .map(|e| ("confirm".to_string(), e.to_string()))
        .into_iter()
        .collect();
    let body = html! {
        div.warning {
            p { "Deleting " strong { code { (id) } } " (" (text(u, "issuer")) ") ends \"sign in with\" it and the acceptance of its ID tokens at once. It cannot be undone." }
        }
        form method="post" action={ (base) "/" (encode(&id)) "/delete" } id="delete-form" {
            (view::csrf(frame.csrf))
            (view::text_field("confirm", &format!("Type {id} to confirm"), "", "", &errors))
            button.danger type="submit" id="confirm-delete" { "Delete " (id) }
            " " a href=(base) { "Cancel" }
        }
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let title = format!("Delete upstream provider {id}?");
    html(status, view::page(&frame, &title, body), &[])
}

/// `POST …/upstreams/{upstream}/delete` with `confirm` = the provider's id.
pub async fn delete(
    Path((tenant, id)): Path<(String, String)>,
    Posted { call, form }: Posted,
) -> Response {
    let u = match upstream_of(&call, &tenant, &id).await {
        Ok(u) => u,
        Err(f) => return error_page(&call.call.t, Some(&call), &f),
    };
    if form.get("confirm").map(str::trim) != Some(id.as_str()) {
        return delete_page(
            &call,
            &tenant,
            &u,
            Some("That is not the provider's id; nothing was deleted."),
        );
    }
    let done = match call.tenant(&tenant).await {
        Ok(tc) => api::delete_upstream(tc, Id(id.clone())).await,
        Err(f) => Err(f),
    };
    match done {
        Ok(_) => see_other(
            &format!(
                "/console/t/{}/upstreams?deleted={}",
                encode(&tenant),
                encode(&id)
            ),
            &[],
        ),
        Err(f) => error_page(&call.call.t, Some(&call), &f),
    }
}
