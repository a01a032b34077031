-- Local user accounts (PostgreSQL).
--
-- `profile` is the serde JSON of `UserProfile` (claims and roles); `password_hash` is a PHC
-- argon2id string, NULL for an account that cannot sign in with a password. `created` is unix
-- seconds. Keys use the "C" collation (byte order, as SQLite and the in-memory store list them).
-- The UNIQUE constraint on `username` is also the index that login lookups and the ordered
-- listing use.

CREATE TABLE users (
    subject_id    TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    username      TEXT COLLATE "C" NOT NULL UNIQUE,
    password_hash TEXT NULL,
    profile       TEXT NOT NULL,
    enabled       BOOLEAN NOT NULL,
    created       BIGINT NOT NULL
);
