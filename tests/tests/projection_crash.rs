//! Crash test: a projection process (`src/bin/projector.rs`) is killed with SIGKILL at
//! random points while it works through 20,000 events, and restarted; once it finishes,
//! the read model must equal the fold of every event, each applied exactly once. Also
//! with half the events (or more) appended while the kills happen, at least two kills
//! landing before the appender's last append returned, with the read models in a
//! second PostgreSQL database, and with a kill while a handler blocks inside a batch's
//! open transaction.

use std::process::{Child, Command};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use factum::projection::{ProjectionKey, ProjectionStore, Projections, WithReadModels};
use factum::{EventStore, Position};
use factum_tests::backends::{self, ReadModelsApart};
use factum_tests::projections::{Balances, assert_applied_exactly_once, fill};

const EVENTS: usize = 20_000;

/// A small deterministic generator for the kill points (the seed is printed, so that a
/// failing run can be repeated with `FACTUM_CRASH_SEED`).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low)
    }
}

fn seed() -> u64 {
    let seed = std::env::var("FACTUM_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("crash test seed: {seed} (set FACTUM_CRASH_SEED to repeat)");
    seed
}

fn spawn(args: &[String]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_projector"))
        .args(args)
        .spawn()
        .expect("start the projector")
}

fn kill(mut child: Child) {
    // `Child::kill` is SIGKILL on Unix: no destructor, no rollback, no lease release.
    child.kill().expect("SIGKILL the projector");
    child.wait().expect("reap the projector");
}

async fn checkpoint<S: ProjectionStore>(store: &S) -> Position {
    Projections::new(store.clone())
        .checkpoint(&ProjectionKey::of::<Balances>())
        .await
        .expect("read the checkpoint")
        .unwrap_or(Position::START)
}

/// Waits until the projection's checkpoint has moved a random share (5 to 30 %) of the
/// way from where it stands to the head, then a random few milliseconds more, so that
/// kills land while it works however fast the machine is. Gives up after a minute.
async fn wait_for_progress<S: ProjectionStore>(store: &S, head: Position, rng: &mut Lcg) {
    let from = checkpoint(store).await.0;
    let share = rng.between(5, 30);
    let target = from + (head.0.saturating_sub(from)) * share / 100;
    let deadline = Instant::now() + Duration::from_secs(60);
    while checkpoint(store).await.0 < target.max(from + 1) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(rng.between(0, 40))).await;
}

/// Whether events are appended while the projector is being killed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Appends {
    /// All before the first run.
    Before,
    /// Half before, half (or more: until [`LIVE_KILLS`] kills landed during the appends)
    /// while the kills happen.
    Live,
}

/// Kills that must land while the live appender is still appending.
const LIVE_KILLS: usize = 2;

/// The live appender's state, shared with the loop that kills the projector.
#[derive(Debug)]
struct Live {
    /// Set until the appender's last append has returned.
    appending: AtomicBool,
    /// Kills after which the appender was still appending.
    kills: AtomicUsize,
}

/// Appends at least `n` events to streams `live*`, 200 at a time, 20 ms apart, and goes
/// on until [`LIVE_KILLS`] kills happened while it appended; returns how many it
/// appended.
async fn append_slowly<S: EventStore>(store: S, n: usize, live: Arc<Live>) -> usize {
    let mut appended = 0;
    let mut chunk = 0;
    while appended < n || live.kills.load(Ordering::SeqCst) < LIVE_KILLS {
        fill(&store, &format!("live{chunk}"), 4, 200).await;
        appended += 200;
        chunk += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    live.appending.store(false, Ordering::SeqCst);
    appended
}

/// Kills the projector (run with `args`) eight times at random points while it works,
/// restarts it, and checks through `store` (whose projection database holds the read
/// models) that every event was applied exactly once.
async fn crash_and_restart<S: ProjectionStore + Send + Sync>(
    store: &S,
    args: Vec<String>,
    appends: Appends,
) {
    let live = Arc::new(Live {
        appending: AtomicBool::new(appends == Appends::Live),
        kills: AtomicUsize::new(0),
    });
    let appender = match appends {
        Appends::Before => {
            fill(store, "account", 40, EVENTS).await;
            None
        }
        Appends::Live => {
            fill(store, "account", 40, EVENTS / 2).await;
            Some(tokio::spawn(append_slowly(
                store.clone(),
                EVENTS / 2,
                live.clone(),
            )))
        }
    };
    let mut rng = Lcg(seed());

    let mut interrupted = 0;
    let mut kills = 0;
    while kills < 8 {
        let child = spawn(&args);
        let head = store.head_position().await.unwrap();
        wait_for_progress(store, head, &mut rng).await;
        kill(child);
        kills += 1;
        // Still appending once the projector is dead: the kill landed during the appends.
        let appending = live.appending.load(Ordering::SeqCst);
        if appending {
            live.kills.fetch_add(1, Ordering::SeqCst);
        }
        let at = checkpoint(store).await;
        eprintln!(
            "kill {kills}: checkpoint {} of {}{}",
            at.0,
            head.0,
            if appending { ", appends going on" } else { "" }
        );
        if at >= head && !appending {
            break;
        }
        if at > Position::START && at < head {
            interrupted += 1;
        }
    }
    assert!(
        interrupted >= 2,
        "only {interrupted} kills landed while the projection was working; the test proved nothing"
    );
    let events = match appender {
        Some(appender) => {
            let during = live.kills.load(Ordering::SeqCst);
            assert!(
                during >= LIVE_KILLS,
                "only {during} of {kills} kills landed while events were appended live"
            );
            EVENTS / 2 + appender.await.unwrap()
        }
        None => EVENTS,
    };

    // The last run finishes the work.
    let head = store.head_position().await.unwrap();
    let child = spawn(&args);
    let started = Instant::now();
    let reached = Projections::new(store.clone())
        .wait_for("balances", head, Duration::from_secs(240))
        .await;
    kill(child);
    let reached = reached.expect("the projection finishes after its restarts");
    eprintln!(
        "finished at {} in {:?}, {events} events",
        reached.0,
        started.elapsed()
    );
    assert_applied_exactly_once(store, events).await;
}

/// Kills the projector while a handler blocks inside a batch's open transaction (it
/// holds SQLite's write lock, or a PostgreSQL transaction with row locks), then lets a
/// restarted one finish: the blocked batch left nothing behind.
async fn kill_inside_an_open_transaction<S: ProjectionStore + Send + Sync>(
    store: &S,
    args: Vec<String>,
) {
    fill(store, "account", 40, EVENTS).await;
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("blocked");
    let mut blocking = args.clone();
    blocking.extend([
        "--block-after".to_owned(),
        (EVENTS / 3).to_string(),
        marker.display().to_string(),
    ]);
    let child = spawn(&blocking);
    let deadline = Instant::now() + Duration::from_secs(120);
    while !marker.exists() {
        assert!(Instant::now() < deadline, "the handler never blocked");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let stuck = checkpoint(store).await;
    kill(child);
    let head = store.head_position().await.unwrap();
    assert!(stuck < head, "the blocked run had not finished");
    eprintln!("killed while blocked at checkpoint {}", stuck.0);
    let child = spawn(&args);
    let reached = Projections::new(store.clone())
        .wait_for("balances", head, Duration::from_secs(240))
        .await;
    kill(child);
    reached.expect("the projection finishes after the blocked run was killed");
    assert_applied_exactly_once(store, EVENTS).await;
}

fn sqlite_args(path: &std::path::Path) -> Vec<String> {
    vec!["sqlite".into(), path.display().to_string()]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_projection_survives_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.sqlite");
    let store = factum::SqliteStore::open(&path).await.unwrap();
    // A killed runner's SQLite lease runs out after 1 s; the next run waits for it.
    crash_and_restart(&store, sqlite_args(&path), Appends::Before).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_projection_survives_sigkill_during_live_appends() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.sqlite");
    let store = factum::SqliteStore::open(&path).await.unwrap();
    crash_and_restart(&store, sqlite_args(&path), Appends::Live).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_projection_survives_sigkill_inside_an_open_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.sqlite");
    let store = factum::SqliteStore::open(&path).await.unwrap();
    kill_inside_an_open_transaction(&store, sqlite_args(&path)).await;
}

fn postgres_args(store: &factum::PostgresStore) -> Vec<String> {
    let url = backends::pg_url("projection_crash").unwrap();
    vec!["postgres".into(), url, store.schema().to_owned()]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_projection_survives_sigkill() {
    let Some(store) = backends::postgres("projection_crash", Default::default()).await else {
        return;
    };
    crash_and_restart(store.store(), postgres_args(&store), Appends::Before).await;
    store.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_projection_survives_sigkill_during_live_appends() {
    let Some(store) = backends::postgres("projection_crash", Default::default()).await else {
        return;
    };
    crash_and_restart(store.store(), postgres_args(&store), Appends::Live).await;
    store.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_projection_survives_sigkill_inside_an_open_transaction() {
    let Some(store) = backends::postgres("projection_crash", Default::default()).await else {
        return;
    };
    kill_inside_an_open_transaction(store.store(), postgres_args(&store)).await;
    store.cleanup().await;
}

/// Read models in a second PostgreSQL database, events appended live during the kills.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_projection_with_read_models_apart_survives_sigkill() {
    let Some(store) = backends::postgres("projection_crash", Default::default()).await else {
        return;
    };
    let views = ReadModelsApart::postgres("projection_crash").await.unwrap();
    let backends::Pools::Postgres { schema, .. } = backends::pools(&views.db) else {
        unreachable!("PostgreSQL read models")
    };
    let mut args = postgres_args(&store);
    args.extend([
        "--read-models".to_owned(),
        "postgres".to_owned(),
        backends::second_pg_url("projection_crash").await.unwrap(),
        schema.to_string(),
    ]);
    let checker = WithReadModels::new(store.store().clone(), views.db.clone());
    crash_and_restart(&checker, args, Appends::Live).await;
    views.cleanup().await;
    store.cleanup().await;
}
