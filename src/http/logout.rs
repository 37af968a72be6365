//! Signing out (SPEC §7.1): `POST /logout` (CSRF-protected form) and OpenID Connect
//! RP-Initiated Logout 1.0 (`GET /oauth/logout`). Both end this browser's login session and
//! clear its cookie, then return to a `post_logout_redirect_uri` registered on the client
//! (with `state`), or say "signed out". A return address that is not registered is an error
//! page, never a redirect.

use super::body::Accept;
use super::login::{error_page, html, redirect};
use super::oauth::read_params;
use super::Shared;
use crate::failure::Failure;
use crate::login::{self as session, page};
use crate::oauth::authorize::with_query;
use crate::params::{parse_form, Params};
use crate::service::{event, Tessera};
use crate::tenants::{Client, Status};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde_json::Value;
use std::sync::Arc;

/// Longest `state` echoed back.
const MAX_STATE: usize = 1024;

/// A validated logout request.
struct LogoutRequest {
    /// Where to send the browser afterwards (registered on the client).
    redirect: Option<String>,
    /// Echoed on the redirect.
    state: Option<String>,
    /// The `sub` of a valid `id_token_hint`: whom the client asks to sign out.
    hint_sub: Option<String>,
    /// The client named by `client_id` or the hint's audience.
    client: Option<Arc<Client>>,
}

/// The claims of an ID token this issuer signed (expired ones too: OIDC RP-Initiated
/// Logout §2 lets a client name a user whose ID token has expired).
fn id_token_claims(t: &Tessera, token: &str) -> Option<Value> {
    let v = t.keys.verify(token).ok()?;
    let typ_ok = v.header.get("typ").and_then(Value::as_str) == Some("JWT");
    let iss_ok = v.claims.get("iss").and_then(Value::as_str) == Some(t.settings.issuer.as_str());
    (typ_ok && iss_ok).then_some(v.claims)
}

async fn validate(t: &Tessera, p: &Params) -> Result<LogoutRequest, Failure> {
    let hint = match p.get("id_token_hint") {
        None => None,
        Some(h) => Some(id_token_claims(t, h).ok_or_else(|| {
            Failure::invalid(
                "id_token_hint",
                "id_token_hint is not an ID token of this issuer",
            )
        })?),
    };
    let hint_aud = hint.as_ref().and_then(|c| match c.get("aud") {
        Some(Value::String(a)) => Some(a.clone()),
        Some(Value::Array(list)) => list.first().and_then(Value::as_str).map(str::to_string),
        _ => None,
    });
    let client_id = match (p.get("client_id"), hint_aud.as_deref()) {
        (Some(c), Some(a)) if c != a => {
            return Err(Failure::invalid(
                "client_id",
                "client_id differs from the audience of id_token_hint",
            ))
        }
        (Some(c), _) => Some(c.to_string()),
        (None, a) => a.map(str::to_string),
    };
    let client = match client_id.as_deref() {
        Some(id) if id.len() <= 255 => t.client(id).await?.filter(|c| c.status == Status::Active),
        _ => None,
    };
    let redirect = match p.get("post_logout_redirect_uri") {
        None => None,
        Some(u)
            if client
                .as_ref()
                .is_some_and(|c| c.post_logout_redirect_uris.iter().any(|r| r == u)) =>
        {
            Some(u.to_string())
        }
        Some(_) => {
            return Err(Failure::invalid(
                "post_logout_redirect_uri",
                "post_logout_redirect_uri is not registered for this client",
            ))
        }
    };
    let state = p.get("state").map(str::to_string);
    if state.as_ref().is_some_and(|s| s.len() > MAX_STATE) {
        return Err(Failure::invalid("state", "state is too long"));
    }
    let hint_sub = hint
        .as_ref()
        .and_then(|c| c.get("sub"))
        .and_then(Value::as_str)
        .map(str::to_string);
    Ok(LogoutRequest {
        redirect,
        state,
        hint_sub,
        client,
    })
}

/// Ends the session and answers: back to the client, or the "signed out" page.
async fn finish(
    t: &Tessera,
    headers: &HeaderMap,
    req: &LogoutRequest,
    status: StatusCode,
) -> Result<Response, Failure> {
    let user = session::session_user(t, headers).await?;
    let cleared = session::end_session(t, headers).await?;
    if let Some(user) = user {
        let mut ev = event(t.clock.now(), "logout", "success");
        ev.subject = Some(user);
        ev.client_id = req.client.as_ref().map(|c| c.client_id.clone());
        ev.tenant_id = req.client.as_ref().map(|c| c.tenant_id.clone());
        t.audit(ev).await;
    }
    Ok(match &req.redirect {
        Some(uri) => {
            let to = match req.state.as_deref() {
                Some(s) => with_query(uri, &[("state", s)]),
                None => uri.clone(),
            };
            redirect(status, &to, &[cleared])
        }
        None => html(StatusCode::OK, page::signed_out(), &[cleared]),
    })
}

/// `GET /oauth/logout` (OpenID Connect RP-Initiated Logout 1.0 §2). With a valid
/// `id_token_hint` naming the signed-in user (or nobody signed in) the session ends at once;
/// otherwise the user confirms on a page whose form posts to `/logout`, so a cross-site link
/// alone cannot sign anyone out.
pub async fn rp_logout(State(t): State<Shared>, headers: HeaderMap, uri: Uri) -> Response {
    let result = async {
        let query = uri.query().unwrap_or("");
        let params = Params::from_pairs(parse_form(query.as_bytes())?)?;
        let req = validate(&t, &params).await?;
        let current = session::session_user(&t, &headers).await?;
        let confirmed = req.hint_sub.is_some() && (current.is_none() || current == req.hint_sub);
        if confirmed {
            return finish(&t, &headers, &req, StatusCode::FOUND).await;
        }
        let (binding, new_cookie) = session::csrf_binding(&t, &headers)?;
        let csrf = session::csrf_token(&t, &binding);
        let mut fields = Vec::new();
        for name in ["client_id", "post_logout_redirect_uri", "state"] {
            if let Some(v) = params.get(name) {
                fields.push((name, v));
            }
        }
        let cookies: Vec<String> = new_cookie.into_iter().collect();
        Ok(html(
            StatusCode::OK,
            page::logout_confirm(&csrf, &fields),
            &cookies,
        ))
    }
    .await;
    result.unwrap_or_else(|f| error_page(&f))
}

/// `POST /logout`: the form of the confirmation page (or of any page of the client), with
/// this browser's CSRF token; `client_id`, `post_logout_redirect_uri` and `state` optional.
pub async fn logout(State(t): State<Shared>, req: Request) -> Response {
    let result = async {
        let (headers, params) = read_params(req, Accept::FormOnly).await?;
        if !session::csrf_ok(&t, &headers, params.get("csrf")) {
            return Err(super::login::csrf_failure());
        }
        let req = validate(&t, &params).await?;
        finish(&t, &headers, &req, StatusCode::SEE_OTHER).await
    }
    .await;
    result.unwrap_or_else(|f| error_page(&f))
}
