-- The outbox carries messages of several kinds (SQLite).
--
-- `kind` names what a message is (`backchannel_logout` today; CIBA pings and webhook events
-- next) and `payload` holds what it says, as JSON. Every existing row is a back-channel logout
-- notification and gets that kind from the default; its payload stays NULL and is read from the
-- legacy columns (`subject_id`, `session_id`, `reason`), which is also how rows written by a
-- previous version still serving during a rolling upgrade are read. Adding nullable or
-- defaulted columns changes no row and blocks no reader, so the previous version keeps
-- serving meanwhile. New back-channel logout rows fill the legacy columns too, for that
-- previous version; kinds that have no use for them write empty strings there, and must not be
-- enqueued while a version that predates this migration still delivers.

ALTER TABLE backchannel_outbox ADD COLUMN kind TEXT NOT NULL DEFAULT 'backchannel_logout';
ALTER TABLE backchannel_outbox ADD COLUMN payload TEXT NULL;
