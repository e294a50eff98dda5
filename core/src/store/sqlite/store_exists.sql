-- Whether the database holds a Factum event store (its journal table).
SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'factum_events'
