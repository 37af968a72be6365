//! Client authentication at the token, introspection and revocation endpoints (RFC 6749
//! §2.3, RFC 7523 §2.2): exactly one method per request; unknown clients and wrong secrets
//! answer identically and cost the same (one keyed hash and a constant-time compare).

use crate::crypto::{b64_decode, ct_eq};
use crate::failure::Failure;
use crate::keys::{jws, signer::VerifyingKey};
use crate::params::{form_decode, Params};
use crate::reasons;
use crate::service::{event, Tessera};
use crate::tenants::{AuthMethod, Client, ClientSecrets, SecretHash, Status};
use std::sync::Arc;

/// RFC 7523 client assertion type.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The credentials a request presents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presented {
    /// `Authorization: Basic` (RFC 6749 §2.3.1).
    Basic {
        /// Decoded client id.
        id: String,
        /// Decoded secret (never logged).
        secret: crate::secret::Secret,
    },
    /// `client_id` + `client_secret` in the body.
    Post {
        /// Client id.
        id: String,
        /// Secret.
        secret: crate::secret::Secret,
    },
    /// `client_assertion` (private_key_jwt).
    Assertion {
        /// The JWT.
        assertion: String,
        /// `client_id` from the body, if given.
        id: Option<String>,
    },
    /// Only a `client_id` (public client).
    Public {
        /// Client id.
        id: String,
    },
    /// Nothing.
    Nothing,
}

impl Presented {
    /// True when the client used HTTP Basic (a 401 then carries a Basic challenge).
    pub fn is_basic(&self) -> bool {
        matches!(self, Presented::Basic { .. })
    }

    /// The client id the request names, if any.
    pub fn client_id(&self) -> Option<&str> {
        match self {
            Presented::Basic { id, .. } | Presented::Post { id, .. } | Presented::Public { id } => {
                Some(id)
            }
            Presented::Assertion { id, .. } => id.as_deref(),
            Presented::Nothing => None,
        }
    }
}

/// Decodes an `Authorization: Basic` value into form-url-decoded id and secret. An id over
/// [`MAX_IDENTIFIER`](crate::failure::MAX_IDENTIFIER) characters is `invalid_request` (400,
/// SPEC §7.2) rather than a failed authentication: it is refused before any lookup or limit.
pub fn decode_basic(value: &str) -> Result<(String, String), Failure> {
    let encoded = value.trim();
    let raw = b64_decode(encoded).ok_or_else(Failure::bad_client)?;
    let text = String::from_utf8(raw).map_err(|_| Failure::bad_client())?;
    let (id, secret) = text.split_once(':').ok_or_else(Failure::bad_client)?;
    let id = form_decode(id.as_bytes()).map_err(|_| Failure::bad_client())?;
    Failure::check_identifier("client_id", &id)?;
    let secret = form_decode(secret.as_bytes()).map_err(|_| Failure::bad_client())?;
    Ok((id, secret))
}

/// The `Basic` credentials of an Authorization header, if it uses that scheme.
pub fn basic_credentials(authorization: Option<&str>) -> Option<&str> {
    let value = authorization?;
    let (scheme, rest) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("basic").then_some(rest)
}

/// Works out which credentials a request presents; two methods at once is `invalid_request`.
pub fn presented(authorization: Option<&str>, params: &Params) -> Result<Presented, Failure> {
    let basic = basic_credentials(authorization);
    let body_secret = params.get("client_secret");
    let assertion = params.get("client_assertion");
    let methods = usize::from(basic.is_some())
        + usize::from(body_secret.is_some())
        + usize::from(assertion.is_some());
    if methods > 1 {
        return Err(Failure::new(
            reasons::MULTIPLE_CLIENT_AUTH,
            "use exactly one client authentication method",
        ));
    }
    if let Some(b) = basic {
        let (id, secret) = decode_basic(b).map_err(|mut f| {
            f.basic_challenge = true;
            f
        })?;
        if params.get("client_id").is_some_and(|body_id| body_id != id) {
            return Err(Failure::new(
                reasons::MULTIPLE_CLIENT_AUTH,
                "client_id in the body differs from the HTTP Basic client id",
            ));
        }
        return Ok(Presented::Basic {
            id,
            secret: crate::secret::Secret::new(secret),
        });
    }
    if let Some(a) = assertion {
        if params.get("client_assertion_type") != Some(JWT_BEARER) {
            return Err(Failure::invalid(
                "client_assertion_type",
                format!("client_assertion_type must be {JWT_BEARER}"),
            ));
        }
        return Ok(Presented::Assertion {
            assertion: a.to_string(),
            id: params.get("client_id").map(str::to_string),
        });
    }
    match (params.get("client_id"), body_secret) {
        (Some(id), Some(secret)) => Ok(Presented::Post {
            id: id.to_string(),
            secret: crate::secret::Secret::new(secret),
        }),
        (None, Some(_)) => Err(Failure::missing("client_id")),
        (Some(id), None) => Ok(Presented::Public { id: id.to_string() }),
        (None, None) => Ok(Presented::Nothing),
    }
}

/// A fixed hash compared against when the client does not exist, so unknown clients cost
/// the same keyed hash and compare as known ones.
const DUMMY_HASH: [u8; 32] = [0x5a; 32];

/// Checks a secret against a stored hash (argon2 under the hash permits: 503 without one).
async fn secret_matches(
    t: &Tessera,
    presented: &str,
    stored: &SecretHash,
) -> Result<bool, Failure> {
    match stored {
        SecretHash::Hmac(h) => Ok(ct_eq(&t.master.hash_secret(presented.as_bytes()), h)),
        SecretHash::Argon2(phc) => t.hashes.verify(presented.as_bytes(), phc).await,
    }
}

/// True if `secret` is one of the client's valid secrets (current, or previous within grace).
pub async fn check_client_secret(
    t: &Tessera,
    client: &Client,
    secret: &str,
) -> Result<bool, Failure> {
    check_secrets(t, &client.secrets, secret).await
}

/// True if `secret` matches the current hash, or the previous one within its grace period
/// (clients and services hold their secrets alike).
pub async fn check_secrets(t: &Tessera, s: &ClientSecrets, secret: &str) -> Result<bool, Failure> {
    if let Some(cur) = &s.current {
        if secret_matches(t, secret, cur).await? {
            return Ok(true);
        }
    }
    if let (Some(prev), Some(until)) = (&s.previous, s.previous_expires_at) {
        if t.clock.now() < until && secret_matches(t, secret, prev).await? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The answer when a client's secret could not be read from Vault: 503 with nothing about
/// why (SPEC §7.2: an unauthenticated caller never learns it; the log has the cause).
pub fn vault_unavailable() -> Failure {
    Failure::unavailable("the client's credentials cannot be checked right now; retry later")
}

/// True for a failure of the store holding a credential (Vault) during its check: the
/// attempt counts as a failed authentication (SPEC §7.2), unlike a busy server or a database
/// fault, which are no guess.
pub fn counts_as_failure(f: &Failure) -> bool {
    f.reason == reasons::UPSTREAM_UNAVAILABLE
}

/// True if `secret` is the client's secret, wherever it is held: hashed by Tessera
/// ([`check_client_secret`]) or in OpenBao/Vault KV v2 (compared in constant time). A Vault
/// that cannot be read is a 503 failure ([`vault_unavailable`]), never a match and never a
/// skipped check.
pub async fn verify_client_secret(
    t: &Tessera,
    client: &Client,
    secret: &str,
) -> Result<bool, Failure> {
    // SPEC §7.1: a client whose method has no secret accepts none on any route.
    if !client.auth_method.uses_secret() {
        burn_secret_check(t, secret);
        return Ok(false);
    }
    let Some(r) = &client.secrets.vault else {
        return check_client_secret(t, client, secret).await;
    };
    match t.vault.secret(r).await {
        Ok(held) => Ok(ct_eq(
            &crate::crypto::sha256(held.expose().as_bytes()),
            &crate::crypto::sha256(secret.as_bytes()),
        )),
        Err(e) => {
            tracing::warn!(client_id = %client.client_id, error = %e, cause = ?std::error::Error::source(&e).map(ToString::to_string), "client secret could not be read from Vault");
            Err(vault_unavailable())
        }
    }
}

/// The work of a secret check against nothing, so an unknown caller costs the same as a
/// known one with a wrong secret (one keyed hash, one constant-time compare).
pub fn burn_secret_check(t: &Tessera, secret: &str) {
    let _ = ct_eq(&t.master.hash_secret(secret.as_bytes()), &DUMMY_HASH);
}

/// Authenticates the presented credentials and returns the client. `remote` is the caller's
/// address for limits and audit.
pub async fn authenticate(
    t: &Tessera,
    presented: &Presented,
    remote: &str,
    allow_public: bool,
) -> Result<Arc<Client>, Failure> {
    authenticate_with_certificate(t, presented, None, remote, allow_public).await
}

/// [`authenticate`] on a connection that may carry a TLS client certificate: a client of
/// `tls_client_auth` or `self_signed_tls_client_auth` names itself by `client_id` alone and
/// is authenticated by `cert` (RFC 8705 §2), whether or not public clients are allowed.
pub async fn authenticate_with_certificate(
    t: &Tessera,
    presented: &Presented,
    cert: Option<&crate::tls::ClientCertificate>,
    remote: &str,
    allow_public: bool,
) -> Result<Arc<Client>, Failure> {
    let challenge = presented.is_basic();
    let with_challenge = |mut f: Failure| {
        f.basic_challenge = challenge && f.status == 401;
        f
    };
    if let Presented::Nothing = presented {
        return Err(with_challenge(Failure::new(
            reasons::MISSING_CLIENT_AUTH,
            "client authentication is required",
        )));
    }
    let subject = match presented {
        Presented::Assertion { assertion, id } => id.clone().or_else(|| {
            jws::peek_claims(assertion)
                .ok()
                .and_then(|c| c.get("sub").and_then(|v| v.as_str()).map(str::to_string))
        }),
        other => other.client_id().map(str::to_string),
    };
    // Counted before anything is verified, so concurrent guesses never pass the limit.
    let attempt = t.attempt(remote, subject.as_deref()).await?;
    let client = match &subject {
        Some(id) => t.client(id).await?,
        None => None,
    };
    // A client of a disabled tenant is refused like a disabled client.
    let tenant_active = match &client {
        Some(c) => t.tenant_active(&c.tenant_id).await?,
        None => false,
    };
    let usable = client.as_deref().filter(|_| tenant_active);
    let ok = match verify(t, presented, usable, allow_public, cert).await {
        Ok(ok) => ok,
        Err(f) => {
            if counts_as_failure(&f) {
                attempt.failed();
                metrics::counter!("tessera_auth_failures_total").increment(1);
            }
            return Err(with_challenge(f));
        }
    };
    match (client, ok) {
        (Some(c), true) => {
            attempt.succeeded();
            Ok(c)
        }
        (client, _) => {
            attempt.failed();
            let mut ev = event(t.clock.now(), "auth.failed", "failure");
            ev.client_id = subject.clone();
            ev.tenant_id = client.map(|c| c.tenant_id.clone());
            ev.remote = Some(remote.to_string());
            t.audit_refusal(ev).await;
            metrics::counter!("tessera_auth_failures_total").increment(1);
            Err(with_challenge(Failure::bad_client()))
        }
    }
}

async fn verify(
    t: &Tessera,
    presented: &Presented,
    client: Option<&Client>,
    allow_public: bool,
    cert: Option<&crate::tls::ClientCertificate>,
) -> Result<bool, Failure> {
    let usable = client.filter(|c| c.status == Status::Active);
    match presented {
        Presented::Basic { secret, .. } | Presented::Post { secret, .. } => match usable {
            Some(c) if c.auth_method.uses_secret() => {
                verify_client_secret(t, c, secret.expose()).await
            }
            _ => {
                burn_secret_check(t, secret.expose());
                Ok(false)
            }
        },
        Presented::Assertion { assertion, .. } => match usable {
            Some(c) if c.auth_method == AuthMethod::PrivateKeyJwt => {
                verify_assertion(t, c, assertion).await
            }
            _ => Ok(false),
        },
        Presented::Public { .. } => match usable {
            Some(c) if crate::oauth::mtls::uses_certificate(c.auth_method) => {
                Ok(cert.is_some_and(|cert| crate::oauth::mtls::authenticates(c, cert)))
            }
            Some(c) => Ok(allow_public && c.auth_method == AuthMethod::None),
            None => Ok(false),
        },
        Presented::Nothing => Ok(false),
    }
}

/// The longest life (`exp` − `iat`, or `exp` − now) a client assertion may have, seconds.
const MAX_ASSERTION_LIFE: i64 = 300;

/// RFC 7523 §3: signature by the client's JWKS, `iss` = `sub` = client_id, `aud` names this
/// server, `exp` in the future, `jti` never seen before.
async fn verify_assertion(t: &Tessera, c: &Client, assertion: &str) -> Result<bool, Failure> {
    let keys: Vec<VerifyingKey> = c
        .jwks
        .as_ref()
        .and_then(|j| j.get("keys"))
        .and_then(|k| k.as_array())
        .map(|arr| arr.iter().filter_map(VerifyingKey::from_jwk).collect())
        .unwrap_or_default();
    let Ok(v) = jws::verify(assertion, &keys) else {
        return Ok(false);
    };
    let claim = |k: &str| v.claims.get(k).and_then(|x| x.as_str());
    if claim("iss") != Some(&c.client_id) || claim("sub") != Some(&c.client_id) {
        return Ok(false);
    }
    let token_endpoint = t.token_endpoint();
    let issuer = t.settings.issuer.as_str();
    // RFC 9126 §2: the pushed authorization request endpoint is an audience too.
    let par_endpoint = format!("{issuer}/oauth/par");
    let names_us = |a: &str| a == token_endpoint || a == issuer || a == par_endpoint;
    let aud_ok = match v.claims.get("aud") {
        Some(serde_json::Value::String(a)) => names_us(a),
        Some(serde_json::Value::Array(list)) => {
            list.iter().filter_map(|x| x.as_str()).any(names_us)
        }
        _ => false,
    };
    if !aud_ok {
        return Ok(false);
    }
    let now = t.clock.now();
    let Some(exp) = v.claims.get("exp").and_then(|x| x.as_i64()) else {
        return Ok(false);
    };
    const LEEWAY: i64 = 60;
    if exp.saturating_add(LEEWAY) < now {
        return Ok(false);
    }
    if v.claims
        .get("nbf")
        .and_then(|x| x.as_i64())
        .is_some_and(|nbf| nbf > now + LEEWAY)
    {
        return Ok(false);
    }
    // SPEC §7.1: an assertion is a one-shot credential; one usable for longer than
    // MAX_ASSERTION_LIFE is a stolen key's gift, so it is refused.
    let iat = v.claims.get("iat").and_then(|x| x.as_i64()).unwrap_or(now);
    if exp.saturating_sub(iat.min(now)) > MAX_ASSERTION_LIFE {
        return Ok(false);
    }
    let Some(jti) = claim("jti") else {
        return Ok(false);
    };
    // Remember the jti at least until the assertion could no longer be accepted.
    t.replay
        .record(&c.client_id, jti, exp.saturating_add(LEEWAY))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::from_pairs(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
        .unwrap()
    }

    #[test]
    fn basic_credentials_are_form_url_decoded() {
        // id "a b", secret "p:w%" -> urlencoded "a+b:p%3Aw%25"
        let header = crate::crypto::b64(b"a+b:p%3Aw%25");
        let (id, secret) = decode_basic(&header).unwrap();
        assert_eq!((id.as_str(), secret.as_str()), ("a b", "p:w%"));
    }

    #[test]
    fn basic_and_a_body_secret_together_are_invalid_request() {
        let auth = format!("Basic {}", crate::crypto::b64(b"a:b"));
        let p = params(&[("client_id", "a"), ("client_secret", "b")]);
        let f = presented(Some(&auth), &p).unwrap_err();
        assert_eq!(f.oauth_error, "invalid_request");
    }

    #[test]
    fn a_body_secret_without_client_id_is_a_missing_field() {
        let f = presented(None, &params(&[("client_secret", "b")])).unwrap_err();
        assert_eq!(f.reason, reasons::FIELD_MISSING);
    }
}
