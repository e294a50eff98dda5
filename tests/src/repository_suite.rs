//! The repository suite: every backend must pass every test here (instantiated by
//! [`repository_tests!`](crate::repository_tests) in `tests/repository.rs`).

use std::sync::Arc;
use std::time::Duration;

use factum::{
    AppendResult, EventData, EventStore, EventStream, ExpectedVersion, Metadata, Position, ReadAll,
    ReadStream, Repository, RepositoryError, RepositoryOptions, Result, StreamId, StreamInfo,
    UnknownEvents,
};
use futures_util::TryStreamExt;
use serde_json::json;

use crate::domain::{Account, AccountError, AccountV2, Deposit, Open, Withdraw};
use factum::{Snapshot, SnapshotPolicy, SnapshotStore};

fn meta() -> Metadata {
    Metadata::new()
}

async fn opened<S: EventStore>(repo: &Repository<Account, S>, id: &str) {
    repo.execute(id, Open { owner: id.into() }, meta())
        .await
        .expect("open");
}

/// Commands run, events land, and loading folds them back.
pub async fn execute_and_load<S: EventStore>(store: S) {
    let repo = Repository::<Account, _>::new(store);
    let first = repo
        .execute(
            "1",
            Open {
                owner: "ada".into(),
            },
            meta(),
        )
        .await
        .unwrap();
    assert_eq!(first.version, 1);
    assert_eq!(first.positions.len(), 1);
    repo.execute("1", Deposit { cents: 500 }, meta())
        .await
        .unwrap();
    let last = repo
        .execute("1", Withdraw { cents: 200 }, meta())
        .await
        .unwrap();
    assert_eq!(last.version, 3);
    assert!(last.last_position() > first.last_position());
    let loaded = repo.load("1").await.unwrap();
    assert_eq!(loaded.version, 3);
    assert!(!loaded.deleted);
    assert_eq!(loaded.state.balance, 300);
    // A new aggregate is its default state at version 0.
    let fresh = repo.load("nobody").await.unwrap();
    assert_eq!((fresh.version, fresh.state.open), (0, false));
    // Domain errors come back typed, and nothing is written.
    match repo.execute("1", Deposit { cents: -5 }, meta()).await {
        Err(RepositoryError::Rejected { error, recorded }) => {
            assert_eq!(error, AccountError::NotPositive);
            assert!(recorded.is_none());
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(repo.load("1").await.unwrap().version, 3);
    // Ids are checked like any stream id.
    assert!(matches!(
        repo.load("has space").await,
        Err(RepositoryError::Store(_))
    ));
}

/// A store that yields to other tasks before every append, so that concurrent commands
/// really interleave between load and append. It adds nothing else: the real store below
/// does all the work.
pub struct Interleaving<S>(pub S);

impl<S: EventStore> EventStore for Interleaving<S> {
    async fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<EventData>,
    ) -> Result<AppendResult> {
        tokio::time::sleep(Duration::from_micros(200)).await;
        self.0.append(stream, expected, events).await
    }

    fn read_stream(&self, stream: &StreamId, options: ReadStream) -> EventStream<'_> {
        self.0.read_stream(stream, options)
    }

    fn read_all(&self, options: ReadAll) -> EventStream<'_> {
        self.0.read_all(options)
    }

    async fn stream_info(&self, stream: &StreamId) -> Result<Option<StreamInfo>> {
        self.0.stream_info(stream).await
    }

    async fn list_streams(
        &self,
        category: &str,
        after: Option<&StreamId>,
        limit: usize,
    ) -> Result<Vec<StreamInfo>> {
        self.0.list_streams(category, after, limit).await
    }

    async fn delete_stream(&self, stream: &StreamId, expected: ExpectedVersion) -> Result<()> {
        self.0.delete_stream(stream, expected).await
    }

    async fn head_position(&self) -> Result<Position> {
        self.0.head_position().await
    }

    async fn settled_position(&self) -> Result<Position> {
        self.0.settled_position().await
    }
}

/// Eight tasks run commands on one aggregate at once: no command is lost, conflicts are
/// retried, and the retries are counted.
pub async fn concurrent_commands_lose_nothing<S: EventStore + 'static>(store: S) {
    let options = RepositoryOptions {
        max_retries: 1_000,
        ..RepositoryOptions::default()
    };
    let repo = Arc::new(Repository::<Account, _>::with_options(
        Interleaving(store),
        options,
    ));
    opened(&repo, "hot").await;
    let tasks: Vec<_> = (0..8)
        .map(|task| {
            let repo = repo.clone();
            tokio::spawn(async move {
                let mut retries = 0;
                for i in 0..10 {
                    let done = repo
                        .execute(
                            "hot",
                            Deposit {
                                cents: task * 100 + i + 1,
                            },
                            meta(),
                        )
                        .await
                        .expect("no command may be lost");
                    retries += done.retries;
                }
                retries
            })
        })
        .collect();
    let mut retries = 0;
    for task in tasks {
        retries += task.await.unwrap();
    }
    let expected: i64 = (0..8)
        .flat_map(|t| (0..10).map(move |i| t * 100 + i + 1))
        .sum();
    let loaded = repo.load("hot").await.unwrap();
    assert_eq!(loaded.state.balance, expected);
    assert_eq!(loaded.version, 81);
    assert!(
        retries > 0,
        "eight interleaved writers must have conflicted"
    );
    let stream = repo.stream_id("hot").unwrap();
    let events: Vec<_> = repo
        .store()
        .read_stream(&stream, ReadStream::forward())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(events.len(), 81, "one event per accepted command, no more");
}

/// The state at a version, and at a time.
pub async fn time_travel<S: EventStore>(store: S) {
    let repo = Repository::<Account, _>::new(store);
    opened(&repo, "t").await;
    repo.execute("t", Deposit { cents: 100 }, meta())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(30)).await;
    let between = chrono::Utc::now();
    tokio::time::sleep(Duration::from_millis(30)).await;
    repo.execute("t", Deposit { cents: 20 }, meta())
        .await
        .unwrap();
    repo.execute("t", Withdraw { cents: 50 }, meta())
        .await
        .unwrap();

    let at2 = repo.load_at("t", 2).await.unwrap();
    assert_eq!((at2.version, at2.state.balance), (2, 100));
    let at3 = repo.load_at("t", 3).await.unwrap();
    assert_eq!((at3.version, at3.state.balance), (3, 120));
    let then = repo.load_as_of("t", between).await.unwrap();
    assert_eq!((then.version, then.state.balance), (2, 100));
    let before = repo
        .load_as_of("t", between - chrono::Duration::days(1))
        .await
        .unwrap();
    assert_eq!(before.version, 0);
    assert_eq!(repo.load("t").await.unwrap().state.balance, 70);
}

/// A deleted aggregate says so on load and refuses commands.
pub async fn tombstoned_aggregates<S: EventStore>(store: S) {
    let repo = Repository::<Account, _>::new(store);
    opened(&repo, "gone").await;
    repo.execute("gone", Deposit { cents: 10 }, meta())
        .await
        .unwrap();
    repo.delete("gone").await.unwrap();
    let loaded = repo.load("gone").await.unwrap();
    assert!(loaded.deleted);
    assert_eq!((loaded.version, loaded.state.balance), (2, 10));
    match repo.execute("gone", Deposit { cents: 1 }, meta()).await {
        Err(err @ RepositoryError::Deleted { .. }) => {
            assert!(err.to_string().contains("account-gone is deleted"), "{err}");
        }
        other => panic!("expected Deleted, got {other:?}"),
    }
}

/// A refused withdrawal is recorded as a fact, and the caller still gets the refusal.
pub async fn rejections_are_recorded<S: EventStore>(store: S) {
    let repo = Repository::<Account, _>::new(store);
    opened(&repo, "r").await;
    repo.execute("r", Deposit { cents: 30 }, meta())
        .await
        .unwrap();
    for _ in 0..2 {
        match repo.execute("r", Withdraw { cents: 100 }, meta()).await {
            Err(RepositoryError::Rejected {
                error: AccountError::InsufficientFunds { balance, requested },
                recorded: Some(done),
            }) => {
                assert_eq!((balance, requested), (30, 100));
                assert_eq!(done.positions.len(), 1);
            }
            other => panic!("expected a recorded refusal, got {other:?}"),
        }
    }
    let loaded = repo.load("r").await.unwrap();
    assert_eq!((loaded.state.rejections, loaded.state.balance), (2, 30));
    assert_eq!(loaded.version, 4);
    let stream = repo.stream_id("r").unwrap();
    let rejected: Vec<_> = repo
        .store()
        .read_all(ReadAll::from(Position::START).event_types(["test.WithdrawalRejected"]))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(rejected.len(), 2);
    assert!(rejected.iter().all(|e| e.stream_id == stream));
    // A refusal the command does not record leaves nothing behind.
    let before = loaded.version;
    assert!(
        repo.execute("r", Deposit { cents: 0 }, meta())
            .await
            .is_err()
    );
    assert_eq!(repo.load("r").await.unwrap().version, before);
}

/// Old versions of an event are upcast on load: weak schema, strong domain.
pub async fn old_versions_are_upcast_on_load<S: EventStore>(store: S) {
    let repo = Repository::<Account, _>::new(store);
    opened(&repo, "old").await;
    let stream = repo.stream_id("old").unwrap();
    let stored = vec![
        EventData::new("test.Deposited", json!({ "amount": 3 })).with_schema_version(1),
        EventData::new("test.Deposited", json!({ "cents": 45, "ignored": true }))
            .with_schema_version(2),
        EventData::new("test.Deposited", json!({ "cents": 5 })).with_schema_version(3),
    ];
    repo.store()
        .append(&stream, ExpectedVersion::Exact(1), stored)
        .await
        .unwrap();
    let loaded = repo.load("old").await.unwrap();
    assert_eq!(loaded.state.balance, 300 + 45 + 5);
    assert_eq!(loaded.version, 4);
}

/// A stored event the code cannot read is a typed error naming the stream, the version
/// and the type, or skipped where configured; never a panic.
pub async fn unreadable_events_are_typed_errors<S: EventStore + Clone>(store: S) {
    let repo = Repository::<Account, _>::new(store.clone());
    opened(&repo, "odd").await;
    let stream = repo.stream_id("odd").unwrap();
    repo.store()
        .append(
            &stream,
            ExpectedVersion::Exact(1),
            vec![EventData::new("test.Mystery", json!({}))],
        )
        .await
        .unwrap();
    match repo.load("odd").await {
        Err(err @ RepositoryError::UnknownEvent { .. }) => {
            let text = err.to_string();
            assert!(
                text.contains("account-odd")
                    && text.contains("version 2")
                    && text.contains("test.Mystery"),
                "{text}"
            );
        }
        other => panic!("expected UnknownEvent, got {other:?}"),
    }
    let skipping = Repository::<Account, _>::with_options(
        store,
        RepositoryOptions {
            unknown_events: UnknownEvents::Skip,
            ..RepositoryOptions::default()
        },
    );
    let loaded = skipping.load("odd").await.unwrap();
    assert_eq!((loaded.version, loaded.state.open), (2, true));

    let future = repo.stream_id("future").unwrap();
    repo.store()
        .append(
            &future,
            ExpectedVersion::NoStream,
            vec![EventData::new("test.Deposited", json!({ "cents": 1 })).with_schema_version(9)],
        )
        .await
        .unwrap();
    match repo.load("future").await {
        Err(err @ RepositoryError::Decode { .. }) => {
            let text = err.to_string();
            assert!(
                text.contains("account-future")
                    && text.contains("version 1")
                    && text.contains("schema version 9"),
                "{text}"
            );
        }
        other => panic!("expected Decode, got {other:?}"),
    }
    let broken = repo.stream_id("broken").unwrap();
    repo.store()
        .append(
            &broken,
            ExpectedVersion::NoStream,
            vec![
                EventData::new("test.Deposited", json!({ "cents": "many" })).with_schema_version(3),
            ],
        )
        .await
        .unwrap();
    assert!(matches!(
        repo.load("broken").await,
        Err(RepositoryError::Decode { version: 1, .. })
    ));
}

/// The command's metadata (correlation and causation ids) is on every event it wrote.
pub async fn metadata_flows_into_events<S: EventStore>(store: S) {
    let repo = Repository::<Account, _>::new(store);
    let metadata = Metadata::new()
        .with_correlation_id("req-9")
        .with_causation_id("cmd-1")
        .with_actor("teller");
    repo.execute("m", Open { owner: "m".into() }, metadata.clone())
        .await
        .unwrap();
    repo.execute("m", Deposit { cents: 1 }, metadata.clone())
        .await
        .unwrap();
    let stream = repo.stream_id("m").unwrap();
    let events: Vec<_> = repo
        .store()
        .read_stream(&stream, ReadStream::forward())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(events.len(), 2);
    assert!(events.iter().all(|e| e.metadata == metadata));
    assert_eq!(
        events[1].schema_version, 3,
        "written at the current version"
    );
}

/// Snapshots every N events: loads start from them and agree with a full replay.
pub async fn snapshots_follow_the_policy<S: EventStore + SnapshotStore + Clone + 'static>(
    store: S,
) {
    let plain = Repository::<Account, _>::new(store.clone());
    let repo =
        Repository::<Account, _>::new(store.clone()).with_snapshots(SnapshotPolicy::every(5));
    opened(&repo, "s").await;
    for i in 1..=11 {
        repo.execute("s", Deposit { cents: i }, meta())
            .await
            .unwrap();
    }
    let stream = repo.stream_id("s").unwrap();
    let snapshot = store
        .load_snapshot(&stream, account())
        .await
        .unwrap()
        .expect("a snapshot was taken");
    assert_eq!(
        snapshot.version, 10,
        "taken when the stream crossed version 10"
    );
    assert_eq!(snapshot.state_version, 1);
    let with = repo.load("s").await.unwrap();
    let without = plain.load("s").await.unwrap();
    assert_eq!(
        (with.version, &with.state),
        (without.version, &without.state)
    );
    assert_eq!(with.state.balance, (1..=11).sum::<i64>());
    // Time travel to before the snapshot replays from the start.
    let early = repo.load_at("s", 3).await.unwrap();
    assert_eq!((early.version, early.state.balance), (3, 1 + 2));
    // A load that replays too much takes one.
    let lazy = Repository::<Account, _>::new(store.clone())
        .with_snapshots(SnapshotPolicy::default().when_replaying_more_than(3));
    opened(&plain, "lazy").await;
    for _ in 0..6 {
        plain
            .execute("lazy", Deposit { cents: 1 }, meta())
            .await
            .unwrap();
    }
    let lazy_stream = repo.stream_id("lazy").unwrap();
    assert!(
        store
            .load_snapshot(&lazy_stream, account())
            .await
            .unwrap()
            .is_none()
    );
    lazy.load("lazy").await.unwrap();
    assert_eq!(
        store
            .load_snapshot(&lazy_stream, account())
            .await
            .unwrap()
            .unwrap()
            .version,
        7
    );
}

/// The name snapshots of [`Account`] are stored under.
fn account() -> &'static str {
    std::any::type_name::<Account>()
}

/// Changing the state's shape (a higher state version) ignores old snapshots and
/// rebuilds; a snapshot that does not decode is ignored and the stream replayed; another
/// aggregate type folding the same stream never reads this one's snapshots.
pub async fn stale_or_broken_snapshots_are_ignored<
    S: EventStore + SnapshotStore + Clone + 'static,
>(
    store: S,
) {
    let repo =
        Repository::<Account, _>::new(store.clone()).with_snapshots(SnapshotPolicy::every(1));
    opened(&repo, "b").await;
    repo.execute("b", Deposit { cents: 40 }, meta())
        .await
        .unwrap();
    let stream = repo.stream_id("b").unwrap();
    let taken = store
        .load_snapshot(&stream, account())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((taken.state_version, taken.version), (1, 2));

    // Another type over the same stream has its own snapshots, and replays without them.
    let other =
        Repository::<AccountV2, _>::new(store.clone()).with_snapshots(SnapshotPolicy::every(1));
    let loaded = other.load("b").await.unwrap();
    assert_eq!((loaded.version, loaded.state.account.balance), (2, 40));
    let v2 = std::any::type_name::<AccountV2>();
    assert!(store.load_snapshot(&stream, v2).await.unwrap().is_none());

    // A snapshot written under an older state version is shaped differently: ignored.
    let old_shape = account_snapshot(2, 0, "{\"cents_total\": 999999}");
    let c = repo.stream_id("c").unwrap();
    store.save_snapshot(&c, &old_shape).await.unwrap();
    opened(&repo, "c").await;
    repo.execute("c", Deposit { cents: 7 }, meta())
        .await
        .unwrap();
    assert_eq!(repo.load("c").await.unwrap().state.balance, 7);
    let rebuilt = store.load_snapshot(&c, account()).await.unwrap().unwrap();
    assert_eq!((rebuilt.state_version, rebuilt.version), (1, 2));

    // A snapshot from newer code (a later state version) is neither read nor replaced.
    let newer = account_snapshot(1, 2, "{\"shape\": \"of the future\"}");
    store.save_snapshot(&stream, &newer).await.unwrap();
    repo.execute("b", Deposit { cents: 2 }, meta())
        .await
        .unwrap();
    assert_eq!(repo.load("b").await.unwrap().state.balance, 42);
    let kept = store
        .load_snapshot(&stream, account())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (kept.state_version, kept.version, kept.state),
        (2, 1, newer.state)
    );

    // A snapshot that does not decode is ignored.
    let d = repo.stream_id("d").unwrap();
    opened(&repo, "d").await;
    let garbage = account_snapshot(1, 1, "{\"balance\": \"not a number\"}");
    store.save_snapshot(&d, &garbage).await.unwrap();
    let replayed = repo.load("d").await.unwrap();
    assert_eq!((replayed.version, replayed.state.open), (1, true));
    // An older snapshot never replaces a newer one of the same state version.
    let older = account_snapshot(0, 1, "{}");
    store.save_snapshot(&d, &older).await.unwrap();
    assert_eq!(
        store
            .load_snapshot(&d, account())
            .await
            .unwrap()
            .unwrap()
            .version,
        1
    );
    // A deleted aggregate still says so when its state comes from a snapshot.
    repo.delete("b").await.unwrap();
    assert!(repo.load("b").await.unwrap().deleted);
}

/// A snapshot of [`Account`] as some version of the code could have written it.
fn account_snapshot(version: u64, state_version: u32, state: &str) -> Snapshot {
    Snapshot {
        aggregate: account().into(),
        version,
        state_version,
        state: state.into(),
        taken_at: chrono::Utc::now(),
    }
}
