-- Registered internal services (SPEC §4), SQLite flavour (twin: migrations/postgres/0002_services.sql).
-- Services are global: they belong to no tenant (their tokens count as tenant `default`'s).
CREATE TABLE services (
    name             TEXT    NOT NULL PRIMARY KEY, -- the service's name: `sub` of its tokens, Basic user name
    audiences        TEXT    NOT NULL,             -- JSON array: audiences replacing the profile's (empty = the profile's)
    ttl              INTEGER,                      -- token lifetime in seconds; NULL = the `service` profile's
    bindings         TEXT    NOT NULL,             -- JSON array of {"type":"secret"|"gateway"|"aws_iam"|"mtls", …}
    secret_hash      BLOB,                         -- HMAC of the current secret (secret binding); NULL if none
    prev_secret_hash BLOB,                         -- HMAC of the secret replaced by the last rotation
    prev_expires_at  INTEGER,                      -- unix seconds after which the previous secret is refused
    created_at       INTEGER NOT NULL,             -- unix seconds
    updated_at       INTEGER NOT NULL              -- unix seconds of the last change
);
