-- Appends no longer notify from inside their transaction: a transaction that called
-- pg_notify takes a cluster-wide lock at commit, which serialised the commits of all
-- concurrent appenders. The store now raises its in-process signal after its own
-- appends and sends at most one coalesced notification per few milliseconds on its own
-- connection, outside any append (see PostgresStore and docs/ARCHITECTURE.md).
DROP TRIGGER IF EXISTS events_appended ON events;
DROP FUNCTION IF EXISTS notify_appended();
