//! Row mapping: domain types to bound parameters and `AnyRow`s back to domain types.
//! Column lists live next to the code that reads or binds them, so a new column is one edit
//! here plus a migration.

use sqlx::any::{AnyArguments, AnyRow};
use sqlx::{Any, Row};

use super::{AuditRecord, KeyRecord, StoreError};
use crate::tenants::{AuthMethod, Client, Project, SecretHash, Status, Tenant, VaultRef};

/// A query on the `Any` driver, as `sqlx::query` builds it.
pub(super) type AnyQuery<'q> = sqlx::query::Query<'q, Any, AnyArguments<'q>>;

/// Columns of `tenants`, in the order `tenant` reads them.
pub(super) const TENANT_COLUMNS: &str = "id, name, status, created_at";
/// Columns of `projects`, in the order `project` reads them.
pub(super) const PROJECT_COLUMNS: &str = "tenant_id, id, name, created_at";
/// Columns of `signing_keys`, in the order `key` reads and `bind_key` binds them.
pub(super) const KEY_COLUMNS: &str =
    "kid, alg, status, private_enc, public_jwk, created_at, activated_at, retired_at, expires_at";
/// Columns of `audit_events` (but `id`), in the order `audit` reads and `bind_audit` binds them.
pub(super) const AUDIT_COLUMNS: &str =
    "at, event, actor, tenant_id, client_id, subject, jti, outcome, remote";
/// How many parameters one audit row binds.
pub(super) const AUDIT_PARAMS: usize = 9;

/// `SELECT` of every client column (a macro so that `concat!` builds `&'static str` queries,
/// which sqlx can cache as prepared statements).
macro_rules! select_client {
    () => {
        "SELECT tenant_id, client_id, name, project_id, profile, grant_types, scopes, \
         default_scopes, audiences, token_ttl, redirect_uris, auth_method, jwks, signing_alg, \
         admin_tokens, status, secret_kind, secret_hash, prev_secret_kind, prev_secret_hash, \
         prev_expires_at, vault_ref, consent_required, refresh_token_ttl, \
         post_logout_redirect_uris, security, created_at, updated_at \
         FROM clients"
    };
}
pub(super) use select_client;

/// The client columns a create or update writes besides the keys and `created_at`, in the
/// order `ClientParams::bind_mutable` binds them (`$1…$25` in an UPDATE).
macro_rules! client_mutable_columns {
    () => {
        "name, project_id, profile, grant_types, scopes, default_scopes, audiences, token_ttl, \
         redirect_uris, auth_method, jwks, signing_alg, admin_tokens, status, secret_kind, \
         secret_hash, prev_secret_kind, prev_secret_hash, prev_expires_at, vault_ref, \
         consent_required, refresh_token_ttl, post_logout_redirect_uris, security, updated_at"
    };
}
pub(super) use client_mutable_columns;

/// Reads a `tenants` row.
pub(super) fn tenant(row: &AnyRow) -> Result<Tenant, StoreError> {
    Ok(Tenant {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        status: Status::parse(&row.try_get::<String, _>("status")?),
        created_at: row.try_get("created_at")?,
    })
}

/// Reads a `projects` row.
pub(super) fn project(row: &AnyRow) -> Result<Project, StoreError> {
    Ok(Project {
        tenant_id: row.try_get("tenant_id")?,
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        created_at: row.try_get("created_at")?,
    })
}

/// Reads a `signing_keys` row.
pub(super) fn key(row: &AnyRow) -> Result<KeyRecord, StoreError> {
    Ok(KeyRecord {
        kid: row.try_get("kid")?,
        alg: row.try_get("alg")?,
        status: row.try_get("status")?,
        private_enc: row.try_get("private_enc")?,
        public_jwk: row.try_get("public_jwk")?,
        created_at: row.try_get("created_at")?,
        activated_at: row.try_get("activated_at")?,
        retired_at: row.try_get("retired_at")?,
        expires_at: row.try_get("expires_at")?,
    })
}

/// Binds a key's columns in `KEY_COLUMNS` order.
pub(super) fn bind_key<'q>(q: AnyQuery<'q>, k: &'q KeyRecord) -> AnyQuery<'q> {
    q.bind(k.kid.as_str())
        .bind(k.alg.as_str())
        .bind(k.status.as_str())
        .bind(k.private_enc.as_slice())
        .bind(k.public_jwk.as_str())
        .bind(k.created_at)
        .bind(k.activated_at)
        .bind(k.retired_at)
        .bind(k.expires_at)
}

/// Reads an `audit_events` row.
pub(super) fn audit(row: &AnyRow) -> Result<AuditRecord, StoreError> {
    Ok(AuditRecord {
        at: row.try_get("at")?,
        event: row.try_get("event")?,
        actor: row.try_get("actor")?,
        tenant_id: row.try_get("tenant_id")?,
        client_id: row.try_get("client_id")?,
        subject: row.try_get("subject")?,
        jti: row.try_get("jti")?,
        outcome: row.try_get("outcome")?,
        remote: row.try_get("remote")?,
    })
}

/// Binds an event's columns in `AUDIT_COLUMNS` order.
pub(super) fn bind_audit<'q>(q: AnyQuery<'q>, e: &'q AuditRecord) -> AnyQuery<'q> {
    q.bind(e.at)
        .bind(e.event.as_str())
        .bind(e.actor.as_deref())
        .bind(e.tenant_id.as_deref())
        .bind(e.client_id.as_deref())
        .bind(e.subject.as_deref())
        .bind(e.jti.as_deref())
        .bind(e.outcome.as_str())
        .bind(e.remote.as_deref())
}

/// A client's column values encoded for storage (lists as JSON text, secrets split into
/// kind and hash), borrowed from the `Client` where no encoding is needed.
pub(super) struct ClientParams<'a> {
    /// The client being written.
    c: &'a Client,
    /// `grant_types` as JSON.
    grant_types: String,
    /// `scopes` as JSON.
    scopes: String,
    /// `default_scopes` as JSON.
    default_scopes: String,
    /// `audiences` as JSON.
    audiences: String,
    /// `redirect_uris` as JSON.
    redirect_uris: String,
    /// `post_logout_redirect_uris` as JSON.
    post_logout_redirect_uris: String,
    /// `security` as JSON.
    security: String,
    /// `jwks` as JSON.
    jwks: Option<String>,
    /// Current secret: kind tag and hash bytes.
    secret: (Option<&'static str>, Option<Vec<u8>>),
    /// Previous secret: kind tag and hash bytes.
    prev_secret: (Option<&'static str>, Option<Vec<u8>>),
    /// Vault reference as JSON.
    vault_ref: Option<String>,
}

impl<'a> ClientParams<'a> {
    /// Encodes `c`'s columns.
    pub(super) fn new(c: &'a Client) -> Result<ClientParams<'a>, StoreError> {
        let split = |h: &Option<SecretHash>| match h {
            Some(h) => (Some(h.kind()), Some(h.bytes())),
            None => (None, None),
        };
        Ok(ClientParams {
            c,
            grant_types: to_json(&c.grant_types, "grant_types")?,
            scopes: to_json(&c.scopes, "scopes")?,
            default_scopes: to_json(&c.default_scopes, "default_scopes")?,
            audiences: to_json(&c.audiences, "audiences")?,
            redirect_uris: to_json(&c.redirect_uris, "redirect_uris")?,
            post_logout_redirect_uris: to_json(
                &c.post_logout_redirect_uris,
                "post_logout_redirect_uris",
            )?,
            security: to_json(&c.security, "security")?,
            jwks: c.jwks.as_ref().map(|j| to_json(j, "jwks")).transpose()?,
            secret: split(&c.secrets.current),
            prev_secret: split(&c.secrets.previous),
            vault_ref: c
                .secrets
                .vault
                .as_ref()
                .map(|v| to_json(v, "vault_ref"))
                .transpose()?,
        })
    }

    /// Binds the columns of `client_mutable_columns!`, in that order.
    pub(super) fn bind_mutable<'q>(&'q self, q: AnyQuery<'q>) -> AnyQuery<'q> {
        let c = self.c;
        q.bind(c.name.as_str())
            .bind(c.project_id.as_deref())
            .bind(c.profile.as_str())
            .bind(self.grant_types.as_str())
            .bind(self.scopes.as_str())
            .bind(self.default_scopes.as_str())
            .bind(self.audiences.as_str())
            .bind(c.token_ttl)
            .bind(self.redirect_uris.as_str())
            .bind(c.auth_method.as_str())
            .bind(self.jwks.as_deref())
            .bind(c.signing_alg.as_deref())
            .bind(i64::from(c.admin_tokens))
            .bind(c.status.as_str())
            .bind(self.secret.0)
            .bind(self.secret.1.as_deref())
            .bind(self.prev_secret.0)
            .bind(self.prev_secret.1.as_deref())
            .bind(c.secrets.previous_expires_at)
            .bind(self.vault_ref.as_deref())
            .bind(i64::from(c.consent_required))
            .bind(c.refresh_token_ttl)
            .bind(self.post_logout_redirect_uris.as_str())
            .bind(self.security.as_str())
            .bind(c.updated_at)
    }
}

/// Reads a `clients` row (as selected by `select_client!`).
pub(super) fn client(row: &AnyRow) -> Result<Client, StoreError> {
    let auth_method: String = row.try_get("auth_method")?;
    let jwks: Option<String> = row.try_get("jwks")?;
    let vault_ref: Option<String> = row.try_get("vault_ref")?;
    Ok(Client {
        tenant_id: row.try_get("tenant_id")?,
        client_id: row.try_get("client_id")?,
        name: row.try_get("name")?,
        project_id: row.try_get("project_id")?,
        profile: row.try_get("profile")?,
        grant_types: json_column(row, "grant_types")?,
        scopes: json_column(row, "scopes")?,
        default_scopes: json_column(row, "default_scopes")?,
        audiences: json_column(row, "audiences")?,
        token_ttl: row.try_get("token_ttl")?,
        redirect_uris: json_column(row, "redirect_uris")?,
        auth_method: AuthMethod::parse(&auth_method)
            .ok_or_else(|| StoreError::Corrupt("clients.auth_method: unknown method".into()))?,
        jwks: jwks.map(|j| from_json(&j, "jwks")).transpose()?,
        signing_alg: row.try_get("signing_alg")?,
        admin_tokens: row.try_get::<i64, _>("admin_tokens")? != 0,
        status: Status::parse(&row.try_get::<String, _>("status")?),
        consent_required: row.try_get::<i64, _>("consent_required")? != 0,
        refresh_token_ttl: row.try_get("refresh_token_ttl")?,
        post_logout_redirect_uris: json_column(row, "post_logout_redirect_uris")?,
        security: json_column(row, "security")?,
        secrets: crate::tenants::ClientSecrets {
            current: secret(row, "secret_kind", "secret_hash")?,
            previous: secret(row, "prev_secret_kind", "prev_secret_hash")?,
            previous_expires_at: row.try_get("prev_expires_at")?,
            vault: vault_ref
                .map(|v| from_json::<VaultRef>(&v, "vault_ref"))
                .transpose()?,
        },
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// Rebuilds a secret hash from its kind and hash columns; both or neither must be set.
fn secret(row: &AnyRow, kind: &str, hash: &str) -> Result<Option<SecretHash>, StoreError> {
    let k: Option<String> = row.try_get(kind)?;
    let h: Option<Vec<u8>> = row.try_get(hash)?;
    match (k, h) {
        (None, None) => Ok(None),
        (Some(k), Some(h)) => SecretHash::from_parts(&k, h)
            .map(Some)
            .ok_or_else(|| StoreError::Corrupt(format!("clients.{kind}: unknown kind"))),
        _ => Err(StoreError::Corrupt(format!(
            "clients.{kind}/{hash}: only one of the pair is set"
        ))),
    }
}

/// Reads a JSON text column.
pub(super) fn json_column<T: serde::de::DeserializeOwned>(
    row: &AnyRow,
    column: &str,
) -> Result<T, StoreError> {
    let text: String = row.try_get(column)?;
    from_json(&text, column)
}

/// Parses stored JSON; the error names the column, never the content.
pub(super) fn from_json<T: serde::de::DeserializeOwned>(
    text: &str,
    column: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(text)
        .map_err(|_| StoreError::Corrupt(format!("clients.{column}: invalid JSON")))
}

/// Serializes a value for a JSON text column.
pub(super) fn to_json<T: serde::Serialize + ?Sized>(
    value: &T,
    column: &str,
) -> Result<String, StoreError> {
    serde_json::to_string(value)
        .map_err(|_| StoreError::Corrupt(format!("clients.{column}: not serializable")))
}

/// `INSERT INTO signing_keys` of every column, bound by `bind_key`.
pub(super) fn key_insert_sql() -> String {
    format!(
        "INSERT INTO signing_keys ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        KEY_COLUMNS
    )
}

/// A multi-row `INSERT INTO audit_events` for `n` events, bound by `bind_audit`.
pub(super) fn audit_insert_sql(n: usize, positional: bool) -> String {
    let mut sql = format!("INSERT INTO audit_events ({}) VALUES ", AUDIT_COLUMNS);
    push_value_rows(&mut sql, n, AUDIT_PARAMS, positional);
    sql
}

/// A multi-row `INSERT INTO assertion_jtis` for `n` (scope, jti, exp) rows that answers the
/// rows it inserted: the others were there already.
pub(super) fn jti_insert_sql(n: usize, positional: bool) -> String {
    let mut sql = String::from("INSERT INTO assertion_jtis (client_id, jti, exp) VALUES ");
    push_value_rows(&mut sql, n, 3, positional);
    sql.push_str(" ON CONFLICT (client_id, jti) DO NOTHING RETURNING client_id, jti");
    sql
}

/// Appends `n` rows of `width` placeholders: `?` bound in order on SQLite (which looks a
/// named `$N` up by a linear scan: binding hundreds by name costs O(n²) string compares on the
/// request cores), `$N` on PostgreSQL.
fn push_value_rows(sql: &mut String, n: usize, width: usize, positional: bool) {
    for row in 0..n {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for col in 0..width {
            if col > 0 {
                sql.push_str(", ");
            }
            if positional {
                sql.push('?');
            } else {
                sql.push_str(&format!("${}", row * width + col + 1));
            }
        }
        sql.push(')');
    }
}
