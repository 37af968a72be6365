//! DPoP (RFC 9449, SPEC §9): a client proves, with every token request, that it holds a
//! private key; the access token then names that key (`cnf.jkt`) and is worth nothing
//! without it.
//!
//! A proof is a JWS whose header carries the public key (`jwk`). Checking it is one
//! signature verification plus one insert of its `jti` into the store (refused when present,
//! on any node). Server nonces (`dpop.require_nonce`) need no state at all: a nonce is the
//! minute it was made in, MACed with the master key, so every node can check every other
//! node's nonces.

use crate::crypto::{b64url, b64url_decode, ct_eq, sha256};
use crate::failure::Failure;
use crate::keys::jws;
use crate::keys::signer::{Alg, VerifyingKey};
use crate::reasons;
use crate::service::Tessera;
use serde_json::Value;

/// The proof algorithms accepted (discovery `dpop_signing_alg_values_supported`).
pub const ALGS: [&str; 4] = ["ES256", "EdDSA", "RS256", "PS256"];
/// The oldest proof accepted, seconds after its `iat` (SPEC §9).
const MAX_AGE: i64 = 60;
/// How far in the future a proof's `iat` may be (clock skew), seconds.
const MAX_AHEAD: i64 = 5;
/// The longest proof accepted, bytes (an RSA-4096 key in the header fits with room).
const MAX_PROOF_LEN: usize = 8 * 1024;
/// How long a server nonce is accepted: the minute it was made in and the next one.
const NONCE_WINDOW: i64 = 60;
/// JWK members that only a private key has (RFC 7518 §6): a proof carrying one is refused.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// What a proof must be bound to: this request, and at a resource, the access token.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// The request's method (`htm`).
    pub method: &'a str,
    /// The request's URL without query (`htu`), as the issuer names it.
    pub url: &'a str,
    /// The same route under discovery's `mtls_endpoint_aliases` (RFC 8705 §5), if any.
    pub alias: Option<&'a str>,
    /// The access token presented with the proof (its hash is `ath`).
    pub access_token: Option<&'a str>,
}

/// A proof that verified: the RFC 7638 thumbprint of its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    /// `cnf.jkt` of the tokens it may bind.
    pub jkt: String,
}

/// 400 `invalid_dpop_proof` (RFC 9449 §5.2).
pub fn invalid(detail: &str) -> Failure {
    Failure::new(reasons::INVALID_DPOP_PROOF, detail)
}

/// A proof that passed every check of RFC 9449 §4.3 but the one for replay: its `jti` is not
/// recorded yet. [`Checked::record`] makes it a [`Proof`]; a token grant does that only once
/// its own checks passed, so that a refused request writes nothing (SPEC §7.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// The RFC 7638 thumbprint of the proof's key.
    pub jkt: String,
    /// The proof's `jti`.
    jti: String,
    /// Until when the `jti` must be remembered (the proof's last second of life, plus one).
    keep_until: i64,
}

impl Checked {
    /// Records the proof's `jti`, so that it is never accepted again on any node: refused
    /// (`invalid_dpop_proof`) when it was used before.
    pub async fn record(self, t: &Tessera) -> Result<Proof, Failure> {
        let fresh = t
            .replay
            .record(&self.scope(), &self.jti, self.keep_until)
            .await?;
        if !fresh {
            return Err(invalid("the DPoP proof was used before"));
        }
        Ok(Proof { jkt: self.jkt })
    }

    /// Whether the proof was recorded already (a read; records nothing).
    pub async fn was_recorded(&self, t: &Tessera) -> Result<bool, Failure> {
        t.replay.seen(&self.scope(), &self.jti).await
    }

    /// The scope the proof's `jti` is recorded under: its key. `#` keeps these apart from
    /// client ids (which cannot contain it) in the table they share with client assertions.
    fn scope(&self) -> String {
        format!("#dpop:{}", self.jkt)
    }
}

/// Verifies `proof` for `expected` (RFC 9449 §4.3) and records its `jti`, so that it is
/// never accepted again on any node.
pub async fn verify(t: &Tessera, proof: &str, expected: &Expected<'_>) -> Result<Proof, Failure> {
    check(t, proof, expected)?.record(t).await
}

/// Every check of `proof` for `expected` (RFC 9449 §4.3) but replay: see [`Checked`].
pub fn check(t: &Tessera, proof: &str, expected: &Expected<'_>) -> Result<Checked, Failure> {
    if proof.len() > MAX_PROOF_LEN {
        return Err(invalid("the DPoP proof is too long"));
    }
    let compact = jws::Compact::parse(proof).map_err(|_| invalid("the DPoP proof is not a JWS"))?;
    let (key, jkt) = proof_key(&compact.header)?;
    let v = compact
        .verify(std::slice::from_ref(&key))
        .map_err(|_| invalid("the DPoP proof's signature does not verify with its jwk"))?;
    let claim = |k: &str| v.claims.get(k);
    let text = |k: &str| claim(k).and_then(Value::as_str);
    if text("htm") != Some(expected.method) {
        return Err(invalid("the DPoP proof's htm is not this request's method"));
    }
    let named =
        |htu: &str| same_url(htu, expected.url) || expected.alias.is_some_and(|a| same_url(htu, a));
    if !text("htu").is_some_and(named) {
        return Err(invalid("the DPoP proof's htu is not this request's URL"));
    }
    let now = t.clock.now();
    let Some(iat) = claim("iat").and_then(Value::as_i64) else {
        return Err(invalid("the DPoP proof has no numeric iat"));
    };
    if iat > now.saturating_add(MAX_AHEAD) {
        return Err(invalid("the DPoP proof's iat is in the future"));
    }
    if iat < now.saturating_sub(MAX_AGE) {
        return Err(invalid("the DPoP proof is too old"));
    }
    let jti = match text("jti") {
        Some(j) if !j.is_empty() && !crate::failure::identifier_too_long(j) => j,
        _ => return Err(invalid("the DPoP proof needs a jti of 1-255 characters")),
    };
    if let Some(token) = expected.access_token {
        let want = b64url(&sha256(token.as_bytes()));
        if !text("ath").is_some_and(|ath| ct_eq(ath.as_bytes(), want.as_bytes())) {
            return Err(invalid(
                "the DPoP proof's ath is not the access token's hash",
            ));
        }
    }
    if t.settings.dpop.require_nonce && !text("nonce").is_some_and(|n| nonce_valid(t, n, now)) {
        return Err(use_nonce());
    }
    Ok(Checked {
        jkt,
        jti: jti.to_string(),
        // Remembered until the proof could no longer be accepted.
        keep_until: iat.saturating_add(MAX_AGE + 1),
    })
}

/// The key a proof's header carries, checked (RFC 9449 §4.3 checks 2-7 but the signature), with its
/// RFC 7638 thumbprint.
fn proof_key(header: &Value) -> Result<(VerifyingKey, String), Failure> {
    let typ = header.get("typ").and_then(Value::as_str);
    if !typ.is_some_and(|t| t.eq_ignore_ascii_case("dpop+jwt")) {
        return Err(invalid("the DPoP proof's typ must be dpop+jwt"));
    }
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .filter(|a| ALGS.contains(a))
        .and_then(Alg::parse)
        .ok_or_else(|| invalid("the DPoP proof's alg must be ES256, EdDSA, RS256 or PS256"))?;
    let Some(Value::Object(jwk)) = header.get("jwk") else {
        return Err(invalid("the DPoP proof's header has no jwk"));
    };
    if PRIVATE_MEMBERS.iter().any(|m| jwk.contains_key(*m)) {
        return Err(invalid("the DPoP proof's jwk must be a public key"));
    }
    // The key verifies the header's algorithm only (an RSA JWK without `alg` would mean RS256).
    let mut pinned = jwk.clone();
    match pinned.get("alg").and_then(Value::as_str) {
        Some(a) if a != alg.as_str() => {
            return Err(invalid("the DPoP proof's jwk is for another alg"));
        }
        _ => {
            pinned.insert("alg".into(), Value::String(alg.as_str().into()));
        }
    }
    // A `kid` in the jwk would have to match one in the header: neither matters here.
    pinned.remove("kid");
    let key = VerifyingKey::from_jwk(&Value::Object(pinned))
        .filter(|k| k.alg == alg)
        .ok_or_else(|| invalid("the DPoP proof's jwk is not a usable public key"))?;
    let jkt = thumbprint(jwk).ok_or_else(|| invalid("the DPoP proof's jwk is incomplete"))?;
    Ok((key, jkt))
}

/// RFC 7638 JWK thumbprint: SHA-256 of the required members, in lexical order, no spaces.
pub fn thumbprint(jwk: &serde_json::Map<String, Value>) -> Option<String> {
    let s = |k: &str| jwk.get(k).and_then(Value::as_str);
    let members: Vec<(&str, &str)> = match s("kty")? {
        "EC" => vec![
            ("crv", s("crv")?),
            ("kty", "EC"),
            ("x", s("x")?),
            ("y", s("y")?),
        ],
        "RSA" => vec![("e", s("e")?), ("kty", "RSA"), ("n", s("n")?)],
        "OKP" => vec![("crv", s("crv")?), ("kty", "OKP"), ("x", s("x")?)],
        _ => return None,
    };
    let body: Vec<String> = members
        .iter()
        .map(|(k, v)| format!("\"{k}\":{}", Value::String((*v).to_string())))
        .collect();
    Some(b64url(&sha256(
        format!("{{{}}}", body.join(",")).as_bytes(),
    )))
}

/// RFC 9449 §4.3 check 9: `htu` names the request's URL, compared after normalisation
/// (scheme and host case, default port), without query and fragment.
fn same_url(htu: &str, expected: &str) -> bool {
    let (Ok(a), Ok(b)) = (url::Url::parse(htu), url::Url::parse(expected)) else {
        return false;
    };
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
        && a.path() == b.path()
}

/// The nonce of the window `now` falls in.
pub fn nonce(t: &Tessera) -> String {
    nonce_of(t, t.clock.now().div_euclid(NONCE_WINDOW))
}

fn nonce_of(t: &Tessera, window: i64) -> String {
    let stamp = window.to_be_bytes();
    let mut input = b"dpop-nonce:".to_vec();
    input.extend_from_slice(&stamp);
    let mac = t.master.hash_secret(&input);
    let mut out = stamp.to_vec();
    out.extend_from_slice(mac.get(..16).unwrap_or(&mac));
    b64url(&out)
}

/// Whether `nonce` was made by a node of this deployment in this window or the last one.
fn nonce_valid(t: &Tessera, nonce: &str, now: i64) -> bool {
    let Some(raw) = b64url_decode(nonce).filter(|r| r.len() == 24) else {
        return false;
    };
    let Some(Ok(stamp)) = raw.get(..8).map(<[u8; 8]>::try_from) else {
        return false;
    };
    let window = i64::from_be_bytes(stamp);
    let current = now.div_euclid(NONCE_WINDOW);
    (window == current || window == current - 1)
        && ct_eq(nonce.as_bytes(), nonce_of(t, window).as_bytes())
}

/// 400 `use_dpop_nonce` (RFC 9449 §8); the route adds the nonce (`DPoP-Nonce`).
fn use_nonce() -> Failure {
    Failure::new(
        reasons::USE_DPOP_NONCE,
        "the DPoP proof must carry the server's nonce (DPoP-Nonce)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_rfc_7638_example_key_has_the_rfc_7638_thumbprint() {
        // RFC 7638 §3.1.
        let jwk = json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        });
        let Value::Object(m) = jwk else { panic!() };
        assert_eq!(
            thumbprint(&m).unwrap(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn htu_matches_after_normalisation_and_ignores_the_query() {
        let want = "https://as.example/oauth/token";
        assert!(same_url("https://AS.example:443/oauth/token", want));
        assert!(same_url("https://as.example/oauth/token?x=1#f", want));
        assert!(!same_url("https://as.example/oauth/token/", want));
        assert!(!same_url("http://as.example/oauth/token", want));
        assert!(!same_url("https://as.example:8443/oauth/token", want));
        assert!(!same_url("not a url", want));
    }
}
