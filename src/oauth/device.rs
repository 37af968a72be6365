//! The device authorization grant (RFC 8628), the user's side: the device authorization
//! request (§3.1, §3.2), user codes, and the user's decision at `/device` (§3.3). The token
//! endpoint's side is [`crate::oauth::grant::device_code`].
//!
//! - **Codes.** The `device_code` is 256 random bits; the user code is 8 letters of
//!   [`USER_CODE_ALPHABET`] (20 consonants: no vowels, so no words; about 34.6 bits), shown as
//!   `XXXX-XXXX` and matched case-blind, ignoring dashes and spaces (§6.1). Both are stored
//!   only as keyed hashes.
//! - **Guessing user codes.** Every lookup of a user code is an authentication attempt of the
//!   failed-authentication limiter (SPEC §6): a wrong code counts as a failure of the caller's
//!   address, so at the default of 20 a minute one address needs years to hit a live code
//!   among thousands (RFC 8628 §5.1).
//! - **Bounded.** `POST /oauth/device_authorization` is open to public clients by `client_id`
//!   alone, so a client holds at most [`MAX_LIVE_PER_CLIENT`] unexpired requests, and for a
//!   public client one address (as the failure limiter counts it: IPv4, or an IPv6 /64) at
//!   most [`MAX_LIVE_PER_ADDRESS`] of them, so nobody can use up the client's share from one
//!   place and lock its real devices out; past either it is answered 429 until some expire.

use crate::crypto::{random_bytes, random_token};
use crate::failure::Failure;
use crate::oauth::authorize::user_scopes;
use crate::oauth::grant::{require_grant, GrantType};
use crate::oauth::limits::counted_address;
use crate::oauth::pending::PendingCaps;
use crate::oauth::scope;
use crate::params::Params;
use crate::reasons;
use crate::service::{event, Tessera};
use crate::store::{DeviceCode, DeviceDecision, DeviceStatus, LoginSession, Pending, StoreError};
use crate::tenants::{Client, Status, User};
use serde_json::{json, Value};
use std::sync::Arc;

/// Seconds a device code lives (RFC 8628 §3.2 `expires_in`; SPEC §9).
pub const EXPIRES_IN: i64 = 600;

/// Seconds the device waits between polls at first (RFC 8628 §3.2 `interval`).
pub const INTERVAL: i64 = 5;

/// Seconds each `slow_down` adds to the interval (RFC 8628 §3.5).
pub const SLOW_DOWN_STEP: i64 = 5;

/// The letters of user codes (SPEC §9; RFC 8628 §6.1: consonants only).
pub const USER_CODE_ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";

/// Letters in a user code.
const USER_CODE_LEN: usize = 8;

/// Unexpired device codes one client may hold (see the module comment).
pub const MAX_LIVE_PER_CLIENT: i64 = 10_000;

/// Unexpired device codes of one public client that one address (an IPv4 address or an
/// IPv6 /64) may hold: without it anyone could take all [`MAX_LIVE_PER_CLIENT`] from one
/// address and lock the client's devices out for [`EXPIRES_IN`] seconds; now that takes 100
/// addresses. A hundred devices starting sign-in within ten minutes is more than a home or
/// an office behind one address starts. A confidential client proves its credential and may
/// ask for all its devices from one server, so only the per-client cap holds it.
pub const MAX_LIVE_PER_ADDRESS: i64 = 100;

/// Both caps of device authorizations (a refusal says to retry in a minute).
const CAPS: PendingCaps = PendingCaps {
    kind: Pending::DeviceCodes,
    per_client: MAX_LIVE_PER_CLIENT,
    per_address: MAX_LIVE_PER_ADDRESS,
    what: "device authorizations",
    retry_after: 60,
};

/// The verification page (RFC 8628 §3.2 `verification_uri`).
pub const VERIFICATION_PATH: &str = "/device";

/// The failure limiter's subject for user code lookups (per address: a user code names no one
/// before it is found).
const LIMIT_SUBJECT: &str = "device|user_code";

/// How the login flow's hidden `request` field names a device request: this prefix and the
/// normalized user code (an authorization request's query string never starts so).
const LOGIN_REQUEST_PREFIX: &str = "device:";

/// A new user code: 8 letters of [`USER_CODE_ALPHABET`], uniformly drawn.
fn new_user_code() -> Result<String, Failure> {
    let n = USER_CODE_ALPHABET.len();
    // 256 is not a multiple of 20: bytes from 240 up are thrown away so none is favoured.
    let cutoff = 256 - 256 % n;
    let mut code = String::with_capacity(USER_CODE_LEN);
    while code.len() < USER_CODE_LEN {
        for b in random_bytes(16).map_err(|e| Failure::internal(&e))? {
            let b = usize::from(b);
            if b < cutoff && code.len() < USER_CODE_LEN {
                if let Some(c) = USER_CODE_ALPHABET.get(b % n) {
                    code.push(char::from(*c));
                }
            }
        }
    }
    Ok(code)
}

/// A user code as typed (any case, with dashes or spaces) in its stored form: 8 upper-case
/// letters of the alphabet; `None` when it cannot be one.
pub fn normalize_user_code(entered: &str) -> Option<String> {
    if entered.len() > 64 {
        return None;
    }
    let code: String = entered
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == USER_CODE_LEN && code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b)))
        .then_some(code)
}

/// A normalized user code as shown: `XXXX-XXXX`.
pub fn display_user_code(code: &str) -> String {
    match (code.get(..4), code.get(4..)) {
        (Some(a), Some(b)) => format!("{a}-{b}"),
        _ => code.to_string(),
    }
}

/// The keyed hash a normalized user code is stored under.
fn user_hash(t: &Tessera, code: &str) -> Vec<u8> {
    t.master.hash_secret(format!("user_code:{code}").as_bytes())
}

/// `POST /oauth/device_authorization` for `client` (already authenticated; public clients by
/// `client_id` alone): RFC 8628 §3.2's answer. The client must be registered for the device
/// grant (`unauthorized_client`); `scope` is checked as at the authorization endpoint.
pub async fn authorize(
    t: &Tessera,
    client: &Client,
    params: &Params,
    remote: &str,
) -> Result<Value, Failure> {
    require_grant(client, GrantType::DeviceCode)?;
    let scopes = scope::grant(client, params.get("scope"))?;
    let now = t.clock.now();
    let address = counted_address(remote);
    // Held until the row is stored (the count and the insert are one step per client).
    let _permit = CAPS.check(t, client, &address).await?;
    let device_code = random_token(32).map_err(|e| Failure::internal(&e))?;
    let row = DeviceCode {
        tenant_id: client.tenant_id.clone(),
        client_id: client.client_id.clone(),
        remote: address,
        scope: scopes.join(" "),
        status: DeviceStatus::Pending,
        user_id: None,
        granted_scope: None,
        auth_time: None,
        poll_interval: INTERVAL,
        last_poll_at: None,
        used_at: None,
        created_at: now,
        expires_at: now + EXPIRES_IN,
    };
    let device_hash = t.master.hash_secret(device_code.as_bytes());
    // A user code drawn twice among the live ones is drawn again (1 in 2.5e10 each).
    let mut user_code = None;
    for _ in 0..5 {
        let code = new_user_code()?;
        match t
            .store
            .insert_device_code(&device_hash, &user_hash(t, &code), &row)
            .await
        {
            Ok(()) => {
                user_code = Some(code);
                break;
            }
            Err(StoreError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    let Some(code) = user_code else {
        return Err(Failure::internal(&StoreError::Conflict));
    };
    let mut ev = event(now, "device_code.issued", "success");
    ev.actor = Some(client.client_id.clone());
    ev.tenant_id = Some(client.tenant_id.clone());
    ev.client_id = Some(client.client_id.clone());
    ev.remote = Some(remote.to_string());
    t.audit(ev).await;
    let shown = display_user_code(&code);
    let verification_uri = format!(
        "{}{VERIFICATION_PATH}",
        t.settings.issuer.trim_end_matches('/')
    );
    let complete = crate::oauth::authorize::with_query(&verification_uri, &[("user_code", &shown)]);
    Ok(json!({
        "device_code": device_code,
        "user_code": shown,
        "verification_uri": verification_uri,
        "verification_uri_complete": complete,
        "expires_in": EXPIRES_IN,
        "interval": INTERVAL,
    }))
}

/// A pending device request found by its user code: what `/device` and the login flow show
/// and decide on.
#[derive(Clone)]
pub struct DeviceRequest {
    /// The client that asked (active, in an active tenant, registered for the grant).
    pub client: Arc<Client>,
    /// Requested scopes.
    pub scopes: Vec<String>,
    /// The user code, normalized.
    user_code: String,
    /// Its keyed hash (the row's key for the decision).
    user_hash: Vec<u8>,
}

/// Written by hand: the user code is what a device's approval hangs on, kept out of logs.
impl std::fmt::Debug for DeviceRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceRequest")
            .field("client_id", &self.client.client_id)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

impl DeviceRequest {
    /// The user code as shown (`XXXX-XXXX`), for the pages.
    pub fn display_code(&self) -> String {
        display_user_code(&self.user_code)
    }

    /// The value of the login flow's hidden `request` field that carries this request through
    /// `/login` and "Sign in with …" back to the consent screen.
    pub fn login_request(&self) -> String {
        format!("{LOGIN_REQUEST_PREFIX}{}", self.user_code)
    }
}

/// The user code a login flow's `request` field carries, if it carries a device request.
pub fn from_login_request(request: &str) -> Option<&str> {
    request.strip_prefix(LOGIN_REQUEST_PREFIX)
}

/// The wrong-code failure every page shows the same way (unknown, expired, decided, malformed).
pub fn invalid_user_code() -> Failure {
    Failure::new(
        reasons::USER_CODE_INVALID,
        "That code is not valid, has expired or was already used. Check the code your device shows.",
    )
}

/// Looks up the pending request a typed user code names, as one attempt of the failure
/// limiter from `remote`: a wrong code counts as a failed authentication, and past the limit
/// the answer is 429 (`RATE_LIMITED`, with `retry_after`) whatever the code.
pub async fn find(t: &Tessera, entered: &str, remote: &str) -> Result<DeviceRequest, Failure> {
    // Counted before the code is looked up, so concurrent guesses never pass the limit.
    let attempt = t.attempt(remote, Some(LIMIT_SUBJECT)).await?;
    let found = match normalize_user_code(entered) {
        Some(code) => lookup(t, code).await?,
        None => None,
    };
    match found {
        Some(r) => {
            attempt.succeeded();
            Ok(r)
        }
        None => {
            attempt.failed();
            metrics::counter!("tessera_auth_failures_total").increment(1);
            let mut ev = event(t.clock.now(), "device.user_code_failed", "failure");
            ev.remote = Some(remote.to_string());
            t.audit_refusal(ev).await;
            Err(invalid_user_code())
        }
    }
}

/// The pending request of a normalized user code, if its client may still use the grant.
async fn lookup(t: &Tessera, code: String) -> Result<Option<DeviceRequest>, Failure> {
    let hash = user_hash(t, &code);
    let Some(row) = t.store.pending_device_code(&hash, t.clock.now()).await? else {
        return Ok(None);
    };
    let client = t.client(&row.client_id).await?.filter(|c| {
        c.status == Status::Active
            && c.tenant_id == row.tenant_id
            && require_grant(c, GrantType::DeviceCode).is_ok()
    });
    let Some(client) = client else {
        return Ok(None);
    };
    if !t.tenant_active(&client.tenant_id).await? {
        return Ok(None);
    }
    Ok(Some(DeviceRequest {
        client,
        scopes: row
            .scope
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        user_code: code,
        user_hash: hash,
    }))
}

/// The scopes the consent screen shows `user`: of those requested, those the user holds.
pub async fn scopes_for(
    t: &Tessera,
    req: &DeviceRequest,
    user: &User,
) -> Result<Vec<String>, Failure> {
    user_scopes(t, user, &req.scopes).await
}

/// Records the signed-in user's decision (RFC 8628 §3.3): approval grants the requested
/// scopes the user holds. Audited. `USER_CODE_INVALID` when the request was decided,
/// redeemed or expired in the meantime.
pub async fn decide(
    t: &Tessera,
    req: &DeviceRequest,
    session: &LoginSession,
    user: &User,
    approve: bool,
    remote: &str,
) -> Result<(), Failure> {
    let now = t.clock.now();
    let decision = if approve {
        DeviceDecision {
            status: DeviceStatus::Approved,
            user_id: user.id.clone(),
            granted_scope: Some(scopes_for(t, req, user).await?.join(" ")),
            auth_time: Some(session.auth_time),
        }
    } else {
        DeviceDecision {
            status: DeviceStatus::Denied,
            user_id: user.id.clone(),
            granted_scope: None,
            auth_time: None,
        }
    };
    if !t
        .store
        .decide_device_code(&req.user_hash, &decision, now)
        .await?
    {
        return Err(invalid_user_code());
    }
    let name = if approve {
        "device.approved"
    } else {
        "device.denied"
    };
    let mut ev = event(now, name, "success");
    ev.actor = Some(user.id.clone());
    ev.subject = Some(user.id.clone());
    ev.tenant_id = Some(user.tenant_id.clone());
    ev.client_id = Some(req.client.client_id.clone());
    ev.remote = Some(remote.to_string());
    t.audit(ev).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_are_eight_letters_of_the_alphabet() {
        for _ in 0..200 {
            let c = new_user_code().unwrap();
            assert_eq!(c.len(), 8);
            assert!(c.bytes().all(|b| USER_CODE_ALPHABET.contains(&b)), "{c}");
            assert_eq!(normalize_user_code(&c).as_deref(), Some(c.as_str()));
        }
    }

    #[test]
    fn user_codes_match_case_blind_ignoring_dashes_and_spaces() {
        for typed in [
            "BCDF-GHJK",
            "bcdf-ghjk",
            "bcdfghjk",
            " BcDf GhJk ",
            "BC-DF-GH-JK",
        ] {
            assert_eq!(
                normalize_user_code(typed).as_deref(),
                Some("BCDFGHJK"),
                "{typed}"
            );
        }
        for bad in [
            "",
            "BCDF-GHJ",
            "BCDF-GHJKL",
            "ABCD-EFGH",
            "BCDF_GHJK",
            "BCDF-GHJ1",
            &"B".repeat(100),
        ] {
            assert_eq!(normalize_user_code(bad), None, "{bad}");
        }
        assert_eq!(display_user_code("BCDFGHJK"), "BCDF-GHJK");
    }

    #[test]
    fn the_login_request_field_round_trips_only_with_its_prefix() {
        assert_eq!(from_login_request("device:BCDFGHJK"), Some("BCDFGHJK"));
        assert_eq!(from_login_request("client_id=a&device:x"), None);
    }
}
