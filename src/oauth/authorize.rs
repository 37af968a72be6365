//! The authorization request (RFC 6749 §4.1.1, PKCE RFC 7636 §4.3, OIDC Core §3.1.2.1):
//! validation, and the code that answers it (§4.1.2).
//!
//! Errors are sent back to the client by redirect (§4.1.2.1) only once the client and its
//! `redirect_uri` are known good; before that the user gets an error page, so Tessera can
//! never be used as an open redirector.
//!
//! The parameters come from the query, or from a pushed request (RFC 9126, [`par`]) that the
//! query names by `request_uri`; both go through the one [`check`], which `POST /oauth/par`
//! runs too before it stores a request.

use crate::crypto::random_token;
use crate::failure::Failure;
use crate::oauth::{par, scope};
use crate::params::{parse_form, Params};
use crate::reasons;
use crate::service::Tessera;
use crate::store::{AuthCode, LoginSession};
use crate::tenants::users::effective_scopes;
use crate::tenants::{AuthMethod, Client, Status, User, ADMIN_ROLE};
use std::sync::Arc;

/// OpenID Connect scopes every user may consent to (the client must still be allowed them).
pub const OIDC_SCOPES: &[&str] = &["openid", "profile", "email", "offline_access"];

/// Longest `state`, `nonce` or `code_challenge` accepted (bounds what the code row stores).
const MAX_PARAM: usize = 1024;

/// The parameters of an authorization request this server reads: all a pushed request
/// stores (RFC 9126 §2.1; the others would be ignored at `/oauth/authorize` anyway).
pub const PARAMS: &[&str] = &[
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "request",
    "dpop_jkt",
];

/// A validated authorization request.
#[derive(Debug, Clone)]
pub struct AuthorizeRequest {
    /// The client (active, in an active tenant, allowed the authorization code grant).
    pub client: Arc<Client>,
    /// One of the client's registered redirect URIs, exactly as registered.
    pub redirect_uri: String,
    /// Opaque client state, echoed.
    pub state: Option<String>,
    /// Requested scopes, each allowed for the client.
    pub scopes: Vec<String>,
    /// OIDC nonce, carried into the ID token.
    pub nonce: Option<String>,
    /// PKCE S256 challenge.
    pub code_challenge: Option<String>,
    /// `prompt=login`: ask for the password even with a live session.
    pub prompt_login: bool,
    /// `prompt=none`: never show a page; fail with `login_required` instead.
    pub prompt_none: bool,
    /// The pushed request (RFC 9126) the parameters came from, consumed when the code is
    /// issued; `None` for parameters from the query.
    pub pushed: Option<par::Opened>,
    /// RFC 9449 §10: the thumbprint of the DPoP key the code is bound to.
    pub dpop_jkt: Option<String>,
}

/// Why a request cannot be answered with a code.
#[derive(Debug, Clone)]
pub enum AuthorizeError {
    /// Show an error page; never redirect (the client or redirect URI is not trustworthy).
    Page(Failure),
    /// Send the error back to the client's redirect URI (RFC 6749 §4.1.2.1).
    Redirect {
        /// Where (valid, registered).
        redirect_uri: String,
        /// `state` to echo.
        state: Option<String>,
        /// RFC 6749 / OIDC error code.
        error: &'static str,
        /// Safe human text.
        description: String,
    },
}

impl AuthorizeRequest {
    /// A redirect carrying `error` back to this request's client.
    pub fn error(&self, error: &'static str, description: impl Into<String>) -> AuthorizeError {
        AuthorizeError::Redirect {
            redirect_uri: self.redirect_uri.clone(),
            state: self.state.clone(),
            error,
            description: description.into(),
        }
    }
}

impl AuthorizeError {
    /// The failure answered where no browser waits for a redirect (`POST /oauth/par`, RFC
    /// 9126 §2.3): 400 with the error code the redirect would have carried.
    pub fn into_failure(self) -> Failure {
        match self {
            AuthorizeError::Page(f) => f,
            AuthorizeError::Redirect {
                error, description, ..
            } => Failure::new(reasons::FIELD_INVALID, description).with_error(error),
        }
    }

    /// The URL to redirect to, for a `Redirect`.
    pub fn location(&self, issuer: &str) -> Option<String> {
        match self {
            AuthorizeError::Page(_) => None,
            AuthorizeError::Redirect {
                redirect_uri,
                state,
                error,
                description,
            } => {
                let mut pairs = vec![("error", *error), ("error_description", description)];
                if let Some(s) = state {
                    pairs.push(("state", s));
                }
                pairs.push(("iss", issuer));
                Some(with_query(redirect_uri, &pairs))
            }
        }
    }
}

/// `uri` with `pairs` added to its query (RFC 6749 §3.1.2: keep the registered query).
pub fn with_query(uri: &str, pairs: &[(&str, &str)]) -> String {
    let mut ser = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        ser.append_pair(k, v);
    }
    let sep = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{sep}{}", ser.finish())
}

/// An error page: 400 whatever the reason (an unknown client is a bad request here, not a
/// missing resource), but for a disabled tenant (403).
fn page(reason: reasons::Reason, detail: &str) -> AuthorizeError {
    let status = if reason == reasons::TENANT_DISABLED {
        403
    } else {
        400
    };
    AuthorizeError::Page(
        Failure::new(reason, detail)
            .with_error("invalid_request")
            .with_status(status),
    )
}

/// RFC 7636 §4.1: 43–128 characters of `[A-Za-z0-9-._~]` (the S256 challenge has the same form).
pub fn valid_pkce_string(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Validates the raw query string of an authorization request. With a `request_uri`
/// (RFC 9126 §4) the pushed parameters replace the query's but `client_id`, which must be
/// the pushing client's; the request is then opened for the browser whose CSRF binding is
/// `browser` (see [`par`] for why).
pub async fn validate(
    t: &Tessera,
    query: &str,
    browser: &str,
) -> Result<AuthorizeRequest, AuthorizeError> {
    let params = parse_form(query.as_bytes())
        .and_then(Params::from_pairs)
        .map_err(|f| AuthorizeError::Page(f.with_status(400)))?;
    let Some(request_uri) = params.get("request_uri") else {
        return check(t, &params, false).await;
    };
    let client_id = params
        .get("client_id")
        .ok_or_else(|| page(reasons::FIELD_MISSING, "client_id is required"))?;
    let (pushed, opened) = par::open(t, client_id, request_uri, browser)
        .await
        .map_err(AuthorizeError::Page)?;
    let mut req = check(t, &pushed, true).await?;
    req.pushed = Some(opened);
    Ok(req)
}

/// Validates the parameters of an authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3,
/// OIDC Core §3.1.2.1). `pushed`: they come from (or are being pushed as) a pushed request,
/// so a client that must push (RFC 9126 §6, `par.required`) may use them.
pub async fn check(
    t: &Tessera,
    params: &Params,
    pushed: bool,
) -> Result<AuthorizeRequest, AuthorizeError> {
    let client_id = params
        .get("client_id")
        .ok_or_else(|| page(reasons::FIELD_MISSING, "client_id is required"))?;
    // SPEC §7.1: an unknown client, a disabled one (or one of a disabled tenant) and one
    // without the code grant get the same page, so client ids cannot be enumerated here.
    let unknown = || {
        page(
            reasons::CLIENT_NOT_FOUND,
            "unknown client, or a client that cannot sign users in",
        )
    };
    let client = t
        .client(client_id)
        .await
        .map_err(AuthorizeError::Page)?
        .filter(|c| {
            c.status == Status::Active && c.grant_types.iter().any(|g| g == "authorization_code")
        })
        .ok_or_else(unknown)?;
    if !t
        .tenant_active(&client.tenant_id)
        .await
        .map_err(AuthorizeError::Page)?
    {
        return Err(unknown());
    }
    let redirect_uri = params
        .get("redirect_uri")
        .ok_or_else(|| page(reasons::FIELD_MISSING, "redirect_uri is required"))?;
    if !client.redirect_uris.iter().any(|r| r == redirect_uri) {
        return Err(page(
            reasons::FIELD_INVALID,
            "redirect_uri is not registered for this client",
        ));
    }
    let mut req = AuthorizeRequest {
        redirect_uri: redirect_uri.to_string(),
        state: params.get("state").map(str::to_string),
        client: client.clone(),
        scopes: Vec::new(),
        nonce: params.get("nonce").map(str::to_string),
        code_challenge: params.get("code_challenge").map(str::to_string),
        prompt_login: false,
        prompt_none: false,
        pushed: None,
        dpop_jkt: params.get("dpop_jkt").map(str::to_string),
    };
    // From here on the redirect URI is trusted: errors go back to the client.
    // RFC 9126 §5-6: a client that must push is refused anything else.
    // The console's built-in client is exempt from `par.required`: it runs inside this server,
    // and a deployment that requires PAR must still be administrable.
    let console = client
        .client_id
        .starts_with(crate::tenants::CONSOLE_CLIENT_PREFIX);
    if !pushed
        && (client.security.require_pushed_authorization_requests
            || (t.settings.par.required && !console))
    {
        return Err(req.error("invalid_request", "pushed authorization request required"));
    }
    // An RFC 7638 SHA-256 thumbprint: 43 base64url characters.
    if req.dpop_jkt.as_ref().is_some_and(|j| {
        j.len() != 43
            || !j
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    }) {
        return Err(req.error(
            "invalid_request",
            "dpop_jkt must be a JWK SHA-256 thumbprint (RFC 9449 §10)",
        ));
    }
    if req.state.as_ref().is_some_and(|s| s.len() > MAX_PARAM)
        || req.nonce.as_ref().is_some_and(|s| s.len() > MAX_PARAM)
    {
        return Err(req.error("invalid_request", "state or nonce is too long"));
    }
    match params.get("response_type") {
        None => return Err(req.error("invalid_request", "response_type is required")),
        Some("code") => {}
        Some(_) => {
            return Err(req.error(
                "unsupported_response_type",
                "only response_type=code is supported",
            ))
        }
    }
    if params.get("request").is_some() || params.get("request_uri").is_some() {
        return Err(req.error("request_not_supported", "request objects are not supported"));
    }
    req.scopes = match scope::grant(&client, params.get("scope")) {
        Ok(s) => s,
        Err(f) => return Err(req.error("invalid_scope", f.detail)),
    };
    match (
        req.code_challenge.as_deref(),
        params.get("code_challenge_method"),
    ) {
        (None, None) if client.auth_method == AuthMethod::None => {
            return Err(req.error(
                "invalid_request",
                "public clients must send a PKCE code_challenge (S256)",
            ))
        }
        (None, None) => {}
        (None, Some(_)) => return Err(req.error("invalid_request", "code_challenge is required")),
        (Some(c), Some("S256")) if valid_pkce_string(c) => {}
        (Some(_), Some("S256")) => {
            return Err(req.error("invalid_request", "code_challenge is malformed"))
        }
        (Some(_), _) => {
            return Err(req.error(
                "invalid_request",
                "code_challenge_method must be S256 (plain is not accepted)",
            ))
        }
    }
    let prompts: Vec<&str> = params.get("prompt").unwrap_or("").split(' ').collect();
    req.prompt_login = prompts.contains(&"login");
    req.prompt_none = prompts.contains(&"none");
    if req.prompt_none && prompts.iter().any(|p| !p.is_empty() && *p != "none") {
        return Err(req.error(
            "invalid_request",
            "prompt=none cannot be combined with other values",
        ));
    }
    Ok(req)
}

/// The scopes `user` gets of those requested: OIDC scopes, `tessera:admin` for holders of the
/// `admin` role, and any other scope only if the user holds it (directly or by a role).
pub async fn user_scopes(
    t: &Tessera,
    user: &User,
    requested: &[String],
) -> Result<Vec<String>, Failure> {
    let roles = t.store.list_roles(&user.tenant_id).await?;
    let held = effective_scopes(user, &roles);
    Ok(requested
        .iter()
        .filter(|s| {
            OIDC_SCOPES.contains(&s.as_str())
                || (s.as_str() == scope::ADMIN_SCOPE && user.roles.iter().any(|r| r == ADMIN_ROLE))
                || held.contains(s)
        })
        .cloned()
        .collect())
}

/// Issues a code for `req` to the session's user and returns the redirect URL carrying it
/// (with `state` and RFC 9207 `iss`).
pub async fn issue_code(
    t: &Tessera,
    req: &AuthorizeRequest,
    session: &LoginSession,
    user: &User,
) -> Result<String, Failure> {
    // A pushed request gives one code: consumed first, so of racing posts one alone goes on.
    if let Some(opened) = &req.pushed {
        par::consume(t, opened).await?;
    }
    let now = t.clock.now();
    let code = random_token(32).map_err(|e| Failure::internal(&e))?;
    let family_id = random_token(16).map_err(|e| Failure::internal(&e))?;
    let scopes = user_scopes(t, user, &req.scopes).await?;
    let row = AuthCode {
        tenant_id: req.client.tenant_id.clone(),
        client_id: req.client.client_id.clone(),
        user_id: user.id.clone(),
        redirect_uri: req.redirect_uri.clone(),
        scope: scopes.join(" "),
        nonce: req.nonce.clone(),
        code_challenge: req.code_challenge.clone(),
        auth_time: session.auth_time,
        family_id,
        expires_at: now + t.settings.login.code_ttl.max(1),
        dpop_jkt: req.dpop_jkt.clone(),
    };
    t.store
        .insert_auth_code(&t.master.hash_secret(code.as_bytes()), &row)
        .await?;
    let mut pairs = vec![("code", code.as_str())];
    if let Some(s) = &req.state {
        pairs.push(("state", s));
    }
    pairs.push(("iss", t.settings.issuer.as_str()));
    Ok(with_query(&req.redirect_uri, &pairs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_added_to_a_registered_query() {
        assert_eq!(
            with_query(
                "https://a.example/cb?x=1",
                &[("code", "a b"), ("state", "s&t")]
            ),
            "https://a.example/cb?x=1&code=a+b&state=s%26t"
        );
        assert_eq!(
            with_query("https://a.example/cb", &[("code", "c")]),
            "https://a.example/cb?code=c"
        );
    }

    #[test]
    fn pkce_strings_are_43_to_128_unreserved_characters() {
        assert!(valid_pkce_string(&"a".repeat(43)));
        assert!(!valid_pkce_string(&"a".repeat(42)));
        assert!(!valid_pkce_string(&format!("{}+", "a".repeat(43))));
    }
}
