//! Signing in to the console through Tessera's own authorization code flow with PKCE, and
//! signing out.
//!
//! `GET /console/signin?tenant=` keeps a state and a PKCE verifier in the short-lived
//! `tessera_console_flow` cookie (`SameSite=Lax`, so it comes back after an upstream's
//! cross-site redirect) and sends the browser to `/oauth/authorize` as the tenant's console
//! client. `GET /console/callback` checks the state, redeems the code in-process (the real
//! grant: single use, PKCE, the user still active) and starts the console session.

use super::{
    administers, csrf_token, error_page, html, see_other, session_hash, session_user, view,
    CONSOLE_COOKIE,
};
use crate::crypto::{b64url, b64url_decode, ct_eq, random_token, sha256};
use crate::failure::Failure;
use crate::http::{remote_ip, Remote, Shared};
use crate::login::{build_cookie, cookie_name, cookie_up_to, SameSite};
use crate::oauth::authorize::with_query;
use crate::oauth::grant::authorization_code::{self, Options};
use crate::params::Params;
use crate::service::Tessera;
use crate::store::LoginSession;
use crate::tenants::{console_client, valid_id, User, DEFAULT_TENANT};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::html;
use serde::Deserialize;
use serde_json::{json, Value};

/// The cookie that carries an unfinished sign-in (state, PKCE verifier, tenant).
const FLOW_COOKIE: &str = "tessera_console_flow";
/// How long a sign-in may take, seconds.
const FLOW_TTL: i64 = 600;

/// Where the authorization server sends the browser back.
fn callback_uri(t: &Tessera) -> String {
    format!("{}/console/callback", t.settings.issuer)
}

/// The sign-in page: a tenant to sign in to, and the first-run hint when no administrator
/// exists yet.
fn signin_page(
    t: &Tessera,
    tenant: &str,
    message: Option<&str>,
    first_run: bool,
    cookies: &[String],
) -> Response {
    let body = html! {
        @if let Some(m) = message { div.error role="alert" { (m) } }
        @if first_run {
            div.notice role="status" {
                p { strong { "No administrator exists yet." } " Create the first one on the server:" }
                pre { "tessera user add --tenant default --email you@example.com \\\n  --password '…' --role admin" }
                p { "(or with the admin API: " code { "POST /admin/v1/tenants/default/users" } " with " code { "\"roles\": [\"admin\"]" } ")." }
            }
        }
        p.sub { "Administer Tessera with your own account: you sign in through Tessera's login page." }
        form method="get" action="/console/signin" id="signin" {
            div.field {
                label for="tenant" { "Tenant" }
                input type="text" id="tenant" name="tenant" value=(tenant) required
                    aria-describedby="tenant-hint" autocomplete="organization";
                p.hint id="tenant-hint" { "Administrators of tenant " code { "default" } " administer every tenant." }
            }
            button type="submit" id="continue" { "Continue to sign-in" }
        }
    };
    html(
        StatusCode::OK,
        view::bare(&t.settings.issuer, "Sign in to the console", body),
        cookies,
    )
}

/// `GET /console`: the signed-in user's home tenant, or the sign-in page.
pub async fn index(State(t): State<Shared>, headers: HeaderMap) -> Response {
    match session_user(&t, &headers).await {
        Ok(Some((_, user))) => see_other(
            &format!("/console/t/{}", view::encode(&user.tenant_id)),
            &[],
        ),
        Ok(None) => {
            let first_run = !t.store.has_admin_user(DEFAULT_TENANT).await.unwrap_or(true);
            signin_page(&t, DEFAULT_TENANT, None, first_run, &[])
        }
        Err(f) => error_page(&t, None, &f),
    }
}

#[derive(Deserialize)]
pub struct Start {
    tenant: Option<String>,
}

/// `GET /console/signin?tenant=`: to the authorization endpoint as the tenant's console client.
pub async fn start(State(t): State<Shared>, Query(q): Query<Start>) -> Response {
    let tenant = q.tenant.as_deref().map(str::trim).unwrap_or(DEFAULT_TENANT);
    // The same answer for a malformed, unknown or disabled tenant.
    let known = valid_id(tenant) && t.tenant_active(tenant).await.unwrap_or(false);
    if !known {
        return signin_page(
            &t,
            tenant,
            Some("No active tenant of that name."),
            false,
            &[],
        );
    }
    let (Ok(state), Ok(verifier)) = (random_token(32), random_token(32)) else {
        return error_page(&t, None, &Failure::unavailable("no randomness"));
    };
    let challenge = b64url(&sha256(verifier.as_bytes()));
    let flow = b64url(
        json!({"s": state, "v": verifier, "t": tenant})
            .to_string()
            .as_bytes(),
    );
    let client = console_client(&t.settings.issuer, tenant);
    let location = with_query(
        "/oauth/authorize",
        &[
            ("response_type", "code"),
            ("client_id", &client.client_id),
            ("redirect_uri", &callback_uri(&t)),
            ("scope", "openid"),
            ("state", &state),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    );
    let cookie = build_cookie(&t, FLOW_COOKIE, &flow, FLOW_TTL, SameSite::Lax);
    see_other(&location, &[cookie])
}

#[derive(Deserialize)]
pub struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
    iss: Option<String>,
}

/// The unfinished sign-in of this browser: (state, verifier, tenant).
fn flow(t: &Tessera, headers: &HeaderMap) -> Option<(String, String, String)> {
    let raw = cookie_up_to(headers, &cookie_name(t, FLOW_COOKIE), 1024)?;
    let v: Value = serde_json::from_slice(&b64url_decode(raw)?).ok()?;
    let get = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    Some((get("s")?, get("v")?, get("t")?))
}

/// `GET /console/callback`: checks the state, redeems the code, starts the console session.
pub async fn callback(
    State(t): State<Shared>,
    remote: Remote,
    headers: HeaderMap,
    Query(q): Query<Callback>,
) -> Response {
    let cleared = build_cookie(&t, FLOW_COOKIE, "", 0, SameSite::Lax);
    let Some((state, verifier, tenant)) = flow(&t, &headers) else {
        return signin_page(
            &t,
            DEFAULT_TENANT,
            Some("The sign-in expired or was started in another browser; try again."),
            false,
            std::slice::from_ref(&cleared),
        );
    };
    if !q
        .state
        .as_deref()
        .is_some_and(|s| ct_eq(s.as_bytes(), state.as_bytes()))
    {
        return signin_page(
            &t,
            &tenant,
            Some("The sign-in did not match the one this browser started; try again."),
            false,
            std::slice::from_ref(&cleared),
        );
    }
    // RFC 9207: an answer naming another issuer is not ours.
    if q.iss.as_deref().is_some_and(|iss| iss != t.settings.issuer) {
        return signin_page(
            &t,
            &tenant,
            Some("The sign-in was answered by another issuer; try again."),
            false,
            std::slice::from_ref(&cleared),
        );
    }
    if let Some(e) = q.error {
        let detail = q.error_description.unwrap_or(e);
        return signin_page(
            &t,
            &tenant,
            Some(&format!("Sign-in did not complete: {detail}")),
            false,
            std::slice::from_ref(&cleared),
        );
    }
    let Some(code) = q.code else {
        return signin_page(
            &t,
            &tenant,
            Some("The sign-in returned no code; try again."),
            false,
            std::slice::from_ref(&cleared),
        );
    };
    let client = console_client(&t.settings.issuer, &tenant);
    let params = Params::from_pairs(vec![
        ("code".to_string(), code),
        ("redirect_uri".to_string(), callback_uri(&t)),
        ("code_verifier".to_string(), verifier),
    ]);
    let remote = remote_ip(remote);
    let opts = Options {
        with_scp: false,
        route: "/console/callback",
        cnf: None,
        peer_x5t: None,
        proof: None,
    };
    let issued = match params {
        Ok(p) => authorization_code::exchange(&t, &client, &p, &remote, opts).await,
        Err(f) => Err(f),
    };
    let user = match issued {
        Ok(i) => signed_in_user(&t, &i.access.token).await,
        Err(f) => Err(f),
    };
    let user = match user {
        Ok(u) => u,
        Err(f) if f.status >= 500 => return error_page(&t, None, &f),
        Err(f) => {
            return signin_page(
                &t,
                &tenant,
                Some(&f.detail),
                false,
                std::slice::from_ref(&cleared),
            )
        }
    };
    match administers(&t, &user).await {
        Ok(true) => {}
        Ok(false) => {
            // No console session: the sign-out form carries the login page's token.
            return match crate::login::csrf_binding(&t, &headers) {
                Ok((binding, new_cookie)) => {
                    let csrf = crate::login::csrf_token(&t, &binding);
                    let mut cookies = vec![cleared];
                    cookies.extend(new_cookie);
                    forbidden_page(&t, &user, &csrf, &cookies)
                }
                Err(f) => error_page(&t, None, &f),
            };
        }
        Err(f) => return error_page(&t, None, &f),
    }
    match start_session(&t, &user).await {
        // A page rather than a redirect: after an upstream's cross-site redirect the browser
        // would not send the `SameSite=Strict` cookie on a redirect, but does on a navigation
        // this page starts.
        Ok(session) => {
            let home = format!("/console/t/{}", view::encode(&user.tenant_id));
            let body = html! {
                meta http-equiv="refresh" content={ "0;url=" (home) };
                p { "Signed in as " strong { (user.email) } ". " a href=(home) id="continue" { "Continue to the console" } }
            };
            html(
                StatusCode::OK,
                view::bare(&t.settings.issuer, "Signed in", body),
                &[session, cleared],
            )
        }
        Err(f) => error_page(&t, None, &f),
    }
}

/// The user an access token just issued to the console client speaks for.
async fn signed_in_user(t: &Tessera, token: &str) -> Result<User, Failure> {
    let claims = crate::oauth::introspect::active_claims(t, token)
        .await?
        .ok_or_else(|| Failure::unavailable("the token just issued did not verify"))?;
    let field = |k: &str| claims.get(k).and_then(Value::as_str).map(str::to_string);
    let (Some(tenant), Some(sub)) = (field("tenant_id"), field("sub")) else {
        return Err(Failure::unavailable("the token just issued names no user"));
    };
    authorization_code::active_user(t, &tenant, &sub).await
}

/// Stores a console session for `user`; returns its `Set-Cookie` value.
async fn start_session(t: &Tessera, user: &User) -> Result<String, Failure> {
    let now = t.clock.now();
    let ttl = t.settings.login.session_ttl.max(60);
    let id = random_token(32).map_err(|e| Failure::internal(&e))?;
    let s = LoginSession {
        tenant_id: user.tenant_id.clone(),
        user_id: user.id.clone(),
        auth_time: now,
        expires_at: now + ttl,
    };
    t.store
        .create_login_session(&super::session_key(t, &id), &s)
        .await?;
    Ok(build_cookie(t, CONSOLE_COOKIE, &id, ttl, SameSite::Strict))
}

/// The 403 page for a signed-in user who administers nothing.
pub fn forbidden_page(t: &Tessera, user: &User, csrf: &str, cookies: &[String]) -> Response {
    let body = html! {
        div.error role="alert" {
            p { "You are signed in as " strong { (user.email) } " of tenant " strong { (user.tenant_id) } ", who does not hold that tenant's " code { "admin" } " role." }
        }
        p { "Ask an administrator for the role, or sign in as another user." }
        form method="post" action="/console/signout" {
            (view::csrf(csrf))
            button type="submit" id="signout" { "Sign out" }
        }
    };
    html(
        StatusCode::FORBIDDEN,
        view::bare(&t.settings.issuer, "Not an administrator", body),
        cookies,
    )
}

/// `POST /console/signout`: ends the console session and this browser's login session, so
/// the next sign-in asks for the password again.
pub async fn signout(
    State(t): State<Shared>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let presented = crate::params::parse_form(&body)
        .ok()
        .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == "csrf"))
        .map(|(_, v)| v)
        .unwrap_or_default();
    let refused = || {
        let f = Failure::new(
            crate::reasons::CSRF_FAILED,
            "the form did not come from this console; reload the page and try again",
        );
        error_page(&t, None, &f)
    };
    let mut cleared = Vec::new();
    if let Some((id, hash)) = session_hash(&t, &headers) {
        // A console session: its own form's token.
        if !ct_eq(presented.as_bytes(), csrf_token(&t, &id).as_bytes()) {
            return refused();
        }
        if let Err(e) = t.store.delete_login_session(&hash).await {
            return error_page(&t, None, &e.into());
        }
        cleared.push(build_cookie(&t, CONSOLE_COOKIE, "", 0, SameSite::Strict));
    } else if !crate::login::csrf_ok(&t, &headers, Some(&presented)) {
        // No console session (the 403 page after sign-in): the login page's token, so that no
        // other site can end this browser's sign-in.
        return refused();
    }
    match crate::login::end_session(&t, &headers).await {
        Ok(c) => cleared.push(c),
        Err(f) => return error_page(&t, None, &f),
    }
    let body = html! {
        p { "You have been signed out." }
        p { a href="/console" id="again" { "Sign in again" } }
    };
    html(
        StatusCode::OK,
        view::bare(&t.settings.issuer, "Signed out", body),
        &cleared,
    )
}
