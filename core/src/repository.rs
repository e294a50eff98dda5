//! The repository: load an aggregate from its stream, run a command against it, and
//! append the result with the loaded version as the expected version, re-deciding on a
//! conflict.
//!
//! ```
//! # use factum::{Event, EventSet};
//! # use serde::{Deserialize, Serialize};
//! # #[derive(Event, Serialize, Deserialize, schemars::JsonSchema, Clone, Debug, PartialEq)]
//! # struct Deposited { cents: i64 }
//! # #[derive(EventSet, Clone, Debug, PartialEq)]
//! # enum CounterEvent { Deposited(Deposited) }
//! # #[derive(Default, Debug)]
//! # struct Counter { total: i64 }
//! # #[derive(Clone)]
//! # struct Deposit(i64);
//! # #[derive(Debug, thiserror::Error)]
//! # #[error("amounts must be positive")]
//! # struct NotPositive;
//! # #[factum::aggregate(category = "counter", events = CounterEvent, error = NotPositive)]
//! # impl Counter {
//! #     #[apply]
//! #     fn deposited(&mut self, e: &Deposited) { self.total += e.cents; }
//! #     #[handle]
//! #     fn deposit(&self, cmd: Deposit) -> Result<Vec<CounterEvent>, NotPositive> {
//! #         Ok(vec![Deposited { cents: cmd.0 }.into()])
//! #     }
//! # }
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use factum::{MemoryStore, Metadata, Repository};
//!
//! let accounts = Repository::<Counter, _>::new(MemoryStore::new());
//! let done = accounts.execute("42", Deposit(500), Metadata::new().with_correlation_id("req-1")).await?;
//! assert_eq!(done.version, 1);
//! assert_eq!(accounts.load("42").await?.state.total, 500);
//! # Ok::<(), factum::RepositoryError<NotPositive>>(()) }).unwrap();
//! ```

use std::fmt;
use std::marker::PhantomData;
use std::ops::ControlFlow;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use futures_util::future::BoxFuture;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{
    Aggregate, AppendResult, EventId, EventSet, EventStore, EventView, ExpectedVersion, Handles,
    Metadata, Position, ReadStream, Snapshot, SnapshotPolicy, SnapshotStore, StoreError, StreamId,
    UpcastError,
};

/// What to do with a stored event whose type the aggregate's event set does not contain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum UnknownEvents {
    /// Fail the load with [`RepositoryError::UnknownEvent`] (the default: code that does
    /// not know an event cannot know the state).
    #[default]
    Fail,
    /// Skip it (for streams shared with events this code deliberately ignores).
    Skip,
}

/// Repository settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepositoryOptions {
    /// How many times `execute` re-loads and re-decides after a version conflict before
    /// giving up with [`RepositoryError::TooManyConflicts`].
    pub max_retries: u32,
    /// What to do with stored events outside the aggregate's set.
    pub unknown_events: UnknownEvents,
}

impl Default for RepositoryOptions {
    fn default() -> Self {
        RepositoryOptions {
            max_retries: 10,
            unknown_events: UnknownEvents::Fail,
        }
    }
}

/// An aggregate as loaded.
#[derive(Debug, Clone)]
pub struct Loaded<A> {
    /// The state.
    pub state: A,
    /// The version of the last event applied (0: no events).
    pub version: u64,
    /// Whether the stream is tombstoned now. (For `load_at` and `load_as_of` too: it says
    /// what the aggregate is today, not what it was at that version or time.)
    pub deleted: bool,
}

/// Where a replay stops: at the end of the stream, after a version, or before the first
/// event recorded after a time.
#[derive(Clone, Copy)]
enum Until {
    End,
    Version(u64),
    Time(DateTime<Utc>),
}

/// A load in progress: the state so far, and the snapshot it started from.
struct Start<A> {
    loaded: Loaded<A>,
    snapshot_taken_at: Option<DateTime<Utc>>,
    snapshot_version: u64,
}

impl<A: Default> Start<A> {
    fn empty() -> Self {
        Start {
            loaded: Loaded {
                state: A::default(),
                version: 0,
                deleted: false,
            },
            snapshot_taken_at: None,
            snapshot_version: 0,
        }
    }
}

/// What a successful `execute` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Executed {
    /// The aggregate's version after the command (unchanged if it produced no events).
    pub version: u64,
    /// The global positions of the appended events: a projection whose checkpoint has
    /// passed the last one has seen them (read your own writes).
    pub positions: Vec<Position>,
    /// How many times the command was re-decided after a concurrent change.
    pub retries: u32,
}

impl Executed {
    /// The position of the last appended event, if any were appended.
    pub fn last_position(&self) -> Option<Position> {
        self.positions.last().copied()
    }
}

/// Why loading or executing failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RepositoryError<E: std::error::Error + 'static> {
    /// The aggregate refused the command. If the command records refusals, `recorded`
    /// holds the append of the rejection event.
    #[error("the command was refused: {error}")]
    Rejected {
        /// The domain error.
        error: E,
        /// The append of the rejection event, when refusals of this command are recorded.
        recorded: Option<AppendResult>,
    },
    /// The aggregate's stream is tombstoned.
    #[error("{stream} is deleted; it takes no more commands")]
    Deleted {
        /// The stream.
        stream: StreamId,
    },
    /// Concurrent writers kept changing the aggregate between load and append.
    #[error(
        "{stream} changed under the command {attempts} times in a row; gave up (raise `max_retries`, \
         or shard a hot aggregate)"
    )]
    TooManyConflicts {
        /// The stream.
        stream: StreamId,
        /// Attempts made.
        attempts: u32,
    },
    /// A stored event of the aggregate's set could not be read.
    #[error("{stream} version {version} ({event_type}) cannot be read: {source}")]
    Decode {
        /// The stream.
        stream: StreamId,
        /// The event's version in the stream.
        version: u64,
        /// Its stored type.
        event_type: String,
        /// Why.
        source: UpcastError,
    },
    /// A stored event's type is not in the aggregate's set.
    #[error(
        "{stream} version {version} is a {event_type} event, which this aggregate does not know; \
         add it to the event set, or load with `UnknownEvents::Skip`"
    )]
    UnknownEvent {
        /// The stream.
        stream: StreamId,
        /// The event's version in the stream.
        version: u64,
        /// Its stored type.
        event_type: String,
    },
    /// An event could not be serialised.
    #[error("an event could not be serialised: {0}")]
    Encode(#[source] serde_json::Error),
    /// The store failed (or refused bad input, e.g. an invalid id).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Loads and runs commands against aggregates of type `A` stored in `S`.
pub struct Repository<A, S> {
    store: S,
    options: RepositoryOptions,
    snapshots: Option<(Arc<dyn Snapshotter<A>>, SnapshotPolicy)>,
    aggregate: PhantomData<fn() -> A>,
}

/// Reads and writes `A`'s snapshots; exists only for repositories built with
/// [`Repository::with_snapshots`], where `A` is serialisable and the store keeps snapshots.
trait Snapshotter<A>: Send + Sync {
    fn load<'a>(&'a self, stream: &'a StreamId) -> BoxFuture<'a, Option<(A, u64, DateTime<Utc>)>>;
    fn save<'a>(&'a self, stream: &'a StreamId, state: &'a A, version: u64) -> BoxFuture<'a, ()>;
}

struct StoreSnapshots<S>(S);

impl<A, S> Snapshotter<A> for StoreSnapshots<S>
where
    A: Aggregate + Serialize + DeserializeOwned,
    S: SnapshotStore,
{
    fn load<'a>(&'a self, stream: &'a StreamId) -> BoxFuture<'a, Option<(A, u64, DateTime<Utc>)>> {
        Box::pin(async move {
            let snapshot = match self
                .0
                .load_snapshot(stream, std::any::type_name::<A>())
                .await
            {
                Ok(Some(snapshot)) => snapshot,
                Ok(None) => return None,
                Err(err) => {
                    tracing::warn!(%stream, %err, "could not read the snapshot; replaying the stream");
                    return None;
                }
            };
            if snapshot.state_version != A::STATE_VERSION {
                tracing::debug!(
                    %stream,
                    stored = snapshot.state_version,
                    current = A::STATE_VERSION,
                    "snapshot of another state version ignored"
                );
                return None;
            }
            match serde_json::from_str(&snapshot.state) {
                Ok(state) => Some((state, snapshot.version, snapshot.taken_at)),
                Err(err) => {
                    tracing::warn!(%stream, %err, "snapshot does not decode; replaying the stream");
                    None
                }
            }
        })
    }

    fn save<'a>(&'a self, stream: &'a StreamId, state: &'a A, version: u64) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let state = match serde_json::to_string(state) {
                Ok(state) => state,
                Err(err) => {
                    tracing::warn!(%stream, %err, "state does not serialise; no snapshot taken");
                    return;
                }
            };
            let snapshot = Snapshot {
                aggregate: std::any::type_name::<A>().to_owned(),
                version,
                state_version: A::STATE_VERSION,
                state,
                taken_at: Utc::now(),
            };
            // A snapshot is an optimisation: failing to save one never fails the caller.
            if let Err(err) = self.0.save_snapshot(stream, &snapshot).await {
                tracing::warn!(%stream, %err, "could not save a snapshot");
            }
        })
    }
}

impl<A, S: fmt::Debug> fmt::Debug for Repository<A, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Repository")
            .field("aggregate", &std::any::type_name::<A>())
            .field("store", &self.store)
            .field("options", &self.options)
            .field(
                "snapshots",
                &self.snapshots.as_ref().map(|(_, policy)| policy),
            )
            .finish()
    }
}

impl<A: Aggregate, S: EventStore> Repository<A, S> {
    /// A repository with default options.
    pub fn new(store: S) -> Self {
        Self::with_options(store, RepositoryOptions::default())
    }

    /// A repository with the given options.
    pub fn with_options(store: S, options: RepositoryOptions) -> Self {
        Repository {
            store,
            options,
            snapshots: None,
            aggregate: PhantomData,
        }
    }

    /// Takes and uses snapshots by `policy`, kept in the same store. The state type must
    /// be serialisable; raise the aggregate's `state_version` when its shape changes.
    pub fn with_snapshots(mut self, policy: SnapshotPolicy) -> Self
    where
        S: SnapshotStore + Clone + 'static,
        A: Serialize + DeserializeOwned,
    {
        let snapshotter: Arc<dyn Snapshotter<A>> = Arc::new(StoreSnapshots(self.store.clone()));
        self.snapshots = Some((snapshotter, policy));
        self
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The stream of the aggregate instance `id`: `{category}-{id}`.
    pub fn stream_id(&self, id: &str) -> Result<StreamId, RepositoryError<A::Error>> {
        Ok(StreamId::from_parts(A::CATEGORY, id)?)
    }

    /// The current state of `id` (default state at version 0 if it has no events):
    /// the latest snapshot, if snapshots are on, then the events after it.
    pub async fn load(&self, id: &str) -> Result<Loaded<A>, RepositoryError<A::Error>> {
        let stream = self.stream_id(id)?;
        Ok(self.load_latest(&stream).await?.loaded)
    }

    /// The state of `id` as of stream version `version` (time travel by version).
    pub async fn load_at(
        &self,
        id: &str,
        version: u64,
    ) -> Result<Loaded<A>, RepositoryError<A::Error>> {
        let stream = self.stream_id(id)?;
        let start = match self.snapshot(&stream).await {
            Some(start) if start.loaded.version <= version => start,
            _ => Start::empty(),
        };
        Ok(self
            .replay(&stream, start, Until::Version(version))
            .await?
            .loaded)
    }

    /// The state of `id` as it was at `time`: every event recorded at or before it.
    /// (Replays from the start: a snapshot says nothing about when its events happened.)
    pub async fn load_as_of(
        &self,
        id: &str,
        time: DateTime<Utc>,
    ) -> Result<Loaded<A>, RepositoryError<A::Error>> {
        let stream = self.stream_id(id)?;
        Ok(self
            .replay(&stream, Start::empty(), Until::Time(time))
            .await?
            .loaded)
    }

    async fn snapshot(&self, stream: &StreamId) -> Option<Start<A>> {
        let (snapshots, _) = self.snapshots.as_ref()?;
        let (state, version, taken_at) = snapshots.load(stream).await?;
        Some(Start {
            loaded: Loaded {
                state,
                version,
                deleted: false,
            },
            snapshot_taken_at: Some(taken_at),
            snapshot_version: version,
        })
    }

    /// Loads the latest state, and takes a snapshot if the policy says this load replayed
    /// too much.
    async fn load_latest(&self, stream: &StreamId) -> Result<Start<A>, RepositoryError<A::Error>> {
        let start = self.snapshot(stream).await.unwrap_or_else(Start::empty);
        let mut done = self.replay(stream, start, Until::End).await?;
        if let Some((snapshots, policy)) = &self.snapshots {
            let replayed = done.loaded.version - done.snapshot_version;
            let now = Utc::now();
            if policy.replayed_too_many(replayed)
                && policy.interval_allows(done.snapshot_taken_at, now)
            {
                snapshots
                    .save(stream, &done.loaded.state, done.loaded.version)
                    .await;
                // What follows in this call (a command's snapshot) sees this one.
                done.snapshot_taken_at = Some(now);
                done.snapshot_version = done.loaded.version;
            }
        }
        Ok(done)
    }

    /// Applies the events after `start` up to `until`. A deleted stream's history is
    /// still read, and the aggregate is marked deleted.
    async fn replay(
        &self,
        stream: &StreamId,
        start: Start<A>,
        until: Until,
    ) -> Result<Start<A>, RepositoryError<A::Error>> {
        let mut start = start;
        let mut options = ReadStream::forward().from(start.loaded.version + 1);
        loop {
            let loaded = &mut start.loaded;
            let replayed = match until {
                Until::End => self.replay_views(stream, loaded, options, u64::MAX).await,
                Until::Version(last) => self.replay_views(stream, loaded, options, last).await,
                Until::Time(time) => self.replay_by_time(stream, loaded, options, time).await,
            };
            match replayed {
                Ok(()) => return Ok(start),
                Err(RepositoryError::Store(StoreError::StreamDeleted { .. }))
                    if !start.loaded.deleted =>
                {
                    start.loaded.deleted = true;
                    options = ReadStream::forward()
                        .from(start.loaded.version + 1)
                        .including_deleted();
                }
                Err(err) => return Err(err),
            }
        }
    }

    /// The fold path: the store's borrowed views, up to version `last`.
    async fn replay_views(
        &self,
        stream: &StreamId,
        loaded: &mut Loaded<A>,
        options: ReadStream,
        last: u64,
    ) -> Result<(), RepositoryError<A::Error>> {
        let scanned = self
            .store
            .scan_stream(stream, options, |event| {
                if event.stream_version > last {
                    return ControlFlow::Break(None);
                }
                match self.fold(stream, loaded, event) {
                    Ok(()) => ControlFlow::Continue(()),
                    Err(err) => ControlFlow::Break(Some(err)),
                }
            })
            .await?;
        match scanned {
            ControlFlow::Break(Some(err)) => Err(err),
            ControlFlow::Continue(()) | ControlFlow::Break(None) => Ok(()),
        }
    }

    /// Time travel: whole recorded events (a view has no time), until the first one
    /// recorded after `time`.
    async fn replay_by_time(
        &self,
        stream: &StreamId,
        loaded: &mut Loaded<A>,
        options: ReadStream,
        time: DateTime<Utc>,
    ) -> Result<(), RepositoryError<A::Error>> {
        let mut events = self.store.read_stream(stream, options);
        while let Some(event) = events.try_next().await? {
            if event.recorded_at > time {
                break;
            }
            self.fold(stream, loaded, event.view())?;
        }
        Ok(())
    }

    /// Decodes one stored event and applies it.
    fn fold(
        &self,
        stream: &StreamId,
        loaded: &mut Loaded<A>,
        event: EventView<'_>,
    ) -> Result<(), RepositoryError<A::Error>> {
        match A::Event::from_view(event) {
            Ok(Some(decoded)) => loaded.state.apply(&decoded),
            Ok(None) if self.options.unknown_events == UnknownEvents::Skip => {}
            Ok(None) => {
                return Err(RepositoryError::UnknownEvent {
                    stream: stream.clone(),
                    version: event.stream_version,
                    event_type: event.event_type.to_owned(),
                });
            }
            Err(source) => {
                return Err(RepositoryError::Decode {
                    stream: stream.clone(),
                    version: event.stream_version,
                    event_type: event.event_type.to_owned(),
                    source,
                });
            }
        }
        loaded.version = event.stream_version;
        Ok(())
    }

    /// Runs `command` against `id`: load, decide, append with the loaded version as the
    /// expected version. If another writer got there first, it loads and decides again,
    /// up to `max_retries` times. Every appended event carries `metadata` (its
    /// correlation and causation ids among it).
    pub async fn execute<C>(
        &self,
        id: &str,
        command: C,
        metadata: Metadata,
    ) -> Result<Executed, RepositoryError<A::Error>>
    where
        A: Handles<C>,
        C: Clone,
    {
        self.run(id, command, metadata, None).await
    }

    /// Like [`execute`](Self::execute), but safe to repeat: the appended events get ids
    /// derived from `key` (and the stream and their place in the batch), so running the
    /// same keyed command again after it succeeded (a process manager restarted after a
    /// crash, a client retrying after a timeout) appends nothing and returns the first
    /// run's result, as long as the command decides the same number of events.
    pub async fn execute_idempotent<C>(
        &self,
        id: &str,
        command: C,
        metadata: Metadata,
        key: &str,
    ) -> Result<Executed, RepositoryError<A::Error>>
    where
        A: Handles<C>,
        C: Clone,
    {
        self.run(id, command, metadata, Some(key)).await
    }

    async fn run<C>(
        &self,
        id: &str,
        command: C,
        metadata: Metadata,
        key: Option<&str>,
    ) -> Result<Executed, RepositoryError<A::Error>>
    where
        A: Handles<C>,
        C: Clone,
    {
        let stream = self.stream_id(id)?;
        let mut retries = 0;
        loop {
            let start = self.load_latest(&stream).await?;
            let loaded = &start.loaded;
            if loaded.deleted {
                return Err(RepositoryError::Deleted { stream });
            }
            let (events, refusal) = match loaded.state.handle(command.clone()) {
                Ok(events) => (events, None),
                Err(error) => match loaded.state.rejection(&command, &error) {
                    Some(event) => (vec![event], Some(error)),
                    None => {
                        return Err(RepositoryError::Rejected {
                            error,
                            recorded: None,
                        });
                    }
                },
            };
            if events.is_empty() {
                return Ok(Executed {
                    version: loaded.version,
                    positions: Vec::new(),
                    retries,
                });
            }
            let data = events
                .iter()
                .enumerate()
                .map(|(i, e)| {
                    let data = e.to_event_data()?.with_metadata(metadata.clone());
                    Ok(match key {
                        Some(key) => data.with_id(EventId::derived(key, &stream, i)),
                        None => data,
                    })
                })
                .collect::<Result<Vec<_>, serde_json::Error>>()
                .map_err(RepositoryError::Encode)?;
            let expected = ExpectedVersion::Exact(loaded.version);
            match self.store.append(&stream, expected, data).await {
                Ok(done) => {
                    self.snapshot_after(&stream, start, &events, done.version)
                        .await;
                    return match refusal {
                        Some(error) => Err(RepositoryError::Rejected {
                            error,
                            recorded: Some(done),
                        }),
                        None => Ok(Executed {
                            version: done.version,
                            positions: done.positions,
                            retries,
                        }),
                    };
                }
                Err(StoreError::WrongExpectedVersion { .. }) => {
                    retries += 1;
                    if retries > self.options.max_retries {
                        return Err(RepositoryError::TooManyConflicts {
                            stream,
                            attempts: retries,
                        });
                    }
                    tracing::debug!(%stream, retries, "version conflict; deciding again");
                }
                Err(StoreError::StreamDeleted { .. }) => {
                    return Err(RepositoryError::Deleted { stream });
                }
                Err(other) => return Err(other.into()),
            }
        }
    }

    /// Takes a snapshot after an append if the policy asks for one.
    async fn snapshot_after(
        &self,
        stream: &StreamId,
        start: Start<A>,
        events: &[A::Event],
        version: u64,
    ) {
        let Some((snapshots, policy)) = &self.snapshots else {
            return;
        };
        if policy.crossed(start.loaded.version, version)
            && policy.interval_allows(start.snapshot_taken_at, Utc::now())
        {
            let mut state = start.loaded.state;
            for event in events {
                state.apply(event);
            }
            snapshots.save(stream, &state, version).await;
        }
    }

    /// Tombstones `id`: its history stays, and it takes no more commands.
    pub async fn delete(&self, id: &str) -> Result<(), RepositoryError<A::Error>> {
        let stream = self.stream_id(id)?;
        Ok(self
            .store
            .delete_stream(&stream, ExpectedVersion::Any)
            .await?)
    }
}
