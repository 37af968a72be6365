-- OIDC RP-Initiated Logout 1.0 (SPEC §7.1): where a client may send the browser after its
-- user signed out; exact match, like redirect_uris. JSON array.
ALTER TABLE clients ADD COLUMN post_logout_redirect_uris TEXT NOT NULL DEFAULT '[]';
