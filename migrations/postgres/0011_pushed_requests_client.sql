-- Live pushed requests are counted per client (a client holds at most 1,000, SPEC §7.2).
CREATE INDEX pushed_requests_client ON pushed_requests (client_id, expires_at);
