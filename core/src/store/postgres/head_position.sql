-- The last committed position. A global-log reader may briefly not return it yet, while
-- a transaction older than it is still in flight (see read_all.sql).
SELECT coalesce(max(position), 0) FROM events
