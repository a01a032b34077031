-- Expired-session cleanup claims (SQLite).
--
-- A cleanup worker leases the expired sessions it is processing until `claimed_until` (unix
-- seconds), so concurrent workers take different sessions; a lease that lapses (its worker
-- died) makes the session claimable again. NULL: never claimed.

ALTER TABLE server_side_sessions ADD COLUMN claimed_until BIGINT NULL;
