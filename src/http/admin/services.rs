//! Admin: registered services (SPEC §4, Appendix A). Services are global, so only a caller
//! that reaches every tenant (the bootstrap token or a tenant-`default` admin) manages them.

use super::clients::{grace_seconds, new_secret};
use super::tenants::conflict;
use super::{json, Answer, Fields, GlobalCall, Id};
use crate::clock::rfc3339;
use crate::compat::internal::SERVICE_PROFILE;
use crate::failure::Failure;
use crate::reasons;
use crate::s2s::{Binding, Service};
use crate::service::Tessera;
use crate::tenants::{valid_id, ClientSecrets};
use axum::http::StatusCode;
use serde_json::{json, Value};

/// Longest ARN or SAN accepted in a binding.
const MAX_MATCH: usize = 2048;

/// Wire form of a service: never a secret or a hash.
fn service_json(s: &Service) -> Value {
    let mut v = json!({
        "name": s.name,
        "audiences": s.audiences,
        "ttl": s.ttl,
        "bindings": s.bindings,
        "created_at": rfc3339(s.created_at),
        "updated_at": rfc3339(s.updated_at),
    });
    if let Some(until) = s.secrets.previous_expires_at {
        crate::json::set(
            &mut v,
            "previous_secret_expires_at",
            Value::String(rfc3339(until)),
        );
    }
    v
}

/// Reads one binding (`/bindings/{i}`), recording every problem with its pointer.
fn binding(f: &mut Fields, i: usize, v: &Value) -> Option<Binding> {
    let at = |key: &str| format!("bindings/{i}/{key}");
    let Some(obj) = v.as_object() else {
        f.error(&format!("bindings/{i}"), "each binding must be an object");
        return None;
    };
    let ty = obj.get("type").and_then(Value::as_str).unwrap_or("");
    let (key, check): (&str, fn(&str) -> bool) = match ty {
        "secret" => ("", |_| true),
        "gateway" | "aws_iam" => ("arn", |a| a.starts_with("arn:")),
        "mtls" => ("san", |s| s.contains(':')),
        _ => {
            f.error(&at("type"), "type must be secret, gateway, aws_iam or mtls");
            return None;
        }
    };
    for other in obj.keys().filter(|k| *k != "type" && *k != key) {
        f.error(&at(other), format!("unknown field {other}"));
    }
    let value = if key.is_empty() {
        String::new()
    } else {
        match obj.get(key).and_then(Value::as_str) {
            Some(x)
                if check(x)
                    && x.len() <= MAX_MATCH
                    && !x.chars().any(|c| c.is_whitespace() || c.is_control()) =>
            {
                x.to_string()
            }
            _ => {
                let what = if key == "arn" {
                    "an ARN (arn:…; `*` matches any run of characters)"
                } else {
                    "a SAN URI such as spiffe://domain/workload"
                };
                f.error(&at(key), format!("{key} must be {what}"));
                return None;
            }
        }
    };
    Some(match ty {
        "gateway" => Binding::Gateway { arn: value },
        "aws_iam" => Binding::AwsIam { arn: value },
        "mtls" => Binding::Mtls { san: value },
        _ => Binding::Secret,
    })
}

/// Reads a create body into a service (without secrets).
fn read_service(t: &Tessera, f: &mut Fields, now: i64) -> Service {
    let name = match f.string("name", true) {
        Some(n) if valid_id(&n) => n,
        Some(_) => {
            f.error(
                "name",
                "name must be 1-128 characters of A-Z a-z 0-9 . _ - : @",
            );
            String::new()
        }
        None => String::new(),
    };
    let audiences = f.strings("audiences", false).unwrap_or_default();
    let ttl = match f.int("ttl") {
        Some(ttl) if ttl > 0 => Some(ttl),
        Some(_) => {
            f.error("ttl", "ttl must be a positive number of seconds");
            None
        }
        None => None,
    };
    let mut bindings = Vec::new();
    match f.array("bindings", true) {
        Some(items) if items.is_empty() => f.error("bindings", "at least one binding is required"),
        Some(items) => {
            for (i, item) in items.iter().enumerate() {
                if let Some(b) = binding(f, i, item) {
                    bindings.push(b);
                }
            }
        }
        None => {}
    }
    if bindings.iter().filter(|b| **b == Binding::Secret).count() > 1 {
        f.error("bindings", "at most one secret binding");
    }
    if let Some(p) = t.profile(SERVICE_PROFILE) {
        f.check_profile(SERVICE_PROFILE, p, "ttl", ttl, &audiences);
    }
    Service {
        name,
        audiences,
        ttl,
        bindings,
        secrets: ClientSecrets::default(),
        created_at: now,
        updated_at: now,
    }
}

async fn existing_service(t: &Tessera, name: &str) -> Result<Service, Failure> {
    t.store
        .get_service(name)
        .await?
        .ok_or_else(|| Failure::not_found(reasons::NOT_FOUND, format!("service {name} not found")))
}

/// `POST /admin/v1/services`: 201 with `secret` once when there is a secret binding.
pub async fn create(call: GlobalCall, mut f: Fields) -> Result<Answer, Failure> {
    let t = &call.t;
    let mut s = read_service(t, &mut f, t.clock.now());
    f.finish()?;
    let mut shown = None;
    if s.has_secret_binding() {
        let (secret, hash) = new_secret(t)?;
        s.secrets.current = Some(hash);
        shown = Some(secret);
    }
    call.recording("admin.service.created", None, &s.name)
        .create_service(&s)
        .await
        .map_err(|e| conflict(e, "service"))?;
    t.forget_service(&s.name).await;
    let mut out = service_json(&s);
    if let Some(secret) = shown {
        crate::json::set(&mut out, "secret", Value::String(secret));
    }
    Ok(json(StatusCode::CREATED, out))
}

/// `GET /admin/v1/services`.
pub async fn list(call: GlobalCall) -> Result<Answer, Failure> {
    let items: Vec<Value> = call
        .t
        .store
        .list_services()
        .await?
        .iter()
        .map(service_json)
        .collect();
    Ok(json(StatusCode::OK, json!({ "items": items })))
}

/// `GET /admin/v1/services/{name}`.
pub async fn get(call: GlobalCall, Id(name): Id) -> Result<Answer, Failure> {
    let t = &call.t;
    Ok(json(
        StatusCode::OK,
        service_json(&existing_service(t, &name).await?),
    ))
}

/// `DELETE /admin/v1/services/{name}`: the service gets no more tokens.
pub async fn delete(call: GlobalCall, Id(name): Id) -> Result<StatusCode, Failure> {
    let t = &call.t;
    existing_service(t, &name).await?;
    call.recording("admin.service.deleted", None, &name)
        .delete_service(&name)
        .await?;
    t.forget_service(&name).await;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /admin/v1/services/{name}/secret/rotate` with `{"grace_seconds"?}` →
/// `{"secret","previous_expires_at"}`; the previous secret works during the grace period.
pub async fn rotate_secret(
    call: GlobalCall,
    Id(name): Id,
    mut f: Fields,
) -> Result<Answer, Failure> {
    let t = &call.t;
    let mut s = existing_service(t, &name).await?;
    let grace = grace_seconds(&mut f);
    f.finish()?;
    if !s.has_secret_binding() {
        return Err(Failure::new(
            reasons::FIELD_INVALID,
            format!("service {name} has no secret binding to rotate"),
        ));
    }
    let now = t.clock.now();
    let (secret, hash) = new_secret(t)?;
    s.secrets.previous = s.secrets.current.replace(hash);
    s.secrets.previous_expires_at = Some(now + grace);
    s.updated_at = now;
    call.recording("admin.service.secret_rotated", None, &name)
        .update_service(&s)
        .await?;
    t.forget_service(&name).await;
    Ok(json(
        StatusCode::OK,
        json!({"secret": secret, "previous_expires_at": rfc3339(now + grace)}),
    ))
}
