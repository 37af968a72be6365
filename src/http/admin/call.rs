//! The admin caller extractors: every admin handler starts from one of them, so the bearer
//! token, the caller's address, its reach and the tenant named in the path are checked in one
//! place (SPEC §5, §7.1), before the handler runs and before its body is read.
//!
//! - [`AdminCall`]: an authenticated caller (401 otherwise), whatever its reach.
//! - [`GlobalCall`]: a caller that reaches every tenant (403 otherwise): tenants, services, keys.
//! - [`TenantCall`]: a caller that reaches the `{tenant}` of the path, which exists (403, 404).
//!
//! A refusal is a [`Failure`], rendered in the problem dialect by the failure layer.

use super::{authenticate, tenants::existing_tenant, AdminCaller, Fields};
use crate::failure::Failure;
use crate::http::{remote_ip, Remote, Shared};
use crate::service::event;
use crate::store::Store;
use crate::tenants::Tenant;
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::request::Parts;
use std::ops::Deref;

/// An authenticated admin request.
#[derive(Clone)]
pub struct AdminCall {
    /// The service.
    pub t: Shared,
    /// Who calls, from where, reaching what.
    pub caller: AdminCaller,
}

impl AdminCall {
    /// The store, set to commit the audit event of the change it makes next in the same
    /// transaction (SPEC §7.3): `event` done by this caller on `subject`.
    pub fn recording(&self, event_name: &str, tenant: Option<&str>, subject: &str) -> Store {
        let mut ev = event(self.t.clock.now(), event_name, "success");
        ev.actor = Some(self.caller.actor.clone());
        ev.tenant_id = tenant.map(str::to_string);
        ev.subject = Some(subject.to_string());
        ev.remote = Some(self.caller.remote.clone());
        if event_name.starts_with("admin.client.") {
            ev.client_id = Some(subject.to_string());
        }
        self.t.store.recording(ev)
    }
}

impl FromRequestParts<Shared> for AdminCall {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, t: &Shared) -> Result<AdminCall, Failure> {
        let Ok(remote) = Remote::from_request_parts(parts, t).await;
        let caller = authenticate(t, &parts.headers, &remote_ip(remote)).await?;
        Ok(AdminCall {
            t: t.clone(),
            caller,
        })
    }
}

/// An admin request from a caller that reaches every tenant.
pub struct GlobalCall(AdminCall);

impl Deref for GlobalCall {
    type Target = AdminCall;

    fn deref(&self) -> &AdminCall {
        &self.0
    }
}

impl GlobalCall {
    /// `call`, if its caller reaches every tenant (403 otherwise).
    pub fn of(call: AdminCall) -> Result<GlobalCall, Failure> {
        call.caller.check_all()?;
        Ok(GlobalCall(call))
    }
}

impl FromRequestParts<Shared> for GlobalCall {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, t: &Shared) -> Result<GlobalCall, Failure> {
        GlobalCall::of(AdminCall::from_request_parts(parts, t).await?)
    }
}

/// An admin request about the existing tenant `{tenant}` of the path, which the caller reaches.
pub struct TenantCall {
    call: AdminCall,
    /// The tenant id from the path.
    pub tenant: String,
    /// The tenant as read when the call was checked.
    pub record: Tenant,
}

impl TenantCall {
    /// `call` about tenant `tenant`: 403 outside the caller's reach, 404 for no such tenant.
    pub async fn for_tenant(call: AdminCall, tenant: &str) -> Result<TenantCall, Failure> {
        call.caller.check_tenant(tenant)?;
        let record = existing_tenant(&call.t, tenant).await?;
        Ok(TenantCall {
            call,
            tenant: tenant.to_string(),
            record,
        })
    }

    /// [`AdminCall::recording`] for a change inside this tenant.
    pub fn recording(&self, event_name: &str, subject: &str) -> Store {
        self.call.recording(event_name, Some(&self.tenant), subject)
    }
}

impl Deref for TenantCall {
    type Target = AdminCall;

    fn deref(&self) -> &AdminCall {
        &self.call
    }
}

impl FromRequestParts<Shared> for TenantCall {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, t: &Shared) -> Result<TenantCall, Failure> {
        let call = AdminCall::from_request_parts(parts, t).await?;
        let params = path_params(parts, t).await?;
        let Some((_, tenant)) = params.iter().find(|(name, _)| *name == "tenant") else {
            return Err(Failure::internal(&std::io::Error::other(
                "TenantCall on a route without {tenant}",
            )));
        };
        let tenant = tenant.to_string();
        TenantCall::for_tenant(call, &tenant).await
    }
}

/// The path's parameters, percent-decoded: one that is not UTF-8 names nothing (400).
async fn path_params(parts: &mut Parts, t: &Shared) -> Result<RawPathParams, Failure> {
    RawPathParams::from_request_parts(parts, t)
        .await
        .map_err(|_| Failure::malformed("the request path is not valid UTF-8"))
}

/// The id of the object a route names: its last path parameter (`{client}`, `{user}`,
/// `{service}` …), refused in the problem dialect when it is not UTF-8.
pub struct Id(pub String);

impl FromRequestParts<Shared> for Id {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, t: &Shared) -> Result<Id, Failure> {
        let params = path_params(parts, t).await?;
        match params.iter().last() {
            Some((_, id)) => Ok(Id(id.to_string())),
            None => Err(Failure::internal(&std::io::Error::other(
                "Id on a route without parameters",
            ))),
        }
    }
}

impl FromRequest<Shared> for Fields {
    type Rejection = Failure;

    /// A JSON object body (see [`super::json_body`]), refused in the problem dialect.
    async fn from_request(req: Request, _: &Shared) -> Result<Fields, Failure> {
        let (parts, body) = req.into_parts();
        super::json_body(&parts.headers, body).await
    }
}
