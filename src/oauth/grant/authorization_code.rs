//! RFC 6749 §4.1.3 authorization code grant with PKCE (RFC 7636 §4.6), and the tokens every
//! user grant issues: an RFC 9068 access token (`token_use` `user`), an ID token when
//! `openid` was granted, and a refresh token when `offline_access` was.
//!
//! A code is single-use: the store marks it used atomically; any later use is a replay and
//! revokes the token family the first use started (its access tokens and refresh tokens).

use super::{
    access_ttl, allows_grant, invalid_grant, narrow, presented_credential, profile_of, GrantType,
    Issued,
};
use crate::crypto::{b64url, ct_eq, random_token, sha256};
use crate::failure::Failure;
use crate::keys::signer::Alg;
use crate::oauth::authorize::valid_pkce_string;
use crate::oauth::scope;
use crate::params::Params;
use crate::service::{event, Tessera};
use crate::store::{CodeUse, Family};
use crate::tenants::{AuthMethod, Client, Status, User};
use crate::tokens::{Audience, Confirmation, IdTokenRequest, TokenRequest, TokenUse, UserClaims};

/// Options a compatible route can impose.
#[derive(Debug, Clone)]
pub struct Options {
    /// Also emit `scp` in access tokens (identity API, SPEC §3.4).
    pub with_scp: bool,
    /// The route, for metrics.
    pub route: &'static str,
    /// What the access token is bound to (SPEC §9; `/oauth/token` only).
    pub cnf: Option<Confirmation>,
    /// RFC 8705 §3.1: the `x5t#S256` of the connection's TLS client certificate, whether or
    /// not the access token is bound to it: a certificate-bound refresh token is redeemed
    /// only over that certificate (RFC 8705 §4), even once its client no longer asks for
    /// bound access tokens.
    pub peer_x5t: Option<String>,
    /// The DPoP proof naming `cnf.jkt`, not yet recorded: the grant records it (see
    /// [`super::record_proof`]), [`issue_for_family`] at the latest.
    pub proof: Option<crate::oauth::dpop::Checked>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            with_scp: false,
            route: "/oauth/token",
            cnf: None,
            peer_x5t: None,
            proof: None,
        }
    }
}

/// RFC 7636 §4.6: `BASE64URL(SHA256(verifier)) == challenge`, compared in constant time.
pub fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    ct_eq(
        b64url(&sha256(verifier.as_bytes())).as_bytes(),
        challenge.as_bytes(),
    )
}

/// Redeems an authorization code for `client` (already authenticated; public clients by
/// client_id alone). The identity API (`/api/id/v1/auth/token`) calls this too.
pub async fn exchange(
    t: &Tessera,
    client: &Client,
    params: &Params,
    remote: &str,
    mut opts: Options,
) -> Result<Issued, Failure> {
    let hash = presented_credential(t, client, GrantType::AuthorizationCode, params, "code")?;
    let now = t.clock.now();
    // A code is looked up by spending it, and its proof is recorded once the code passed: a
    // proof that was used already is refused first (a read), so it does not cost the code.
    if let Some(p) = &opts.proof {
        if p.was_recorded(t).await? {
            return Err(crate::oauth::dpop::invalid(
                "the DPoP proof was used before",
            ));
        }
    }
    let c = match t.store.redeem_auth_code(&hash, now).await? {
        CodeUse::Fresh(c) => c,
        CodeUse::Replayed(c) => {
            // Audited (and logged) when it revokes the family: replaying a code again and
            // again then writes nothing more (SPEC §7.2).
            if t.store.revoke_family(&c.family_id, now).await? {
                let mut ev = event(now, "code.replayed", "failure:family_revoked");
                ev.tenant_id = Some(c.tenant_id.clone());
                ev.client_id = Some(client.client_id.clone());
                ev.subject = Some(c.user_id.clone());
                ev.remote = Some(remote.to_string());
                t.audit(ev).await;
                tracing::warn!(
                    client_id = %client.client_id,
                    "authorization code replayed: its token family is revoked"
                );
            } else {
                metrics::counter!("tessera_token_reuse_repeated_total").increment(1);
            }
            return Err(invalid_grant("the authorization code was already used"));
        }
        CodeUse::Unknown => return Err(invalid_grant("unknown authorization code")),
    };
    if c.client_id != client.client_id {
        return Err(invalid_grant("the code was issued to another client"));
    }
    if c.expires_at <= now {
        return Err(invalid_grant("the authorization code has expired"));
    }
    if params.get("redirect_uri") != Some(c.redirect_uri.as_str()) {
        return Err(invalid_grant(
            "redirect_uri differs from the authorization request",
        ));
    }
    match (c.code_challenge.as_deref(), params.get("code_verifier")) {
        (Some(challenge), Some(v)) if valid_pkce_string(v) && pkce_matches(v, challenge) => {}
        (Some(_), _) => return Err(invalid_grant("code_verifier does not match")),
        // RFC 9700 §2.1.1: a verifier without a challenge is an injection attempt.
        (None, Some(_)) => return Err(invalid_grant("no code_challenge was sent for this code")),
        (None, None) => {}
    }
    let jkt = opts.cnf.as_ref().and_then(|c| c.jkt.clone());
    // RFC 9449 §10: a code bound to a DPoP key is redeemed only with a proof by that key.
    if let Some(bound) = &c.dpop_jkt {
        if jkt.as_ref() != Some(bound) {
            return Err(crate::oauth::dpop::invalid(
                "the authorization code is bound to another DPoP key",
            ));
        }
    }
    let user = active_user(t, &c.tenant_id, &c.user_id).await?;
    let scopes = narrow(&c.scope, params.get("scope"))?;
    super::record_proof(t, &mut opts.proof).await?;
    let family = Family {
        id: c.family_id.clone(),
        tenant_id: c.tenant_id.clone(),
        client_id: c.client_id.clone(),
        user_id: c.user_id.clone(),
        scope: c.scope.clone(),
        auth_time: c.auth_time,
        revoked_at: None,
        expires_at: now,
        // RFC 9449 §5 and RFC 8705 §4: a public client's refresh tokens are bound to its
        // DPoP key and to the certificate its access tokens are bound to; a confidential
        // client's are bound to its credentials already.
        dpop_jkt: jkt.filter(|_| client.auth_method == AuthMethod::None),
        x5t_s256: refresh_x5t(client, opts.cnf.as_ref()),
    };
    t.store.create_family(&family).await?;
    let grant = UserGrant {
        client,
        user: &user,
        family: &family,
        scopes,
        nonce: c.nonce.as_deref(),
        grant: GrantType::AuthorizationCode,
    };
    issue_for_family(t, &grant, remote, opts).await
}

/// RFC 8705 §4: the certificate a public client's new refresh tokens are bound to — the one
/// its access token is bound to (`cnf."x5t#S256"`, there exactly when the client is
/// registered with `tls_client_certificate_bound_access_tokens`). A confidential client's
/// refresh tokens are bound to its credentials already.
pub fn refresh_x5t(client: &Client, cnf: Option<&Confirmation>) -> Option<String> {
    cnf.and_then(|c| c.x5t_s256.clone())
        .filter(|_| client.auth_method == AuthMethod::None)
}

/// The user behind a code or refresh token, if still active (else `invalid_grant`).
pub async fn active_user(t: &Tessera, tenant_id: &str, user_id: &str) -> Result<User, Failure> {
    t.store
        .get_user(tenant_id, user_id)
        .await?
        .filter(|u| u.status == Status::Active)
        .ok_or_else(|| invalid_grant("the user is unknown or disabled"))
}

/// One issuance in a token family.
#[derive(Debug)]
pub struct UserGrant<'a> {
    /// The client.
    pub client: &'a Client,
    /// The user.
    pub user: &'a User,
    /// The family the tokens belong to.
    pub family: &'a Family,
    /// Scopes of this issuance.
    pub scopes: Vec<String>,
    /// Nonce for the ID token (code exchange only).
    pub nonce: Option<&'a str>,
    /// The grant, for metrics.
    pub grant: GrantType,
}

/// Issues the access token, and the ID and refresh tokens the scopes call for, recording
/// each in the family and in the audit log.
pub async fn issue_for_family(
    t: &Tessera,
    g: &UserGrant<'_>,
    remote: &str,
    mut opts: Options,
) -> Result<Issued, Failure> {
    let client = g.client;
    super::require_binding(client, opts.cnf.as_ref())?;
    super::record_proof(t, &mut opts.proof).await?;
    let profile = profile_of(t, client)?;
    let aud = scope::audience(
        &client.audiences,
        profile.audience.as_deref(),
        &t.settings.issuer,
        &[],
    )?;
    let ttl = access_ttl(t, client, profile);
    let alg = client.signing_alg.as_deref().and_then(Alg::parse);
    let req = TokenRequest {
        sub: g.user.id.clone(),
        aud: Audience::from_list(aud),
        ttl,
        client_id: client.client_id.clone(),
        scopes: g.scopes.clone(),
        token_use: TokenUse::User,
        tenant_id: Some(client.tenant_id.clone()),
        project_id: client.project_id.clone(),
        with_scp: opts.with_scp,
        alg,
        cnf: opts.cnf.clone(),
    };
    // SPEC §2.2: the user's claims "where known", as tokens from the tenant API carry them.
    let claims = UserClaims {
        email: Some(g.user.email.clone()),
        roles: g.user.roles.clone(),
        groups: g.user.groups.clone(),
        resources: g.user.resources.clone(),
    };
    let access = t
        .issuer
        .issue_with(&req, Some(&claims))
        .map_err(|e| Failure::internal(&e))?;
    let now = t.clock.now();
    t.store
        .add_family_jti(&g.family.id, &access.jti, now + ttl)
        .await?;
    let has = |s: &str| g.scopes.iter().any(|x| x == s);
    let id_token = if has("openid") {
        let id = IdTokenRequest {
            sub: &g.user.id,
            client_id: &client.client_id,
            ttl,
            auth_time: g.family.auth_time,
            nonce: g.nonce,
            access_token: Some(&access.token),
            tenant_id: Some(&client.tenant_id),
            email: Some(&g.user.email),
            // Tessera sends no verification mail: addresses are entered by administrators.
            email_verified: false,
            name: g.user.name.as_deref(),
            alg,
        };
        Some(
            t.issuer
                .issue_id_token(&id)
                .map_err(|e| Failure::internal(&e))?,
        )
    } else {
        None
    };
    let refresh_token = if has("offline_access") && allows_grant(client, GrantType::RefreshToken) {
        let token = random_token(32).map_err(|e| Failure::internal(&e))?;
        let life = client
            .refresh_token_ttl
            .unwrap_or(t.settings.login.refresh_token_ttl)
            .max(60);
        t.store
            .insert_refresh_token(
                &t.master.hash_secret(token.as_bytes()),
                &g.family.id,
                &client.client_id,
                now,
                now + life,
            )
            .await?;
        Some(token)
    } else {
        None
    };
    metrics::counter!("tessera_tokens_issued_total", "grant" => g.grant.as_str(), "route" => opts.route)
        .increment(1);
    for (name, jti, issued) in [
        ("token.issued", Some(access.jti.clone()), true),
        ("id_token.issued", None, id_token.is_some()),
        ("refresh_token.issued", None, refresh_token.is_some()),
    ] {
        if !issued {
            continue;
        }
        let mut ev = event(now, name, "success");
        ev.actor = Some(client.client_id.clone());
        ev.tenant_id = Some(client.tenant_id.clone());
        ev.client_id = Some(client.client_id.clone());
        ev.subject = Some(g.user.id.clone());
        ev.jti = jti;
        ev.remote = Some(remote.to_string());
        t.audit_token(ev).await?;
    }
    Ok(Issued {
        id_token,
        refresh_token,
        ..Issued::from(access)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rfc_7636_example_verifier_matches_its_challenge() {
        // RFC 7636 Appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert!(pkce_matches(
            verifier,
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
        assert!(!pkce_matches(
            "other-verifier-other-verifier-other-verifier",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
    }
}
