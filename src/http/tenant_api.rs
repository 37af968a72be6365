//! `/auth/{admin,user}/{generateToken,oidcToken}` (SPEC §3.3, problem dialect, JSON bodies):
//! reading the body into typed fields (400 with a pointer per bad field), then
//! `compat::tenant_api`.

use super::admin::{json_body, Fields};
use super::errors::{render, Dialect};
use super::oauth::no_store_json;
use super::{remote_ip, Shared};
use crate::compat::tenant_api::{self, Call, GenerateRequest};
use crate::failure::Failure;
use crate::http::Remote;
use crate::oauth::user_token::{audit_refused, Kind};
use crate::secret::Secret;
use crate::tokens::IssuedToken;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;

/// The routes, with the kind of token each issues.
pub const ROUTES: [(&str, Kind, bool); 4] = [
    ("/auth/admin/generateToken", Kind::Admin, false),
    ("/auth/user/generateToken", Kind::User, false),
    ("/auth/admin/oidcToken", Kind::Admin, true),
    ("/auth/user/oidcToken", Kind::User, true),
];

/// Reads a required, non-empty string field.
fn required(f: &mut Fields, name: &str) -> Option<String> {
    let v = f.string(name, true)?;
    if v.trim().is_empty() {
        f.error(name, format!("{name} must not be empty"));
        return None;
    }
    Some(v)
}

fn generate_request(mut f: Fields) -> Result<GenerateRequest, Failure> {
    let tenant_id = required(&mut f, "tenant_id");
    let project_id = required(&mut f, "project_id");
    let client_id = required(&mut f, "client_id");
    let email_id = required(&mut f, "email_id");
    let secret_id = f.string("secret_id", false).map(Secret::new);
    f.finish_ignoring_unknown()?;
    match (tenant_id, project_id, client_id, email_id) {
        (Some(tenant_id), Some(project_id), Some(client_id), Some(email_id)) => {
            Ok(GenerateRequest {
                tenant_id,
                project_id,
                client_id,
                email_id,
                secret_id,
            })
        }
        // finish() has already refused any missing field; this is unreachable in practice.
        _ => Err(Failure::malformed("required fields are missing")),
    }
}

fn oidc_request(mut f: Fields) -> Result<String, Failure> {
    let token = required(&mut f, "oidc_token");
    f.finish_ignoring_unknown()?;
    token.ok_or_else(|| Failure::missing("oidc_token"))
}

fn answer(issued: &IssuedToken) -> Response {
    no_store_json(
        StatusCode::OK,
        &json!({
            "access_token": issued.token,
            "expires_in": issued.expires_in,
            "token_type": "Bearer",
        }),
    )
}

/// What a request asks for, once its header and body are read.
enum Asked {
    /// generateToken.
    Generate(GenerateRequest),
    /// oidcToken with this ID token.
    Oidc(String),
}

async fn read(
    headers: &HeaderMap,
    body: Body,
    oidc: bool,
) -> Result<(Option<&str>, Asked), Failure> {
    let authorization = match headers.get(header::AUTHORIZATION) {
        None => None,
        Some(v) => Some(
            v.to_str()
                .map_err(|_| Failure::malformed("the Authorization header is not valid text"))?,
        ),
    };
    let fields = json_body(headers, body).await?;
    let asked = if oidc {
        Asked::Oidc(oidc_request(fields)?)
    } else {
        Asked::Generate(generate_request(fields)?)
    };
    Ok((authorization, asked))
}

async fn handle(
    t: &crate::service::Tessera,
    route: &'static str,
    kind: Kind,
    oidc: bool,
    remote: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, Failure> {
    let (authorization, asked) = match read(headers, body, oidc).await {
        Ok(r) => r,
        Err(f) => {
            // The core audits its own refusals; a refused header or body is audited here.
            audit_refused(t, &f, None, None, None, remote).await;
            return Err(f);
        }
    };
    let call = Call {
        kind,
        route,
        remote,
        authorization,
    };
    let issued = match asked {
        Asked::Oidc(token) => tenant_api::oidc_token(t, &token, call).await?,
        Asked::Generate(req) => tenant_api::generate_token(t, &req, call).await?,
    };
    Ok(answer(&issued))
}

/// One handler per route.
macro_rules! tenant_route {
    ($name:ident, $idx:literal) => {
        /// See [`ROUTES`].
        pub async fn $name(
            State(t): State<Shared>,
            addr: Remote,
            headers: HeaderMap,
            body: Body,
        ) -> Response {
            let (route, kind, oidc) = ROUTES[$idx];
            let remote = remote_ip(addr);
            match handle(&t, route, kind, oidc, &remote, &headers, body).await {
                Ok(r) => r,
                Err(f) => render(&f, Dialect::Problem, route),
            }
        }
    };
}

tenant_route!(admin_generate, 0);
tenant_route!(user_generate, 1);
tenant_route!(admin_oidc, 2);
tenant_route!(user_oidc, 3);
