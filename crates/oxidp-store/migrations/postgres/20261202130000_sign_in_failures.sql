-- Failed sign-in counters shared by every instance (PostgreSQL).
--
-- `key` is a hash of (username, client address) or of the address alone, so the table holds
-- neither usernames nor addresses. `last_failure` and `expires` are unix seconds; a counter
-- whose `expires` has passed counts as none and is deleted by the background upkeep (hence
-- the index). A new table: the previous version, which does not know it, keeps serving.

CREATE TABLE sign_in_failures (
    key          TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    failures     BIGINT NOT NULL,
    last_failure BIGINT NOT NULL,
    expires      BIGINT NOT NULL
);

CREATE INDEX sign_in_failures_expires ON sign_in_failures (expires);
