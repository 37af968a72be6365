//! Console: a tenant's users (list, add, edit roles, scopes, resources and groups, disable or
//! enable, set the password). Every change is the admin API's own operation
//! ([`crate::http::admin::users`]); a password or its hash is never rendered.

use super::directory::{form_refusal, items, lines, posted, strings, text, Done};
use super::view::{self, encode, Frame};
use super::{body, error_page, fields_of, html, see_other, ConsoleCall, Form, Kind, Posted};
use crate::failure::Failure;
use crate::http::admin::users::{self as api, tenant_roles};
use crate::http::admin::{Fields, Id};
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{html, Markup};
use serde_json::Value;

/// The fields of the add form (the password is read apart: it is never trimmed or shown).
const CREATE: [(&str, Kind); 4] = [
    ("email", Kind::Text),
    ("name", Kind::Text),
    ("roles", Kind::Checks),
    ("scopes", Kind::List),
];

/// The fields of the edit form (PATCH: what the form shows is what the user gets).
const EDIT: [(&str, Kind); 5] = [
    ("name", Kind::Text),
    ("roles", Kind::Checks),
    ("scopes", Kind::List),
    ("resources", Kind::List),
    ("groups", Kind::List),
];

/// The API body of the add form: [`CREATE`] and the password as typed, when one is.
fn create_fields(form: &Form) -> Fields {
    let mut f = fields_of(form, &CREATE);
    if let Some(p) = form.get("password").filter(|p| !p.is_empty()) {
        f.push("password", Value::String(p.to_string()));
    }
    f
}

/// A labelled password input (never pre-filled) with its error message.
fn password_field(name: &str, label: &str, hint: &str, errors: &[(String, String)]) -> Markup {
    let error = errors.iter().find(|(n, _)| n == name).map(|(_, m)| m);
    let hint_id = format!("{name}-hint");
    let error_id = format!("{name}-error");
    let described = match error {
        Some(_) => format!("{hint_id} {error_id}"),
        None => hint_id.clone(),
    };
    html! {
        div.field.invalid[error.is_some()] {
            label for=(name) { (label) }
            input type="password" id=(name) name=(name) autocomplete="new-password"
                aria-describedby=(described) aria-invalid=[error.map(|_| "true")];
            p.hint id=(hint_id) { (hint) }
            @if let Some(e) = error { p.field-error id=(error_id) { (e) } }
        }
    }
}

/// The names of the tenant's roles (`admin` included), the choices of the roles field.
async fn role_names(call: &ConsoleCall, tenant: &str) -> Result<Vec<String>, Failure> {
    Ok(tenant_roles(&call.call.t, tenant)
        .await?
        .into_iter()
        .map(|r| r.name)
        .collect())
}

/// `GET /console/t/{tenant}/users`.
pub async fn list(
    call: ConsoleCall,
    Path(tenant): Path<String>,
    Query(done): Query<Done>,
) -> Response {
    let found = call.in_tenant(&tenant, api::list_users).await;
    let all = match found {
        Ok(v) => items(&v),
        Err(f) => return error_page(&call.call.t, Some(&call), &f),
    };
    let frame = call.frame(&tenant, "users");
    let base = format!("/console/t/{}/users", encode(&tenant));
    let notice = done.notice("User");
    let body = html! {
        @if let Some(n) = &notice { (view::notice(n)) }
        div.toolbar {
            a.button href={ (base) "/new" } id="new-user" { "Add a user" }
        }
        @if all.is_empty() {
            div.empty {
                p { "This tenant has no users yet." }
                p { a href={ (base) "/new" } { "Add the first user" } " so people can sign in; give one the " code { "admin" } " role to let them use this console." }
            }
        } @else {
            table {
                thead { tr { th { "E-mail" } th { "Name" } th { "Roles" } th { "Status" } } }
                tbody {
                    @for u in &all {
                        tr {
                            td { a href={ (base) "/" (encode(&text(u, "id"))) } { (text(u, "email")) } }
                            td { (text(u, "name")) }
                            td.small { @for r in strings(u, "roles") { span.tag { (r) } } }
                            td { span class={ "status " (text(u, "status")) } { (text(u, "status")) } }
                        }
                    }
                }
            }
            p.muted { (all.len()) " user" @if all.len() != 1 { "s" } }
        }
    };
    html(StatusCode::OK, view::page(&frame, "Users", body), &[])
}

/// The add form; `u` is the form as posted after a refusal.
fn new_user_form(
    frame: &Frame<'_>,
    action: &str,
    u: &Value,
    roles: &[String],
    errors: &[(String, String)],
) -> Markup {
    let options: Vec<&str> = roles.iter().map(String::as_str).collect();
    html! {
        form method="post" action=(action) id="user-form" novalidate {
            (view::csrf(frame.csrf))
            @if !errors.is_empty() {
                div.error role="alert" { "Some fields need attention; each says why below." }
            }
            (view::text_field("email", "E-mail", &text(u, "email"), "The user signs in with it.", errors))
            (view::text_field("name", "Name", &text(u, "name"), "Optional.", errors))
            (password_field("password", "Password", "Optional (8 characters or more): without one the user signs in only through an upstream provider.", errors))
            (view::checks_field("roles", "Roles", &options, &strings(u, "roles"), errors))
            (view::area_field("scopes", "Scopes", &lines(u, "scopes"), "Scopes granted to the user beyond those of the roles, one per line.", errors))
            button type="submit" id="save" { "Add user" }
        }
    }
}

/// `GET /console/t/{tenant}/users/new`.
pub async fn new_form(call: ConsoleCall, Path(tenant): Path<String>) -> Response {
    let roles = match call.tenant(&tenant).await {
        Ok(_) => role_names(&call, &tenant).await,
        Err(f) => Err(f),
    };
    let roles = match roles {
        Ok(r) => r,
        Err(f) => return error_page(&call.call.t, Some(&call), &f),
    };
    let frame = call.frame(&tenant, "users");
    let action = format!("/console/t/{}/users", encode(&tenant));
    let body = new_user_form(&frame, &action, &Value::Null, &roles, &[]);
    html(StatusCode::OK, view::page(&frame, "Add a user", body), &[])
}

/// `POST /console/t/{tenant}/users`: adds the user and opens it.
pub async fn create(Path(tenant): Path<String>, Posted { call, form }: Posted) -> Response {
    let created = call
        .in_tenant(&tenant, |tc| api::create_user(tc, create_fields(&form)))
        .await;
    let f = match created {
        Ok(v) => {
            return see_other(
                &format!(
                    "/console/t/{}/users/{}?saved=created",
                    encode(&tenant),
                    encode(&text(&v, "id"))
                ),
                &[],
            )
        }
        Err(f) => f,
    };
    let Some((status, errors)) = form_refusal(&f, "email") else {
        return error_page(&call.call.t, Some(&call), &f);
    };
    let roles = match role_names(&call, &tenant).await {
        Ok(r) => r,
        Err(f) => return error_page(&call.call.t, Some(&call), &f),
    };
    let frame = call.frame(&tenant, "users");
    let action = format!("/console/t/{}/users", encode(&tenant));
    let body = new_user_form(&frame, &action, &posted(&form, &CREATE), &roles, &errors);
    html(status, view::page(&frame, "Add a user", body), &[])
}

/// The user of the path as the API shows it, and the tenant's role names.
async fn user_of(
    call: &ConsoleCall,
    tenant: &str,
    id: &str,
) -> Result<(Value, Vec<String>), Failure> {
    let tc = call.tenant(tenant).await?;
    let u = body(api::get_user(tc, Id(id.to_string())).await?);
    Ok((u, role_names(call, tenant).await?))
}

/// `GET /console/t/{tenant}/users/{user}`: the user, its actions and its edit form.
pub async fn show(
    call: ConsoleCall,
    Path((tenant, id)): Path<(String, String)>,
    Query(done): Query<Done>,
) -> Response {
    match user_of(&call, &tenant, &id).await {
        Ok((u, roles)) => {
            let notice = match done.saved.as_deref() {
                Some("created") => Some(format!("User {} added.", text(&u, "email"))),
                _ => done.notice("User"),
            };
            user_page(
                &call,
                &tenant,
                &u,
                &roles,
                notice.as_deref(),
                &[],
                StatusCode::OK,
            )
        }
        Err(f) => error_page(&call.call.t, Some(&call), &f),
    }
}

fn user_page(
    call: &ConsoleCall,
    tenant: &str,
    u: &Value,
    roles: &[String],
    notice: Option<&str>,
    errors: &[(String, String)],
    status: StatusCode,
) -> Response {
    let frame = call.frame(tenant, "users");
    let base = format!(
        "/console/t/{}/users/{}",
        encode(tenant),
        encode(&text(u, "id"))
    );
    let active = text(u, "status") == "active";
    let has_password = u.get("has_password").and_then(Value::as_bool) == Some(true);
    let options: Vec<&str> = roles.iter().map(String::as_str).collect();
    let body = html! {
        @if let Some(n) = notice { (view::notice(n)) }
        dl.facts {
            dt { "User id" } dd { code id="user-id" { (text(u, "id")) } }
            dt { "E-mail" } dd { (text(u, "email")) }
            dt { "Status" } dd { span class={ "status " (text(u, "status")) } id="user-status" { (text(u, "status")) } }
            dt { "Password" } dd { @if has_password { "set" } @else { "none (signs in through an upstream provider only)" } }
            dt { "Updated" } dd { (text(u, "updated_at")) }
        }
        section.actions {
            h2 { "Actions" }
            div.actionrow {
                form method="post" action={ (base) "/status" } id="status-form" {
                    (view::csrf(frame.csrf))
                    @if active {
                        input type="hidden" name="status" value="disabled";
                        button.secondary type="submit" id="disable" { "Disable user" }
                    } @else {
                        input type="hidden" name="status" value="active";
                        button.secondary type="submit" id="enable" { "Enable user" }
                    }
                }
                form method="post" action={ (base) "/password" } id="password-form" novalidate {
                    (view::csrf(frame.csrf))
                    (password_field("password", "New password", "8 characters or more. Setting it ends the user's sign-ins.", errors))
                    button type="submit" id="set-password" { "Set password" }
                }
            }
        }
        section {
            h2 { "Edit" }
            form method="post" action=(base) id="user-form" novalidate {
                (view::csrf(frame.csrf))
                (view::text_field("name", "Name", &text(u, "name"), "", errors))
                (view::checks_field("roles", "Roles", &options, &strings(u, "roles"), errors))
                (view::area_field("scopes", "Scopes", &lines(u, "scopes"), "Scopes granted to the user beyond those of the roles, one per line.", errors))
                (view::area_field("resources", "Resources", &lines(u, "resources"), "Resource indicators (RFC 8707) the user's tokens may name.", errors))
                (view::area_field("groups", "Groups", &lines(u, "groups"), "Put in the tokens' groups claim.", errors))
                button type="submit" id="save" { "Save changes" }
            }
        }
    };
    let title = format!("User {}", text(u, "email"));
    html(status, view::page(&frame, &title, body), &[])
}

/// A PATCH of the user of the path with `fields`: 303 back to the user (`saved=what`), the
/// user page with the messages next to their fields, or the error page.
async fn change(
    call: ConsoleCall,
    tenant: &str,
    id: &str,
    fields: Fields,
    shown: impl FnOnce(Value) -> Value,
    what: &str,
) -> Response {
    let (before, roles) = match user_of(&call, tenant, id).await {
        Ok(found) => found,
        Err(f) => return error_page(&call.call.t, Some(&call), &f),
    };
    let done = match call.tenant(tenant).await {
        Ok(tc) => api::patch_user(tc, Id(id.to_string()), fields).await,
        Err(f) => Err(f),
    };
    match done {
        Ok(_) => see_other(
            &format!(
                "/console/t/{}/users/{}?saved={what}",
                encode(tenant),
                encode(id)
            ),
            &[],
        ),
        Err(f) => match form_refusal(&f, "email") {
            Some((status, errors)) => {
                let u = shown(before);
                user_page(&call, tenant, &u, &roles, None, &errors, status)
            }
            None => error_page(&call.call.t, Some(&call), &f),
        },
    }
}

/// `POST /console/t/{tenant}/users/{user}`: saves the edit form.
pub async fn update(
    Path((tenant, id)): Path<(String, String)>,
    Posted { call, form }: Posted,
) -> Response {
    let fields = fields_of(&form, &EDIT);
    let typed = posted(&form, &EDIT);
    let shown = move |mut before: Value| {
        for (k, _) in EDIT {
            crate::json::set(&mut before, k, typed.get(k).cloned().unwrap_or(Value::Null));
        }
        before
    };
    change(call, &tenant, &id, fields, shown, "1").await
}

/// `POST /console/t/{tenant}/users/{user}/status` with `status=active|disabled`.
pub async fn set_status(
    Path((tenant, id)): Path<(String, String)>,
    Posted { call, form }: Posted,
) -> Response {
    let fields = fields_of(&form, &[("status", Kind::Text)]);
    change(call, &tenant, &id, fields, |u| u, "status").await
}

/// `POST /console/t/{tenant}/users/{user}/password` with `password` (as typed, never shown).
pub async fn set_password(
    Path((tenant, id)): Path<(String, String)>,
    Posted { call, form }: Posted,
) -> Response {
    // Sent even when empty, so the API says what a password must be.
    let password = form.get("password").unwrap_or("").to_string();
    let fields = Fields::new(vec![("password".into(), Value::String(password))]);
    change(call, &tenant, &id, fields, |u| u, "password").await
}
