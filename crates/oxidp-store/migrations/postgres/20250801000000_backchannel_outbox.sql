-- The back-channel logout outbox (PostgreSQL).
--
-- A message is written in the same transaction as the session removal that caused it and
-- delivered (and retried) by a background worker. `id` is the message's UUIDv7 in canonical
-- (lowercase, hyphenated) text, whose byte order is its time order; `next_attempt` is also the
-- lease of a claimed message. Timestamps are unix seconds. `status` is `pending`, `delivered`
-- or `failed`; `reason` is the logout token's `logout_reason`. Text compared or ordered uses
-- the "C" collation (byte order, as SQLite and the in-memory store compare).

CREATE TABLE backchannel_outbox (
    id            TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    client_id     TEXT NOT NULL,
    endpoint      TEXT NOT NULL,
    logout_token  TEXT NOT NULL,
    subject_id    TEXT NOT NULL,
    session_id    TEXT NOT NULL,
    reason        TEXT NOT NULL,
    created       BIGINT NOT NULL,
    next_attempt  BIGINT NOT NULL,
    attempts      INTEGER NOT NULL,
    give_up_after BIGINT NOT NULL,
    status        TEXT COLLATE "C" NOT NULL
);

-- Claiming the due messages: pending ones by next attempt.
CREATE INDEX backchannel_outbox_status_next_attempt
    ON backchannel_outbox (status, next_attempt);
-- Listing the messages of one status, newest (greatest id) first.
CREATE INDEX backchannel_outbox_status_id ON backchannel_outbox (status, id);

-- One row per delivery attempt; `http_status` is NULL when the client did not answer.
CREATE TABLE backchannel_attempts (
    message_id  TEXT COLLATE "C" NOT NULL
        REFERENCES backchannel_outbox (id) ON DELETE CASCADE,
    at          BIGINT NOT NULL,
    http_status INTEGER NULL,
    error       TEXT NULL
);

-- The attempts of one message, oldest first.
CREATE INDEX backchannel_attempts_message_at ON backchannel_attempts (message_id, at);
