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

use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use factum::SqliteStore;
use factum::{EventData, EventStore, ExpectedVersion, Position, ReadAll, ReadStream, StreamId};
use factum::{PostgresConfig, PostgresStore};
use futures_util::TryStreamExt;
use sqlx::AssertSqlSafe;
use tokio::runtime::Runtime;
use uuid::Uuid;

#[path = "support/raw.rs"]
mod raw;

use raw::{payload, pg_raw, sqlite_raw};

const STREAM_LEN: usize = 10_000;
const BATCH: usize = 100;

fn events(n: usize) -> Vec<EventData> {
    (0..n)
        .map(|i| EventData::new("Deposited", payload(i)))
        .collect()
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
