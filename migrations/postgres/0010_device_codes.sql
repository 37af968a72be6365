-- Device authorization grant (RFC 8628, SPEC §9): one row per device authorization request,
-- from `POST /oauth/device_authorization` until it is redeemed at the token endpoint or
-- purged an hour after it expired. Same conventions as 0004: TEXT ids, BIGINT times (unix
-- seconds), hashes BYTEA. The device code and the user code are stored only as HMAC-SHA-256
-- under the master key, so a copy of the database redeems and approves nothing.
CREATE TABLE device_codes (
    device_hash   BYTEA   NOT NULL PRIMARY KEY,             -- HMAC of the device_code
    user_hash     BYTEA   NOT NULL UNIQUE,                  -- HMAC of the normalized user code
    tenant_id     TEXT    NOT NULL REFERENCES tenants (id), -- the client's tenant
    client_id     TEXT    NOT NULL,                         -- who asked, and may redeem it
    scope         TEXT    NOT NULL,                         -- requested scopes, space-separated
    status        TEXT    NOT NULL DEFAULT 'pending',       -- pending, approved or denied
    user_id       TEXT,                                     -- who approved or denied it
    granted_scope TEXT,                                     -- scopes the approval granted
    auth_time     BIGINT,                                   -- when that user authenticated
    poll_interval BIGINT NOT NULL,                          -- seconds; +5 after each slow_down
    last_poll_at  BIGINT,                                   -- the last token request for it
    used_at       BIGINT,                                   -- set by the one redemption
    created_at    BIGINT NOT NULL,                          -- unix seconds
    expires_at    BIGINT NOT NULL                           -- unix seconds (created_at + 600)
);
-- Purging, and counting a client's live codes (the cap on unauthenticated requests).
CREATE INDEX device_codes_client_expiry ON device_codes (client_id, expires_at);
CREATE INDEX device_codes_expiry ON device_codes (expires_at);
