//! Admin: signing keys (public parts only) and the audit log.

use super::{json, AdminCall, GlobalCall};
use crate::clock::{parse_time, rfc3339};
use crate::failure::Failure;
use crate::keys::KeysError;
use crate::store::AuditFilter;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use serde_json::{json, Value};

/// `GET /admin/v1/keys`.
pub async fn list_keys(call: GlobalCall) -> Response {
    json(StatusCode::OK, json!({ "items": call.t.keys.list() }))
}

/// `POST /admin/v1/keys/rotate`.
pub async fn rotate_keys(call: GlobalCall) -> Result<Response, Failure> {
    let t = &call.t;
    let recording = call.recording("admin.keys.rotated", None, "signing-keys");
    t.keys.rotate_on(&recording).await.map_err(|e| match e {
        // SPEC §7.3: a database away or out of room is 503 `50300902`, never 500.
        KeysError::Store(e) if e.is_unavailable() => Failure::database_unavailable(&e),
        e => Failure::internal(&e),
    })?;
    t.keys_changed().await;
    Ok(json(StatusCode::OK, json!({ "items": t.keys.list() })))
}

/// `GET /admin/v1/audit?tenant=&client=&since=&limit=`.
pub async fn audit(call: AdminCall, uri: Uri) -> Result<Response, Failure> {
    let (t, c) = (&call.t, &call.caller);
    let query = uri.query().unwrap_or("");
    let pairs = crate::params::parse_form(query.as_bytes())?;
    let params = crate::params::Params::from_pairs(pairs)?;
    let mut filter = AuditFilter {
        tenant_id: params.get("tenant").map(str::to_string),
        client_id: params.get("client").map(str::to_string),
        since: None,
        limit: 100,
    };
    if let Some(s) = params.get("since") {
        filter.since =
            Some(parse_time(s).ok_or_else(|| {
                Failure::invalid("since", "since must be RFC 3339 or unix seconds")
            })?);
    }
    if let Some(l) = params.get("limit") {
        filter.limit = l
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| Failure::invalid("limit", "limit must be 1-1000"))?;
    }
    if let super::Reach::Tenant(own) = &c.reach {
        match &filter.tenant_id {
            Some(t) if t != own => c.check_tenant(t)?,
            _ => filter.tenant_id = Some(own.clone()),
        }
    }
    // Events wait in the batching queue for a few milliseconds; flush so a read
    // right after an action sees it.
    t.audit.flush().await;
    let items: Vec<Value> = t
        .store
        .list_audit(&filter)
        .await?
        .into_iter()
        .map(|e| {
            json!({
                "at": rfc3339(e.at), "event": e.event, "actor": e.actor,
                "tenant_id": e.tenant_id, "client_id": e.client_id, "subject": e.subject,
                "jti": e.jti, "outcome": e.outcome, "remote": e.remote,
            })
        })
        .collect();
    Ok(json(StatusCode::OK, json!({ "items": items })))
}
