-- The revocation list of JWT access tokens (SQLite).
--
-- A revoked JWT's `jti` is kept until the token's `exp` (`expires`, unix seconds), after which
-- the token is refused anyway and the background upkeep deletes the row (hence the index).
-- `client_id` is the client the token was issued to. A new table: the previous version, which
-- does not read it, keeps serving (and keeps accepting revoked JWTs until it is replaced).

CREATE TABLE revoked_tokens (
    jti       TEXT NOT NULL PRIMARY KEY,
    client_id TEXT NOT NULL,
    expires   BIGINT NOT NULL
);

CREATE INDEX revoked_tokens_expires ON revoked_tokens (expires);
