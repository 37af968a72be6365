//! The login page's machinery: browser sessions, CSRF tokens, cookies and the password check.
//! Pages themselves are in [`page`].
//!
//! - **Session**: after a correct password the browser gets `tessera_session` (256 random
//!   bits; `HttpOnly`, `SameSite=Lax`, `Secure` when the issuer is https). The database keeps
//!   only its keyed hash, so every node sees the session and a database leak reveals none.
//! - **CSRF**: a signed double-submit token. The browser holds a random `tessera_csrf`
//!   cookie; each form carries `HMAC(master key, "csrf:" + cookie)`. A cross-site page can
//!   neither read the cookie nor compute the token, and nothing is stored server-side.

pub mod page;
pub mod upstream;

use crate::crypto::{b64url, ct_eq, random_token};
use crate::failure::Failure;
use crate::service::{event, Tessera};
use crate::store::LoginSession;
use crate::tenants::{Status, User};
use cookie::Cookie;
pub use cookie::SameSite;
use http::{header, HeaderMap};

/// The session cookie.
pub const SESSION_COOKIE: &str = "tessera_session";
/// The CSRF binding cookie.
pub const CSRF_COOKIE: &str = "tessera_csrf";

/// A PHC string whose check costs what a real one does, for unknown e-mails (no timing
/// difference between "no such user" and "wrong password").
const DUMMY_PHC: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$dGVzc2VyYWR1bW15c2FsdA$2h9b5XKq0x8v3mYyq3Vf6n3y0c1m8u2o5b3kQ0bq3ZQ";

/// The name cookie `name` goes by: `__Host-` prefixed on an https issuer, so that the
/// browser accepts it only `Secure`, for `Path=/` and without `Domain` (RFC 6265bis
/// §4.1.3.2): a sibling subdomain can neither plant nor overwrite it (SPEC §7.1).
pub fn cookie_name(t: &Tessera, name: &str) -> String {
    if t.settings.issuer.starts_with("https://") {
        format!("__Host-{name}")
    } else {
        name.to_string()
    }
}

/// The value of cookie `name` in the request, if present (128 characters at most: every
/// cookie of the login flow is one random token).
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    cookie_up_to(headers, name, 128)
}

/// The value of cookie `name` in the request, if present and at most `max` characters long
/// (the first of that name, as browsers send the most specific first; RFC 6265 §5.4).
pub fn cookie_up_to<'a>(headers: &'a HeaderMap, name: &str, max: usize) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .and_then(|c| c.value_raw())
        .filter(|v| !v.is_empty() && v.len() <= max)
}

/// A `Set-Cookie` value for `name` (see [`cookie_name`]): `Path=/`, `HttpOnly`, `same_site`,
/// and `Secure` on an https issuer.
pub fn build_cookie(
    t: &Tessera,
    name: &str,
    value: &str,
    max_age: i64,
    same_site: SameSite,
) -> String {
    Cookie::build((cookie_name(t, name), value.to_string()))
        .path("/")
        .max_age(cookie::time::Duration::seconds(max_age))
        .http_only(true)
        .same_site(same_site)
        .secure(t.settings.issuer.starts_with("https://"))
        .build()
        .to_string()
}

/// A `Set-Cookie` value of the login flow: `HttpOnly`, `SameSite=Lax`, `Path=/`, `Secure` and
/// the `__Host-` prefix on an https issuer.
pub fn set_cookie(t: &Tessera, name: &str, value: &str, max_age: i64) -> String {
    build_cookie(t, name, value, max_age, SameSite::Lax)
}

/// The CSRF token for a browser whose `tessera_csrf` cookie is `binding`.
pub fn csrf_token(t: &Tessera, binding: &str) -> String {
    b64url(&t.master.hash_secret(format!("csrf:{binding}").as_bytes()))
}

/// The CSRF binding of this browser: its cookie, or a new one to set (with its header).
pub fn csrf_binding(t: &Tessera, headers: &HeaderMap) -> Result<(String, Option<String>), Failure> {
    if let Some(v) = cookie(headers, &cookie_name(t, CSRF_COOKIE)) {
        return Ok((v.to_string(), None));
    }
    let v = random_token(32).map_err(|e| Failure::internal(&e))?;
    let header = set_cookie(t, CSRF_COOKIE, &v, t.settings.login.session_ttl.max(3600));
    Ok((v, Some(header)))
}

/// True when the form's `csrf` field matches this browser's cookie.
pub fn csrf_ok(t: &Tessera, headers: &HeaderMap, presented: Option<&str>) -> bool {
    match (cookie(headers, &cookie_name(t, CSRF_COOKIE)), presented) {
        (Some(binding), Some(token)) => ct_eq(csrf_token(t, binding).as_bytes(), token.as_bytes()),
        _ => false,
    }
}

/// The live session of this browser for `tenant_id` and its user, if both are still valid.
pub async fn current_session(
    t: &Tessera,
    headers: &HeaderMap,
    tenant_id: &str,
) -> Result<Option<(LoginSession, User)>, Failure> {
    let Some(id) = cookie(headers, &cookie_name(t, SESSION_COOKIE)) else {
        return Ok(None);
    };
    let hash = t.master.hash_secret(id.as_bytes());
    let Some(s) = t.store.get_login_session(&hash, t.clock.now()).await? else {
        return Ok(None);
    };
    if s.tenant_id != tenant_id {
        return Ok(None);
    }
    let user = t.store.get_user(&s.tenant_id, &s.user_id).await?;
    Ok(user.filter(|u| u.status == Status::Active).map(|u| (s, u)))
}

/// Starts a session for `user`; returns it with its `Set-Cookie` value.
pub async fn start_session(t: &Tessera, user: &User) -> Result<(LoginSession, String), Failure> {
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
        .create_login_session(&t.master.hash_secret(id.as_bytes()), &s)
        .await?;
    Ok((s, set_cookie(t, SESSION_COOKIE, &id, ttl)))
}

/// Ends this browser's login session, if any (the database row); returns the `Set-Cookie`
/// value that clears the cookie.
pub async fn end_session(t: &Tessera, headers: &HeaderMap) -> Result<String, Failure> {
    if let Some(id) = cookie(headers, &cookie_name(t, SESSION_COOKIE)) {
        let hash = t.master.hash_secret(id.as_bytes());
        t.store.delete_login_session(&hash).await?;
    }
    Ok(set_cookie(t, SESSION_COOKIE, "", 0))
}

/// The user id of this browser's live session, if it has one.
pub async fn session_user(t: &Tessera, headers: &HeaderMap) -> Result<Option<String>, Failure> {
    let Some(id) = cookie(headers, &cookie_name(t, SESSION_COOKIE)) else {
        return Ok(None);
    };
    let hash = t.master.hash_secret(id.as_bytes());
    Ok(t.store
        .get_login_session(&hash, t.clock.now())
        .await?
        .map(|s| s.user_id))
}

/// Why a login attempt failed. The page says the same for every variant but `Limited`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginError {
    /// Unknown e-mail, wrong password, no password, or disabled user.
    Invalid,
    /// Too many failures for this e-mail from this address (or from this address).
    Limited(u64),
    /// Something broke.
    Internal(Failure),
}

/// Checks an e-mail and password against the users of `tenant_id` (argon2id), counting
/// failures per e-mail+address and per address (SPEC §6). Each attempt is audited.
pub async fn check_password(
    t: &Tessera,
    tenant_id: &str,
    client_id: &str,
    email: &str,
    password: &str,
    remote: &str,
) -> Result<User, LoginError> {
    let email = crate::tenants::users::normalize_email(email);
    let subject = format!("login|{tenant_id}|{email}");
    // Counted before the password is checked, so concurrent guesses never pass the limit.
    let attempt = t.attempt(remote, Some(&subject)).await.map_err(|f| {
        match (f.reason == crate::reasons::RATE_LIMITED, f.retry_after) {
            (true, Some(retry)) => LoginError::Limited(retry),
            _ => LoginError::Internal(f),
        }
    })?;
    let user = t
        .store
        .find_user_by_email(tenant_id, &email)
        .await
        .map_err(|e| LoginError::Internal(e.into()))?;
    let phc = user
        .as_ref()
        .and_then(|u| u.password_hash.as_deref())
        .unwrap_or(DUMMY_PHC);
    let matches = t
        .hashes
        .verify(password.as_bytes(), phc)
        .await
        .map_err(LoginError::Internal)?;
    let outcome = match &user {
        Some(u) if matches && u.password_hash.is_some() && u.status == Status::Active => Ok(()),
        Some(u) if matches && u.status != Status::Active => Err("failure:user_disabled"),
        Some(_) => Err("failure:bad_password"),
        None => Err("failure:unknown_user"),
    };
    let actor = user.as_ref().map(|u| u.id.clone());
    let at = LoginAt {
        tenant_id,
        client_id,
        remote,
    };
    audit_login(t, &at, user.as_ref(), outcome.err(), actor).await;
    match (user, outcome) {
        (Some(u), Ok(())) => {
            attempt.succeeded();
            Ok(u)
        }
        _ => {
            attempt.failed();
            metrics::counter!("tessera_login_failures_total").increment(1);
            Err(LoginError::Invalid)
        }
    }
}

/// Where a sign-in happened, for its audit event.
struct LoginAt<'a> {
    tenant_id: &'a str,
    client_id: &'a str,
    remote: &'a str,
}

/// `login.succeeded`, or `login.failed` with `failure` as the outcome.
async fn audit_login(
    t: &Tessera,
    at: &LoginAt<'_>,
    user: Option<&User>,
    failure: Option<&str>,
    actor: Option<String>,
) {
    let name = if failure.is_none() {
        "login.succeeded"
    } else {
        "login.failed"
    };
    let mut ev = event(t.clock.now(), name, failure.unwrap_or("success"));
    ev.tenant_id = Some(at.tenant_id.to_string());
    ev.client_id = Some(at.client_id.to_string());
    ev.subject = user.map(|u| u.id.clone());
    ev.actor = actor;
    ev.remote = Some(at.remote.to_string());
    t.audit(ev).await;
}

/// The tenant user an upstream ID token's e-mail names, if active; audited either way.
pub async fn upstream_user(
    t: &Tessera,
    client: &crate::tenants::Client,
    verified: &crate::oauth::upstream::VerifiedIdToken,
    remote: &str,
) -> Result<User, Failure> {
    let email = crate::tenants::users::normalize_email(&verified.email);
    let user = t
        .store
        .find_user_by_email(&client.tenant_id, &email)
        .await?;
    let failure = match &user {
        Some(u) if u.status == Status::Active => None,
        Some(_) => Some("failure:user_disabled"),
        None => Some("failure:unknown_user"),
    };
    let at = LoginAt {
        tenant_id: &client.tenant_id,
        client_id: &client.client_id,
        remote,
    };
    let actor = Some(format!("upstream:{}", verified.upstream.id));
    audit_login(t, &at, user.as_ref(), failure, actor).await;
    match user {
        Some(u) if u.status == Status::Active => Ok(u),
        Some(_) => Err(Failure::new(
            crate::reasons::USER_DISABLED,
            "this account is disabled",
        )),
        None => Err(Failure::new(
            crate::reasons::USER_NOT_FOUND,
            "no account for this e-mail here",
        )
        .with_error("access_denied")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn cookies_are_found_among_several() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; tessera_csrf=xyz; b=2"),
        );
        assert_eq!(cookie(&h, CSRF_COOKIE), Some("xyz"));
        assert_eq!(cookie(&h, SESSION_COOKIE), None);
    }

    #[test]
    fn the_dummy_hash_parses_so_unknown_users_cost_a_real_check() {
        use crate::crypto::argon2_verify;
        use argon2::password_hash::PasswordHash;
        assert!(PasswordHash::new(DUMMY_PHC).is_ok());
        assert!(!argon2_verify(b"x", DUMMY_PHC));
    }
}
