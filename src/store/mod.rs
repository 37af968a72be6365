//! Storage: the only module that speaks SQL (sqlx). One implementation serves SQLite and
//! PostgreSQL through sqlx's `Any` driver; the SQL text is shared (written with `$1…$n`
//! placeholders in order of first use, which both engines accept) and engine differences
//! live in the per-engine migrations (`migrations/sqlite`, `migrations/postgres`, same numbers).
//!
//! Every tenant-scoped method takes the tenant first. Times are unix seconds, ids TEXT,
//! hashes BLOB/BYTEA, lists JSON text.

use sqlx::error::ErrorKind;

use crate::tenants::{Client, Project, Tenant};

mod connect;
#[cfg(test)]
mod contract_tests;
mod device;
pub mod health;
mod login;
mod notify;
mod par;
mod rows;
mod services;
mod users;

pub use device::{DeviceCode, DeviceDecision, DevicePoll, DeviceStatus};
pub use health::DbHealth;
pub use login::{AuthCode, CodeUse, Family, LoginSession, RefreshUse};
pub use notify::{Listener, ListenerEvent, INVALIDATE_CHANNEL};
pub use par::PushedRequest;

use rows::{client_mutable_columns, select_client, ClientParams};

/// Errors from storage. `Conflict` and `NotFound` are answers; `Db` is an internal failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A row with the same key exists (maps to 409).
    #[error("already exists")]
    Conflict,
    /// The row to update or delete does not exist (maps to 404).
    #[error("not found")]
    NotFound,
    /// The database failed; the source is logged, never shown to callers.
    #[error("database error")]
    Db(#[source] sqlx::Error),
    /// The database cannot be reached, did not answer in time, or has no room left: a
    /// passing condition (503), not a bug (SPEC §7.3).
    #[error("database unavailable")]
    Unavailable(#[source] sqlx::Error),
    /// A stored value could not be decoded.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// The database URL names no supported engine (holds the reason, never the URL itself,
    /// which may carry a password).
    #[error("unsupported database url: {0}")]
    BadUrl(String),
    /// A migration failed or the database holds migrations this build does not know.
    #[error("migration failed")]
    Migrate(#[source] sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for StoreError {
    /// Classifies constraint violations: a duplicate key is `Conflict`; a missing parent row
    /// (the tenant or project a new row points to) is `NotFound`; anything else is `Db`.
    fn from(e: sqlx::Error) -> StoreError {
        if let sqlx::Error::Database(db) = &e {
            match db.kind() {
                ErrorKind::UniqueViolation => return StoreError::Conflict,
                ErrorKind::ForeignKeyViolation => return StoreError::NotFound,
                _ => {}
            }
        }
        if unavailable(&e) {
            return StoreError::Unavailable(e);
        }
        StoreError::Db(e)
    }
}

/// Whether `e` says the database is away or out of room rather than that a statement is wrong:
/// no connection (refused, reset, timed out), a closed pool, SQLite `SQLITE_FULL` / `IOERR` /
/// `CANTOPEN`, PostgreSQL classes 08 (connection), 53 (insufficient resources) and 57P
/// (shutting down).
fn unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            // SQLite answers (extended) result codes of at most 4 digits; the low byte is
            // the primary code.
            let sqlite = code.len() <= 4
                && code
                    .parse::<u32>()
                    .is_ok_and(|c| matches!(c & 0xff, 10 | 13 | 14));
            let postgres = code.len() == 5
                && (code.starts_with("08") || code.starts_with("53") || code.starts_with("57P"));
            sqlite || postgres
        }
        _ => false,
    }
}

impl StoreError {
    /// The error of a database known to be down (the health probe said so): no statement
    /// was sent.
    pub fn down() -> StoreError {
        StoreError::Unavailable(sqlx::Error::PoolTimedOut)
    }

    /// True when the database is away or full (answered 503, not 500).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }

    /// True when the cause is a full disk (SQLite `SQLITE_FULL`, PostgreSQL `53100`).
    pub fn is_storage_full(&self) -> bool {
        let StoreError::Unavailable(sqlx::Error::Database(db)) = self else {
            return false;
        };
        let code = db.code().unwrap_or_default();
        code == "53100" || (code.len() <= 4 && code.parse::<u32>().is_ok_and(|c| c & 0xff == 13))
    }
}

/// Which database engine a URL selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// Embedded SQLite file (WAL mode).
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

/// One signing key as stored: the private part encrypted under the master key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// Key id (`kid`).
    pub kid: String,
    /// JOSE algorithm name: RS256, PS256, ES256 or EdDSA.
    pub alg: String,
    /// `next`, `active` or `retired`.
    pub status: String,
    /// AES-256-GCM ciphertext of the PKCS#8 private key (aad = kid).
    pub private_enc: Vec<u8>,
    /// Public JWK as JSON text.
    pub public_jwk: String,
    /// Unix seconds.
    pub created_at: i64,
    /// When it became active, if it did.
    pub activated_at: Option<i64>,
    /// When it was retired, if it was.
    pub retired_at: Option<i64>,
    /// After this time no token it signed is valid: drop it from the JWKS.
    pub expires_at: Option<i64>,
}

/// One audit event (SPEC §5). Never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuditRecord {
    /// Unix seconds.
    pub at: i64,
    /// Event name, e.g. `token.issued`, `auth.failed`, `admin.client.created`.
    pub event: String,
    /// Who acted (client id, `bootstrap`, service name …).
    pub actor: Option<String>,
    /// Tenant concerned.
    pub tenant_id: Option<String>,
    /// Client concerned.
    pub client_id: Option<String>,
    /// Token subject or object of the change.
    pub subject: Option<String>,
    /// Token id for issuance events.
    pub jti: Option<String>,
    /// `success` or `failure` (with a short reason, e.g. `failure:bad_secret`).
    pub outcome: String,
    /// Remote IP address.
    pub remote: Option<String>,
}

/// Filter for reading audit events.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only this tenant's events.
    pub tenant_id: Option<String>,
    /// Only this client's events.
    pub client_id: Option<String>,
    /// Only events about this subject.
    pub subject: Option<String>,
    /// Only events of this name.
    pub event: Option<String>,
    /// `success`, or `failure` for every `failure…` outcome.
    pub outcome: Option<String>,
    /// Only events at or after this unix time.
    pub since: Option<i64>,
    /// Only events before this unix time.
    pub until: Option<i64>,
    /// At most this many (newest first).
    pub limit: i64,
    /// Skip this many of the newest first (paging).
    pub offset: i64,
}

/// The database handle; cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    /// Connection pool (sqlx Any driver).
    pool: sqlx::AnyPool,
    /// Engine behind the pool.
    engine: Engine,
    /// The URL the pool was opened with, for the dedicated `LISTEN` connection (PostgreSQL).
    /// A `Secret` because it may carry a password and `Store` is `Debug`.
    url: crate::secret::Secret,
    /// Statements sent to the database by this handle and its clones (see [`Store::queries`]).
    queries: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// The audit event the next write of this handle commits with it (see [`Store::recording`]).
    pending: Option<std::sync::Arc<std::sync::Mutex<Option<AuditRecord>>>>,
}

/// The short-lived requests a client may hold only so many of (`oauth::pending`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pending {
    /// Device authorization requests (`device_codes`).
    DeviceCodes,
    /// Pushed authorization requests (`pushed_requests`).
    PushedRequests,
}

/// Default and maximum of `AuditFilter::limit`.
const AUDIT_DEFAULT_LIMIT: i64 = 100;
/// See `AUDIT_DEFAULT_LIMIT`.
const AUDIT_MAX_LIMIT: i64 = 1000;
/// Audit rows per multi-row INSERT (9 parameters each: far below both engines' limits).
const AUDIT_ROWS_PER_INSERT: usize = 100;

/// Most one-time values recorded by one statement (3 parameters each).
pub const JTI_ROWS_PER_INSERT: usize = 256;

/// Most audit rows one retention `DELETE` removes.
pub const AUDIT_PURGE_BATCH: i64 = 10_000;

impl Store {
    /// The pool, counting one statement: every method reaches the database through here (or
    /// counts its transaction), so `tessera_store_queries_total` proves which paths are
    /// database-free (SPEC §6: a warm token request makes no round trip). Audit batches are
    /// the exception, counted in `tessera_store_audit_batches_total` (see `insert_audit`).
    fn db(&self) -> &sqlx::AnyPool {
        self.count_query();
        &self.pool
    }

    fn count_query(&self) {
        self.queries
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        metrics::counter!("tessera_store_queries_total").increment(1);
    }

    /// A handle whose next write (one create, update or delete) is committed in one
    /// transaction with `event` (SPEC §7.3: an acknowledged admin change and its audit event
    /// survive SIGKILL together, or neither happened). The event is written once: further
    /// writes through the handle are plain. A write that touches no row rolls back and leaves
    /// no event.
    pub fn recording(&self, event: AuditRecord) -> Store {
        Store {
            pending: Some(std::sync::Arc::new(std::sync::Mutex::new(Some(event)))),
            ..self.clone()
        }
    }

    /// Runs one writing statement, with the pending event of [`Store::recording`] if any.
    async fn write(&self, q: rows::AnyQuery<'_>) -> Result<sqlx::any::AnyQueryResult, StoreError> {
        self.count_query();
        let Some(event) = self.take_pending() else {
            return Ok(q.execute(&self.pool).await?);
        };
        let mut tx = self.begin().await?;
        let done = q.execute(&mut *tx).await?;
        if done.rows_affected() == 0 {
            // Nothing changed: no event either (the transaction rolls back when dropped).
            return Ok(done);
        }
        self.insert_audit_rows(&mut tx, std::slice::from_ref(&event))
            .await?;
        tx.commit().await?;
        Ok(done)
    }

    /// The event of [`Store::recording`], if this handle has not written it yet.
    fn take_pending(&self) -> Option<AuditRecord> {
        self.pending
            .as_ref()
            .and_then(|p| p.lock().ok().and_then(|mut e| e.take()))
    }

    /// How many statements (or transactions) this store has sent since it was opened, audit
    /// batches excepted.
    pub fn queries(&self) -> u64 {
        self.queries.load(std::sync::atomic::Ordering::Relaxed)
    }

    // --- meta: small key/value settings (e.g. the bootstrap admin token hash) ---
    /// Inserts if absent; returns true when this call inserted it (first writer wins across nodes).
    pub async fn meta_insert_if_absent(&self, key: &str, value: &[u8]) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(value)
        .execute(self.db())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Reads a meta value.
    pub async fn meta_get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let value = sqlx::query_scalar("SELECT value FROM meta WHERE key = $1")
            .bind(key)
            .fetch_optional(self.db())
            .await?;
        Ok(value)
    }

    // --- tenants ---
    /// Creates a tenant; `Conflict` if the id exists.
    pub async fn create_tenant(&self, t: &Tenant) -> Result<(), StoreError> {
        self.write(
            sqlx::query(
                "INSERT INTO tenants (id, name, status, created_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(t.id.as_str())
            .bind(t.name.as_str())
            .bind(t.status.as_str())
            .bind(t.created_at),
        )
        .await?;
        Ok(())
    }

    /// Creates the tenant unless it exists (startup bootstrap); true if created.
    pub async fn ensure_tenant(&self, t: &Tenant) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO tenants (id, name, status, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(t.id.as_str())
        .bind(t.name.as_str())
        .bind(t.status.as_str())
        .bind(t.created_at)
        .execute(self.db())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Reads one tenant.
    pub async fn get_tenant(&self, id: &str) -> Result<Option<Tenant>, StoreError> {
        let sql = format!("SELECT {} FROM tenants WHERE id = $1", rows::TENANT_COLUMNS);
        let row = sqlx::query(&sql).bind(id).fetch_optional(self.db()).await?;
        row.as_ref().map(rows::tenant).transpose()
    }

    /// All tenants ordered by id.
    pub async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        let sql = format!("SELECT {} FROM tenants ORDER BY id", rows::TENANT_COLUMNS);
        let all = sqlx::query(&sql).fetch_all(self.db()).await?;
        all.iter().map(rows::tenant).collect()
    }

    /// Writes name and status; `NotFound` if absent.
    pub async fn update_tenant(&self, t: &Tenant) -> Result<(), StoreError> {
        let done = self
            .write(
                sqlx::query("UPDATE tenants SET name = $1, status = $2 WHERE id = $3")
                    .bind(t.name.as_str())
                    .bind(t.status.as_str())
                    .bind(t.id.as_str()),
            )
            .await?;
        found(done.rows_affected())
    }

    // --- projects ---
    /// Creates a project; `Conflict` if (tenant, id) exists, `NotFound` if the tenant does not.
    pub async fn create_project(&self, p: &Project) -> Result<(), StoreError> {
        self.write(
            sqlx::query(
                "INSERT INTO projects (tenant_id, id, name, created_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(p.tenant_id.as_str())
            .bind(p.id.as_str())
            .bind(p.name.as_str())
            .bind(p.created_at),
        )
        .await?;
        Ok(())
    }

    /// Reads one project.
    pub async fn get_project(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> Result<Option<Project>, StoreError> {
        let sql = format!(
            "SELECT {} FROM projects WHERE tenant_id = $1 AND id = $2",
            rows::PROJECT_COLUMNS
        );
        let row = sqlx::query(&sql)
            .bind(tenant_id)
            .bind(id)
            .fetch_optional(self.db())
            .await?;
        row.as_ref().map(rows::project).transpose()
    }

    /// A tenant's projects ordered by id.
    pub async fn list_projects(&self, tenant_id: &str) -> Result<Vec<Project>, StoreError> {
        let sql = format!(
            "SELECT {} FROM projects WHERE tenant_id = $1 ORDER BY id",
            rows::PROJECT_COLUMNS
        );
        let all = sqlx::query(&sql)
            .bind(tenant_id)
            .fetch_all(self.db())
            .await?;
        all.iter().map(rows::project).collect()
    }

    // --- clients (client_id is unique across all tenants) ---
    /// Creates a client; `Conflict` if the client_id exists in any tenant, `NotFound` if its
    /// tenant, or its project inside that tenant, does not exist.
    pub async fn create_client(&self, c: &Client) -> Result<(), StoreError> {
        let params = ClientParams::new(c)?;
        let q = sqlx::query(concat!(
            "INSERT INTO clients (tenant_id, client_id, ",
            client_mutable_columns!(),
            ", created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
             $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28)"
        ))
        .bind(c.tenant_id.as_str())
        .bind(c.client_id.as_str());
        self.write(params.bind_mutable(q).bind(c.created_at))
            .await?;
        Ok(())
    }

    /// Reads a client of a tenant.
    pub async fn get_client(
        &self,
        tenant_id: &str,
        client_id: &str,
    ) -> Result<Option<Client>, StoreError> {
        let row = sqlx::query(concat!(
            select_client!(),
            " WHERE tenant_id = $1 AND client_id = $2"
        ))
        .bind(tenant_id)
        .bind(client_id)
        .fetch_optional(self.db())
        .await?;
        row.as_ref().map(rows::client).transpose()
    }

    /// Reads a client by id alone (token endpoint: the request does not name the tenant).
    pub async fn find_client(&self, client_id: &str) -> Result<Option<Client>, StoreError> {
        let row = sqlx::query(concat!(select_client!(), " WHERE client_id = $1"))
            .bind(client_id)
            .fetch_optional(self.db())
            .await?;
        row.as_ref().map(rows::client).transpose()
    }

    /// A tenant's clients ordered by client_id.
    pub async fn list_clients(&self, tenant_id: &str) -> Result<Vec<Client>, StoreError> {
        let all = sqlx::query(concat!(
            select_client!(),
            " WHERE tenant_id = $1 ORDER BY client_id"
        ))
        .bind(tenant_id)
        .fetch_all(self.db())
        .await?;
        all.iter().map(rows::client).collect()
    }

    /// Replaces every field but tenant_id, client_id and created_at; `NotFound` if absent
    /// (or if the new project does not exist in the tenant).
    pub async fn update_client(&self, c: &Client) -> Result<(), StoreError> {
        let params = ClientParams::new(c)?;
        // The column list and the placeholders below must stay in the same order as
        // `client_mutable_columns!`; the round-trip contract test catches a mismatch.
        let q = sqlx::query(
            "UPDATE clients SET name = $1, project_id = $2, profile = $3, grant_types = $4, \
             scopes = $5, default_scopes = $6, audiences = $7, token_ttl = $8, \
             redirect_uris = $9, auth_method = $10, jwks = $11, signing_alg = $12, \
             admin_tokens = $13, status = $14, secret_kind = $15, secret_hash = $16, \
             prev_secret_kind = $17, prev_secret_hash = $18, prev_expires_at = $19, \
             vault_ref = $20, consent_required = $21, refresh_token_ttl = $22, \
             post_logout_redirect_uris = $23, security = $24, updated_at = $25 \
             WHERE tenant_id = $26 AND client_id = $27",
        );
        let done = self
            .write(
                params
                    .bind_mutable(q)
                    .bind(c.tenant_id.as_str())
                    .bind(c.client_id.as_str()),
            )
            .await?;
        found(done.rows_affected())
    }

    /// Deletes a client; `NotFound` if absent.
    pub async fn delete_client(&self, tenant_id: &str, client_id: &str) -> Result<(), StoreError> {
        let done = self
            .write(
                sqlx::query("DELETE FROM clients WHERE tenant_id = $1 AND client_id = $2")
                    .bind(tenant_id)
                    .bind(client_id),
            )
            .await?;
        found(done.rows_affected())
    }

    // --- signing keys ---
    /// Inserts a key; `Conflict` on a duplicate kid, or on a second `active` key of one alg.
    pub async fn insert_key(&self, k: &KeyRecord) -> Result<(), StoreError> {
        let sql = rows::key_insert_sql();
        rows::bind_key(sqlx::query(&sql), k)
            .execute(self.db())
            .await?;
        Ok(())
    }

    /// All keys, oldest first.
    pub async fn list_keys(&self) -> Result<Vec<KeyRecord>, StoreError> {
        let sql = format!(
            "SELECT {} FROM signing_keys ORDER BY created_at, kid",
            rows::KEY_COLUMNS
        );
        let all = sqlx::query(&sql).fetch_all(self.db()).await?;
        all.iter().map(rows::key).collect()
    }

    /// Rotation in one transaction: every `active` key of `alg` becomes `retired`
    /// (retired_at = now, expires_at = retire_expires_at), `promote_kid` (a `next` key) becomes
    /// `active` (activated_at = now), and `new_next` is inserted as the new `next` key.
    /// `NotFound` (and nothing changes) if `promote_kid` is not a `next` key of `alg`;
    /// `Conflict` if `new_next.kid` exists.
    pub async fn rotate_keys(
        &self,
        alg: &str,
        promote_kid: &str,
        new_next: &KeyRecord,
        now: i64,
        retire_expires_at: i64,
    ) -> Result<(), StoreError> {
        // A transaction counts once, however many statements it holds.
        self.count_query();
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE signing_keys SET status = 'retired', retired_at = $1, expires_at = $2 \
             WHERE alg = $3 AND status = 'active'",
        )
        .bind(now)
        .bind(retire_expires_at)
        .bind(alg)
        .execute(&mut *tx)
        .await?;
        let promoted = sqlx::query(
            "UPDATE signing_keys SET status = 'active', activated_at = $1 \
             WHERE kid = $2 AND alg = $3 AND status = 'next'",
        )
        .bind(now)
        .bind(promote_kid)
        .bind(alg)
        .execute(&mut *tx)
        .await?;
        found(promoted.rows_affected())?;
        let next = KeyRecord {
            status: "next".to_owned(),
            ..new_next.clone()
        };
        let sql = rows::key_insert_sql();
        rows::bind_key(sqlx::query(&sql), &next)
            .execute(&mut *tx)
            .await?;
        if let Some(event) = self.take_pending() {
            self.insert_audit_rows(&mut tx, std::slice::from_ref(&event))
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Deletes retired keys whose expires_at is before `now`; returns how many.
    pub async fn purge_expired_keys(&self, now: i64) -> Result<u64, StoreError> {
        let done =
            sqlx::query("DELETE FROM signing_keys WHERE status = 'retired' AND expires_at < $1")
                .bind(now)
                .execute(self.db())
                .await?;
        Ok(done.rows_affected())
    }

    // --- revocation and replay ---
    /// Remembers a revoked access-token jti until `exp` (idempotent; a later `exp` extends it).
    pub async fn revoke_jti(&self, jti: &str, exp: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO revoked_jtis (jti, exp) VALUES ($1, $2) \
             ON CONFLICT (jti) DO UPDATE SET exp = excluded.exp \
             WHERE revoked_jtis.exp < excluded.exp",
        )
        .bind(jti)
        .bind(exp)
        .execute(self.db())
        .await?;
        Ok(())
    }

    /// True if the jti was revoked.
    pub async fn is_jti_revoked(&self, jti: &str) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT 1 FROM revoked_jtis WHERE jti = $1")
            .bind(jti)
            .fetch_optional(self.db())
            .await?;
        Ok(row.is_some())
    }

    /// Records a client-assertion jti (RFC 7523 replay defence); false if already seen.
    pub async fn record_assertion_jti(
        &self,
        client_id: &str,
        jti: &str,
        exp: i64,
    ) -> Result<bool, StoreError> {
        let fresh = self.record_jtis(&[(client_id, jti, exp)]).await?;
        Ok(fresh.first() == Some(&true))
    }

    /// Whether a one-time value is recorded under `scope`.
    pub async fn jti_recorded(&self, scope: &str, jti: &str) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT 1 FROM assertion_jtis WHERE client_id = $1 AND jti = $2")
            .bind(scope)
            .bind(jti)
            .fetch_optional(self.db())
            .await?;
        Ok(row.is_some())
    }

    /// Records one-time values (scope, jti, kept until exp) with one statement per
    /// [`JTI_ROWS_PER_INSERT`]: for each, true when it was new. A value named twice in
    /// `claims` is new at most once (the first time).
    pub async fn record_jtis(&self, claims: &[(&str, &str, i64)]) -> Result<Vec<bool>, StoreError> {
        let mut fresh = vec![false; claims.len()];
        // Repeats within the call are replays of the first: written (and answered) once.
        let mut seen = std::collections::HashSet::with_capacity(claims.len());
        let firsts: Vec<(usize, &(&str, &str, i64))> = claims
            .iter()
            .enumerate()
            .filter(|(_, (scope, jti, _))| seen.insert((*scope, *jti)))
            .collect();
        let positional = self.engine == Engine::Sqlite;
        for chunk in firsts.chunks(JTI_ROWS_PER_INSERT) {
            let sql = rows::jti_insert_sql(chunk.len(), positional);
            // One statement per batch size would crowd the per-connection statement cache:
            // only the lone claim (a quiet server) and the full batch are kept prepared.
            let prepared = chunk.len() == 1 || chunk.len() == JTI_ROWS_PER_INSERT;
            let mut q = sqlx::query(&sql).persistent(prepared);
            for (_, (scope, jti, exp)) in chunk {
                q = q.bind(*scope).bind(*jti).bind(*exp);
            }
            let inserted = q.fetch_all(self.db()).await?;
            let mut new = std::collections::HashSet::with_capacity(inserted.len());
            for row in &inserted {
                new.insert((
                    sqlx::Row::try_get::<String, _>(row, 0)?,
                    sqlx::Row::try_get::<String, _>(row, 1)?,
                ));
            }
            for (i, (scope, jti, _)) in chunk {
                if let Some(f) = fresh.get_mut(*i) {
                    *f = new.contains(&(scope.to_string(), jti.to_string()));
                }
            }
        }
        Ok(fresh)
    }

    /// How many unexpired requests of `kind` `client_id` holds at `now`; with `remote`, only
    /// those made from that address (as stored).
    pub async fn count_pending(
        &self,
        kind: Pending,
        client_id: &str,
        remote: Option<&str>,
        now: i64,
    ) -> Result<i64, StoreError> {
        let table = match kind {
            Pending::DeviceCodes => "device_codes",
            Pending::PushedRequests => "pushed_requests",
        };
        let n: i64 = match remote {
            None => {
                let sql = format!(
                    "SELECT COUNT(*) FROM {table} WHERE client_id = $1 AND expires_at > $2"
                );
                sqlx::query_scalar(&sql)
                    .bind(client_id)
                    .bind(now)
                    .fetch_one(self.db())
                    .await?
            }
            Some(remote) => {
                let sql = format!(
                    "SELECT COUNT(*) FROM {table} \
                     WHERE client_id = $1 AND remote = $2 AND expires_at > $3"
                );
                sqlx::query_scalar(&sql)
                    .bind(client_id)
                    .bind(remote)
                    .bind(now)
                    .fetch_one(self.db())
                    .await?
            }
        };
        Ok(n)
    }

    /// Deletes revoked and assertion jtis whose exp is before `now`.
    pub async fn purge_expired_jtis(&self, now: i64) -> Result<u64, StoreError> {
        let revoked = sqlx::query("DELETE FROM revoked_jtis WHERE exp < $1")
            .bind(now)
            .execute(self.db())
            .await?;
        let assertions = sqlx::query("DELETE FROM assertion_jtis WHERE exp < $1")
            .bind(now)
            .execute(self.db())
            .await?;
        Ok(revoked.rows_affected() + assertions.rows_affected())
    }

    // --- audit ---
    /// Deletes audit events from before `cutoff` (unix seconds), [`AUDIT_PURGE_BATCH`] rows
    /// per statement so neither engine holds a long lock over a large backlog; returns how
    /// many went.
    pub async fn purge_audit_before(&self, cutoff: i64) -> Result<u64, StoreError> {
        let mut total = 0;
        loop {
            let done = sqlx::query(
                "DELETE FROM audit_events WHERE id IN \
                 (SELECT id FROM audit_events WHERE at < $1 LIMIT $2)",
            )
            .bind(cutoff)
            .bind(AUDIT_PURGE_BATCH)
            .execute(self.db())
            .await?;
            total += done.rows_affected();
            if done.rows_affected() < AUDIT_PURGE_BATCH.unsigned_abs() {
                return Ok(total);
            }
        }
    }

    /// Appends a batch of events in one transaction.
    pub async fn insert_audit(&self, events: &[AuditRecord]) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        // Counted apart from `tessera_store_queries_total`: these batches are written by the
        // audit task off the request path, and their number depends on load, not on caching.
        metrics::counter!("tessera_store_audit_batches_total").increment(1);
        let mut tx = self.begin().await?;
        self.insert_audit_rows(&mut tx, events).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Inserts events inside an open transaction.
    async fn insert_audit_rows(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        events: &[AuditRecord],
    ) -> Result<(), StoreError> {
        // SQLite looks a named parameter (`$N`) up by a linear scan, so binding the 900
        // parameters of a full batch by name costs O(n²) string compares on the request
        // cores (the profile showed a quarter of all server CPU there): anonymous `?`
        // placeholders bind positionally. PostgreSQL needs `$N`.
        let positional = self.engine == Engine::Sqlite;
        for chunk in events.chunks(AUDIT_ROWS_PER_INSERT) {
            let sql = rows::audit_insert_sql(chunk.len(), positional);
            // Full batches share one text and are cached as a prepared statement; a short
            // final batch varies in size and is not.
            let full = chunk.len() == AUDIT_ROWS_PER_INSERT;
            let mut q = sqlx::query(&sql).persistent(full);
            for e in chunk {
                q = rows::bind_audit(q, e);
            }
            q.execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// Events matching the filter, newest first (ties in insertion order, newest first).
    /// A `limit` of 0 or less means 100; more than 1000 means 1000.
    pub async fn list_audit(&self, f: &AuditFilter) -> Result<Vec<AuditRecord>, StoreError> {
        let limit = if f.limit <= 0 {
            AUDIT_DEFAULT_LIMIT
        } else {
            f.limit.min(AUDIT_MAX_LIMIT)
        };
        let (mut sql, n) = audit_where(
            &format!("SELECT {} FROM audit_events", rows::AUDIT_COLUMNS),
            f,
        );
        sql.push_str(&format!(
            " ORDER BY at DESC, id DESC LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        ));
        let q = bind_audit_filter(sqlx::query(&sql), f);
        let all = q
            .bind(limit)
            .bind(f.offset.max(0))
            .fetch_all(self.db())
            .await?;
        all.iter().map(rows::audit).collect()
    }

    /// How many audit events match `f` (its limit and offset aside): the console's figures.
    pub async fn count_audit(&self, f: &AuditFilter) -> Result<i64, StoreError> {
        let (sql, _) = audit_where("SELECT COUNT(*) FROM audit_events", f);
        let row = bind_audit_filter(sqlx::query(&sql), f)
            .fetch_one(self.db())
            .await?;
        Ok(sqlx::Row::try_get::<i64, _>(&row, 0)?)
    }
}

/// `select` with the WHERE clause of `f`, numbered from `$1`; returns it with the number of
/// parameters used. Only the filters present appear, so each combination is its own
/// statement and can use its index (`x IS NULL OR …` would defeat the planner).
fn audit_where(select: &str, f: &AuditFilter) -> (String, usize) {
    let mut conditions = Vec::new();
    if f.tenant_id.is_some() {
        conditions.push("tenant_id = $");
    }
    if f.client_id.is_some() {
        conditions.push("client_id = $");
    }
    if f.subject.is_some() {
        conditions.push("subject = $");
    }
    if f.event.is_some() {
        conditions.push("event = $");
    }
    if f.outcome.is_some() {
        // `failure` matches every `failure:reason`; `success` only itself.
        conditions.push("(outcome = $");
    }
    if f.since.is_some() {
        conditions.push("at >= $");
    }
    if f.until.is_some() {
        conditions.push("at < $");
    }
    let mut sql = select.to_string();
    let mut n = 0;
    for (i, condition) in conditions.iter().enumerate() {
        n += 1;
        sql.push_str(if i == 0 { " WHERE " } else { " AND " });
        sql.push_str(condition);
        sql.push_str(&n.to_string());
        if condition.starts_with("(outcome") {
            n += 1;
            sql.push_str(&format!(" OR outcome LIKE ${n})"));
        }
    }
    (sql, n)
}

/// Binds the parameters of [`audit_where`] in its order.
fn bind_audit_filter<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    f: &'q AuditFilter,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for v in [&f.tenant_id, &f.client_id, &f.subject, &f.event]
        .into_iter()
        .flatten()
    {
        q = q.bind(v.as_str());
    }
    if let Some(o) = &f.outcome {
        q = q.bind(o.as_str()).bind(format!("{o}:%"));
    }
    if let Some(since) = f.since {
        q = q.bind(since);
    }
    if let Some(until) = f.until {
        q = q.bind(until);
    }
    q
}

/// `NotFound` when an update or delete touched no row.
fn found(rows_affected: u64) -> Result<(), StoreError> {
    if rows_affected == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}
