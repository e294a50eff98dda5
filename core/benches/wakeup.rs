//! Live subscription wake-up latency: the time from an append's commit (the `append`
//! call returning) to a subscriber holding the event, while other tasks append 2,000
//! events a second (4 tasks, each appending 10 events every 20 ms to streams of their
//! own). Each measured iteration appends one probe event and waits until the reader
//! reports it; p50/p99 over all iterations are printed beside criterion's figures.
//!
//! Readers compared on the same store and tables:
//! - `subscription`: a [`Subscription`] of the whole log on the writing store (woken by
//!   the store's in-process signal);
//! - `subscription_other_store` (PostgreSQL): the subscription on a second store of the
//!   same schema, as another process would have it (woken by the coalesced NOTIFY);
//! - `projection_lag`: a projection of every event (its handler does nothing else), run
//!   by a `ProjectionRunner` with default options on the writing store; an event has
//!   arrived when the projection's committed checkpoint has passed it (issue 12's live
//!   lag);
//! - `raw_poll_5ms`: the baseline, a hand-written reader polling the events table every
//!   5 ms with plain SQL (on PostgreSQL below the snapshot's `xmin`, the simplest correct
//!   bound), on the same connections.
//!
//! ```text
//! FACTUM_TEST_PG=postgres://postgres@127.0.0.1:5432/test cargo bench -p factum --features postgres --bench wakeup
//! ```

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use factum::SqliteStore;
use factum::projection::subscription::Subscription;
use factum::projection::{
    HandlerError, Projection, ProjectionKey, ProjectionRunner, ProjectionStore, ProjectionTx,
};
use factum::{
    EventData, EventStore, ExpectedVersion, ReadModelDescriptor, RecordedEvent, StreamId,
};
use factum::{PostgresConfig, PostgresStore};
use futures_util::future::BoxFuture;
use serde_json::json;
use sqlx::{AssertSqlSafe, Row};
use tokio::runtime::Runtime;
use tokio::sync::watch;

/// Background load: tasks × events per append / interval = 2,000 events/s.
const LOAD_TASKS: usize = 4;
const LOAD_BATCH: usize = 10;
const LOAD_EVERY: Duration = Duration::from_millis(20);
/// The stream of the measured events.
const PROBE: &str = "probe-1";
/// The baseline's poll interval.
const RAW_POLL: Duration = Duration::from_millis(5);

/// Latencies recorded one by one, for percentiles.
#[derive(Clone, Default)]
struct Latencies(Arc<Mutex<Vec<Duration>>>);

impl Latencies {
    fn report(&self, label: &str) {
        let mut all = self.0.lock().unwrap().clone();
        if all.is_empty() {
            // This side was filtered out of the run.
            return;
        }
        all.sort();
        let at = |q: f64| all[((all.len() as f64 * q) as usize).min(all.len() - 1)];
        let (p50, p99) = (at(0.50), at(0.99));
        println!("{label}: {} samples, p50 {p50:?}, p99 {p99:?}", all.len());
    }
}

/// The highest probe position a reader has handed out, and when.
type Arrivals = watch::Receiver<(u64, Instant)>;

/// Appends the background load until `stop` is set.
fn start_load<S: EventStore + Clone + Send + Sync + 'static>(
    rt: &Runtime,
    store: S,
    stop: Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..LOAD_TASKS)
        .map(|task| {
            let (store, stop) = (store.clone(), stop.clone());
            rt.spawn(async move {
                let mut tick = tokio::time::interval(LOAD_EVERY);
                let mut n = 0_usize;
                while !stop.load(Ordering::Relaxed) {
                    tick.tick().await;
                    let stream = StreamId::new(format!("load-{task}x{}", n % 100)).unwrap();
                    let events = (0..LOAD_BATCH)
                        .map(|k| EventData::new("Loaded", json!({ "n": n, "k": k })))
                        .collect();
                    store
                        .append(&stream, ExpectedVersion::Any, events)
                        .await
                        .expect("load append");
                    n += 1;
                }
            })
        })
        .collect()
}

/// A subscription of the whole log that reports each probe event it hands out.
fn subscription_reader<S: EventStore + Clone + Send + Sync + 'static>(
    rt: &Runtime,
    store: S,
) -> (Arrivals, tokio::task::JoinHandle<()>) {
    let (tx, rx) = watch::channel((0, Instant::now()));
    // The start is taken before the first probe is appended: taken inside the task, it
    // could come after that probe, which the reader would then never see.
    let head = rt.block_on(store.head_position()).unwrap();
    let task = rt.spawn(async move {
        let mut subscription = Subscription::after(store, head);
        loop {
            let batch = subscription.next_batch().await.expect("subscription");
            let now = Instant::now();
            if let Some(p) = batch
                .events
                .iter()
                .rev()
                .find(|e| e.stream_id.as_str() == PROBE)
            {
                tx.send_replace((p.position.0, now));
            }
        }
    });
    (rx, task)
}

/// Applies every event and does nothing else: what is measured is the runner.
struct Lag;

impl Projection for Lag {
    const NAME: &'static str = "bench_lag";
    const VERSION: u32 = 1;
    const EVENT_TYPES: &'static [&'static str] = &[];
    const CATEGORIES: &'static [&'static str] = &[];

    fn read_models() -> Vec<&'static ReadModelDescriptor> {
        Vec::new()
    }

    fn handle<'a>(
        &'a self,
        _tx: &'a mut ProjectionTx,
        _event: &'a RecordedEvent,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async { Ok(()) })
    }
}

/// A running projection, caught up before the measurement starts, that reports its
/// committed checkpoint each time it moves. The projection runs until the runtime ends.
fn projection_reader<S: ProjectionStore + Clone + Send + Sync + 'static>(
    rt: &Runtime,
    store: S,
) -> (Arrivals, tokio::task::JoinHandle<()>) {
    let (tx, rx) = watch::channel((0, Instant::now()));
    let key = ProjectionKey::of::<Lag>();
    let head = rt.block_on(store.head_position()).unwrap();
    let running = rt.block_on(async {
        let running = ProjectionRunner::new(store).with_projection(Lag).start();
        running.wait_until(&key, |p| p.checkpoint >= head).await;
        running
    });
    let task = rt.spawn(async move {
        let mut last = 0;
        loop {
            running.wait_until(&key, |p| p.checkpoint.0 > last).await;
            let now = Instant::now();
            let Some(progress) = running.progress().into_iter().find(|p| p.key == key) else {
                return;
            };
            last = progress.checkpoint.0;
            tx.send_replace((last, now));
        }
    });
    (rx, task)
}

/// The baseline: polls `page(after)` every [`RAW_POLL`] and reports probe events.
fn raw_reader<F>(rt: &Runtime, start: u64, page: F) -> (Arrivals, tokio::task::JoinHandle<()>)
where
    F: Fn(u64) -> BoxFuture<'static, Vec<(u64, String)>> + Send + 'static,
{
    let (tx, rx) = watch::channel((0, Instant::now()));
    let task = rt.spawn(async move {
        let mut after = start;
        loop {
            let rows = page(after).await;
            let now = Instant::now();
            if let Some((last, _)) = rows.last() {
                after = *last;
            }
            if let Some((p, _)) = rows.iter().rev().find(|(_, s)| s == PROBE) {
                tx.send_replace((*p, now));
            }
            if rows.is_empty() {
                tokio::time::sleep(RAW_POLL).await;
            }
        }
    });
    (rx, task)
}

/// Measures append → arrival for one reader.
fn measure<S: EventStore + Clone + Send + Sync + 'static>(
    c: &mut Criterion,
    rt: &Runtime,
    label: &str,
    writer: &S,
    reader: (Arrivals, tokio::task::JoinHandle<()>),
) {
    let (arrivals, task) = reader;
    let times = Latencies::default();
    let probe = StreamId::new(PROBE).unwrap();
    let mut group = c.benchmark_group("wakeup");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(15));
    group.bench_function(label, |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let done = writer
                        .append(
                            &probe,
                            ExpectedVersion::Any,
                            vec![EventData::new("Probe", json!({}))],
                        )
                        .await
                        .expect("probe append");
                    let committed = Instant::now();
                    let position = done.last_position().0;
                    let mut arrivals = arrivals.clone();
                    let arrived = tokio::time::timeout(
                        Duration::from_secs(10),
                        arrivals.wait_for(|(p, _)| *p >= position),
                    )
                    .await
                    .expect("the reader saw the probe within 10 s")
                    .expect("reader alive")
                    .1;
                    let latency = arrived.saturating_duration_since(committed);
                    times.0.lock().unwrap().push(latency);
                    total += latency;
                    // Keep probes apart, so that each waits on its own.
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                total
            })
        })
    });
    group.finish();
    task.abort();
    times.report(label);
}

fn sqlite(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = rt
        .block_on(SqliteStore::open(dir.path().join("bench.sqlite")))
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let load = start_load(&rt, store.clone(), stop.clone());

    let reader = subscription_reader(&rt, store.clone());
    measure(c, &rt, "sqlite/subscription", &store, reader);

    let pool = store.read_pool().clone();
    let start = rt.block_on(store.head_position()).unwrap().0;
    let reader = raw_reader(&rt, start, move |after| {
        let pool = pool.clone();
        Box::pin(async move {
            sqlx::query(
                "SELECT position, stream_id, payload FROM factum_events \
                 WHERE position > ? ORDER BY position LIMIT 500",
            )
            .bind(after as i64)
            .fetch_all(&pool)
            .await
            .expect("raw poll")
            .iter()
            .map(|row| (row.get::<i64, _>(0) as u64, row.get::<String, _>(1)))
            .collect()
        })
    });
    measure(c, &rt, "sqlite/raw_poll_5ms", &store, reader);
    // Last: the projection keeps running until the runtime ends.
    let reader = projection_reader(&rt, store.clone());
    measure(c, &rt, "sqlite/projection_lag", &store, reader);
    stop.store(true, Ordering::Relaxed);
    for task in load {
        rt.block_on(task).expect("load task");
    }
}

fn postgres(c: &mut Criterion) {
    let Ok(url) = std::env::var("FACTUM_TEST_PG") else {
        eprintln!("FACTUM_TEST_PG is not set: skipping the PostgreSQL benchmark");
        return;
    };
    let rt = Runtime::new().unwrap();
    let schema = format!("bench_{}", uuid::Uuid::now_v7().simple());
    let config = || PostgresConfig::new(url.clone()).schema(&schema);
    let store = rt.block_on(PostgresStore::connect_with(config())).unwrap();
    let other = rt.block_on(PostgresStore::connect_with(config())).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let load = start_load(&rt, store.clone(), stop.clone());

    let reader = subscription_reader(&rt, store.clone());
    measure(c, &rt, "postgres/subscription", &store, reader);

    let reader = subscription_reader(&rt, other.clone());
    measure(c, &rt, "postgres/subscription_other_store", &store, reader);

    let pool = store.pool().clone();
    let start = rt.block_on(store.head_position()).unwrap().0;
    let reader = raw_reader(&rt, start, move |after| {
        let pool = pool.clone();
        Box::pin(async move {
            sqlx::query(
                "SELECT position, stream_id, payload::text FROM events \
                 WHERE position > $1 \
                   AND position < pg_snapshot_xmin(pg_current_snapshot())::text::bigint << 20 \
                 ORDER BY position LIMIT 500",
            )
            .bind(after as i64)
            .fetch_all(&pool)
            .await
            .expect("raw poll")
            .iter()
            .map(|row| (row.get::<i64, _>(0) as u64, row.get::<String, _>(1)))
            .collect()
        })
    });
    measure(c, &rt, "postgres/raw_poll_5ms", &store, reader);
    // Last: the projection keeps running until the runtime ends.
    let reader = projection_reader(&rt, store.clone());
    measure(c, &rt, "postgres/projection_lag", &store, reader);
    stop.store(true, Ordering::Relaxed);
    for task in load {
        rt.block_on(task).expect("load task");
    }

    let drop = format!("DROP SCHEMA {schema} CASCADE");
    rt.block_on(sqlx::query(AssertSqlSafe(drop)).execute(store.pool()))
        .unwrap();
}

criterion_group!(benches, sqlite, postgres);
criterion_main!(benches);
