-- Requests anyone may make by a public client's id alone are capped per client (0010, 0011)
-- and, so that one address cannot use up a client's cap and lock its real devices or users
-- out, per requesting address too (100 live ones each). The address is the one the failure
-- limiter counts: an IPv4 address, or an IPv6 /64 written `2001:db8::/64`. Rows made before
-- this migration count as address '' until they expire (minutes).
ALTER TABLE device_codes ADD COLUMN remote TEXT NOT NULL DEFAULT '';    -- who asked (RFC 8628 §3.1)
ALTER TABLE pushed_requests ADD COLUMN remote TEXT NOT NULL DEFAULT ''; -- who pushed (RFC 9126 §2.1)
-- Counting one address's live rows of a client.
CREATE INDEX device_codes_client_remote_expiry ON device_codes (client_id, remote, expires_at);
CREATE INDEX pushed_requests_client_remote_expiry ON pushed_requests (client_id, remote, expires_at);
