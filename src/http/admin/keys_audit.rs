//! Admin: signing keys (public parts only) and the audit log.

use super::{json, AdminCall, Answer, GlobalCall};
use crate::clock::{parse_time, rfc3339};
use crate::failure::Failure;
use crate::keys::KeysError;
use crate::store::AuditFilter;
use axum::http::{StatusCode, Uri};
use serde_json::{json, Value};

/// `GET /admin/v1/keys`.
pub async fn list_keys(call: GlobalCall) -> Answer {
    json(StatusCode::OK, json!({ "items": call.t.keys.list() }))
}

/// `POST /admin/v1/keys/rotate`.
pub async fn rotate_keys(call: GlobalCall) -> Result<Answer, Failure> {
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

/// `GET /admin/v1/audit?tenant=&client=&subject=&event=&outcome=&since=&until=&limit=&offset=`.
pub async fn audit(call: AdminCall, uri: Uri) -> Result<Answer, Failure> {
    let query = uri.query().unwrap_or("");
    let pairs = crate::params::parse_form(query.as_bytes())?;
    audit_query(&call, &pairs).await
}

/// A time filter: RFC 3339, unix seconds, or a span back from now (`30m`, `1h`, `7d`).
fn time_param(now: i64, name: &str, value: &str) -> Result<i64, Failure> {
    let span = |unit: i64| {
        value
            .get(..value.len() - 1)
            .and_then(|n| n.parse::<i64>().ok())
            .filter(|n| (0..=100_000).contains(n))
            .map(|n| now - n * unit)
    };
    let parsed = match value.chars().last() {
        Some('m') => span(60),
        Some('h') => span(3600),
        Some('d') => span(86400),
        _ => parse_time(value),
    };
    parsed.ok_or_else(|| {
        Failure::invalid(
            name,
            format!("{name} must be RFC 3339, unix seconds, or a span such as 1h or 7d"),
        )
    })
}

/// The audit events the query `pairs` asks for, within the caller's reach. The admin API and
/// the console's audit page both read the log through this.
pub async fn audit_query(call: &AdminCall, pairs: &[(String, String)]) -> Result<Answer, Failure> {
    let (t, c) = (&call.t, &call.caller);
    let params = crate::params::Params::from_pairs(pairs.to_vec())?;
    let text = |k: &str| params.get(k).map(str::to_string);
    let mut filter = AuditFilter {
        tenant_id: text("tenant"),
        client_id: text("client"),
        subject: text("subject"),
        event: text("event"),
        outcome: None,
        since: None,
        until: None,
        limit: 100,
        offset: 0,
    };
    if let Some(o) = params.get("outcome") {
        match o {
            "success" | "failure" => filter.outcome = Some(o.to_string()),
            _ => {
                return Err(Failure::invalid(
                    "outcome",
                    "outcome must be success or failure",
                ))
            }
        }
    }
    let now = t.clock.now();
    if let Some(s) = params.get("since") {
        filter.since = Some(time_param(now, "since", s)?);
    }
    if let Some(s) = params.get("until") {
        filter.until = Some(time_param(now, "until", s)?);
    }
    if let Some(l) = params.get("limit") {
        filter.limit = l
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| Failure::invalid("limit", "limit must be 1-1000"))?;
    }
    if let Some(o) = params.get("offset") {
        filter.offset = o
            .parse::<i64>()
            .ok()
            .filter(|n| (0..=1_000_000).contains(n))
            .ok_or_else(|| Failure::invalid("offset", "offset must be 0-1000000"))?;
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
