-- The audit trail of administrative session removals (PostgreSQL).
--
-- `id` is the entry's UUIDv7 in canonical (lowercase, hyphenated) text, whose byte order is
-- its time order, so "newest first" is `ORDER BY id DESC`. `at` is unix seconds; `actor` is
-- `page:<subject id>`, `api:<client id>` or `cli:<user>`; `request` and `outcome` are JSON.
-- Entries are only ever appended.

CREATE TABLE audit_log (
    id      TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    at      BIGINT NOT NULL,
    actor   TEXT NOT NULL,
    request TEXT NOT NULL,
    outcome TEXT NOT NULL
);
