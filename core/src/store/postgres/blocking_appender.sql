-- After a global-log read gave up waiting: the oldest transaction that holds one of this
-- store's advisory locks (see visible_bound.sql) and has a transaction id, for the error
-- and the metric. Prepared transactions have no pid; pg_prepared_xacts names them.
WITH locks AS MATERIALIZED (
    SELECT locktype, transactionid, virtualtransaction, pid
    FROM pg_locks
    WHERE granted
      AND ((locktype = 'transactionid' AND mode = 'ExclusiveLock')
           OR (locktype = 'advisory'
               AND classid = hashtext(current_schema())::oid
               AND objsubid IN (1, 2)
               AND database = (SELECT oid FROM pg_database WHERE datname = current_database())))
), appenders AS (
    SELECT xact.transactionid AS xid, xact.pid
    FROM locks xact
    WHERE xact.locktype = 'transactionid'
      AND EXISTS (SELECT 1 FROM locks store
                  WHERE store.locktype = 'advisory'
                    AND (store.pid = xact.pid
                         OR (store.pid IS NULL AND xact.pid IS NULL
                             AND store.virtualtransaction = xact.virtualtransaction)))
)
SELECT a.pid,
       coalesce(activity.datname, prepared.database, current_database())::text,
       extract(epoch FROM now() - coalesce(activity.xact_start, prepared.prepared))::float8,
       prepared.gid
FROM appenders a
LEFT JOIN pg_stat_activity activity ON activity.pid = a.pid
LEFT JOIN pg_prepared_xacts prepared ON a.pid IS NULL AND prepared.transaction = a.xid
ORDER BY age(a.xid) DESC
LIMIT 1
