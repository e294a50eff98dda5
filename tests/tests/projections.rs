//! Projections on SQLite and PostgreSQL: live following under concurrent writers, read
//! your own writes, the sequence dead-letter queue, blue-green rebuilds, and two runner
//! instances competing for one projection; the suites also run with the read models in a
//! database apart from the events.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use factum::projection::dlq::{DeadLetters, LetterStatus};
use factum::projection::rebuild::Rebuild;
use factum::projection::{
    Projection, ProjectionError, ProjectionKey, ProjectionRunner, ProjectionStore, Projections,
    RunnerOptions, Stage,
};
use factum::{ExpectedVersion, Metadata, Position, Repository, StreamId};
use factum_tests::backends;
use factum_tests::domain::{Account, Deposit, Open};
use factum_tests::projections::{
    Applied, Balance, Balances, BalancesV2, DepositTotals, Flaky, deposit, expected_balances, fill,
};

const WAIT: Duration = Duration::from_secs(30);

fn options() -> RunnerOptions {
    RunnerOptions::default()
        .batch_size(64)
        .poll_interval(Duration::from_millis(50))
        .retries(3, Duration::from_millis(1))
        .lease(Duration::from_secs(2), Duration::from_millis(50))
        .error_pause(Duration::from_millis(50))
}

/// Every row of a read model in a projection version's table, by key.
async fn rows<S: ProjectionStore>(store: &S, table: &str) -> BTreeMap<String, Balance> {
    let sql = format!("SELECT account, cents, events, last_version FROM {table}");
    let rows: Vec<(String, i64, i64, i64)> = match backends::pools(&store.projection_db()) {
        backends::Pools::Sqlite { reader, .. } => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .fetch_all(&reader)
                .await
        }
        backends::Pools::Postgres { pool, .. } => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .fetch_all(&pool)
                .await
        }
    }
    .expect("read the read model");
    rows.into_iter()
        .map(|(account, cents, events, last_version)| {
            (
                account.clone(),
                Balance {
                    account,
                    cents,
                    events,
                    last_version,
                },
            )
        })
        .collect()
}

/// `(times applied, events)` over the `applied` table of balances v1.
async fn applied_counts<S: ProjectionStore>(store: &S) -> (i64, i64, i64) {
    let sql = "SELECT COUNT(*), COALESCE(MIN(times), 0), COALESCE(MAX(times), 0) FROM applied_v1";
    match backends::pools(&store.projection_db()) {
        backends::Pools::Sqlite { reader, .. } => sqlx::query_as(sql).fetch_one(&reader).await,
        backends::Pools::Postgres { pool, .. } => sqlx::query_as(sql).fetch_one(&pool).await,
    }
    .expect("read the applied table")
}

async fn caught_up<S: ProjectionStore>(store: &S, name: &str) -> Position {
    let head = store.head_position().await.expect("head");
    Projections::new(store.clone())
        .wait_for(name, head, WAIT)
        .await
        .expect("the projection catches up")
}

async fn live_projections_follow_concurrent_writers<S: ProjectionStore>(store: &S) {
    let running = ProjectionRunner::new(store.clone())
        .options(options())
        .with_projection(Balances)
        .with_projection(DepositTotals)
        .start();

    // 6 writers, 300 events each, on overlapping accounts, while both projections run.
    let mut writers = Vec::new();
    for w in 0..6 {
        let store = store.clone();
        writers.push(tokio::spawn(async move {
            for i in 0..30 {
                let stream = StreamId::new(format!("account-{}", (w + i) % 9)).unwrap();
                let events = (0..10).map(|k| deposit(1 + k, None)).collect();
                store
                    .append(&stream, ExpectedVersion::Any, events)
                    .await
                    .unwrap();
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    caught_up(store, "balances").await;
    caught_up(store, "deposit_totals").await;
    running.stop().await.expect("clean stop");

    // A third projection may not take another one's table.
    let clash = ProjectionRunner::new(store.clone())
        .options(options())
        .with_projection(factum_tests::projections::Thief)
        .start();
    tokio::time::sleep(Duration::from_millis(200)).await;
    match clash.stop().await {
        Err(ProjectionError::TableTaken { table, owner, .. }) => {
            assert_eq!(
                (table.as_str(), owner.as_str()),
                ("balances_v1", "balances")
            );
        }
        other => panic!("expected TableTaken, got {other:?}"),
    }

    let expected = expected_balances(store).await;
    assert_eq!(expected.values().map(|b| b.events).sum::<i64>(), 1_800);
    assert_eq!(rows(store, "balances_v1").await, expected);
    assert_eq!(rows(store, "deposit_totals_v1").await.len(), expected.len());
    let deposits: i64 = rows(store, "deposit_totals_v1")
        .await
        .values()
        .map(|b| b.cents)
        .sum();
    assert_eq!(deposits, expected.values().map(|b| b.cents).sum::<i64>());
    assert_eq!(
        applied_counts(store).await,
        (1_800, 1, 1),
        "each event applied once"
    );
    // Reading through the live version gives the same rows.
    let one: Balance = Projections::new(store.clone())
        .get("balances", "account-3")
        .await
        .unwrap()
        .expect("a row");
    assert_eq!(&one, &expected["account-3"]);
}

async fn read_your_writes<S: ProjectionStore + factum::SnapshotStore>(store: &S) {
    let running = ProjectionRunner::new(store.clone())
        .options(options())
        .with_projection(Balances)
        .start();
    let repo = Repository::<Account, _>::new(store.clone());
    repo.execute(
        "ryw",
        Open {
            owner: "ann".into(),
        },
        Metadata::new(),
    )
    .await
    .unwrap();
    let done = repo
        .execute("ryw", Deposit { cents: 700 }, Metadata::new())
        .await
        .unwrap();
    let position = *done.positions.last().unwrap();
    let projections = Projections::new(store.clone());
    let reached = projections
        .wait_for("balances", position, WAIT)
        .await
        .unwrap();
    assert!(reached >= position);
    let row: Balance = projections
        .get("balances", "account-ryw")
        .await
        .unwrap()
        .expect("visible once wait_for returned");
    assert_eq!(row.cents, 700);

    running.stop().await.unwrap();
    let done = repo
        .execute("ryw", Deposit { cents: 1 }, Metadata::new())
        .await
        .unwrap();
    let later = *done.positions.last().unwrap();
    let err = projections
        .wait_for("balances", later, Duration::from_millis(300))
        .await
        .unwrap_err();
    match err {
        ProjectionError::WaitTimeout {
            position,
            checkpoint,
            ..
        } => {
            assert_eq!(position, later.0);
            assert!(checkpoint < later.0);
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(err_message_names_runner(&projections, later).await);
}

async fn err_message_names_runner(projections: &Projections, later: Position) -> bool {
    let err = projections
        .wait_for("balances", later, Duration::from_millis(10))
        .await
        .unwrap_err();
    err.to_string().contains("is its runner running?")
}

async fn dead_letters_park_sequences<S: ProjectionStore>(store: &S) {
    let flaky = Flaky::default();
    flaky.poisoned.store(true, Ordering::SeqCst);
    let key = ProjectionKey::of::<Flaky>();
    let a = StreamId::new("account-a").unwrap();
    let b = StreamId::new("account-b").unwrap();
    let append = |stream: &StreamId, cents: i64, memo: Option<&str>| {
        let stream = stream.clone();
        let memo = memo.map(str::to_owned);
        async move {
            store
                .append(
                    &stream,
                    ExpectedVersion::Any,
                    vec![deposit(cents, memo.as_deref())],
                )
                .await
                .unwrap()
        }
    };
    append(&a, 1, None).await;
    append(&b, 10, None).await;
    let poison = append(&a, 2, Some("poison")).await.positions[0];
    append(&b, 20, None).await;
    append(&a, 4, None).await;
    append(&a, 8, None).await;
    append(&b, 40, None).await;

    let running = ProjectionRunner::new(store.clone())
        .options(options())
        .with_projection(flaky.clone())
        .start();
    caught_up(store, "flaky").await;
    running.stop().await.unwrap();

    let table = "flaky_balances_v1";
    let now = rows(store, table).await;
    assert_eq!(now["account-b"].cents, 70, "stream B went on");
    assert_eq!(
        now["account-a"].cents, 1,
        "stream A stopped before its failure"
    );
    let dlq = DeadLetters::new(store.clone());
    let parked = dlq.list(&key).await.unwrap();
    let versions: Vec<u64> = parked.iter().map(|l| l.stream_version).collect();
    assert_eq!(
        versions,
        [2, 3, 4],
        "A's failed event and everything after it, in order"
    );
    assert!(parked.iter().all(|l| l.stream_id == "account-a"));
    assert_eq!(parked[0].position, poison);
    assert_eq!(parked[0].attempts, 3, "retried before parking");
    assert!(
        parked[0].reason.contains("poison deposit"),
        "{}",
        parked[0].reason
    );
    assert!(parked[1].reason.contains("parked behind"));
    let stats = dlq.stats(&key).await.unwrap();
    assert_eq!((stats.parked, stats.sequences), (3, 1));
    assert!(stats.oldest.is_some());
    let (letter, event) = dlq.inspect(&key, poison).await.unwrap();
    assert_eq!(letter.event_id, event.event_id);

    // A restart: the parked sequence survives, and A's new event joins it.
    let running = ProjectionRunner::new(store.clone())
        .options(options())
        .with_projection(flaky.clone())
        .start();
    append(&a, 16, None).await;
    append(&b, 80, None).await;
    caught_up(store, "flaky").await;
    running.stop().await.unwrap();
    assert_eq!(dlq.list(&key).await.unwrap().len(), 4);
    assert_eq!(rows(store, table).await["account-b"].cents, 150);

    // Retrying out of order is refused; a redrive that fails again stops there.
    let second = dlq.list(&key).await.unwrap()[1].position;
    assert!(matches!(
        dlq.retry(&flaky, second).await,
        Err(ProjectionError::OutOfOrder { .. })
    ));
    let report = dlq.redrive(&flaky, None).await.unwrap();
    assert_eq!(report.applied, 0);
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].0, poison);
    assert_eq!(report.remaining, 4);
    let parked = dlq.list(&key).await.unwrap();
    assert_eq!(parked[0].attempts, 4, "the failed redrive is counted");
    assert_eq!(rows(store, table).await["account-a"].cents, 1);

    // Fixed: the redrive applies A's events in order and empties the queue.
    flaky.poisoned.store(false, Ordering::SeqCst);
    let report = dlq.redrive(&flaky, Some("account-a")).await.unwrap();
    assert_eq!((report.applied, report.remaining), (4, 0));
    assert!(report.failed.is_empty());
    assert!(dlq.list(&key).await.unwrap().is_empty());
    let after = rows(store, table).await;
    assert_eq!(after["account-a"].cents, 1 + 2 + 4 + 8 + 16);
    assert_eq!(after["account-a"].last_version, 5);

    // And the runner lets A flow again.
    let running = ProjectionRunner::new(store.clone())
        .options(options())
        .with_projection(flaky.clone())
        .start();
    append(&a, 32, None).await;
    caught_up(store, "flaky").await;
    running.stop().await.unwrap();
    assert_eq!(rows(store, table).await["account-a"].cents, 63);
    assert!(dlq.list(&key).await.unwrap().is_empty());

    // Skipping is recorded.
    flaky.poisoned.store(true, Ordering::SeqCst);
    let again = append(&a, 64, Some("poison")).await.positions[0];
    let running = ProjectionRunner::new(store.clone())
        .options(options())
        .with_projection(flaky.clone())
        .start();
    caught_up(store, "flaky").await;
    running.stop().await.unwrap();
    dlq.skip(&key, again, "refund handled by hand")
        .await
        .unwrap();
    assert!(dlq.list(&key).await.unwrap().is_empty());
    let history = dlq.history(&key).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].status, LetterStatus::Skipped);
    assert_eq!(
        history[0].skip_reason.as_deref(),
        Some("refund handled by hand")
    );
}

async fn blue_green_rebuild<S: ProjectionStore>(store: &S) {
    fill(store, "account", 5, 600).await;
    let v1 = ProjectionRunner::new(store.clone())
        .options(options())
        .with_projection(Balances)
        .start();
    caught_up(store, "balances").await;

    // Writers keep going while v2 rebuilds from the start beside v1.
    let writer = {
        let store = store.clone();
        tokio::spawn(async move { fill(&store, "account", 5, 900).await })
    };
    let v2 = ProjectionRunner::new(store.clone())
        .options(options())
        .with_projection(BalancesV2)
        .start();
    let projections = Projections::new(store.clone());
    // v1 serves while v2 builds.
    let live = projections.live("balances").await.unwrap();
    assert_eq!(live.key.version, 1);
    let versions = projections.versions("balances").await.unwrap();
    let building = versions.iter().find(|s| s.key.version == 2);
    if let Some(building) = building {
        assert_eq!(building.stage, Stage::Building);
    }
    assert!(
        projections
            .get::<Balance, _>("balances", "account-0")
            .await
            .unwrap()
            .is_some()
    );
    writer.await.unwrap();

    // Switch once v2 has caught up with v1.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match projections.switch("balances", 2).await {
            Ok(()) => break,
            Err(ProjectionError::NotCaughtUp { .. } | ProjectionError::Unknown(_))
                if tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(err) => panic!("switch failed: {err}"),
        }
    }
    assert_eq!(projections.live("balances").await.unwrap().key.version, 2);
    caught_up(store, "balances").await;
    v1.stop().await.unwrap();
    v2.stop().await.unwrap();

    let expected = expected_balances(store).await;
    assert_eq!(expected.values().map(|b| b.events).sum::<i64>(), 1_500);
    assert_eq!(rows(store, "balances_v2").await, expected);
    let row: Balance = projections
        .get("balances", "account-4")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row, expected["account-4"]);

    // The live version cannot be dropped; the old one can.
    assert!(matches!(
        projections.drop_version("balances", 2).await,
        Err(ProjectionError::DropLive(_))
    ));
    projections.drop_version("balances", 1).await.unwrap();
    let versions = projections.versions("balances").await.unwrap();
    assert_eq!(versions.len(), 1);
    let gone = match backends::pools(&store.projection_db()) {
        backends::Pools::Sqlite { reader, .. } => sqlx::query("SELECT 1 FROM balances_v1")
            .fetch_all(&reader)
            .await
            .is_err(),
        backends::Pools::Postgres { pool, .. } => sqlx::query("SELECT 1 FROM balances_v1")
            .fetch_all(&pool)
            .await
            .is_err(),
    };
    assert!(gone, "v1's tables are dropped");
}

async fn check_balances_key() {
    assert_eq!(<Balances as Projection>::NAME, "balances");
    assert_eq!(
        <Balances as Projection>::EVENT_TYPES,
        ["test.Deposited", "test.Withdrawn"]
    );
    assert_eq!(<BalancesV2 as Projection>::VERSION, 2);
    assert_eq!(
        <Applied as factum::ReadModel>::descriptor().columns[0].ty,
        factum::projection::ColumnType::Uuid
    );
}

/// `Rebuild` replays version 2 while writers append and version 1 serves, reports its
/// progress, and makes version 2 live once it has caught up with version 1.
async fn rebuild_to_the_end<S: ProjectionStore>(store: &S) {
    fill(store, "account", 5, 2_000).await;
    let v1 = ProjectionRunner::new(store.clone())
        .options(options())
        .with_projection(Balances)
        .start();
    caught_up(store, "balances").await;
    let writer = {
        let store = store.clone();
        tokio::spawn(async move { fill(&store, "account", 5, 500).await })
    };
    let mut reports = Vec::new();
    let report = tokio::time::timeout(
        WAIT,
        Rebuild::new(store.clone())
            .options(options().max_batch_size(64))
            .report_every(Duration::from_millis(5))
            .run(BalancesV2, |p| reports.push(p.clone())),
    )
    .await
    .expect("the rebuild finishes")
    .unwrap();
    writer.await.unwrap();
    let projections = Projections::new(store.clone());
    assert!(report.switched);
    assert_eq!(projections.live("balances").await.unwrap().key.version, 2);
    let v1_at = projections
        .checkpoint(&ProjectionKey::of::<Balances>())
        .await
        .unwrap()
        .unwrap();
    assert!(
        report.checkpoint >= reports[0].target,
        "it reached the head it aimed for"
    );
    assert!(report.applied >= 2_000, "it replayed the log: {report:?}");
    // Progress went from all to nothing left, with a rate and an estimate on the way.
    assert!(reports.len() >= 2, "{reports:?}");
    let last = reports.last().unwrap();
    assert_eq!(last.remaining, 0.0);
    assert!(
        reports
            .iter()
            .any(|p| p.events_per_second > 0.0 && p.eta.is_some())
    );
    assert!(
        reports
            .windows(2)
            .all(|w| w[0].checkpoint <= w[1].checkpoint),
        "progress only moves forward"
    );
    // The new live version serves, and once it has passed v1 it holds the whole log.
    let v2 = ProjectionRunner::new(store.clone())
        .options(options())
        .with_projection(BalancesV2)
        .start();
    caught_up(store, "balances").await;
    v2.stop().await.unwrap();
    v1.stop().await.unwrap();
    assert!(
        projections
            .checkpoint(&ProjectionKey::of::<BalancesV2>())
            .await
            .unwrap()
            .unwrap()
            >= v1_at
    );
    assert_eq!(
        rows(store, "balances_v2").await,
        expected_balances(store).await
    );
}

/// The same suites with the read models in a database apart from the events: another
/// SQLite file, a second PostgreSQL database, and PostgreSQL read models over SQLite
/// events.
macro_rules! with_read_models_apart {
    ($($test:ident),* $(,)?) => {
        mod apart {
            use super::*;
            use factum::projection::WithReadModels;
            use factum_tests::backends::ReadModelsApart;
            mod sqlite_in_sqlite {
                use super::*;
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $test() {
                        let events = backends::sqlite_file(stringify!($test), Default::default())
                            .await
                            .unwrap();
                        let views = ReadModelsApart::sqlite().await;
                        let store = WithReadModels::new(events.store().clone(), views.db.clone());
                        super::super::$test(&store).await;
                    }
                )*
            }
            mod postgres_in_postgres {
                use super::*;
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $test() {
                        let Some(events) = backends::postgres(stringify!($test), Default::default()).await else {
                            return;
                        };
                        let views = ReadModelsApart::postgres(stringify!($test)).await.unwrap();
                        let store = WithReadModels::new(events.store().clone(), views.db.clone());
                        super::super::$test(&store).await;
                        views.cleanup().await;
                        events.cleanup().await;
                    }
                )*
            }
            mod sqlite_in_postgres {
                use super::*;
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $test() {
                        let Some(views) = ReadModelsApart::postgres(stringify!($test)).await else {
                            return;
                        };
                        let events = backends::sqlite_file(stringify!($test), Default::default())
                            .await
                            .unwrap();
                        let store = WithReadModels::new(events.store().clone(), views.db.clone());
                        super::super::$test(&store).await;
                        views.cleanup().await;
                    }
                )*
            }
        }
    };
}

with_read_models_apart!(
    live_projections_follow_concurrent_writers,
    read_your_writes,
    dead_letters_park_sequences,
    blue_green_rebuild,
    rebuild_to_the_end,
);

factum_tests::sql_backend_tests!(
    live_projections_follow_concurrent_writers,
    read_your_writes,
    dead_letters_park_sequences,
    blue_green_rebuild,
    rebuild_to_the_end,
);

#[tokio::test]
async fn generated_projection_constants() {
    check_balances_key().await;
}

/// Two runner instances on one PostgreSQL projection: only one is ever active, and
/// when it stops the other takes over; every event is applied exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runners_never_share_a_projection() {
    let Some(store) = backends::postgres("two_runners", Default::default()).await else {
        return;
    };
    let store = store;
    fill(store.store(), "account", 8, 2_000).await;
    let first = ProjectionRunner::new(store.store().clone())
        .options(options().batch_size(20))
        .with_projection(Balances)
        .start();
    let second = ProjectionRunner::new(store.store().clone())
        .options(options().batch_size(20))
        .with_projection(Balances)
        .start();
    let key = ProjectionKey::of::<Balances>();
    let writer = {
        let store = store.store().clone();
        tokio::spawn(async move { fill(&store, "account", 8, 1_000).await })
    };
    // Sample both while they work: never both active.
    let mut saw_active = 0;
    for _ in 0..200 {
        let a = first.progress()[0].active;
        let b = second.progress()[0].active;
        assert!(!(a && b), "both runners active at once");
        saw_active += (a || b) as u32;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert!(saw_active > 0);
    writer.await.unwrap();
    // Stop whichever holds the lease; the other must take over and finish.
    let (holder, other) = if first.progress()[0].active {
        (first, second)
    } else {
        (second, first)
    };
    holder.stop().await.unwrap();
    fill(store.store(), "account", 8, 400).await;
    caught_up(store.store(), "balances").await;
    other.wait_until(&key, |p| p.active).await;
    other.stop().await.unwrap();

    let expected = expected_balances(store.store()).await;
    assert_eq!(rows(store.store(), "balances_v1").await, expected);
    assert_eq!(applied_counts(store.store()).await, (3_400, 1, 1));
    store.cleanup().await;
}
