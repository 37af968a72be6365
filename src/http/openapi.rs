//! The OpenAPI 3.1 document, generated from [`ROUTES`]: the same table a test walks to prove
//! every documented route is served (and `tests/api` checks every served route is listed).

use serde_json::{json, Map, Value};

/// One documented operation.
#[derive(Debug)]
pub struct RouteDoc {
    /// HTTP method, lower case.
    pub method: &'static str,
    /// Path template.
    pub path: &'static str,
    /// Tag (route family).
    pub tag: &'static str,
    /// One-line summary.
    pub summary: &'static str,
    /// Request body schema name and media types, if any.
    pub body: Option<(&'static str, &'static [&'static str])>,
    /// Success status and schema name.
    pub ok: (&'static str, &'static str),
    /// Error schema name (`OAuthError`, `Problem`, `IdApiError`).
    pub error: &'static str,
    /// Security: `none`, `client` (client authentication), `basic` (HTTP Basic only),
    /// `service` (a service's gateway header or Basic, or a client in the body), `bearer`
    /// (admin bearer).
    pub security: &'static str,
}

const FORM_JSON: &[&str] = &["application/x-www-form-urlencoded", "application/json"];
const JSON_ONLY: &[&str] = &["application/json"];
const FORM_ONLY: &[&str] = &["application/x-www-form-urlencoded"];

macro_rules! route {
    ($m:literal, $p:literal, $tag:literal, $sum:literal, $body:expr, $ok:expr, $err:literal, $sec:literal) => {
        RouteDoc {
            method: $m,
            path: $p,
            tag: $tag,
            summary: $sum,
            body: $body,
            ok: $ok,
            error: $err,
            security: $sec,
        }
    };
}

/// Every route the server serves.
pub const ROUTES: &[RouteDoc] = &[
    route!(
        "post",
        "/oauth/token",
        "oauth",
        "Token endpoint (RFC 6749 §3.2): client_credentials, authorization_code (PKCE), refresh_token, token exchange (RFC 8693)",
        Some(("TokenRequest", FORM_JSON)),
        ("200", "TokenResponse"),
        "OAuthError",
        "client"
    ),
    route!(
        "post",
        "/oauth/introspect",
        "oauth",
        "Token introspection (RFC 7662)",
        Some(("TokenParam", FORM_JSON)),
        ("200", "Introspection"),
        "OAuthError",
        "client"
    ),
    route!(
        "post",
        "/oauth/revoke",
        "oauth",
        "Token revocation (RFC 7009)",
        Some(("TokenParam", FORM_JSON)),
        ("200", "Empty"),
        "OAuthError",
        "client"
    ),
    route!(
        "post",
        "/oauth/par",
        "oauth",
        "Pushed authorization request (RFC 9126): the authorization request's parameters, client-authenticated like the token endpoint; 201 with a request_uri for /oauth/authorize, usable once within expires_in (60 s)",
        Some(("PushedAuthorizationRequest", FORM_ONLY)),
        ("201", "PushedAuthorizationResponse"),
        "OAuthError",
        "client"
    ),
    route!(
        "post",
        "/auth/admin/generateToken",
        "tenant",
        "Admin token for a tenant user holding the admin role (SPEC §3.3)",
        Some(("GenerateToken", JSON_ONLY)),
        ("200", "TenantToken"),
        "Problem",
        "client"
    ),
    route!(
        "post",
        "/auth/user/generateToken",
        "tenant",
        "User token with the user's roles, scopes, resources and groups (SPEC §3.3)",
        Some(("GenerateToken", JSON_ONLY)),
        ("200", "TenantToken"),
        "Problem",
        "client"
    ),
    route!(
        "post",
        "/auth/admin/oidcToken",
        "tenant",
        "Admin token for the tenant user named by an upstream ID token (SPEC §3.3)",
        Some(("OidcToken", JSON_ONLY)),
        ("200", "TenantToken"),
        "Problem",
        "bearer"
    ),
    route!(
        "post",
        "/auth/user/oidcToken",
        "tenant",
        "User token for the tenant user named by an upstream ID token (SPEC §3.3)",
        Some(("OidcToken", JSON_ONLY)),
        ("200", "TenantToken"),
        "Problem",
        "bearer"
    ),
    route!(
        "post",
        "/v1/auth/token",
        "compat",
        "Internal token API (SPEC 3.1): no grant_type = service token for the calling service; client_credentials = partner token",
        Some(("InternalTokenRequest", FORM_JSON)),
        ("200", "CompatTokenResponse"),
        "Problem",
        "service"
    ),
    route!(
        "post",
        "/v1/oauth/token",
        "compat",
        "Partner token API (SPEC 3.2): client_credentials, HTTP Basic or body credentials",
        Some(("PartnerTokenRequest", FORM_JSON)),
        ("200", "CompatTokenResponse"),
        "Problem",
        "client"
    ),
    route!(
        "post",
        "/api/id/v1/auth/token",
        "compat",
        "Identity API (SPEC 3.4): client_credentials with HTTP Basic only; scope echoed, scp in the token",
        Some(("IdTokenRequest", FORM_ONLY)),
        ("200", "IdTokenResponse"),
        "IdApiError",
        "basic"
    ),
    route!(
        "post",
        "/oauth/device_authorization",
        "oauth",
        "Device authorization request (RFC 8628 §3.1): device_code, user_code and where the user enters it; then poll /oauth/token with grant_type urn:ietf:params:oauth:grant-type:device_code",
        Some(("DeviceAuthorizationRequest", FORM_JSON)),
        ("200", "DeviceAuthorization"),
        "OAuthError",
        "client"
    ),
    route!(
        "get",
        "/device",
        "login",
        "Device verification page (RFC 8628 §3.3; query: user_code, prefilled): asks for the code the device shows",
        None,
        ("200", "Html"),
        "Html",
        "none"
    ),
    route!(
        "post",
        "/device",
        "login",
        "Device verification form post (csrf, user_code; decision=allow|deny on the consent screen): the login page, the consent screen, or the closing page",
        Some(("DeviceForm", FORM_ONLY)),
        ("200", "Html"),
        "Html",
        "none"
    ),
    route!(
        "get",
        "/oauth/authorize",
        "login",
        "Authorization request (RFC 6749 §4.1.1, PKCE S256): the login page, or a redirect with a code",
        None,
        ("200", "Html"),
        "Html",
        "none"
    ),
    route!(
        "post",
        "/login",
        "login",
        "Login form post (e-mail, password, csrf, request): 303 to the next step, or the page again",
        Some(("LoginForm", FORM_ONLY)),
        ("303", "Html"),
        "Html",
        "none"
    ),
    route!(
        "post",
        "/login/consent",
        "login",
        "Consent form post (decision=allow|deny, csrf, request): 303 to the client",
        Some(("ConsentForm", FORM_ONLY)),
        ("303", "Html"),
        "Html",
        "none"
    ),
    route!(
        "post",
        "/login/upstream",
        "login",
        "\"Sign in with\" an upstream OpenID provider (upstream, csrf, request): 303 to the provider (PKCE S256, nonce, signed state)",
        Some(("UpstreamLoginForm", FORM_ONLY)),
        ("303", "Html"),
        "Html",
        "none"
    ),
    route!(
        "get",
        "/login/upstream/callback",
        "login",
        "The upstream provider's redirect back (code, state): the ID token is verified, the user signed in, 303 to the next step",
        None,
        ("303", "Html"),
        "Html",
        "none"
    ),
    route!(
        "post",
        "/logout",
        "login",
        "Sign out (csrf; optional client_id, post_logout_redirect_uri registered on the client, state): ends the login session, 303 back or a signed-out page",
        Some(("LogoutForm", FORM_ONLY)),
        ("303", "Html"),
        "Html",
        "none"
    ),
    route!(
        "get",
        "/oauth/logout",
        "login",
        "OpenID Connect RP-Initiated Logout 1.0 (id_token_hint, client_id, post_logout_redirect_uri, state): ends the session at once for a valid hint, else asks the user to confirm",
        None,
        ("200", "Html"),
        "Html",
        "none"
    ),
    route!(
        "get",
        "/userinfo",
        "login",
        "OIDC UserInfo (bearer access token with scope openid)",
        None,
        ("200", "UserInfo"),
        "OAuthError",
        "bearer"
    ),
    route!(
        "post",
        "/userinfo",
        "login",
        "OIDC UserInfo (bearer access token with scope openid)",
        None,
        ("200", "UserInfo"),
        "OAuthError",
        "bearer"
    ),
    route!(
        "get",
        "/.well-known/jwks.json",
        "discovery",
        "Public signing keys (RFC 7517)",
        None,
        ("200", "Jwks"),
        "Problem",
        "none"
    ),
    route!(
        "get",
        "/.well-known/openid-configuration",
        "discovery",
        "OpenID Connect Discovery 1.0",
        None,
        ("200", "Metadata"),
        "Problem",
        "none"
    ),
    route!(
        "get",
        "/.well-known/oauth-authorization-server",
        "discovery",
        "Authorization server metadata (RFC 8414)",
        None,
        ("200", "Metadata"),
        "Problem",
        "none"
    ),
    route!(
        "get",
        "/healthz",
        "operations",
        "Liveness",
        None,
        ("200", "Status"),
        "Problem",
        "none"
    ),
    route!(
        "get",
        "/readyz",
        "operations",
        "Readiness: database reachable and keys loaded",
        None,
        ("200", "Status"),
        "Problem",
        "none"
    ),
    route!(
        "get",
        "/metrics",
        "operations",
        "Prometheus metrics (text format)",
        None,
        ("200", "Text"),
        "Problem",
        "none"
    ),
    route!(
        "get",
        "/openapi.json",
        "operations",
        "This document",
        None,
        ("200", "Any"),
        "Problem",
        "none"
    ),
    route!(
        "post",
        "/admin/v1/tenants",
        "admin",
        "Create a tenant",
        Some(("TenantCreate", JSON_ONLY)),
        ("201", "Tenant"),
        "Problem",
        "bearer"
    ),
    route!(
        "get",
        "/admin/v1/tenants",
        "admin",
        "List tenants",
        None,
        ("200", "TenantList"),
        "Problem",
        "bearer"
    ),
    route!(
        "get",
        "/admin/v1/tenants/{tenant}",
        "admin",
        "Read a tenant",
        None,
        ("200", "Tenant"),
        "Problem",
        "bearer"
    ),
    route!(
        "patch",
        "/admin/v1/tenants/{tenant}",
        "admin",
        "Rename, disable or enable a tenant",
        Some(("TenantPatch", JSON_ONLY)),
        ("200", "Tenant"),
        "Problem",
        "bearer"
    ),
    route!(
        "post",
        "/admin/v1/tenants/{tenant}/projects",
        "admin",
        "Create a project",
        Some(("ProjectCreate", JSON_ONLY)),
        ("201", "Project"),
        "Problem",
        "bearer"
    ),
    route!(
        "get",
        "/admin/v1/tenants/{tenant}/projects",
        "admin",
        "List projects",
        None,
        ("200", "ProjectList"),
        "Problem",
        "bearer"
    ),
    route!(
        "get",
        "/admin/v1/tenants/{tenant}/projects/{project}",
        "admin",
        "Read a project",
        None,
        ("200", "Project"),
        "Problem",
        "bearer"
    ),
    route!(
        "post",
        "/admin/v1/tenants/{tenant}/clients",
        "admin",
        "Create a client (the generated secret is shown once)",
        Some(("ClientCreate", JSON_ONLY)),
        ("201", "Client"),
        "Problem",
        "bearer"
    ),
    route!(
        "get",
        "/admin/v1/tenants/{tenant}/clients",
        "admin",
        "List clients",
        None,
        ("200", "ClientList"),
        "Problem",
        "bearer"
    ),
    route!(
        "get",
        "/admin/v1/tenants/{tenant}/clients/{client}",
        "admin",
        "Read a client",
        None,
        ("200", "Client"),
        "Problem",
        "bearer"
    ),
    route!(
        "patch",
        "/admin/v1/tenants/{tenant}/clients/{client}",
        "admin",
        "Change a client",
        Some(("ClientCreate", JSON_ONLY)),
        ("200", "Client"),
        "Problem",
        "bearer"
    ),
    route!(
        "delete",
        "/admin/v1/tenants/{tenant}/clients/{client}",
        "admin",
        "Delete a client",
        None,
        ("204", "Empty"),
        "Problem",
        "bearer"
    ),
    route!(
        "post",
        "/admin/v1/tenants/{tenant}/clients/{client}/secret/rotate",
        "admin",
        "Rotate a client secret with a grace period",
        Some(("SecretRotate", JSON_ONLY)),
        ("200", "SecretRotated"),
        "Problem",
        "bearer"
    ),
    route!(
        "post",
        "/admin/v1/services",
        "admin",
        "Register a service (a generated secret is shown once)",
        Some(("ServiceCreate", JSON_ONLY)),
        ("201", "Service"),
        "Problem",
        "bearer"
    ),
    route!(
        "get",
        "/admin/v1/services",
        "admin",
        "List services",
        None,
        ("200", "ServiceList"),
        "Problem",
        "bearer"
    ),
    route!(
        "get",
        "/admin/v1/services/{service}",
        "admin",
        "Read a service",
        None,
        ("200", "Service"),
        "Problem",
        "bearer"
    ),
    route!(
        "delete",
        "/admin/v1/services/{service}",
        "admin",
        "Remove a service",
        None,
        ("204", "Empty"),
        "Problem",
        "bearer"
    ),
    route!(
        "post",
        "/admin/v1/services/{service}/secret/rotate",
        "admin",
        "Rotate a service secret with a grace period",
        Some(("SecretRotate", JSON_ONLY)),
        ("200", "ServiceSecretRotated"),
        "Problem",
        "bearer"
    ),
    route!(
        "post",
        "/admin/v1/tenants/{tenant}/users",
        "admin",
        "Create a tenant user (the password is never returned)",
        Some(("UserCreate", JSON_ONLY)),
        ("201", "User"),
        "Problem",
        "bearer"
    ),
    route!(
        "get",
        "/admin/v1/tenants/{tenant}/users",
        "admin",
        "List tenant users",
        None,
        ("200", "UserList"),
        "Problem",
        "bearer"
    ),
    route!(
        "get",
        "/admin/v1/tenants/{tenant}/users/{user}",
        "admin",
        "Read a tenant user",
        None,
        ("200", "User"),
        "Problem",
        "bearer"
    ),
    route!(
        "patch",
        "/admin/v1/tenants/{tenant}/users/{user}",
        "admin",
        "Change or disable a tenant user",
        Some(("UserCreate", JSON_ONLY)),
        ("200", "User"),
        "Problem",
        "bearer"
    ),
    route!(
        "post",
        "/admin/v1/tenants/{tenant}/roles",
        "admin",
        "Create a role",
        Some(("RoleCreate", JSON_ONLY)),
        ("201", "Role"),
        "Problem",
        "bearer"
    ),
    route!(
        "get",
        "/admin/v1/tenants/{tenant}/roles",
        "admin",
        "List roles (admin is always present)",
        None,
        ("200", "RoleList"),
        "Problem",
        "bearer"
    ),
    route!(
        "post",
        "/admin/v1/tenants/{tenant}/upstreams",
        "admin",
        "Trust an upstream OpenID provider",
        Some(("UpstreamCreate", JSON_ONLY)),
        ("201", "Upstream"),
        "Problem",
        "bearer"
    ),
    route!(
        "get",
        "/admin/v1/tenants/{tenant}/upstreams",
        "admin",
        "List trusted upstream providers",
        None,
        ("200", "UpstreamList"),
        "Problem",
        "bearer"
    ),
    route!(
        "delete",
        "/admin/v1/tenants/{tenant}/upstreams/{upstream}",
        "admin",
        "Stop trusting an upstream provider",
        None,
        ("204", "Empty"),
        "Problem",
        "bearer"
    ),
    route!(
        "get",
        "/admin/v1/keys",
        "admin",
        "List signing keys (public parts)",
        None,
        ("200", "KeyList"),
        "Problem",
        "bearer"
    ),
    route!(
        "post",
        "/admin/v1/keys/rotate",
        "admin",
        "Rotate signing keys",
        None,
        ("200", "KeyList"),
        "Problem",
        "bearer"
    ),
    route!(
        "get",
        "/admin/v1/audit",
        "admin",
        "Read audit events (query: tenant, client, since, limit)",
        None,
        ("200", "AuditList"),
        "Problem",
        "bearer"
    ),
];

fn r(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn strings() -> Value {
    json!({"type": "array", "items": {"type": "string"}})
}

fn list_of(name: &str) -> Value {
    json!({"type": "object", "required": ["items"], "properties": {"items": {"type": "array", "items": r(name)}}})
}

fn schemas() -> Value {
    let s = json!({"type": "string"});
    let i = json!({"type": "integer"});
    let b = json!({"type": "boolean"});
    let opt_s = json!({"type": ["string", "null"]});
    json!({
        "TokenRequest": {"type": "object", "required": ["grant_type"], "properties": {
            "grant_type": s, "scope": s, "audience": s, "resource": s, "client_id": s, "client_secret": s,
            "client_assertion_type": s, "client_assertion": s,
            "device_code": s,
            "subject_token": s, "subject_token_type": {"const": "urn:ietf:params:oauth:token-type:id_token"},
            "requested_token_type": {"const": "urn:ietf:params:oauth:token-type:access_token"}}},
        "TokenParam": {"type": "object", "required": ["token"], "properties": {"token": s, "token_type_hint": s,
            "client_id": s, "client_secret": s}},
        "TokenResponse": {"type": "object", "required": ["access_token", "token_type", "expires_in"], "properties": {
            "access_token": s, "token_type": {"enum": ["Bearer", "DPoP"]}, "expires_in": i, "scope": s, "issued_token_type": s,
            "id_token": s, "refresh_token": s}},
        "PushedAuthorizationRequest": {"type": "object", "required": ["response_type", "redirect_uri"], "properties": {
            "response_type": {"const": "code"}, "client_id": s, "redirect_uri": s, "scope": s, "state": s, "nonce": s,
            "code_challenge": s, "code_challenge_method": {"const": "S256"}, "prompt": s,
            "client_secret": s, "client_assertion_type": s, "client_assertion": s}},
        "PushedAuthorizationResponse": {"type": "object", "required": ["request_uri", "expires_in"], "properties": {
            "request_uri": {"type": "string", "pattern": "^urn:ietf:params:oauth:request_uri:"}, "expires_in": i}},
        "GenerateToken": {"type": "object", "required": ["tenant_id", "project_id", "client_id", "email_id"], "properties": {
            "tenant_id": s, "project_id": s, "client_id": s, "email_id": s,
            "secret_id": {"type": "string", "writeOnly": true, "description": "the client's secret; absent: HTTP Basic or a bearer token with scope tessera:generate"}}},
        "OidcToken": {"type": "object", "required": ["oidc_token"], "properties": {"oidc_token": s}},
        "TenantToken": {"type": "object", "required": ["access_token", "expires_in", "token_type"], "properties": {
            "access_token": s, "expires_in": i, "token_type": {"const": "Bearer"}}},
        "InternalTokenRequest": {"type": "object", "properties": {
            "grant_type": {"enum": ["client_credentials"], "description": "absent: a service token for the calling service"},
            "client_id": s, "client_secret": s, "scope": s, "audience": s}},
        "PartnerTokenRequest": {"type": "object", "required": ["grant_type"], "properties": {
            "grant_type": {"const": "client_credentials"}, "client_id": s, "client_secret": s, "scope": s, "audience": s}},
        "CompatTokenResponse": {"type": "object", "required": ["access_token", "token_type", "expires_in"], "properties": {
            "access_token": s, "token_type": {"const": "Bearer"}, "expires_in": i}},
        "IdTokenRequest": {"type": "object", "required": ["grant_type"], "properties": {
            "grant_type": {"enum": ["client_credentials", "authorization_code"]}, "scope": s, "audience": s,
            "code": s, "redirect_uri": s, "code_verifier": s}},
        "IdTokenResponse": {"type": "object", "required": ["scope", "token_type", "access_token", "expires_in"], "properties": {
            "scope": s, "token_type": {"const": "Bearer"}, "access_token": s, "expires_in": i,
            "id_token": s, "refresh_token": s}},
        "Html": {"type": "string", "description": "an HTML page"},
        "DeviceAuthorizationRequest": {"type": "object", "properties": {"scope": s, "client_id": s, "client_secret": s,
            "client_assertion_type": s, "client_assertion": s}},
        "DeviceAuthorization": {"type": "object", "required": ["device_code", "user_code", "verification_uri", "expires_in"], "properties": {
            "device_code": s, "user_code": {"type": "string", "pattern": "^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$"},
            "verification_uri": s, "verification_uri_complete": s, "expires_in": i, "interval": i}},
        "DeviceForm": {"type": "object", "required": ["csrf", "user_code"], "properties": {
            "csrf": s, "user_code": s, "decision": {"enum": ["allow", "deny"]}}},
        "LoginForm": {"type": "object", "required": ["email", "password", "csrf", "request"], "properties": {
            "email": s, "password": {"type": "string", "writeOnly": true}, "csrf": s,
            "request": {"type": "string", "description": "the authorization request's query string"}}},
        "ConsentForm": {"type": "object", "required": ["decision", "csrf", "request"], "properties": {
            "decision": {"enum": ["allow", "deny"]}, "csrf": s, "request": s}},
        "UpstreamLoginForm": {"type": "object", "required": ["upstream", "csrf", "request"], "properties": {
            "upstream": {"type": "string", "description": "the upstream provider's id in the tenant"}, "csrf": s, "request": s}},
        "LogoutForm": {"type": "object", "required": ["csrf"], "properties": {
            "csrf": s, "client_id": s, "post_logout_redirect_uri": s, "state": s}},
        "UserInfo": {"type": "object", "required": ["sub"], "properties": {"sub": s, "name": s, "email": s, "email_verified": b}},
        "Introspection": {"type": "object", "required": ["active"], "properties": {"active": b}, "additionalProperties": true},
        "OAuthError": {"type": "object", "required": ["error"], "properties": {"error": s, "error_description": s}},
        "IdApiError": {"type": "object", "required": ["error"], "properties": {"error": s, "errorDescription": s}},
        "Problem": {"type": "object", "required": ["type", "title", "status", "karmoCode"], "properties": {
            "type": s, "title": s, "status": i, "detail": s, "instance": s,
            "karmoCode": {"type": "string", "pattern": "^[0-9]{8}$"},
            "karmoErrors": {"type": "array", "items": {"type": "object", "properties": {"detail": s, "pointer": s}}}}},
        "Jwks": {"type": "object", "required": ["keys"], "properties": {"keys": {"type": "array", "items": {"type": "object"}}}},
        "Metadata": {"type": "object", "required": ["issuer"], "additionalProperties": true},
        "Status": {"type": "object", "properties": {"status": s}},
        "Text": {"type": "string"},
        "Any": {},
        "Empty": {"type": "object"},
        "TenantCreate": {"type": "object", "required": ["id", "name"], "properties": {"id": s, "name": s}},
        "TenantPatch": {"type": "object", "properties": {"name": s, "status": {"enum": ["active", "disabled"]}}},
        "Tenant": {"type": "object", "properties": {"id": s, "name": s, "status": s, "created_at": {"type": "string", "format": "date-time"}}},
        "TenantList": list_of("Tenant"),
        "ProjectCreate": {"type": "object", "required": ["id", "name"], "properties": {"id": s, "name": s}},
        "Project": {"type": "object", "properties": {"id": s, "tenant_id": s, "name": s, "created_at": s}},
        "ProjectList": list_of("Project"),
        "ClientCreate": {"type": "object", "required": ["name", "grant_types", "scopes"], "properties": {
            "client_id": s, "name": s, "project_id": s, "profile": s, "grant_types": strings(), "scopes": strings(),
            "default_scopes": strings(), "audiences": strings(), "token_ttl": i, "redirect_uris": strings(), "post_logout_redirect_uris": strings(),
            "token_endpoint_auth_method": {"enum": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]},
            "jwks": {"type": "object"}, "signing_alg": {"enum": ["RS256", "PS256", "ES256", "EdDSA"]},
            "admin_tokens": b, "client_secret": s, "status": {"enum": ["active", "disabled"]},
            "consent_required": b, "refresh_token_ttl": i,
            "secret": {"type": "object", "properties": {"vault": {"type": "object", "properties": {"mount": s, "path": s, "field": s}}}}}},
        "Client": {"type": "object", "properties": {
            "client_id": s, "tenant_id": s, "name": s, "project_id": opt_s, "profile": s, "grant_types": strings(),
            "scopes": strings(), "default_scopes": strings(), "audiences": strings(), "token_ttl": {"type": ["integer", "null"]},
            "redirect_uris": strings(), "post_logout_redirect_uris": strings(), "token_endpoint_auth_method": s, "signing_alg": opt_s, "admin_tokens": b,
            "consent_required": b, "refresh_token_ttl": {"type": ["integer", "null"]},
            "status": s, "created_at": s, "updated_at": s,
            "client_secret": {"type": "string", "description": "present only in the create answer, for a generated secret"}}},
        "ClientList": list_of("Client"),
        "SecretRotate": {"type": "object", "properties": {"grace_seconds": i}},
        "SecretRotated": {"type": "object", "properties": {"client_secret": s, "previous_expires_at": s}},
        "UserCreate": {"type": "object", "required": ["email"], "properties": {"id": s, "email": s, "name": s,
            "password": {"type": "string", "writeOnly": true}, "roles": strings(), "scopes": strings(), "resources": strings(),
            "groups": strings(), "status": {"enum": ["active", "disabled"]}}},
        "User": {"type": "object", "properties": {"id": s, "tenant_id": s, "email": s, "name": opt_s, "roles": strings(),
            "scopes": strings(), "resources": strings(), "groups": strings(), "status": s, "has_password": b, "created_at": s, "updated_at": s}},
        "UserList": list_of("User"),
        "RoleCreate": {"type": "object", "required": ["name"], "properties": {"name": s, "scopes": strings()}},
        "Role": {"type": "object", "properties": {"name": s, "tenant_id": s, "scopes": strings(), "created_at": s}},
        "RoleList": list_of("Role"),
        "UpstreamCreate": {"type": "object", "required": ["issuer", "client_id"], "properties": {"id": s, "issuer": s, "client_id": s, "name": s}},
        "Upstream": {"type": "object", "properties": {"id": s, "tenant_id": s, "issuer": s, "client_id": s, "name": opt_s, "created_at": s}},
        "UpstreamList": list_of("Upstream"),
        "Binding": {"oneOf": [
            {"type": "object", "required": ["type"], "properties": {"type": {"const": "secret"}}},
            {"type": "object", "required": ["type", "arn"], "properties": {"type": {"const": "gateway"}, "arn": s}},
            {"type": "object", "required": ["type", "arn"], "properties": {"type": {"const": "aws_iam"}, "arn": s}},
            {"type": "object", "required": ["type", "san"], "properties": {"type": {"const": "mtls"}, "san": s}}]},
        "ServiceCreate": {"type": "object", "required": ["name", "bindings"], "properties": {
            "name": s, "audiences": strings(), "ttl": i, "bindings": {"type": "array", "items": r("Binding")}}},
        "Service": {"type": "object", "properties": {
            "name": s, "audiences": strings(), "ttl": {"type": ["integer", "null"]},
            "bindings": {"type": "array", "items": r("Binding")}, "created_at": s, "updated_at": s,
            "secret": {"type": "string", "description": "present only in the create answer, for a secret binding"}}},
        "ServiceList": list_of("Service"),
        "ServiceSecretRotated": {"type": "object", "properties": {"secret": s, "previous_expires_at": s}},
        "Key": {"type": "object", "properties": {"kid": s, "alg": s, "status": {"enum": ["next", "active", "retired"]}, "created_at": s, "public_jwk": {"type": "object"}}},
        "KeyList": list_of("Key"),
        "AuditEvent": {"type": "object", "properties": {"at": s, "event": s, "tenant_id": opt_s, "client_id": opt_s,
            "subject": opt_s, "jti": opt_s, "outcome": s, "remote": opt_s}},
        "AuditList": list_of("AuditEvent"),
    })
}

/// The media type of a response schema.
fn media(schema: &str) -> &'static str {
    match schema {
        "Problem" => "application/problem+json",
        "Html" => "text/html",
        _ => "application/json",
    }
}

/// Builds the document for a server whose issuer is `issuer`.
pub fn document(issuer: &str) -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for route in ROUTES {
        let mut op = json!({
            "summary": route.summary,
            "tags": [route.tag],
            "operationId": format!("{}{}", route.method, route.path.replace(['/', '{', '}', '.', '-'], "_")),
            "responses": {
                route.ok.0: {"description": "success", "content": {media(route.ok.1): {"schema": r(route.ok.1)}}},
                "default": {"description": "error", "content": {media(route.error): {"schema": r(route.error)}}},
            },
        });
        if let Some((schema, types)) = route.body {
            let mut content = Map::new();
            for t in types {
                content.insert((*t).to_string(), json!({"schema": r(schema)}));
            }
            crate::json::set(
                &mut op,
                "requestBody",
                json!({"required": true, "content": content}),
            );
        }
        let params: Vec<Value> = route
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        if !params.is_empty() {
            crate::json::set(&mut op, "parameters", Value::Array(params));
        }
        let security = match route.security {
            "client" => Some(json!([{"basic": []}, {"mtls": []}, {}])),
            "basic" => Some(json!([{"basic": []}])),
            "service" => {
                Some(json!([{"gateway": []}, {"mtls": []}, {"client_cert": []}, {"basic": []}, {}]))
            }
            "bearer" => Some(json!([{"bearer": []}])),
            _ => None,
        };
        if let Some(s) = security {
            crate::json::set(&mut op, "security", s);
        }
        let entry = paths
            .entry(route.path.to_string())
            .or_insert_with(|| json!({}));
        entry[route.method] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Tessera", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Multi-tenant OAuth 2.0 / OpenID Connect token service"},
        "servers": [{"url": issuer}],
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "securitySchemes": {
                "basic": {"type": "http", "scheme": "basic"},
                "bearer": {"type": "http", "scheme": "bearer"},
                "gateway": {"type": "apiKey", "in": "header", "name": "X-Amzn-Caller-Arn",
                            "description": "caller ARN set by a trusted gateway (header name: s2s.gateway_header); believed only from s2s.trusted_proxies"},
                "client_cert": {"type": "apiKey", "in": "header", "name": "X-Forwarded-Client-Cert",
                            "description": "client-certificate SAN URI forwarded by a TLS-terminating proxy (header name: s2s.mtls_header; Envoy XFCC URI= values or a bare URI; with Cert= or Hash= the token is bound to the certificate); believed only from s2s.trusted_proxies"},
                "mtls": {"type": "mutualTLS",
                         "description": "RFC 8705 client certificate on Tessera's own TLS listener (tls.cert): tls_client_auth, self_signed_tls_client_auth, service mtls bindings"},
            },
        },
    })
}
