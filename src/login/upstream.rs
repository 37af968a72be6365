//! "Sign in with …" (SPEC §2.4): the login page offers the tenant's trusted upstream OpenID
//! providers. Tessera is a public client there (authorization code with PKCE S256 and a
//! nonce, `redirect_uri` = `{issuer}/login/upstream/callback`, the upstream's `client_id`
//! as registered with `tessera upstream add`). Nothing is stored between the two legs: the
//! `state` sent upstream carries the original authorization request, the PKCE verifier and
//! the nonce, signed under the master key and bound to the browser's CSRF cookie, so a state
//! cannot be forged, altered or used from another browser. The ID token is verified like an
//! `oidcToken` (signature by the provider's JWKS, `iss`, `aud`, times, algorithms) plus the
//! nonce, and here `email_verified` must be present and true: the e-mail alone picks the
//! tenant user, so an unverified or unstated one is never enough to sign anyone in.
//!
//! The state is *encrypted* (AES-256-GCM under the master key), not only signed: it holds
//! the PKCE verifier, and the callback URL, which carries it next to the code, ends up in
//! browser history and proxy logs. It expires after [`STATE_TTL`] seconds.

use crate::crypto::{b64url, b64url_decode, random_token};
use crate::failure::Failure;
use crate::service::Tessera;
use serde::{Deserialize, Serialize};

/// Where the provider sends the browser back.
pub const CALLBACK_PATH: &str = "/login/upstream/callback";

/// Seconds a state stays usable: the time to sign in at the provider.
pub const STATE_TTL: i64 = 600;

/// Additional data of the state's encryption (keeps it apart from private keys at rest).
const STATE_AAD: &[u8] = b"tessera:upstream-login-state";

/// What the first leg hands to the second, inside `state`.
#[derive(Serialize, Deserialize)]
pub struct Pending {
    /// The upstream's id in the tenant.
    pub upstream: String,
    /// The original authorization request (query string).
    pub request: String,
    /// PKCE verifier.
    pub verifier: String,
    /// Nonce the ID token must carry.
    pub nonce: String,
    /// The browser's CSRF token when the state was made.
    pub csrf: String,
    /// When the state was made (unix seconds).
    pub iat: i64,
}

/// Written by hand: the verifier is a secret of this flow.
impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("upstream", &self.upstream)
            .finish_non_exhaustive()
    }
}

impl Pending {
    /// A new pending sign-in for `upstream` and the authorization request `request`.
    pub fn new(t: &Tessera, upstream: &str, request: &str, csrf: &str) -> Result<Pending, Failure> {
        Ok(Pending {
            upstream: upstream.to_string(),
            request: request.to_string(),
            verifier: random_token(32).map_err(|e| Failure::internal(&e))?,
            nonce: random_token(16).map_err(|e| Failure::internal(&e))?,
            csrf: csrf.to_string(),
            iat: t.clock.now(),
        })
    }

    /// The PKCE S256 challenge of the verifier.
    pub fn challenge(&self) -> String {
        b64url(
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, self.verifier.as_bytes())
                .as_ref(),
        )
    }

    /// The state: the pending sign-in encrypted under the master key, base64url.
    pub fn to_state(&self, t: &Tessera) -> Result<String, Failure> {
        let json = serde_json::to_vec(self).map_err(|e| Failure::internal(&e))?;
        let sealed = t
            .master
            .encrypt(&json, STATE_AAD)
            .map_err(|e| Failure::internal(&e))?;
        Ok(b64url(&sealed))
    }

    /// The pending sign-in a `state` carries, if we made it less than [`STATE_TTL`] ago.
    pub fn from_state(t: &Tessera, state: &str) -> Option<Pending> {
        let plain = t.master.decrypt(&b64url_decode(state)?, STATE_AAD).ok()?;
        let p: Pending = serde_json::from_slice(&plain).ok()?;
        let age = t.clock.now() - p.iat;
        (0..=STATE_TTL).contains(&age).then_some(p)
    }
}

/// The provider's authorization URL for `pending`.
pub fn authorize_url(
    t: &Tessera,
    endpoint: &str,
    client_id: &str,
    pending: &Pending,
) -> Result<String, Failure> {
    let mut url = reqwest::Url::parse(endpoint)
        .map_err(|_| Failure::unavailable("the upstream authorization endpoint is not a URL"))?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", &callback_url(t))
        .append_pair("scope", "openid email profile")
        .append_pair("state", &pending.to_state(t)?)
        .append_pair("nonce", &pending.nonce)
        .append_pair("code_challenge", &pending.challenge())
        .append_pair("code_challenge_method", "S256");
    Ok(url.to_string())
}

/// The upstream `id` of `tenant`; 400 with a pointer when the tenant does not trust it.
pub async fn trusted(
    t: &Tessera,
    tenant: &str,
    id: &str,
) -> Result<crate::tenants::users::Upstream, Failure> {
    t.store
        .list_upstreams(tenant)
        .await?
        .into_iter()
        .find(|u| u.id == id)
        .ok_or_else(|| Failure::invalid("upstream", "no such upstream provider here"))
}

/// `{issuer}/login/upstream/callback`.
pub fn callback_url(t: &Tessera) -> String {
    format!("{}{CALLBACK_PATH}", t.settings.issuer.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenge_is_base64url_of_the_verifiers_sha256() {
        // Computed independently: base64.urlsafe_b64encode(hashlib.sha256(v).digest()) in Python.
        let p = Pending {
            upstream: "u".into(),
            request: String::new(),
            verifier: "dBjftJeZ4CVP-mJ92K9pmDcNMSzAEPrmiHRtBfjCxFs".into(),
            nonce: String::new(),
            csrf: String::new(),
            iat: 0,
        };
        assert!(
            !format!("{p:?}").contains("dBjft"),
            "the verifier never shows in Debug"
        );
        assert_eq!(p.challenge(), "lUA35JO9ithWngSoXny3kCud7dWYDP4a-NxK2W3T6JU");
    }
}
