//! Access-token claims (RFC 9068, SPEC §2.2) and issuing them with the key set.

use crate::clock::SharedClock;
use crate::crypto::random_token;
use crate::keys::signer::Alg;
use crate::keys::{Keys, KeysError, Typ};
use serde::Serialize;

pub mod id_token;
pub use id_token::IdTokenRequest;

/// `aud`: one string or an array (RFC 7519 §4.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Audience {
    /// A single audience.
    One(String),
    /// Several audiences.
    Many(Vec<String>),
}

impl Audience {
    /// One audience, or an array for several.
    pub fn from_list(mut list: Vec<String>) -> Audience {
        if list.len() == 1 {
            Audience::One(list.remove(0))
        } else {
            Audience::Many(list)
        }
    }
}

/// What kind of caller a token is for (the `token_use` claim).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenUse {
    /// A registered internal service (s2s).
    Service,
    /// A partner client.
    Partner,
    /// A standard OAuth client.
    Client,
    /// A tenant administrator.
    Admin,
    /// A tenant user.
    User,
}

/// Everything that varies between access tokens; the issuer fills in the rest.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    /// `sub`.
    pub sub: String,
    /// `aud`.
    pub aud: Audience,
    /// Lifetime in seconds (`exp - iat`).
    pub ttl: i64,
    /// `client_id`.
    pub client_id: String,
    /// Granted scopes (joined with spaces into `scope` when non-empty).
    pub scopes: Vec<String>,
    /// `token_use`.
    pub token_use: TokenUse,
    /// `tenant_id` where known.
    pub tenant_id: Option<String>,
    /// `project_id` where known.
    pub project_id: Option<String>,
    /// Also emit `scp` (identity API callers read it).
    pub with_scp: bool,
    /// Signing algorithm; `None` = the deployment default.
    pub alg: Option<Alg>,
    /// `cnf`: the key or certificate the token is bound to (SPEC §9).
    pub cnf: Option<Confirmation>,
}

/// RFC 7800 `cnf`: what a sender-constrained access token is bound to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Confirmation {
    /// RFC 9449 §6.1: the RFC 7638 thumbprint of the DPoP key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jkt: Option<String>,
    /// RFC 8705 §3.1: the SHA-256 thumbprint of the client certificate (DER), base64url.
    #[serde(rename = "x5t#S256", skip_serializing_if = "Option::is_none")]
    pub x5t_s256: Option<String>,
}

impl Confirmation {
    /// `None` when the token is bound to nothing.
    pub fn some(self) -> Option<Confirmation> {
        (self.jkt.is_some() || self.x5t_s256.is_some()).then_some(self)
    }
}

/// Claims about a tenant user (SPEC §2.2 "where known"); tokens for clients carry none.
#[derive(Debug, Clone, Default)]
pub struct UserClaims {
    /// `email`.
    pub email: Option<String>,
    /// `roles`.
    pub roles: Vec<String>,
    /// `groups`.
    pub groups: Vec<String>,
    /// `resources`.
    pub resources: Vec<String>,
}

#[derive(Serialize)]
struct AccessClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a Audience,
    exp: i64,
    iat: i64,
    nbf: i64,
    jti: &'a str,
    client_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scp: Option<&'a str>,
    token_use: TokenUse,
    #[serde(skip_serializing_if = "Option::is_none")]
    tenant_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    project_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    roles: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    groups: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resources: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cnf: Option<&'a Confirmation>,
}

/// A signed access token and what the response and audit need from it.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// The JWS.
    pub token: String,
    /// Its `jti`.
    pub jti: String,
    /// Seconds until expiry (`exp - iat`).
    pub expires_in: i64,
    /// Space-joined scope, empty when none.
    pub scope: String,
    /// RFC 9449 §5: `DPoP` for a DPoP-bound token, else `Bearer` (RFC 6750).
    pub token_type: &'static str,
}

/// Errors when issuing.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    /// Key trouble (no key for the alg, signing failed).
    #[error("signing failed")]
    Keys(#[from] KeysError),
    /// Random generator failure.
    #[error("random generator failed")]
    Random,
    /// Claims could not be serialized.
    #[error("claims serialization failed")]
    Json,
}

/// Issues tokens for one issuer.
#[derive(Debug, Clone)]
pub struct TokenIssuer {
    /// `iss`.
    issuer: std::sync::Arc<str>,
    /// Key set.
    keys: Keys,
    /// Time source.
    clock: SharedClock,
}

impl TokenIssuer {
    /// An issuer named `issuer` signing with `keys`.
    pub fn new(issuer: &str, keys: Keys, clock: SharedClock) -> TokenIssuer {
        TokenIssuer {
            issuer: issuer.into(),
            keys,
            clock,
        }
    }

    /// The issuer URL.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The key set.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// Signs an RFC 9068 access token.
    pub fn issue(&self, req: &TokenRequest) -> Result<IssuedToken, IssueError> {
        self.issue_with(req, None)
    }

    /// Signs an RFC 9068 access token for a tenant user: `user`'s claims are added (`roles`,
    /// `groups` and `resources` always, as arrays, so consumers need not guess).
    pub fn issue_with(
        &self,
        req: &TokenRequest,
        user: Option<&UserClaims>,
    ) -> Result<IssuedToken, IssueError> {
        let signer = self.keys.signer(req.alg)?;
        let now = self.clock.now();
        // 128 random bits (SPEC: at least 122).
        let jti = random_token(16).map_err(|_| IssueError::Random)?;
        let scope = req.scopes.join(" ");
        let scope_ref = (!scope.is_empty()).then_some(scope.as_str());
        let claims = AccessClaims {
            iss: &self.issuer,
            sub: &req.sub,
            aud: &req.aud,
            exp: now + req.ttl,
            iat: now,
            nbf: now,
            jti: &jti,
            client_id: &req.client_id,
            scope: scope_ref,
            scp: if req.with_scp { scope_ref } else { None },
            token_use: req.token_use,
            tenant_id: req.tenant_id.as_deref(),
            project_id: req.project_id.as_deref(),
            email: user.and_then(|u| u.email.as_deref()),
            roles: user.map(|u| u.roles.as_slice()),
            groups: user.map(|u| u.groups.as_slice()),
            resources: user.map(|u| u.resources.as_slice()),
            cnf: req.cnf.as_ref(),
        };
        let payload = serde_json::to_vec(&claims).map_err(|_| IssueError::Json)?;
        let token = signer
            .sign_jwt(Typ::AccessToken, &payload)
            .map_err(|e| IssueError::Keys(KeysError::Key(e)))?;
        Ok(IssuedToken {
            token,
            jti,
            expires_in: req.ttl,
            scope,
            token_type: if req.cnf.as_ref().is_some_and(|c| c.jkt.is_some()) {
                "DPoP"
            } else {
                "Bearer"
            },
        })
    }
}
