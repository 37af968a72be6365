//! Admin: clients, including secret generation (shown once), import and rotation.

use super::tenants::conflict;
use super::{json, Answer, Fields, Id, TenantCall};
use crate::clock::rfc3339;
use crate::compat::internal::SERVICE_PROFILE;
use crate::crypto::{estimated_entropy_bits, random_token};
use crate::failure::Failure;
use crate::http::Shared;
use crate::keys::signer::{Alg, VerifyingKey};
use crate::oauth::grant::GrantType;
use crate::reasons;
use crate::service::Tessera;
use crate::tenants::{
    valid_id, AuthMethod, Client, ClientSecrets, SecretHash, Status, VaultRef,
    CONSOLE_CLIENT_PREFIX,
};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde_json::{json, Value};

/// Default grace period of a secret rotation, seconds.
const DEFAULT_GRACE: i64 = 3600;

/// Wire form of a client: never a secret or a hash.
pub fn client_json(c: &Client) -> Value {
    let mut v = json!({
        "client_id": c.client_id,
        "tenant_id": c.tenant_id,
        "name": c.name,
        "project_id": c.project_id,
        "profile": c.profile,
        "grant_types": c.grant_types,
        "scopes": c.scopes,
        "default_scopes": c.default_scopes,
        "audiences": c.audiences,
        "token_ttl": c.token_ttl,
        "redirect_uris": c.redirect_uris,
        "token_endpoint_auth_method": c.auth_method.as_str(),
        "jwks": c.jwks,
        "signing_alg": c.signing_alg,
        "admin_tokens": c.admin_tokens,
        "consent_required": c.consent_required,
        "refresh_token_ttl": c.refresh_token_ttl,
        "post_logout_redirect_uris": c.post_logout_redirect_uris,
        "dpop_bound_access_tokens": c.security.dpop_bound_access_tokens,
        "require_pushed_authorization_requests": c.security.require_pushed_authorization_requests,
        "tls_client_certificate_bound_access_tokens":
            c.security.tls_client_certificate_bound_access_tokens,
        "tls_client_auth_subject_dn": c.security.tls_client_auth_subject_dn,
        "tls_client_auth_san_uri": c.security.tls_client_auth_san_uri,
        "tls_client_auth_san_dns": c.security.tls_client_auth_san_dns,
        "status": c.status.as_str(),
        "created_at": rfc3339(c.created_at),
        "updated_at": rfc3339(c.updated_at),
    });
    if let Some(vault) = &c.secrets.vault {
        crate::json::set(&mut v, "secret", json!({ "vault": vault }));
    }
    if let Some(until) = c.secrets.previous_expires_at {
        crate::json::set(
            &mut v,
            "previous_secret_expires_at",
            Value::String(rfc3339(until)),
        );
    }
    v
}

/// Hashes a secret: the fast keyed hash for high-entropy ones, argon2id otherwise (under the
/// hash permits, like every argon2 computation).
pub async fn hash_secret(t: &Tessera, secret: &str) -> Result<SecretHash, Failure> {
    if estimated_entropy_bits(secret) >= 256.0 {
        Ok(SecretHash::Hmac(t.master.hash_secret(secret.as_bytes())))
    } else {
        t.hashes
            .hash(secret.as_bytes())
            .await
            .map(SecretHash::Argon2)
    }
}

/// A new secret (256 random bits, base64url) and its stored hash: always the fast keyed
/// hash, since the secret has full entropy. Used for clients and services alike.
pub(super) fn new_secret(t: &Tessera) -> Result<(String, SecretHash), Failure> {
    let secret = random_token(32).map_err(|e| Failure::internal(&e))?;
    let hash = SecretHash::Hmac(t.master.hash_secret(secret.as_bytes()));
    Ok((secret, hash))
}

/// Applies the fields of a create or PATCH body to `c`; returns an imported secret if given.
async fn apply(
    t: &Tessera,
    f: &mut Fields,
    c: &mut Client,
    creating: bool,
    global: bool,
) -> Result<Option<String>, Failure> {
    if let Some(name) = f.string("name", creating) {
        c.name = name;
    }
    if f.has("project_id") {
        match f.string("project_id", false) {
            Some(p) if t.store.get_project(&c.tenant_id, &p).await?.is_some() => {
                c.project_id = Some(p)
            }
            Some(p) => {
                return Err(Failure::not_found(
                    reasons::PROJECT_NOT_FOUND,
                    format!("project {p} not found"),
                )
                .with_field("/project_id", "no such project in this tenant"))
            }
            None => {}
        }
    }
    if let Some(p) = f.string("profile", false) {
        if p == SERVICE_PROFILE {
            // SPEC §7.1: `token_use: service` is for registered services only.
            f.error(
                "profile",
                "the service profile is for registered services (tessera service add), not clients",
            );
        } else if t.profile(&p).is_some() {
            c.profile = p;
        } else {
            f.error("profile", format!("unknown profile {p}"));
        }
    }
    if let Some(grants) = f.strings("grant_types", creating) {
        // A client may be registered for any grant the token endpoint implements.
        if let Some(bad) = grants.iter().find(|g| GrantType::parse(g).is_none()) {
            f.error("grant_types", format!("unknown grant type {bad}"));
        }
        c.grant_types = grants;
    }
    if let Some(scopes) = f.strings("scopes", creating) {
        if scopes.iter().any(|s| s.is_empty() || s.contains(' ')) {
            f.error("scopes", "scopes must be non-empty and contain no spaces");
        }
        c.scopes = scopes;
    }
    if let Some(d) = f.strings("default_scopes", false) {
        c.default_scopes = d;
    }
    if let Some(a) = f.strings("audiences", false) {
        // The service profile's audience is the services' own: a client naming it would
        // mint tokens a service's peers take for a service's (SPEC §7.1).
        let reserved = t
            .profile(SERVICE_PROFILE)
            .and_then(|p| p.audience.as_deref());
        if let Some(bad) = a.iter().find(|x| Some(x.as_str()) == reserved) {
            f.error(
                "audiences",
                format!("{bad} is the audience of service tokens, reserved for services"),
            );
        }
        c.audiences = a;
    }
    if f.has("token_ttl") {
        match f.int("token_ttl") {
            Some(ttl) if ttl > 0 => c.token_ttl = Some(ttl),
            Some(_) => f.error(
                "token_ttl",
                "token_ttl must be a positive number of seconds",
            ),
            None => {}
        }
    }
    for (field, target) in [
        ("redirect_uris", &mut c.redirect_uris),
        (
            "post_logout_redirect_uris",
            &mut c.post_logout_redirect_uris,
        ),
    ] {
        if let Some(uris) = f.strings(field, false) {
            if let Some(bad) = uris.iter().find(|u| !valid_redirect_uri(u)) {
                f.error(
                    field,
                    format!("{bad} is not an absolute http(s) URI without a fragment"),
                );
            }
            *target = uris;
        }
    }
    if let Some(m) = f.string("token_endpoint_auth_method", false) {
        match AuthMethod::parse(&m) {
            Some(m) => c.auth_method = m,
            None => f.error(
                "token_endpoint_auth_method",
                "must be client_secret_basic, client_secret_post, private_key_jwt, none, \
                 tls_client_auth or self_signed_tls_client_auth",
            ),
        }
    }
    if let Some(jwks) = f.object("jwks") {
        let keys = jwks.get("keys").and_then(Value::as_array);
        match keys {
            Some(k) if !k.is_empty() && k.iter().all(|j| VerifyingKey::from_jwk(j).is_some()) => {
                c.jwks = Some(jwks)
            }
            _ => f.error(
                "jwks",
                "jwks must be a JWK Set of RSA (≥ 2048 bits), EC P-256 or Ed25519 public keys",
            ),
        }
    }
    if let Some(alg) = f.string("signing_alg", false) {
        // Keys of every algorithm exist from the first start (SPEC §2.3): choosing one
        // creates nothing, so a refused request leaves no key behind.
        match Alg::parse(&alg) {
            Some(_) => c.signing_alg = Some(alg),
            None => f.error(
                "signing_alg",
                "signing_alg must be RS256, PS256, ES256 or EdDSA",
            ),
        }
    }
    if let Some(b) = f.bool("admin_tokens") {
        c.admin_tokens = b;
    }
    if let Some(b) = f.bool("consent_required") {
        c.consent_required = b;
    }
    let sec = &mut c.security;
    for (field, target) in [
        (
            "dpop_bound_access_tokens",
            &mut sec.dpop_bound_access_tokens,
        ),
        (
            "require_pushed_authorization_requests",
            &mut sec.require_pushed_authorization_requests,
        ),
        (
            "tls_client_certificate_bound_access_tokens",
            &mut sec.tls_client_certificate_bound_access_tokens,
        ),
    ] {
        if let Some(b) = f.bool(field) {
            *target = b;
        }
    }
    for (field, target) in [
        (
            "tls_client_auth_subject_dn",
            &mut sec.tls_client_auth_subject_dn,
        ),
        ("tls_client_auth_san_uri", &mut sec.tls_client_auth_san_uri),
        ("tls_client_auth_san_dns", &mut sec.tls_client_auth_san_dns),
    ] {
        // An empty string clears the setting.
        if let Some(v) = f.string(field, false) {
            *target = (!v.is_empty()).then_some(v);
        }
    }
    if f.has("refresh_token_ttl") {
        match f.int("refresh_token_ttl") {
            Some(ttl) if ttl >= 60 => c.refresh_token_ttl = Some(ttl),
            Some(_) => f.error(
                "refresh_token_ttl",
                "refresh_token_ttl must be at least 60 seconds",
            ),
            None => {}
        }
    }
    match f.string("status", false).as_deref() {
        None => {}
        Some("active") => c.status = Status::Active,
        Some("disabled") => c.status = Status::Disabled,
        Some(_) => f.error("status", "status must be active or disabled"),
    }
    let imported = f.string("client_secret", false);
    if imported.as_deref().is_some_and(|s| s.len() < 8) {
        f.error(
            "client_secret",
            "an imported client_secret must be at least 8 characters",
        );
    }
    let mut vault_given = false;
    if let Some(secret) = f.object("secret") {
        let v = secret
            .get("vault")
            .cloned()
            .map(serde_json::from_value::<VaultRef>);
        match v {
            Some(Ok(v)) if !v.mount.is_empty() && !valid_mount(&v.mount) => {
                f.error(
                    "secret/vault/mount",
                    "mount must be one path segment of A-Z a-z 0-9 . _ -",
                );
            }
            Some(Ok(v)) if !v.mount.is_empty() && !v.path.is_empty() && !v.field.is_empty() => {
                vault_given = true;
                if global
                    || vault_path_in_tenant(&t.settings.vault.tenant_prefix, &c.tenant_id, &v.path)
                {
                    c.secrets = ClientSecrets {
                        vault: Some(v),
                        ..ClientSecrets::default()
                    };
                } else {
                    f.error(
                        "secret/vault/path",
                        format!(
                            "a tenant's Vault paths must lie under {}{}/",
                            t.settings.vault.tenant_prefix, c.tenant_id
                        ),
                    );
                }
            }
            _ => f.error(
                "secret",
                "secret must be {\"vault\":{\"mount\",\"path\",\"field\"}}",
            ),
        }
    }
    // Cross-field rules, checked on the result.
    if let Some(p) = t.profile(&c.profile) {
        f.check_profile(&c.profile, p, "token_ttl", c.token_ttl, &c.audiences);
    }
    if let Some(bad) = c.default_scopes.iter().find(|d| !c.scopes.contains(d)) {
        f.error(
            "default_scopes",
            format!("default scope {bad} is not in scopes"),
        );
    }
    if c.auth_method == AuthMethod::PrivateKeyJwt && c.jwks.is_none() {
        f.error("jwks", "private_key_jwt needs a jwks");
    }
    if c.auth_method == AuthMethod::SelfSignedTlsClientAuth && c.jwks.is_none() {
        f.error(
            "jwks",
            "self_signed_tls_client_auth needs a jwks holding the certificate's public key",
        );
    }
    let s = &c.security;
    if c.auth_method == AuthMethod::TlsClientAuth
        && s.tls_client_auth_subject_dn.is_none()
        && s.tls_client_auth_san_uri.is_none()
        && s.tls_client_auth_san_dns.is_none()
    {
        f.error(
            "tls_client_auth_subject_dn",
            "tls_client_auth needs tls_client_auth_subject_dn, tls_client_auth_san_uri or \
             tls_client_auth_san_dns",
        );
    }
    // A DN that cannot be read would never match: refused when registered, not at each login.
    if s.tls_client_auth_subject_dn
        .as_deref()
        .is_some_and(|dn| crate::tls::dn::Name::parse(dn).is_none())
    {
        f.error(
            "tls_client_auth_subject_dn",
            "tls_client_auth_subject_dn must be an RFC 4514 distinguished name (CN=…,O=…)",
        );
    }
    if !c.auth_method.uses_secret() {
        if imported.is_some() {
            f.error(
                "client_secret",
                "this token_endpoint_auth_method uses no secret",
            );
        }
        if vault_given {
            f.error("secret", "this token_endpoint_auth_method uses no secret");
        }
    }
    if imported.is_some() && c.secrets.vault.is_some() {
        f.error(
            "client_secret",
            "give either client_secret or secret.vault, not both",
        );
    }
    Ok(imported)
}

/// A KV mount name: one segment (a `/` would move the read into another mount's tree).
fn valid_mount(mount: &str) -> bool {
    !mount.is_empty()
        && mount != "."
        && mount != ".."
        && mount
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// SPEC §7.1: whether a Vault `path` lies under `{prefix}{tenant}/`, with no empty, `.` or
/// `..` segment that could lead a resolver elsewhere.
fn vault_path_in_tenant(prefix: &str, tenant: &str, path: &str) -> bool {
    let clean = path
        .split('/')
        .all(|seg| !seg.is_empty() && seg != "." && seg != "..");
    clean
        && path
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix(tenant))
            .and_then(|rest| rest.strip_prefix('/'))
            .is_some_and(|rest| !rest.is_empty())
}

/// Absolute http(s) URI without a fragment (RFC 6749 §3.1.2).
fn valid_redirect_uri(u: &str) -> bool {
    (u.starts_with("https://") || u.starts_with("http://"))
        && !u.contains('#')
        && u.len() > 8
        && !u.contains(char::is_whitespace)
}

async fn existing_client(t: &Tessera, tenant: &str, id: &str) -> Result<Client, Failure> {
    t.store.get_client(tenant, id).await?.ok_or_else(|| {
        Failure::not_found(reasons::CLIENT_NOT_FOUND, format!("client {id} not found"))
    })
}

/// `POST /admin/v1/tenants/{t}/clients`.
pub async fn create(call: TenantCall, mut f: Fields) -> Result<Answer, Failure> {
    let t = &call.t;
    let client_id = match f.string("client_id", false) {
        // The bootstrap token's audit actor: a client of that id would act under its name.
        Some(id) if id.eq_ignore_ascii_case("bootstrap") => {
            f.error(
                "client_id",
                "client id bootstrap names the bootstrap admin token",
            );
            String::new()
        }
        Some(id) if id.to_ascii_lowercase().starts_with(CONSOLE_CLIENT_PREFIX) => {
            f.error(
                "client_id",
                format!("client ids starting with {CONSOLE_CLIENT_PREFIX} are the console's own"),
            );
            String::new()
        }
        Some(id) if valid_id(&id) => id,
        Some(_) => {
            f.error(
                "client_id",
                "client_id must be 1-128 characters of A-Z a-z 0-9 . _ - : @",
            );
            String::new()
        }
        None => random_token(16).map_err(|e| Failure::internal(&e))?,
    };
    let now = t.clock.now();
    let mut c = Client {
        tenant_id: call.tenant.clone(),
        client_id,
        name: String::new(),
        project_id: None,
        profile: "default".into(),
        grant_types: vec![],
        scopes: vec![],
        default_scopes: vec![],
        audiences: vec![],
        token_ttl: None,
        redirect_uris: vec![],
        auth_method: AuthMethod::ClientSecretBasic,
        jwks: None,
        signing_alg: None,
        admin_tokens: false,
        consent_required: false,
        refresh_token_ttl: None,
        post_logout_redirect_uris: vec![],
        security: Default::default(),
        status: Status::Active,
        secrets: ClientSecrets::default(),
        created_at: now,
        updated_at: now,
    };
    let imported = apply(t, &mut f, &mut c, true, call.caller.check_all().is_ok()).await?;
    f.finish()?;
    let mut shown = None;
    if c.auth_method.uses_secret() && c.secrets.vault.is_none() {
        match imported {
            Some(s) => c.secrets.current = Some(hash_secret(t, &s).await?),
            None => {
                let (s, hash) = new_secret(t)?;
                c.secrets.current = Some(hash);
                shown = Some(s);
            }
        }
    }
    call.recording("admin.client.created", &c.client_id)
        .create_client(&c)
        .await
        .map_err(|e| conflict(e, "client"))?;
    t.forget_client(&c.client_id).await;
    let mut out = client_json(&c);
    if let Some(s) = shown {
        crate::json::set(&mut out, "client_secret", Value::String(s));
    }
    Ok(json(StatusCode::CREATED, out))
}

/// `GET /admin/v1/tenants/{t}/clients`.
pub async fn list(call: TenantCall) -> Result<Answer, Failure> {
    let items: Vec<Value> = call
        .t
        .store
        .list_clients(&call.tenant)
        .await?
        .iter()
        .map(client_json)
        .collect();
    Ok(json(StatusCode::OK, json!({ "items": items })))
}

/// An admin request about the existing client `{client}` of a tenant the caller reaches: the
/// client is looked up (404) before any body is read.
pub struct ClientCall {
    call: TenantCall,
    /// The client as read.
    pub client: Client,
}

impl std::ops::Deref for ClientCall {
    type Target = TenantCall;

    fn deref(&self) -> &TenantCall {
        &self.call
    }
}

impl ClientCall {
    /// The client `id` of the call's tenant (404 if there is none).
    pub async fn of(call: TenantCall, id: &str) -> Result<ClientCall, Failure> {
        let client = existing_client(&call.t, &call.tenant, id).await?;
        Ok(ClientCall { call, client })
    }
}

impl FromRequestParts<Shared> for ClientCall {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, t: &Shared) -> Result<ClientCall, Failure> {
        let call = TenantCall::from_request_parts(parts, t).await?;
        let Id(id) = Id::from_request_parts(parts, t).await?;
        ClientCall::of(call, &id).await
    }
}

/// `GET /admin/v1/tenants/{t}/clients/{id}`.
pub async fn get(call: ClientCall) -> Answer {
    json(StatusCode::OK, client_json(&call.client))
}

/// `PATCH /admin/v1/tenants/{t}/clients/{id}`: any create field but `client_id`.
pub async fn patch(call: ClientCall, mut f: Fields) -> Result<Answer, Failure> {
    let t = &call.t;
    let mut c = call.client.clone();
    if f.has("client_id") {
        f.string("client_id", false);
        f.error("client_id", "client_id cannot be changed");
    }
    let imported = apply(t, &mut f, &mut c, false, call.caller.check_all().is_ok()).await?;
    f.finish()?;
    if !c.auth_method.uses_secret() {
        // SPEC §7.1: a method without a secret deletes the secrets (hashes and Vault
        // reference alike), so no route can accept an old one.
        c.secrets = ClientSecrets::default();
    }
    if let Some(s) = imported {
        c.secrets = ClientSecrets {
            current: Some(hash_secret(t, &s).await?),
            ..ClientSecrets::default()
        };
    }
    c.updated_at = t.clock.now();
    call.recording("admin.client.updated", &c.client_id)
        .update_client(&c)
        .await?;
    t.forget_client(&c.client_id).await;
    Ok(json(StatusCode::OK, client_json(&c)))
}

/// `DELETE /admin/v1/tenants/{t}/clients/{id}`.
pub async fn delete(call: ClientCall) -> Result<StatusCode, Failure> {
    let id = &call.client.client_id;
    call.recording("admin.client.deleted", id)
        .delete_client(&call.tenant, id)
        .await?;
    call.t.forget_client(id).await;
    Ok(StatusCode::NO_CONTENT)
}

/// The `grace_seconds` of a secret rotation body: 0 to 30 days, default one hour.
pub(super) fn grace_seconds(f: &mut Fields) -> i64 {
    let grace = f.int("grace_seconds").unwrap_or(DEFAULT_GRACE);
    if !(0..=30 * 86400).contains(&grace) {
        f.error(
            "grace_seconds",
            "grace_seconds must be between 0 and 2592000",
        );
    }
    grace
}

/// `POST /admin/v1/tenants/{t}/clients/{id}/secret/rotate` with `{"grace_seconds"?}`.
pub async fn rotate_secret(call: ClientCall, mut f: Fields) -> Result<Answer, Failure> {
    let t = &call.t;
    let mut c = call.client.clone();
    let grace = grace_seconds(&mut f);
    f.finish()?;
    if !c.auth_method.uses_secret() || c.secrets.vault.is_some() {
        return Err(Failure::invalid(
            "client_id",
            "this client has no Tessera-held secret to rotate",
        ));
    }
    let now = t.clock.now();
    let (secret, hash) = new_secret(t)?;
    c.secrets.previous = c.secrets.current.replace(hash);
    c.secrets.previous_expires_at = Some(now + grace);
    c.updated_at = now;
    call.recording("admin.client.secret_rotated", &c.client_id)
        .update_client(&c)
        .await?;
    t.forget_client(&c.client_id).await;
    Ok(json(
        StatusCode::OK,
        json!({"client_secret": secret, "previous_expires_at": rfc3339(now + grace)}),
    ))
}
