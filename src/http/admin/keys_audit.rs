//! Admin: signing keys (public parts only) and the audit log.

use super::{audit_change, authenticate, global_caller, json, respond};
use crate::clock::{parse_time, rfc3339};
use crate::failure::Failure;
use crate::http::Remote;
use crate::http::{remote_ip, Shared};
use crate::keys::KeysError;
use crate::store::AuditFilter;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use serde_json::{json, Value};

/// `GET /admin/v1/keys`.
pub async fn list_keys(State(t): State<Shared>, addr: Remote, headers: HeaderMap) -> Response {
    let r = async {
        global_caller(&t, &headers, addr).await?;
        Ok(json(StatusCode::OK, json!({ "items": t.keys.list() })))
    }
    .await;
    respond(r, "/admin/v1/keys")
}

/// `POST /admin/v1/keys/rotate`.
pub async fn rotate_keys(State(t): State<Shared>, addr: Remote, headers: HeaderMap) -> Response {
    let r = async {
        let c = global_caller(&t, &headers, addr).await?;
        t.keys.rotate().await.map_err(|e| match e {
            // SPEC §7.3: a database away or out of room is 503 `50300902`, never 500.
            KeysError::Store(e) if e.is_unavailable() => Failure::database_unavailable(&e),
            e => Failure::internal(&e),
        })?;
        t.keys_changed().await;
        audit_change(&t, &c, "admin.keys.rotated", None, "signing-keys").await;
        Ok(json(StatusCode::OK, json!({ "items": t.keys.list() })))
    }
    .await;
    respond(r, "/admin/v1/keys/rotate")
}

/// `GET /admin/v1/audit?tenant=&client=&since=&limit=`.
pub async fn audit(
    State(t): State<Shared>,
    addr: Remote,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let r = async {
        let c = authenticate(&t, &headers, &remote_ip(addr)).await?;
        let query = uri.query().unwrap_or("");
        let pairs = crate::http::body::parse_form(query.as_bytes())?;
        let params = crate::http::body::Params::from_pairs(pairs)?;
        let mut filter = AuditFilter {
            tenant_id: params.get("tenant").map(str::to_string),
            client_id: params.get("client").map(str::to_string),
            since: None,
            limit: 100,
        };
        if let Some(s) = params.get("since") {
            filter.since = Some(parse_time(s).ok_or_else(|| {
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
    .await;
    respond(r, "/admin/v1/audit")
}
