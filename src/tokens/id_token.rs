//! OpenID Connect ID tokens (OIDC Core 1.0 §2, §3.1.3.6): header `typ` `JWT`, `aud` = the
//! client, `nonce` echoed, `at_hash` binding the access token issued with it.

use super::{IssueError, TokenIssuer};
use crate::crypto::{b64url, random_token};
use crate::keys::signer::Alg;
use crate::keys::{KeysError, Typ};
use serde::Serialize;

/// What varies between ID tokens; the issuer fills in `iss`, `iat` and `exp`.
#[derive(Debug, Clone, Default)]
pub struct IdTokenRequest<'a> {
    /// `sub`: the user id (stable, unique inside the issuer's tenant).
    pub sub: &'a str,
    /// `aud` and `azp`: the client.
    pub client_id: &'a str,
    /// Lifetime in seconds.
    pub ttl: i64,
    /// When the user authenticated.
    pub auth_time: i64,
    /// The authorization request's `nonce`.
    pub nonce: Option<&'a str>,
    /// The access token issued alongside (for `at_hash`).
    pub access_token: Option<&'a str>,
    /// `tenant_id` of the user.
    pub tenant_id: Option<&'a str>,
    /// `email` where known.
    pub email: Option<&'a str>,
    /// `email_verified` (present whenever `email` is).
    pub email_verified: bool,
    /// `name` where known.
    pub name: Option<&'a str>,
    /// Signing algorithm; `None` = the deployment default.
    pub alg: Option<Alg>,
}

#[derive(Serialize)]
struct IdClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    azp: &'a str,
    exp: i64,
    iat: i64,
    auth_time: i64,
    jti: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    at_hash: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tenant_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email_verified: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
}

/// `at_hash` (OIDC Core §3.1.3.6): base64url of the left half of the hash of the access
/// token's ASCII octets, with the hash of the JWS algorithm: SHA-256 for RS256, PS256 and
/// ES256. EdDSA names no hash; for Ed25519 we use SHA-512 (the hash inside Ed25519), as the
/// OpenID errata discussion and common providers do.
pub fn at_hash(alg: Alg, access_token: &str) -> String {
    let digest = match alg {
        Alg::RS256 | Alg::PS256 | Alg::ES256 => &aws_lc_rs::digest::SHA256,
        Alg::EdDSA => &aws_lc_rs::digest::SHA512,
    };
    let h = aws_lc_rs::digest::digest(digest, access_token.as_bytes());
    let bytes = h.as_ref();
    b64url(bytes.get(..bytes.len() / 2).unwrap_or(bytes))
}

impl TokenIssuer {
    /// Signs an ID token.
    pub fn issue_id_token(&self, req: &IdTokenRequest<'_>) -> Result<String, IssueError> {
        let signer = self.keys.signer(req.alg)?;
        let now = self.clock.now();
        let jti = random_token(16).map_err(|_| IssueError::Random)?;
        let claims = IdClaims {
            iss: &self.issuer,
            sub: req.sub,
            aud: req.client_id,
            azp: req.client_id,
            exp: now + req.ttl,
            iat: now,
            auth_time: req.auth_time,
            jti: &jti,
            nonce: req.nonce,
            at_hash: req.access_token.map(|t| at_hash(signer.alg, t)),
            tenant_id: req.tenant_id,
            email: req.email,
            email_verified: req.email.map(|_| req.email_verified),
            name: req.name,
        };
        let payload = serde_json::to_vec(&claims).map_err(|_| IssueError::Json)?;
        signer
            .sign_jwt(Typ::Jwt, &payload)
            .map_err(|e| IssueError::Keys(KeysError::Key(e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_is_the_left_half_of_sha256_for_rs256() {
        // OIDC Core §A.3 example: access token and its at_hash.
        let token = "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y";
        assert_eq!(at_hash(Alg::RS256, token), "77QmUPtjPfzWtF2AnpK9RQ");
        assert_eq!(at_hash(Alg::ES256, token), at_hash(Alg::PS256, token));
    }

    #[test]
    fn at_hash_uses_sha512_for_eddsa() {
        let h = at_hash(Alg::EdDSA, "token");
        assert_eq!(crate::crypto::b64url_decode(&h).unwrap().len(), 32);
    }
}
