-- RFC 8705 §4 (SPEC §9): the `x5t#S256` of the TLS client certificate a public client's
-- refresh tokens are bound to, set when its access tokens are certificate-bound; a refresh
-- must then come over that certificate. NULL = not bound (as `dpop_jkt`, 0008).
ALTER TABLE token_families ADD COLUMN x5t_s256 TEXT;
