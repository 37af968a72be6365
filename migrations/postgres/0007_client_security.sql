-- SPEC §9: a client's DPoP, PAR and mutual-TLS settings (RFC 7591 metadata names), as one
-- JSON object so that the next such setting needs no migration.
ALTER TABLE clients ADD COLUMN security TEXT NOT NULL DEFAULT '{}';
