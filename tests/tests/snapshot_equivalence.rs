//! Property: loading with snapshots gives exactly what a full replay gives, for random
//! histories and random snapshot points (and for time travel to any version).

use factum::Backend;
use factum::SqliteStore;
use factum::{MemoryStore, Metadata, Repository, SnapshotPolicy};
use factum_tests::domain::{Account, Deposit, Open, Withdraw};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Command {
    Deposit(i64),
    Withdraw(i64),
}

fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        (1i64..1_000).prop_map(Command::Deposit),
        (1i64..1_500).prop_map(Command::Withdraw),
    ]
}

async fn check<S: Backend>(
    store: S,
    history: &[Command],
    every: u64,
    probe: u64,
) -> Result<(), TestCaseError> {
    let plain = Repository::<Account, _>::new(store.clone());
    let snapshotting =
        Repository::<Account, _>::new(store.clone()).with_snapshots(SnapshotPolicy::every(every));
    snapshotting
        .execute("p", Open { owner: "p".into() }, Metadata::new())
        .await
        .unwrap();
    for command in history {
        // Refusals are fine (and recorded for withdrawals): they are part of the history.
        let _ = match command {
            Command::Deposit(c) => {
                snapshotting
                    .execute("p", Deposit { cents: *c }, Metadata::new())
                    .await
            }
            Command::Withdraw(c) => {
                snapshotting
                    .execute("p", Withdraw { cents: *c }, Metadata::new())
                    .await
            }
        };
    }
    let with = snapshotting.load("p").await.unwrap();
    let without = plain.load("p").await.unwrap();
    prop_assert_eq!(with.version, without.version);
    prop_assert_eq!(&with.state, &without.state);
    let at = probe % (without.version + 1);
    let with_at = snapshotting.load_at("p", at).await.unwrap();
    let without_at = plain.load_at("p", at).await.unwrap();
    prop_assert_eq!(with_at.version, without_at.version);
    prop_assert_eq!(with_at.state, without_at.state);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn snapshots_never_change_what_a_load_returns(
        history in prop::collection::vec(command(), 0..60),
        every in 1u64..12,
        probe in any::<u64>(),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            check(MemoryStore::new(), &history, every, probe).await?;
            let sqlite = SqliteStore::open_in_memory().await.unwrap();
            check(sqlite, &history, every, probe).await
        })?;
    }
}
