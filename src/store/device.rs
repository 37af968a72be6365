//! Storage of the device authorization grant (RFC 8628): one row per device authorization
//! request. The device code and the user code arrive here only as keyed hashes. Every change
//! of state is one conditional UPDATE, so two nodes racing on one code cannot both win: one
//! decision per user code, one redemption per device code, one on-time poll per interval.

use super::{Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::Row;

/// How long an expired device code is kept, so a late poll still hears `expired_token`
/// rather than `invalid_grant` (purged by `purge_expired_login`).
pub(super) const DEVICE_KEEP: i64 = 3_600;

/// Where a device authorization request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceStatus {
    /// Waiting for a user to enter the code and decide.
    Pending,
    /// A user approved it: the token endpoint issues tokens once.
    Approved,
    /// A user declined it: the token endpoint answers `access_denied`.
    Denied,
}

impl DeviceStatus {
    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            DeviceStatus::Pending => "pending",
            DeviceStatus::Approved => "approved",
            DeviceStatus::Denied => "denied",
        }
    }

    fn parse(s: &str) -> Result<DeviceStatus, StoreError> {
        match s {
            "pending" => Ok(DeviceStatus::Pending),
            "approved" => Ok(DeviceStatus::Approved),
            "denied" => Ok(DeviceStatus::Denied),
            other => Err(StoreError::Corrupt(format!(
                "device_codes.status: unknown value {other}"
            ))),
        }
    }
}

/// A device authorization request, as stored under the hashes of its two codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCode {
    /// The client's tenant.
    pub tenant_id: String,
    /// The client that asked, and the only one that may redeem it.
    pub client_id: String,
    /// The address that asked, as the failure limiter counts it (an IPv4 address or an
    /// IPv6 /64; see `oauth::limits::counted_address`): one address's live requests are capped.
    pub remote: String,
    /// Requested scopes, space-separated (already checked against the client).
    pub scope: String,
    /// Pending, approved or denied.
    pub status: DeviceStatus,
    /// The user who decided.
    pub user_id: Option<String>,
    /// Scopes the approval granted (of those requested, those the user holds).
    pub granted_scope: Option<String>,
    /// When the approving user authenticated (OIDC `auth_time`).
    pub auth_time: Option<i64>,
    /// Seconds the device must wait between polls (RFC 8628 §3.5).
    pub poll_interval: i64,
    /// When the device last polled.
    pub last_poll_at: Option<i64>,
    /// When it was redeemed.
    pub used_at: Option<i64>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
}

/// A user's decision on a pending request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceDecision {
    /// Approved or denied.
    pub status: DeviceStatus,
    /// Who decided.
    pub user_id: String,
    /// Granted scopes, space-separated (approval only).
    pub granted_scope: Option<String>,
    /// When the user authenticated (approval only).
    pub auth_time: Option<i64>,
}

/// The outcome of a poll at the token endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DevicePoll {
    /// At least the interval after the previous poll (now recorded).
    OnTime(DeviceCode),
    /// Sooner than that: the interval has grown (RFC 8628 §3.5 `slow_down`).
    TooSoon(DeviceCode),
    /// Not a poll of a live request of this client: unknown (`None`), another client's,
    /// redeemed or expired. Nothing was changed.
    NotCounted(Option<DeviceCode>),
}

const DEVICE_COLUMNS: &str = "tenant_id, client_id, remote, scope, status, user_id, \
                              granted_scope, auth_time, poll_interval, last_poll_at, used_at, \
                              created_at, expires_at";

fn device(row: &AnyRow) -> Result<DeviceCode, StoreError> {
    let status: String = row.try_get("status")?;
    Ok(DeviceCode {
        tenant_id: row.try_get("tenant_id")?,
        client_id: row.try_get("client_id")?,
        remote: row.try_get("remote")?,
        scope: row.try_get("scope")?,
        status: DeviceStatus::parse(&status)?,
        user_id: row.try_get("user_id")?,
        granted_scope: row.try_get("granted_scope")?,
        auth_time: row.try_get("auth_time")?,
        poll_interval: row.try_get("poll_interval")?,
        last_poll_at: row.try_get("last_poll_at")?,
        used_at: row.try_get("used_at")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
    })
}

impl Store {
    /// Stores a new request under the hashes of its device code and user code; `Conflict`
    /// when either hash exists (a user code drawn twice: draw another).
    pub async fn insert_device_code(
        &self,
        device_hash: &[u8],
        user_hash: &[u8],
        d: &DeviceCode,
    ) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO device_codes (device_hash, user_hash, {DEVICE_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
        );
        sqlx::query(&sql)
            .bind(device_hash)
            .bind(user_hash)
            .bind(d.tenant_id.as_str())
            .bind(d.client_id.as_str())
            .bind(d.remote.as_str())
            .bind(d.scope.as_str())
            .bind(d.status.as_str())
            .bind(d.user_id.as_deref())
            .bind(d.granted_scope.as_deref())
            .bind(d.auth_time)
            .bind(d.poll_interval)
            .bind(d.last_poll_at)
            .bind(d.used_at)
            .bind(d.created_at)
            .bind(d.expires_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The pending, unexpired request a user code names.
    pub async fn pending_device_code(
        &self,
        user_hash: &[u8],
        now: i64,
    ) -> Result<Option<DeviceCode>, StoreError> {
        let sql = format!(
            "SELECT {DEVICE_COLUMNS} FROM device_codes \
             WHERE user_hash = $1 AND status = 'pending' AND used_at IS NULL AND expires_at > $2"
        );
        let row = sqlx::query(&sql)
            .bind(user_hash)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(device).transpose()
    }

    /// Records a user's decision on the request a user code names, if it is still pending
    /// and unexpired at `now`; true for exactly one decision.
    pub async fn decide_device_code(
        &self,
        user_hash: &[u8],
        decision: &DeviceDecision,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE device_codes SET status = $1, user_id = $2, granted_scope = $3, \
             auth_time = $4 WHERE user_hash = $5 AND status = 'pending' AND used_at IS NULL \
             AND expires_at > $6",
        )
        .bind(decision.status.as_str())
        .bind(decision.user_id.as_str())
        .bind(decision.granted_scope.as_deref())
        .bind(decision.auth_time)
        .bind(user_hash)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// One poll by `client_id` at `now` (RFC 8628 §3.4): on time when at least the
    /// request's interval passed since the previous poll, else too soon, and the interval
    /// grows by `step` seconds for this and every later poll. Either way the poll's time is
    /// recorded, so two polls racing on one request are one on time and one too soon.
    pub async fn poll_device_code(
        &self,
        device_hash: &[u8],
        client_id: &str,
        now: i64,
        step: i64,
    ) -> Result<DevicePoll, StoreError> {
        // Both statements count only a poll of a live request of this client. Placeholders
        // are numbered in order of first use (SQLite binds them in that order).
        let on_time = sqlx::query(
            "UPDATE device_codes SET last_poll_at = $1 \
             WHERE device_hash = $2 AND client_id = $3 AND used_at IS NULL AND expires_at > $1 \
             AND (last_poll_at IS NULL OR last_poll_at + poll_interval <= $1)",
        )
        .bind(now)
        .bind(device_hash)
        .bind(client_id)
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1;
        let too_soon = !on_time
            && sqlx::query(
                "UPDATE device_codes SET last_poll_at = $1, poll_interval = poll_interval + $2 \
                 WHERE device_hash = $3 AND client_id = $4 AND used_at IS NULL \
                 AND expires_at > $1",
            )
            .bind(now)
            .bind(step)
            .bind(device_hash)
            .bind(client_id)
            .execute(&self.pool)
            .await?
            .rows_affected()
                == 1;
        let sql = format!("SELECT {DEVICE_COLUMNS} FROM device_codes WHERE device_hash = $1");
        let row = sqlx::query(&sql)
            .bind(device_hash)
            .fetch_optional(&self.pool)
            .await?;
        let d = row.as_ref().map(device).transpose()?;
        Ok(match (d, on_time, too_soon) {
            (Some(d), true, _) => DevicePoll::OnTime(d),
            (Some(d), false, true) => DevicePoll::TooSoon(d),
            (d, _, _) => DevicePoll::NotCounted(d),
        })
    }

    /// Marks an approved request redeemed at `now`: true for exactly one caller.
    pub async fn redeem_device_code(
        &self,
        device_hash: &[u8],
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE device_codes SET used_at = $1 \
             WHERE device_hash = $2 AND status = 'approved' AND used_at IS NULL",
        )
        .bind(now)
        .bind(device_hash)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
