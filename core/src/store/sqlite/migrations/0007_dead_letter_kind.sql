-- Why each event was parked: 'handler' (the handler's own error), 'decode' (the event
-- does not decode or upcast), 'row' (a read-model row could not be stored) or
-- 'database' (the database refused the handler's SQL), or 'behind' (not tried: an
-- earlier event of its stream is parked). Failures of the surroundings (a
-- lost connection, a timeout) are retried and never parked.
ALTER TABLE factum_dead_letters ADD COLUMN error_kind text NOT NULL DEFAULT 'handler';
