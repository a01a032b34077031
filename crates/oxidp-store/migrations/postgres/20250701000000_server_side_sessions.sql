-- Server-side sessions (PostgreSQL).
--
-- The browser cookie carries only `key`; `ticket` is the data-protection envelope of the
-- serialized authentication ticket. The other columns are plaintext copies kept to find, page
-- and expire sessions. Timestamps are unix seconds; `expires` NULL never expires.
-- Text columns that are compared or ordered use the "C" collation (byte order, as SQLite and
-- the in-memory store compare), which also lets the display-name prefix search use its index.

CREATE TABLE server_side_sessions (
    key          TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    scheme       TEXT NOT NULL,
    subject_id   TEXT COLLATE "C" NOT NULL,
    session_id   TEXT COLLATE "C" NOT NULL,
    display_name TEXT COLLATE "C" NULL,
    created      BIGINT NOT NULL,
    renewed      BIGINT NOT NULL,
    expires      BIGINT NULL,
    ticket       BYTEA NOT NULL
);

-- Lookups by subject, and by subject and session id.
CREATE INDEX server_side_sessions_subject_session
    ON server_side_sessions (subject_id, session_id);
-- Lookups by session id alone.
CREATE INDEX server_side_sessions_session ON server_side_sessions (session_id);
-- Display-name prefix search (a range on display_name), in paging order.
CREATE INDEX server_side_sessions_display_name
    ON server_side_sessions (display_name, created, key);
-- Removal of expired sessions, oldest expiry first.
CREATE INDEX server_side_sessions_expires ON server_side_sessions (expires);
-- Keyset paging over (created, key).
CREATE INDEX server_side_sessions_created ON server_side_sessions (created, key);
