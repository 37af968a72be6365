//! Storage of pushed authorization requests (RFC 9126): kept under the keyed hash of the
//! request_uri's random part, opened by one browser, consumed once when a code is issued. The
//! rules (who may open, how long a row lives) are `oauth::par`'s; here each step is one
//! conditional statement, so two nodes racing on one request_uri cannot both win.

use super::{Store, StoreError};
use sqlx::Row;

/// A pushed authorization request as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedRequest {
    /// The client's tenant.
    pub tenant_id: String,
    /// The client that pushed it: the only one that may use it.
    pub client_id: String,
    /// The address that pushed it, as the failure limiter counts it (an IPv4 address or an
    /// IPv6 /64; see `oauth::limits::counted_address`): one address's live pushes are capped.
    pub remote: String,
    /// The validated authorization parameters, form-encoded.
    pub params: String,
    /// Unix seconds.
    pub expires_at: i64,
}

impl Store {
    /// Stores a pushed request under the hash of its request_uri's random part.
    pub async fn insert_pushed_request(
        &self,
        id_hash: &[u8],
        p: &PushedRequest,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO pushed_requests \
             (id_hash, tenant_id, client_id, remote, params, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id_hash)
        .bind(p.tenant_id.as_str())
        .bind(p.client_id.as_str())
        .bind(p.remote.as_str())
        .bind(p.params.as_str())
        .bind(p.expires_at)
        .execute(self.db())
        .await?;
        Ok(())
    }

    /// Opens the request of `tenant_id`/`client_id` stored under `id_hash` for the browser
    /// whose binding hashes to `browser_hash`: the first browser to open it owns it; it (and
    /// only it) may open it again. Each opening moves the expiry to `until`. `None` when the
    /// request is unknown, expired at `now`, of another client, or owned by another browser.
    pub async fn open_pushed_request(
        &self,
        tenant_id: &str,
        id_hash: &[u8],
        client_id: &str,
        browser_hash: &[u8],
        now: i64,
        until: i64,
    ) -> Result<Option<String>, StoreError> {
        let opened = sqlx::query(
            "UPDATE pushed_requests SET browser_hash = $1, expires_at = $2 \
             WHERE tenant_id = $3 AND id_hash = $4 AND client_id = $5 AND expires_at > $6 \
             AND (browser_hash IS NULL OR browser_hash = $1)",
        )
        .bind(browser_hash)
        .bind(until)
        .bind(tenant_id)
        .bind(id_hash)
        .bind(client_id)
        .bind(now)
        .execute(self.db())
        .await?
        .rows_affected()
            == 1;
        if !opened {
            return Ok(None);
        }
        let row = sqlx::query(
            "SELECT params FROM pushed_requests \
             WHERE tenant_id = $1 AND id_hash = $2 AND browser_hash = $3",
        )
        .bind(tenant_id)
        .bind(id_hash)
        .bind(browser_hash)
        .fetch_optional(self.db())
        .await?;
        row.map(|r| r.try_get("params").map_err(StoreError::from))
            .transpose()
    }

    /// Deletes the request opened by `browser_hash`: true for exactly one caller, even across
    /// nodes (false when it was consumed, expired at `now`, or is another browser's).
    pub async fn consume_pushed_request(
        &self,
        tenant_id: &str,
        id_hash: &[u8],
        browser_hash: &[u8],
        now: i64,
    ) -> Result<bool, StoreError> {
        Ok(sqlx::query(
            "DELETE FROM pushed_requests WHERE tenant_id = $1 AND id_hash = $2 \
             AND browser_hash = $3 AND expires_at > $4",
        )
        .bind(tenant_id)
        .bind(id_hash)
        .bind(browser_hash)
        .bind(now)
        .execute(self.db())
        .await?
        .rows_affected()
            == 1)
    }
}
