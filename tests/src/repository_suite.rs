//! The repository suite: every backend must pass every test here (instantiated by
//! [`repository_tests!`](crate::repository_tests) in `tests/repository.rs`).

use std::sync::Arc;
use std::time::Duration;

use factum::Backend;
use factum::{
    AppendResult, EventData, EventStore, EventStream, ExpectedVersion, Metadata, Position, ReadAll,
    ReadStream, Repository, RepositoryError, RepositoryOptions, Result, StreamId, StreamInfo,
    UnknownEvents,
};
use futures_util::TryStreamExt;
use serde_json::json;

use crate::domain::{Account, AccountError, AccountV2, Deposit, Open, Withdraw};
use factum::{Snapshot, SnapshotPolicy};

fn meta() -> Metadata {
    Metadata::new()
}

async fn opened<S: EventStore + 'static>(repo: &Repository<Account, S>, id: &str) {
    repo.execute(id, Open { owner: id.into() }, meta())
        .await
        .expect("open");
}

/// Commands run, events land, and loading folds them back.
pub async fn execute_and_load<S: EventStore + 'static>(store: S) {
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

    async fn append_unique(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<EventData>,
        uniqueness: factum::Uniqueness,
    ) -> Result<AppendResult> {
        tokio::time::sleep(Duration::from_micros(200)).await;
        self.0
            .append_unique(stream, expected, events, uniqueness)
            .await
    }

    async fn unique_holder(&self, scope: &str, value: &str) -> Result<Option<StreamId>> {
        self.0.unique_holder(scope, value).await
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

/// Eight writers, each with a repository of its own (as eight processes would have), run
/// commands on one aggregate at once: no command is lost, conflicts are retried (their
/// cached states caught up with what the others appended), and the retries are counted.
pub async fn concurrent_commands_lose_nothing<S: EventStore + Clone + 'static>(store: S) {
    let repo = Arc::new(Repository::<Account, _>::new(Interleaving(store.clone())));
    opened(&repo, "hot").await;
    let tasks: Vec<_> = (0..8)
        .map(|task| {
            let repo = Repository::<Account, _>::new(Interleaving(store.clone()));
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
pub async fn time_travel<S: EventStore + 'static>(store: S) {
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
pub async fn tombstoned_aggregates<S: EventStore + 'static>(store: S) {
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
pub async fn rejections_are_recorded<S: EventStore + 'static>(store: S) {
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
pub async fn old_versions_are_upcast_on_load<S: EventStore + 'static>(store: S) {
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
pub async fn unreadable_events_are_typed_errors<S: EventStore + Clone + 'static>(store: S) {
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
    let skipping = Repository::<Account, _>::new(store).with_options(RepositoryOptions {
        unknown_events: UnknownEvents::Skip,
        ..RepositoryOptions::default()
    });
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
pub async fn metadata_flows_into_events<S: EventStore + 'static>(store: S) {
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
pub async fn snapshots_follow_the_policy<S: Backend>(store: S) {
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
pub async fn stale_or_broken_snapshots_are_ignored<S: Backend>(store: S) {
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

/// A store wrapper that counts appends, records where stream reads start, can make one
/// append fail, and yields before every append so that concurrent callers really queue.
/// The store below does all the real work.
pub struct Probe<S> {
    inner: S,
    appends: std::sync::atomic::AtomicUsize,
    /// The 1-based number of the append to fail (0: none).
    fail_append: std::sync::atomic::AtomicUsize,
    reads_from: std::sync::Mutex<Vec<u64>>,
}

impl<S> Probe<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Arc<Self> {
        Arc::new(Probe {
            inner,
            appends: Default::default(),
            fail_append: Default::default(),
            reads_from: Default::default(),
        })
    }

    fn appends(&self) -> usize {
        self.appends.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn take_reads(&self) -> Vec<u64> {
        std::mem::take(&mut self.reads_from.lock().unwrap())
    }
}

impl<S: EventStore> EventStore for Probe<S> {
    async fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<EventData>,
    ) -> Result<AppendResult> {
        self.append_unique(stream, expected, events, factum::Uniqueness::new())
            .await
    }

    async fn append_unique(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<EventData>,
        uniqueness: factum::Uniqueness,
    ) -> Result<AppendResult> {
        tokio::time::sleep(Duration::from_millis(2)).await;
        let n = 1 + self
            .appends
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if n == self.fail_append.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(factum::StoreError::Background(
                "the probe failed this append on purpose".into(),
            ));
        }
        self.inner
            .append_unique(stream, expected, events, uniqueness)
            .await
    }

    async fn unique_holder(&self, scope: &str, value: &str) -> Result<Option<StreamId>> {
        self.inner.unique_holder(scope, value).await
    }

    fn read_stream(&self, stream: &StreamId, options: ReadStream) -> EventStream<'_> {
        self.reads_from
            .lock()
            .unwrap()
            .push(probe_from(&format!("{options:?}")));
        self.inner.read_stream(stream, options)
    }

    fn read_all(&self, options: ReadAll) -> EventStream<'_> {
        self.inner.read_all(options)
    }

    async fn stream_info(&self, stream: &StreamId) -> Result<Option<StreamInfo>> {
        self.inner.stream_info(stream).await
    }

    async fn list_streams(
        &self,
        category: &str,
        after: Option<&StreamId>,
        limit: usize,
    ) -> Result<Vec<StreamInfo>> {
        self.inner.list_streams(category, after, limit).await
    }

    async fn delete_stream(&self, stream: &StreamId, expected: ExpectedVersion) -> Result<()> {
        self.inner.delete_stream(stream, expected).await
    }

    async fn head_position(&self) -> Result<Position> {
        self.inner.head_position().await
    }

    async fn settled_position(&self) -> Result<Position> {
        self.inner.settled_position().await
    }
}

/// The `from` version of a stream read, out of its options' debug form (the options'
/// fields are the store's own; this keeps the probe outside the crate honest).
fn probe_from(options: &str) -> u64 {
    options
        .split("from: Some(")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
}

/// The cache: a repository decides on its cached state without reading; when another
/// writer appended in between, its append conflicts, it reads only the events after its
/// cached version, and it decides again on the new state.
pub async fn cached_state_catches_up_after_another_writer<S: EventStore + Clone + 'static>(
    store: S,
) {
    let probe = Probe::new(store.clone());
    let cached = Repository::<Account, _>::new(probe.clone());
    let other = Repository::<Account, _>::new(store);
    opened(&cached, "c1").await;
    cached
        .execute("c1", Deposit { cents: 100 }, meta())
        .await
        .unwrap();
    assert_eq!(
        probe.take_reads(),
        vec![1],
        "the first command reads the stream once; the second decides on the cached state"
    );
    // Another process withdraws 80: the cached state (balance 100) is now stale.
    other
        .execute("c1", Withdraw { cents: 80 }, meta())
        .await
        .unwrap();
    // Withdrawing 50 is fine on the stale state but not on the real one (20 left): the
    // append conflicts, the repository reads versions 3.. only, and refuses on the truth.
    match cached.execute("c1", Withdraw { cents: 50 }, meta()).await {
        Err(RepositoryError::Rejected {
            error: AccountError::InsufficientFunds { balance, requested },
            recorded: Some(recorded),
        }) => {
            assert_eq!((balance, requested), (20, 50));
            assert_eq!(recorded.version, 4);
        }
        other => panic!("expected a refusal decided on the new state, got {other:?}"),
    }
    assert_eq!(
        probe.take_reads(),
        vec![3],
        "the conflict is caught up from the cached version on"
    );
    // The cache holds the truth again: a deposit needs no read and no retry.
    let done = cached
        .execute("c1", Deposit { cents: 5 }, meta())
        .await
        .unwrap();
    assert_eq!((done.version, done.retries), (5, 0));
    assert!(probe.take_reads().is_empty());
    let loaded = other.load("c1").await.unwrap();
    assert_eq!((loaded.state.balance, loaded.version), (25, 5));
}

/// The single writer: commands for one aggregate arriving together are decided in
/// arrival order on the state the ones before them left, appended together (far fewer
/// appends than commands), and each caller gets its own outcome; a refusal refuses only
/// its own command.
pub async fn single_writer_decides_in_arrival_order<S: EventStore + Clone + 'static>(store: S) {
    let probe = Probe::new(store);
    let repo = Repository::<Account, _>::new(probe.clone());
    opened(&repo, "w1").await;
    let before = probe.appends();
    // 40 commands, arriving in this order (join_all polls them in order): deposits of
    // 10, and after every fourth a withdrawal of 25 that only succeeds when the deposits
    // before it cover it.
    let plan: Vec<i64> = (0..40).map(|i| if i % 5 == 4 { -25 } else { 10 }).collect();
    let outcomes = futures_util::future::join_all(plan.iter().map(|&cents| {
        let repo = repo.clone();
        async move {
            if cents > 0 {
                repo.execute("w1", Deposit { cents }, meta()).await
            } else {
                repo.execute("w1", Withdraw { cents: -cents }, meta()).await
            }
        }
    }))
    .await;
    let mut balance = 0;
    let mut last_version = 1;
    for (i, (cents, outcome)) in plan.iter().zip(outcomes).enumerate() {
        let version = match (cents, outcome) {
            (&cents, Ok(done)) => {
                balance += cents;
                assert_eq!(done.positions.len(), 1, "command {i}");
                done.version
            }
            (&cents, Err(RepositoryError::Rejected { error, recorded })) => {
                assert_eq!(
                    error,
                    AccountError::InsufficientFunds {
                        balance,
                        requested: -cents
                    },
                    "command {i} was decided on the state the commands before it left"
                );
                recorded
                    .expect("refusals of withdrawals are recorded")
                    .version
            }
            (_, Err(other)) => panic!("command {i} failed: {other:?}"),
        };
        assert_eq!(
            version,
            last_version + 1,
            "command {i} is next in the stream"
        );
        last_version = version;
    }
    let appends = probe.appends() - before;
    assert!(
        appends <= 5,
        "40 commands arriving together went into {appends} appends; queued commands must be appended together"
    );
    let loaded = repo.load("w1").await.unwrap();
    assert_eq!((loaded.state.balance, loaded.version), (balance, 41));
}

/// When a batch's append fails (not a conflict), only that batch fails, and its commands
/// are run again one at a time: every caller still gets its own, successful outcome.
pub async fn failed_batch_append_retries_its_commands<S: EventStore + Clone + 'static>(store: S) {
    let probe = Probe::new(store);
    let repo = Repository::<Account, _>::new(probe.clone());
    opened(&repo, "f1").await;
    // The first command runs alone (append n+1); the others queue and go together in
    // append n+2, which fails.
    probe
        .fail_append
        .store(probe.appends() + 2, std::sync::atomic::Ordering::SeqCst);
    let outcomes = futures_util::future::join_all((1..=10).map(|cents| {
        let repo = repo.clone();
        async move { repo.execute("f1", Deposit { cents }, meta()).await }
    }))
    .await;
    for (i, outcome) in outcomes.into_iter().enumerate() {
        outcome.unwrap_or_else(|e| panic!("command {i} failed: {e}"));
    }
    let loaded = repo.load("f1").await.unwrap();
    assert_eq!((loaded.state.balance, loaded.version), (55, 11));
}

/// The pessimistic mode: two repositories (two processes) keep one aggregate busy at once.
/// Each batch holds the aggregate's stream lock while it reads, decides and appends, so
/// the writers take turns: no command conflicts, none is retried, none fails, and the
/// stream folds to what the callers were told.
pub async fn pessimistic_writers_take_turns<S>(store: S)
where
    S: factum::TransactionalStore + Clone + 'static,
    S::Transaction: 'static,
{
    let first = Repository::<Account, _>::new(store.clone()).pessimistic();
    let second = Repository::<Account, _>::new(store.clone()).pessimistic();
    opened(&first, "locked").await;
    let tasks: Vec<_> = (0..16)
        .map(|task| {
            let repo = if task % 2 == 0 {
                first.clone()
            } else {
                second.clone()
            };
            tokio::spawn(async move {
                let mut total = 0;
                for i in 0..20 {
                    let cents = task * 100 + i + 1;
                    let done = repo
                        .execute("locked", Deposit { cents }, meta())
                        .await
                        .expect("no command may fail");
                    assert_eq!(done.retries, 0, "a locked batch never conflicts");
                    total += cents;
                }
                total
            })
        })
        .collect();
    let mut expected = 0;
    for task in tasks {
        expected += task.await.unwrap();
    }
    let loaded = Repository::<Account, _>::new(store)
        .load("locked")
        .await
        .unwrap();
    assert_eq!((loaded.state.balance, loaded.version), (expected, 321));
    // A cached state goes stale when the other process appends; under the lock the
    // repository reads what changed before deciding, so the refusal is decided on the truth.
    first
        .execute("locked", Withdraw { cents: expected }, meta())
        .await
        .unwrap();
    match second
        .execute("locked", Withdraw { cents: 1 }, meta())
        .await
    {
        Err(RepositoryError::Rejected { error, .. }) => assert_eq!(
            error,
            AccountError::InsufficientFunds {
                balance: 0,
                requested: 1
            }
        ),
        other => panic!("expected a refusal decided on the latest state, got {other:?}"),
    }
}

/// Unique values through the repository: a handler's decision claims a nickname; the
/// claims of a queued batch are appended with its events, and when one command's claim
/// is taken only that command fails (with the store's typed error naming scope, value and
/// holder), while the others of its batch are appended. The holder can take a new one,
/// releasing the old, which another account can then claim.
pub async fn claims_fail_only_their_own_command<S: EventStore + Clone + 'static>(store: S) {
    use crate::domain::Nickname;
    let probe = Probe::new(store);
    let repo = Repository::<Account, _>::new(probe.clone());
    opened(&repo, "n1").await;
    opened(&repo, "n2").await;
    repo.execute(
        "n2",
        Nickname {
            nickname: "ace".into(),
        },
        meta(),
    )
    .await
    .unwrap();
    // Ten commands for n1 arrive together: nicknames, one of them already n2's.
    let names: Vec<String> = (0..10)
        .map(|i| {
            if i == 6 {
                "ace".into()
            } else {
                format!("n1-{i}")
            }
        })
        .collect();
    let outcomes = futures_util::future::join_all(names.iter().map(|name| {
        let repo = repo.clone();
        let nickname = name.clone();
        async move { repo.execute("n1", Nickname { nickname }, meta()).await }
    }))
    .await;
    for (i, outcome) in outcomes.into_iter().enumerate() {
        match (i, outcome) {
            (
                6,
                Err(RepositoryError::Store(factum::StoreError::UniqueValueTaken {
                    scope,
                    value,
                    holder,
                })),
            ) => {
                assert_eq!(
                    (scope.as_str(), value.as_str(), holder.as_str()),
                    ("nickname", "ace", "account-n2")
                );
            }
            (6, other) => panic!("the taken nickname must fail alone, got {other:?}"),
            (i, outcome) => {
                outcome.unwrap_or_else(|e| panic!("command {i} failed: {e}"));
            }
        }
    }
    let n1 = repo.stream_id("n1").unwrap();
    let store = &probe.inner;
    // n1 ends with the last nickname it took; every earlier one was released.
    assert_eq!(
        store.unique_holder("nickname", "n1-9").await.unwrap(),
        Some(n1.clone())
    );
    for i in [0, 5, 8] {
        assert_eq!(
            store
                .unique_holder("nickname", &format!("n1-{i}"))
                .await
                .unwrap(),
            None
        );
    }
    assert_eq!(
        repo.load("n1").await.unwrap().state.nickname.as_deref(),
        Some("n1-9")
    );
    // n2 lets "ace" go; n1 can take it now.
    repo.execute(
        "n2",
        Nickname {
            nickname: "deuce".into(),
        },
        meta(),
    )
    .await
    .unwrap();
    repo.execute(
        "n1",
        Nickname {
            nickname: "ace".into(),
        },
        meta(),
    )
    .await
    .unwrap();
    assert_eq!(
        store.unique_holder("nickname", "ace").await.unwrap(),
        Some(n1)
    );
}

/// A keyed command repeated after it succeeded appends nothing; the same key sent with
/// another intent (here another amount) is refused as an id conflict and writes nothing,
/// A keyed command repeated after it succeeded appends nothing; the same key sent with
/// another intent (here another amount) is refused as an id conflict and writes nothing,
/// from the repository that ran it (deciding on its cached state) and from a fresh one.
pub async fn a_reused_key_with_another_intent_is_refused<S: EventStore + Clone + 'static>(
    store: S,
) {
    let repo = Repository::<Account, _>::new(store.clone());
    opened(&repo, "keyed").await;
    let first = repo
        .execute_idempotent("keyed", Deposit { cents: 100 }, meta(), "pay-1")
        .await
        .unwrap();
    assert_eq!(first.version, 2);
    let refused = |outcome: Result<_, RepositoryError<AccountError>>| match outcome {
        Err(RepositoryError::Store(factum::StoreError::EventIdConflict { .. })) => {}
        other => panic!("a reused key with another amount must be refused: {other:?}"),
    };
    // Cached: the repository holds the state the first run left.
    refused(
        repo.execute_idempotent("keyed", Deposit { cents: 250 }, meta(), "pay-1")
            .await,
    );
    let again = repo
        .execute_idempotent("keyed", Deposit { cents: 100 }, meta(), "pay-1")
        .await
        .unwrap();
    assert_eq!(again.version, 2, "the repeat appended nothing");
    assert_eq!(
        again.positions, first.positions,
        "the repeat reports the first run"
    );
    let fresh = Repository::<Account, _>::new(store);
    refused(
        fresh
            .execute_idempotent("keyed", Deposit { cents: 250 }, meta(), "pay-1")
            .await,
    );
    let loaded = fresh.load("keyed").await.unwrap();
    assert_eq!((loaded.version, loaded.state.balance), (2, 100));
}
