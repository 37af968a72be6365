//! The web admin console `/console` (SPEC §8): server-rendered HTML (maud, auto-escaping), no
//! script needed (one small embedded script adds the copy buttons), every asset embedded.
//!
//! - **Sign-in** is Tessera's own: the console is the built-in public client
//!   `tessera-console:{tenant}` of each tenant ([`crate::tenants::console_client`]); it runs the
//!   authorization code flow with PKCE S256 through `/oauth/authorize` and the login page (so
//!   "sign in with" an upstream works too) and redeems the code in-process.
//! - **Session**: `tessera_console` (256 random bits; `HttpOnly`, `SameSite=Strict`, `Secure`
//!   and `__Host-` on an https issuer). The database keeps its keyed hash in the login session
//!   table. Every request re-reads the user: one who is gone, disabled or no longer holds the
//!   tenant's `admin` role is out at once.
//! - **Reach**: the signed-in user is an [`AdminCaller`] with the actor set to the user's
//!   e-mail; pages call the admin API's own operations, so reach, validation and audit are the
//!   API's.
//! - **CSRF**: each form carries `HMAC(master key, "console-csrf:" + session id)`; every POST
//!   goes through [`Posted`], which refuses a form without it.

mod audit_keys;
mod clients;
mod directory;
mod overview;
mod roles;
mod services;
mod signin;
mod tenants;
mod upstreams;
mod users;
mod view;

use super::admin::{AdminCall, AdminCaller, Answer, Fields, Reach, TenantCall};
use super::{remote_ip, routes_of, Remote, Shared};
use crate::crypto::{b64url, ct_eq};
use crate::failure::Failure;
use crate::login::{cookie, cookie_name};
use crate::service::Tessera;
use crate::tenants::{Status, User, ADMIN_ROLE, DEFAULT_TENANT};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::Router;
use maud::Markup;
use serde_json::Value;

/// The console's session cookie.
pub const CONSOLE_COOKIE: &str = "tessera_console";

/// Headers of every console response (SPEC §8): no caching, no framing, scripts and styles
/// from Tessera only, no referrer.
fn console_headers(cookies: &[String]) -> HeaderMap {
    let mut h = HeaderMap::new();
    let fixed: [(HeaderName, &'static str); 7] = [
        (header::CACHE_CONTROL, "no-store"),
        (header::PRAGMA, "no-cache"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
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

/// An HTML page.
fn html(status: StatusCode, page: Markup, cookies: &[String]) -> Response {
    (status, console_headers(cookies), page.into_string()).into_response()
}

/// A 303 to a console path.
fn see_other(location: &str, cookies: &[String]) -> Response {
    let mut h = console_headers(cookies);
    h.remove(header::CONTENT_TYPE);
    if let Ok(v) = HeaderValue::from_str(location) {
        h.insert(header::LOCATION, v);
    }
    (StatusCode::SEE_OTHER, h).into_response()
}

/// A signed-in console user who administers `caller.reach`.
pub struct ConsoleCall {
    /// The admin call the pages make, with the user as actor (`{tenant}/{e-mail}`).
    pub call: AdminCall,
    /// The signed-in user.
    pub user: User,
    /// The CSRF token every form of this session carries.
    pub csrf: String,
}

impl ConsoleCall {
    /// The tenant this user signed in to.
    fn home(&self) -> &str {
        &self.user.tenant_id
    }

    /// True when the user administers every tenant.
    fn global(&self) -> bool {
        self.call.caller.reach == Reach::All
    }

    /// A [`TenantCall`] for `tenant`: 403 outside the user's reach, 404 for no such tenant.
    async fn tenant(&self, tenant: &str) -> Result<TenantCall, Failure> {
        TenantCall::for_tenant(self.call.clone(), tenant).await
    }

    /// The admin operation `op` on `tenant` for this user (reach and existence checked
    /// first, as the API does): the body it answers.
    async fn in_tenant<F, Fut>(&self, tenant: &str, op: F) -> Result<Value, Failure>
    where
        F: FnOnce(TenantCall) -> Fut,
        Fut: std::future::Future<Output = Result<Answer, Failure>>,
    {
        op(self.tenant(tenant).await?).await.map(body)
    }

    /// The navigation frame of a page about `tenant`.
    fn frame<'a>(&'a self, tenant: &'a str, section: &'static str) -> view::Frame<'a> {
        view::Frame {
            email: &self.user.email,
            tenant,
            global: self.global(),
            section,
            csrf: &self.csrf,
        }
    }
}

/// Why a console request stops before its page: not signed in (to the sign-in page) or not
/// an administrator (403 page).
pub enum Refusal {
    /// No live session.
    SignIn,
    /// A response ready to send (403 page, or an error page).
    Page(Response),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::SignIn => see_other("/console", &[]),
            Refusal::Page(r) => r,
        }
    }
}

/// The stored hash of console session `id`: keyed apart from the login sessions' hashes in
/// the same table, so neither kind of cookie opens the other.
fn session_key(t: &Tessera, id: &str) -> Vec<u8> {
    t.master
        .hash_secret(format!("console-session:{id}").as_bytes())
}

/// The session id of this browser's console cookie and its stored hash.
fn session_hash(t: &Tessera, headers: &HeaderMap) -> Option<(String, Vec<u8>)> {
    let id = cookie(headers, &cookie_name(t, CONSOLE_COOKIE))?;
    Some((id.to_string(), session_key(t, id)))
}

/// The user behind this browser's console session, if it is live and the user active.
async fn session_user(t: &Tessera, headers: &HeaderMap) -> Result<Option<(String, User)>, Failure> {
    let Some((id, hash)) = session_hash(t, headers) else {
        return Ok(None);
    };
    let Some(s) = t.store.get_login_session(&hash, t.clock.now()).await? else {
        return Ok(None);
    };
    let user = t.store.get_user(&s.tenant_id, &s.user_id).await?;
    Ok(user.filter(|u| u.status == Status::Active).map(|u| (id, u)))
}

/// Whether `user` may use the console: holds its tenant's `admin` role, in an active tenant.
async fn administers(t: &Tessera, user: &User) -> Result<bool, Failure> {
    Ok(user.roles.iter().any(|r| r == ADMIN_ROLE) && t.tenant_active(&user.tenant_id).await?)
}

impl FromRequestParts<Shared> for ConsoleCall {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, t: &Shared) -> Result<ConsoleCall, Refusal> {
        let Ok(remote) = Remote::from_request_parts(parts, t).await;
        let found = session_user(t, &parts.headers)
            .await
            .map_err(|f| Refusal::Page(error_page(t, None, &f)))?;
        let Some((session_id, user)) = found else {
            return Err(Refusal::SignIn);
        };
        let allowed = administers(t, &user)
            .await
            .map_err(|f| Refusal::Page(error_page(t, None, &f)))?;
        if !allowed {
            let csrf = csrf_token(t, &session_id);
            return Err(Refusal::Page(signin::forbidden_page(t, &user, &csrf, &[])));
        }
        let reach = if user.tenant_id == DEFAULT_TENANT {
            Reach::All
        } else {
            Reach::Tenant(user.tenant_id.clone())
        };
        let caller = AdminCaller {
            actor: super::admin::user_actor(&user),
            reach,
            remote: remote_ip(remote),
        };
        let csrf = csrf_token(t, &session_id);
        Ok(ConsoleCall {
            call: AdminCall {
                t: t.clone(),
                caller,
            },
            user,
            csrf,
        })
    }
}

/// The CSRF token of the console session `session_id`.
fn csrf_token(t: &Tessera, session_id: &str) -> String {
    b64url(
        &t.master
            .hash_secret(format!("console-csrf:{session_id}").as_bytes()),
    )
}

/// A submitted console form: its fields in order (a name may repeat, as checkboxes do).
#[derive(Debug, Default)]
pub struct Form(Vec<(String, String)>);

impl Form {
    /// The first value of `name`.
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `name`, trimmed, if not empty.
    fn text(&self, name: &str) -> Option<&str> {
        self.get(name).map(str::trim).filter(|v| !v.is_empty())
    }

    /// Every value of `name`.
    fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

/// A POST from a signed-in console user whose form carries this session's CSRF token.
pub struct Posted {
    /// The caller.
    pub call: ConsoleCall,
    /// The form.
    pub form: Form,
}

impl FromRequest<Shared> for Posted {
    type Rejection = Refusal;

    async fn from_request(req: Request, t: &Shared) -> Result<Posted, Refusal> {
        let (mut parts, body) = req.into_parts();
        let call = ConsoleCall::from_request_parts(&mut parts, t).await?;
        let refuse = |f: Failure| Refusal::Page(error_page(t, Some(&call), &f));
        // Console forms are urlencoded; anything else is no form of the console's.
        if super::body::media_type(&parts.headers).as_deref()
            != Some("application/x-www-form-urlencoded")
        {
            return Err(refuse(Failure::new(
                crate::reasons::UNSUPPORTED_MEDIA_TYPE,
                "console forms are application/x-www-form-urlencoded",
            )));
        }
        let bytes = super::body::read_limited(&parts.headers, body)
            .await
            .map_err(|f| Refusal::Page(error_page(t, None, &f)))?;
        let pairs = match crate::params::parse_form(&bytes) {
            Ok(p) => p,
            Err(f) => return Err(refuse(f)),
        };
        let form = Form(pairs);
        let presented = form.get("csrf").unwrap_or("");
        if !ct_eq(presented.as_bytes(), call.csrf.as_bytes()) {
            return Err(refuse(Failure::new(
                crate::reasons::CSRF_FAILED,
                "the form has expired or did not come from this console; reload the page and try again",
            )));
        }
        Ok(Posted { call, form })
    }
}

/// How a form field becomes a JSON member of an admin API body.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// A string; left out when empty.
    Text,
    /// A list: words separated by spaces, commas or new lines.
    List,
    /// A whole number; left out when empty.
    Int,
    /// A checkbox: present is `true`, absent `false`.
    Check,
    /// Checkboxes of one name: the list of the checked values.
    Checks,
    /// JSON text (a JWK Set); left out when empty, passed on as text when it does not parse
    /// (the API then says what it wants).
    Json,
}

/// A list field's words: separated by white space (new lines, as the pages show lists, or
/// spaces), never by commas, which URIs and scopes may hold.
fn list_value(text: &str) -> Value {
    Value::Array(
        text.split_whitespace()
            .map(|w| Value::String(w.to_string()))
            .collect(),
    )
}

/// The admin API body a form stands for: `spec` lists the fields to read and how.
fn fields_of(form: &Form, spec: &[(&str, Kind)]) -> Fields {
    let mut entries = Vec::new();
    for &(name, kind) in spec {
        let v = match kind {
            Kind::Text => form.text(name).map(|s| Value::String(s.to_string())),
            Kind::List => form.get(name).map(list_value),
            Kind::Int => form.text(name).map(|s| match s.parse::<i64>() {
                Ok(n) => Value::from(n),
                // The API names the field and says what it wants.
                Err(_) => Value::String(s.to_string()),
            }),
            Kind::Check => Some(Value::Bool(form.get(name).is_some())),
            Kind::Checks => Some(Value::Array(
                form.all(name).into_iter().map(Value::String).collect(),
            )),
            Kind::Json => form
                .text(name)
                .map(|s| serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.to_string()))),
        };
        if let Some(v) = v {
            entries.push((name.to_string(), v));
        }
    }
    Fields::new(entries)
}

/// The message of each field a failure names (`/scopes` → `scopes`), for the form.
fn field_errors(f: &Failure) -> Vec<(String, String)> {
    f.errors
        .iter()
        .map(|e| {
            let name = e.pointer.trim_start_matches('/');
            let name = name.split('/').next().unwrap_or(name);
            (name.to_string(), e.detail.clone())
        })
        .collect()
}

/// An error page in the console's frame (or a bare one before sign-in).
fn error_page(t: &Tessera, call: Option<&ConsoleCall>, f: &Failure) -> Response {
    f.log_cause("/console");
    metrics::counter!("tessera_failures_total", "reason" => f.reason.code.to_string()).increment(1);
    let status = StatusCode::from_u16(f.status).unwrap_or(StatusCode::BAD_REQUEST);
    let body = view::failure(f);
    let page = match call {
        Some(c) => view::page(&c.frame(c.home(), ""), f.reason.title, body),
        None => view::bare(&t.settings.issuer, f.reason.title, body),
    };
    html(status, page, &[])
}

/// The body of an answer: what the admin operation returned.
fn body(a: Answer) -> Value {
    a.body
}

/// `GET /` → `/console`.
async fn root() -> Response {
    see_other("/console", &[])
}

const STYLE: &str = include_str!("console.css");
const SCRIPT: &str = include_str!("console.js");
const ICON: &str = include_str!("favicon.svg");

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

/// A bare page for a console request refused before any console code ran (no such page, a
/// method the page does not take, a body too large, a malformed path or query), with the
/// console's headers.
pub fn status_page(status: StatusCode) -> Response {
    let (title, detail) = match status {
        StatusCode::NOT_FOUND => ("Not found", "There is no such console page."),
        StatusCode::METHOD_NOT_ALLOWED => ("Not allowed", "This page does not take that request."),
        StatusCode::PAYLOAD_TOO_LARGE => {
            ("Too large", "The form is larger than the console takes.")
        }
        _ if status.is_server_error() => (
            "Unavailable",
            "The console cannot answer right now; try again shortly.",
        ),
        _ => ("Bad request", "The address or the form could not be read."),
    };
    let body = maud::html! {
        div.error role="alert" { p { (detail) } }
        p { a href="/console" { "Back to the console" } }
    };
    html(status, view::bare("", title, body), &[])
}

/// Every console answer is a page: an error answered by the framework (an extractor's
/// rejection, a 405) becomes a console page with the console's headers.
async fn pages_only(req: Request, next: axum::middleware::Next) -> Response {
    let resp = next.run(req).await;
    let is_html = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    let status = resp.status();
    if (status.is_client_error() || status.is_server_error()) && !is_html {
        return status_page(status);
    }
    resp
}

/// The console's routes, each path written once.
pub fn routes() -> Router<Shared> {
    let table: Vec<(&'static str, MethodRouter<Shared>)> = vec![
        ("/", get(root)),
        ("/console", get(signin::index)),
        ("/console/signin", get(signin::start)),
        ("/console/callback", get(signin::callback)),
        ("/console/signout", post(signin::signout)),
        (
            "/console/assets/console.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE) }),
        ),
        (
            "/console/assets/console.js",
            get(|| async { asset("text/javascript; charset=utf-8", SCRIPT) }),
        ),
        (
            "/console/assets/favicon.svg",
            get(|| async { asset("image/svg+xml", ICON) }),
        ),
        ("/console/t/{tenant}", get(overview::overview)),
        (
            "/console/t/{tenant}/clients",
            get(clients::list).post(clients::create),
        ),
        ("/console/t/{tenant}/clients/new", get(clients::new_form)),
        (
            "/console/t/{tenant}/clients/{client}",
            get(clients::show).post(clients::update),
        ),
        (
            "/console/t/{tenant}/clients/{client}/rotate",
            post(clients::rotate),
        ),
        (
            "/console/t/{tenant}/clients/{client}/status",
            post(clients::set_status),
        ),
        (
            "/console/t/{tenant}/clients/{client}/delete",
            get(clients::confirm_delete).post(clients::delete),
        ),
        ("/console/t/{tenant}/audit", get(audit_keys::audit)),
        ("/console/keys", get(audit_keys::keys)),
        ("/console/keys/rotate", post(audit_keys::rotate)),
    ];
    routes_of(table)
        .merge(directory::routes())
        .layer(axum::middleware::from_fn(pages_only))
}
