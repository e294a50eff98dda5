BEGIN;
-- The store's "this transaction may append" marker, first, before the transaction has an
-- id: global-log readers tell appenders of this store from strangers by it (shared, so
-- transactions never wait for each other here).
SELECT pg_advisory_xact_lock_shared(hashtext(current_schema())::bigint << 32);
