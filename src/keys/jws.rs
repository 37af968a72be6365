//! Verifying compact JWS tokens (RFC 7515) against a set of [`VerifyingKey`]s.

use super::signer::{Alg, VerifyingKey};
use crate::crypto::b64url_decode;
use serde_json::Value;

/// Why a JWS was refused. Callers turn every variant into the same outward answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JwsError {
    /// Not three base64url parts of JSON.
    #[error("malformed token")]
    Malformed,
    /// `alg` missing, `none`, HMAC or otherwise not allowed.
    #[error("algorithm not allowed")]
    Alg,
    /// No key matches the `kid`.
    #[error("unknown key")]
    UnknownKey,
    /// The signature does not verify.
    #[error("bad signature")]
    Signature,
}

/// The decoded parts of a JWS whose signature verified.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The protected header.
    pub header: Value,
    /// The payload parsed as JSON (claims).
    pub claims: Value,
}

/// The header of a compact JWS, unverified (to find the `kid` and `alg` before verifying).
pub fn peek_header(token: &str) -> Result<Value, JwsError> {
    let head = token.split('.').next().ok_or(JwsError::Malformed)?;
    let bytes = b64url_decode(head).ok_or(JwsError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| JwsError::Malformed)
}

/// The claims of a compact JWS, unverified (only to decide which keys to verify with).
pub fn peek_claims(token: &str) -> Result<Value, JwsError> {
    let payload = token.split('.').nth(1).ok_or(JwsError::Malformed)?;
    let bytes = b64url_decode(payload).ok_or(JwsError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| JwsError::Malformed)
}

/// Verifies `token` with the keys given. A `kid` in the header selects the key; without one,
/// every key of the header's algorithm is tried.
pub fn verify(token: &str, keys: &[VerifyingKey]) -> Result<Verified, JwsError> {
    Compact::parse(token)?.verify(keys)
}

/// A compact JWS split into its parts, its header parsed, nothing verified yet: for a caller
/// that must read the header to find the key (a DPoP proof carries its own) without parsing
/// it twice.
#[derive(Debug)]
pub struct Compact<'a> {
    /// The protected header (a JSON object).
    pub header: Value,
    /// `header.payload`, what the signature covers.
    signing_input: &'a str,
    /// The base64url payload.
    payload: &'a str,
    /// The base64url signature.
    signature: &'a str,
}

impl<'a> Compact<'a> {
    /// Splits `token` (at most 16 KiB) and parses its header.
    pub fn parse(token: &'a str) -> Result<Compact<'a>, JwsError> {
        if token.len() > 16 * 1024 {
            return Err(JwsError::Malformed);
        }
        let mut parts = token.split('.');
        let (h, p, s) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(h), Some(p), Some(s), None) => (h, p, s),
            _ => return Err(JwsError::Malformed),
        };
        let header: Value = b64url_decode(h)
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(JwsError::Malformed)?;
        if !header.is_object() {
            return Err(JwsError::Malformed);
        }
        let signing_input = token
            .get(..h.len() + 1 + p.len())
            .ok_or(JwsError::Malformed)?;
        Ok(Compact {
            header,
            signing_input,
            payload: p,
            signature: s,
        })
    }

    /// Verifies the signature with the keys given (see [`verify`]) and parses the claims.
    pub fn verify(self, keys: &[VerifyingKey]) -> Result<Verified, JwsError> {
        let header = self.header;
        // Critical extensions we do not understand must be refused (RFC 7515 §4.1.11).
        if header.get("crit").is_some() {
            return Err(JwsError::Alg);
        }
        let alg = header
            .get("alg")
            .and_then(Value::as_str)
            .and_then(Alg::parse)
            .ok_or(JwsError::Alg)?;
        let sig = b64url_decode(self.signature).ok_or(JwsError::Malformed)?;
        let kid = header.get("kid").and_then(Value::as_str);
        // An over-long `kid` names no key of ours or of any provider: refused as malformed,
        // so it never triggers a JWKS refetch or reaches a cache (SPEC §7.2).
        if kid.is_some_and(crate::failure::identifier_too_long) {
            return Err(JwsError::Malformed);
        }
        let candidates: Vec<&VerifyingKey> = keys
            .iter()
            .filter(|k| k.alg == alg)
            .filter(|k| match (kid, &k.kid) {
                (Some(want), Some(have)) => want == have,
                _ => true,
            })
            .collect();
        if candidates.is_empty() {
            return Err(JwsError::UnknownKey);
        }
        if !candidates
            .iter()
            .any(|k| k.verify(alg, self.signing_input.as_bytes(), &sig))
        {
            return Err(JwsError::Signature);
        }
        let claims: Value = b64url_decode(self.payload)
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(JwsError::Malformed)?;
        if !claims.is_object() {
            return Err(JwsError::Malformed);
        }
        Ok(Verified { header, claims })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::b64url;
    use crate::keys::signer::{SigningKey, Typ};

    #[test]
    fn a_signed_token_verifies_and_a_tampered_one_does_not() {
        let (k, _) = SigningKey::generate("a".into(), Alg::EdDSA).unwrap();
        let vk = VerifyingKey::from_jwk(k.public_jwk()).unwrap();
        let t = k.sign_jwt(Typ::AccessToken, br#"{"sub":"x"}"#).unwrap();
        let v = verify(&t, std::slice::from_ref(&vk)).unwrap();
        assert_eq!(v.claims["sub"], "x");
        assert_eq!(v.header["typ"], "at+jwt");
        let mut parts: Vec<&str> = t.split('.').collect();
        let other = b64url(br#"{"sub":"y"}"#);
        parts[1] = &other;
        assert_eq!(
            verify(&parts.join("."), &[vk]).unwrap_err(),
            JwsError::Signature
        );
    }

    #[test]
    fn alg_none_and_hmac_tokens_are_refused() {
        let (k, _) = SigningKey::generate("a".into(), Alg::ES256).unwrap();
        let vk = VerifyingKey::from_jwk(k.public_jwk()).unwrap();
        for alg in ["none", "HS256"] {
            let h = b64url(format!(r#"{{"alg":"{alg}","kid":"a"}}"#).as_bytes());
            let t = format!("{h}.{}.", b64url(b"{}"));
            assert_eq!(
                verify(&t, std::slice::from_ref(&vk)).unwrap_err(),
                JwsError::Alg
            );
        }
    }

    #[test]
    fn a_kid_over_255_characters_is_malformed_not_an_unknown_key() {
        let (k, _) = SigningKey::generate("a".into(), Alg::EdDSA).unwrap();
        let vk = VerifyingKey::from_jwk(k.public_jwk()).unwrap();
        let kid = "k".repeat(256);
        let h = b64url(format!(r#"{{"alg":"EdDSA","kid":"{kid}"}}"#).as_bytes());
        let t = format!("{h}.{}.c2ln", b64url(b"{}"));
        assert_eq!(
            verify(&t, std::slice::from_ref(&vk)).unwrap_err(),
            JwsError::Malformed,
            "no JWKS refetch for it"
        );
        let h = b64url(format!(r#"{{"alg":"EdDSA","kid":"{}"}}"#, &kid[1..]).as_bytes());
        let t = format!("{h}.{}.c2ln", b64url(b"{}"));
        assert_eq!(verify(&t, &[vk]).unwrap_err(), JwsError::UnknownKey);
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        for t in ["", ".", "a.b.c", "....", "\u{0}", "eyJ.eyJ.x"] {
            assert!(verify(t, &[]).is_err());
        }
    }
}
