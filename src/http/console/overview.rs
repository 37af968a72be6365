//! Console: a tenant's overview — counts, and the last hour's issued tokens and failed
//! authentications from the audit table.

use super::view::{self, encode};
use super::{error_page, html, ConsoleCall};
use crate::failure::Failure;
use crate::store::AuditFilter;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;

/// The figures of the overview.
struct Figures {
    tenants: Option<usize>,
    clients: usize,
    users: usize,
    keys: usize,
    issued: i64,
    failed: i64,
}

async fn figures(call: &ConsoleCall, tenant: &str) -> Result<Figures, Failure> {
    let tc = call.tenant(tenant).await?;
    let t = &tc.t;
    let tenants = if call.global() {
        Some(t.store.list_tenants().await?.len())
    } else {
        None
    };
    let hour_ago = t.clock.now() - 3600;
    let in_hour = |outcome: &str, event: Option<&str>| AuditFilter {
        tenant_id: Some(tenant.to_string()),
        since: Some(hour_ago),
        outcome: Some(outcome.to_string()),
        event: event.map(str::to_string),
        ..AuditFilter::default()
    };
    Ok(Figures {
        tenants,
        clients: t.store.list_clients(tenant).await?.len(),
        users: t.store.list_users(tenant).await?.len(),
        keys: t.keys.list().len(),
        issued: t
            .store
            .count_audit(&in_hour("success", Some("token.issued")))
            .await?,
        failed: t.store.count_audit(&in_hour("failure", None)).await?,
    })
}

/// `word` after `n`, with an `s` unless `n` is one.
fn counted(n: impl Into<i64>, word: &str) -> String {
    if n.into() == 1 {
        word.to_string()
    } else {
        format!("{word}s")
    }
}

/// `GET /console/t/{tenant}`.
pub async fn overview(call: ConsoleCall, Path(tenant): Path<String>) -> Response {
    let f = match figures(&call, &tenant).await {
        Ok(f) => f,
        Err(e) => return error_page(&call.call.t, Some(&call), &e),
    };
    let base = format!("/console/t/{}", encode(&tenant));
    let body = html! {
        div.cards {
            @if let Some(n) = f.tenants {
                a.card href="/console/tenants" { span.figure id="count-tenants" { (n) } span { (counted(n as i64, "tenant")) } }
            }
            a.card href={ (base) "/clients" } { span.figure id="count-clients" { (f.clients) } span { (counted(f.clients as i64, "client")) } }
            a.card href={ (base) "/users" } { span.figure id="count-users" { (f.users) } span { (counted(f.users as i64, "user")) } }
            @if call.global() {
                a.card href="/console/keys" { span.figure id="count-keys" { (f.keys) } span { (counted(f.keys as i64, "signing key")) } }
            } @else {
                div.card { span.figure id="count-keys" { (f.keys) } span { (counted(f.keys as i64, "signing key")) } }
            }
        }
        h2 { "Last hour" }
        div.cards {
            a.card href={ (base) "/audit?event=token.issued&since=1h" } { span.figure id="issued-hour" { (f.issued) } span { (if f.issued == 1 { "token issued" } else { "tokens issued" }) } }
            a.card.alert[f.failed > 0] href={ (base) "/audit?outcome=failure&since=1h" } { span.figure id="failed-hour" { (f.failed) } span { (counted(f.failed, "failed authentication")) } }
        }
        @if f.clients == 0 {
            div.empty {
                p { "Next: " a href={ (base) "/clients/new" } { "create a client" } " so an application can get tokens." }
            }
        }
    };
    html(
        StatusCode::OK,
        view::page(
            &call.frame(&tenant, "overview"),
            &format!("Tenant {tenant}"),
            body,
        ),
        &[],
    )
}
