-- Pushed authorization requests (RFC 9126, SPEC §9). Same conventions as 0004: TEXT ids,
-- BIGINT times (unix seconds), hashes BYTEA. The request_uri's random part exists only at the
-- client and in the browser; the table keeps its HMAC under the master key.
CREATE TABLE pushed_requests (
    id_hash      BYTEA   NOT NULL PRIMARY KEY,             -- HMAC of the request_uri's random part
    tenant_id    TEXT    NOT NULL REFERENCES tenants (id), -- the client's tenant
    client_id    TEXT    NOT NULL,                         -- the client that pushed it (only it may use it)
    params       TEXT    NOT NULL,                         -- the validated authorization parameters, form-encoded
    browser_hash BYTEA,                                    -- HMAC of the CSRF binding of the browser that opened it first
    expires_at   BIGINT  NOT NULL                          -- 60 s after the push; once opened, 600 s after the last use
);
CREATE INDEX pushed_requests_expiry ON pushed_requests (expires_at);
