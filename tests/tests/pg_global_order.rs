//! Gap-free global order on PostgreSQL, under real concurrency.
//!
//! Eight writers append in parallel to a pool of streams (some shared between writers,
//! so expected-version conflicts and row locks are exercised too), and a ninth holds
//! appends open inside a caller's transaction while the others commit, then commits (or
//! rolls back) them late, while a reader tails the global log with `read_all`,
//! checkpointing by position the way a subscriber does. At the end the reader must have
//! seen every committed event exactly once, and every stream's versions in order with no
//! gaps.
//!
//! How we know this test can fail: before writers of a stream were serialised ahead of
//! taking a transaction id, it failed on every run with about 450 events out of stream
//! order. And `naive_reader_misses_a_late_commit` shows, deterministically, that a reader
//! of the same table by position alone (what a BIGSERIAL reader does) misses an event
//! committed late, while Factum's reader returns it.
//!
//! The other tests prove that transactions which do not append to the store (open in
//! another database of the server, idle in transaction in the store's database, prepared
//! and forgotten) do not hold its readers back, while one that appends does, and is named.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use factum::projection::subscription::Subscription;
use factum::{
    EventData, EventId, EventStore, ExpectedVersion, Position, ReadAll, StoreError, StreamId,
};
use factum::{PostgresConfig, PostgresStore};
use factum_tests::backends;
use futures_util::TryStreamExt;
use serde_json::json;
use sqlx::{Connection, Row};

const WRITERS: usize = 8;
const APPENDS_PER_WRITER: usize = 150;
const STREAMS: usize = 3;

/// One event as the reader saw it.
#[derive(Debug, Clone)]
struct Seen {
    id: EventId,
    stream: String,
    version: u64,
}

/// Writers append to random streams, with `Any` (an upsert of the stream row) or, for odd
/// writers, `StreamExists` (a plain update of it, falling back to `Any` while the stream
/// does not exist yet); returns every committed event id.
async fn write(store: Arc<PostgresStore>, writer: usize) -> Vec<EventId> {
    let mut committed = Vec::new();
    let mut seed = writer as u64 * 7919 + 1;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for i in 0..APPENDS_PER_WRITER {
        let stream = StreamId::new(format!("acct-{}", next() % STREAMS as u64)).unwrap();
        let size = 1 + (next() % 4) as usize;
        let batch: Vec<_> = (0..size)
            .map(|k| EventData::new("Moved", json!({ "writer": writer, "i": i, "k": k })))
            .collect();
        let ids: Vec<_> = batch.iter().map(EventData::id).collect();
        let expected = if writer % 2 == 1 {
            ExpectedVersion::StreamExists
        } else {
            ExpectedVersion::Any
        };
        match store.append(&stream, expected, batch.clone()).await {
            Ok(_) => {}
            Err(factum::StoreError::WrongExpectedVersion { .. }) => {
                store
                    .append(&stream, ExpectedVersion::Any, batch)
                    .await
                    .expect("append");
            }
            Err(e) => panic!("append: {e}"),
        }
        committed.extend(ids);
    }
    committed
}

/// An append held open inside a caller's transaction, to be committed (or rolled back)
/// later. `PostgresStore::begin()` is being built on another branch; until it lands this is
/// raw sqlx that follows its contract exactly: BEGIN, the store's "this transaction may
/// append" marker lock as the first statement (before the transaction has an id), then the
/// store's own append statement. With the API it becomes
/// `let mut tx = store.begin().await?; tx.append(stream, ExpectedVersion::Any, events)`.
struct LateAppend {
    tx: sqlx::Transaction<'static, sqlx::Postgres>,
    ids: Vec<EventId>,
    positions: Vec<Position>,
    /// The server process of the transaction.
    pid: i32,
}

impl LateAppend {
    async fn begin(store: &PostgresStore, stream: &StreamId, events: Vec<EventData>) -> Self {
        let mut tx = store.pool().begin().await.expect("begin");
        sqlx::query(
            "SELECT pg_advisory_xact_lock_shared(hashtext(current_schema())::bigint << 32)",
        )
        .execute(&mut *tx)
        .await
        .expect("the marker lock");
        let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut *tx)
            .await
            .expect("pid");
        let ids: Vec<EventId> = events.iter().map(EventData::id).collect();
        let uuids: Vec<uuid::Uuid> = ids.iter().map(|id| id.as_uuid()).collect();
        let types: Vec<&str> = events.iter().map(EventData::event_type).collect();
        let versions: Vec<i32> = events.iter().map(|e| e.schema_version() as i32).collect();
        let payloads: Vec<&str> = events
            .iter()
            .map(|e| std::str::from_utf8(e.payload_bytes()).expect("utf-8"))
            .collect();
        let metadata: Vec<Option<&str>> = vec![None; events.len()];
        let rows = sqlx::query(include_str!("../../core/src/store/postgres/append_any.sql"))
            .bind(stream.as_str())
            .bind(stream.category())
            .bind(events.len() as i64)
            .bind(true)
            .bind(uuids)
            .bind(types)
            .bind(versions)
            .bind(payloads)
            .bind(metadata)
            .fetch_all(&mut *tx)
            .await
            .expect("the store's append statement");
        assert_eq!(rows.len(), events.len(), "the append wrote every event");
        let positions = rows
            .iter()
            .map(|row| Position(row.get::<i64, _>(0) as u64))
            .collect();
        LateAppend {
            tx,
            ids,
            positions,
            pid,
        }
    }

    async fn commit(self) -> Vec<EventId> {
        self.tx.commit().await.expect("commit");
        self.ids
    }

    async fn rollback(self) {
        self.tx.rollback().await.expect("rollback");
    }
}

/// Holds appends open while the writers commit, then commits them late (every fifth is
/// rolled back instead, and must never be seen); returns the committed ids.
async fn write_late(store: Arc<PostgresStore>, done: Arc<AtomicBool>) -> Vec<EventId> {
    let mut committed = Vec::new();
    let mut i = 0;
    while !done.load(Ordering::SeqCst) {
        let stream = StreamId::new(format!("acct-{}", i % STREAMS)).unwrap();
        let events = (0..1 + i % 3)
            .map(|k| EventData::new("Late", json!({ "i": i, "k": k })))
            .collect();
        let late = LateAppend::begin(&store, &stream, events).await;
        // Later appends (of other streams; this one is locked) commit meanwhile.
        tokio::time::sleep(Duration::from_millis(5 + (i % 4) as u64 * 5)).await;
        if i % 5 == 4 {
            late.rollback().await;
        } else {
            committed.extend(late.commit().await);
        }
        i += 1;
    }
    assert!(i >= 5, "the late writer ran {i} times");
    committed
}

/// Runs the workload with `read_page(from)` as the tailing reader; returns what the
/// reader saw, in order, and what the writers committed.
async fn run<F, Fut>(store: Arc<PostgresStore>, read_page: F) -> (Vec<Seen>, Vec<EventId>)
where
    F: Fn(Arc<PostgresStore>, Position) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Vec<(Position, Seen)>> + Send,
{
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (store, done) = (store.clone(), done.clone());
        tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut from = Position::START;
            let mut idle_after_done = 0;
            loop {
                let writers_done = done.load(Ordering::SeqCst);
                let page = read_page(store.clone(), from).await;
                if let Some((last, _)) = page.last() {
                    from = last.next();
                }
                let empty = page.is_empty();
                seen.extend(page.into_iter().map(|(_, s)| s));
                if empty {
                    if writers_done {
                        idle_after_done += 1;
                        if idle_after_done > 3 {
                            break;
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
            seen
        })
    };
    let writers_done = Arc::new(AtomicBool::new(false));
    let late = tokio::spawn(write_late(store.clone(), writers_done.clone()));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| tokio::spawn(write(store.clone(), w)))
        .collect();
    let mut committed = Vec::new();
    for w in writers {
        committed.extend(w.await.expect("writer task"));
    }
    writers_done.store(true, Ordering::SeqCst);
    committed.extend(late.await.expect("late writer task"));
    done.store(true, Ordering::SeqCst);
    let seen = reader.await.expect("reader task");
    (seen, committed)
}

async fn factum_page(store: Arc<PostgresStore>, from: Position) -> Vec<(Position, Seen)> {
    let events: Vec<_> = store
        .read_all(ReadAll::from(from).limit(100))
        .try_collect()
        .await
        .expect("read_all");
    events
        .into_iter()
        .map(|e| {
            let seen = Seen {
                id: e.event_id,
                stream: e.stream_id.to_string(),
                version: e.stream_version,
            };
            (e.position, seen)
        })
        .collect()
}

/// What a BIGSERIAL subscriber does: order by position, no snapshot bound.
async fn naive_page(store: Arc<PostgresStore>, from: Position) -> Vec<(Position, Seen)> {
    let rows = sqlx::query(
        "SELECT position, event_id, stream_id, stream_version FROM events \
         WHERE position >= $1 ORDER BY position LIMIT 100",
    )
    .bind(from.value() as i64)
    .fetch_all(store.pool())
    .await
    .expect("naive read");
    rows.iter()
        .map(|row| {
            let seen = Seen {
                id: EventId::from_uuid(row.get(1)),
                stream: row.get(2),
                version: row.get::<i64, _>(3) as u64,
            };
            (Position(row.get::<i64, _>(0) as u64), seen)
        })
        .collect()
}

/// Problems with what a reader saw: (missed, duplicated, out of order per stream).
fn audit(seen: &[Seen], committed: &[EventId]) -> (usize, usize, usize) {
    let committed: HashSet<_> = committed.iter().copied().collect();
    let mut ids = HashSet::new();
    let mut duplicated = 0;
    for s in seen {
        if !ids.insert(s.id) {
            duplicated += 1;
        }
    }
    let missed = committed.difference(&ids).count();
    let mut last: HashMap<&str, u64> = HashMap::new();
    let mut out_of_order = 0;
    for s in seen {
        let prev = last.insert(&s.stream, s.version).unwrap_or(0);
        if s.version != prev + 1 {
            out_of_order += 1;
        }
    }
    (missed, duplicated, out_of_order)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tailing_reader_sees_every_event_once_in_order() {
    let Some(store) = backends::postgres("pg_global_order", Default::default()).await else {
        return;
    };
    let shared = Arc::new(store.store().clone());
    let (seen, committed) = run(shared, factum_page).await;
    assert_eq!(
        committed.len(),
        seen.len(),
        "the reader saw as many events as were committed"
    );
    let (missed, duplicated, out_of_order) = audit(&seen, &committed);
    assert_eq!(
        (missed, duplicated, out_of_order),
        (0, 0, 0),
        "missed, duplicated, out of order"
    );
    store.cleanup().await;
}

/// The BIGSERIAL trap, deterministically: an append held open in a caller's transaction
/// has a lower position than an append that commits after it. A reader by position alone
/// hands out the later event, moves its checkpoint past the earlier one and, once that
/// commits, never sees it. Factum's reader holds the later event back (and says who holds
/// it back) until the earlier transaction ends, then returns both, in order, once each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn naive_reader_misses_a_late_commit() {
    let Some(url) = backends::pg_url("naive_reader_misses_a_late_commit") else {
        return;
    };
    let schema = backends::unique_schema("naive");
    let mut config = PostgresConfig::new(&url).schema(&schema);
    config.visibility_wait = Duration::from_millis(300);
    let store = Arc::new(PostgresStore::connect_with(config).await.unwrap());

    let late = LateAppend::begin(
        &store,
        &StreamId::new("early-1").unwrap(),
        vec![EventData::new("Early", json!(1))],
    )
    .await;
    let late_position = late.positions[0];
    let late_pid = late.pid;
    let later = store
        .append(
            &StreamId::new("later-1").unwrap(),
            ExpectedVersion::NoStream,
            vec![EventData::new("Later", json!(2))],
        )
        .await
        .unwrap();
    assert!(late_position < later.last_position());

    // The naive reader takes the later event and checkpoints past the open one.
    let page = naive_page(store.clone(), Position::START).await;
    assert_eq!(
        page.len(),
        1,
        "the naive reader sees the committed later event"
    );
    let naive_checkpoint = page[0].0;
    assert_eq!(naive_checkpoint, later.last_position());

    // Factum's reader returns nothing yet, and names the transaction holding it back.
    let early: Result<Vec<_>, _> = store
        .read_all(ReadAll::from(Position::START))
        .try_collect()
        .await;
    match early {
        Err(StoreError::VisibilityTimeout {
            safe,
            head,
            blocker,
        }) => {
            assert_eq!(safe, Position::START);
            assert_eq!(head, later.last_position());
            let blocker = blocker.expect("the open appender is named");
            assert_eq!(blocker.pid, Some(late_pid));
            assert!(blocker.age.is_some() && blocker.prepared.is_none());
        }
        other => panic!("expected a visibility timeout, got {other:?}"),
    }

    let late_ids = late.commit().await;

    // The naive reader resumes after its checkpoint and has missed the late event for good.
    let resumed = naive_page(store.clone(), naive_checkpoint.next()).await;
    assert!(resumed.is_empty(), "nothing after the naive checkpoint");
    eprintln!("naive reader: missed the event committed late at {late_position:?}");

    // Factum's reader returns both, in position order, once each.
    let events: Vec<_> = store
        .read_all(ReadAll::from(Position::START))
        .try_collect()
        .await
        .unwrap();
    let ids: Vec<_> = events.iter().map(|e| e.event_id).collect();
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[0], late_ids[0]);
    assert_eq!(events[1].position, later.last_position());

    drop_schema(&store, &schema).await;
}

/// Only transactions appending to the store hold back its readers: one that has appended
/// and is still open does, and a read that runs out of `visibility_wait` says which it is;
/// a read that starts while it is open returns as soon as it ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reads_wait_for_older_appenders_within_bounds() {
    let Some(url) = backends::pg_url("reads_wait_for_older_appenders_within_bounds") else {
        return;
    };
    let schema = backends::unique_schema("wait");
    let mut config = PostgresConfig::new(&url).schema(&schema);
    config.visibility_wait = Duration::from_millis(400);
    let store = PostgresStore::connect_with(config).await.unwrap();

    // An appending transaction takes its id and stays open.
    let older = LateAppend::begin(
        &store,
        &StreamId::new("older-1").unwrap(),
        vec![EventData::new("E", json!(0))],
    )
    .await;
    let stream = StreamId::new("late-1").unwrap();
    let done = store
        .append(
            &stream,
            ExpectedVersion::NoStream,
            vec![EventData::new("E", json!(1))],
        )
        .await
        .unwrap();

    // While it is open, a read may not return the newer event; it gives up after the
    // configured wait and says so, naming the transaction.
    let started = std::time::Instant::now();
    let early: Result<Vec<_>, _> = store
        .read_all(ReadAll::from(Position::START))
        .try_collect()
        .await;
    match early {
        Err(err @ StoreError::VisibilityTimeout { .. }) => {
            let message = err.to_string();
            let StoreError::VisibilityTimeout {
                safe,
                head,
                blocker,
            } = err
            else {
                unreachable!()
            };
            assert_eq!(safe, Position::START);
            assert_eq!(head, done.last_position());
            let blocker = blocker.expect("the open appender is named");
            assert_eq!(blocker.pid, Some(older.pid));
            let database: String = sqlx::query_scalar("SELECT current_database()::text")
                .fetch_one(store.pool())
                .await
                .unwrap();
            assert_eq!(blocker.database, database);
            assert!(
                message.contains(&format!("server process {}", older.pid))
                    && message.contains(&database),
                "{message}"
            );
        }
        other => panic!("expected a visibility timeout, got {other:?}"),
    }
    assert!(started.elapsed() >= Duration::from_millis(400));
    assert!(
        store.settled_position().await.unwrap() < older.positions[0],
        "the settled head stays below the open appender"
    );

    // A read that starts now returns the event as soon as the older transaction ends.
    let reader = {
        let store = store.clone();
        tokio::spawn(async move {
            let events: Vec<_> = store
                .read_all(ReadAll::from(Position::START))
                .try_collect()
                .await
                .unwrap();
            events
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !reader.is_finished(),
        "the read must wait for the older transaction"
    );
    older.rollback().await;
    let events = reader.await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].position, done.last_position());

    drop_schema(&store, &schema).await;
}

/// What a subscriber of the store can read right now, without waiting: `read_all` from
/// the start (an error if it had to give up waiting), `settled_position`, and one
/// `Subscription::poll_batch`.
async fn read_now(
    store: &PostgresStore,
) -> (Result<Vec<Position>, StoreError>, Position, Vec<Position>) {
    let read = store
        .read_all(ReadAll::from(Position::START))
        .map_ok(|e| e.position)
        .try_collect()
        .await;
    let settled = store.settled_position().await.unwrap();
    let mut subscription = Subscription::after(store.clone(), Position::START);
    let batch = subscription.poll_batch().await.unwrap();
    let polled = batch.events.iter().map(|e| e.position).collect();
    (read, settled, polled)
}

/// Asserts that the store's subscribers see `appended` at once.
async fn assert_not_held_back(store: &PostgresStore, appended: Position, what: &str) {
    let (read, settled, polled) = read_now(store).await;
    match read {
        Ok(positions) => assert_eq!(positions.last(), Some(&appended), "read_all, {what}"),
        Err(err) => panic!("read_all was held back by {what}: {err}"),
    }
    assert!(
        settled >= appended,
        "settled_position was held back by {what}"
    );
    assert_eq!(
        polled.last(),
        Some(&appended),
        "the subscription was held back by {what}"
    );
}

/// Transactions that have an id but do not append to the store do not delay its
/// subscribers: one open in another database of the server, one idle in transaction in
/// the store's own database, and (where the server allows them) a prepared one. Before
/// the bound was limited to the store's appenders, each of them held every reader of
/// every store back until it ended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_do_not_hold_readers_back() {
    let Some(url) = backends::pg_url("strangers_do_not_hold_readers_back") else {
        return;
    };
    let schema = backends::unique_schema("strangers");
    let mut config = PostgresConfig::new(&url).schema(&schema);
    // Short, so that a read held back fails fast instead of passing late.
    config.visibility_wait = Duration::from_millis(200);
    let store = PostgresStore::connect_with(config).await.unwrap();

    // A transaction with an id in another database of the same server.
    let other_db = format!("factum_stranger_{}", uuid::Uuid::now_v7().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {other_db}")))
        .execute(store.pool())
        .await
        .unwrap();
    let options: sqlx::postgres::PgConnectOptions = url.parse().unwrap();
    let mut elsewhere = sqlx::PgConnection::connect_with(&options.database(&other_db))
        .await
        .unwrap();
    sqlx::query("BEGIN").execute(&mut elsewhere).await.unwrap();
    sqlx::query("SELECT pg_current_xact_id()")
        .execute(&mut elsewhere)
        .await
        .unwrap();
    let appended = append_one(&store).await;
    assert_not_held_back(&store, appended, "a transaction in another database").await;

    // Idle in transaction in the store's own database (and schema), with an id.
    let mut idle = store.pool().begin().await.unwrap();
    sqlx::query("SELECT pg_current_xact_id()")
        .execute(&mut *idle)
        .await
        .unwrap();
    let appended = append_one(&store).await;
    assert_not_held_back(
        &store,
        appended,
        "a transaction idle in the store's database",
    )
    .await;

    // A prepared transaction that has not appended, left behind.
    let max_prepared: String = sqlx::query_scalar("SHOW max_prepared_transactions")
        .fetch_one(store.pool())
        .await
        .unwrap();
    if max_prepared == "0" {
        eprintln!(
            "strangers_do_not_hold_readers_back: prepared transactions SKIPPED: \
             max_prepared_transactions is 0 on this server"
        );
    } else {
        let gid = format!("factum_test_{}", uuid::Uuid::now_v7().simple());
        let mut prepared = store.pool().acquire().await.unwrap().detach();
        sqlx::query("BEGIN").execute(&mut prepared).await.unwrap();
        sqlx::query("SELECT pg_current_xact_id()")
            .execute(&mut prepared)
            .await
            .unwrap();
        let prepare = format!("PREPARE TRANSACTION '{gid}'");
        sqlx::query(sqlx::AssertSqlSafe(prepare))
            .execute(&mut prepared)
            .await
            .unwrap();
        let appended = append_one(&store).await;
        let outcome = tokio::spawn({
            let store = store.clone();
            async move { assert_not_held_back(&store, appended, "a prepared transaction").await }
        })
        .await;
        let finish = format!("ROLLBACK PREPARED '{gid}'");
        sqlx::query(sqlx::AssertSqlSafe(finish))
            .execute(store.pool())
            .await
            .unwrap();
        outcome.unwrap();

        // A prepared transaction that did append holds readers back, and is named.
        let gid = format!("factum_test_{}", uuid::Uuid::now_v7().simple());
        let late = LateAppend::begin(
            &store,
            &StreamId::new("prepared-1").unwrap(),
            vec![EventData::new("Prepared", json!(0))],
        )
        .await;
        let late_position = late.positions[0];
        let mut tx = late.tx;
        let prepare = format!("PREPARE TRANSACTION '{gid}'");
        sqlx::query(sqlx::AssertSqlSafe(prepare))
            .execute(&mut *tx)
            .await
            .unwrap();
        // The session's transaction is gone (prepared): this COMMIT only ends sqlx's.
        tx.commit().await.unwrap();
        let appended = append_one(&store).await;
        let (read, settled, polled) = read_now(&store).await;
        let finish = format!("ROLLBACK PREPARED '{gid}'");
        sqlx::query(sqlx::AssertSqlSafe(finish))
            .execute(store.pool())
            .await
            .unwrap();
        match read {
            Err(StoreError::VisibilityTimeout {
                blocker: Some(blocker),
                ..
            }) => {
                assert_eq!(blocker.prepared.as_deref(), Some(gid.as_str()));
                assert_eq!(blocker.pid, None);
            }
            other => panic!("expected the prepared appender to hold the read back: {other:?}"),
        }
        assert!(settled < late_position, "the settled head stays below it");
        assert!(!polled.contains(&appended), "the subscription is held back");
        assert_not_held_back(&store, appended, "a prepared appender rolled back").await;
    }

    idle.rollback().await.unwrap();
    sqlx::query("ROLLBACK")
        .execute(&mut elsewhere)
        .await
        .unwrap();
    elsewhere.close().await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE {other_db}")))
        .execute(store.pool())
        .await
        .unwrap();
    drop_schema(&store, &schema).await;
}

/// Appends one event to `acct-1`; returns its position.
async fn append_one(store: &PostgresStore) -> Position {
    store
        .append(
            &StreamId::new("acct-1").unwrap(),
            ExpectedVersion::Any,
            vec![EventData::new("E", json!({}))],
        )
        .await
        .unwrap()
        .last_position()
}

async fn drop_schema(store: &PostgresStore, schema: &str) {
    let drop = format!("DROP SCHEMA {schema} CASCADE");
    sqlx::query(sqlx::AssertSqlSafe(drop))
        .execute(store.pool())
        .await
        .unwrap();
}

/// A schema restored into another cluster can hold positions above what the new
/// cluster's transaction ids produce. On connect the store raises its position base, so
/// new events land above every stored one and a subscriber past the old head sees them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn positions_stay_above_a_restored_head() {
    let Some(url) = backends::pg_url("positions_stay_above_a_restored_head") else {
        return;
    };
    let schema = backends::unique_schema("restored");
    let config = || factum::PostgresConfig::new(&url).schema(&schema);
    let store = PostgresStore::connect_with(config()).await.unwrap();
    // What a restore from a busier cluster looks like: an event far ahead of our ids.
    let ahead: i64 = sqlx::query_scalar(
        "SELECT (pg_snapshot_xmax(pg_current_snapshot())::text::bigint + 1000000) << 20",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    sqlx::query("INSERT INTO streams (stream_id, category, version) VALUES ('old-1', 'old', 1)")
        .execute(store.pool())
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO events (position, event_id, stream_id, stream_version, category, event_type, schema_version, payload)
         VALUES ($1, gen_random_uuid(), 'old-1', 1, 'old', 'Old', 1, '{}')",
    )
    .bind(ahead)
    .execute(store.pool())
    .await
    .unwrap();
    let checkpoint = Position(ahead as u64);

    let reopened = PostgresStore::connect_with(config()).await.unwrap();
    let done = reopened
        .append(
            &StreamId::new("new-1").unwrap(),
            ExpectedVersion::NoStream,
            vec![EventData::new("New", json!(1))],
        )
        .await
        .unwrap();
    assert!(
        done.last_position() > checkpoint,
        "{:?} must be above {checkpoint:?}",
        done.last_position()
    );
    let after: Vec<_> = reopened
        .read_all(ReadAll::from(checkpoint.next()))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].event_type, "New");

    let drop = format!("DROP SCHEMA {schema} CASCADE");
    sqlx::query(sqlx::AssertSqlSafe(drop))
        .execute(reopened.pool())
        .await
        .unwrap();
}

/// Wake-ups without the trigger: a store's own appends wake its subscribers in-process;
/// another store of the same schema (another process, as far as PostgreSQL can tell) is
/// woken by the coalesced notification; and a writer that never notifies (raw SQL here)
/// is seen by the subscription's head polling. The poll interval is an hour, so each
/// wake-up below can only come from those paths.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_wake_without_the_poll_interval() {
    let Some(url) = backends::pg_url("subscribers_wake_without_the_poll_interval") else {
        return;
    };
    let schema = backends::unique_schema("wake");
    let config = || PostgresConfig::new(&url).schema(&schema);
    let writer = PostgresStore::connect_with(config()).await.unwrap();
    let other = PostgresStore::connect_with(config()).await.unwrap();
    let hour = Duration::from_secs(3600);
    let bound = Duration::from_secs(20);

    // The other store's watcher, raised only by a notification from the writer's store.
    let mut watcher = other
        .append_watcher()
        .expect("PostgreSQL stores have a watcher");
    let mut own = Subscription::after(writer.clone(), Position::START).poll_interval(hour);
    let mut remote = Subscription::after(other.clone(), Position::START).poll_interval(hour);
    assert!(own.poll_batch().await.unwrap().events.is_empty());
    assert!(remote.poll_batch().await.unwrap().events.is_empty());
    // The LISTEN task connects in the background: give it time to be listening.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let first = append_one(&writer).await;
    tokio::time::timeout(bound, watcher.appended())
        .await
        .expect("the other store is notified of the append");
    let batch = tokio::time::timeout(bound, own.next_batch())
        .await
        .expect("the writer's own subscriber wakes")
        .unwrap();
    assert_eq!(batch.events.last().map(|e| e.position), Some(first));
    let batch = tokio::time::timeout(bound, remote.next_batch())
        .await
        .expect("the other store's subscriber wakes")
        .unwrap();
    assert_eq!(batch.events.last().map(|e| e.position), Some(first));

    // A client that appends with the store's SQL but never notifies.
    let waiting = tokio::spawn(async move {
        let batch = remote.next_batch().await.unwrap();
        batch.events.iter().map(|e| e.position).collect::<Vec<_>>()
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let raw = LateAppend::begin(
        &other,
        &StreamId::new("raw-1").unwrap(),
        vec![EventData::new("Raw", json!(0))],
    )
    .await;
    let raw_position = raw.positions[0];
    raw.commit().await;
    let seen = tokio::time::timeout(bound, waiting)
        .await
        .expect("head polling sees a writer that never notifies")
        .unwrap();
    assert_eq!(seen, vec![raw_position]);

    drop_schema(&writer, &schema).await;
}
