-- Local user accounts (SQLite).
--
-- `profile` is the serde JSON of `UserProfile` (claims and roles); `password_hash` is a PHC
-- argon2id string, NULL for an account that cannot sign in with a password. `created` is unix
-- seconds. The UNIQUE constraint on `username` is also the index that login lookups and the
-- ordered listing use.

CREATE TABLE users (
    subject_id    TEXT NOT NULL PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NULL,
    profile       TEXT NOT NULL,
    enabled       BOOLEAN NOT NULL,
    created       BIGINT NOT NULL
);
