//! Crash test: a projection process (`src/bin/projector.rs`) is killed with SIGKILL at
//! random points while it works through 20,000 events, and restarted; once it finishes,
//! the read model must equal the fold of every event, each applied exactly once.

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use factum::Position;
use factum::projection::{ProjectionKey, ProjectionStore, Projections};
use factum_tests::backends;
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
    Projections::new(store)
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

async fn crash_and_restart<S: ProjectionStore>(store: &S, args: Vec<String>) {
    fill(store, "account", 40, EVENTS).await;
    let head = store.head_position().await.unwrap();
    let mut rng = Lcg(seed());

    let mut interrupted = 0;
    let mut kills = 0;
    while kills < 8 {
        let child = spawn(&args);
        wait_for_progress(store, head, &mut rng).await;
        kill(child);
        kills += 1;
        let at = checkpoint(store).await;
        eprintln!("kill {kills}: checkpoint {} of {}", at.0, head.0);
        if at >= head {
            break;
        }
        if at > Position::START {
            interrupted += 1;
        }
    }
    assert!(
        interrupted >= 2,
        "only {interrupted} kills landed while the projection was working; the test proved nothing"
    );

    // The last run finishes the work.
    let child = spawn(&args);
    let started = Instant::now();
    let reached = Projections::new(store)
        .wait_for("balances", head, Duration::from_secs(240))
        .await;
    kill(child);
    let reached = reached.expect("the projection finishes after its restarts");
    eprintln!("finished at {} in {:?}", reached.0, started.elapsed());

    assert_applied_exactly_once(store, EVENTS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_projection_survives_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.sqlite");
    let store = factum::SqliteStore::open(&path).await.unwrap();
    // A killed runner's SQLite lease runs out after 1 s; the next run waits for it.
    crash_and_restart(&store, vec!["sqlite".into(), path.display().to_string()]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_projection_survives_sigkill() {
    let Some(store) = backends::postgres("projection_crash", Default::default()).await else {
        return;
    };
    let url = backends::pg_url("projection_crash").unwrap();
    let schema = store.schema().to_owned();
    crash_and_restart(store.store(), vec!["postgres".into(), url, schema]).await;
    store.cleanup().await;
}
