-- Whether the schema ($1) holds a Factum event store (its journal table).
SELECT EXISTS (
    SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'events'
)
