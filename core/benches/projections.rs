//! Projections at speed (issue 12): how fast a projection catches up, each series beside
//! a hand-written sqlx baseline doing the same work on the same events in the same run.
//!
//! The store holds 100,000 deposits over 1,000 accounts (100 each, category `acct`).
//!
//! 1. `catch_up_balances`: a projection that keeps a balance row per account, its
//!    handler written the natural way (`tx.update` of the account's row with a closure
//!    that adds the deposit), caught up from position 0 to the head. Baseline: read the events with one streaming `SELECT`, decode each
//!    payload with serde, and run one upsert per event, all in one transaction.
//! 2. `catch_up_fold`: a projection whose handler folds into memory (no read model).
//!    Baseline: one streaming `SELECT` of the whole event rows (the columns a projection
//!    is handed), each payload decoded with serde and summed in memory.
//! 3. `catch_up_balances_apart` (PostgreSQL): series 1 with the read models in a second
//!    database of the same server (`factum_read_models`), each iteration beside one in
//!    the store's own database, and the ratio of the two medians.
//!
//! Each criterion iteration is one whole catch-up of the 100,000 events; every Factum
//! iteration runs a new version of the projection (its own, empty tables), so each starts
//! from position 0. After each series the benchmark prints events/s of both paths
//! (median of the samples) and the ratio factum/raw, and checks that both computed the
//! same balances.
//!
//! ```text
//! FACTUM_TEST_PG=postgres://postgres@127.0.0.1:5432/test cargo bench -p factum --features postgres --bench projections
//! ```

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, Throughput};
use factum::SqliteStore;
use factum::projection::{
    Envelope, HandlerError, Projection, ProjectionDb, ProjectionKey, ProjectionRunner,
    ProjectionStore, ProjectionTx, WithReadModels,
};
use factum::{
    EventData, EventStore, ExpectedVersion, ReadModel, ReadModelDescriptor, RecordedEvent, StreamId,
};
use factum::{PostgresConfig, PostgresStore};
use futures_util::TryStreamExt;
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use sqlx::{AssertSqlSafe, Row};
use tokio::runtime::Runtime;
use tokio::task::JoinSet;

const ACCOUNTS: usize = 1_000;
const PER_ACCOUNT: usize = 100;
const EVENTS: usize = ACCOUNTS * PER_ACCOUNT;
const SAMPLES: usize = 10;
/// Projection versions available to the Factum series (warm-up and samples).
const VERSIONS: u32 = 40;

/// Money paid in.
#[derive(factum::Event, Serialize, Deserialize, schemars::JsonSchema, Clone, Debug)]
struct Deposited {
    cents: i64,
}

/// An account's balance, kept by [`Balances`].
#[derive(ReadModel, Serialize, Deserialize, Clone, Debug)]
#[read_model(table = "bench_balances")]
struct Balance {
    #[key]
    account: String,
    cents: i64,
}

/// Keeps [`Balance`]; version `V`, so that every iteration builds fresh tables.
struct Balances<const V: u32>;

impl<const V: u32> Projection for Balances<V> {
    const NAME: &'static str = "bench_balances";
    const VERSION: u32 = V;
    const EVENT_TYPES: &'static [&'static str] = &["Deposited"];
    const CATEGORIES: &'static [&'static str] = &["acct"];

    fn read_models() -> Vec<&'static ReadModelDescriptor> {
        vec![Balance::descriptor()]
    }

    fn handle<'a>(
        &'a self,
        tx: &'a mut ProjectionTx,
        event: &'a RecordedEvent,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let e = Envelope::<Deposited>::decode(event)?;
            let account = e.stream_id().key().to_owned();
            let cents = e.cents;
            tx.update::<Balance, _>(&account.clone(), move |row| {
                let mut row = row.unwrap_or(Balance { account, cents: 0 });
                row.cents += cents;
                Some(row)
            })?;
            Ok(())
        })
    }
}

/// The sum every fold projection adds to.
static FOLDED: AtomicI64 = AtomicI64::new(0);

/// Folds every deposit into [`FOLDED`]; no read model.
struct Fold<const V: u32>;

impl<const V: u32> Projection for Fold<V> {
    const NAME: &'static str = "bench_fold";
    const VERSION: u32 = V;
    const EVENT_TYPES: &'static [&'static str] = &["Deposited"];
    const CATEGORIES: &'static [&'static str] = &["acct"];

    fn read_models() -> Vec<&'static ReadModelDescriptor> {
        Vec::new()
    }

    fn handle<'a>(
        &'a self,
        _tx: &'a mut ProjectionTx,
        event: &'a RecordedEvent,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let e = Envelope::<Deposited>::decode(event)?;
            FOLDED.fetch_add(e.cents, Ordering::Relaxed);
            Ok(())
        })
    }
}

/// Runs projection `P` from position 0 until it has passed `head`; the time it took.
async fn catch_up<S, P>(store: &S, projection: P, head: factum::Position) -> Duration
where
    S: ProjectionStore + Clone + Send + Sync + 'static,
    P: Projection,
{
    let key = ProjectionKey::of::<P>();
    let start = Instant::now();
    let running = ProjectionRunner::new(store.clone())
        .with_projection(projection)
        .start();
    running.wait_until(&key, |p| p.checkpoint >= head).await;
    let took = start.elapsed();
    running.stop().await.expect("projection stops cleanly");
    took
}

/// Version `v` of a projection family, chosen at run time.
macro_rules! dispatch {
    ($store:expr, $head:expr, $v:expr, $family:ident, $($n:literal)*) => {
        match $v {
            $($n => catch_up($store, $family::<$n>, $head).await,)*
            v => panic!("only {VERSIONS} versions; asked for {v}"),
        }
    };
}

async fn run_balances<S>(store: &S, head: factum::Position, v: u32) -> Duration
where
    S: ProjectionStore + Clone + Send + Sync + 'static,
{
    dispatch!(store, head, v, Balances, 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40)
}

async fn run_fold<S>(store: &S, head: factum::Position, v: u32) -> Duration
where
    S: ProjectionStore + Clone + Send + Sync + 'static,
{
    dispatch!(store, head, v, Fold, 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24)
}

/// The hand-written side, on the store's own tables.
#[derive(Clone)]
enum Raw {
    Postgres(sqlx::PgPool),
    Sqlite {
        reader: sqlx::SqlitePool,
        writer: sqlx::SqlitePool,
    },
}

/// An event row's account and deposit.
fn decode(stream_id: &str, payload: &str) -> (String, i64) {
    let d: Deposited = serde_json::from_str(payload).expect("payload decodes");
    let account = stream_id.split_once('-').map_or(stream_id, |(_, k)| k);
    (account.to_owned(), d.cents)
}

impl Raw {
    /// The fold baseline: one streaming `SELECT` of the whole event rows (every column a
    /// projection is handed), each payload decoded with serde and summed.
    async fn fold(&self) -> i64 {
        let mut total = 0;
        match self {
            Raw::Postgres(pool) => {
                let mut rows = sqlx::query(
                    "SELECT position, event_id, stream_id, stream_version, event_type, \
                            schema_version, payload::text, metadata::text, recorded_at \
                     FROM events \
                     WHERE category = 'acct' AND event_type = 'Deposited' ORDER BY position",
                )
                .fetch(pool);
                while let Some(row) = rows.try_next().await.unwrap() {
                    let _: (i64, uuid::Uuid, &str, i64, &str, i32) = (
                        row.get(0),
                        row.get(1),
                        row.get(2),
                        row.get(3),
                        row.get(4),
                        row.get(5),
                    );
                    let _: (Option<&str>, chrono::DateTime<chrono::Utc>) = (row.get(7), row.get(8));
                    let d: Deposited = serde_json::from_str(row.get(6)).unwrap();
                    total += d.cents;
                }
            }
            Raw::Sqlite { reader, .. } => {
                let mut rows = sqlx::query(
                    "SELECT position, event_id, stream_id, stream_version, event_type, \
                            schema_version, payload, metadata, recorded_at \
                     FROM factum_events \
                     WHERE category = 'acct' AND event_type = 'Deposited' ORDER BY position",
                )
                .fetch(reader);
                while let Some(row) = rows.try_next().await.unwrap() {
                    let _: (i64, uuid::Uuid, &str, i64, &str, i64) = (
                        row.get(0),
                        row.get(1),
                        row.get(2),
                        row.get(3),
                        row.get(4),
                        row.get(5),
                    );
                    let _: (Option<&str>, i64) = (row.get(7), row.get(8));
                    let d: Deposited = serde_json::from_str(row.get(6)).unwrap();
                    total += d.cents;
                }
            }
        }
        total
    }

    /// The balances baseline: one upsert per event, all in one transaction. The events
    /// are streamed on one connection while the upserts run on another.
    async fn balances(&self) {
        match self {
            Raw::Postgres(pool) => {
                sqlx::query("TRUNCATE raw_balances")
                    .execute(pool)
                    .await
                    .unwrap();
                let mut tx = pool.begin().await.unwrap();
                let mut rows = sqlx::query(
                    "SELECT stream_id, payload::text FROM events \
                     WHERE category = 'acct' AND event_type = 'Deposited' ORDER BY position",
                )
                .fetch(pool);
                while let Some(row) = rows.try_next().await.unwrap() {
                    let (account, cents) = decode(row.get(0), row.get(1));
                    sqlx::query(
                        "INSERT INTO raw_balances (account, cents) VALUES ($1, $2) \
                         ON CONFLICT (account) DO UPDATE SET cents = raw_balances.cents + EXCLUDED.cents",
                    )
                    .bind(account)
                    .bind(cents)
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                }
                tx.commit().await.unwrap();
            }
            Raw::Sqlite { reader, writer } => {
                sqlx::query("DELETE FROM raw_balances")
                    .execute(writer)
                    .await
                    .unwrap();
                let mut tx = writer.begin().await.unwrap();
                let mut rows = sqlx::query(
                    "SELECT stream_id, payload FROM factum_events \
                     WHERE category = 'acct' AND event_type = 'Deposited' ORDER BY position",
                )
                .fetch(reader);
                while let Some(row) = rows.try_next().await.unwrap() {
                    let (account, cents) = decode(row.get(0), row.get(1));
                    sqlx::query(
                        "INSERT INTO raw_balances (account, cents) VALUES (?1, ?2) \
                         ON CONFLICT (account) DO UPDATE SET cents = raw_balances.cents + excluded.cents",
                    )
                    .bind(account)
                    .bind(cents)
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                }
                tx.commit().await.unwrap();
            }
        }
    }

    /// The raw balances, by account.
    async fn raw_balances(&self) -> HashMap<String, i64> {
        let sql = "SELECT account, cents FROM raw_balances";
        let rows: Vec<(String, i64)> = match self {
            Raw::Postgres(pool) => sqlx::query_as(sql).fetch_all(pool).await.unwrap(),
            Raw::Sqlite { writer, .. } => sqlx::query_as(sql).fetch_all(writer).await.unwrap(),
        };
        rows.into_iter().collect()
    }

    /// The balances version `v` of [`Balances`] wrote.
    async fn factum_balances(&self, v: u32) -> HashMap<String, i64> {
        let sql = format!(
            "SELECT account, cents FROM {}",
            Balance::descriptor().table_for(v)
        );
        let rows: Vec<(String, i64)> = match self {
            Raw::Postgres(pool) => sqlx::query_as(AssertSqlSafe(sql))
                .fetch_all(pool)
                .await
                .unwrap(),
            Raw::Sqlite { writer, .. } => sqlx::query_as(AssertSqlSafe(sql))
                .fetch_all(writer)
                .await
                .unwrap(),
        };
        rows.into_iter().collect()
    }
}

/// Appends the deposits: account `i` gets 100 events paying `i + k` cents.
async fn seed<S: EventStore + Clone + Send + Sync + 'static>(store: &S) {
    let mut tasks = JoinSet::new();
    for task in 0..8 {
        let store = store.clone();
        tasks.spawn(async move {
            for i in (task..ACCOUNTS).step_by(8) {
                let events = (0..PER_ACCOUNT)
                    .map(|k| {
                        EventData::new("Deposited", serde_json::json!({ "cents": (i + k) as i64 }))
                    })
                    .collect();
                let stream = StreamId::new(format!("acct-{i:04}")).unwrap();
                store
                    .append(&stream, ExpectedVersion::NoStream, events)
                    .await
                    .unwrap();
            }
        });
    }
    tasks.join_all().await;
}

/// Events/s of the samples, for the summary line.
#[derive(Default)]
struct Rates(Mutex<Vec<f64>>);

impl Rates {
    fn record(&self, iters: u64, took: Duration) {
        let rate = (EVENTS as u64 * iters) as f64 / took.as_secs_f64();
        self.0.lock().unwrap().push(rate);
    }

    fn median(&self) -> f64 {
        let mut r = self.0.lock().unwrap().clone();
        r.sort_by(f64::total_cmp);
        r.get(r.len() / 2).copied().unwrap_or(f64::NAN)
    }
}

/// A group of whole catch-ups: 10 samples of one iteration each, events/s as throughput.
fn group<'a>(
    c: &'a mut Criterion,
    name: &str,
) -> criterion::BenchmarkGroup<'a, criterion::measurement::WallTime> {
    let mut g = c.benchmark_group(name);
    g.sample_size(SAMPLES)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(100))
        .measurement_time(Duration::from_secs(1))
        .throughput(Throughput::Elements(EVENTS as u64));
    g
}

fn summarize(name: &str, factum: &Rates, raw: &Rates) {
    let (f, r) = (factum.median(), raw.median());
    println!(
        "== {name}: factum {f:.0} events/s, raw {r:.0} events/s, factum/raw {:.2}",
        f / r
    );
}

/// Runs the two series on `store`; returns the last projection version series 1 used.
fn bench_backend<S>(c: &mut Criterion, rt: &Runtime, backend: &str, store: S, raw: Raw) -> u32
where
    S: ProjectionStore + Clone + Send + Sync + 'static,
{
    rt.block_on(seed(&store));
    let head = rt.block_on(store.head_position()).unwrap();
    let next = AtomicU32::new(1);

    // Series 1: balances.
    let (factum, baseline) = (Rates::default(), Rates::default());
    let name = format!("{backend}/catch_up_balances");
    let mut g = group(c, &name);
    g.bench_function("factum", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let v = next.fetch_add(1, Ordering::Relaxed);
                let took = rt.block_on(run_balances(&store, head, v));
                factum.record(1, took);
                total += took;
            }
            total
        })
    });
    g.bench_function("raw_sqlx", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                rt.block_on(raw.balances());
            }
            let took = start.elapsed();
            baseline.record(iters, took);
            took
        })
    });
    g.finish();
    let last = next.load(Ordering::Relaxed) - 1;
    let (theirs, ours) =
        rt.block_on(async { (raw.raw_balances().await, raw.factum_balances(last).await) });
    assert_eq!(ours.len(), ACCOUNTS, "every account has a balance row");
    assert_eq!(ours, theirs, "Factum's balances equal the baseline's");
    summarize(&name, &factum, &baseline);

    // Series 2: an in-memory fold.
    let expected = rt.block_on(raw.fold());
    let (factum, baseline) = (Rates::default(), Rates::default());
    let next = AtomicU32::new(1);
    let name = format!("{backend}/catch_up_fold");
    let mut g = group(c, &name);
    g.bench_function("factum", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let v = next.fetch_add(1, Ordering::Relaxed);
                FOLDED.store(0, Ordering::Relaxed);
                let took = rt.block_on(run_fold(&store, head, v));
                assert_eq!(
                    FOLDED.load(Ordering::Relaxed),
                    expected,
                    "the fold saw every event once"
                );
                factum.record(1, took);
                total += took;
            }
            total
        })
    });
    g.bench_function("raw_sqlx", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                assert_eq!(rt.block_on(raw.fold()), expected);
            }
            let took = start.elapsed();
            baseline.record(iters, took);
            took
        })
    });
    g.finish();
    summarize(&name, &factum, &baseline);
    last
}

/// Series 3 (PostgreSQL): `catch_up_balances` with the read models in a second database
/// of the same server, each iteration beside one in the store's own database (versions
/// from `next_same` on), so that both rates come from the same minutes of a noisy
/// machine.
fn bench_apart<S, A>(
    c: &mut Criterion,
    rt: &Runtime,
    (same, next_same): (S, u32),
    apart: A,
    raw: &Raw,
) where
    S: ProjectionStore + Clone + Send + Sync + 'static,
    A: ProjectionStore + Clone + Send + Sync + 'static,
{
    let head = rt.block_on(apart.head_position()).unwrap();
    let next = AtomicU32::new(1);
    let next_same = AtomicU32::new(next_same);
    let (factum, beside) = (Rates::default(), Rates::default());
    let name = "postgres/catch_up_balances_apart";
    let mut g = group(c, name);
    g.bench_function("factum", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let v = next.fetch_add(1, Ordering::Relaxed);
                let took = rt.block_on(run_balances(&apart, head, v));
                factum.record(1, took);
                total += took;
                let v = next_same.fetch_add(1, Ordering::Relaxed);
                beside.record(1, rt.block_on(run_balances(&same, head, v)));
            }
            total
        })
    });
    g.finish();
    // The balances the second database holds equal the baseline's.
    let last = next.load(Ordering::Relaxed) - 1;
    let db = apart.projection_db();
    let pool = db
        .postgres()
        .expect("the read models are in PostgreSQL")
        .writer();
    let sql = format!(
        "SELECT account, cents FROM {}",
        Balance::descriptor().table_for(last)
    );
    let ours: HashMap<String, i64> = rt
        .block_on(sqlx::query_as(AssertSqlSafe(sql)).fetch_all(pool))
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(
        ours,
        rt.block_on(raw.raw_balances()),
        "the second database's balances are right"
    );
    let (apart, same_db) = (factum.median(), beside.median());
    println!(
        "== {name}: factum {apart:.0} events/s with read models in a second database, \
         {same_db:.0} in the store's own (interleaved), same/apart {:.2}",
        same_db / apart
    );
}

fn sqlite(c: &mut Criterion) {
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
    let rt = Runtime::new().unwrap();
    let _runtime = rt.enter();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.sqlite");
    let store = rt.block_on(SqliteStore::open(&path)).unwrap();
    let raw = rt.block_on(async {
        let base = SqliteConnectOptions::new()
            .filename(&path)
            .journal_mode(SqliteJournalMode::Wal);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(base.clone())
            .await
            .unwrap();
        sqlx::query("CREATE TABLE raw_balances (account TEXT PRIMARY KEY, cents INTEGER NOT NULL)")
            .execute(&writer)
            .await
            .unwrap();
        let reader = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(base.read_only(true))
            .await
            .unwrap();
        Raw::Sqlite { reader, writer }
    });
    bench_backend(c, &rt, "sqlite", store, raw);
}

fn postgres(c: &mut Criterion) {
    let Ok(url) = std::env::var("FACTUM_TEST_PG") else {
        eprintln!("FACTUM_TEST_PG is not set: skipping the PostgreSQL projection benchmarks");
        return;
    };
    let rt = Runtime::new().unwrap();
    let _runtime = rt.enter();
    let schema = format!("bench_{}", uuid::Uuid::now_v7().simple());
    let store = rt
        .block_on(PostgresStore::connect_with(
            PostgresConfig::new(url.as_str()).schema(&schema),
        ))
        .unwrap();
    let pool = store.pool().clone();
    rt.block_on(
        sqlx::query("CREATE TABLE raw_balances (account text PRIMARY KEY, cents bigint NOT NULL)")
            .execute(&pool),
    )
    .unwrap();
    rt.block_on(sqlx::query("ANALYZE").execute(&pool)).unwrap();
    let raw = Raw::Postgres(pool.clone());
    let used = bench_backend(c, &rt, "postgres", store.clone(), raw.clone());
    let views = rt.block_on(second_database(&url, &schema));
    let apart = WithReadModels::new(store.clone(), views.clone());
    bench_apart(c, &rt, (store, used + 1), apart, &raw);
    if let Some(pool) = views.postgres().map(|pg| pg.writer()) {
        let drop = format!("DROP SCHEMA {schema} CASCADE");
        rt.block_on(sqlx::query(AssertSqlSafe(drop)).execute(pool))
            .unwrap();
    }
    let drop = format!("DROP SCHEMA {schema} CASCADE");
    rt.block_on(sqlx::query(AssertSqlSafe(drop)).execute(&pool))
        .unwrap();
}

/// Read models in schema `schema` of the server's second database
/// (`factum_read_models`, created if missing).
async fn second_database(url: &str, schema: &str) -> ProjectionDb {
    let admin = sqlx::PgPool::connect(url).await.unwrap();
    let exists: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'factum_read_models')",
    )
    .fetch_one(&admin)
    .await
    .unwrap();
    if !exists {
        sqlx::query("CREATE DATABASE factum_read_models")
            .execute(&admin)
            .await
            .unwrap();
    }
    admin.close().await;
    let (server, _) = url.rsplit_once('/').unwrap();
    let views_url = format!("{server}/factum_read_models");
    ProjectionDb::connect_postgres(&views_url, schema)
        .await
        .unwrap()
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    sqlite(&mut c);
    postgres(&mut c);
    c.final_summary();
}
