//! Repository benchmarks, each beside a raw-sqlx baseline doing the same work by hand on
//! the same tables: rehydrating an aggregate (load and fold), loading a long stream from a
//! snapshot, and the sequential command path (load, decide, append one event).
//!
//! ```text
//! FACTUM_TEST_PG=postgres://postgres@127.0.0.1:5432/test cargo bench -p factum --features postgres --bench repository
//! ```

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use factum::Backend;
use factum::SqliteStore;
use factum::{
    EventData, EventSet, EventStore, ExpectedVersion, Metadata, Repository, Snapshot, StreamId,
};
use factum::{PostgresConfig, PostgresStore};
use serde::{Deserialize, Serialize};
use sqlx::AssertSqlSafe;
use tokio::runtime::Runtime;
use uuid::Uuid;

#[path = "support/raw.rs"]
mod raw;

/// Money paid in (the same shape the raw baselines decode).
#[derive(factum::Event, Serialize, Deserialize, schemars::JsonSchema, Clone, Debug)]
struct Deposited {
    cents: i64,
}

#[derive(EventSet, Clone, Debug)]
enum BalanceEvent {
    Deposited(Deposited),
}

#[derive(Default, Debug, Serialize, Deserialize)]
struct Balance {
    total: i64,
}

#[derive(Clone)]
struct Deposit(i64);

#[derive(Debug, thiserror::Error)]
#[error("never")]
struct Never;

#[factum::aggregate(category = "bench", events = BalanceEvent, error = Never)]
impl Balance {
    #[apply]
    fn deposited(&mut self, e: &Deposited) {
        self.total += e.cents;
    }

    #[handle]
    fn deposit(&self, cmd: Deposit) -> Result<Vec<BalanceEvent>, Never> {
        Ok(vec![Deposited { cents: cmd.0 }.into()])
    }
}

const LONG: u64 = 10_000;
const VERY_LONG: u64 = 100_000;

fn deposits(from: u64, n: u64) -> Vec<EventData> {
    (from..from + n)
        .map(|i| EventData::new("Deposited", raw::payload(i as usize)))
        .collect()
}

async fn fill<S: EventStore>(store: &S, stream: &StreamId, n: u64) {
    let mut at = 0;
    while at < n {
        let batch = 1_000.min(n - at);
        store
            .append(stream, ExpectedVersion::Exact(at), deposits(at, batch))
            .await
            .unwrap();
        at += batch;
    }
}

fn group<'a>(
    c: &'a mut Criterion,
    name: &str,
) -> criterion::BenchmarkGroup<'a, criterion::measurement::WallTime> {
    let mut g = c.benchmark_group(name);
    g.sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    g
}

/// The three workloads on one backend.
fn bench_backend<S: Backend>(
    c: &mut Criterion,
    rt: &Runtime,
    backend: &str,
    store: S,
    analyze: impl Fn(),
    raw_load_fold: impl Fn(&str) -> (i64, u64),
    raw_append: impl Fn(&str, i64) -> i64,
) {
    let plain = Repository::<Balance, _>::new(store.clone());
    let long = plain.stream_id("long").unwrap();
    rt.block_on(fill(&store, &long, LONG));
    let very_long = plain.stream_id("very-long").unwrap();
    rt.block_on(fill(&store, &very_long, VERY_LONG));
    // A snapshot every 1,000 events: the latest is at most 999 events behind the head.
    let snapshot_at = VERY_LONG - 500;
    let state = rt
        .block_on(plain.load_at("very-long", snapshot_at))
        .unwrap()
        .state;
    let snapshot = Snapshot {
        aggregate: std::any::type_name::<Balance>().into(),
        version: snapshot_at,
        state_version: 1,
        state: serde_json::to_string(&state).unwrap(),
        taken_at: chrono::Utc::now(),
    };
    rt.block_on(store.save_snapshot(&very_long, &snapshot))
        .unwrap();
    // A store in service holds many streams, and its planner statistics say so.
    rt.block_on(async {
        for i in 0..2_000 {
            let other = plain.stream_id(&format!("other{i}")).unwrap();
            store
                .append(&other, ExpectedVersion::NoStream, deposits(0, 1))
                .await
                .unwrap();
        }
    });
    analyze();

    let mut g = group(c, &format!("{backend}/rehydrate_10k"));
    g.throughput(Throughput::Elements(LONG));
    g.bench_function("factum", |b| {
        b.iter(|| {
            let loaded = rt.block_on(plain.load("long")).unwrap();
            assert_eq!(loaded.version, LONG);
            black_box(loaded.state.total)
        })
    });
    g.bench_function("raw_sqlx", |b| {
        b.iter(|| {
            let (total, count) = raw_load_fold(long.as_str());
            assert_eq!(count, LONG);
            black_box(total)
        })
    });
    g.finish();

    let snapshotting = Repository::<Balance, _>::new(store.clone())
        .with_snapshots(factum::SnapshotPolicy::every(1_000));
    let mut g = group(c, &format!("{backend}/rehydrate_100k_from_snapshot"));
    g.bench_function("factum", |b| {
        b.iter(|| {
            let loaded = rt.block_on(snapshotting.load("very-long")).unwrap();
            assert_eq!(loaded.version, VERY_LONG);
            black_box(loaded.state.total)
        })
    });
    g.finish();

    // Each command goes to a fresh aggregate: load (empty), decide, append one event.
    let mut g = group(c, &format!("{backend}/command_path"));
    g.throughput(Throughput::Elements(1));
    g.bench_function("factum", |b| {
        b.iter(|| {
            let id = Uuid::now_v7().simple().to_string();
            let done = rt
                .block_on(plain.execute(&id, Deposit(5), Metadata::new()))
                .unwrap();
            assert_eq!(done.version, 1);
        })
    });
    g.bench_function("raw_sqlx", |b| {
        b.iter(|| {
            let stream = format!("bench-{}", Uuid::now_v7().simple());
            let (_, version) = raw_load_fold(&stream);
            assert_eq!(raw_append(&stream, version as i64), 1);
        })
    });
    g.finish();
}

fn sqlite(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = rt
        .block_on(SqliteStore::open(dir.path().join("bench.sqlite")))
        .unwrap();
    let (reader, writer) = (store.read_pool().clone(), store.write_pool().clone());
    bench_backend(
        c,
        &rt,
        "sqlite",
        store.clone(),
        || {
            rt.block_on(sqlx::query("ANALYZE").execute(&writer))
                .unwrap();
        },
        |stream| rt.block_on(raw::sqlite_raw::load_fold(&reader, stream)),
        |stream, expected| rt.block_on(raw::sqlite_raw::append(&writer, stream, expected, 1)),
    );
}

fn postgres(c: &mut Criterion) {
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
    let pool = store.pool().clone();
    bench_backend(
        c,
        &rt,
        "postgres",
        store.clone(),
        || {
            rt.block_on(sqlx::query("ANALYZE").execute(&pool)).unwrap();
        },
        |stream| rt.block_on(raw::pg_raw::load_fold(&pool, stream)),
        |stream, expected| rt.block_on(raw::pg_raw::append(&pool, stream, expected, 1)),
    );
    let drop = format!("DROP SCHEMA {schema} CASCADE");
    rt.block_on(sqlx::query(AssertSqlSafe(drop)).execute(&pool))
        .unwrap();
}

criterion_group!(benches, sqlite, postgres);
criterion_main!(benches);
