//! Tenants, projects and clients: the domain types the admin API edits and the token
//! endpoints read. No SQL here (that is `store/`), no HTTP (that is `http/`).

use serde::{Deserialize, Serialize};

/// The tenant that exists from the first start; its clients administer every tenant.
pub const DEFAULT_TENANT: &str = "default";

/// Whether a tenant or client may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Usable.
    Active,
    /// Refused everywhere until re-enabled.
    Disabled,
}

impl Status {
    /// The wire and storage spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Disabled => "disabled",
        }
    }

    /// Parses the storage spelling; anything unknown counts as disabled (fail closed).
    pub fn parse(s: &str) -> Status {
        if s == "active" {
            Status::Active
        } else {
            Status::Disabled
        }
    }
}

/// A tenant: the top of the tenant > project > client hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    /// Stable identifier chosen at creation (`[A-Za-z0-9._-]`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Active or disabled.
    pub status: Status,
    /// Unix seconds.
    pub created_at: i64,
}

/// A project groups clients inside a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    /// Owning tenant.
    pub tenant_id: String,
    /// Identifier, unique inside the tenant.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Unix seconds.
    pub created_at: i64,
}

/// How a client proves its identity at the token endpoint (RFC 7591 names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// HTTP Basic with client id and secret (also accepts the secret in the body).
    ClientSecretBasic,
    /// client_id + client_secret in the body (also accepts HTTP Basic).
    ClientSecretPost,
    /// RFC 7523 signed assertion verified with the client's JWKS.
    PrivateKeyJwt,
    /// Public client: no secret, PKCE only.
    None,
    /// RFC 8705 §2.1: a client certificate chaining to `tls.client_ca` whose subject DN or
    /// SAN is the one registered on the client.
    TlsClientAuth,
    /// RFC 8705 §2.2: a client certificate (self-signed ones too) whose public key is in the
    /// client's `jwks`.
    SelfSignedTlsClientAuth,
}

impl AuthMethod {
    /// The wire and storage spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::ClientSecretBasic => "client_secret_basic",
            AuthMethod::ClientSecretPost => "client_secret_post",
            AuthMethod::PrivateKeyJwt => "private_key_jwt",
            AuthMethod::None => "none",
            AuthMethod::TlsClientAuth => "tls_client_auth",
            AuthMethod::SelfSignedTlsClientAuth => "self_signed_tls_client_auth",
        }
    }

    /// Parses the storage spelling.
    pub fn parse(s: &str) -> Option<AuthMethod> {
        match s {
            "client_secret_basic" => Some(AuthMethod::ClientSecretBasic),
            "client_secret_post" => Some(AuthMethod::ClientSecretPost),
            "private_key_jwt" => Some(AuthMethod::PrivateKeyJwt),
            "none" => Some(AuthMethod::None),
            "tls_client_auth" => Some(AuthMethod::TlsClientAuth),
            "self_signed_tls_client_auth" => Some(AuthMethod::SelfSignedTlsClientAuth),
            _ => None,
        }
    }

    /// True for the two shared-secret methods.
    pub fn uses_secret(self) -> bool {
        matches!(
            self,
            AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost
        )
    }
}

/// How one client secret is held.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretHash {
    /// HMAC-SHA-256 under the server's hashing key: generated or high-entropy secrets.
    Hmac(Vec<u8>),
    /// argon2id PHC string: imported low-entropy secrets.
    Argon2(String),
}

impl std::fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretHash::Hmac(_) => f.write_str("Hmac([redacted])"),
            SecretHash::Argon2(_) => f.write_str("Argon2([redacted])"),
        }
    }
}

impl SecretHash {
    /// Storage kind tag.
    pub fn kind(&self) -> &'static str {
        match self {
            SecretHash::Hmac(_) => "hmac",
            SecretHash::Argon2(_) => "argon2",
        }
    }

    /// Storage bytes.
    pub fn bytes(&self) -> Vec<u8> {
        match self {
            SecretHash::Hmac(b) => b.clone(),
            SecretHash::Argon2(s) => s.as_bytes().to_vec(),
        }
    }

    /// Rebuilds from storage kind and bytes.
    pub fn from_parts(kind: &str, bytes: Vec<u8>) -> Option<SecretHash> {
        match kind {
            "hmac" => Some(SecretHash::Hmac(bytes)),
            "argon2" => String::from_utf8(bytes).ok().map(SecretHash::Argon2),
            _ => None,
        }
    }
}

/// Where a Vault-held (OpenBao KV v2) secret lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VaultRef {
    /// KV v2 mount, e.g. `secret`.
    pub mount: String,
    /// Path under the mount.
    pub path: String,
    /// Field of the secret's data holding the client secret.
    pub field: String,
}

/// A client's secrets: the current one, the previous one during a rotation grace period,
/// or a reference to Vault.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientSecrets {
    /// The current secret's hash.
    pub current: Option<SecretHash>,
    /// The secret replaced by the last rotation, still accepted until `previous_expires_at`.
    pub previous: Option<SecretHash>,
    /// Unix seconds after which `previous` is refused.
    pub previous_expires_at: Option<i64>,
    /// The secret lives in Vault instead.
    pub vault: Option<VaultRef>,
}

/// A client's settings of SPEC §9 (RFC 7591 metadata names of RFC 9449, 9126 and 8705),
/// stored together as one JSON column so that the next such setting needs no migration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Security {
    /// RFC 9449 §5.2: every token request of this client must carry a DPoP proof.
    pub dpop_bound_access_tokens: bool,
    /// RFC 9126 §6: authorization requests of this client must be pushed first.
    pub require_pushed_authorization_requests: bool,
    /// RFC 8705 §3: access tokens carry the client certificate's `x5t#S256`.
    pub tls_client_certificate_bound_access_tokens: bool,
    /// RFC 8705 §2.1.2: the subject DN a `tls_client_auth` certificate must have.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_subject_dn: Option<String>,
    /// RFC 8705 §2.1.2: a SAN URI the certificate must carry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_san_uri: Option<String>,
    /// RFC 8705 §2.1.2: a SAN DNS name the certificate must carry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_san_dns: Option<String>,
}

/// An OAuth client registered in a tenant.
#[derive(Debug, Clone, PartialEq)]
pub struct Client {
    /// Owning tenant.
    pub tenant_id: String,
    /// Globally unique client identifier.
    pub client_id: String,
    /// Display name.
    pub name: String,
    /// Project inside the tenant, if any.
    pub project_id: Option<String>,
    /// Token profile name (`default`, `partner`, `service` or a configured one).
    pub profile: String,
    /// Grants this client may use.
    pub grant_types: Vec<String>,
    /// Scopes this client may request.
    pub scopes: Vec<String>,
    /// Scopes granted when the request names none.
    pub default_scopes: Vec<String>,
    /// Audiences the client may request (RFC 8707); narrows the profile's.
    pub audiences: Vec<String>,
    /// Token lifetime in seconds; narrows the profile's.
    pub token_ttl: Option<i64>,
    /// Registered redirect URIs (authorization code).
    pub redirect_uris: Vec<String>,
    /// Token endpoint authentication method.
    pub auth_method: AuthMethod,
    /// Public keys for `private_key_jwt` (a JWK Set).
    pub jwks: Option<serde_json::Value>,
    /// Signing algorithm for this client's tokens; `None` = the deployment default.
    pub signing_alg: Option<String>,
    /// May obtain `tessera:admin` and admin tokens.
    pub admin_tokens: bool,
    /// Show a consent screen at login (third-party client); `false` = implicit consent.
    pub consent_required: bool,
    /// Refresh-token lifetime in seconds; `None` = the `login.refresh_token_ttl` setting.
    pub refresh_token_ttl: Option<i64>,
    /// Where RP-Initiated Logout may send the browser back to (exact match).
    pub post_logout_redirect_uris: Vec<String>,
    /// DPoP, PAR and mutual-TLS settings (SPEC §9).
    pub security: Security,
    /// Active or disabled.
    pub status: Status,
    /// Secret hashes or Vault reference.
    pub secrets: ClientSecrets,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

/// The client id prefix of the console's built-in clients: `tessera-console:{tenant}`.
pub const CONSOLE_CLIENT_PREFIX: &str = "tessera-console:";

/// The web console's built-in public client of `tenant` (SPEC §8): authorization code with
/// PKCE, scope `openid`, redirecting only to the console's callback, with no admin rights of
/// its own (the console checks the signed-in user's role itself). It exists in every tenant
/// without being stored; client ids with its prefix cannot be registered.
pub fn console_client(issuer: &str, tenant: &str) -> Client {
    Client {
        tenant_id: tenant.to_string(),
        client_id: format!("{CONSOLE_CLIENT_PREFIX}{tenant}"),
        name: "Tessera console".into(),
        project_id: None,
        profile: "default".into(),
        grant_types: vec!["authorization_code".into()],
        scopes: vec!["openid".into()],
        default_scopes: vec!["openid".into()],
        audiences: vec![],
        token_ttl: Some(300),
        redirect_uris: vec![format!("{issuer}/console/callback")],
        auth_method: AuthMethod::None,
        jwks: None,
        signing_alg: None,
        admin_tokens: false,
        consent_required: false,
        refresh_token_ttl: None,
        post_logout_redirect_uris: vec![],
        security: Security::default(),
        status: Status::Active,
        secrets: ClientSecrets::default(),
        created_at: 0,
        updated_at: 0,
    }
}

/// Checks an identifier used in paths and tokens: 1–128 chars of `[A-Za-z0-9._:@-]`, not dots
/// alone.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        // `.` and `..` are path segments a browser or proxy collapses: no page could name them.
        && !id.chars().all(|c| c == '.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':' | '@'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_with_slashes_or_spaces_are_invalid() {
        assert!(valid_id("acme-1"));
        assert!(!valid_id("a/b"));
        assert!(!valid_id("a b"));
        assert!(!valid_id(""));
    }

    #[test]
    fn secret_hash_debug_hides_the_hash() {
        assert_eq!(
            format!("{:?}", SecretHash::Hmac(vec![1, 2])),
            "Hmac([redacted])"
        );
    }
}

pub mod services;
pub mod users;

pub use services::{Binding, BindingKind, Service};
pub use users::{Role, Upstream, User, ADMIN_ROLE};
