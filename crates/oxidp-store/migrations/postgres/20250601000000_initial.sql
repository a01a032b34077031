-- oxidp initial schema (PostgreSQL).
--
-- Every timestamp is a BIGINT of unix seconds (UTC), in PostgreSQL as in SQLite: the stores keep
-- whole seconds, so a value read back equals the value written, and one set of queries serves
-- both databases.
-- Text keys use the "C" collation so that listings are in byte order, the same order as the
-- in-memory store and SQLite, whatever the database's locale.
-- Client and API resource bodies are the serde JSON of the domain structs; the columns beside
-- them exist for keys and bookkeeping only.

CREATE TABLE clients (
    client_id TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    data      TEXT NOT NULL,
    created   BIGINT NOT NULL,
    updated   BIGINT NOT NULL
);

CREATE TABLE api_resources (
    name    TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    data    TEXT NOT NULL,
    created BIGINT NOT NULL,
    updated BIGINT NOT NULL
);

CREATE TABLE persisted_grants (
    key        TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    grant_type TEXT COLLATE "C" NOT NULL,
    subject_id TEXT COLLATE "C" NULL,
    session_id TEXT COLLATE "C" NULL,
    client_id  TEXT COLLATE "C" NOT NULL,
    created    BIGINT NOT NULL,
    expires    BIGINT NULL,
    consumed   BIGINT NULL,
    data       TEXT NOT NULL
);

CREATE INDEX persisted_grants_subject_session_type
    ON persisted_grants (subject_id, session_id, grant_type);
CREATE INDEX persisted_grants_client ON persisted_grants (client_id);
CREATE INDEX persisted_grants_session ON persisted_grants (session_id);
CREATE INDEX persisted_grants_expires ON persisted_grants (expires);

CREATE TABLE signing_keys (
    id                    TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    algorithm             TEXT NOT NULL,
    created               BIGINT NOT NULL,
    activates             BIGINT NOT NULL,
    protected_private_key BYTEA NOT NULL,
    public_jwk            TEXT NOT NULL
);

-- id is the key's UUID in its lowercase hyphenated text form.
CREATE TABLE data_protection_keys (
    id        TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    created   BIGINT NOT NULL,
    activates BIGINT NOT NULL,
    expires   BIGINT NOT NULL,
    material  BYTEA NOT NULL
);
