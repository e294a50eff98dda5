//! Fault injection: while a projection catches up and then follows live appends, its
//! connections to the read-model database are terminated (`pg_terminate_backend`) again
//! and again, in the middle of batches. Nothing may be parked, lost or applied twice, and
//! the projection must catch up once the faults stop. Run with the read models in the
//! store's own database (its event reads are cut too) and in a second database.
//!
//! Every connection of the projection is cut, idle or not, but the test counts apart the
//! cuts that provably landed inside a batch: the connection was in an open transaction
//! whose last statement read or wrote the projection's read-model tables (as the
//! server's `pg_stat_activity` showed it at the moment of the cut), and, where that
//! transaction had already written (it had a transaction id), the server reports it
//! aborted afterwards. Terminations go on until enough such cuts happened.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use factum::projection::{
    ProjectionDb, ProjectionKey, ProjectionRunner, ProjectionStore, Projections, RunnerOptions,
    WithReadModels,
};
use factum::{EventStore, ExpectedVersion, Position, StreamId};
use factum::{PostgresConfig, PostgresStore};
use factum_tests::backends::{self, ReadModelsApart};
use factum_tests::projections::{Balances, assert_applied_exactly_once, fill, mixed};

const EVENTS: usize = 6_000;
/// At least this many rounds of terminations, 10 to 40 ms apart.
const ROUNDS: usize = 40;
/// At least this many terminations must land inside a batch.
const MID_BATCH: usize = 10;
/// How long the terminations may go on looking for enough of them inside batches.
const DEADLINE: Duration = Duration::from_secs(180);
/// Events appended live per append, and the pause between appends.
const LIVE_CHUNK: usize = 5;
const LIVE_PAUSE: Duration = Duration::from_millis(10);

fn options() -> RunnerOptions {
    RunnerOptions::default()
        .batch_size(50)
        .max_batch_size(200)
        .poll_interval(Duration::from_millis(50))
        .lease(Duration::from_secs(2), Duration::from_millis(20))
        .error_pause(Duration::from_millis(10))
}

/// `url` with an `application_name` the killer can find its victims by.
fn named(url: &str, name: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}application_name={name}")
}

/// Terminates every connection named `$1` and tells, for each, whether it was inside a
/// batch of the projection: in a transaction whose statement (running, or last run while
/// idle in the transaction) reads or writes its read models (`balances_v1`,
/// `applied_v1`), and not the registration's `CREATE`. For those, the transaction id (32
/// bits) if the transaction had written, to ask afterwards whether the cut aborted it
/// (these terminations wait, up to 5 s, until the connection is gone), and the next
/// transaction id in full (`xid8`) to give it its epoch.
const TERMINATE: &str = "\
    WITH victims AS (
        SELECT pid,
               xact_start IS NOT NULL
                 AND state IN ('active', 'idle in transaction', 'idle in transaction (aborted)')
                 AND (query LIKE '%balances\\_v1%' OR query LIKE '%applied\\_v1%')
                 AND query NOT ILIKE 'CREATE%' AS in_batch,
               backend_xid::text::bigint AS xid
        FROM pg_stat_activity
        WHERE application_name = $1 AND pid <> pg_backend_pid()
    )
    SELECT pg_terminate_backend(pid, CASE WHEN in_batch AND xid IS NOT NULL THEN 5000 ELSE 0 END),
           in_batch,
           CASE WHEN in_batch THEN xid END,
           pg_snapshot_xmax(pg_current_snapshot())::text::bigint
    FROM victims";

/// The full transaction id (`xid8`) of 32-bit `xid`, given a full one near it.
fn full_xid(xid: i64, near: i64) -> i64 {
    // How far `xid` is behind `near`'s low 32 bits, modulo 2^32, as a signed distance.
    let behind = (((near & 0xFFFF_FFFF) - xid) as u32) as i32;
    near - i64::from(behind)
}

/// What the terminations hit.
#[derive(Debug, Default)]
struct Cuts {
    /// Connections terminated.
    terminated: usize,
    /// Of which inside a batch that had only read so far.
    reading: usize,
    /// Of which inside a batch that had written, its transaction aborted by the cut.
    writing: usize,
    /// Cuts inside a batch's transaction that came too late: it had committed.
    too_late: usize,
}

impl Cuts {
    fn mid_batch(&self) -> usize {
        self.reading + self.writing
    }
}

/// One round: terminates every connection named `name` and adds to `cuts`.
async fn terminate(admin: &sqlx::PgPool, name: &str, cuts: &mut Cuts) {
    let rows: Vec<(bool, bool, Option<i64>, i64)> = sqlx::query_as(TERMINATE)
        .bind(name)
        .fetch_all(admin)
        .await
        .unwrap();
    for (cut, in_batch, xid, next) in rows {
        if !cut {
            continue;
        }
        cuts.terminated += 1;
        if !in_batch {
            continue;
        }
        let Some(xid) = xid else {
            cuts.reading += 1;
            continue;
        };
        let xid8 = full_xid(xid, next);
        let status: Option<String> = sqlx::query_scalar("SELECT pg_xact_status($1::text::xid8)")
            .bind(xid8.to_string())
            .fetch_one(admin)
            .await
            .unwrap();
        match status.as_deref() {
            Some("aborted") => cuts.writing += 1,
            Some("committed") => cuts.too_late += 1,
            other => panic!("transaction {xid8} of a terminated connection: {other:?}"),
        }
    }
}

/// Runs [`Balances`] on `victim` while every connection named `name` is terminated, in
/// rounds, and events are appended live through `writer`, until at least `ROUNDS`
/// rounds ran and `MID_BATCH` terminations landed inside batches; then checks the
/// outcome through `checker` (the same databases, connections never cut).
async fn terminate_while_projecting<V, W, C>(victim: V, writer: &W, checker: &C, name: &str)
where
    V: ProjectionStore + Send + Sync,
    W: EventStore + Clone + Send + Sync + 'static,
    C: ProjectionStore + Send + Sync,
{
    fill(writer, "account", 20, EVENTS / 2).await;
    let running = ProjectionRunner::new(victim)
        .options(options())
        .with_projection(Balances)
        .start();

    let url = backends::pg_url("projection_faults").unwrap();
    let admin = sqlx::PgPool::connect(&url).await.unwrap();
    // Live appends, paced, until the terminations are done (and at least EVENTS / 2):
    // batches keep coming for the terminations to land in.
    let done = Arc::new(AtomicBool::new(false));
    let live = {
        let writer = writer.clone();
        let done = done.clone();
        tokio::spawn(async move {
            let mut appended = 0;
            let mut i = 0;
            while appended < EVENTS / 2 || !done.load(Ordering::SeqCst) {
                let stream = StreamId::new(format!("live-{}", i % 20)).unwrap();
                let events = (0..LIVE_CHUNK).map(|j| mixed(i, j)).collect();
                writer
                    .append(&stream, ExpectedVersion::Any, events)
                    .await
                    .unwrap();
                appended += LIVE_CHUNK;
                i += 1;
                tokio::time::sleep(LIVE_PAUSE).await;
            }
            appended
        })
    };
    let key = ProjectionKey::of::<Balances>();
    let mut cuts = Cuts::default();
    let mut pause = 10u64;
    let started = Instant::now();
    let mut round = 0;
    while (round < ROUNDS || cuts.mid_batch() < MID_BATCH) && started.elapsed() < DEADLINE {
        round += 1;
        pause = (pause * 7 + 3) % 31 + 10;
        tokio::time::sleep(Duration::from_millis(pause)).await;
        let before = cuts.mid_batch();
        terminate(&admin, name, &mut cuts).await;
        if cuts.mid_batch() > before {
            // A batch was cut: let the runner commit one again before the next round,
            // so that its pause after failures stays short (it doubles while runs fail
            // without progress) and each cut is followed by a recovery.
            let applied = running.progress()[0].applied;
            let recovered = running.wait_until(&key, |p| p.applied > applied);
            let left = DEADLINE.saturating_sub(started.elapsed());
            let _ = tokio::time::timeout(left, recovered).await;
        }
    }
    done.store(true, Ordering::SeqCst);
    let appended = live.await.unwrap();
    eprintln!(
        "{round} rounds in {:?}: {cuts:?}, {appended} events appended live",
        started.elapsed()
    );
    assert!(
        cuts.mid_batch() >= MID_BATCH,
        "only {} of {} terminations landed inside a batch in {round} rounds ({cuts:?}); \
         the test proved little",
        cuts.mid_batch(),
        cuts.terminated,
    );
    let head = writer.head_position().await.unwrap();
    let reached = Projections::new(checker.clone())
        .wait_for("balances", head, Duration::from_secs(120))
        .await;
    running.stop().await.unwrap();
    let reached = reached.expect("the projection catches up after the faults");
    assert!(reached >= head && head > Position::START);
    eprintln!("caught up at {}", reached.0);
    assert_applied_exactly_once(checker, EVENTS / 2 + appended).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminated_connections_in_the_stores_own_database() {
    let Some(store) = backends::postgres("projection_faults", Default::default()).await else {
        return;
    };
    let url = backends::pg_url("projection_faults").unwrap();
    let name = backends::unique_schema("faults");
    let victim =
        PostgresStore::connect_with(PostgresConfig::new(named(&url, &name)).schema(store.schema()))
            .await
            .unwrap();
    terminate_while_projecting(victim, store.store(), store.store(), &name).await;
    store.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminated_connections_in_a_second_database() {
    let Some(store) = backends::postgres("projection_faults", Default::default()).await else {
        return;
    };
    let views = ReadModelsApart::postgres("projection_faults")
        .await
        .unwrap();
    let backends::Pools::Postgres { schema, .. } = backends::pools(&views.db) else {
        unreachable!("PostgreSQL read models")
    };
    let url = backends::second_pg_url("projection_faults").await.unwrap();
    let name = backends::unique_schema("faults");
    let cut = ProjectionDb::connect_postgres(&named(&url, &name), &schema)
        .await
        .unwrap();
    let victim = WithReadModels::new(store.store().clone(), cut);
    let checker = WithReadModels::new(store.store().clone(), views.db.clone());
    terminate_while_projecting(victim, store.store(), &checker, &name).await;
    views.cleanup().await;
    store.cleanup().await;
}
