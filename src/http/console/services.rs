//! Console: registered services and their bindings (global administrators only: list, create
//! with the secret shown once, detail, rotate the secret with a grace period, delete after a
//! confirmation that names the service). Every change is the admin API's own operation
//! ([`crate::http::admin::services`]).

use super::directory::{form_refusal, items, lines, posted, strings, text, Done};
use super::view::{self, encode};
use super::{body, error_page, fields_of, html, see_other, ConsoleCall, Form, Kind, Posted};
use crate::failure::Failure;
use crate::http::admin::services as api;
use crate::http::admin::{Fields, GlobalCall, Id};
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{html, Markup};
use serde_json::{json, Value};

/// The form fields of a service besides its bindings.
const FIELDS: [(&str, Kind); 3] = [
    ("name", Kind::Text),
    ("audiences", Kind::List),
    ("ttl", Kind::Int),
];

/// The binding fields of the form: (field, binding type, member naming what it matches).
/// The `secret` checkbox adds a secret binding.
const MATCHED: [(&str, &str, &str); 3] = [
    ("gateway_arns", "gateway", "arn"),
    ("aws_iam_arns", "aws_iam", "arn"),
    ("mtls_sans", "mtls", "san"),
];

/// The form fields [`posted`] keeps after a refusal.
const SHOWN: [(&str, Kind); 7] = [
    ("name", Kind::Text),
    ("audiences", Kind::List),
    ("ttl", Kind::Text),
    ("secret", Kind::Check),
    ("gateway_arns", Kind::List),
    ("aws_iam_arns", Kind::List),
    ("mtls_sans", Kind::List),
];

/// The API body of the create form, and for each binding the form field it came from (to put
/// the API's `/bindings/{i}/…` messages next to that field).
fn service_fields(form: &Form) -> (Fields, Vec<&'static str>) {
    let mut f = fields_of(form, &FIELDS);
    let mut bindings = Vec::new();
    let mut sources = Vec::new();
    if form.get("secret").is_some() {
        bindings.push(json!({"type": "secret"}));
        sources.push("secret");
    }
    for (field, ty, member) in MATCHED {
        let typed = form.get(field).unwrap_or("");
        for w in typed.split_whitespace() {
            bindings.push(json!({"type": ty, member: w}));
            sources.push(field);
        }
    }
    f.push("bindings", Value::Array(bindings));
    (f, sources)
}

/// The API's messages by form field: `/bindings/{i}/…` goes to the field binding `i` came
/// from, anything else about the bindings to `bindings`.
fn service_errors(f: &Failure, sources: &[&str]) -> Vec<(String, String)> {
    f.errors
        .iter()
        .map(|e| {
            let mut parts = e.pointer.trim_start_matches('/').split('/');
            let first = parts.next().unwrap_or("");
            let name = match (first, parts.next().and_then(|i| i.parse::<usize>().ok())) {
                ("bindings", Some(i)) => sources.get(i).copied().unwrap_or("bindings"),
                _ => first,
            };
            (name.to_string(), e.detail.clone())
        })
        .collect()
}

/// `GET /console/services`: every service and the create form.
pub async fn list(call: ConsoleCall, Query(done): Query<Done>) -> Response {
    let notice = done.notice("Service");
    services_page(&call, notice.as_deref(), &Value::Null, &[], StatusCode::OK).await
}

async fn services_page(
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
    let frame = call.frame(call.home(), "services");
    let bindings_error = errors.iter().find(|(n, _)| n == "bindings").map(|(_, m)| m);
    let body = html! {
        @if let Some(n) = notice { (view::notice(n)) }
        @if all.is_empty() {
            div.empty {
                p { "No services are registered yet." }
                p { "Register one below so a backend service can get tokens (SPEC §4): by a secret, a trusted gateway's ARN, an AWS IAM identity or an mTLS certificate." }
            }
        } @else {
            table {
                thead { tr { th { "Service" } th { "Bindings" } th { "Audiences" } th { "Lifetime" } } }
                tbody {
                    @for s in &all {
                        tr {
                            td { a href={ "/console/services/" (encode(&text(s, "name"))) } { code { (text(s, "name")) } } }
                            td.small {
                                @for b in s.get("bindings").and_then(Value::as_array).into_iter().flatten() {
                                    span.tag { (text(b, "type")) }
                                }
                            }
                            td.small { (strings(s, "audiences").join(" ")) }
                            td { @if text(s, "ttl").is_empty() { "profile default" } @else { (text(s, "ttl")) " s" } }
                        }
                    }
                }
            }
        }
        section {
            h2 { "Register a service" }
            form method="post" action="/console/services" id="service-form" novalidate {
                (view::csrf(frame.csrf))
                @if !errors.is_empty() {
                    div.error role="alert" { "Some fields need attention; each says why below." }
                }
                (view::text_field("name", "Service name", &text(typed, "name"), "Letters, digits and . _ - : @; with a secret binding it is the user name of HTTP Basic.", errors))
                (view::area_field("audiences", "Audiences", &lines(typed, "audiences"), "The aud of its tokens, one per line.", errors))
                (view::text_field("ttl", "Token lifetime (seconds)", &text(typed, "ttl"), "Empty for the service profile's lifetime.", errors))
                fieldset.nested {
                    legend { "Bindings: how the service proves who it is (at least one)" }
                    @if let Some(e) = bindings_error { p.field-error role="alert" id="bindings-error" { (e) } }
                    (view::check_field("secret", "A secret (generated and shown once)", typed.get("secret").and_then(Value::as_bool).unwrap_or(false), errors))
                    (view::area_field("gateway_arns", "Gateway ARNs", &lines(typed, "gateway_arns"), "Caller ARNs a trusted gateway passes, one per line (* matches any run of characters).", errors))
                    (view::area_field("aws_iam_arns", "AWS IAM ARNs", &lines(typed, "aws_iam_arns"), "ARNs STS answers for a presigned GetCallerIdentity, one per line.", errors))
                    (view::area_field("mtls_sans", "mTLS SAN URIs", &lines(typed, "mtls_sans"), "Certificate SAN URIs such as spiffe://domain/workload, one per line.", errors))
                }
                button type="submit" id="create-service" { "Register service" }
            }
        }
    };
    html(status, view::page(&frame, "Services", body), &[])
}

/// `POST /console/services`: registers the service and shows its secret once.
pub async fn create(Posted { call, form }: Posted) -> Response {
    let (fields, sources) = service_fields(&form);
    let created = match GlobalCall::of(call.call.clone()) {
        Ok(g) => api::create(g, fields).await.map(body),
        Err(f) => Err(f),
    };
    match created {
        Ok(s) => {
            let name = text(&s, "name");
            let frame = call.frame(call.home(), "services");
            let link = format!("/console/services/{}", encode(&name));
            let body = html! {
                (view::notice(&format!("Service {name} registered.")))
                @if let Some(secret) = s.get("secret").and_then(Value::as_str) {
                    (view::secret_once("Service secret", secret))
                }
                (summary(&s))
                p { a.button href=(link) id="open-service" { "Open the service" } }
            };
            html(
                StatusCode::CREATED,
                view::page(&frame, "Service registered", body),
                &[],
            )
        }
        Err(f) => match form_refusal(&f, "name") {
            Some((status, mut errors)) => {
                let mut mapped = service_errors(&f, &sources);
                if f.status == 409 {
                    mapped.append(&mut errors);
                }
                let typed = posted(&form, &SHOWN);
                services_page(&call, None, &typed, &mapped, status).await
            }
            None => error_page(&call.call.t, Some(&call), &f),
        },
    }
}

/// The facts of a service and its bindings.
fn summary(s: &Value) -> Markup {
    let bindings: Vec<Value> = s
        .get("bindings")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    html! {
        dl.facts {
            dt { "Service" } dd { code id="service-name" { (text(s, "name")) } }
            dt { "Audiences" } dd { (strings(s, "audiences").join(" ")) }
            dt { "Token lifetime" } dd { @if text(s, "ttl").is_empty() { "profile default" } @else { (text(s, "ttl")) " s" } }
            @if let Some(until) = s.get("previous_secret_expires_at").and_then(Value::as_str) {
                dt { "Previous secret valid until" } dd { (until) }
            }
            dt { "Updated" } dd { (text(s, "updated_at")) }
        }
        h2 { "Bindings" }
        table id="bindings" {
            thead { tr { th { "Type" } th { "Matches" } } }
            tbody {
                @for b in &bindings {
                    tr {
                        td { code { (text(b, "type")) } }
                        td {
                            @match text(b, "type").as_str() {
                                "secret" => { "HTTP Basic with the service's name and secret" }
                                "mtls" => { code { (text(b, "san")) } }
                                _ => { code { (text(b, "arn")) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The service of the path as the API shows it (403 unless global, 404 when unknown).
async fn service_of(call: &ConsoleCall, name: &str) -> Result<Value, Failure> {
    let g = GlobalCall::of(call.call.clone())?;
    Ok(body(api::get(g, Id(name.to_string())).await?))
}

/// `GET /console/services/{service}`: the service, its bindings and its actions.
pub async fn show(
    call: ConsoleCall,
    Path(name): Path<String>,
    Query(done): Query<Done>,
) -> Response {
    match service_of(&call, &name).await {
        Ok(s) => {
            let notice = done.notice("Service");
            service_page(&call, &s, notice.as_deref(), None)
        }
        Err(f) => error_page(&call.call.t, Some(&call), &f),
    }
}

/// The detail page; `error` is the confirmation's message after a mistyped name (400).
fn service_page(
    call: &ConsoleCall,
    s: &Value,
    notice: Option<&str>,
    error: Option<&str>,
) -> Response {
    let frame = call.frame(call.home(), "services");
    let name = text(s, "name");
    let base = format!("/console/services/{}", encode(&name));
    let has_secret = s
        .get("bindings")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|b| text(b, "type") == "secret");
    let errors: Vec<(String, String)> = error
        .map(|e| ("confirm".to_string(), e.to_string()))
        .into_iter()
        .collect();
    let body = html! {
        @if let Some(n) = notice { (view::notice(n)) }
        (summary(s))
        section.actions {
            h2 { "Actions" }
            div.actionrow {
                @if has_secret {
                    form method="post" action={ (base) "/rotate" } id="rotate-form" {
                        (view::csrf(frame.csrf))
                        label for="grace_seconds" { "Old secret keeps working for (seconds)" }
                        input type="number" id="grace_seconds" name="grace_seconds" value="3600" min="0" max="2592000";
                        button type="submit" id="rotate" { "Rotate secret" }
                    }
                }
            }
            div.warning {
                p { "Deleting " strong { code { (name) } } " stops its token requests at once and cannot be undone. Tokens it already holds stay valid until they expire." }
            }
            form method="post" action={ (base) "/delete" } id="delete-form" {
                (view::csrf(frame.csrf))
                (view::text_field("confirm", &format!("Type {name} to confirm"), "", "", &errors))
                button.danger type="submit" id="confirm-delete" { "Delete " (name) }
            }
        }
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    html(
        status,
        view::page(&frame, &format!("Service {name}"), body),
        &[],
    )
}

/// `POST /console/services/{service}/rotate` with `grace_seconds`: the new secret, once.
pub async fn rotate(Path(name): Path<String>, Posted { call, form }: Posted) -> Response {
    let rotated = match GlobalCall::of(call.call.clone()) {
        Ok(g) => api::rotate_secret(
            g,
            Id(name.clone()),
            fields_of(&form, &[("grace_seconds", Kind::Int)]),
        )
        .await
        .map(body),
        Err(f) => Err(f),
    };
    match rotated {
        Ok(v) => {
            let frame = call.frame(call.home(), "services");
            let back = format!("/console/services/{}", encode(&name));
            let until = text(&v, "previous_expires_at");
            let body = html! {
                (view::notice(&format!("The secret of {name} was rotated. The old one works until {until}.")))
                (view::secret_once("New service secret", &text(&v, "secret")))
                p { a.button href=(back) id="back" { "Back to the service" } }
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

/// `POST /console/services/{service}/delete` with `confirm` = the service's name.
pub async fn delete(Path(name): Path<String>, Posted { call, form }: Posted) -> Response {
    let s = match service_of(&call, &name).await {
        Ok(s) => s,
        Err(f) => return error_page(&call.call.t, Some(&call), &f),
    };
    if form.get("confirm").map(str::trim) != Some(name.as_str()) {
        return service_page(
            &call,
            &s,
            None,
            Some("That is not the service's name; nothing was deleted."),
        );
    }
    let done = match GlobalCall::of(call.call.clone()) {
        Ok(g) => api::delete(g, Id(name.clone())).await,
        Err(f) => Err(f),
    };
    match done {
        Ok(_) => see_other(&format!("/console/services?deleted={}", encode(&name)), &[]),
        Err(f) => error_page(&call.call.t, Some(&call), &f),
    }
}
