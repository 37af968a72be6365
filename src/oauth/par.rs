//! Pushed authorization requests (RFC 9126, SPEC §9).
//!
//! A client authenticates at `POST /oauth/par` exactly as at the token endpoint and pushes
//! the parameters of an authorization request; they are validated as `/oauth/authorize`
//! would ([`authorize::check`]) and stored for [`EXPIRES_IN`] seconds under the keyed hash of
//! the random part of the `request_uri` handed back (as codes are). The browser then brings
//! `client_id` and `request_uri` to `/oauth/authorize`, and the stored parameters replace
//! whatever else the query says (RFC 9126 §4).
//!
//! **Where "used once" is enforced.** The login page posts its authorization request back
//! (hidden field `request`) and it is validated again on every post, so a pushed request is
//! needed for longer than one GET. The stored row therefore stays until the code is issued:
//!
//! - The first `/oauth/authorize` with the request_uri *opens* it for the browser that made
//!   it: the row records the keyed hash of the browser's CSRF binding (its `tessera_csrf`
//!   cookie, which no other site can read) and from then on lives [`SIGN_IN_TTL`] seconds
//!   after its last use instead of 60 s after the push, the time a person needs to sign in.
//! - That browser may open it again: reloading the login page, posting the form (with a
//!   wrong password too), going through an upstream provider and back. Any other browser,
//!   or a call without cookies, is refused, as is another client's `client_id`.
//! - Issuing the code *consumes* it (one conditional DELETE, so exactly one of several racing
//!   posts wins, on any node). After that every use is refused.
//!
//! The hidden field holds only `client_id` and `request_uri`, never the parameters, so there
//! is no "pushed" marker to forge: a request counts as pushed only when its row exists and is
//! this browser's. The row, not an HMAC in the page, is the proof, and it can be consumed.

use crate::crypto::random_token;
use crate::failure::Failure;
use crate::oauth::authorize::{self, AuthorizeError};
use crate::oauth::limits::counted_address;
use crate::oauth::pending::PendingCaps;
use crate::params::Params;
use crate::reasons;
use crate::service::Tessera;
use crate::store::{Pending, PushedRequest};
use crate::tenants::Client;

/// RFC 9126 §2.2: the prefix of every `request_uri` this server hands out.
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// RFC 9126 §2.2 `expires_in`: seconds between the push and the first use of the request_uri.
pub const EXPIRES_IN: i64 = 60;

/// Seconds an opened request stays usable after its last use by its browser (the time to
/// sign in; as long as an upstream sign-in's state lives).
pub const SIGN_IN_TTL: i64 = crate::login::upstream::STATE_TTL;

/// Longest stored parameter set, bytes: every stored value is bounded by validation but
/// `scope` (repeats), so this bounds what a public client (authenticated by its id alone)
/// can make the database hold per push.
const MAX_STORED: usize = 8192;

/// Unexpired pushed requests one client may hold: a public client pushes by `client_id`
/// alone, so without a bound anyone could fill the table (SPEC §7.2); past it, 429 until some
/// expire (at most 8 MiB per client).
pub const MAX_LIVE_PER_CLIENT: i64 = 1_000;

/// Unexpired pushed requests of one public client that one address (an IPv4 address or an
/// IPv6 /64, as the failure limiter counts it) may hold: without it anyone could take all
/// [`MAX_LIVE_PER_CLIENT`] from one address and lock the client's users out of signing in;
/// now that takes ten addresses. A public client pushes from its user's device, one request
/// per sign-in. A confidential client proves its credential and pushes every user's request
/// from its own servers, so only the per-client cap holds it.
pub const MAX_LIVE_PER_ADDRESS: i64 = 100;

/// Both caps of pushed requests (a refusal says to retry when a push's life is over).
const CAPS: PendingCaps = PendingCaps {
    kind: Pending::PushedRequests,
    per_client: MAX_LIVE_PER_CLIENT,
    per_address: MAX_LIVE_PER_ADDRESS,
    what: "pushed authorization requests",
    retry_after: EXPIRES_IN as u64,
};

/// A pushed request opened by a browser, to be consumed when its code is issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    /// The client's tenant.
    tenant_id: String,
    /// Keyed hash of the request_uri's random part.
    id_hash: Vec<u8>,
    /// Keyed hash of the browser's CSRF binding.
    browser_hash: Vec<u8>,
}

/// The answer to a push (RFC 9126 §2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    /// `urn:ietf:params:oauth:request_uri:` and 256 random bits.
    pub request_uri: String,
    /// Seconds it may be used in.
    pub expires_in: i64,
}

/// The one message of every refused request_uri: the browser learns nothing about which
/// check failed (unknown, expired, used, another client's or another browser's).
fn refused() -> Failure {
    Failure::new(
        reasons::REQUEST_URI_INVALID,
        "This sign-in link is unknown, expired or already used. Go back to the application and start again.",
    )
}

/// The stored form of a request: the parameters `/oauth/authorize` reads, with `client_id`
/// the authenticated client's.
fn stored_form(client_id: &str, params: &Params, dpop_jkt: Option<&str>) -> String {
    let mut ser = form_urlencoded::Serializer::new(String::new());
    for name in authorize::PARAMS {
        let value = match *name {
            "client_id" => Some(client_id),
            "dpop_jkt" => dpop_jkt.or_else(|| params.get(name)),
            _ => params.get(name),
        };
        if let Some(v) = value {
            ser.append_pair(name, v);
        }
    }
    ser.finish()
}

/// RFC 9126 §2: validates and stores the authorization request `params` pushed by the
/// authenticated `client` from `remote`. Errors are `/oauth/authorize`'s, answered as JSON
/// (§2.3). `proof` is the push's DPoP proof, checked but not recorded: the code will be bound
/// to its key (RFC 9449 §10.1), a `dpop_jkt` parameter must then name the same key, and it
/// is recorded only once the push is valid, so that a refused push writes nothing.
pub async fn push(
    t: &Tessera,
    client: &Client,
    params: &Params,
    remote: &str,
    mut proof: Option<crate::oauth::dpop::Checked>,
) -> Result<Pushed, Failure> {
    let proof_jkt = proof.as_ref().map(|p| p.jkt.clone());
    let proof_jkt = proof_jkt.as_deref();
    if let (Some(proof), Some(param)) = (proof_jkt, params.get("dpop_jkt")) {
        if proof != param {
            return Err(crate::oauth::dpop::invalid(
                "dpop_jkt names another key than the DPoP proof's",
            ));
        }
    }
    // §2.1: a pushed request cannot point at another one.
    if params.get("request_uri").is_some() {
        return Err(Failure::invalid(
            "request_uri",
            "a pushed authorization request cannot carry a request_uri (RFC 9126 §2.1)",
        ));
    }
    if !client.grant_types.iter().any(|g| g == "authorization_code") {
        return Err(Failure::new(
            reasons::CLIENT_NOT_ALLOWED_GRANT,
            "this client may not use the authorization code grant",
        ));
    }
    let address = counted_address(remote);
    let form = stored_form(&client.client_id, params, proof_jkt);
    if form.len() > MAX_STORED {
        return Err(Failure::malformed(format!(
            "the pushed authorization request is longer than {MAX_STORED} bytes"
        )));
    }
    // What is validated is exactly what is stored and later replayed at /oauth/authorize.
    let stored = Params::from_form(form.as_bytes())?;
    authorize::check(t, &stored, true)
        .await
        .map_err(AuthorizeError::into_failure)?;
    // Counted once the push is valid, the permit held until it is stored; a push refused by a
    // cap records no proof.
    let _permit = CAPS.check(t, client, &address).await?;
    crate::oauth::grant::record_proof(t, &mut proof).await?;
    let random = random_token(32).map_err(|e| Failure::internal(&e))?;
    let row = PushedRequest {
        tenant_id: client.tenant_id.clone(),
        client_id: client.client_id.clone(),
        remote: address,
        params: form,
        expires_at: t.clock.now() + EXPIRES_IN,
    };
    t.store
        .insert_pushed_request(&t.master.hash_secret(random.as_bytes()), &row)
        .await?;
    Ok(Pushed {
        request_uri: format!("{REQUEST_URI_PREFIX}{random}"),
        expires_in: EXPIRES_IN,
    })
}

/// RFC 9126 §4: the pushed parameters `request_uri` stands for, opened for the browser whose
/// CSRF binding is `browser` (see the module doc). `client_id` must be the pushing client's.
pub async fn open(
    t: &Tessera,
    client_id: &str,
    request_uri: &str,
    browser: &str,
) -> Result<(Params, Opened), Failure> {
    let random = request_uri
        .strip_prefix(REQUEST_URI_PREFIX)
        .filter(|r| !r.is_empty())
        .ok_or_else(refused)?;
    let client = t.client(client_id).await?.ok_or_else(refused)?;
    let opened = Opened {
        tenant_id: client.tenant_id.clone(),
        id_hash: t.master.hash_secret(random.as_bytes()),
        browser_hash: t
            .master
            .hash_secret(format!("par-browser:{browser}").as_bytes()),
    };
    let now = t.clock.now();
    let form = t
        .store
        .open_pushed_request(
            &opened.tenant_id,
            &opened.id_hash,
            &client.client_id,
            &opened.browser_hash,
            now,
            now + SIGN_IN_TTL,
        )
        .await?
        .ok_or_else(refused)?;
    let params = Params::from_form(form.as_bytes()).map_err(|_| {
        Failure::internal(&std::io::Error::other(
            "a stored pushed request does not parse",
        ))
    })?;
    Ok((params, opened))
}

/// Consumes an opened request as its code is issued: exactly one caller succeeds.
pub async fn consume(t: &Tessera, opened: &Opened) -> Result<(), Failure> {
    let consumed = t
        .store
        .consume_pushed_request(
            &opened.tenant_id,
            &opened.id_hash,
            &opened.browser_hash,
            t.clock.now(),
        )
        .await?;
    if consumed {
        Ok(())
    } else {
        Err(refused())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_authorization_parameters_are_stored_with_the_authenticated_client_id() {
        let params = Params::from_pairs(
            [
                ("client_id", "other"),
                ("client_secret", "s3cret"),
                ("response_type", "code"),
                ("state", "a b"),
                ("unknown", "x"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        )
        .unwrap();
        assert_eq!(
            stored_form("spa", &params, None),
            "response_type=code&client_id=spa&state=a+b"
        );
    }
}
