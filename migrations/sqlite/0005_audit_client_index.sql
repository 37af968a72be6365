-- Hot path (issue #6): every issued token writes one audit row. An index on
-- (client_id, at) takes those rows at random places: with 10,000 clients in round robin each
-- batch of 512 rows dirtied ~512 index pages, which cost a third of the server's CPU on
-- SQLite (WAL writes and checkpoints) and the same work in the PostgreSQL server. The
-- remaining indexes grow at one end only. A client filter now walks (tenant_id, at) or (at)
-- newest first and stops at the limit: quick for any client that is active, a scan of the
-- table for one that has no recent events (an occasional admin query, not the hot path).
DROP INDEX audit_events_client_at;
