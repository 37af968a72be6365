-- Tenant users, roles and trusted upstream OpenID providers (SPEC §3.3, §5).
-- Same conventions as 0001: TEXT ids, INTEGER times (unix seconds), JSON text lists.

-- People inside one tenant.
CREATE TABLE users (
    tenant_id     TEXT   NOT NULL REFERENCES tenants (id), -- owning tenant
    id            TEXT   NOT NULL,                         -- stable id: the sub of the user's tokens
    email         TEXT   NOT NULL,                         -- normalized (trimmed, lower case)
    name          TEXT,                                    -- display name
    password_hash TEXT,                                    -- argon2id PHC string, NULL when the user has no password
    roles         TEXT   NOT NULL,                         -- JSON array of role names
    scopes        TEXT   NOT NULL,                         -- JSON array of directly held scopes
    resources     TEXT   NOT NULL,                         -- JSON array of resources
    groups        TEXT   NOT NULL,                         -- JSON array of groups
    status        TEXT   NOT NULL,                         -- 'active' or 'disabled'
    created_at    INTEGER NOT NULL,                         -- unix seconds
    updated_at    INTEGER NOT NULL,                         -- unix seconds
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, email)                              -- one account per e-mail in a tenant
);

-- Named scope sets inside a tenant (role 'admin' is implicit in every tenant).
CREATE TABLE roles (
    tenant_id  TEXT   NOT NULL REFERENCES tenants (id), -- owning tenant
    name       TEXT   NOT NULL,                         -- unique inside the tenant
    scopes     TEXT   NOT NULL,                         -- JSON array of scopes the role grants
    created_at INTEGER NOT NULL,                         -- unix seconds
    PRIMARY KEY (tenant_id, name)
);

-- Upstream OpenID providers a tenant trusts for oidcToken and token exchange.
CREATE TABLE upstreams (
    tenant_id  TEXT   NOT NULL REFERENCES tenants (id), -- owning tenant
    id         TEXT   NOT NULL,                         -- identifier inside the tenant
    issuer     TEXT   NOT NULL,                         -- the provider's issuer URL
    client_id  TEXT   NOT NULL,                         -- our client id there: the aud of its ID tokens
    name       TEXT,                                    -- display name
    created_at INTEGER NOT NULL,                         -- unix seconds
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, issuer, client_id)
);
