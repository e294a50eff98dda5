//! The event-store conformance suite, run against every backend.

use factum_tests::backends::{self, TestStore};
use factum_tests::store_conformance_tests;

async fn nothing<S>(_: TestStore<S>) {}

store_conformance_tests!(memory, backends::memory, nothing);
store_conformance_tests!(sqlite_file, backends::sqlite_file, nothing);
store_conformance_tests!(sqlite_memory, backends::sqlite_memory, nothing);
store_conformance_tests!(postgres, backends::postgres, TestStore::cleanup);
store_conformance_tests!(
    nats,
    backends::nats,
    TestStore::destroy,
    without_transactions
);

/// What only PostgreSQL has: transaction ids in positions, and the marker lock.
mod postgres_transactions {
    use factum::{EventData, EventStore, ExpectedVersion, ReadAll, StoreError, StreamId};
    use factum::{StoreTransaction, TransactionalStore};
    use factum_tests::backends::{self, CallerRows};
    use futures_util::TryStreamExt;
    use serde_json::json;

    fn ev(n: i64) -> EventData {
        EventData::new("Counted", json!({ "n": n }))
    }

    /// A transaction begins with the store's marker lock, before it has an id (the key
    /// space readers rely on to tell this store's appenders from strangers).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn begin_takes_the_marker_lock_before_an_id() {
        let Some(store) = backends::postgres("begin_marker", Default::default()).await else {
            return;
        };
        let mut tx = store.begin().await.unwrap();
        let (markers, xid): (i64, Option<String>) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM pg_locks
                     WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted
                       AND mode = 'ShareLock' AND classid = hashtext(current_schema())::oid
                       AND objid = 0 AND objsubid = 1),
                    pg_current_xact_id_if_assigned()::text",
        )
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        assert_eq!(markers, 1);
        assert_eq!(
            xid, None,
            "the marker comes before the transaction has an id"
        );
        tx.rollback().await.unwrap();
        store.cleanup().await;
    }

    /// A transaction that got its id (by a write of its own) before another transaction
    /// appended to a stream and committed cannot append to that stream: its events would
    /// come before the stream's last one in the global log. It is told to roll back and
    /// retry; appending first works.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_late_append_is_refused_and_a_retry_succeeds() {
        let Some(store) = backends::postgres("late_append", Default::default()).await else {
            return;
        };
        store.create_table().await;
        let s = StreamId::new("hot-1").unwrap();
        store
            .append(&s, ExpectedVersion::NoStream, vec![ev(0)])
            .await
            .unwrap();

        let mut tx = store.begin().await.unwrap();
        PgStore::write_row(&mut tx, "late").await;
        store
            .append(&s, ExpectedVersion::Exact(1), vec![ev(1)])
            .await
            .unwrap();
        let err = tx
            .append(&s, ExpectedVersion::Exact(2), vec![ev(2)])
            .await
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::TransactionTooLate { stream } if *stream == s),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .contains("roll the transaction back and retry")
        );
        tx.rollback().await.unwrap();

        // The retry appends before its other writes: it is accepted.
        let mut tx = store.begin().await.unwrap();
        tx.append(&s, ExpectedVersion::Exact(2), vec![ev(2)])
            .await
            .unwrap();
        PgStore::write_row(&mut tx, "late").await;
        tx.commit().await.unwrap();
        assert_eq!(store.count_rows("late").await, Some(1));

        // The global log holds the stream in version order.
        let log: Vec<_> = store
            .read_all(ReadAll::from(factum::Position::START))
            .try_collect()
            .await
            .unwrap();
        let versions: Vec<u64> = log.iter().map(|e| e.stream_version).collect();
        assert_eq!(versions, [1, 2, 3]);
        store.cleanup().await;
    }

    type PgStore = factum::PostgresStore;
}
