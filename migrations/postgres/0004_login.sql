-- Interactive login (issue #7): per-client login settings, browser sessions, authorization
-- codes, token families and refresh tokens. Same conventions as 0001: TEXT ids, BIGINT times
-- (unix seconds), hashes BYTEA. Codes, refresh tokens and session ids are stored only as
-- HMAC-SHA-256 under the master key; the values themselves exist only in the browser/client.

-- Show a consent screen before issuing a code (default: implicit consent, first-party).
ALTER TABLE clients ADD COLUMN consent_required BIGINT NOT NULL DEFAULT 0;
-- Lifetime of this client's refresh tokens, seconds; NULL = login.refresh_token_ttl.
ALTER TABLE clients ADD COLUMN refresh_token_ttl BIGINT;

-- Logged-in browsers (cookie tessera_session), shared by every node through the database.
CREATE TABLE login_sessions (
    id_hash    BYTEA   NOT NULL PRIMARY KEY,              -- HMAC of the cookie value
    tenant_id  TEXT    NOT NULL REFERENCES tenants (id),  -- the tenant the user logged into
    user_id    TEXT    NOT NULL,                          -- who
    auth_time  BIGINT NOT NULL,                          -- when the password was checked
    expires_at BIGINT NOT NULL                           -- unix seconds
);
CREATE INDEX login_sessions_expiry ON login_sessions (expires_at);

-- Authorization codes (RFC 6749 §4.1.2): single use, 60 s.
CREATE TABLE auth_codes (
    code_hash      BYTEA   NOT NULL PRIMARY KEY,             -- HMAC of the code
    tenant_id      TEXT    NOT NULL REFERENCES tenants (id), -- the client's tenant
    client_id      TEXT    NOT NULL,                         -- who may redeem it
    user_id        TEXT    NOT NULL,                         -- the logged-in user
    redirect_uri   TEXT    NOT NULL,                         -- must be repeated exactly
    scope          TEXT    NOT NULL,                         -- granted scopes, space-separated
    nonce          TEXT,                                     -- OIDC nonce for the ID token
    code_challenge TEXT,                                     -- PKCE S256 challenge
    auth_time      BIGINT NOT NULL,                         -- when the user authenticated
    family_id      TEXT    NOT NULL,                         -- the token family it starts
    expires_at     BIGINT NOT NULL,                         -- unix seconds
    used_at        BIGINT                                   -- set by the first redemption
);
CREATE INDEX auth_codes_expiry ON auth_codes (expires_at);

-- Everything issued from one code: revoked together (code replay, refresh reuse, RFC 7009).
CREATE TABLE token_families (
    id         TEXT    NOT NULL PRIMARY KEY,             -- random id, also in auth_codes
    tenant_id  TEXT    NOT NULL REFERENCES tenants (id), -- the client's tenant
    client_id  TEXT    NOT NULL,                         -- the client it was issued to
    user_id    TEXT    NOT NULL,                         -- the user
    scope      TEXT    NOT NULL,                         -- scopes granted at the code exchange
    auth_time  BIGINT NOT NULL,                         -- when the user authenticated
    revoked_at BIGINT,                                  -- set when the family is revoked
    expires_at BIGINT NOT NULL                          -- after this nothing of it is valid
);
CREATE INDEX token_families_expiry ON token_families (expires_at);

-- Access-token jtis issued in a family, so revoking the family revokes them too.
CREATE TABLE family_jtis (
    family_id TEXT    NOT NULL REFERENCES token_families (id) ON DELETE CASCADE,
    jti       TEXT    NOT NULL,                          -- the access token's jti
    exp       BIGINT NOT NULL,                          -- its expiry
    PRIMARY KEY (family_id, jti)
);

-- Refresh tokens: rotated on every use; a second use of one revokes its family.
CREATE TABLE refresh_tokens (
    token_hash BYTEA   NOT NULL PRIMARY KEY,             -- HMAC of the token
    family_id  TEXT    NOT NULL REFERENCES token_families (id) ON DELETE CASCADE,
    client_id  TEXT    NOT NULL,                         -- the client it was issued to
    created_at BIGINT NOT NULL,                         -- unix seconds
    expires_at BIGINT NOT NULL,                         -- unix seconds
    used_at    BIGINT                                   -- set when it was rotated
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
