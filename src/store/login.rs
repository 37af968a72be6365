//! Storage of the interactive login (issue #7): browser sessions, authorization codes, token
//! families and refresh tokens. Secrets (session ids, codes, refresh tokens) arrive here only
//! as keyed hashes; redemption is one conditional UPDATE, so two nodes racing on one code or
//! refresh token cannot both win.

use super::{found, Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::Row;

/// How long a redeemed or expired code is kept, so a late replay is still recognised (and
/// revokes its family) rather than looking unknown.
const CODE_REPLAY_WINDOW: i64 = 86_400;

/// A logged-in browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginSession {
    /// The tenant the user logged into.
    pub tenant_id: String,
    /// The user.
    pub user_id: String,
    /// When the password was checked (OIDC `auth_time`).
    pub auth_time: i64,
    /// Unix seconds after which the session is ignored.
    pub expires_at: i64,
}

/// An authorization code's grant (RFC 6749 §4.1.2), as stored under the code's hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthCode {
    /// The client's tenant.
    pub tenant_id: String,
    /// The client that may redeem it.
    pub client_id: String,
    /// The user who logged in.
    pub user_id: String,
    /// The redirect URI the code was sent to (must be repeated exactly).
    pub redirect_uri: String,
    /// Granted scopes, space-separated.
    pub scope: String,
    /// OIDC nonce to echo in the ID token.
    pub nonce: Option<String>,
    /// PKCE S256 challenge (RFC 7636 §4.2).
    pub code_challenge: Option<String>,
    /// When the user authenticated.
    pub auth_time: i64,
    /// The token family this code starts.
    pub family_id: String,
    /// Unix seconds.
    pub expires_at: i64,
    /// RFC 9449 §10: the thumbprint of the DPoP key the code is bound to (the redeeming
    /// request's proof must be signed by it).
    pub dpop_jkt: Option<String>,
}

/// The outcome of redeeming a code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeUse {
    /// First redemption: the code's grant.
    Fresh(AuthCode),
    /// Redeemed before: a replay (the family must be revoked).
    Replayed(AuthCode),
    /// No such code.
    Unknown,
}

/// Everything issued from one authorization code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Family {
    /// Random id.
    pub id: String,
    /// The client's tenant.
    pub tenant_id: String,
    /// The client.
    pub client_id: String,
    /// The user.
    pub user_id: String,
    /// Scopes granted, space-separated.
    pub scope: String,
    /// When the user authenticated.
    pub auth_time: i64,
    /// Set once the family is revoked.
    pub revoked_at: Option<i64>,
    /// After this nothing issued in it is valid (purged).
    pub expires_at: i64,
    /// RFC 9449 §5: the DPoP key a public client's refresh tokens are bound to.
    pub dpop_jkt: Option<String>,
    /// RFC 8705 §4: the `x5t#S256` of the client certificate a public client's refresh
    /// tokens are bound to.
    pub x5t_s256: Option<String>,
}

/// The outcome of presenting a refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshUse {
    /// Unused until now (and now used): its family, client and expiry.
    Fresh {
        /// The token's family.
        family: Family,
        /// The client it was issued to.
        client_id: String,
        /// Its expiry.
        expires_at: i64,
    },
    /// Used before: reuse (the family must be revoked).
    Reused(Family),
    /// No such token.
    Unknown,
}

const CODE_COLUMNS: &str = "tenant_id, client_id, user_id, redirect_uri, scope, nonce, \
                            code_challenge, auth_time, family_id, expires_at, dpop_jkt";
/// Pushes a family's expiry to `$1` if that is later (a token of it lives until then).
const EXTEND_FAMILY: &str = "UPDATE token_families SET expires_at = \
     CASE WHEN expires_at < $1 THEN $1 ELSE expires_at END WHERE id = $2";
const FAMILY_COLUMNS: &str =
    "id, tenant_id, client_id, user_id, scope, auth_time, revoked_at, expires_at, dpop_jkt, \
     x5t_s256";

fn code(row: &AnyRow) -> Result<AuthCode, StoreError> {
    Ok(AuthCode {
        tenant_id: row.try_get("tenant_id")?,
        client_id: row.try_get("client_id")?,
        user_id: row.try_get("user_id")?,
        redirect_uri: row.try_get("redirect_uri")?,
        scope: row.try_get("scope")?,
        nonce: row.try_get("nonce")?,
        code_challenge: row.try_get("code_challenge")?,
        auth_time: row.try_get("auth_time")?,
        family_id: row.try_get("family_id")?,
        expires_at: row.try_get("expires_at")?,
        dpop_jkt: row.try_get("dpop_jkt")?,
    })
}

fn family(row: &AnyRow) -> Result<Family, StoreError> {
    Ok(Family {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        client_id: row.try_get("client_id")?,
        user_id: row.try_get("user_id")?,
        scope: row.try_get("scope")?,
        auth_time: row.try_get("auth_time")?,
        revoked_at: row.try_get("revoked_at")?,
        expires_at: row.try_get("expires_at")?,
        dpop_jkt: row.try_get("dpop_jkt")?,
        x5t_s256: row.try_get("x5t_s256")?,
    })
}

impl Store {
    // --- sessions ---
    /// Stores a session under the hash of its cookie value.
    pub async fn create_login_session(
        &self,
        id_hash: &[u8],
        s: &LoginSession,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO login_sessions (id_hash, tenant_id, user_id, auth_time, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id_hash)
        .bind(s.tenant_id.as_str())
        .bind(s.user_id.as_str())
        .bind(s.auth_time)
        .bind(s.expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The session stored under `id_hash`, if it has not expired at `now`.
    pub async fn get_login_session(
        &self,
        id_hash: &[u8],
        now: i64,
    ) -> Result<Option<LoginSession>, StoreError> {
        let row = sqlx::query(
            "SELECT tenant_id, user_id, auth_time, expires_at FROM login_sessions \
             WHERE id_hash = $1 AND expires_at > $2",
        )
        .bind(id_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(LoginSession {
                tenant_id: r.try_get("tenant_id")?,
                user_id: r.try_get("user_id")?,
                auth_time: r.try_get("auth_time")?,
                expires_at: r.try_get("expires_at")?,
            })
        })
        .transpose()
    }

    /// Ends a session (idempotent).
    pub async fn delete_login_session(&self, id_hash: &[u8]) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM login_sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    // --- authorization codes ---
    /// Stores a new code under its hash.
    pub async fn insert_auth_code(&self, code_hash: &[u8], c: &AuthCode) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO auth_codes (code_hash, {CODE_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        );
        sqlx::query(&sql)
            .bind(code_hash)
            .bind(c.tenant_id.as_str())
            .bind(c.client_id.as_str())
            .bind(c.user_id.as_str())
            .bind(c.redirect_uri.as_str())
            .bind(c.scope.as_str())
            .bind(c.nonce.as_deref())
            .bind(c.code_challenge.as_deref())
            .bind(c.auth_time)
            .bind(c.family_id.as_str())
            .bind(c.expires_at)
            .bind(c.dpop_jkt.as_deref())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Marks a code used at `now` and returns its grant: `Fresh` for exactly one caller, even
    /// across nodes; `Replayed` for every later one. Expiry is the caller's to check.
    pub async fn redeem_auth_code(
        &self,
        code_hash: &[u8],
        now: i64,
    ) -> Result<CodeUse, StoreError> {
        let first = sqlx::query(
            "UPDATE auth_codes SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL",
        )
        .bind(now)
        .bind(code_hash)
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1;
        let sql = format!("SELECT {CODE_COLUMNS} FROM auth_codes WHERE code_hash = $1");
        let row = sqlx::query(&sql)
            .bind(code_hash)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match (row.as_ref().map(code).transpose()?, first) {
            (Some(c), true) => CodeUse::Fresh(c),
            (Some(c), false) => CodeUse::Replayed(c),
            (None, _) => CodeUse::Unknown,
        })
    }

    // --- token families ---
    /// Creates a family; `Conflict` if the id exists.
    pub async fn create_family(&self, f: &Family) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO token_families ({FAMILY_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        );
        sqlx::query(&sql)
            .bind(f.id.as_str())
            .bind(f.tenant_id.as_str())
            .bind(f.client_id.as_str())
            .bind(f.user_id.as_str())
            .bind(f.scope.as_str())
            .bind(f.auth_time)
            .bind(f.revoked_at)
            .bind(f.expires_at)
            .bind(f.dpop_jkt.as_deref())
            .bind(f.x5t_s256.as_deref())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Reads a family.
    pub async fn get_family(&self, id: &str) -> Result<Option<Family>, StoreError> {
        let sql = format!("SELECT {FAMILY_COLUMNS} FROM token_families WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(family).transpose()
    }

    /// Records an access token issued in a family (and keeps the family until it expires);
    /// `NotFound` if the family does not exist.
    pub async fn add_family_jti(
        &self,
        family_id: &str,
        jti: &str,
        exp: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(EXTEND_FAMILY)
            .bind(exp)
            .bind(family_id)
            .execute(&mut *tx)
            .await?;
        found(done.rows_affected())?;
        sqlx::query("INSERT INTO family_jtis (family_id, jti, exp) VALUES ($1, $2, $3)")
            .bind(family_id)
            .bind(jti)
            .bind(exp)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Revokes a family at `now`: its refresh tokens stop working and every unexpired access
    /// token issued in it is added to the revoked jtis. True if it was not revoked before.
    pub async fn revoke_family(&self, id: &str, now: i64) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let first = sqlx::query(
            "UPDATE token_families SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        // Revoked even when the family was revoked before: a token issued concurrently with
        // the first revocation is caught by the second.
        sqlx::query(
            "INSERT INTO revoked_jtis (jti, exp) SELECT jti, exp FROM family_jtis \
             WHERE family_id = $1 AND exp > $2 ON CONFLICT (jti) DO NOTHING",
        )
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(first)
    }

    /// Ends everything a user's past sign-ins left (SPEC §7.1, on disabling the user or
    /// changing its password): every token family is revoked with its unexpired access
    /// tokens, and every login session and authorization code is deleted. One transaction.
    pub async fn end_user_logins(
        &self,
        tenant_id: &str,
        user_id: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO revoked_jtis (jti, exp) SELECT j.jti, j.exp FROM family_jtis j \
             JOIN token_families f ON f.id = j.family_id \
             WHERE f.tenant_id = $1 AND f.user_id = $2 AND j.exp > $3 \
             ON CONFLICT (jti) DO NOTHING",
        )
        .bind(tenant_id)
        .bind(user_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE token_families SET revoked_at = $1 \
             WHERE tenant_id = $2 AND user_id = $3 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(tenant_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM login_sessions WHERE tenant_id = $1 AND user_id = $2")
            .bind(tenant_id)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        // Codes not yet redeemed would start new families after the change.
        sqlx::query("DELETE FROM auth_codes WHERE tenant_id = $1 AND user_id = $2")
            .bind(tenant_id)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        // So are device codes the user approved (RFC 8628) and the device has not redeemed.
        sqlx::query("DELETE FROM device_codes WHERE tenant_id = $1 AND user_id = $2")
            .bind(tenant_id)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    // --- refresh tokens ---
    /// Stores a refresh token of `family_id` under its hash; `NotFound` if the family does not
    /// exist.
    pub async fn insert_refresh_token(
        &self,
        token_hash: &[u8],
        family_id: &str,
        client_id: &str,
        created_at: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(EXTEND_FAMILY)
            .bind(expires_at)
            .bind(family_id)
            .execute(&mut *tx)
            .await?;
        found(done.rows_affected())?;
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, family_id, client_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(family_id)
        .bind(client_id)
        .bind(created_at)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Marks a refresh token used at `now`: `Fresh` for exactly one caller, `Reused` after.
    /// Expiry and the family's revocation are the caller's to check.
    pub async fn use_refresh_token(
        &self,
        token_hash: &[u8],
        now: i64,
    ) -> Result<RefreshUse, StoreError> {
        let first = sqlx::query(
            "UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL",
        )
        .bind(now)
        .bind(token_hash)
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1;
        let row = sqlx::query(
            "SELECT f.id, f.tenant_id, f.client_id, f.user_id, f.scope, f.auth_time, \
             f.revoked_at, f.expires_at, f.dpop_jkt, f.x5t_s256, r.client_id AS token_client, \
             r.expires_at AS token_exp \
             FROM refresh_tokens r JOIN token_families f ON f.id = r.family_id \
             WHERE r.token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(RefreshUse::Unknown);
        };
        let fam = family(&row)?;
        Ok(if first {
            RefreshUse::Fresh {
                family: fam,
                client_id: row.try_get("token_client")?,
                expires_at: row.try_get("token_exp")?,
            }
        } else {
            RefreshUse::Reused(fam)
        })
    }

    /// The family of a refresh token, used or not (RFC 7009 revocation), and whether the
    /// token was used already.
    pub async fn refresh_token_family(
        &self,
        token_hash: &[u8],
    ) -> Result<Option<(Family, bool)>, StoreError> {
        let row = sqlx::query(
            "SELECT f.id, f.tenant_id, f.client_id, f.user_id, f.scope, f.auth_time, \
             f.revoked_at, f.expires_at, f.dpop_jkt, f.x5t_s256, r.used_at FROM refresh_tokens r \
             JOIN token_families f ON f.id = r.family_id WHERE r.token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref()
            .map(|r| {
                let used: Option<i64> = r.try_get("used_at")?;
                Ok((family(r)?, used.is_some()))
            })
            .transpose()
    }

    /// Deletes expired sessions, codes past their replay window, families (with their
    /// refresh tokens and jtis) after their expiry, device codes an hour after theirs, and
    /// expired pushed authorization requests (RFC 9126); returns how many rows went.
    pub async fn purge_expired_login(&self, now: i64) -> Result<u64, StoreError> {
        let mut n = 0;
        for (sql, at) in [
            ("DELETE FROM login_sessions WHERE expires_at < $1", now),
            (
                "DELETE FROM auth_codes WHERE expires_at < $1",
                now - CODE_REPLAY_WINDOW,
            ),
            (
                "DELETE FROM refresh_tokens WHERE family_id IN \
                 (SELECT id FROM token_families WHERE expires_at < $1)",
                now,
            ),
            (
                "DELETE FROM family_jtis WHERE family_id IN \
                 (SELECT id FROM token_families WHERE expires_at < $1)",
                now,
            ),
            ("DELETE FROM token_families WHERE expires_at < $1", now),
            (
                "DELETE FROM device_codes WHERE expires_at < $1",
                now - super::device::DEVICE_KEEP,
            ),
            ("DELETE FROM pushed_requests WHERE expires_at <= $1", now),
        ] {
            n += sqlx::query(sql)
                .bind(at)
                .execute(&self.pool)
                .await?
                .rows_affected();
        }
        Ok(n)
    }
}
