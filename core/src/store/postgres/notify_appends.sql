-- Tells LISTENing stores of this schema, in other processes, that events were appended.
-- Sent by the store's notifier task in its own transaction, never an append's: a
-- transaction that notified takes a cluster-wide lock at commit.
SELECT pg_notify('factum_appends', $1)
