//! Console: the audit log of a tenant (filters by client, subject, event, outcome and time;
//! paging) and the signing keys (status, rotate).

use super::view::{self, encode};
use super::{body, error_page, html, see_other, ConsoleCall, Posted};
use crate::http::admin::keys_audit;
use axum::extract::{Path, RawQuery};
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;
use serde_json::Value;

/// Events per audit page.
const PAGE: i64 = 50;

/// The audit page's filters as typed, each optional.
const FILTERS: [(&str, &str, &str); 6] = [
    ("client", "Client", "client id"),
    ("subject", "Subject", "user or object id"),
    ("event", "Event", "token.issued"),
    ("outcome", "Outcome", ""),
    ("since", "From", "1h, 7d or a time"),
    ("until", "Until", "a time"),
];

/// `GET /console/t/{tenant}/audit?client=&subject=&event=&outcome=&since=&until=&page=`.
pub async fn audit(
    call: ConsoleCall,
    Path(tenant): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let t = call.call.t.clone();
    let pairs = crate::params::parse_form(query.unwrap_or_default().as_bytes()).unwrap_or_default();
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let page = get("page")
        .and_then(|p| p.parse::<i64>().ok())
        .unwrap_or(1)
        .clamp(1, 10_000);
    // The API's own query: the tenant of the path, the filters typed, one more than a page to
    // know whether another follows.
    let mut api: Vec<(String, String)> = vec![("tenant".into(), tenant.clone())];
    for (k, _, _) in FILTERS {
        if let Some(v) = get(k) {
            api.push((k.to_string(), v));
        }
    }
    api.push(("limit".into(), (PAGE + 1).to_string()));
    api.push(("offset".into(), ((page - 1) * PAGE).to_string()));
    let found = match call.tenant(&tenant).await {
        Ok(_) => keys_audit::audit_query(&call.call, &api).await.map(body),
        Err(f) => Err(f),
    };
    let (items, error) = match found {
        Ok(v) => (
            v.get("items")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
            None,
        ),
        Err(f) if f.status < 500 && f.status != 403 && f.status != 404 => (Vec::new(), Some(f)),
        Err(f) => return error_page(&t, Some(&call), &f),
    };
    let has_more = items.len() as i64 > PAGE;
    let base = format!("/console/t/{}/audit", encode(&tenant));
    let mut query_base = base.clone();
    let mut sep = '?';
    for (k, _, _) in FILTERS {
        if let Some(v) = get(k) {
            query_base.push(sep);
            query_base.push_str(&format!("{k}={}", encode(&v)));
            sep = '&';
        }
    }
    let s = |e: &Value, k: &str| e.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let body = html! {
        form.filters method="get" action=(base) id="audit-filters" {
            @for (k, label, hint) in FILTERS {
                div.field {
                    label for=(k) { (label) }
                    @if k == "outcome" {
                        select id=(k) name=(k) {
                            @for (v, l) in [("", "any"), ("success", "success"), ("failure", "failure")] {
                                option value=(v) selected[get(k).as_deref().unwrap_or("") == v] { (l) }
                            }
                        }
                    } @else {
                        input type="text" id=(k) name=(k) value=(get(k).unwrap_or_default()) placeholder=(hint);
                    }
                }
            }
            button type="submit" id="filter" { "Filter" }
            " " a href=(base) { "Clear" }
        }
        @if let Some(f) = &error { (view::failure(f)) }
        @if items.is_empty() {
            div.empty { p { "No events match." } }
        } @else {
            div.scroll { table.audit {
                thead { tr { th { "Time" } th { "Event" } th { "Outcome" } th { "Actor" } th { "Client" } th { "Subject" } th { "Address" } } }
                tbody {
                    @for e in items.iter().take(PAGE as usize) {
                        tr {
                            td.nowrap { (s(e, "at")) }
                            td { code { (s(e, "event")) } }
                            td { span class={ "outcome " (if s(e, "outcome") == "success" { "ok" } else { "bad" }) } { (s(e, "outcome")) } }
                            td { (s(e, "actor")) }
                            td { (s(e, "client_id")) }
                            td.small { (s(e, "subject")) }
                            td.small { (s(e, "remote")) }
                        }
                    }
                }
            } }
            (view::pager(&query_base, page as usize, has_more))
        }
    };
    let status = match &error {
        Some(f) => StatusCode::from_u16(f.status).unwrap_or(StatusCode::BAD_REQUEST),
        None => StatusCode::OK,
    };
    html(
        status,
        view::page(&call.frame(&tenant, "audit"), "Audit", body),
        &[],
    )
}

#[derive(serde::Deserialize)]
pub struct KeysQuery {
    rotated: Option<String>,
}

/// `GET /console/keys` (global administrators).
pub async fn keys(
    call: ConsoleCall,
    axum::extract::Query(q): axum::extract::Query<KeysQuery>,
) -> Response {
    let t = call.call.t.clone();
    if let Err(f) = call.call.caller.check_all() {
        return error_page(&t, Some(&call), &f);
    }
    keys_page(&call, q.rotated.map(|_| "Keys rotated."))
}

fn keys_page(call: &ConsoleCall, notice: Option<&str>) -> Response {
    let keys = serde_json::to_value(call.call.t.keys.list()).unwrap_or(Value::Null);
    let frame = call.frame(call.home(), "keys");
    let s = |e: &Value, k: &str| e.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let body = html! {
        @if let Some(n) = notice { (view::notice(n)) }
        p { "Each algorithm has an " strong { "active" } " key that signs, a " strong { "next" } " key already published so caches have it before it signs, and " strong { "retired" } " keys kept while tokens they signed are still valid." }
        div.scroll { table {
            thead { tr { th { "Key id" } th { "Algorithm" } th { "Status" } th { "Created" } th { "Active since" } th { "Retired" } } }
            tbody {
                @for k in keys.as_array().into_iter().flatten() {
                    tr {
                        td.small { code { (s(k, "kid")) } }
                        td { (s(k, "alg")) }
                        td { span class={ "status " (s(k, "status")) } { (s(k, "status")) } }
                        td.nowrap { (s(k, "created_at")) }
                        td.nowrap { (s(k, "activated_at")) }
                        td.nowrap { (s(k, "retired_at")) }
                    }
                }
            }
        } }
        form method="post" action="/console/keys/rotate" id="rotate-keys" {
            (view::csrf(frame.csrf))
            button type="submit" id="rotate" { "Rotate every algorithm" }
            p.hint { "next becomes active, active is retired, a new next key is made." }
        }
    };
    html(
        StatusCode::OK,
        view::page(&frame, "Signing keys", body),
        &[],
    )
}

/// `POST /console/keys/rotate`.
pub async fn rotate(Posted { call, .. }: Posted) -> Response {
    let t = call.call.t.clone();
    let global = match crate::http::admin::GlobalCall::of(call.call.clone()) {
        Ok(g) => g,
        Err(f) => return error_page(&t, Some(&call), &f),
    };
    match keys_audit::rotate_keys(global).await {
        Ok(_) => see_other("/console/keys?rotated=1", &[]),
        Err(f) => error_page(&t, Some(&call), &f),
    }
}
