//! Console: a tenant's roles (list, create). Every change is the admin API's own operation
//! ([`crate::http::admin::users::create_role`]).

use super::directory::{form_refusal, items, lines, posted, strings, text, Done};
use super::view::{self, encode};
use super::{error_page, fields_of, html, see_other, ConsoleCall, Form, Kind, Posted};
use crate::http::admin::users as api;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;

/// The form fields of a role.
const FIELDS: [(&str, Kind); 2] = [("name", Kind::Text), ("scopes", Kind::List)];

/// `GET /console/t/{tenant}/roles`: the tenant's roles and the create form.
pub async fn list(
    call: ConsoleCall,
    Path(tenant): Path<String>,
    Query(done): Query<Done>,
) -> Response {
    let notice = done.notice("Role");
    roles_page(
        &call,
        &tenant,
        notice.as_deref(),
        &Form::default(),
        &[],
        StatusCode::OK,
    )
    .await
}

async fn roles_page(
    call: &ConsoleCall,
    tenant: &str,
    notice: Option<&str>,
    typed: &Form,
    errors: &[(String, String)],
    status: StatusCode,
) -> Response {
    let found = call.in_tenant(tenant, api::list_roles).await;
    let all = match found {
        Ok(v) => items(&v),
        Err(f) => return error_page(&call.call.t, Some(call), &f),
    };
    let frame = call.frame(tenant, "roles");
    let typed = posted(typed, &FIELDS);
    let action = format!("/console/t/{}/roles", encode(tenant));
    let users = format!("/console/t/{}/users", encode(tenant));
    let body = html! {
        @if let Some(n) = notice { (view::notice(n)) }
        table {
            thead { tr { th { "Role" } th { "Scopes" } } }
            tbody {
                @for r in &all {
                    tr {
                        td { code { (text(r, "name")) } }
                        td.small { @for s in strings(r, "scopes") { span.tag { (s) } } }
                    }
                }
            }
        }
        @if all.len() <= 1 {
            div.empty {
                p { "Only the built-in " code { "admin" } " role exists (it lets a user run this console)." }
                p { "Create a role below with the scopes its holders get, then give it to " a href=(users) { "users" } "." }
            }
        }
        section {
            h2 { "Create a role" }
            form method="post" action=(action) id="role-form" novalidate {
                (view::csrf(frame.csrf))
                (view::text_field("name", "Role name", &text(&typed, "name"), "Letters, digits and . _ - : @", errors))
                (view::area_field("scopes", "Scopes", &lines(&typed, "scopes"), "The scopes its holders get, one per line.", errors))
                button type="submit" id="create-role" { "Create role" }
            }
        }
    };
    html(status, view::page(&frame, "Roles", body), &[])
}

/// `POST /console/t/{tenant}/roles`.
pub async fn create(Path(tenant): Path<String>, Posted { call, form }: Posted) -> Response {
    let created = call
        .in_tenant(&tenant, |tc| {
            api::create_role(tc, fields_of(&form, &FIELDS))
        })
        .await;
    match created {
        Ok(v) => see_other(
            &format!(
                "/console/t/{}/roles?created={}",
                encode(&tenant),
                encode(&text(&v, "name"))
            ),
            &[],
        ),
        Err(f) => match form_refusal(&f, "name") {
            Some((status, errors)) => {
                roles_page(&call, &tenant, None, &form, &errors, status).await
            }
            None => error_page(&call.call.t, Some(&call), &f),
        },
    }
}
