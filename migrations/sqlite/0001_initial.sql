-- Tessera initial schema, SQLite flavour (the PostgreSQL twin is migrations/postgres/0001_initial.sql).
--
-- Conventions shared by both engines, so that sqlx's `Any` driver decodes the same Rust types:
--   * ids and names are TEXT; times are unix seconds in INTEGER (i64);
--   * hashes and ciphertexts are BLOB; lists and JWK sets are JSON text;
--   * booleans are INTEGER 0/1 (a BOOLEAN column does not decode through `Any` on SQLite);
--   * every tenant-scoped table has tenant_id in its primary key.
-- Never edit this file once released: add 0002_… to both directories instead.

-- Small key/value settings shared by every node (e.g. the bootstrap admin token hash).
CREATE TABLE meta (
    key   TEXT NOT NULL PRIMARY KEY, -- setting name
    value BLOB NOT NULL              -- opaque bytes; the first writer wins (INSERT … ON CONFLICT DO NOTHING)
);

-- Tenants: the top of the tenant > project > client hierarchy.
CREATE TABLE tenants (
    id         TEXT    NOT NULL PRIMARY KEY, -- stable identifier chosen at creation
    name       TEXT    NOT NULL,             -- display name
    status     TEXT    NOT NULL,             -- 'active' or 'disabled' (anything else reads as disabled)
    created_at INTEGER NOT NULL              -- unix seconds
);

-- Projects group clients inside a tenant.
CREATE TABLE projects (
    tenant_id  TEXT    NOT NULL REFERENCES tenants (id), -- owning tenant
    id         TEXT    NOT NULL,                         -- unique inside the tenant
    name       TEXT    NOT NULL,                         -- display name
    created_at INTEGER NOT NULL,                         -- unix seconds
    PRIMARY KEY (tenant_id, id)
);

-- OAuth clients. client_id is unique across all tenants: the token endpoint finds a client
-- by client_id alone.
CREATE TABLE clients (
    tenant_id        TEXT    NOT NULL REFERENCES tenants (id), -- owning tenant
    client_id        TEXT    NOT NULL,   -- globally unique client identifier
    name             TEXT    NOT NULL,   -- display name
    project_id       TEXT,               -- project inside the same tenant, if any
    profile          TEXT    NOT NULL,   -- token profile name (default, partner, service, …)
    grant_types      TEXT    NOT NULL,   -- JSON array of grant type names
    scopes           TEXT    NOT NULL,   -- JSON array: scopes the client may request
    default_scopes   TEXT    NOT NULL,   -- JSON array: scopes granted when the request names none
    audiences        TEXT    NOT NULL,   -- JSON array: audiences the client may request (RFC 8707)
    token_ttl        INTEGER,            -- token lifetime in seconds; NULL = the profile's
    redirect_uris    TEXT    NOT NULL,   -- JSON array of registered redirect URIs
    auth_method      TEXT    NOT NULL,   -- client_secret_basic | client_secret_post | private_key_jwt | none
    jwks             TEXT,               -- JSON JWK Set for private_key_jwt; NULL if none
    signing_alg      TEXT,               -- signing alg of this client's tokens; NULL = deployment default
    admin_tokens     INTEGER NOT NULL CHECK (admin_tokens IN (0, 1)), -- 1 = may obtain admin tokens
    status           TEXT    NOT NULL,   -- 'active' or 'disabled'
    secret_kind      TEXT,               -- 'hmac' | 'argon2' for the current secret; NULL if none
    secret_hash      BLOB,               -- current secret hash (HMAC bytes or argon2 PHC string)
    prev_secret_kind TEXT,               -- kind of the secret replaced by the last rotation
    prev_secret_hash BLOB,               -- its hash, accepted until prev_expires_at
    prev_expires_at  INTEGER,            -- unix seconds after which the previous secret is refused
    vault_ref        TEXT,               -- JSON {"mount","path","field"} when the secret lives in Vault
    created_at       INTEGER NOT NULL,   -- unix seconds
    updated_at       INTEGER NOT NULL,   -- unix seconds of the last change
    PRIMARY KEY (tenant_id, client_id),
    UNIQUE (client_id),
    -- A NULL project_id skips this check (MATCH SIMPLE), so project-less clients are fine.
    FOREIGN KEY (tenant_id, project_id) REFERENCES projects (tenant_id, id)
);

-- Token signing keys; the private part is encrypted under the master key.
CREATE TABLE signing_keys (
    kid          TEXT    NOT NULL PRIMARY KEY, -- key id published in the JWKS
    alg          TEXT    NOT NULL,             -- RS256 | PS256 | ES256 | EdDSA
    status       TEXT    NOT NULL CHECK (status IN ('next', 'active', 'retired')),
    private_enc  BLOB    NOT NULL,             -- AES-256-GCM ciphertext of the PKCS#8 key (aad = kid)
    public_jwk   TEXT    NOT NULL,             -- public JWK as JSON text
    created_at   INTEGER NOT NULL,             -- unix seconds
    activated_at INTEGER,                      -- when it became active, if it did
    retired_at   INTEGER,                      -- when it was retired, if it was
    expires_at   INTEGER                       -- after this no token it signed is valid
);
-- At most one active key per algorithm, whatever the number of nodes rotating.
CREATE UNIQUE INDEX signing_keys_one_active_per_alg ON signing_keys (alg) WHERE status = 'active';

-- Revoked access-token ids (RFC 7009), kept until the token would have expired anyway.
CREATE TABLE revoked_jtis (
    jti TEXT    NOT NULL PRIMARY KEY, -- token id
    exp INTEGER NOT NULL              -- unix seconds; purgeable after this
);
CREATE INDEX revoked_jtis_exp ON revoked_jtis (exp);

-- Client-assertion ids already used (RFC 7523 §3 replay defence).
CREATE TABLE assertion_jtis (
    client_id TEXT    NOT NULL, -- client that signed the assertion (globally unique)
    jti       TEXT    NOT NULL, -- the assertion's jti
    exp       INTEGER NOT NULL, -- the assertion's exp; purgeable after this
    PRIMARY KEY (client_id, jti)
);
CREATE INDEX assertion_jtis_exp ON assertion_jtis (exp);

-- Audit trail (SPEC §5). Never holds a secret. No foreign keys: events outlive what they name.
CREATE TABLE audit_events (
    id        INTEGER PRIMARY KEY AUTOINCREMENT, -- insertion order; breaks ties between equal `at`
    at        INTEGER NOT NULL, -- unix seconds
    event     TEXT    NOT NULL, -- e.g. token.issued, auth.failed, admin.client.created
    actor     TEXT,             -- who acted (client id, bootstrap, service name …)
    tenant_id TEXT,             -- tenant concerned
    client_id TEXT,             -- client concerned
    subject   TEXT,             -- token subject or object of the change
    jti       TEXT,             -- token id for issuance events
    outcome   TEXT    NOT NULL, -- success | failure:<reason>
    remote    TEXT              -- remote IP address
);
CREATE INDEX audit_events_tenant_at ON audit_events (tenant_id, at);
CREATE INDEX audit_events_client_at ON audit_events (client_id, at);
CREATE INDEX audit_events_at ON audit_events (at);
