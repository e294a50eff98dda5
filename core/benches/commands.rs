//! Commands under load (issue 11): the repository's command path with concurrent callers,
//! each series beside the hand-written command path of `support/raw.rs` (load the stream,
//! fold, INSERT at the next version, retry on a conflict) on plain tables of its own in
//! the same database.
//!
//! 1. `distinct_aggregates`: 8 tasks, each running one command on each of its own 125
//!    aggregates per batch (1,000 commands); one iteration is the whole batch.
//! 2. `hot_aggregate`: 8 tasks, 100 commands each, all on one fresh aggregate (800
//!    commands); the raw path retries on a unique violation until it gets through. A
//!    command Factum fails is counted, printed, and fails the run (exit status 1) after
//!    every series has run.
//! 3. `sequential_round_robin`: one task, commands round robin over 1,000 aggregates.
//!
//! Every aggregate starts with 10 events, and before series 1 and 3 are timed each
//! aggregate has taken one command through the path under test (the state of a process
//! that has been serving them). After each series prints commands/s of both paths (median
//! of the samples) and the ratio factum/raw.
//!
//! ```text
//! FACTUM_TEST_PG=postgres://postgres@127.0.0.1:5432/test cargo bench -p factum --bench commands
//! ```

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::{BenchmarkGroup, Criterion, SamplingMode, Throughput, measurement::WallTime};
use factum::SqliteStore;
use factum::{EventData, EventSet, EventStore, ExpectedVersion, Metadata, Repository, StreamId};
use factum::{PostgresConfig, PostgresStore};
use serde::{Deserialize, Serialize};
use sqlx::AssertSqlSafe;
use tokio::runtime::Runtime;
use tokio::task::JoinSet;
use uuid::Uuid;

#[path = "support/raw.rs"]
mod raw;

use raw::commands::RawCommands;

/// Money paid in (the same shape the raw path decodes).
#[derive(factum::Event, Serialize, Deserialize, schemars::JsonSchema, Clone, Debug)]
struct Deposited {
    cents: i64,
}

#[derive(EventSet, Clone, Debug)]
enum BalanceEvent {
    Deposited(Deposited),
}

#[derive(Default, Debug)]
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

type Repo<S> = Arc<Repository<Balance, S>>;

const TASKS: usize = 8;
const PER_TASK: usize = 125;
const HOT_COMMANDS: usize = 100;
const ROUND_ROBIN: usize = 1_000;
/// Events every aggregate has before the first timed command.
const HISTORY: usize = 10;
const CENTS: i64 = 5;
/// Sum of the seeded deposits' cents (`raw::payload(i)` pays `1000 + i`).
const HISTORY_CENTS: i64 = (1000 * HISTORY + HISTORY * (HISTORY - 1) / 2) as i64;

/// Commands Factum failed, over the whole run: any is a failed benchmark.
static FACTUM_FAILURES: AtomicUsize = AtomicUsize::new(0);

/// What a batch of commands met.
#[derive(Default)]
struct Outcome {
    done: u64,
    failed: u64,
    /// Re-decisions (Factum's `Executed::retries`) or raw conflicts.
    retries: u64,
    /// Distinct failure messages and how many commands failed with each.
    errors: Vec<(String, u64)>,
}

impl Outcome {
    /// Counts a command Factum failed, its message without the stream's name (hot batches
    /// each have their own stream) so that alike failures group together.
    fn fail(&mut self, id: &str, err: impl std::fmt::Display) {
        self.failed += 1;
        let message = err.to_string().replace(stream(id).as_str(), "<stream>");
        match self.errors.iter_mut().find(|(m, _)| *m == message) {
            Some((_, n)) => *n += 1,
            None => self.errors.push((message, 1)),
        }
    }

    fn add(&mut self, other: Outcome) {
        self.done += other.done;
        self.failed += other.failed;
        self.retries += other.retries;
        for (message, n) in other.errors {
            match self.errors.iter_mut().find(|(m, _)| *m == message) {
                Some((_, total)) => *total += n,
                None => self.errors.push((message, n)),
            }
        }
    }
}

/// Per-call timings of one benchmark function, for the summary line.
#[derive(Default)]
struct Tally {
    /// Commands, time taken and commands failed, per call of the routine.
    calls: Mutex<Vec<(u64, Duration, u64)>>,
    outcome: Mutex<Outcome>,
}

impl Tally {
    fn record(&self, commands: u64, elapsed: Duration, outcome: Outcome) {
        let failed = outcome.failed;
        self.calls.lock().unwrap().push((commands, elapsed, failed));
        self.outcome.lock().unwrap().add(outcome);
    }

    /// Median commands/s over the last `samples` calls: criterion calls the routine once
    /// per sample after its warm-up calls.
    fn rate(&self, samples: usize) -> f64 {
        let calls = self.calls.lock().unwrap();
        let mut rates: Vec<f64> = calls
            .iter()
            .rev()
            .take(samples)
            .map(|(n, t, _)| *n as f64 / t.as_secs_f64())
            .collect();
        rates.sort_by(f64::total_cmp);
        match rates.len() {
            0 => f64::NAN,
            n if n % 2 == 1 => rates[n / 2],
            n => (rates[n / 2 - 1] + rates[n / 2]) / 2.0,
        }
    }
}

const SAMPLES: usize = 10;

/// Prints the series' line: both rates, the ratio against its target, and what the
/// commands met.
fn summarize(name: &str, target: f64, factum: &Tally, raw: &Tally) {
    let (f, r) = (factum.rate(SAMPLES), raw.rate(SAMPLES));
    let fo = factum.outcome.lock().unwrap();
    let ro = raw.outcome.lock().unwrap();
    let ratio = f / r;
    let verdict = if ratio >= target { "met" } else { "NOT met" };
    println!(
        "\n== {name}: factum {f:.0} commands/s, raw {r:.0} commands/s, factum/raw {ratio:.2} \
         (target >= {target}: {verdict})\n   factum: {} commands, {} failed, {} re-decisions; \
         raw: {} commands, {} conflicts\n",
        fo.done + fo.failed,
        fo.failed,
        fo.retries,
        ro.done,
        ro.retries,
    );
    if fo.failed > 0 {
        let per_call: Vec<u64> = factum.calls.lock().unwrap().iter().map(|c| c.2).collect();
        println!("   FACTUM FAILED commands per call, warm-up included: {per_call:?}");
        for (message, n) in &fo.errors {
            println!("   FACTUM FAILED {n} commands: {message}");
        }
        FACTUM_FAILURES.fetch_add(fo.failed as usize, Ordering::Relaxed);
    }
}

/// A group of whole concurrent batches: one batch per sample. A batch is already a second
/// or so of work, so criterion's "unable to complete 10 samples" notice is expected.
fn batch_group<'a>(
    c: &'a mut Criterion,
    name: &str,
    commands: u64,
) -> BenchmarkGroup<'a, WallTime> {
    let mut g = c.benchmark_group(name);
    g.sample_size(SAMPLES)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(1))
        .throughput(Throughput::Elements(commands));
    g
}

fn deposits(n: usize) -> Vec<EventData> {
    (0..n)
        .map(|i| EventData::new("Deposited", raw::payload(i)))
        .collect()
}

fn stream(id: &str) -> StreamId {
    StreamId::from_parts("bench", id).unwrap()
}

/// Gives each aggregate its history, through the store (8 writers at once) and through
/// the raw path's own tables.
async fn seed<S: EventStore + Clone + Send + Sync + 'static>(
    store: &S,
    raw: &RawCommands,
    ids: &[String],
) {
    let mut tasks = JoinSet::new();
    for chunk in ids.chunks(ids.len().div_ceil(TASKS)) {
        let (store, chunk) = (store.clone(), chunk.to_vec());
        tasks.spawn(async move {
            for id in chunk {
                store
                    .append(&stream(&id), ExpectedVersion::NoStream, deposits(HISTORY))
                    .await
                    .unwrap();
            }
        });
    }
    tasks.join_all().await;
    let streams: Vec<String> = ids
        .iter()
        .map(|id| stream(id).as_str().to_owned())
        .collect();
    raw.seed(&streams, HISTORY).await;
}

/// Runs each task's list of commands through the repository, the tasks at once.
async fn factum_batch<S>(repo: &Repo<S>, work: &[Arc<Vec<String>>]) -> Outcome
where
    S: EventStore + Send + Sync + 'static,
{
    let mut tasks = JoinSet::new();
    for ids in work {
        let (repo, ids) = (repo.clone(), ids.clone());
        tasks.spawn(async move {
            let mut outcome = Outcome::default();
            for id in ids.iter() {
                match repo.execute(id, Deposit(CENTS), Metadata::new()).await {
                    Ok(done) => {
                        outcome.done += 1;
                        outcome.retries += u64::from(done.retries);
                    }
                    Err(err) => outcome.fail(id, err),
                }
            }
            outcome
        });
    }
    let mut total = Outcome::default();
    for outcome in tasks.join_all().await {
        total.add(outcome);
    }
    total
}

/// The same batch on the raw path (stream names as Factum's, in the raw table).
async fn raw_batch(raw: &RawCommands, work: &[Arc<Vec<String>>]) -> Outcome {
    let mut tasks = JoinSet::new();
    for ids in work {
        let (raw, ids) = (raw.clone(), ids.clone());
        tasks.spawn(async move {
            let mut outcome = Outcome::default();
            for id in ids.iter() {
                outcome.retries += raw.execute(id, CENTS).await;
                outcome.done += 1;
            }
            outcome
        });
    }
    let mut total = Outcome::default();
    for outcome in tasks.join_all().await {
        total.add(outcome);
    }
    total
}

/// The raw path's stream names for aggregate ids.
fn raw_names(work: &[Arc<Vec<String>>]) -> Vec<Arc<Vec<String>>> {
    work.iter()
        .map(|ids| {
            Arc::new(
                ids.iter()
                    .map(|id| stream(id).as_str().to_owned())
                    .collect(),
            )
        })
        .collect()
}

/// Checks, outside the timing, that every aggregate holds its history plus one deposit
/// per command that succeeded, in Factum and in the raw tables.
async fn check<S: EventStore + Send + Sync + 'static>(
    repo: &Repo<S>,
    raw: &RawCommands,
    ids: &[String],
    factum_events: u64,
    raw_events: u64,
) {
    let (mut f_version, mut f_total, mut r_version, mut r_total) = (0u64, 0i64, 0i64, 0i64);
    for id in ids {
        let loaded = repo.load(id).await.unwrap();
        f_version += loaded.version;
        f_total += loaded.state.total;
        let (version, total) = raw.state(stream(id).as_str()).await;
        r_version += version;
        r_total += total;
    }
    let seeded = ids.len() as u64 * HISTORY as u64;
    let seeded_cents = ids.len() as i64 * HISTORY_CENTS;
    assert_eq!(f_version, seeded + factum_events, "factum: events appended");
    assert_eq!(
        f_total,
        seeded_cents + CENTS * factum_events as i64,
        "factum: balance"
    );
    assert_eq!(
        r_version as u64,
        seeded + raw_events,
        "raw: events appended"
    );
    assert_eq!(
        r_total,
        seeded_cents + CENTS * raw_events as i64,
        "raw: balance"
    );
}

/// The three series on one backend.
fn bench_backend<S>(c: &mut Criterion, rt: &Runtime, backend: &str, store: S, raw: RawCommands)
where
    S: EventStore + Clone + Send + Sync + 'static,
{
    distinct_aggregates(c, rt, backend, &store, &raw);
    hot_aggregate(c, rt, backend, &store, &raw);
    sequential_round_robin(c, rt, backend, &store, &raw);
}

/// Series 1: 8 tasks, each on its own 125 aggregates.
fn distinct_aggregates<S>(
    c: &mut Criterion,
    rt: &Runtime,
    backend: &str,
    store: &S,
    raw: &RawCommands,
) where
    S: EventStore + Clone + Send + Sync + 'static,
{
    let repo: Repo<S> = Arc::new(Repository::new(store.clone()));
    let work: Vec<Arc<Vec<String>>> = (0..TASKS)
        .map(|t| Arc::new((0..PER_TASK).map(|i| format!("d{t}x{i:03}")).collect()))
        .collect();
    let raw_work = raw_names(&work);
    let ids: Vec<String> = work.iter().flat_map(|w| w.iter().cloned()).collect();
    let commands = ids.len() as u64;
    rt.block_on(async {
        seed(store, raw, &ids).await;
        raw.analyze().await;
        // Each aggregate has been served once by this process.
        assert_eq!(factum_batch(&repo, &work).await.failed, 0);
        raw_batch(raw, &raw_work).await;
    });

    let (factum, baseline) = (Tally::default(), Tally::default());
    let name = format!("{backend}/distinct_aggregates");
    let mut g = batch_group(c, &name, commands);
    g.bench_function("factum", |b| {
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                let outcome = rt.block_on(factum_batch(&repo, &work));
                let took = start.elapsed();
                elapsed += took;
                factum.record(commands, took, outcome);
            }
            elapsed
        })
    });
    g.bench_function("raw_sqlx", |b| {
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                let outcome = rt.block_on(raw_batch(raw, &raw_work));
                let took = start.elapsed();
                elapsed += took;
                baseline.record(commands, took, outcome);
            }
            elapsed
        })
    });
    g.finish();
    let f_done = factum.outcome.lock().unwrap().done + commands;
    let r_done = baseline.outcome.lock().unwrap().done + commands;
    rt.block_on(check(&repo, raw, &ids, f_done, r_done));
    summarize(&name, 1.2, &factum, &baseline);
}

/// Series 2: 8 tasks, 100 commands each, on one aggregate (a fresh one per batch).
fn hot_aggregate<S>(c: &mut Criterion, rt: &Runtime, backend: &str, store: &S, raw: &RawCommands)
where
    S: EventStore + Clone + Send + Sync + 'static,
{
    let repo: Repo<S> = Arc::new(Repository::new(store.clone()));
    let commands = (TASKS * HOT_COMMANDS) as u64;
    let (factum, baseline) = (Tally::default(), Tally::default());
    let name = format!("{backend}/hot_aggregate");
    let mut g = batch_group(c, &name, commands);
    // Each batch on a fresh aggregate with its history, set up outside the timing, so
    // every batch is the same work: a stream from 10 to 810 events.
    let batch = |raw_path: bool| {
        let id = format!("hot{}", Uuid::now_v7().simple());
        let ids = [id.clone()];
        let work: Vec<Arc<Vec<String>>> = (0..TASKS)
            .map(|_| Arc::new(vec![id.clone(); HOT_COMMANDS]))
            .collect();
        rt.block_on(seed(store, raw, &ids));
        let start = Instant::now();
        let outcome = if raw_path {
            rt.block_on(raw_batch(raw, &raw_names(&work)))
        } else {
            rt.block_on(factum_batch(&repo, &work))
        };
        let took = start.elapsed();
        // The stream holds the history and exactly one event per successful command.
        let (f_events, r_events) = if raw_path {
            (0, commands)
        } else {
            (outcome.done, 0)
        };
        rt.block_on(check(&repo, raw, &ids, f_events, r_events));
        (took, outcome)
    };
    g.bench_function("factum", |b| {
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            for _ in 0..iters {
                let (took, outcome) = batch(false);
                elapsed += took;
                factum.record(commands, took, outcome);
            }
            elapsed
        })
    });
    g.bench_function("raw_sqlx", |b| {
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            for _ in 0..iters {
                let (took, outcome) = batch(true);
                elapsed += took;
                baseline.record(commands, took, outcome);
            }
            elapsed
        })
    });
    g.finish();
    summarize(&name, 10.0, &factum, &baseline);
}

/// Series 3: one task, commands round robin over 1,000 aggregates.
fn sequential_round_robin<S>(
    c: &mut Criterion,
    rt: &Runtime,
    backend: &str,
    store: &S,
    raw: &RawCommands,
) where
    S: EventStore + Clone + Send + Sync + 'static,
{
    let repo: Repo<S> = Arc::new(Repository::new(store.clone()));
    let ids: Vec<String> = (0..ROUND_ROBIN).map(|i| format!("r{i:04}")).collect();
    let raw_ids: Vec<String> = ids
        .iter()
        .map(|id| stream(id).as_str().to_owned())
        .collect();
    rt.block_on(async {
        seed(store, raw, &ids).await;
        raw.analyze().await;
        let work = [Arc::new(ids.clone())];
        assert_eq!(factum_batch(&repo, &work).await.failed, 0);
        raw_batch(raw, &raw_names(&work)).await;
    });

    let (factum, baseline) = (Tally::default(), Tally::default());
    let (f_next, r_next) = (AtomicU64::new(0), AtomicU64::new(0));
    let name = format!("{backend}/sequential_round_robin");
    let mut g = c.benchmark_group(&name);
    g.sample_size(SAMPLES)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .throughput(Throughput::Elements(1));
    g.bench_function("factum", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            let outcome = rt.block_on(async {
                let mut outcome = Outcome::default();
                for _ in 0..iters {
                    let i = f_next.fetch_add(1, Ordering::Relaxed) as usize % ROUND_ROBIN;
                    match repo.execute(&ids[i], Deposit(CENTS), Metadata::new()).await {
                        Ok(done) => {
                            outcome.done += 1;
                            outcome.retries += u64::from(done.retries);
                        }
                        Err(err) => outcome.fail(&ids[i], err),
                    }
                }
                outcome
            });
            let took = start.elapsed();
            factum.record(iters, took, outcome);
            took
        })
    });
    g.bench_function("raw_sqlx", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            let outcome = rt.block_on(async {
                let mut outcome = Outcome::default();
                for _ in 0..iters {
                    let i = r_next.fetch_add(1, Ordering::Relaxed) as usize % ROUND_ROBIN;
                    outcome.retries += raw.execute(&raw_ids[i], CENTS).await;
                    outcome.done += 1;
                }
                outcome
            });
            let took = start.elapsed();
            baseline.record(iters, took, outcome);
            took
        })
    });
    g.finish();
    let f_done = factum.outcome.lock().unwrap().done + ROUND_ROBIN as u64;
    let r_done = baseline.outcome.lock().unwrap().done + ROUND_ROBIN as u64;
    rt.block_on(check(&repo, raw, &ids, f_done, r_done));
    summarize(&name, 1.5, &factum, &baseline);
}

fn sqlite(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    // A repository may start tasks of its own when it is built.
    let _runtime = rt.enter();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.sqlite");
    let store = rt.block_on(SqliteStore::open(&path)).unwrap();
    let raw = rt.block_on(RawCommands::sqlite(&path));
    bench_backend(c, &rt, "sqlite", store, raw.clone());
    rt.block_on(raw.close());
}

fn postgres(c: &mut Criterion) {
    let Ok(url) = std::env::var("FACTUM_TEST_PG") else {
        eprintln!("FACTUM_TEST_PG is not set: skipping the PostgreSQL command benchmarks");
        return;
    };
    let rt = Runtime::new().unwrap();
    let _runtime = rt.enter();
    let schema = format!("bench_{}", Uuid::now_v7().simple());
    let store = rt
        .block_on(PostgresStore::connect_with(
            PostgresConfig::new(url.as_str()).schema(&schema),
        ))
        .unwrap();
    let raw = rt.block_on(RawCommands::postgres(&url, &schema));
    bench_backend(c, &rt, "postgres", store, raw.clone());
    let RawCommands::Postgres(pool) = &raw else {
        unreachable!()
    };
    let drop = format!("DROP SCHEMA {schema} CASCADE");
    rt.block_on(sqlx::query(AssertSqlSafe(drop)).execute(pool))
        .unwrap();
    rt.block_on(raw.close());
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    sqlite(&mut c);
    postgres(&mut c);
    c.final_summary();
    let failed = FACTUM_FAILURES.load(Ordering::Relaxed);
    if failed > 0 {
        eprintln!(
            "{failed} Factum commands failed (see the FACTUM FAILED lines): the benchmark fails"
        );
        std::process::exit(1);
    }
}
