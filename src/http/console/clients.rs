//! Console: a tenant's clients (list with search and paging, create with the secret shown once,
//! edit, rotate with grace, disable/enable, delete after a confirmation that names the client).
//! Every change is the admin API's own operation ([`crate::http::admin::clients`]).

use super::directory::posted;
use super::view::{self, encode, Frame};
use super::{
    body, error_page, field_errors, fields_of, html, see_other, ConsoleCall, Form, Kind, Posted,
};
use crate::failure::Failure;
use crate::http::admin::clients::{self as api, ClientCall};
use crate::keys::signer::Alg;
use crate::oauth::grant::GrantType;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::{json, Value};

/// Clients per page.
const PAGE: usize = 50;

/// The form fields of a client and how each becomes a member of the API's body.
const FIELDS: [(&str, Kind); 21] = [
    ("name", Kind::Text),
    ("project_id", Kind::Text),
    ("profile", Kind::Text),
    ("grant_types", Kind::Checks),
    ("scopes", Kind::List),
    ("default_scopes", Kind::List),
    ("audiences", Kind::List),
    ("redirect_uris", Kind::List),
    ("post_logout_redirect_uris", Kind::List),
    ("token_ttl", Kind::Int),
    ("refresh_token_ttl", Kind::Int),
    ("token_endpoint_auth_method", Kind::Text),
    ("signing_alg", Kind::Text),
    ("admin_tokens", Kind::Check),
    ("consent_required", Kind::Check),
    ("dpop_bound_access_tokens", Kind::Check),
    ("require_pushed_authorization_requests", Kind::Check),
    ("tls_client_certificate_bound_access_tokens", Kind::Check),
    ("tls_client_auth_subject_dn", Kind::Text),
    ("tls_client_auth_san_uri", Kind::Text),
    ("tls_client_auth_san_dns", Kind::Text),
];

const AUTH_METHODS: [(&str, &str); 6] = [
    ("client_secret_basic", "client_secret_basic (HTTP Basic)"),
    ("client_secret_post", "client_secret_post (form fields)"),
    ("private_key_jwt", "private_key_jwt (signed assertion)"),
    ("none", "none (public client, PKCE)"),
    (
        "tls_client_auth",
        "tls_client_auth (CA-issued client certificate)",
    ),
    (
        "self_signed_tls_client_auth",
        "self_signed_tls_client_auth (certificate key in the JWK Set)",
    ),
];

/// The API body a client form stands for: [`FIELDS`], the JWK Set and a Vault reference.
fn client_fields(form: &Form, creating: bool) -> crate::http::admin::Fields {
    let mut spec: Vec<(&str, Kind)> = FIELDS.to_vec();
    if creating {
        spec.push(("client_id", Kind::Text));
        spec.push(("client_secret", Kind::Text));
    }
    spec.push(("jwks", Kind::Json));
    let mut f = fields_of(form, &spec);
    let [mount, path, field] =
        ["vault_mount", "vault_path", "vault_field"].map(|k| form.text(k).unwrap_or(""));
    if [mount, path, field].iter().any(|v| !v.is_empty()) {
        f.push(
            "secret",
            json!({"vault": {"mount": mount, "path": path, "field": field}}),
        );
    }
    f
}

#[derive(Deserialize)]
pub struct ListQuery {
    q: Option<String>,
    page: Option<usize>,
    deleted: Option<String>,
}

/// `GET /console/t/{tenant}/clients?q=&page=`.
pub async fn list(
    call: ConsoleCall,
    Path(tenant): Path<String>,
    Query(q): Query<ListQuery>,
) -> Response {
    let t = &call.call.t;
    let all = call.in_tenant(&tenant, api::list).await;
    let all = match all {
        Ok(v) => v,
        Err(f) => return error_page(t, Some(&call), &f),
    };
    let needle = q.q.as_deref().map(str::trim).unwrap_or("").to_lowercase();
    let items: Vec<&Value> = all
        .get("items")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|c| {
            needle.is_empty()
                || ["client_id", "name"].iter().any(|k| {
                    c.get(*k)
                        .and_then(Value::as_str)
                        .is_some_and(|s| s.to_lowercase().contains(&needle))
                })
        })
        .collect();
    let page = q.page.unwrap_or(1).max(1);
    let shown: Vec<&Value> = items
        .iter()
        .skip((page - 1) * PAGE)
        .take(PAGE)
        .copied()
        .collect();
    let has_more = items.len() > page * PAGE;
    let base = format!("/console/t/{}/clients", encode(&tenant));
    let search_base = if needle.is_empty() {
        base.clone()
    } else {
        format!("{base}?q={}", encode(&needle))
    };
    let s = |c: &Value, k: &str| c.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let body = html! {
        @if let Some(d) = &q.deleted { (view::notice(&format!("Client {d} deleted."))) }
        div.toolbar {
            form method="get" action=(base) role="search" {
                label.visually-hidden for="q" { "Search clients" }
                input type="search" id="q" name="q" value=(needle) placeholder="Search by id or name";
                button type="submit" { "Search" }
            }
            a.button href={ (base) "/new" } id="new-client" { "Create client" }
        }
        @if shown.is_empty() {
            div.empty {
                @if needle.is_empty() {
                    p { "This tenant has no clients yet." }
                    p { a href={ (base) "/new" } { "Create the first client" } " to let an application or partner get tokens." }
                } @else {
                    p { "No client matches " strong { (needle) } "." }
                }
            }
        } @else {
            div.scroll { table {
                thead { tr { th { "Client" } th { "Name" } th { "Grants" } th { "Authentication" } th { "Status" } } }
                tbody {
                    @for c in &shown {
                        tr {
                            td { a href={ (base) "/" (encode(&s(c, "client_id"))) } { code { (s(c, "client_id")) } } }
                            td { (s(c, "name")) }
                            td.small {
                                @for g in c.get("grant_types").and_then(Value::as_array).into_iter().flatten() {
                                    span.tag { (g.as_str().unwrap_or("")) }
                                }
                            }
                            td { (s(c, "token_endpoint_auth_method")) }
                            td { span class={ "status " (s(c, "status")) } { (s(c, "status")) } }
                        }
                    }
                }
            } }
            p.muted { (items.len()) " client" @if items.len() != 1 { "s" } }
            (view::pager(&search_base, page, has_more))
        }
    };
    html(
        StatusCode::OK,
        view::page(&call.frame(&tenant, "clients"), "Clients", body),
        &[],
    )
}

/// The create or edit form of a client; `c` is the client as the API shows it (or the form as
/// posted, after a refusal).
fn client_form(
    frame: &Frame<'_>,
    action: &str,
    c: &Value,
    creating: bool,
    errors: &[(String, String)],
) -> Markup {
    let s = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let list = |k: &str| {
        c.get(k)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default()
    };
    let int = |k: &str| {
        c.get(k)
            .map(|v| match v {
                Value::Number(n) => n.to_string(),
                Value::String(s) => s.clone(),
                _ => String::new(),
            })
            .unwrap_or_default()
    };
    let flag = |k: &str| c.get(k).and_then(Value::as_bool).unwrap_or(false);
    let grants: Vec<String> = c
        .get("grant_types")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let grant_names: Vec<&str> = GrantType::ALL.iter().map(|g| g.as_str()).collect();
    let mut algs: Vec<(&str, &str)> = vec![("", "the server's default")];
    algs.extend(Alg::ALL.iter().map(|a| (a.as_str(), a.as_str())));
    let vault = c.get("secret").and_then(|v| v.get("vault"));
    let vs = |k: &str| {
        vault
            .and_then(|v| v.get(k))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let jwks = c
        .get("jwks")
        .filter(|v| !v.is_null())
        .map(|v| match v {
            Value::String(s) => s.clone(),
            v => serde_json::to_string_pretty(v).unwrap_or_default(),
        })
        .unwrap_or_default();
    let auth = match s("token_endpoint_auth_method") {
        m if m.is_empty() => "client_secret_basic".to_string(),
        m => m,
    };
    html! {
        form.client method="post" action=(action) id="client-form" novalidate {
            (view::csrf(frame.csrf))
            @if !errors.is_empty() {
                div.error role="alert" { "Some fields need attention; each says why below." }
            }
            fieldset {
                legend { "Identity" }
                @if creating {
                    (view::text_field("client_id", "Client id", &s("client_id"), "Leave empty for a random id. Letters, digits and . _ - : @", errors))
                }
                (view::text_field("name", "Name", &s("name"), "Shown on the login and consent pages.", errors))
                (view::text_field("project_id", "Project", &s("project_id"), "Optional: a project of this tenant.", errors))
                (view::text_field("profile", "Token profile", &s("profile"), "Empty for the default profile.", errors))
            }
            fieldset {
                legend { "Grants and scopes" }
                (view::checks_field("grant_types", "Grant types", &grant_names, &grants, errors))
                (view::area_field("scopes", "Scopes", &list("scopes"), "Scopes the client may ask for, one per line.", errors))
                (view::area_field("default_scopes", "Default scopes", &list("default_scopes"), "Granted when a request names none; each must be among the scopes.", errors))
                (view::area_field("audiences", "Audiences", &list("audiences"), "The aud of its tokens (RFC 8707 resources it may name).", errors))
                (view::area_field("redirect_uris", "Redirect URIs", &list("redirect_uris"), "For the authorization code grant: absolute http(s) URIs.", errors))
                (view::area_field("post_logout_redirect_uris", "Post-logout redirect URIs", &list("post_logout_redirect_uris"), "", errors))
            }
            fieldset {
                legend { "Tokens" }
                (view::text_field("token_ttl", "Access token lifetime (seconds)", &int("token_ttl"), "Empty for the profile's lifetime.", errors))
                (view::text_field("refresh_token_ttl", "Refresh token lifetime (seconds)", &int("refresh_token_ttl"), "", errors))
                (view::select_field("signing_alg", "Signing algorithm", &s("signing_alg"), &algs, errors))
                (view::check_field("admin_tokens", "May get admin tokens (scope tessera:admin)", flag("admin_tokens"), errors))
                (view::check_field("consent_required", "Ask users for consent", flag("consent_required"), errors))
            }
            fieldset {
                legend { "Authentication" }
                (view::select_field("token_endpoint_auth_method", "Token endpoint authentication", &auth, &AUTH_METHODS, errors))
                @if creating {
                    (view::text_field("client_secret", "Import a secret", "", "Optional: keep a partner's existing secret (8 characters or more). Empty: Tessera generates one and shows it once.", errors))
                }
                (view::area_field("jwks", "JWK Set (private_key_jwt)", &jwks, "The client's public keys as a JWK Set.", errors))
                fieldset.nested {
                    legend { "Secret held in Vault (optional)" }
                    @if let Some(e) = errors.iter().find(|(n, _)| n == "secret") { p.field-error role="alert" { (e.1) } }
                    (view::text_field("vault_mount", "KV mount", &vs("mount"), "", errors))
                    (view::text_field("vault_path", "Path", &vs("path"), "", errors))
                    (view::text_field("vault_field", "Field", &vs("field"), "", errors))
                }
            }
            fieldset {
                legend { "Sender-constrained tokens" }
                (view::check_field("dpop_bound_access_tokens", "Every token request must carry a DPoP proof", flag("dpop_bound_access_tokens"), errors))
                (view::check_field("require_pushed_authorization_requests", "Authorization requests must be pushed first (PAR)", flag("require_pushed_authorization_requests"), errors))
                (view::check_field("tls_client_certificate_bound_access_tokens", "Bind access tokens to the client certificate", flag("tls_client_certificate_bound_access_tokens"), errors))
                (view::text_field("tls_client_auth_subject_dn", "Certificate subject DN (tls_client_auth)", &s("tls_client_auth_subject_dn"), "For example CN=billing,O=Example. Or one of the two SANs below.", errors))
                (view::text_field("tls_client_auth_san_uri", "Certificate SAN URI (tls_client_auth)", &s("tls_client_auth_san_uri"), "For example spiffe://example.org/billing.", errors))
                (view::text_field("tls_client_auth_san_dns", "Certificate SAN DNS name (tls_client_auth)", &s("tls_client_auth_san_dns"), "", errors))
            }
            button type="submit" id="save" { @if creating { "Create client" } @else { "Save changes" } }
        }
    }
}

/// The form as posted, in the API's shape, to show again after a refusal.
fn posted_value(form: &Form) -> Value {
    let mut spec: Vec<(&str, Kind)> = FIELDS.to_vec();
    spec.push(("client_id", Kind::Text));
    let mut v = posted(form, &spec);
    crate::json::set(&mut v, "jwks", form.get("jwks").unwrap_or(""));
    crate::json::set(
        &mut v,
        "secret",
        json!({"vault": {
            "mount": form.get("vault_mount").unwrap_or(""),
            "path": form.get("vault_path").unwrap_or(""),
            "field": form.get("vault_field").unwrap_or(""),
        }}),
    );
    v
}

/// `GET /console/t/{tenant}/clients/new`.
pub async fn new_form(call: ConsoleCall, Path(tenant): Path<String>) -> Response {
    if let Err(f) = call.tenant(&tenant).await {
        return error_page(&call.call.t, Some(&call), &f);
    }
    let frame = call.frame(&tenant, "clients");
    let action = format!("/console/t/{}/clients", encode(&tenant));
    let defaults = json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "client_secret_basic"});
    let body = client_form(&frame, &action, &defaults, true, &[]);
    html(
        StatusCode::OK,
        view::page(&frame, "Create a client", body),
        &[],
    )
}

/// `POST /console/t/{tenant}/clients`: creates the client and shows its secret once.
pub async fn create(Path(tenant): Path<String>, Posted { call, form }: Posted) -> Response {
    let t = call.call.t.clone();
    let tc = match call.tenant(&tenant).await {
        Ok(tc) => tc,
        Err(f) => return error_page(&t, Some(&call), &f),
    };
    match api::create(tc, client_fields(&form, true)).await.map(body) {
        Ok(c) => {
            let id = c
                .get("client_id")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let frame = call.frame(&tenant, "clients");
            let link = format!("/console/t/{}/clients/{}", encode(&tenant), encode(&id));
            let body = html! {
                (view::notice(&format!("Client {id} created.")))
                @if let Some(secret) = c.get("client_secret").and_then(Value::as_str) {
                    (view::secret_once("Client secret", secret))
                }
                (summary(&c))
                p { a.button href=(link) id="open-client" { "Open the client" } }
            };
            html(
                StatusCode::CREATED,
                view::page(&frame, "Client created", body),
                &[],
            )
        }
        Err(f) if !f.errors.is_empty() || f.status == 409 => {
            let frame = call.frame(&tenant, "clients");
            let action = format!("/console/t/{}/clients", encode(&tenant));
            let mut errors = field_errors(&f);
            if f.status == 409 {
                errors.push(("client_id".into(), f.detail.clone()));
            }
            let body = client_form(&frame, &action, &posted_value(&form), true, &errors);
            let status = StatusCode::from_u16(f.status).unwrap_or(StatusCode::BAD_REQUEST);
            html(status, view::page(&frame, "Create a client", body), &[])
        }
        Err(f) => error_page(&t, Some(&call), &f),
    }
}

/// The facts of a client as a description list.
fn summary(c: &Value) -> Markup {
    let s = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let list = |k: &str| {
        c.get(k)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default()
    };
    html! {
        dl.facts {
            dt { "Client id" } dd { code id="client-id" { (s("client_id")) } }
            dt { "Status" } dd { span class={ "status " (s("status")) } id="client-status" { (s("status")) } }
            dt { "Grant types" } dd { (list("grant_types")) }
            dt { "Scopes" } dd { (list("scopes")) }
            dt { "Authentication" } dd { (s("token_endpoint_auth_method")) }
            @if let Some(until) = c.get("previous_secret_expires_at").and_then(Value::as_str) {
                dt { "Previous secret valid until" } dd { (until) }
            }
            dt { "Updated" } dd { (s("updated_at")) }
        }
    }
}

/// The client of the path, through the API's own lookup (reach, tenant, 404).
async fn client_call(call: &ConsoleCall, tenant: &str, id: &str) -> Result<ClientCall, Failure> {
    let tc = call.tenant(tenant).await?;
    ClientCall::of(tc, id).await
}

#[derive(Deserialize)]
pub struct ShowQuery {
    saved: Option<String>,
}

/// `GET /console/t/{tenant}/clients/{client}`: the client, its actions and its edit form.
pub async fn show(
    call: ConsoleCall,
    Path((tenant, id)): Path<(String, String)>,
    Query(q): Query<ShowQuery>,
) -> Response {
    let cc = match client_call(&call, &tenant, &id).await {
        Ok(cc) => cc,
        Err(f) => return error_page(&call.call.t, Some(&call), &f),
    };
    let c = api::client_json(&cc.client);
    let notice = q.saved.as_deref().map(|what| match what {
        "status" => "Status changed.",
        _ => "Changes saved.",
    });
    client_page(&call, &tenant, &c, notice, &[], StatusCode::OK)
}

fn client_page(
    call: &ConsoleCall,
    tenant: &str,
    c: &Value,
    notice: Option<&str>,
    errors: &[(String, String)],
    status: StatusCode,
) -> Response {
    let frame = call.frame(tenant, "clients");
    let id = c
        .get("client_id")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let base = format!("/console/t/{}/clients/{}", encode(tenant), encode(&id));
    let active = c.get("status").and_then(Value::as_str) == Some("active");
    let has_secret = c
        .get("token_endpoint_auth_method")
        .and_then(Value::as_str)
        .is_some_and(|m| m.starts_with("client_secret"))
        && c.get("secret").is_none();
    let body = html! {
        @if let Some(n) = notice { (view::notice(n)) }
        (summary(c))
        section.actions {
            h2 { "Actions" }
            div.actionrow {
                @if has_secret {
                    form method="post" action={ (base) "/rotate" } id="rotate-form" {
                        (view::csrf(frame.csrf))
                        div.stack {
                            label for="grace_seconds" { "Old secret keeps working for (seconds)" }
                            input type="number" id="grace_seconds" name="grace_seconds" value="3600" min="0" max="2592000";
                        }
                        button type="submit" id="rotate" { "Rotate secret" }
                    }
                }
                form method="post" action={ (base) "/status" } {
                    (view::csrf(frame.csrf))
                    @if active {
                        input type="hidden" name="status" value="disabled";
                        button.secondary type="submit" id="disable" { "Disable client" }
                    } @else {
                        input type="hidden" name="status" value="active";
                        button.secondary type="submit" id="enable" { "Enable client" }
                    }
                }
                a.button.danger href={ (base) "/delete" } id="delete" { "Delete…" }
            }
        }
        section {
            h2 { "Edit" }
            (client_form(&frame, &base, c, false, errors))
        }
    };
    html(
        status,
        view::page(&frame, &format!("Client {id}"), body),
        &[],
    )
}

/// `POST /console/t/{tenant}/clients/{client}`: saves the edit form.
pub async fn update(
    Path((tenant, id)): Path<(String, String)>,
    Posted { call, form }: Posted,
) -> Response {
    let cc = match client_call(&call, &tenant, &id).await {
        Ok(cc) => cc,
        Err(f) => return error_page(&call.call.t, Some(&call), &f),
    };
    let before = api::client_json(&cc.client);
    match api::patch(cc, client_fields(&form, false)).await {
        Ok(_) => see_other(
            &format!(
                "/console/t/{}/clients/{}?saved=1",
                encode(&tenant),
                encode(&id)
            ),
            &[],
        ),
        Err(f) if !f.errors.is_empty() => {
            let mut shown = posted_value(&form);
            for k in ["client_id", "status", "updated_at", "created_at"] {
                crate::json::set(&mut shown, k, before.get(k).cloned().unwrap_or(Value::Null));
            }
            let status = StatusCode::from_u16(f.status).unwrap_or(StatusCode::BAD_REQUEST);
            client_page(&call, &tenant, &shown, None, &field_errors(&f), status)
        }
        Err(f) => error_page(&call.call.t, Some(&call), &f),
    }
}

/// `POST …/rotate` with `grace_seconds`: shows the new secret once.
pub async fn rotate(
    Path((tenant, id)): Path<(String, String)>,
    Posted { call, form }: Posted,
) -> Response {
    let cc = match client_call(&call, &tenant, &id).await {
        Ok(cc) => cc,
        Err(f) => return error_page(&call.call.t, Some(&call), &f),
    };
    match api::rotate_secret(cc, fields_of(&form, &[("grace_seconds", Kind::Int)]))
        .await
        .map(body)
    {
        Ok(v) => {
            let frame = call.frame(&tenant, "clients");
            let back = format!("/console/t/{}/clients/{}", encode(&tenant), encode(&id));
            let secret = v.get("client_secret").and_then(Value::as_str).unwrap_or("");
            let until = v
                .get("previous_expires_at")
                .and_then(Value::as_str)
                .unwrap_or("");
            let old = if form
                .text("grace_seconds")
                .and_then(|g| g.parse::<i64>().ok())
                == Some(0)
            {
                "The old one no longer works.".to_string()
            } else {
                format!("The old one keeps working until {until}.")
            };
            let body = html! {
                (view::notice(&format!("The secret of {id} was rotated. {old}")))
                (view::secret_once("New client secret", secret))
                p { a.button href=(back) id="back" { "Back to the client" } }
            };
            html(
                StatusCode::OK,
                view::page(&frame, "Secret rotated", body),
                &[],
            )
        }
        Err(f) => error_page(&call.call.t, Some(&call), &f),
    }
}

/// `POST …/status` with `status=active|disabled`.
pub async fn set_status(
    Path((tenant, id)): Path<(String, String)>,
    Posted { call, form }: Posted,
) -> Response {
    let cc = match client_call(&call, &tenant, &id).await {
        Ok(cc) => cc,
        Err(f) => return error_page(&call.call.t, Some(&call), &f),
    };
    match api::patch(cc, fields_of(&form, &[("status", Kind::Text)])).await {
        Ok(_) => see_other(
            &format!(
                "/console/t/{}/clients/{}?saved=status",
                encode(&tenant),
                encode(&id)
            ),
            &[],
        ),
        Err(f) => error_page(&call.call.t, Some(&call), &f),
    }
}

/// `GET …/delete`: asks to type the client's id.
pub async fn confirm_delete(
    call: ConsoleCall,
    Path((tenant, id)): Path<(String, String)>,
) -> Response {
    match client_call(&call, &tenant, &id).await {
        Ok(cc) => delete_page(&call, &tenant, &cc.client.client_id, None),
        Err(f) => error_page(&call.call.t, Some(&call), &f),
    }
}

fn delete_page(call: &ConsoleCall, tenant: &str, id: &str, error: Option<&str>) -> Response {
    let frame = call.frame(tenant, "clients");
    let base = format!("/console/t/{}/clients/{}", encode(tenant), encode(id));
    let errors: Vec<(String, String)> = error
        .map(|e| ("confirm".to_string(), e.to_string()))
        .into_iter()
        .collect();
    let body = html! {
        div.warning {
            p { "Deleting " strong { code { (id) } } " ends its token requests at once and cannot be undone. Tokens it already holds stay valid until they expire." }
        }
        form method="post" action={ (base) "/delete" } id="delete-form" {
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
    html(
        status,
        view::page(&frame, &format!("Delete client {id}?"), body),
        &[],
    )
}

/// `POST …/delete` with `confirm` = the client id.
pub async fn delete(
    Path((tenant, id)): Path<(String, String)>,
    Posted { call, form }: Posted,
) -> Response {
    let cc = match client_call(&call, &tenant, &id).await {
        Ok(cc) => cc,
        Err(f) => return error_page(&call.call.t, Some(&call), &f),
    };
    if form.get("confirm").map(str::trim) != Some(cc.client.client_id.as_str()) {
        let id = cc.client.client_id.clone();
        return delete_page(
            &call,
            &tenant,
            &id,
            Some("That is not the client's id; nothing was deleted."),
        );
    }
    match api::delete(cc).await {
        Ok(_) => see_other(
            &format!(
                "/console/t/{}/clients?deleted={}",
                encode(&tenant),
                encode(&id)
            ),
            &[],
        ),
        Err(f) => error_page(&call.call.t, Some(&call), &f),
    }
}
