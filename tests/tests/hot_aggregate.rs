//! Issue 11, point 3: 64 tasks send commands to one aggregate for 10 seconds with the
//! default settings. No command may fail for contention, and the final state must be the
//! fold of the stream. The tasks share one repository, as the tasks of one process do: its
//! single writer queues their commands and appends each queue's worth together.

use std::time::{Duration, Instant};

use factum::{EventStore, Metadata, Repository, RepositoryError};
use factum_tests::backends::{self, TestStore};
use factum_tests::domain::{Account, Deposit, Open, Withdraw};

const TASKS: usize = 64;
const RUN_FOR: Duration = Duration::from_secs(10);

async fn hammer<S: EventStore + Clone + 'static>(store: S) {
    let shared = Repository::<Account, _>::new(store.clone());
    shared
        .execute(
            "hot",
            Open {
                owner: "all".into(),
            },
            Metadata::new(),
        )
        .await
        .unwrap();
    let deadline = Instant::now() + RUN_FOR;
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let repo = shared.clone();
            tokio::spawn(async move {
                let (mut deposited, mut withdrawn, mut refused, mut commands) =
                    (0i64, 0i64, 0u64, 0u64);
                let mut i = 0i64;
                while Instant::now() < deadline {
                    i += 1;
                    commands += 1;
                    // Mostly deposits; every tenth command withdraws, and may be refused
                    // (recorded as a fact) when the balance does not cover it.
                    let outcome = if i % 10 == 0 {
                        repo.execute("hot", Withdraw { cents: 300 }, Metadata::new())
                            .await
                    } else {
                        repo.execute(
                            "hot",
                            Deposit {
                                cents: 1 + (task as i64),
                            },
                            Metadata::new(),
                        )
                        .await
                    };
                    match outcome {
                        Ok(_) if i % 10 == 0 => withdrawn += 300,
                        Ok(_) => deposited += 1 + task as i64,
                        Err(RepositoryError::Rejected { .. }) => refused += 1,
                        Err(err) => panic!("task {task}: a command failed: {err}"),
                    }
                }
                (deposited, withdrawn, refused, commands)
            })
        })
        .collect();
    let (mut deposited, mut withdrawn, mut refused, mut commands) = (0, 0, 0, 0);
    for task in tasks {
        let (d, w, r, c) = task.await.expect("no task may panic");
        deposited += d;
        withdrawn += w;
        refused += r;
        commands += c;
    }
    // The fold of the stream, read fresh by a repository that cached nothing.
    let loaded = Repository::<Account, _>::new(store)
        .load("hot")
        .await
        .unwrap();
    assert_eq!(loaded.state.balance, deposited - withdrawn);
    assert_eq!(u64::from(loaded.state.rejections), refused);
    assert_eq!(
        loaded.version,
        commands + 1,
        "one event per command, plus the opening"
    );
    eprintln!(
        "{commands} commands in {RUN_FOR:?} from {TASKS} tasks on one aggregate, none failed \
         ({refused} refused and recorded)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_tasks_on_one_aggregate_sqlite() {
    let store = backends::sqlite_file("hot_sqlite", Default::default())
        .await
        .unwrap();
    hammer(store.store().clone()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_tasks_on_one_aggregate_postgres() {
    let Some(store) = backends::postgres("hot_postgres", Default::default()).await else {
        return;
    };
    hammer(store.store().clone()).await;
    TestStore::cleanup(store).await;
}
