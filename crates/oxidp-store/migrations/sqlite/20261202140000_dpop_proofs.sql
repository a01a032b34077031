-- The DPoP proofs seen (SQLite), so that a proof is honoured once across every instance.
--
-- `key` is base64url(SHA-256(jkt ":" jti)): the proof's key thumbprint and id, hashed so that
-- a client-chosen jti of any content has one fixed length. A row is inserted with
-- `ON CONFLICT DO NOTHING`; the one insert that adds the row accepts the proof. `expires`
-- (unix seconds) is when the proof has become too old to be accepted anyway; the background
-- upkeep deletes such rows (hence the index). A new table: the previous version, which does
-- not read it, keeps serving.

CREATE TABLE dpop_proofs (
    key     TEXT NOT NULL PRIMARY KEY,
    expires BIGINT NOT NULL
);

CREATE INDEX dpop_proofs_expires ON dpop_proofs (expires);
