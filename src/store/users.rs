//! Storage of tenant users, roles and upstream providers.

use super::rows::{json_column, to_json};
use super::{found, Store, StoreError};
use crate::tenants::{Role, Status, Upstream, User};
use sqlx::any::AnyRow;
use sqlx::Row;

const USER_COLUMNS: &str = "tenant_id, id, email, name, password_hash, roles, scopes, resources, \
                            groups, status, created_at, updated_at";

fn user(row: &AnyRow) -> Result<User, StoreError> {
    Ok(User {
        tenant_id: row.try_get("tenant_id")?,
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        name: row.try_get("name")?,
        password_hash: row.try_get("password_hash")?,
        roles: json_column(row, "roles")?,
        scopes: json_column(row, "scopes")?,
        resources: json_column(row, "resources")?,
        groups: json_column(row, "groups")?,
        status: Status::parse(&row.try_get::<String, _>("status")?),
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn role(row: &AnyRow) -> Result<Role, StoreError> {
    Ok(Role {
        tenant_id: row.try_get("tenant_id")?,
        name: row.try_get("name")?,
        scopes: json_column(row, "scopes")?,
        created_at: row.try_get("created_at")?,
    })
}

fn upstream(row: &AnyRow) -> Result<Upstream, StoreError> {
    Ok(Upstream {
        tenant_id: row.try_get("tenant_id")?,
        id: row.try_get("id")?,
        issuer: row.try_get("issuer")?,
        client_id: row.try_get("client_id")?,
        name: row.try_get("name")?,
        created_at: row.try_get("created_at")?,
    })
}

impl Store {
    // --- users ---
    /// Creates a user; `Conflict` on a duplicate id or e-mail in the tenant.
    pub async fn create_user(&self, u: &User) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO users ({USER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        );
        self.write(
            sqlx::query(&sql)
                .bind(u.tenant_id.as_str())
                .bind(u.id.as_str())
                .bind(u.email.as_str())
                .bind(u.name.clone())
                .bind(u.password_hash.clone())
                .bind(to_json(&u.roles, "roles")?)
                .bind(to_json(&u.scopes, "scopes")?)
                .bind(to_json(&u.resources, "resources")?)
                .bind(to_json(&u.groups, "groups")?)
                .bind(u.status.as_str())
                .bind(u.created_at)
                .bind(u.updated_at),
        )
        .await?;
        Ok(())
    }

    /// Reads a user by id.
    pub async fn get_user(&self, tenant_id: &str, id: &str) -> Result<Option<User>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE tenant_id = $1 AND id = $2");
        let row = sqlx::query(&sql)
            .bind(tenant_id)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(user).transpose()
    }

    /// Reads a user by (normalized) e-mail.
    pub async fn find_user_by_email(
        &self,
        tenant_id: &str,
        email: &str,
    ) -> Result<Option<User>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE tenant_id = $1 AND email = $2");
        let row = sqlx::query(&sql)
            .bind(tenant_id)
            .bind(crate::tenants::users::normalize_email(email))
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(user).transpose()
    }

    /// True when `tenant_id` has an active user holding the `admin` role (the console's
    /// first-run hint). Roles are a JSON array of names, so the name appears quoted.
    pub async fn has_admin_user(&self, tenant_id: &str) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "SELECT 1 FROM users WHERE tenant_id = $1 AND status = 'active' AND roles LIKE $2 LIMIT 1",
        )
        .bind(tenant_id)
        .bind(format!("%\"{}\"%", crate::tenants::ADMIN_ROLE))
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }

    /// A tenant's users ordered by e-mail.
    pub async fn list_users(&self, tenant_id: &str) -> Result<Vec<User>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE tenant_id = $1 ORDER BY email");
        let all = sqlx::query(&sql)
            .bind(tenant_id)
            .fetch_all(&self.pool)
            .await?;
        all.iter().map(user).collect()
    }

    /// Replaces every field but the keys and created_at; `NotFound` if absent.
    pub async fn update_user(&self, u: &User) -> Result<(), StoreError> {
        let done = self.write(sqlx::query(
            "UPDATE users SET email = $1, name = $2, password_hash = $3, roles = $4, scopes = $5, \
             resources = $6, groups = $7, status = $8, updated_at = $9 \
             WHERE tenant_id = $10 AND id = $11",
        )
        .bind(u.email.as_str())
        .bind(u.name.clone())
        .bind(u.password_hash.clone())
        .bind(to_json(&u.roles, "roles")?)
        .bind(to_json(&u.scopes, "scopes")?)
        .bind(to_json(&u.resources, "resources")?)
        .bind(to_json(&u.groups, "groups")?)
        .bind(u.status.as_str())
        .bind(u.updated_at)
        .bind(u.tenant_id.as_str())
        .bind(u.id.as_str())).await?;
        found(done.rows_affected())
    }

    // --- roles ---
    /// Creates a role; `Conflict` if the name exists in the tenant.
    pub async fn create_role(&self, r: &Role) -> Result<(), StoreError> {
        self.write(
            sqlx::query(
                "INSERT INTO roles (tenant_id, name, scopes, created_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(r.tenant_id.as_str())
            .bind(r.name.as_str())
            .bind(to_json(&r.scopes, "scopes")?)
            .bind(r.created_at),
        )
        .await?;
        Ok(())
    }

    /// A tenant's stored roles ordered by name.
    pub async fn list_roles(&self, tenant_id: &str) -> Result<Vec<Role>, StoreError> {
        let all = sqlx::query(
            "SELECT tenant_id, name, scopes, created_at FROM roles WHERE tenant_id = $1 ORDER BY name",
        )
        .bind(tenant_id)
        .fetch_all(&self.pool)
        .await?;
        all.iter().map(role).collect()
    }

    // --- upstream providers ---
    /// Registers an upstream provider; `Conflict` on a duplicate id or (issuer, client_id).
    pub async fn create_upstream(&self, u: &Upstream) -> Result<(), StoreError> {
        self.write(
            sqlx::query(
                "INSERT INTO upstreams (tenant_id, id, issuer, client_id, name, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(u.tenant_id.as_str())
            .bind(u.id.as_str())
            .bind(u.issuer.as_str())
            .bind(u.client_id.as_str())
            .bind(u.name.clone())
            .bind(u.created_at),
        )
        .await?;
        Ok(())
    }

    /// A tenant's upstream providers ordered by id.
    pub async fn list_upstreams(&self, tenant_id: &str) -> Result<Vec<Upstream>, StoreError> {
        let all = sqlx::query(
            "SELECT tenant_id, id, issuer, client_id, name, created_at FROM upstreams \
             WHERE tenant_id = $1 ORDER BY id",
        )
        .bind(tenant_id)
        .fetch_all(&self.pool)
        .await?;
        all.iter().map(upstream).collect()
    }

    /// Removes an upstream provider; `NotFound` if absent.
    pub async fn delete_upstream(&self, tenant_id: &str, id: &str) -> Result<(), StoreError> {
        let done = self
            .write(
                sqlx::query("DELETE FROM upstreams WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant_id)
                    .bind(id),
            )
            .await?;
        found(done.rows_affected())
    }
}
