//! Registered services (SPEC §4): global rows keyed by name, bindings as JSON text, secret
//! hashes (always HMAC: service secrets are generated) as BLOB/BYTEA.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::rows::AnyQuery;
use super::{found, Store, StoreError};
use crate::s2s::{Binding, Service};
use crate::tenants::{ClientSecrets, SecretHash};

/// Columns of `services`, in the order `service` reads them.
const SERVICE_COLUMNS: &str = "name, audiences, ttl, bindings, secret_hash, prev_secret_hash, \
                               prev_expires_at, created_at, updated_at";

/// A service's column values encoded for storage.
struct ServiceParams<'a> {
    /// The service being written.
    s: &'a Service,
    /// `audiences` as JSON.
    audiences: String,
    /// `bindings` as JSON.
    bindings: String,
    /// Current secret HMAC.
    secret: Option<Vec<u8>>,
    /// Previous secret HMAC.
    prev_secret: Option<Vec<u8>>,
}

impl<'a> ServiceParams<'a> {
    fn new(s: &'a Service) -> Result<ServiceParams<'a>, StoreError> {
        let hmac = |h: &Option<SecretHash>| match h {
            None => Ok(None),
            Some(SecretHash::Hmac(b)) => Ok(Some(b.clone())),
            Some(SecretHash::Argon2(_)) => Err(StoreError::Corrupt(
                "services.secret_hash: only HMAC hashes are stored".into(),
            )),
        };
        Ok(ServiceParams {
            s,
            audiences: to_json(&s.audiences, "audiences")?,
            bindings: to_json(&s.bindings, "bindings")?,
            secret: hmac(&s.secrets.current)?,
            prev_secret: hmac(&s.secrets.previous)?,
        })
    }

    /// Binds `audiences, ttl, bindings, secret_hash, prev_secret_hash, prev_expires_at,
    /// updated_at`, in that order.
    fn bind_mutable<'q>(&'q self, q: AnyQuery<'q>) -> AnyQuery<'q> {
        q.bind(self.audiences.as_str())
            .bind(self.s.ttl)
            .bind(self.bindings.as_str())
            .bind(self.secret.as_deref())
            .bind(self.prev_secret.as_deref())
            .bind(self.s.secrets.previous_expires_at)
            .bind(self.s.updated_at)
    }
}

/// Serializes a value for a JSON text column; the error names the column only.
fn to_json<T: serde::Serialize>(value: &T, column: &str) -> Result<String, StoreError> {
    serde_json::to_string(value)
        .map_err(|_| StoreError::Corrupt(format!("services.{column}: not serializable")))
}

/// Reads a `services` row.
fn service(row: &AnyRow) -> Result<Service, StoreError> {
    let audiences: String = row.try_get("audiences")?;
    let bindings: String = row.try_get("bindings")?;
    let secret: Option<Vec<u8>> = row.try_get("secret_hash")?;
    let prev: Option<Vec<u8>> = row.try_get("prev_secret_hash")?;
    Ok(Service {
        name: row.try_get("name")?,
        audiences: serde_json::from_str(&audiences)
            .map_err(|_| StoreError::Corrupt("services.audiences: invalid JSON".into()))?,
        ttl: row.try_get("ttl")?,
        bindings: serde_json::from_str::<Vec<Binding>>(&bindings)
            .map_err(|_| StoreError::Corrupt("services.bindings: invalid JSON".into()))?,
        secrets: ClientSecrets {
            current: secret.map(SecretHash::Hmac),
            previous: prev.map(SecretHash::Hmac),
            previous_expires_at: row.try_get("prev_expires_at")?,
            vault: None,
        },
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl Store {
    // --- services (global, keyed by name) ---
    /// Registers a service; `Conflict` if the name exists.
    pub async fn create_service(&self, s: &Service) -> Result<(), StoreError> {
        let params = ServiceParams::new(s)?;
        let q = sqlx::query(
            "INSERT INTO services (audiences, ttl, bindings, secret_hash, prev_secret_hash, \
             prev_expires_at, updated_at, name, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        );
        self.write(
            params
                .bind_mutable(q)
                .bind(s.name.as_str())
                .bind(s.created_at),
        )
        .await?;
        Ok(())
    }

    /// Reads one service.
    pub async fn get_service(&self, name: &str) -> Result<Option<Service>, StoreError> {
        let sql = format!("SELECT {SERVICE_COLUMNS} FROM services WHERE name = $1");
        let row = sqlx::query(&sql)
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(service).transpose()
    }

    /// Every service, in name order.
    pub async fn list_services(&self) -> Result<Vec<Service>, StoreError> {
        let sql = format!("SELECT {SERVICE_COLUMNS} FROM services ORDER BY name");
        let all = sqlx::query(&sql).fetch_all(&self.pool).await?;
        all.iter().map(service).collect()
    }

    /// Replaces every field but name and created_at; `NotFound` if absent.
    pub async fn update_service(&self, s: &Service) -> Result<(), StoreError> {
        let params = ServiceParams::new(s)?;
        let q = sqlx::query(
            "UPDATE services SET audiences = $1, ttl = $2, bindings = $3, secret_hash = $4, \
             prev_secret_hash = $5, prev_expires_at = $6, updated_at = $7 WHERE name = $8",
        );
        let done = self
            .write(params.bind_mutable(q).bind(s.name.as_str()))
            .await?;
        found(done.rows_affected())
    }

    /// Removes a service; `NotFound` if absent.
    pub async fn delete_service(&self, name: &str) -> Result<(), StoreError> {
        let done = self
            .write(sqlx::query("DELETE FROM services WHERE name = $1").bind(name))
            .await?;
        found(done.rows_affected())
    }
}
