-- Expired-session cleanup without leases (SQLite).
--
-- A cleanup worker now holds the batch it takes in an open transaction (row locks on
-- PostgreSQL, the write lock on SQLite) instead of leasing it in `claimed_until`: the lease
-- cost a write of every expired row before its deletion.

ALTER TABLE server_side_sessions DROP COLUMN claimed_until;
