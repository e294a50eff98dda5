//! The repository: loading aggregates and running commands against them (the guide is on [`Repository`]).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{
    Aggregate, AppendResult, EventStore, Handles, Metadata, Position, SnapshotPolicy,
    SnapshotStore, StoreError, StreamId, UpcastError,
};

mod cache;
mod load;
mod locking;
mod retry;
mod snapshots;
mod writer;

pub use cache::CacheOptions;
pub use retry::RetryPolicy;

use cache::Slots;
use locking::{Locking, StoreLocking};
use snapshots::{Snapshotter, StoreSnapshots};

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
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct RepositoryOptions {
    /// How long, and how, a command retries after version conflicts.
    pub retry: RetryPolicy,
    /// What to do with stored events outside the aggregate's set.
    pub unknown_events: UnknownEvents,
    /// The bounds of the aggregate state cache.
    pub cache: CacheOptions,
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

/// What a successful `execute` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Executed {
    /// The aggregate's version after the command (unchanged if it produced no events).
    pub version: u64,
    /// The global positions of the command's appended events: a projection whose
    /// checkpoint has passed the last one has seen them (read your own writes).
    pub positions: Vec<Position>,
    /// How many times the command was decided again after a concurrent change.
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
    /// Other processes kept changing the aggregate between decision and append for the
    /// whole retry budget.
    #[error(
        "{stream} was changed by other writers {attempts} times in a row over {elapsed:?}, \
         the retry budget; the command was not applied. Raise `RetryPolicy::budget`, send \
         this aggregate's commands through one process, use the pessimistic mode, or split \
         a hot aggregate"
    )]
    TooManyConflicts {
        /// The stream.
        stream: StreamId,
        /// Conflicts retried.
        attempts: u32,
        /// Time spent retrying.
        elapsed: Duration,
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
    /// The task deciding this aggregate's queued commands ended before it decided this
    /// one (the runtime shut down, or a handler panicked). The command may not have been
    /// applied: load the aggregate to see.
    #[error(
        "the writer of {stream} stopped before it decided this command (runtime shut down, or a \
         handler panicked); load the aggregate to see whether it was applied"
    )]
    Abandoned {
        /// The stream.
        stream: StreamId,
    },
    /// The store failed (or refused bad input, e.g. an invalid id, or a unique value
    /// another stream holds: [`StoreError::UniqueValueTaken`]).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Loads and runs commands against aggregates of type `A` stored in `S`.
///
/// Cheap to clone: clones share the state cache and the per-aggregate writers, so share
/// one repository per aggregate type in a process (clone it into tasks) rather than
/// building one per request.
///
#[doc = include_str!("../../../docs/repository.md")]
pub struct Repository<A: Aggregate, S> {
    inner: Arc<Inner<A, S>>,
}

impl<A: Aggregate, S> Clone for Repository<A, S> {
    fn clone(&self) -> Self {
        Repository {
            inner: self.inner.clone(),
        }
    }
}

pub(crate) struct Inner<A: Aggregate, S> {
    store: S,
    options: RepositoryOptions,
    snapshots: Option<(Arc<dyn Snapshotter<A>>, SnapshotPolicy)>,
    weigh: fn(&A) -> usize,
    slots: Slots<A>,
    /// Set in the pessimistic mode.
    locking: Option<Arc<dyn Locking>>,
}

impl<A: Aggregate, S: fmt::Debug> fmt::Debug for Repository<A, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Repository")
            .field("aggregate", &std::any::type_name::<A>())
            .field("store", &self.inner.store)
            .field("options", &self.inner.options)
            .field(
                "snapshots",
                &self.inner.snapshots.as_ref().map(|(_, policy)| policy),
            )
            .finish()
    }
}

/// The default weight of a cached state: the size of its type. States that own heap
/// data (collections, strings) should be weighed with a weigher of their own.
fn size_of_state<A>(_: &A) -> usize {
    std::mem::size_of::<A>()
}

impl<A: Aggregate, S: EventStore> Repository<A, S> {
    /// A repository with default options: the state cache on, conflicts retried for up
    /// to 5 seconds.
    pub fn new(store: S) -> Self {
        let options = RepositoryOptions::default();
        let slots = Slots::new(options.cache.clone());
        Repository {
            inner: Arc::new(Inner {
                store,
                options,
                snapshots: None,
                weigh: size_of_state::<A>,
                slots,
                locking: None,
            }),
        }
    }

    /// Rebuilds the shared part with a change (builders run before a repository is
    /// shared; if it was cloned already, the copy starts with an empty cache).
    fn rebuild(self, change: impl FnOnce(&mut Inner<A, S>)) -> Self
    where
        S: Clone,
    {
        let mut inner = match Arc::try_unwrap(self.inner) {
            Ok(inner) => inner,
            Err(shared) => Inner {
                store: shared.store.clone(),
                options: shared.options.clone(),
                snapshots: shared.snapshots.clone(),
                weigh: shared.weigh,
                slots: Slots::new(shared.options.cache.clone()),
                locking: shared.locking.clone(),
            },
        };
        change(&mut inner);
        Repository {
            inner: Arc::new(inner),
        }
    }

    /// The repository with `options` instead of the defaults (and an empty state cache
    /// sized by them). Call it before sharing the repository: a clone made earlier keeps
    /// the old options and cache.
    pub fn with_options(self, options: RepositoryOptions) -> Self
    where
        S: Clone,
    {
        self.rebuild(|inner| {
            inner.slots = Slots::new(options.cache.clone());
            inner.options = options;
        })
    }

    /// Takes and uses snapshots by `policy`, kept in the same store. The state type must
    /// be serialisable; raise the aggregate's `state_version` when its shape changes.
    pub fn with_snapshots(self, policy: SnapshotPolicy) -> Self
    where
        S: SnapshotStore + Clone + 'static,
        A: Serialize + DeserializeOwned,
    {
        self.rebuild(|inner| {
            let snapshotter: Arc<dyn Snapshotter<A>> =
                Arc::new(StoreSnapshots(inner.store.clone()));
            inner.snapshots = Some((snapshotter, policy));
        })
    }

    /// The pessimistic mode, for aggregates that several processes write at once: each
    /// batch of an aggregate's commands runs in a store transaction that first takes the
    /// aggregate's stream lock (PostgreSQL: a transaction-scoped advisory lock; SQLite:
    /// the database's write lock), reads the events after the cached version under it,
    /// decides, appends and commits. Writers in other processes wait for the lock
    /// instead of conflicting, so none starves; each batch costs a transaction of four
    /// or five statements instead of one append.
    pub fn pessimistic(self) -> Self
    where
        S: crate::TransactionalStore + Clone + 'static,
        S::Transaction: 'static,
    {
        self.rebuild(|inner| {
            let locking: Arc<dyn Locking> = Arc::new(StoreLocking(inner.store.clone()));
            inner.locking = Some(locking);
        })
    }

    /// Weighs cached states with `weigh` (bytes) against [`CacheOptions::max_bytes`]:
    /// give one when states own heap data, e.g. `|s| size_of::<Order>() + s.lines.len() * 64`.
    pub fn weigh_states_with(self, weigh: fn(&A) -> usize) -> Self
    where
        S: Clone,
    {
        self.rebuild(|inner| inner.weigh = weigh)
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.inner.store
    }

    /// The options.
    pub fn options(&self) -> &RepositoryOptions {
        &self.inner.options
    }

    /// The stream of the aggregate instance `id`: `{category}-{id}`.
    pub fn stream_id(&self, id: &str) -> Result<StreamId, RepositoryError<A::Error>> {
        Ok(StreamId::from_parts(A::CATEGORY, id)?)
    }

    /// The current state of `id` (default state at version 0 if it has no events):
    /// the latest snapshot, if snapshots are on, then the events after it. Always read
    /// from the store (the state cache serves commands only).
    pub async fn load(&self, id: &str) -> Result<Loaded<A>, RepositoryError<A::Error>> {
        let stream = self.stream_id(id)?;
        Ok(self.inner.load_latest(&stream).await?.loaded)
    }

    /// The state of `id` as of stream version `version` (time travel by version).
    pub async fn load_at(
        &self,
        id: &str,
        version: u64,
    ) -> Result<Loaded<A>, RepositoryError<A::Error>> {
        let stream = self.stream_id(id)?;
        self.inner.load_at(&stream, version).await
    }

    /// The state of `id` as it was at `time`: every event recorded at or before it.
    /// (Replays from the start: a snapshot says nothing about when its events happened.)
    pub async fn load_as_of(
        &self,
        id: &str,
        time: DateTime<Utc>,
    ) -> Result<Loaded<A>, RepositoryError<A::Error>> {
        let stream = self.stream_id(id)?;
        self.inner.load_as_of(&stream, time).await
    }

    /// Runs `command` against `id`: decides on the aggregate's state (cached, or loaded)
    /// and appends with that state's version as the expected version. If another writer
    /// got there first, it reads what changed and decides again, within the retry budget.
    /// Commands for the same aggregate from this process queue and are decided one after
    /// another. Every appended event carries `metadata` (its correlation and causation
    /// ids among it).
    pub async fn execute<C>(
        &self,
        id: &str,
        command: C,
        metadata: Metadata,
    ) -> Result<Executed, RepositoryError<A::Error>>
    where
        A: Handles<C>,
        C: Clone + Send + 'static,
        S: 'static,
    {
        let stream = self.stream_id(id)?;
        writer::submit(&self.inner, stream, command, metadata, None).await
    }

    /// Like [`execute`](Self::execute), but safe to repeat: the appended events get ids
    /// derived from `key` (and the stream and their place in the command's events), so
    /// running the same keyed command again after it succeeded (a process manager
    /// restarted after a crash, a client retrying after a timeout) appends nothing and
    /// returns the first run's result, as long as the command decides the same events.
    ///
    /// A repeat that decides other events (the key reused for another intent, or a
    /// decision that depends on state changed since the first run: another amount,
    /// another event type, more events) is refused with [`StoreError::EventIdConflict`]
    /// in [`RepositoryError::Store`], and nothing is written: the key was used, and what
    /// it stands for is stored. Use a new key for a new intent.
    pub async fn execute_idempotent<C>(
        &self,
        id: &str,
        command: C,
        metadata: Metadata,
        key: &str,
    ) -> Result<Executed, RepositoryError<A::Error>>
    where
        A: Handles<C>,
        C: Clone + Send + 'static,
        S: 'static,
    {
        let stream = self.stream_id(id)?;
        writer::submit(&self.inner, stream, command, metadata, Some(key.to_owned())).await
    }

    /// Tombstones `id`: its history stays, and it takes no more commands.
    pub async fn delete(&self, id: &str) -> Result<(), RepositoryError<A::Error>> {
        let stream = self.stream_id(id)?;
        Ok(self
            .inner
            .store
            .delete_stream(&stream, crate::ExpectedVersion::Any)
            .await?)
    }
}
