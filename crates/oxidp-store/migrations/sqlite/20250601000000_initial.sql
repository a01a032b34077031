-- oxidp initial schema (SQLite).
--
-- Every timestamp is a BIGINT of unix seconds (UTC), in SQLite as in PostgreSQL: the stores keep
-- whole seconds, so a value read back equals the value written.
-- Client and API resource bodies are the serde JSON of the domain structs; the columns beside
-- them exist for keys and bookkeeping only.

CREATE TABLE clients (
    client_id TEXT NOT NULL PRIMARY KEY,
    data      TEXT NOT NULL,
    created   BIGINT NOT NULL,
    updated   BIGINT NOT NULL
);

CREATE TABLE api_resources (
    name    TEXT NOT NULL PRIMARY KEY,
    data    TEXT NOT NULL,
    created BIGINT NOT NULL,
    updated BIGINT NOT NULL
);

CREATE TABLE persisted_grants (
    key        TEXT NOT NULL PRIMARY KEY,
    grant_type TEXT NOT NULL,
    subject_id TEXT NULL,
    session_id TEXT NULL,
    client_id  TEXT NOT NULL,
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
    id                    TEXT NOT NULL PRIMARY KEY,
    algorithm             TEXT NOT NULL,
    created               BIGINT NOT NULL,
    activates             BIGINT NOT NULL,
    protected_private_key BLOB NOT NULL,
    public_jwk            TEXT NOT NULL
);

-- id is the key's UUID in its lowercase hyphenated text form.
CREATE TABLE data_protection_keys (
    id        TEXT NOT NULL PRIMARY KEY,
    created   BIGINT NOT NULL,
    activates BIGINT NOT NULL,
    expires   BIGINT NOT NULL,
    material  BLOB NOT NULL
);
