//! The state cache never decides on a state older than the one it appends after: two
//! repositories (two processes, each with its cache) take turns on one aggregate in any
//! order, and every outcome must be what deciding on the stream's latest state gives.
//! Property-tested on every backend.

use std::sync::atomic::{AtomicUsize, Ordering};

use factum::{EventStore, Metadata, Repository, RepositoryError};
use factum_tests::backends::{self, TestStore};
use factum_tests::domain::{Account, AccountError, Deposit, Open, Withdraw};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

#[derive(Clone, Debug)]
enum Op {
    Deposit(i64),
    Withdraw(i64),
}

fn ops() -> impl Strategy<Value = Vec<(bool, Op)>> {
    let op = prop_oneof![
        (1..50i64).prop_map(Op::Deposit),
        (1..80i64).prop_map(Op::Withdraw),
    ];
    prop::collection::vec((any::<bool>(), op), 1..30)
}

static CASE: AtomicUsize = AtomicUsize::new(0);

/// Runs `ops` through two repositories on `store` and checks each outcome against a model
/// that decides on the latest state.
async fn check<S: EventStore + Clone + 'static>(
    store: &S,
    ops: Vec<(bool, Op)>,
) -> Result<(), TestCaseError> {
    let id = format!("p{}", CASE.fetch_add(1, Ordering::Relaxed));
    let repos = [
        Repository::<Account, _>::new(store.clone()),
        Repository::<Account, _>::new(store.clone()),
    ];
    repos[0]
        .execute(&id, Open { owner: id.clone() }, Metadata::new())
        .await
        .unwrap();
    // Both caches are warm before the interleaving starts (the second one stale at once
    // if the first writes next).
    repos[1]
        .execute(&id, Deposit { cents: 1 }, Metadata::new())
        .await
        .unwrap();
    let (mut balance, mut version) = (1i64, 2u64);
    for (second, op) in ops {
        let repo = &repos[usize::from(second)];
        match op {
            Op::Deposit(cents) => {
                let done = repo
                    .execute(&id, Deposit { cents }, Metadata::new())
                    .await
                    .unwrap();
                balance += cents;
                version += 1;
                prop_assert_eq!(done.version, version);
            }
            Op::Withdraw(cents) => {
                let outcome = repo.execute(&id, Withdraw { cents }, Metadata::new()).await;
                version += 1;
                if cents <= balance {
                    prop_assert_eq!(outcome.unwrap().version, version);
                    balance -= cents;
                } else {
                    match outcome {
                        Err(RepositoryError::Rejected {
                            error,
                            recorded: Some(recorded),
                        }) => {
                            prop_assert_eq!(
                                error,
                                AccountError::InsufficientFunds {
                                    balance,
                                    requested: cents
                                }
                            );
                            prop_assert_eq!(recorded.version, version);
                        }
                        other => {
                            return Err(TestCaseError::fail(format!(
                                "withdrawing {cents} of {balance}: expected a recorded refusal, got {other:?}"
                            )));
                        }
                    }
                }
            }
        }
    }
    let loaded = repos[0].load(&id).await.unwrap();
    prop_assert_eq!((loaded.state.balance, loaded.version), (balance, version));
    Ok(())
}

fn run<S: EventStore + Clone + 'static>(rt: &tokio::runtime::Runtime, store: &S, cases: u32) {
    let mut runner = TestRunner::new(Config::with_cases(cases));
    runner
        .run(&ops(), |ops| rt.block_on(check(store, ops)))
        .unwrap();
}

#[test]
fn interleaved_repositories_memory() {
    let rt = backends::runtime();
    let store = rt
        .block_on(backends::memory("interleavings", Default::default()))
        .unwrap();
    run(&rt, store.store(), 64);
}

#[test]
fn interleaved_repositories_sqlite() {
    let rt = backends::runtime();
    let store = rt
        .block_on(backends::sqlite_file("interleavings", Default::default()))
        .unwrap();
    run(&rt, store.store(), 32);
}

#[test]
fn interleaved_repositories_postgres() {
    let rt = backends::runtime();
    let Some(store) = rt.block_on(backends::postgres("interleavings", Default::default())) else {
        return;
    };
    run(&rt, store.store(), 32);
    rt.block_on(TestStore::cleanup(store));
}
