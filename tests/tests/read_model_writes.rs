//! Batch-level read-model writes on SQLite and PostgreSQL.
//!
//! - Random scripts of row operations (`update` with a closure, `upsert`, `delete`,
//!   `get` then `put`, a closure that deletes, and SQL of the handler's own), projected in
//!   batches of random sizes: the table equals the script folded in memory. Several
//!   operations on one row inside one batch are coalesced before they are written, and
//!   SQL of the handler's own sees the changes made before it.
//! - Every column type goes through the multi-row statements and reads back equal.
//! - A change that alters the row's key parks its event with the kind `row`; an event
//!   that does not decode is parked with the kind `decode`; a handler's own error with
//!   `handler`.
//! - Failures that are not the event's fault (a timed-out pool, a lost connection) are
//!   retried until they pass: nothing is parked and each event is applied once.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use factum::projection::dlq::DeadLetters;
use factum::projection::{
    Envelope, FailureKind, HandlerError, Projection, ProjectionKey, ProjectionRunner,
    ProjectionStore, ProjectionTx, Projections, RunnerOptions,
};
use factum::{EventData, ExpectedVersion, ReadModel, StreamId};
use factum_tests::backends::{self, TestStore};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde::{Deserialize, Serialize};

const WAIT: Duration = Duration::from_secs(30);

/// One row operation, as an event.
#[derive(factum::Event, Serialize, Deserialize, schemars::JsonSchema, Clone, Debug)]
struct RowOp {
    /// `add`, `set`, `del`, `get_add`, `drop_negative` or `double_sql`.
    kind: String,
    key: String,
    n: i64,
}

/// The row the operations change.
#[derive(ReadModel, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[read_model(table = "counters")]
struct Counter {
    #[key]
    key: String,
    n: i64,
    /// Operations that wrote the row since it was last created.
    touched: i64,
}

/// Applies [`RowOp`]s with each of the transaction's ways to write.
struct Counters;

#[factum::projection(name = "counters", read_models(Counter))]
impl Counters {
    #[on]
    async fn row_op(
        &self,
        tx: &mut ProjectionTx,
        e: &Envelope<'_, RowOp>,
    ) -> Result<(), HandlerError> {
        let (key, n) = (e.key.clone(), e.n);
        match e.kind.as_str() {
            "add" => {
                let owner = key.clone();
                tx.update::<Counter, _>(&key, move |row| {
                    let mut row = row.unwrap_or(Counter {
                        key: owner,
                        n: 0,
                        touched: 0,
                    });
                    row.n += n;
                    row.touched += 1;
                    Some(row)
                })?;
            }
            "set" => tx.upsert(Counter { key, n, touched: 1 })?,
            "del" => tx.delete::<Counter, _>(&key)?,
            "get_add" => {
                let mut row = tx.get::<Counter, _>(&key).await?.unwrap_or(Counter {
                    key: key.clone(),
                    n: 0,
                    touched: 0,
                });
                row.n += n;
                row.touched += 1;
                tx.put(&row).await?;
            }
            "drop_negative" => tx.update::<Counter, _>(&key, |row| row.filter(|r| r.n >= 0))?,
            "double_sql" => {
                let table = tx.table::<Counter>();
                let sql =
                    format!("UPDATE {table} SET n = n * 2, touched = touched + 1 WHERE key = ");
                if let Some(conn) = tx.sqlite().await? {
                    sqlx::query(sqlx::AssertSqlSafe(format!("{sql}?1")))
                        .bind(&key)
                        .execute(conn)
                        .await?;
                } else if let Some(conn) = tx.postgres().await? {
                    sqlx::query(sqlx::AssertSqlSafe(format!("{sql}$1")))
                        .bind(&key)
                        .execute(conn)
                        .await?;
                }
            }
            "rekey" => {
                tx.update::<Counter, _>(&key, |row| {
                    row.map(|mut r| {
                        r.key.push_str("-moved");
                        r
                    })
                })?;
            }
            "fail" => return Err("this operation always fails".into()),
            other => return Err(format!("unknown operation {other}").into()),
        }
        Ok(())
    }
}

/// The script folded in memory: what the table must hold.
fn fold(ops: &[RowOp]) -> BTreeMap<String, (i64, i64)> {
    let mut rows: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for op in ops {
        match op.kind.as_str() {
            "add" | "get_add" => {
                let row = rows.entry(op.key.clone()).or_insert((0, 0));
                row.0 += op.n;
                row.1 += 1;
            }
            "set" => {
                rows.insert(op.key.clone(), (op.n, 1));
            }
            "del" => {
                rows.remove(&op.key);
            }
            "drop_negative" => {
                if rows.get(&op.key).is_some_and(|r| r.0 < 0) {
                    rows.remove(&op.key);
                }
            }
            "double_sql" => {
                if let Some(row) = rows.get_mut(&op.key) {
                    row.0 *= 2;
                    row.1 += 1;
                }
            }
            other => unreachable!("scripts hold no {other}"),
        }
    }
    rows
}

/// The counters table of projection `version`, by key, for keys starting with `prefix`.
async fn counters<S: ProjectionStore>(store: &S, prefix: &str) -> BTreeMap<String, (i64, i64)> {
    let table = Counter::descriptor().table_for(1);
    let sql = format!("SELECT key, n, touched FROM {table}");
    let rows: Vec<(String, i64, i64)> = match backends::pools(&store.projection_db()) {
        backends::Pools::Sqlite { reader, .. } => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_all(&reader)
            .await
            .unwrap(),
        backends::Pools::Postgres { pool, .. } => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_all(&pool)
            .await
            .unwrap(),
    };
    rows.into_iter()
        .filter(|(k, _, _)| k.starts_with(prefix))
        .map(|(k, n, t)| (k, (n, t)))
        .collect()
}

fn options(batch: usize, max: usize) -> RunnerOptions {
    RunnerOptions::default()
        .batch_size(batch)
        .max_batch_size(max)
        .poll_interval(Duration::from_millis(20))
        .retries(2, Duration::from_millis(1))
        .lease(Duration::from_secs(2), Duration::from_millis(20))
        .error_pause(Duration::from_millis(5))
}

/// Appends `ops` to one stream of their own and runs the projection until it has
/// applied them.
async fn project<S: ProjectionStore + Send + Sync>(
    store: &S,
    stream: &str,
    ops: &[RowOp],
    batch: usize,
    max: usize,
) {
    let stream = StreamId::new(stream).unwrap();
    for chunk in ops.chunks(16) {
        let events = chunk
            .iter()
            .map(|op| EventData::new("RowOp", serde_json::to_value(op).unwrap()))
            .collect();
        store
            .append(&stream, ExpectedVersion::Any, events)
            .await
            .unwrap();
    }
    run_to_head(store, Counters, options(batch, max)).await;
}

/// Runs `projection` until it has passed the log's head as it is now, then stops it.
async fn run_to_head<S, P>(store: &S, projection: P, options: RunnerOptions)
where
    S: ProjectionStore + Send + Sync,
    P: Projection,
{
    let head = store.head_position().await.unwrap();
    let key = ProjectionKey::of::<P>();
    let running = ProjectionRunner::new(store.clone())
        .options(options)
        .with_projection(projection)
        .start();
    tokio::time::timeout(WAIT, running.wait_until(&key, |p| p.checkpoint >= head))
        .await
        .expect("the projection caught up");
    running.stop().await.unwrap();
}

fn scripts() -> impl Strategy<Value = (Vec<RowOp>, usize, usize)> {
    let kinds = [
        "add",
        "set",
        "del",
        "get_add",
        "drop_negative",
        "double_sql",
    ];
    let op = (0..kinds.len(), 0..3usize, -5i64..10).prop_map(move |(k, key, n)| RowOp {
        kind: kinds[k].to_owned(),
        key: ["a", "b", "c"][key].to_owned(),
        n,
    });
    (prop::collection::vec(op, 1..48), 1..12usize, 1..64usize)
}

fn random_scripts<S: ProjectionStore + Send + Sync>(
    rt: &tokio::runtime::Runtime,
    store: &S,
    cases: u32,
) {
    let case = AtomicU32::new(0);
    let mut runner = TestRunner::new(Config::with_cases(cases));
    runner
        .run(&scripts(), |(ops, batch, max)| {
            let prefix = format!("case{}-", case.fetch_add(1, Ordering::Relaxed));
            let ops: Vec<RowOp> = ops
                .into_iter()
                .map(|op| RowOp {
                    key: format!("{prefix}{}", op.key),
                    ..op
                })
                .collect();
            rt.block_on(async {
                project(store, &format!("{prefix}ops"), &ops, batch, max).await;
                let stored = counters(store, &prefix).await;
                prop_assert_eq!(stored, fold(&ops), "batch {}, max {}", batch, max);
                Ok::<(), TestCaseError>(())
            })
        })
        .unwrap();
}

#[test]
fn random_scripts_sqlite() {
    let rt = backends::runtime();
    let store = rt
        .block_on(backends::sqlite_file("row_scripts", Default::default()))
        .unwrap();
    random_scripts(&rt, store.store(), 24);
}

#[test]
fn random_scripts_postgres() {
    let rt = backends::runtime();
    let Some(store) = rt.block_on(backends::postgres("row_scripts", Default::default())) else {
        return;
    };
    random_scripts(&rt, store.store(), 24);
    rt.block_on(TestStore::cleanup(store));
}

/// Every column type, written by the multi-row statements and read back; with declared
/// indexes, which the runtime creates.
#[derive(ReadModel, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[read_model(table = "every_type", index(text, at))]
struct EveryType {
    #[key]
    id: uuid::Uuid,
    text: String,
    #[index]
    int: i64,
    real: f64,
    flag: bool,
    at: DateTime<Utc>,
    list: Vec<String>,
    /// A JSON value that is itself a string: stored as JSON, not as the bare text.
    json: serde_json::Value,
    maybe: Option<i64>,
    maybe_text: Option<String>,
}

/// Writes its payload as a row in one event and changes it in the next.
#[derive(factum::Event, Serialize, Deserialize, schemars::JsonSchema, Clone, Debug)]
struct TypedRow {
    #[schemars(with = "String")]
    id: uuid::Uuid,
    second: bool,
}

fn sample(id: uuid::Uuid) -> EveryType {
    EveryType {
        id,
        text: "it's \"quoted\", ünïcode ✓".into(),
        int: i64::MIN + 1,
        real: 0.1 + 0.2,
        flag: true,
        at: DateTime::from_timestamp_micros(1_733_320_000_123_456).unwrap(),
        list: vec!["a".into(), "b,c".into()],
        json: serde_json::Value::String("[not an array]".into()),
        maybe: None,
        maybe_text: Some(String::new()),
    }
}

struct Typed;

#[factum::projection(name = "typed", read_models(EveryType))]
impl Typed {
    #[on]
    async fn typed_row(
        &self,
        tx: &mut ProjectionTx,
        e: &Envelope<'_, TypedRow>,
    ) -> Result<(), HandlerError> {
        let id = e.id;
        if e.second {
            tx.update::<EveryType, _>(&id, |row| {
                row.map(|mut r| {
                    r.maybe = Some(i64::MAX);
                    r.flag = false;
                    r
                })
            })?;
        } else {
            tx.update::<EveryType, _>(&id, move |_| Some(sample(id)))?;
        }
        Ok(())
    }
}

async fn every_type_round_trips<S: ProjectionStore + Send + Sync>(store: &S) {
    let ids: Vec<uuid::Uuid> = (0..3).map(|_| uuid::Uuid::now_v7()).collect();
    let stream = StreamId::new("typed-1").unwrap();
    let mut events = Vec::new();
    for id in &ids {
        events.push(EventData::new(
            "TypedRow",
            serde_json::json!({ "id": id, "second": false }),
        ));
    }
    events.push(EventData::new(
        "TypedRow",
        serde_json::json!({ "id": ids[0], "second": true }),
    ));
    store
        .append(&stream, ExpectedVersion::NoStream, events)
        .await
        .unwrap();
    run_to_head(store, Typed, options(8, 8)).await;
    // The declared indexes exist, with the key appended.
    let indexes: Vec<String> = match backends::pools(&store.projection_db()) {
        backends::Pools::Sqlite { reader, .. } => sqlx::query_scalar(
            "SELECT name || ':' || (SELECT group_concat(name, ',') FROM pragma_index_info(m.name)) \
             FROM sqlite_master m WHERE type = 'index' AND tbl_name = 'every_type_v1' \
             AND sql IS NOT NULL ORDER BY name",
        )
        .fetch_all(&reader)
        .await
        .unwrap(),
        backends::Pools::Postgres { pool, .. } => sqlx::query_scalar(
            "SELECT i.relname || ':' || string_agg(a.attname, ',' ORDER BY k.n) \
             FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid \
             JOIN pg_class t ON t.oid = x.indrelid \
             CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k (attnum, n) \
             JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum \
             WHERE t.relname = 'every_type_v1' AND t.relnamespace = current_schema()::regnamespace \
               AND NOT x.indisprimary \
             GROUP BY i.relname ORDER BY i.relname",
        )
        .fetch_all(&pool)
        .await
        .unwrap(),
    };
    assert_eq!(
        indexes,
        [
            "every_type_v1_by_int:int,id",
            "every_type_v1_by_text_at:text,at,id"
        ]
    );
    let projections = Projections::new(store.clone());
    for (i, id) in ids.iter().enumerate() {
        let row: EveryType = projections.get("typed", id).await.unwrap().unwrap();
        let mut expected = sample(*id);
        if i == 0 {
            expected.maybe = Some(i64::MAX);
            expected.flag = false;
        }
        assert_eq!(row, expected);
    }
}

/// Fails with a failure of the surroundings (a timed-out pool, a reset connection) on
/// every other try, ten times in all.
struct Interrupted {
    failures: Arc<AtomicU32>,
}

#[derive(ReadModel, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[read_model(table = "interrupted")]
struct Tally {
    #[key]
    key: String,
    applied: i64,
}

#[factum::projection(name = "interrupted", read_models(Tally))]
impl Interrupted {
    #[on]
    async fn row_op(
        &self,
        tx: &mut ProjectionTx,
        e: &Envelope<'_, RowOp>,
    ) -> Result<(), HandlerError> {
        // Ten failures in all: more than the attempts an event gets.
        let tries = self.failures.fetch_add(1, Ordering::SeqCst);
        if tries < 20 && tries.is_multiple_of(2) {
            return Err(if tries.is_multiple_of(4) {
                Box::new(factum::projection::ProjectionError::Database(
                    sqlx::Error::PoolTimedOut,
                ))
            } else {
                Box::new(sqlx::Error::Io(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "connection reset by peer",
                )))
            });
        }
        let key = e.key.clone();
        tx.update::<Tally, _>(&e.key.clone(), move |row| {
            let mut row = row.unwrap_or(Tally { key, applied: 0 });
            row.applied += 1;
            Some(row)
        })?;
        Ok(())
    }
}

async fn failures_of_the_surroundings_never_park<S: ProjectionStore + Send + Sync>(store: &S) {
    let stream = StreamId::new("tally-1").unwrap();
    let events: Vec<EventData> = (0..6)
        .map(|i| {
            EventData::new(
                "RowOp",
                serde_json::json!({ "kind": "add", "key": format!("k{}", i % 3), "n": 1 }),
            )
        })
        .collect();
    store
        .append(&stream, ExpectedVersion::NoStream, events)
        .await
        .unwrap();
    let failures = Arc::new(AtomicU32::new(0));
    let interrupted = Interrupted {
        failures: failures.clone(),
    };
    run_to_head(store, interrupted, options(4, 4)).await;
    let key = ProjectionKey::of::<Interrupted>();
    assert!(
        failures.load(Ordering::SeqCst) >= 20,
        "the failures happened"
    );
    let dlq = DeadLetters::new(store.clone());
    assert!(
        dlq.list(&key).await.unwrap().is_empty(),
        "nothing was parked"
    );
    let projections = Projections::new(store.clone());
    for k in ["k0", "k1", "k2"] {
        let tally: Tally = projections.get("interrupted", k).await.unwrap().unwrap();
        assert_eq!(tally.applied, 2, "{k}: each event applied once");
    }
}

async fn parked_events_record_their_kind<S: ProjectionStore + Send + Sync>(store: &S) {
    let stream = StreamId::new("kinds-1").unwrap();
    let events = vec![
        EventData::new(
            "RowOp",
            serde_json::json!({ "kind": "set", "key": "k-row", "n": 1 }),
        ),
        EventData::new(
            "RowOp",
            serde_json::json!({ "kind": "fail", "key": "x", "n": 0 }),
        ),
    ];
    store
        .append(&stream, ExpectedVersion::NoStream, events)
        .await
        .unwrap();
    // The key changes in another stream, so that the first failure does not hold the
    // other events back.
    store
        .append(
            &StreamId::new("kinds-2").unwrap(),
            ExpectedVersion::NoStream,
            vec![EventData::new(
                "RowOp",
                serde_json::json!({ "kind": "rekey", "key": "k-row", "n": 0 }),
            )],
        )
        .await
        .unwrap();
    store
        .append(
            &StreamId::new("kinds-3").unwrap(),
            ExpectedVersion::NoStream,
            vec![EventData::new("RowOp", serde_json::json!({ "kind": 7 }))],
        )
        .await
        .unwrap();
    run_to_head(store, Counters, options(8, 8)).await;
    let key = ProjectionKey::of::<Counters>();
    let letters = DeadLetters::new(store.clone()).list(&key).await.unwrap();
    let kinds: BTreeMap<String, FailureKind> = letters
        .iter()
        .map(|l| (l.stream_id.clone(), l.kind))
        .collect();
    assert_eq!(
        kinds,
        BTreeMap::from([
            ("kinds-1".to_owned(), FailureKind::Handler),
            ("kinds-2".to_owned(), FailureKind::Row),
            ("kinds-3".to_owned(), FailureKind::Decode),
        ])
    );
    // The row whose key a change tried to alter is as the `set` left it.
    assert_eq!(
        counters(store, "k-row").await,
        BTreeMap::from([("k-row".to_owned(), (1, 1))])
    );
}

factum_tests::sql_backend_tests!(
    every_type_round_trips,
    failures_of_the_surroundings_never_park,
    parked_events_record_their_kind,
);
