-- RFC 9449 (SPEC §9): the DPoP key an authorization code is bound to (§10, `dpop_jkt`), and
-- the one a public client's refresh tokens are bound to (§5); NULL = not bound.
ALTER TABLE auth_codes ADD COLUMN dpop_jkt TEXT;
ALTER TABLE token_families ADD COLUMN dpop_jkt TEXT;
