//! ID tokens of upstream OpenID providers a tenant trusts (SPEC §3.3, §2.1 token exchange):
//! discovery (`{issuer}/.well-known/openid-configuration` → `jwks_uri`), a JWKS cache per
//! provider refetched on an unknown `kid` at most once per `upstream.jwks_min_refresh`
//! seconds, and the checks of OIDC Core §3.1.3.7: signature with an allowed asymmetric
//! algorithm (never `none`, never HMAC; a key only verifies its own algorithm), `iss`, `aud`,
//! `exp`/`nbf`/`iat` with at most 60 s leeway, and `email_verified` not false.
//!
//! Every request to a provider goes through [`Guarded`] (SPEC §7.1): `https` to public
//! addresses only, unless the address lies in `upstream.allowed_networks`; checked on the
//! address connected; no redirects.

use crate::clock::SharedClock;
use crate::config::UpstreamSettings;
use crate::failure::Failure;
use crate::keys::jws::{self, JwsError};
use crate::keys::signer::{Alg, VerifyingKey};
use crate::outbound::{refused_in, Guarded, Refused};
use crate::reasons;
use crate::store::Store;
use crate::tenants::Upstream;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// Clock leeway for `exp`, `nbf` and `iat` (SPEC §3.3: at most 60 s).
pub const LEEWAY: i64 = 60;

/// The most of a discovery document or JWKS read.
const MAX_DOC: usize = 512 * 1024;

/// A verified upstream ID token.
#[derive(Debug, Clone)]
pub struct VerifiedIdToken {
    /// The upstream provider that signed it.
    pub upstream: Upstream,
    /// Its `sub` at the provider.
    pub subject: String,
    /// The e-mail it asserts (mapped to a tenant user).
    pub email: String,
    /// Its `nonce`, if any (checked by the "sign in with" login).
    pub nonce: Option<String>,
    /// Its `email_verified`, when it states one (`"true"` as a string counts).
    pub email_verified: Option<bool>,
}

/// What one provider's cache holds.
#[derive(Debug, Default)]
struct ProviderState {
    /// Keys of the last JWKS read.
    keys: Vec<VerifyingKey>,
    /// Unix seconds of the last successful JWKS read.
    fetched_at: Option<i64>,
    /// Unix seconds of the last fetch attempt (successful or not), for the refetch limit.
    tried_at: Option<i64>,
}

/// Why keys could not be had.
#[derive(Debug, thiserror::Error)]
enum FetchError {
    /// Connection, TLS, timeout, non-200.
    #[error("the provider is unreachable")]
    Unreachable,
    /// The URL or its address is one upstream requests may not reach (SPEC §7.1).
    #[error("the request was refused: {0}")]
    Refused(Refused),
    /// The documents are not what OIDC Discovery / RFC 7517 describe.
    #[error("the provider's discovery document or JWKS is invalid")]
    Invalid,
}

/// JWKS caches of every upstream provider this node has talked to, by issuer.
pub struct Providers {
    /// HTTP clients with timeouts, kept off non-public addresses.
    http: Guarded,
    /// One lock per issuer: a fetch holds it, so concurrent misses fetch once.
    by_issuer: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<ProviderState>>>>,
    /// The tenants' trusted providers.
    store: Store,
    /// Token times and cache ages.
    clock: SharedClock,
    /// Cache lifetimes (`upstream.*`).
    settings: UpstreamSettings,
}

impl std::fmt::Debug for Providers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Providers").finish_non_exhaustive()
    }
}

/// A request the guard did not let go, logged.
fn refused(url: &str, r: Refused) -> FetchError {
    tracing::warn!(url, reason = %r, "upstream provider request refused");
    FetchError::Refused(r)
}

/// A request that failed, logged; a refusal at connect time stays a refusal.
fn send_failed(url: &str, e: &reqwest::Error) -> FetchError {
    match refused_in(e) {
        Some(r) => refused(url, r.clone()),
        None => {
            tracing::warn!(url, error = %e, "upstream provider request failed");
            FetchError::Unreachable
        }
    }
}

/// 401 `UPSTREAM_TOKEN_INVALID`: one outward answer for every way the token is bad.
pub fn invalid(detail: &str) -> Failure {
    Failure::new(reasons::UPSTREAM_TOKEN_INVALID, detail)
}

impl Providers {
    /// An empty cache whose requests time out after `timeout` seconds and reach only public
    /// addresses and `allowed` (`upstream.allowed_networks`).
    pub fn new(
        settings: &UpstreamSettings,
        allowed: Vec<ipnet::IpNet>,
        store: Store,
        clock: SharedClock,
    ) -> Providers {
        Providers {
            http: Guarded::new(settings.timeout, allowed),
            by_issuer: std::sync::Mutex::new(HashMap::new()),
            store,
            clock,
            settings: settings.clone(),
        }
    }

    /// Checks an issuer about to be registered against the address rule (SPEC §7.1).
    pub async fn check_issuer(&self, issuer: &str) -> Result<(), Refused> {
        self.http.check_issuer(issuer).await
    }

    fn state(&self, issuer: &str) -> Arc<tokio::sync::Mutex<ProviderState>> {
        let mut map = match self.by_issuer.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        map.entry(issuer.to_string()).or_default().clone()
    }

    async fn get_json(&self, url: &str) -> Result<Value, FetchError> {
        let mut resp = self
            .http
            .request(reqwest::Method::GET, url)
            .map_err(|r| refused(url, r))?
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| send_failed(url, &e))?;
        // Redirects are not followed (SPEC §7.1): a 3xx is an error like any other.
        if !resp.status().is_success() {
            tracing::warn!(
                url,
                status = resp.status().as_u16(),
                "upstream provider answered an error"
            );
            return Err(FetchError::Unreachable);
        }
        let mut buf = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|_| FetchError::Unreachable)? {
            buf.extend_from_slice(&chunk);
            if buf.len() > MAX_DOC {
                return Err(FetchError::Invalid);
            }
        }
        serde_json::from_slice(&buf).map_err(|_| FetchError::Invalid)
    }

    /// The provider's `authorization_endpoint` and `token_endpoint` (discovery), for the
    /// "sign in with" login.
    pub async fn login_endpoints(&self, issuer: &str) -> Result<(String, String), Failure> {
        let unavailable = |e: FetchError| {
            Failure::unavailable(format!(
                "the upstream OpenID provider {issuer} could not be used: {e}"
            ))
        };
        let d = self.discovery(issuer).await.map_err(unavailable)?;
        let field = |k: &str| d.get(k).and_then(Value::as_str).map(str::to_string);
        match (field("authorization_endpoint"), field("token_endpoint")) {
            (Some(auth), Some(token)) => Ok((auth, token)),
            _ => Err(unavailable(FetchError::Invalid)),
        }
    }

    /// `issuer`'s discovery document, whose `issuer` must be the one asked for (OIDC
    /// Discovery §4.3).
    async fn discovery(&self, issuer: &str) -> Result<Value, FetchError> {
        let d = self
            .get_json(&format!(
                "{}/.well-known/openid-configuration",
                issuer.trim_end_matches('/')
            ))
            .await?;
        if d.get("issuer").and_then(Value::as_str) != Some(issuer) {
            return Err(FetchError::Invalid);
        }
        Ok(d)
    }

    /// Redeems an authorization code at the provider's token endpoint (public client with
    /// PKCE); returns the ID token.
    pub async fn redeem_code(
        &self,
        token_endpoint: &str,
        form: &[(&str, &str)],
    ) -> Result<String, Failure> {
        let unavailable =
            |e: FetchError| Failure::unavailable(format!("the upstream token endpoint: {e}"));
        let resp = self
            .http
            .request(reqwest::Method::POST, token_endpoint)
            .map_err(|r| unavailable(refused(token_endpoint, r)))?
            .header("accept", "application/json")
            .form(form)
            .send()
            .await
            .map_err(|e| unavailable(send_failed(token_endpoint, &e)))?;
        if resp.status().is_server_error() {
            return Err(Failure::unavailable("the upstream token endpoint failed"));
        }
        // Redirects are not followed (SPEC §7.1).
        if resp.status().is_redirection() {
            return Err(Failure::unavailable(
                "the upstream token endpoint redirected (not followed)",
            ));
        }
        let ok = resp.status().is_success();
        let body: Value = resp
            .json()
            .await
            .map_err(|_| invalid("the upstream token endpoint sent an unreadable answer"))?;
        match body.get("id_token").and_then(Value::as_str) {
            Some(id) if ok => Ok(id.to_string()),
            _ => Err(invalid("the upstream provider did not issue an ID token")),
        }
    }

    /// Discovery then JWKS for `issuer`.
    async fn fetch_keys(&self, issuer: &str) -> Result<Vec<VerifyingKey>, FetchError> {
        let discovery = self.discovery(issuer).await?;
        let jwks_uri = discovery
            .get("jwks_uri")
            .and_then(Value::as_str)
            .ok_or(FetchError::Invalid)?;
        let jwks = self.get_json(jwks_uri).await?;
        let keys = jwks
            .get("keys")
            .and_then(Value::as_array)
            .ok_or(FetchError::Invalid)?;
        // Keys that are not for signatures, or of a kind we refuse (oct), are skipped.
        Ok(keys
            .iter()
            .filter(|k| {
                k.get("use")
                    .and_then(Value::as_str)
                    .is_none_or(|u| u == "sig")
            })
            .filter_map(VerifyingKey::from_jwk)
            .collect())
    }

    /// Verifies the signature of `token` by `issuer`'s keys, fetching or refetching them as
    /// needed. Returns the claims.
    async fn verify_signature(&self, issuer: &str, token: &str) -> Result<Value, Failure> {
        let now = self.clock.now();
        let settings = &self.settings;
        let state = self.state(issuer);
        let mut st = state.lock().await;
        let stale = st
            .fetched_at
            .is_none_or(|at| now - at >= settings.jwks_cache_ttl);
        if stale {
            self.refresh(&mut st, issuer, now).await?;
        }
        match jws::verify(token, &st.keys) {
            Ok(v) => Ok(v.claims),
            Err(JwsError::UnknownKey) => {
                // A new key may have been published: refetch, but not more than once per
                // jwks_min_refresh seconds, so a flood of unknown kids cannot hammer the provider.
                let may = st
                    .tried_at
                    .is_none_or(|at| now - at >= settings.jwks_min_refresh);
                if !may {
                    return Err(invalid("the upstream token is signed by an unknown key"));
                }
                self.refresh(&mut st, issuer, now).await?;
                jws::verify(token, &st.keys)
                    .map(|v| v.claims)
                    .map_err(|_| invalid("the upstream token's signature is not valid"))
            }
            Err(_) => Err(invalid("the upstream token's signature is not valid")),
        }
    }

    async fn refresh(&self, st: &mut ProviderState, issuer: &str, now: i64) -> Result<(), Failure> {
        st.tried_at = Some(now);
        metrics::counter!("tessera_upstream_jwks_fetches_total").increment(1);
        match self.fetch_keys(issuer).await {
            Ok(keys) => {
                st.keys = keys;
                st.fetched_at = Some(now);
                Ok(())
            }
            // Keys already known stay usable while the provider is down.
            Err(_) if !st.keys.is_empty() => {
                tracing::warn!(
                    issuer,
                    "upstream JWKS refresh failed; keeping the cached keys"
                );
                Ok(())
            }
            Err(e) => Err(Failure::unavailable(format!(
                "the upstream OpenID provider {issuer} could not be reached for its keys: {e}"
            ))),
        }
    }

    /// Verifies an upstream ID token against the trusted providers of `tenant`.
    pub async fn verify_id_token(
        &self,
        tenant: &str,
        token: &str,
    ) -> Result<VerifiedIdToken, Failure> {
        // Refuse what no key could verify before talking to anyone (alg none, HMAC, garbage).
        let header =
            jws::peek_header(token).map_err(|_| invalid("the upstream token is malformed"))?;
        // SPEC §7.2: an over-long `kid` is refused before any lookup or fetch.
        if header
            .get("kid")
            .and_then(Value::as_str)
            .is_some_and(crate::failure::identifier_too_long)
        {
            return Err(invalid("the upstream token is malformed"));
        }
        if header
            .get("alg")
            .and_then(Value::as_str)
            .and_then(Alg::parse)
            .is_none()
        {
            return Err(invalid("the upstream token's algorithm is not allowed"));
        }
        let unverified =
            jws::peek_claims(token).map_err(|_| invalid("the upstream token is malformed"))?;
        let iss = unverified
            .get("iss")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("the upstream token has no issuer"))?;
        let trusted: Vec<Upstream> = self
            .store
            .list_upstreams(tenant)
            .await?
            .into_iter()
            .filter(|u| u.issuer == iss)
            .collect();
        let Some(first) = trusted.first() else {
            return Err(invalid(
                "the upstream token's issuer is not trusted by this tenant",
            ));
        };
        let claims = self.verify_signature(&first.issuer, token).await?;
        // The signed issuer is the one the keys were chosen for.
        if claims.get("iss").and_then(Value::as_str) != Some(first.issuer.as_str()) {
            return Err(invalid(
                "the upstream token's issuer is not trusted by this tenant",
            ));
        }
        let auds: Vec<&str> = match claims.get("aud") {
            Some(Value::String(a)) => vec![a.as_str()],
            Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let upstream = trusted
            .iter()
            .find(|u| auds.contains(&u.client_id.as_str()))
            .ok_or_else(|| invalid("the upstream token is not meant for this tenant (aud)"))?
            .clone();
        check_times(&claims, self.clock.now())?;
        // Some providers send the boolean as a string.
        let email_verified = match claims.get("email_verified") {
            Some(Value::Bool(b)) => Some(*b),
            Some(Value::String(s)) => Some(s == "true"),
            _ => None,
        };
        if email_verified == Some(false) {
            return Err(invalid("the upstream token's e-mail is not verified"));
        }
        let email = claims
            .get("email")
            .and_then(Value::as_str)
            .filter(|e| !e.is_empty())
            .ok_or_else(|| invalid("the upstream token carries no e-mail"))?
            .to_string();
        let subject = claims
            .get("sub")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let nonce = claims
            .get("nonce")
            .and_then(Value::as_str)
            .map(str::to_string);
        Ok(VerifiedIdToken {
            upstream,
            subject,
            email,
            nonce,
            email_verified,
        })
    }
}

/// `exp` required and not passed, `iat` required and not in the future, `nbf` if present
/// reached; each with [`LEEWAY`].
fn check_times(claims: &Value, now: i64) -> Result<(), Failure> {
    let num = |k: &str| claims.get(k).and_then(Value::as_i64);
    let exp = num("exp").ok_or_else(|| invalid("the upstream token has no exp"))?;
    if exp.saturating_add(LEEWAY) <= now {
        return Err(invalid("the upstream token has expired"));
    }
    let iat = num("iat").ok_or_else(|| invalid("the upstream token has no iat"))?;
    if iat > now.saturating_add(LEEWAY) {
        return Err(invalid("the upstream token was issued in the future"));
    }
    if num("nbf").is_some_and(|nbf| nbf > now.saturating_add(LEEWAY)) {
        return Err(invalid("the upstream token is not valid yet"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn times_are_checked_with_sixty_seconds_of_leeway() {
        let now = 1000;
        assert!(check_times(&json!({"exp": 1000 - 59, "iat": 900}), now).is_ok());
        assert!(check_times(&json!({"exp": 1000 - 60, "iat": 900}), now).is_err());
        assert!(check_times(&json!({"exp": 2000, "iat": 1060}), now).is_ok());
        assert!(check_times(&json!({"exp": 2000, "iat": 1061}), now).is_err());
        assert!(check_times(&json!({"exp": 2000, "iat": 900, "nbf": 1061}), now).is_err());
        assert!(check_times(&json!({"iat": 900}), now).is_err());
        assert!(check_times(&json!({"exp": 2000}), now).is_err());
    }
}
