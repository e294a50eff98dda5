-- The visible bound: the first position a global-log reader may not pass yet. Every
-- global read (read_all.sql, settled_position.sql) starts with this, so that the bound
-- and the rows come from the same statement snapshot S. $1 is the read's start (0 for
-- the settled head).
--
-- An event's position is ((xid + base) << 20) | index, where xid is the appending
-- transaction's id. A reader may return positions below B only if no transaction that
-- can still commit an event below B is invisible to S. The bound is
--
--     B = min(xmax(S), every x in xip(S) that might append to this store)
--
-- where xip(S) are the transactions in progress at S and xmax(S) is above every id
-- assigned before S finished. Ids assigned after S are >= xmax(S), so the rest of the
-- cluster's future is above B by construction; only xip(S) needs a look.
--
-- Which of xip(S) might append here? The store's lock-key contract: a transaction that
-- appends holds one of the store's advisory locks (classid = hashtext(schema),
-- objsubid 1 for the "may append" marker, 2 for a stream's write lock) BEFORE it is
-- assigned a transaction id, and until it ends. pg_locks is not MVCC: we read it at a time
-- T after S. We pass x in xip(S) only on positive evidence, at T, that x is a stranger:
--
--   (a) the ExclusiveLock on x's own transaction id is granted at T (x is still running:
--       a transaction holds it from its id's assignment to its end; waiters on x hold
--       ShareLock, which is why the mode is checked), and
--   (b) the process holding it (same pid) holds none of the store's advisory locks at T.
--
-- (b) matches on the pid, not on pg_locks.virtualtransaction: that column is read from the
-- holder's PGPROC row by row without the lock that guards it, and a committing backend
-- clears its local transaction id (ProcArrayEndTransaction) before it releases its locks.
-- A scan can then show x's id lock as "B/17" and its advisory lock as "B/0", and a match on
-- the virtual id would pass a committing appender. A backend's pid never changes.
--
-- If x could append, it took a store lock before its id, so before S; it keeps the lock
-- until it ends; and it releases its transaction-id lock before its advisory locks when it
-- ends (ProcReleaseLocks: the default lock method first, then advisory). So while (a)
-- holds at T, x still holds its store lock at T and (b) fails. pg_locks is read under all
-- lock-manager partition locks at once, so (a) and (b) see one instant. Hence a passed x
-- never appends, and every transaction that may still commit below B is visible to S
-- with all its events, or is one that ended between S and T, which we did not pass:
-- an appender committing in that window keeps B at its id for this read, and the next
-- read (a later snapshot) sees its events. Nothing below B can appear later.
--
-- Prepared transactions: their locks move to a dummy process with a NULL pid whose virtual
-- id is fixed at PREPARE (it is no backend's, so nothing clears it), so for them (b) matches
-- on the virtual id: an orphaned prepared transaction that never took a store lock is a
-- stranger too; one that did blocks until it is committed or rolled back.
--
-- Cost: when nothing visible lies at or above the cluster-wide bound (xmin(S)), that bound
-- returns the same rows and pg_locks is not read at all (the ELSE branch is a subplan
-- that only runs when needed). Otherwise one scan of pg_lock_status() (all locks of the
-- cluster, filtered to transaction ids and this store's advisory keys) and of xip(S).
WITH snapshot AS (
    SELECT pg_current_snapshot() AS s, (SELECT value FROM position_base) AS base
), bound AS (
    SELECT CASE
        -- (The head, not NOT EXISTS: for EXISTS the planner may pick a sequential scan
        -- that expects to meet a match early, and events above xmin are at the end.)
        WHEN coalesce((SELECT max(position) FROM events), 0)
             < greatest($1, (pg_snapshot_xmin(s)::text::bigint + base) << 20)
        THEN (pg_snapshot_xmin(s)::text::bigint + base) << 20
        ELSE (
            WITH locks AS MATERIALIZED (
                SELECT locktype, transactionid, virtualtransaction, pid
                FROM pg_locks
                WHERE granted
                  AND ((locktype = 'transactionid' AND mode = 'ExclusiveLock')
                       OR (locktype = 'advisory'
                           AND classid = hashtext(current_schema())::oid
                           AND objsubid IN (1, 2)
                           AND database = (SELECT oid FROM pg_database
                                           WHERE datname = current_database())))
            )
            SELECT (coalesce(min(x::text::bigint), pg_snapshot_xmax(s)::text::bigint) + base)
                   << 20
            FROM pg_snapshot_xip(s) AS x
            WHERE NOT EXISTS (
                SELECT 1 FROM locks stranger
                WHERE stranger.locktype = 'transactionid'
                  AND stranger.transactionid = x::xid
                  AND NOT EXISTS (
                      SELECT 1 FROM locks appender
                      WHERE appender.locktype = 'advisory'
                        AND (appender.pid = stranger.pid
                             OR (stranger.pid IS NULL AND appender.pid IS NULL
                                 AND appender.virtualtransaction
                                     = stranger.virtualtransaction))))
        )
    END AS position
    FROM snapshot
)
