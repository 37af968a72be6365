//! RFC 8628 §3.4 device access token request: the device polls with its `device_code` until
//! the user decided at `/device` (see [`crate::oauth::device`]). Until then the answer is
//! `authorization_pending`; a poll sooner than the code's interval is `slow_down` and the
//! interval grows by 5 s for that code (§3.5); a denial is `access_denied`; after 600 s
//! `expired_token`. An approved code is redeemed once, by the client that asked for it, for
//! the tokens the authorization code grant issues: a new token family, an ID token with
//! `openid`, a refresh token with `offline_access`.

use super::authorization_code::{active_user, issue_for_family, Options, UserGrant};
use super::{invalid_grant, presented_credential, GrantType, Issued};
use crate::crypto::random_token;
use crate::failure::Failure;
use crate::oauth::device::SLOW_DOWN_STEP;
use crate::params::Params;
use crate::reasons;
use crate::service::Tessera;
use crate::store::{DevicePoll, DeviceStatus, Family};
use crate::tenants::{AuthMethod, Client};

/// Redeems (or polls) a device code for `client` (already authenticated; public clients by
/// `client_id` alone).
pub async fn redeem(
    t: &Tessera,
    client: &Client,
    params: &Params,
    remote: &str,
    mut opts: Options,
) -> Result<Issued, Failure> {
    let hash = presented_credential(t, client, GrantType::DeviceCode, params, "device_code")?;
    let now = t.clock.now();
    let d = match t
        .store
        .poll_device_code(&hash, &client.client_id, now, SLOW_DOWN_STEP)
        .await?
    {
        DevicePoll::OnTime(d) => d,
        DevicePoll::TooSoon(d) => {
            return Err(Failure::new(
                reasons::SLOW_DOWN,
                format!(
                    "polling too fast: wait {} seconds between requests",
                    d.poll_interval
                ),
            ))
        }
        DevicePoll::NotCounted(None) => return Err(invalid_grant("unknown device code")),
        DevicePoll::NotCounted(Some(d)) if d.client_id != client.client_id => {
            return Err(invalid_grant(
                "the device code was issued to another client",
            ))
        }
        DevicePoll::NotCounted(Some(d)) if d.used_at.is_some() => {
            return Err(invalid_grant("the device code was already used"))
        }
        // Neither unknown, another client's nor used: not counted because it has expired.
        DevicePoll::NotCounted(Some(_)) => {
            return Err(Failure::new(
                reasons::EXPIRED_TOKEN,
                "the device code has expired; start again",
            ))
        }
    };
    let user_id = match (d.status, d.user_id.as_deref()) {
        (DeviceStatus::Pending, _) => {
            return Err(Failure::new(
                reasons::AUTHORIZATION_PENDING,
                "the user has not yet approved this device",
            ))
        }
        (DeviceStatus::Denied, _) => {
            return Err(Failure::new(
                reasons::DEVICE_ACCESS_DENIED,
                "the user denied the request",
            ))
        }
        (DeviceStatus::Approved, Some(u)) => u.to_string(),
        (DeviceStatus::Approved, None) => {
            return Err(invalid_grant("the device code has no approving user"))
        }
    };
    // Polls still pending (or refused) record nothing; the one that redeems records its proof
    // before the code is spent.
    super::record_proof(t, &mut opts.proof).await?;
    if !t.store.redeem_device_code(&hash, now).await? {
        return Err(invalid_grant("the device code was already used"));
    }
    let user = active_user(t, &d.tenant_id, &user_id).await?;
    let granted = d.granted_scope.unwrap_or_default();
    let family = Family {
        id: random_token(16).map_err(|e| Failure::internal(&e))?,
        tenant_id: d.tenant_id.clone(),
        client_id: d.client_id.clone(),
        user_id: user.id.clone(),
        scope: granted.clone(),
        auth_time: d.auth_time.unwrap_or(now),
        revoked_at: None,
        expires_at: now,
        // RFC 9449 §5: a public client's refresh tokens are bound to the key it polled with,
        // and (RFC 8705 §4) to the certificate its access tokens are bound to.
        dpop_jkt: opts
            .cnf
            .as_ref()
            .and_then(|c| c.jkt.clone())
            .filter(|_| client.auth_method == AuthMethod::None),
        x5t_s256: super::authorization_code::refresh_x5t(client, opts.cnf.as_ref()),
    };
    t.store.create_family(&family).await?;
    // SPEC §7.1: at most the approved scopes the user still holds (the approval may be ten
    // minutes old), as for refresh tokens.
    let approved: Vec<String> = granted
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let scopes = crate::oauth::authorize::user_scopes(t, &user, &approved).await?;
    let grant = UserGrant {
        client,
        user: &user,
        family: &family,
        scopes,
        nonce: None,
        grant: GrantType::DeviceCode,
    };
    issue_for_family(t, &grant, remote, opts).await
}
