//! The device authorization grant's routes (RFC 8628): `POST /oauth/device_authorization`
//! (oauth dialect, client-authenticated like the token endpoint) and the verification page
//! `GET|POST /device` (HTML). The page asks for the user code, signs the user in through the
//! login page (`/login`, "Sign in with …", or the browser's live session; see
//! [`super::login::Flow`]), asks consent, and says whether the device may continue. Every
//! post carries the CSRF token and the user code, and looks the code up again (counted by
//! the failure limiter), so nothing is kept between the steps but the login session.

use super::body::Accept;
use super::errors::{render, Dialect};
use super::login::{csrf_failure, error_page, html, login_page, proceed, Csrf, Flow};
use super::oauth::{authorization, no_store_json, read_params};
use super::{remote_ip, Remote, Shared};
use crate::failure::Failure;
use crate::login::page::{self, DeviceCodePage, DeviceConsentPage};
use crate::login::{self as session};
use crate::oauth::client_auth::{authenticate_with_certificate, presented};
use crate::oauth::device::{self, DeviceRequest};
use crate::oauth::grant::GrantType;
use crate::reasons;
use crate::service::Tessera;
use crate::tenants::User;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;

/// `POST /oauth/device_authorization` (RFC 8628 §3.1): `device_code`, `user_code`,
/// `verification_uri(_complete)`, `expires_in`, `interval`.
pub async fn device_authorization(State(t): State<Shared>, addr: Remote, req: Request) -> Response {
    const ROUTE: &str = "/oauth/device_authorization";
    let remote = remote_ip(addr);
    let result = async {
        let cert = super::mtls::peer_certificate(&req);
        let (headers, params) = read_params(req, Accept::FormOrJson).await?;
        let presented = presented(authorization(&headers)?, &params)?;
        let public_ok = GrantType::DeviceCode.allows_public_clients();
        let client =
            authenticate_with_certificate(&t, &presented, cert.as_deref(), &remote, public_ok)
                .await?;
        device::authorize(&t, &client, &params, &remote).await
    }
    .await;
    match result {
        Ok(body) => no_store_json(StatusCode::OK, &body),
        Err(f) => render(&f, Dialect::OAuth, ROUTE),
    }
}

/// The code entry page (setting the CSRF cookie when the browser has none).
fn code_page(
    t: &Tessera,
    headers: &HeaderMap,
    user_code: &str,
    error: Option<&str>,
) -> Result<Response, Failure> {
    let (binding, cookie) = session::csrf_binding(t, headers)?;
    let body = page::device_code(&DeviceCodePage {
        csrf: &session::csrf_token(t, &binding),
        user_code,
        error,
    });
    Ok(html(StatusCode::OK, body, &Vec::from_iter(cookie)))
}

/// The consent screen for `req`, shown to the signed-in `user`.
pub(super) async fn consent_page(
    t: &Tessera,
    headers: &HeaderMap,
    req: &DeviceRequest,
    user: &User,
    mut cookies: Vec<String>,
) -> Result<Response, Failure> {
    let (binding, cookie) = session::csrf_binding(t, headers)?;
    cookies.extend(cookie);
    let scopes = device::scopes_for(t, req, user).await?;
    let body = page::device_consent(&DeviceConsentPage {
        client_name: &req.client.name,
        tenant: &req.client.tenant_id,
        email: &user.email,
        user_code: &req.display_code(),
        scopes: &scopes,
        csrf: &session::csrf_token(t, &binding),
    });
    Ok(html(StatusCode::OK, body, &cookies))
}

/// `GET /device[?user_code=…]` (RFC 8628 §3.3, §3.3.1): asks for the code, prefilled from
/// `verification_uri_complete`. Nothing is looked up until the user posts it.
pub async fn page(State(t): State<Shared>, headers: HeaderMap, uri: Uri) -> Response {
    let pairs = crate::params::parse_form(uri.query().unwrap_or("").as_bytes()).unwrap_or_default();
    let prefill = pairs
        .iter()
        .find(|(k, _)| k == "user_code")
        .map(|(_, v)| v.as_str())
        .filter(|v| v.len() <= 64)
        .unwrap_or("");
    code_page(&t, &headers, prefill, None).unwrap_or_else(|f| error_page(&f))
}

/// `POST /device`: the code entered (then consent, or the login page first), or with
/// `decision=allow|deny` the signed-in user's answer (then the closing page). A wrong code
/// shows the entry page again and counts as a failed authentication; past the limit the
/// answer is the 429 page with `Retry-After`.
pub async fn post(State(t): State<Shared>, addr: Remote, req: Request) -> Response {
    let remote = remote_ip(addr);
    let (headers, params) = match read_params(req, Accept::FormOnly).await {
        Ok(p) => p,
        Err(f) => return error_page(&f),
    };
    if !session::csrf_ok(&t, &headers, params.get("csrf")) {
        return error_page(&csrf_failure());
    }
    let entered = params.get("user_code").unwrap_or("");
    let r = async {
        let req = match device::find(&t, entered, &remote).await {
            Ok(r) => r,
            Err(f) if f.reason == reasons::USER_CODE_INVALID => {
                let shown = if entered.len() <= 64 { entered } else { "" };
                return code_page(&t, &headers, shown, Some(&f.detail));
            }
            Err(f) => return Err(f),
        };
        let query = req.login_request();
        let Some(decision) = params.get("decision") else {
            let flow = Flow::Device(req);
            return proceed(
                &t,
                &headers,
                &Csrf::of(&t, &headers)?,
                &flow,
                &query,
                None,
                Vec::new(),
                StatusCode::OK,
            )
            .await;
        };
        let Some((s, user)) = session::current_session(&t, &headers, &req.client.tenant_id).await?
        else {
            let flow = Flow::Device(req);
            let csrf = Csrf::of(&t, &headers)?;
            return login_page(&t, &csrf, &flow, &query, "", None, Vec::new()).await;
        };
        let approve = decision == "allow";
        device::decide(&t, &req, &s, &user, approve, &remote).await?;
        Ok(html(
            StatusCode::OK,
            page::device_done(&req.client.name, approve),
            &[],
        ))
    }
    .await;
    r.unwrap_or_else(|f| error_page(&f))
}
