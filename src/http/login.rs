//! Browser routes of the login flow (HTML): `GET /oauth/authorize`, `POST /login`,
//! `POST /login/consent`; and `GET|POST /userinfo` (JSON, oauth dialect).
//!
//! The authorization request travels with the user as the hidden form field `request` (the
//! original query string) and is validated again on every post, so no node keeps state
//! between the page and the post beyond the database session.

use super::body::Accept;
use super::errors::{render, Dialect};
use super::oauth::{no_store_json, read_params};
use super::{remote_ip, Shared};
use crate::failure::Failure;
use crate::http::Remote;
use crate::login::page::{self, LoginPage};
use crate::login::{self as session, upstream as upstream_login, LoginError};
use crate::oauth::authorize::{self, AuthorizeError, AuthorizeRequest};
use crate::oauth::userinfo;
use crate::reasons;
use crate::service::{event, Tessera};
use crate::store::LoginSession;
use crate::tenants::User;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// The one message for every failed sign-in: it never tells which field was wrong.
pub const LOGIN_FAILED: &str = "Incorrect e-mail or password.";

/// Headers every page carries: no caching, no framing, no scripts, no referrer.
pub(super) fn page_headers(cookies: &[String]) -> HeaderMap {
    let mut h = HeaderMap::new();
    let fixed: [(HeaderName, &'static str); 7] = [
        (header::CACHE_CONTROL, "no-store"),
        (header::PRAGMA, "no-cache"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
        ),
        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
    ];
    for (k, v) in fixed {
        h.insert(k, HeaderValue::from_static(v));
    }
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            h.append(header::SET_COOKIE, v);
        }
    }
    h
}

pub(super) fn html(status: StatusCode, body: String, cookies: &[String]) -> Response {
    (status, page_headers(cookies), body).into_response()
}

pub(super) fn redirect(status: StatusCode, location: &str, cookies: &[String]) -> Response {
    let mut h = page_headers(cookies);
    h.remove(header::CONTENT_TYPE);
    match HeaderValue::from_str(location) {
        Ok(v) => {
            h.insert(header::LOCATION, v);
            (status, h).into_response()
        }
        Err(_) => error_page(&Failure::malformed("the redirect URI cannot be used")),
    }
}

pub(super) fn error_page(f: &Failure) -> Response {
    f.log_cause("login");
    metrics::counter!("tessera_failures_total", "reason" => f.reason.code.to_string()).increment(1);
    let status = StatusCode::from_u16(f.status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut r = html(status, page::error(f.reason.title, &f.detail), &[]);
    if let Some(secs) = f.retry_after {
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    r
}

fn authorize_error(t: &Tessera, e: AuthorizeError, status: StatusCode) -> Response {
    match (e.location(&t.settings.issuer), e) {
        (Some(url), _) => redirect(status, &url, &[]),
        (None, AuthorizeError::Page(f)) => error_page(&f),
        (None, AuthorizeError::Redirect { description, .. }) => {
            error_page(&Failure::malformed(description))
        }
    }
}

/// Renders the login page (setting the CSRF cookie when the browser has none), with a
/// "Sign in with …" button per trusted upstream provider of the tenant.
async fn login_page(
    t: &Tessera,
    headers: &HeaderMap,
    req: &AuthorizeRequest,
    query: &str,
    email: &str,
    error: Option<&str>,
    mut cookies: Vec<String>,
) -> Result<Response, Failure> {
    let (binding, new_cookie) = session::csrf_binding(t, headers)?;
    cookies.extend(new_cookie);
    let upstreams: Vec<(String, String)> = t
        .store
        .list_upstreams(&req.client.tenant_id)
        .await?
        .into_iter()
        .map(|u| {
            let label = u.name.clone().unwrap_or_else(|| u.issuer.clone());
            (u.id, label)
        })
        .collect();
    let body = page::login(&LoginPage {
        upstreams: &upstreams,
        client_name: &req.client.name,
        tenant: &req.client.tenant_id,
        request: query,
        csrf: &session::csrf_token(t, &binding),
        email,
        error,
    });
    Ok(html(StatusCode::OK, body, &cookies))
}

/// After the user is known: the consent screen for clients that want one, else the code.
#[allow(clippy::too_many_arguments)]
async fn proceed(
    t: &Tessera,
    headers: &HeaderMap,
    req: &AuthorizeRequest,
    query: &str,
    known: Option<(LoginSession, User)>,
    cookies: Vec<String>,
    status: StatusCode,
) -> Result<Response, Failure> {
    let known = match known {
        Some(k) => Some(k),
        None if req.prompt_login => None,
        None => session::current_session(t, headers, &req.client.tenant_id).await?,
    };
    let Some((s, user)) = known else {
        if req.prompt_none {
            return Ok(authorize_error(
                t,
                req.error("login_required", "the user is not logged in"),
                status,
            ));
        }
        return login_page(t, headers, req, query, "", None, cookies).await;
    };
    if req.client.consent_required {
        if req.prompt_none {
            return Ok(authorize_error(
                t,
                req.error("consent_required", "the user must consent"),
                status,
            ));
        }
        let (binding, new_cookie) = session::csrf_binding(t, headers)?;
        let mut cookies = cookies;
        cookies.extend(new_cookie);
        let scopes = authorize::user_scopes(t, &user, &req.scopes).await?;
        let body = page::consent(
            &req.client.name,
            &scopes,
            query,
            &session::csrf_token(t, &binding),
        );
        return Ok(html(StatusCode::OK, body, &cookies));
    }
    let url = authorize::issue_code(t, req, &s, &user).await?;
    Ok(redirect(status, &url, &cookies))
}

/// `GET /oauth/authorize` (RFC 6749 §4.1.1).
pub async fn authorize(State(t): State<Shared>, headers: HeaderMap, uri: Uri) -> Response {
    let query = uri.query().unwrap_or("");
    let req = match authorize::validate(&t, query).await {
        Ok(r) => r,
        Err(e) => return authorize_error(&t, e, StatusCode::FOUND),
    };
    proceed(
        &t,
        &headers,
        &req,
        query,
        None,
        Vec::new(),
        StatusCode::FOUND,
    )
    .await
    .unwrap_or_else(|f| error_page(&f))
}

pub(super) fn csrf_failure() -> Failure {
    Failure::new(reasons::CSRF_FAILED, "The sign-in form expired or did not come from this site. Go back to the application and start again.")
}

/// Reads a posted form, checks its CSRF token and re-validates its authorization request.
async fn posted(
    t: &Tessera,
    req: Request,
) -> Result<(HeaderMap, crate::params::Params, AuthorizeRequest, String), Response> {
    let (headers, params) = read_params(req, Accept::FormOnly)
        .await
        .map_err(|f| error_page(&f))?;
    if !session::csrf_ok(t, &headers, params.get("csrf")) {
        return Err(error_page(&csrf_failure()));
    }
    let query = params.get("request").unwrap_or("").to_string();
    let areq = authorize::validate(t, &query)
        .await
        .map_err(|e| authorize_error(t, e, StatusCode::SEE_OTHER))?;
    Ok((headers, params, areq, query))
}

/// `POST /login`: e-mail + password; on success a session and the next step of the flow.
pub async fn login(State(t): State<Shared>, addr: Remote, req: Request) -> Response {
    let remote = remote_ip(addr);
    let (headers, params, areq, query) = match posted(&t, req).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let email = params.get("email").unwrap_or("");
    let password = params.get("password").unwrap_or("");
    let result = session::check_password(
        &t,
        &areq.client.tenant_id,
        &areq.client.client_id,
        email,
        password,
        &remote,
    )
    .await;
    let r = match result {
        Ok(user) => match session::start_session(&t, &user).await {
            Ok((s, cookie)) => {
                proceed(
                    &t,
                    &headers,
                    &areq,
                    &query,
                    Some((s, user)),
                    vec![cookie],
                    StatusCode::SEE_OTHER,
                )
                .await
            }
            Err(f) => Err(f),
        },
        Err(LoginError::Invalid) => {
            login_page(
                &t,
                &headers,
                &areq,
                &query,
                email,
                Some(LOGIN_FAILED),
                Vec::new(),
            )
            .await
        }
        Err(LoginError::Limited(retry)) => {
            let mut f = Failure::new(
                reasons::RATE_LIMITED,
                format!("Too many failed sign-ins. Try again in {retry} seconds."),
            );
            f.retry_after = Some(retry);
            Err(f)
        }
        Err(LoginError::Internal(f)) => Err(f),
    };
    r.unwrap_or_else(|f| error_page(&f))
}

/// `POST /login/upstream`: leaves for the chosen upstream provider ("Sign in with …").
pub async fn upstream_start(State(t): State<Shared>, req: Request) -> Response {
    let (_headers, params, areq, query) = match posted(&t, req).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let r = async {
        let id = params
            .get("upstream")
            .ok_or_else(|| Failure::missing("upstream"))?;
        let up = upstream_login::trusted(&t, &areq.client.tenant_id, id).await?;
        let (endpoint, _) = t.upstreams.login_endpoints(&up.issuer).await?;
        let csrf = params.get("csrf").unwrap_or("");
        let pending = upstream_login::Pending::new(&t, &up.id, &query, csrf)?;
        let url = upstream_login::authorize_url(&t, &endpoint, &up.client_id, &pending)?;
        Ok::<_, Failure>(redirect(StatusCode::SEE_OTHER, &url, &[]))
    }
    .await;
    r.unwrap_or_else(|f| error_page(&f))
}

/// `GET /login/upstream/callback`: the provider's answer; on success the user is signed in
/// and the original authorization request goes on.
pub async fn upstream_callback(
    State(t): State<Shared>,
    addr: Remote,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let remote = remote_ip(addr);
    let r = async {
        let pairs = crate::params::parse_form(uri.query().unwrap_or("").as_bytes())?;
        let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let pending = get("state")
            .and_then(|s| upstream_login::Pending::from_state(&t, s))
            .ok_or_else(|| {
                Failure::malformed(
                    "the sign-in state is missing, expired or not valid; start again",
                )
            })?;
        // Bound to this browser: its CSRF cookie must still give the token the state carries.
        let csrf_cookie = session::cookie_name(&t, session::CSRF_COOKIE);
        let bound = session::cookie(&headers, &csrf_cookie).is_some_and(|b| {
            crate::crypto::ct_eq(
                session::csrf_token(&t, b).as_bytes(),
                pending.csrf.as_bytes(),
            )
        });
        if !bound {
            return Err(csrf_failure());
        }
        let areq = match authorize::validate(&t, &pending.request).await {
            Ok(r) => r,
            Err(e) => return Ok(authorize_error(&t, e, StatusCode::SEE_OTHER)),
        };
        if get("error").is_some() {
            let e = areq.error(
                "access_denied",
                "the upstream provider did not sign the user in",
            );
            return Ok(authorize_error(&t, e, StatusCode::SEE_OTHER));
        }
        let code = get("code").ok_or_else(|| Failure::missing("code"))?;
        let up = upstream_login::trusted(&t, &areq.client.tenant_id, &pending.upstream).await?;
        let (_, token_endpoint) = t.upstreams.login_endpoints(&up.issuer).await?;
        let callback = upstream_login::callback_url(&t);
        let id_token = t
            .upstreams
            .redeem_code(
                &token_endpoint,
                &[
                    ("grant_type", "authorization_code"),
                    ("code", code),
                    ("redirect_uri", &callback),
                    ("client_id", &up.client_id),
                    ("code_verifier", &pending.verifier),
                ],
            )
            .await?;
        let verified = t
            .upstreams
            .verify_id_token(&areq.client.tenant_id, &id_token)
            .await?;
        if verified.upstream.id != up.id || verified.nonce.as_deref() != Some(&pending.nonce) {
            return Err(crate::oauth::upstream::invalid(
                "the upstream ID token does not belong to this sign-in",
            ));
        }
        // The e-mail alone picks the user: it must be one the provider says it verified.
        if verified.email_verified != Some(true) {
            return Err(crate::oauth::upstream::invalid(
                "the upstream provider does not say the e-mail is verified",
            ));
        }
        let user = session::upstream_user(&t, &areq.client, &verified, &remote).await?;
        let (s, cookie) = session::start_session(&t, &user).await?;
        proceed(
            &t,
            &headers,
            &areq,
            &pending.request,
            Some((s, user)),
            vec![cookie],
            StatusCode::SEE_OTHER,
        )
        .await
    }
    .await;
    r.unwrap_or_else(|f| error_page(&f))
}

/// `POST /login/consent`: `decision=allow` issues the code, anything else is `access_denied`.
pub async fn consent(State(t): State<Shared>, addr: Remote, req: Request) -> Response {
    let (headers, params, areq, query) = match posted(&t, req).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let r = async {
        let Some((s, user)) =
            session::current_session(&t, &headers, &areq.client.tenant_id).await?
        else {
            return login_page(&t, &headers, &areq, &query, "", None, Vec::new()).await;
        };
        let allow = params.get("decision") == Some("allow");
        let mut ev = event(
            t.clock.now(),
            if allow {
                "consent.granted"
            } else {
                "consent.denied"
            },
            "success",
        );
        ev.actor = Some(user.id.clone());
        ev.subject = Some(user.id.clone());
        ev.tenant_id = Some(user.tenant_id.clone());
        ev.client_id = Some(areq.client.client_id.clone());
        ev.remote = Some(remote_ip(addr));
        t.audit(ev).await;
        if !allow {
            return Ok(authorize_error(
                &t,
                areq.error("access_denied", "the user denied the request"),
                StatusCode::SEE_OTHER,
            ));
        }
        let url = authorize::issue_code(&t, &areq, &s, &user).await?;
        Ok(redirect(StatusCode::SEE_OTHER, &url, &[]))
    }
    .await;
    r.unwrap_or_else(|f| error_page(&f))
}

/// `GET|POST /userinfo` (OIDC Core §5.3).
pub async fn userinfo(
    State(t): State<Shared>,
    cert: super::mtls::PeerCertificate,
    headers: HeaderMap,
) -> Response {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    match userinfo::userinfo(&t, userinfo::bearer(auth), cert.0.as_deref()).await {
        Ok(v) => no_store_json(StatusCode::OK, &v),
        Err(f) => render(&f, Dialect::OAuth, "/userinfo"),
    }
}
