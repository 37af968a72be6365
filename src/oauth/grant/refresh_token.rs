//! RFC 6749 §6 refresh token grant with rotation and reuse detection (RFC 9700 §4.14.2):
//! every use returns a new refresh token and retires the old one; presenting a retired one
//! means it was copied, so its whole family (refresh and access tokens) is revoked.

use super::authorization_code::{active_user, issue_for_family, Options, UserGrant};
use super::{invalid_grant, narrow, presented_credential, GrantType, Issued};
use crate::crypto::ct_eq;
use crate::failure::Failure;
use crate::oauth::authorize::user_scopes;
use crate::params::Params;
use crate::service::{event, Tessera};
use crate::store::{Family, RefreshUse};
use crate::tenants::Client;

async fn revoke_reused(
    t: &Tessera,
    family: &Family,
    client: &Client,
    remote: &str,
) -> Result<(), Failure> {
    let now = t.clock.now();
    // Audited when it revokes the family: replaying a retired token again and again (anyone
    // may hold their own) then writes nothing more (SPEC §7.2).
    if !t.store.revoke_family(&family.id, now).await? {
        metrics::counter!("tessera_token_reuse_repeated_total").increment(1);
        return Ok(());
    }
    let mut ev = event(now, "refresh_token.reused", "failure:family_revoked");
    ev.tenant_id = Some(family.tenant_id.clone());
    ev.client_id = Some(client.client_id.clone());
    ev.subject = Some(family.user_id.clone());
    ev.remote = Some(remote.to_string());
    t.audit(ev).await;
    tracing::warn!(client_id = %client.client_id, "refresh token reused: its token family is revoked");
    Ok(())
}

/// Exchanges a refresh token for new tokens (a new refresh token included).
pub async fn refresh(
    t: &Tessera,
    client: &Client,
    params: &Params,
    remote: &str,
    mut opts: Options,
) -> Result<Issued, Failure> {
    let hash = presented_credential(t, client, GrantType::RefreshToken, params, "refresh_token")?;
    let now = t.clock.now();
    // A `scope` beyond the grant, or a proof by the wrong DPoP key, or the wrong certificate,
    // is refused before the token is spent: a refused request must not cost the client its
    // refresh token (nor look like reuse when it retries), and one stolen without its key or
    // certificate is worth nothing.
    if let Some((family, used)) = t.store.refresh_token_family(&hash).await? {
        narrow(&family.scope, params.get("scope"))?;
        // RFC 9449 §5: a refresh token bound to a DPoP key needs a proof by that key.
        if let Some(bound) = &family.dpop_jkt {
            if opts.cnf.as_ref().and_then(|c| c.jkt.as_ref()) != Some(bound) {
                return Err(crate::oauth::dpop::invalid(
                    "the refresh token is bound to another DPoP key",
                ));
            }
        }
        // RFC 8705 §4: a refresh token bound to a certificate comes over that certificate.
        if let Some(bound) = &family.x5t_s256 {
            let presented = opts.peer_x5t.as_deref();
            if !presented.is_some_and(|p| ct_eq(p.as_bytes(), bound.as_bytes())) {
                return Err(invalid_grant(
                    "the refresh token is bound to a client certificate this connection did not present",
                ));
            }
        }
        // A replayed proof is refused before the token is spent too. A used token records
        // nothing (it is refused below, as reuse), but the very request that retired it,
        // replayed by someone without the key, is refused as a replayed proof: it proves no
        // copy of the token that could be used, so the family stays.
        if !used {
            super::record_proof(t, &mut opts.proof).await?;
        } else if let Some(p) = &opts.proof {
            if p.was_recorded(t).await? {
                return Err(crate::oauth::dpop::invalid(
                    "the DPoP proof was used before",
                ));
            }
        }
    }
    let (family, expires_at) = match t.store.use_refresh_token(&hash, now).await? {
        RefreshUse::Fresh {
            family,
            client_id,
            expires_at,
        } if client_id == client.client_id => (family, expires_at),
        // Another client holding this token means it leaked: treat as reuse.
        RefreshUse::Fresh { family, .. } | RefreshUse::Reused(family) => {
            revoke_reused(t, &family, client, remote).await?;
            return Err(invalid_grant("the refresh token was already used"));
        }
        RefreshUse::Unknown => return Err(invalid_grant("unknown refresh token")),
    };
    if family.revoked_at.is_some() {
        return Err(invalid_grant("the refresh token was revoked"));
    }

    if expires_at <= now {
        return Err(invalid_grant("the refresh token has expired"));
    }
    let user = active_user(t, &family.tenant_id, &family.user_id).await?;
    // SPEC §7.1: at most the scopes the family was granted that the user still holds; those
    // no longer held are dropped silently, as at the authorization request.
    let asked = narrow(&family.scope, params.get("scope"))?;
    let scopes = user_scopes(t, &user, &asked).await?;
    let grant = UserGrant {
        client,
        user: &user,
        family: &family,
        scopes,
        nonce: None,
        grant: GrantType::RefreshToken,
    };
    issue_for_family(t, &grant, remote, opts).await
}

/// RFC 7009 for refresh tokens: revokes the token's family when it belongs to `asker`.
/// `None` when `token` is not a refresh token of this server.
pub async fn revoke(t: &Tessera, asker: &Client, token: &str) -> Result<Option<bool>, Failure> {
    let hash = t.master.hash_secret(token.as_bytes());
    let Some((family, _)) = t.store.refresh_token_family(&hash).await? else {
        return Ok(None);
    };
    if family.client_id != asker.client_id || family.tenant_id != asker.tenant_id {
        return Ok(Some(false));
    }
    Ok(Some(
        t.store.revoke_family(&family.id, t.clock.now()).await?,
    ))
}
