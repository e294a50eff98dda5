//! Event-store benchmarks, each beside a raw-sqlx baseline doing the same work with
//! hand-written SQL on the same tables and connections, so the result is a ratio that
//! holds on a noisy machine. See `docs/BENCHMARKS.md` for the numbers.
//!
//! ```text
//! FACTUM_TEST_PG=postgres://postgres@127.0.0.1:5432/test cargo bench -p factum --features postgres
//! ```
//!
//! Without `FACTUM_TEST_PG` only the SQLite benchmarks run.

use std::hint::black_box;
use std::time::Duration;

use chrono::{DateTime, Utc};
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use factum::store::postgres::{PostgresConfig, PostgresStore};
use factum::store::sqlite::SqliteStore;
use factum::{EventData, EventStore, ExpectedVersion, Position, ReadAll, ReadStream, StreamId};
use futures_util::TryStreamExt;
use serde_json::json;
use sqlx::{AssertSqlSafe, Row};
use tokio::runtime::Runtime;
use uuid::Uuid;

const STREAM_LEN: usize = 10_000;
const BATCH: usize = 100;

fn payload(i: usize) -> serde_json::Value {
    json!({ "account": "acct-42", "cents": 1000 + i, "memo": "monthly transfer" })
}

fn events(n: usize) -> Vec<EventData> {
    (0..n)
        .map(|i| EventData::new("Deposited", payload(i)))
        .collect()
}

/// The columns a decoded event has, as the raw baselines read them.
#[allow(dead_code)]
struct RawEvent {
    position: i64,
    event_id: Uuid,
    stream_id: String,
    version: i64,
    event_type: String,
    schema_version: i64,
    payload: String,
    metadata: Option<String>,
    recorded_at: DateTime<Utc>,
}

fn group<'a>(
    c: &'a mut Criterion,
    name: &str,
) -> BenchmarkGroup<'a, criterion::measurement::WallTime> {
    let mut g = c.benchmark_group(name);
    g.sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    g
}

// ---------------------------------------------------------------- SQLite

mod sqlite_raw {
    use super::*;
    use sqlx::SqlitePool;

    /// `INSERT … VALUES (…), (…)` for `rows` rows, built once per size.
    fn insert_sql(rows: usize) -> std::sync::Arc<str> {
        static SQL: std::sync::OnceLock<Vec<std::sync::Arc<str>>> = std::sync::OnceLock::new();
        let all = SQL.get_or_init(|| {
            (0..=64)
                .map(|n| {
                    let values = vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?)"; n].join(", ");
                    std::sync::Arc::from(format!(
                        "INSERT INTO factum_events (event_id, stream_id, stream_version, category, \
                         event_type, schema_version, payload, metadata, recorded_at) VALUES {values}"
                    ))
                })
                .collect()
        });
        all[rows].clone()
    }

    /// Append with expected version, by hand: the same statements Factum runs.
    pub async fn append(pool: &SqlitePool, stream: &str, expected: i64, n: usize) -> i64 {
        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.unwrap();
        let version: Option<i64> =
            sqlx::query_scalar("SELECT version FROM factum_streams WHERE stream_id = ?1")
                .bind(stream)
                .fetch_optional(&mut *tx)
                .await
                .unwrap();
        assert_eq!(version.unwrap_or(0), expected);
        let now = Utc::now().timestamp_micros();
        let mut done = 0;
        while done < n {
            let chunk = [64, 16, 4, 1].into_iter().find(|&s| s <= n - done).unwrap();
            let mut q = sqlx::query(AssertSqlSafe(insert_sql(chunk)));
            for i in done..done + chunk {
                q = q
                    .bind(Uuid::now_v7())
                    .bind(stream)
                    .bind(expected + i as i64 + 1)
                    .bind("bench")
                    .bind("Deposited")
                    .bind(1i64)
                    .bind(payload(i).to_string())
                    .bind(None::<String>)
                    .bind(now);
            }
            q.execute(&mut *tx).await.unwrap();
            done += chunk;
        }
        sqlx::query(
            "INSERT INTO factum_streams (stream_id, category, version, created_at) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version",
        )
        .bind(stream)
        .bind("bench")
        .bind(expected + n as i64)
        .bind(now)
        .execute(&mut *tx)
        .await
        .unwrap();
        tx.commit().await.unwrap();
        expected + n as i64
    }

    fn decode(row: &sqlx::sqlite::SqliteRow) -> RawEvent {
        RawEvent {
            position: row.get(0),
            event_id: row.get(1),
            stream_id: row.get(2),
            version: row.get(3),
            event_type: row.get(4),
            schema_version: row.get(5),
            payload: row.get(6),
            metadata: row.get(7),
            recorded_at: DateTime::from_timestamp_micros(row.get(8)).unwrap(),
        }
    }

    pub async fn read_stream(pool: &SqlitePool, stream: &str) -> Vec<RawEvent> {
        sqlx::query(
            "SELECT position, event_id, stream_id, stream_version, event_type, schema_version, \
             payload, metadata, recorded_at FROM factum_events WHERE stream_id = ?1 ORDER BY stream_version",
        )
        .bind(stream)
        .fetch_all(pool)
        .await
        .unwrap()
        .iter()
        .map(decode)
        .collect()
    }

    pub async fn read_all(pool: &SqlitePool, limit: i64) -> Vec<RawEvent> {
        sqlx::query(
            "SELECT position, event_id, stream_id, stream_version, event_type, schema_version, \
             payload, metadata, recorded_at FROM factum_events WHERE position >= ?1 ORDER BY position LIMIT ?2",
        )
        .bind(0i64)
        .bind(limit)
        .fetch_all(pool)
        .await
        .unwrap()
        .iter()
        .map(decode)
        .collect()
    }
}

fn sqlite_benches(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = rt
        .block_on(SqliteStore::open(dir.path().join("bench.sqlite")))
        .unwrap();
    // Fresh tables have no planner statistics; a real store has them.
    let analyze = || {
        rt.block_on(sqlx::query("ANALYZE").execute(store.write_pool()))
            .unwrap();
    };
    bench_backend(
        c,
        &rt,
        "sqlite",
        &store,
        analyze,
        |rt, kind, stream, expected, n| match kind {
            Work::Append => {
                rt.block_on(sqlite_raw::append(store.write_pool(), stream, expected, n)) as usize
            }
            Work::ReadStream => rt
                .block_on(sqlite_raw::read_stream(store.read_pool(), stream))
                .len(),
            Work::ReadAll => rt
                .block_on(sqlite_raw::read_all(store.read_pool(), n as i64))
                .len(),
        },
    );
}

// ---------------------------------------------------------------- PostgreSQL

mod pg_raw {
    use super::*;
    use sqlx::PgPool;

    /// Append with expected version, by hand: one statement that bumps the stream row if
    /// it is at the expected version and inserts the events with gap-free positions.
    pub async fn append(pool: &PgPool, stream: &str, expected: i64, n: usize) -> i64 {
        let ids: Vec<Uuid> = (0..n).map(|_| Uuid::now_v7()).collect();
        let types = vec!["Deposited"; n];
        let versions = vec![1i32; n];
        let payloads: Vec<String> = (0..n).map(|i| payload(i).to_string()).collect();
        let metadata: Vec<Option<String>> = vec![None; n];
        let sql = if expected == 0 {
            "WITH s AS (INSERT INTO streams (stream_id, category, version) SELECT $1, $2, $3 \
             WHERE $4::bigint = 0 ON CONFLICT (stream_id) DO NOTHING RETURNING version)"
        } else {
            "WITH s AS (UPDATE streams SET version = version + $3 \
             WHERE stream_id = $1 AND version = $4 RETURNING version)"
        };
        let sql = format!(
            "{sql}, a AS (INSERT INTO events (position, event_id, stream_id, stream_version, category, \
             event_type, schema_version, payload, metadata) \
             SELECT (pg_current_xact_id()::text::bigint << 20) | (e.ord - 1), e.id, $1, s.version - $3 + e.ord, $2, \
             e.t, e.v, e.p::json, e.m::json FROM s, unnest($5::uuid[], $6::text[], $7::int4[], $8::text[], $9::text[]) \
             WITH ORDINALITY AS e (id, t, v, p, m, ord) RETURNING position, stream_version) \
             SELECT position, stream_version FROM a ORDER BY stream_version"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(stream)
            .bind("bench")
            .bind(n as i64)
            .bind(expected)
            .bind(ids)
            .bind(types)
            .bind(versions)
            .bind(payloads)
            .bind(metadata)
            .fetch_all(pool)
            .await
            .unwrap();
        assert_eq!(rows.len(), n);
        expected + n as i64
    }

    fn decode(row: &sqlx::postgres::PgRow) -> RawEvent {
        RawEvent {
            position: row.get(0),
            event_id: row.get(1),
            stream_id: row.get(2),
            version: row.get(3),
            event_type: row.get(4),
            schema_version: row.get::<i32, _>(5) as i64,
            payload: row.get(6),
            metadata: row.get(7),
            recorded_at: row.get(8),
        }
    }

    pub async fn read_stream(pool: &PgPool, stream: &str) -> Vec<RawEvent> {
        sqlx::query(
            "SELECT position, event_id, stream_id, stream_version, event_type, schema_version, \
             payload::text, metadata::text, recorded_at FROM events WHERE stream_id = $1 ORDER BY stream_version",
        )
        .bind(stream)
        .fetch_all(pool)
        .await
        .unwrap()
        .iter()
        .map(decode)
        .collect()
    }

    /// The gap-free read: only below the oldest running transaction.
    pub async fn read_all(pool: &PgPool, limit: i64) -> Vec<RawEvent> {
        sqlx::query(
            "SELECT position, event_id, stream_id, stream_version, event_type, schema_version, \
             payload::text, metadata::text, recorded_at FROM events WHERE position >= $1 \
             AND position < (SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint << 20) \
             ORDER BY position LIMIT $2",
        )
        .bind(0i64)
        .bind(limit)
        .fetch_all(pool)
        .await
        .unwrap()
        .iter()
        .map(decode)
        .collect()
    }
}

fn postgres_benches(c: &mut Criterion) {
    let Ok(url) = std::env::var("FACTUM_TEST_PG") else {
        eprintln!("FACTUM_TEST_PG is not set: skipping the PostgreSQL benchmarks");
        return;
    };
    let rt = Runtime::new().unwrap();
    let schema = format!("bench_{}", Uuid::now_v7().simple());
    let store = rt
        .block_on(PostgresStore::connect_with(
            PostgresConfig::new(url).schema(&schema),
        ))
        .unwrap();
    // Fresh tables have no planner statistics; a real store has them.
    let analyze = || {
        rt.block_on(sqlx::query("ANALYZE").execute(store.pool()))
            .unwrap();
    };
    bench_backend(
        c,
        &rt,
        "postgres",
        &store,
        analyze,
        |rt, kind, stream, expected, n| match kind {
            Work::Append => rt.block_on(pg_raw::append(store.pool(), stream, expected, n)) as usize,
            Work::ReadStream => rt.block_on(pg_raw::read_stream(store.pool(), stream)).len(),
            Work::ReadAll => rt.block_on(pg_raw::read_all(store.pool(), n as i64)).len(),
        },
    );
    let drop = format!("DROP SCHEMA {schema} CASCADE");
    rt.block_on(sqlx::query(AssertSqlSafe(drop)).execute(store.pool()))
        .unwrap();
}

// ---------------------------------------------------------------- shared

#[derive(Clone, Copy)]
enum Work {
    Append,
    ReadStream,
    ReadAll,
}

/// Runs the four workloads on one backend: Factum, then the raw baseline, in one group.
fn bench_backend<S: EventStore>(
    c: &mut Criterion,
    rt: &Runtime,
    backend: &str,
    store: &S,
    analyze: impl Fn(),
    raw: impl Fn(&Runtime, Work, &str, i64, usize) -> usize,
) {
    for (name, n) in [("append_1", 1usize), ("append_batch_100", BATCH)] {
        let mut g = group(c, &format!("{backend}/{name}"));
        g.throughput(Throughput::Elements(n as u64));
        let stream = StreamId::new(format!("bench-factum{n}")).unwrap();
        let mut version = 0u64;
        g.bench_function("factum", |b| {
            b.iter(|| {
                let done = rt
                    .block_on(store.append(&stream, ExpectedVersion::Exact(version), events(n)))
                    .unwrap();
                version = done.version;
            })
        });
        let raw_stream = format!("bench-raw{n}");
        let mut raw_version = 0i64;
        g.bench_function("raw_sqlx", |b| {
            b.iter(|| raw_version = raw(rt, Work::Append, &raw_stream, raw_version, n) as i64)
        });
        g.finish();
    }

    // A 10,000-event stream, read whole and decoded.
    let long = StreamId::new("bench-long").unwrap();
    for chunk in 0..STREAM_LEN / 1000 {
        rt.block_on(store.append(
            &long,
            ExpectedVersion::Exact((chunk * 1000) as u64),
            events(1000),
        ))
        .unwrap();
    }
    analyze();
    let mut g = group(c, &format!("{backend}/read_stream_10k"));
    g.throughput(Throughput::Elements(STREAM_LEN as u64));
    g.bench_function("factum", |b| {
        b.iter(|| {
            let events: Vec<_> = rt
                .block_on(
                    store
                        .read_stream(&long, ReadStream::forward())
                        .try_collect(),
                )
                .unwrap();
            assert_eq!(events.len(), STREAM_LEN);
            black_box(events)
        })
    });
    g.bench_function("raw_sqlx", |b| {
        b.iter(|| assert_eq!(raw(rt, Work::ReadStream, "bench-long", 0, 0), STREAM_LEN))
    });
    g.finish();

    // The global log, 10,000 events from the start (there are more behind them).
    let mut g = group(c, &format!("{backend}/read_all_10k"));
    g.throughput(Throughput::Elements(STREAM_LEN as u64));
    g.bench_function("factum", |b| {
        b.iter(|| {
            let events: Vec<_> = rt
                .block_on(
                    store
                        .read_all(ReadAll::from(Position::START).limit(STREAM_LEN))
                        .try_collect(),
                )
                .unwrap();
            assert_eq!(events.len(), STREAM_LEN);
            black_box(events)
        })
    });
    g.bench_function("raw_sqlx", |b| {
        b.iter(|| assert_eq!(raw(rt, Work::ReadAll, "", 0, STREAM_LEN), STREAM_LEN))
    });
    g.finish();
}

criterion_group!(benches, sqlite_benches, postgres_benches);
criterion_main!(benches);
