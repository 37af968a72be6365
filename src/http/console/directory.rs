//! Console: tenants, projects, users, roles, upstream providers, services and bindings — the
//! routes of these pages and what they share. The pages themselves are in [`super::tenants`],
//! [`super::users`], [`super::roles`], [`super::upstreams`] and [`super::services`]; each change
//! is the admin API's own operation, so reach, validation and audit are the API's.

use super::{field_errors, tenants, upstreams, users, Form, Kind};
use super::{roles, services};
use crate::failure::Failure;
use crate::http::{routes_of, Shared};
use axum::http::StatusCode;
use axum::routing::{get, post, MethodRouter};
use axum::Router;
use serde::Deserialize;
use serde_json::Value;

/// The routes of these pages, each path written once.
pub fn routes() -> Router<Shared> {
    let table: Vec<(&'static str, MethodRouter<Shared>)> = vec![
        ("/console/tenants", get(tenants::list).post(tenants::create)),
        (
            "/console/tenants/{tenant}/status",
            post(tenants::set_status),
        ),
        (
            "/console/t/{tenant}/projects",
            get(tenants::projects).post(tenants::create_project),
        ),
        (
            "/console/t/{tenant}/users",
            get(users::list).post(users::create),
        ),
        ("/console/t/{tenant}/users/new", get(users::new_form)),
        (
            "/console/t/{tenant}/users/{user}",
            get(users::show).post(users::update),
        ),
        (
            "/console/t/{tenant}/users/{user}/status",
            post(users::set_status),
        ),
        (
            "/console/t/{tenant}/users/{user}/password",
            post(users::set_password),
        ),
        (
            "/console/t/{tenant}/roles",
            get(roles::list).post(roles::create),
        ),
        (
            "/console/t/{tenant}/upstreams",
            get(upstreams::list).post(upstreams::create),
        ),
        (
            "/console/t/{tenant}/upstreams/{upstream}/delete",
            get(upstreams::confirm_delete).post(upstreams::delete),
        ),
        (
            "/console/services",
            get(services::list).post(services::create),
        ),
        ("/console/services/{service}", get(services::show)),
        ("/console/services/{service}/rotate", post(services::rotate)),
        ("/console/services/{service}/delete", post(services::delete)),
    ];
    routes_of(table)
}

/// What the page before a 303 did, named in the query of the page it lands on.
#[derive(Deserialize, Default)]
pub struct Done {
    /// The id of what was created.
    pub created: Option<String>,
    /// Set when a change was saved (`status` when a status changed).
    pub saved: Option<String>,
    /// The id of what was deleted.
    pub deleted: Option<String>,
}

impl Done {
    /// The notice to show for it, `what` naming the kind of thing ("Project", "Role" …).
    pub fn notice(&self, what: &str) -> Option<String> {
        if let Some(id) = &self.created {
            Some(format!("{what} {id} created."))
        } else if let Some(id) = &self.deleted {
            Some(format!("{what} {id} deleted."))
        } else {
            self.saved.as_deref().map(|s| match s {
                "status" => "Status changed.".to_string(),
                "password" => "Password set; the user's sign-ins were ended.".to_string(),
                _ => "Changes saved.".to_string(),
            })
        }
    }
}

/// The field messages and status of a refusal the form shows next to its fields (a bad body,
/// or a duplicate — named on `duplicate`, the id field); `None` for a failure that gets the
/// error page (403, 404, 5xx).
pub fn form_refusal(f: &Failure, duplicate: &str) -> Option<(StatusCode, Vec<(String, String)>)> {
    if f.errors.is_empty() && f.status != 409 {
        return None;
    }
    let mut errors = field_errors(f);
    if f.status == 409 {
        errors.push((duplicate.to_string(), f.detail.clone()));
    }
    let status = StatusCode::from_u16(f.status).unwrap_or(StatusCode::BAD_REQUEST);
    Some((status, errors))
}

/// The `items` of a list answer.
pub fn items(v: &Value) -> Vec<Value> {
    v.get("items")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// A string member of `v` (empty when absent).
pub fn text(v: &Value, k: &str) -> String {
    match v.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

/// The strings of a list member of `v`.
pub fn strings(v: &Value, k: &str) -> Vec<String> {
    v.get(k)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// A list member of `v` as the text of its field, one per line.
pub fn lines(v: &Value, k: &str) -> String {
    strings(v, k).join("\n")
}

/// The form as posted, in the API's shape, to show again after a refusal (`spec` as given to
/// [`super::fields_of`]).
pub fn posted(form: &Form, spec: &[(&str, Kind)]) -> Value {
    let mut v = serde_json::Map::new();
    for &(k, kind) in spec {
        let val = match kind {
            Kind::Checks => Value::Array(form.all(k).into_iter().map(Value::String).collect()),
            Kind::Check => Value::Bool(form.get(k).is_some()),
            Kind::List => super::list_value(form.get(k).unwrap_or("")),
            _ => Value::String(form.get(k).unwrap_or("").to_string()),
        };
        v.insert(k.to_string(), val);
    }
    Value::Object(v)
}
