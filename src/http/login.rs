//! Browser routes of the login flow (HTML): `GET /oauth/authorize`, `POST /login`,
//! `POST /login/consent`; and `GET|POST /userinfo` (JSON, oauth dialect).
//!
//! The authorization request travels with the user as the hidden form field `request` (the
//! original query string) and is validated again on every post, so no node keeps state
//! between the page and the post beyond the database session (and, for a pushed request, its
//! row: see `oauth::par`). A device's sign-in (RFC 8628,
//! `/device`) goes through the same pages with its user code in that field ([`Flow`]).

use super::body::Accept;
use super::errors::{render, Dialect};
use super::oauth::{dpop_proof, no_store_json, read_params, with_nonce};
use super::{remote_ip, Shared};
use crate::failure::Failure;
use crate::http::Remote;
use crate::login::page::{self, LoginPage};
use crate::login::{self as session, upstream as upstream_login, LoginError};
use crate::oauth::authorize::{self, AuthorizeError, AuthorizeRequest};
use crate::oauth::device::{self, DeviceRequest};
use crate::oauth::userinfo;
use crate::reasons;
use crate::service::{event, Tessera};
use crate::store::LoginSession;
use crate::tenants::{Client, User};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
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

/// This browser's CSRF binding, worked out once per request: the forms' tokens are made
/// from it and a pushed request is opened for it (`oauth::par`), so both must be the same.
pub(super) struct Csrf {
    /// The `tessera_csrf` cookie's value, or the new one.
    binding: String,
    /// The `Set-Cookie` giving the browser `binding`, when it had none.
    set_cookie: Option<String>,
}

impl Csrf {
    /// The binding of a browser that came without one gets a new cookie (set by the page).
    pub(super) fn of(t: &Tessera, headers: &HeaderMap) -> Result<Csrf, Failure> {
        let (binding, set_cookie) = session::csrf_binding(t, headers)?;
        Ok(Csrf {
            binding,
            set_cookie,
        })
    }
}

/// The CSRF binding of a browser that passed the CSRF check (so it has the cookie).
fn cookie_binding(t: &Tessera, headers: &HeaderMap) -> Option<Csrf> {
    session::cookie(headers, &session::cookie_name(t, session::CSRF_COOKIE)).map(|b| Csrf {
        binding: b.to_string(),
        set_cookie: None,
    })
}

/// What a sign-in is for: an authorization request (RFC 6749 §4.1.1), or a device's request
/// named by its user code (RFC 8628 §3.3). The login form's hidden `request` field carries
/// either, and every post validates it again.
pub(super) enum Flow {
    /// `/oauth/authorize`: the request's query string is the field.
    Authorize(AuthorizeRequest),
    /// `/device`: the field is [`DeviceRequest::login_request`].
    Device(DeviceRequest),
}

impl Flow {
    /// The client the user signs in to.
    fn client(&self) -> &Client {
        match self {
            Flow::Authorize(r) => &r.client,
            Flow::Device(d) => &d.client,
        }
    }

    /// The flow a `request` field names, validated again (a user code counts as an attempt
    /// of the failure limiter from `remote`). Errors are the response to give.
    async fn parse(
        t: &Tessera,
        request: &str,
        csrf: &Csrf,
        remote: &str,
        status: StatusCode,
    ) -> Result<Flow, Response> {
        if let Some(code) = device::from_login_request(request) {
            return device::find(t, code, remote)
                .await
                .map(Flow::Device)
                .map_err(|f| error_page(&f));
        }
        authorize::validate(t, request, &csrf.binding)
            .await
            .map(Flow::Authorize)
            .map_err(|e| authorize_error(t, e, status))
    }
}

/// Renders the login page (setting the CSRF cookie when the browser has none), with a
/// "Sign in with …" button per trusted upstream provider of the tenant.
pub(super) async fn login_page(
    t: &Tessera,
    csrf: &Csrf,
    flow: &Flow,
    query: &str,
    email: &str,
    error: Option<&str>,
    mut cookies: Vec<String>,
) -> Result<Response, Failure> {
    cookies.extend(csrf.set_cookie.clone());
    let client = flow.client();
    let upstreams: Vec<(String, String)> = t
        .store
        .list_upstreams(&client.tenant_id)
        .await?
        .into_iter()
        .map(|u| {
            let label = u.name.clone().unwrap_or_else(|| u.issuer.clone());
            (u.id, label)
        })
        .collect();
    let body = page::login(&LoginPage {
        upstreams: &upstreams,
        client_name: &client.name,
        tenant: &client.tenant_id,
        request: query,
        csrf: &session::csrf_token(t, &csrf.binding),
        email,
        error,
    });
    Ok(html(StatusCode::OK, body, &cookies))
}

/// After the user is known: the consent screen for clients that want one, else the code.
/// A device's request always asks for consent.
#[allow(clippy::too_many_arguments)]
pub(super) async fn proceed(
    t: &Tessera,
    headers: &HeaderMap,
    csrf: &Csrf,
    flow: &Flow,
    query: &str,
    known: Option<(LoginSession, User)>,
    cookies: Vec<String>,
    status: StatusCode,
) -> Result<Response, Failure> {
    let req = match flow {
        Flow::Authorize(r) => r,
        Flow::Device(d) => {
            let known = match known {
                Some(k) => Some(k),
                None => session::current_session(t, headers, &d.client.tenant_id).await?,
            };
            return match known {
                Some((_, user)) => super::device::consent_page(t, headers, d, &user, cookies).await,
                None => login_page(t, csrf, flow, query, "", None, cookies).await,
            };
        }
    };
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
        return login_page(t, csrf, flow, query, "", None, cookies).await;
    };
    if req.client.consent_required {
        if req.prompt_none {
            return Ok(authorize_error(
                t,
                req.error("consent_required", "the user must consent"),
                status,
            ));
        }
        let mut cookies = cookies;
        cookies.extend(csrf.set_cookie.clone());
        let scopes = authorize::user_scopes(t, &user, &req.scopes).await?;
        let body = page::consent(
            &req.client.name,
            &scopes,
            query,
            &session::csrf_token(t, &csrf.binding),
        );
        return Ok(html(StatusCode::OK, body, &cookies));
    }
    let url = authorize::issue_code(t, req, &s, &user).await?;
    Ok(redirect(status, &url, &cookies))
}

/// `GET /oauth/authorize` (RFC 6749 §4.1.1).
pub async fn authorize(State(t): State<Shared>, headers: HeaderMap, uri: Uri) -> Response {
    let query = uri.query().unwrap_or("");
    let csrf = match Csrf::of(&t, &headers) {
        Ok(c) => c,
        Err(f) => return error_page(&f),
    };
    let req = match authorize::validate(&t, query, &csrf.binding).await {
        Ok(r) => Flow::Authorize(r),
        Err(e) => return authorize_error(&t, e, StatusCode::FOUND),
    };
    proceed(
        &t,
        &headers,
        &csrf,
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

/// A posted form of the login flow, its CSRF token checked and its request validated again.
struct Posted {
    headers: HeaderMap,
    params: crate::params::Params,
    /// The browser's binding (its cookie: the CSRF check needs one).
    csrf: Csrf,
    flow: Flow,
    /// The request field (an authorization request's query string, or a device's), as posted.
    query: String,
}

/// Reads a posted form, checks its CSRF token and re-validates its request (a device's user
/// code as an attempt from `remote`).
async fn posted(t: &Tessera, req: Request, remote: &str) -> Result<Posted, Response> {
    let (headers, params) = read_params(req, Accept::FormOnly)
        .await
        .map_err(|f| error_page(&f))?;
    let csrf = cookie_binding(t, &headers)
        .filter(|_| session::csrf_ok(t, &headers, params.get("csrf")))
        .ok_or_else(|| error_page(&csrf_failure()))?;
    let query = params.get("request").unwrap_or("").to_string();
    let flow = Flow::parse(t, &query, &csrf, remote, StatusCode::SEE_OTHER).await?;
    Ok(Posted {
        headers,
        params,
        csrf,
        flow,
        query,
    })
}

/// `POST /login`: e-mail + password; on success a session and the next step of the flow.
pub async fn login(State(t): State<Shared>, addr: Remote, req: Request) -> Response {
    let remote = remote_ip(addr);
    let Posted {
        headers,
        params,
        csrf,
        flow,
        query,
    } = match posted(&t, req, &remote).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let email = params.get("email").unwrap_or("");
    let password = params.get("password").unwrap_or("");
    let result = session::check_password(
        &t,
        &flow.client().tenant_id,
        &flow.client().client_id,
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
                    &csrf,
                    &flow,
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
                &csrf,
                &flow,
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
pub async fn upstream_start(State(t): State<Shared>, addr: Remote, req: Request) -> Response {
    let Posted {
        params,
        flow,
        query,
        ..
    } = match posted(&t, req, &remote_ip(addr)).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let r = async {
        let id = params
            .get("upstream")
            .ok_or_else(|| Failure::missing("upstream"))?;
        let up = upstream_login::trusted(&t, &flow.client().tenant_id, id).await?;
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
        let csrf = cookie_binding(&t, &headers)
            .filter(|c| {
                crate::crypto::ct_eq(
                    session::csrf_token(&t, &c.binding).as_bytes(),
                    pending.csrf.as_bytes(),
                )
            })
            .ok_or_else(csrf_failure)?;
        let flow =
            match Flow::parse(&t, &pending.request, &csrf, &remote, StatusCode::SEE_OTHER).await {
                Ok(r) => r,
                Err(r) => return Ok(r),
            };
        if get("error").is_some() {
            const NOT_SIGNED_IN: &str = "the upstream provider did not sign the user in";
            return Ok(match &flow {
                Flow::Authorize(r) => authorize_error(
                    &t,
                    r.error("access_denied", NOT_SIGNED_IN),
                    StatusCode::SEE_OTHER,
                ),
                Flow::Device(_) => error_page(
                    &Failure::new(reasons::USER_NOT_FOUND, NOT_SIGNED_IN)
                        .with_error("access_denied")
                        .with_status(400),
                ),
            });
        }
        let code = get("code").ok_or_else(|| Failure::missing("code"))?;
        let up = upstream_login::trusted(&t, &flow.client().tenant_id, &pending.upstream).await?;
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
            .verify_id_token(&flow.client().tenant_id, &id_token)
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
        let user = session::upstream_user(&t, flow.client(), &verified, &remote).await?;
        let (s, cookie) = session::start_session(&t, &user).await?;
        proceed(
            &t,
            &headers,
            &csrf,
            &flow,
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
    let Posted {
        headers,
        params,
        csrf,
        flow,
        query,
    } = match posted(&t, req, &remote_ip(addr)).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    // A device's consent screen posts to `/device`.
    let Flow::Authorize(areq) = &flow else {
        return error_page(&Failure::malformed("this form is not for a device"));
    };
    let r = async {
        let Some((s, user)) =
            session::current_session(&t, &headers, &areq.client.tenant_id).await?
        else {
            return login_page(&t, &csrf, &flow, &query, "", None, Vec::new()).await;
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
        let url = authorize::issue_code(&t, areq, &s, &user).await?;
        Ok(redirect(StatusCode::SEE_OTHER, &url, &[]))
    }
    .await;
    r.unwrap_or_else(|f| error_page(&f))
}

/// `GET|POST /userinfo` (OIDC Core §5.3), with bearer or DPoP-bound tokens (RFC 9449 §7).
pub async fn userinfo(
    State(t): State<Shared>,
    cert: super::mtls::PeerCertificate,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let presented = userinfo::access_token(auth);
    let result = async {
        let (scheme, claims) = userinfo::presented_claims(&t, presented).await?;
        // Only an active DPoP-bound token of ours has its proof checked (and recorded): a
        // refused request writes nothing (SPEC §7.1).
        let proof = match (scheme, presented) {
            (userinfo::Scheme::Dpop, Some((_, token)))
                if userinfo::bound_jkt(&claims).is_some() =>
            {
                dpop_proof(&t, &headers, method.as_str(), "/userinfo", Some(token))
                    .await
                    .map_err(userinfo::proof_refusal)?
            }
            _ => None,
        };
        let jkt = proof.as_ref().map(|p| p.jkt.as_str());
        userinfo::userinfo(&t, scheme, &claims, jkt, cert.0.as_deref()).await
    }
    .await;
    let resp = match result {
        Ok(v) => no_store_json(StatusCode::OK, &v),
        Err(f) => render(&f, Dialect::OAuth, "/userinfo"),
    };
    with_nonce(&t, resp)
}
