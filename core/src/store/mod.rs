//! The event store: the `EventStore` contract, its value types, and the backends (re-exported at the crate root; the guide is on [`EventStore`]).

use std::future::Future;
use std::ops::ControlFlow;

use chrono::{DateTime, Utc};
use futures_core::stream::BoxStream;

use futures_util::TryStreamExt;

use crate::aggregate::snapshot::SnapshotStore;
use crate::{EventData, EventView, ExpectedVersion, Position, RecordedEvent, Result, StreamId};

mod idempotency;
mod inventory;
pub mod memory;
#[cfg(feature = "nats")]
pub mod nats;
#[cfg(feature = "postgres")]
pub mod postgres;
mod signal;
pub(crate) mod sql;
#[cfg(feature = "sqlite")]
pub mod sqlite;
mod transaction;
#[cfg(sql)]
pub(crate) mod transient;
mod unique;
mod validate;

pub use inventory::StoredVersion;
pub(crate) use signal::AppendSignal;
pub use signal::AppendWatcher;
pub use transaction::{StoreTransaction, TransactionalStore};
pub use unique::{UniqueValue, Uniqueness};
pub use validate::{MAX_BATCH_LEN, MAX_UNIQUE_SCOPE_LEN, MAX_UNIQUE_VALUE_LEN, MAX_UNIQUE_VALUES};

pub(crate) use validate::PreparedBatch;
pub(crate) use validate::{prepare_batch, prepare_uniqueness};

/// Default largest event (payload plus metadata) a store accepts: 1 MiB.
pub const DEFAULT_MAX_EVENT_SIZE: usize = 1024 * 1024;

/// A boxed stream of recorded events, as returned by the read methods.
pub type EventStream<'a> = BoxStream<'a, Result<RecordedEvent>>;

/// A full backend: an [`EventStore`] that also keeps [snapshots](SnapshotStore), is cheap
/// to clone (a handle to shared pools) and can move between tasks. Every store Factum ships
/// is one, and a [`Repository`](crate::Repository) with snapshots needs one. Write
/// `S: Backend` instead of spelling out the four bounds; it is implemented for every type
/// that meets them.
pub trait Backend: EventStore + SnapshotStore + Clone + 'static {}

impl<S: EventStore + SnapshotStore + Clone + 'static> Backend for S {}

/// An append-only event journal, and the guarantees every backend keeps.
///
#[doc = include_str!("../../docs/event-store.md")]
pub trait EventStore: Send + Sync {
    /// Appends `events` to `stream`, all or nothing, if the stream satisfies `expected`.
    ///
    /// Bad input (an empty batch, a payload that is not JSON, an event over the size limit,
    /// an invalid event type) is refused before anything is written. If every event id of
    /// the batch is already stored in this stream, in this order and at consecutive
    /// versions, with the same types, schema versions and payloads, the append is a retry
    /// of one that succeeded: it returns that append's result with
    /// [`AppendResult::deduplicated`] set and writes nothing. Stored ids sent with other
    /// events are refused with [`StoreError::EventIdConflict`](crate::StoreError::EventIdConflict).
    fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<EventData>,
    ) -> impl Future<Output = Result<AppendResult>> + Send;

    /// Appends like [`append`](Self::append) and, in the same transaction, claims and
    /// releases the unique values of `uniqueness` for `stream` (see [`Uniqueness`]). A value
    /// held by another stream refuses the whole append with
    /// [`StoreError::UniqueValueTaken`](crate::StoreError::UniqueValueTaken); nothing is
    /// written. A retried append (same event ids) is recognised as for `append`.
    fn append_unique(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<EventData>,
        uniqueness: Uniqueness,
    ) -> impl Future<Output = Result<AppendResult>> + Send;

    /// The stream that holds `value` in `scope`, if any (see [`Uniqueness`]).
    fn unique_holder(
        &self,
        scope: &str,
        value: &str,
    ) -> impl Future<Output = Result<Option<StreamId>>> + Send;

    /// Reads one stream's events in version order, forward or backward.
    ///
    /// The rows arrive as they are read, so a stream of a million events is never held in
    /// memory at once. A stream without events yields nothing; a deleted stream yields
    /// [`StoreError::StreamDeleted`](crate::StoreError::StreamDeleted) unless
    /// [`ReadStream::including_deleted`] asks for its history. A read with a limit of 0
    /// yields nothing and checks nothing.
    fn read_stream(&self, stream: &StreamId, options: ReadStream) -> EventStream<'_>;

    /// Visits one stream's events in order, as [`read_stream`](Self::read_stream) reads
    /// them, handing each to `visit` as a borrowed [`EventView`] until `visit` breaks.
    ///
    /// This is the path a fold takes (the repository rebuilds aggregates through it): a
    /// backend may hand out views of its rows without building a [`RecordedEvent`] per
    /// event. Returns `Break` with `visit`'s value if it stopped early, `Continue` when the
    /// events ran out. Errors are those of `read_stream`.
    fn scan_stream<B, F>(
        &self,
        stream: &StreamId,
        options: ReadStream,
        mut visit: F,
    ) -> impl Future<Output = Result<ControlFlow<B>>> + Send
    where
        B: Send,
        F: FnMut(EventView<'_>) -> ControlFlow<B> + Send,
    {
        let mut events = self.read_stream(stream, options);
        async move {
            while let Some(event) = events.try_next().await? {
                if let ControlFlow::Break(done) = visit(event.view()) {
                    return Ok(ControlFlow::Break(done));
                }
            }
            Ok(ControlFlow::Continue(()))
        }
    }

    /// Reads the global log from a position (inclusive), in position order, optionally
    /// filtered by event types and stream categories. A start beyond the end of the log
    /// (more than one past the last position) yields
    /// [`StoreError::PositionBeyondHead`](crate::StoreError::PositionBeyondHead).
    ///
    /// On PostgreSQL, if a transaction appending to the store, older than the events being
    /// read, stays open longer than the configured wait, the read ends with
    /// [`StoreError::VisibilityTimeout`](crate::StoreError::VisibilityTimeout) after the
    /// events it could safely return: resume after the last one, later.
    fn read_all(&self, options: ReadAll) -> EventStream<'_>;

    /// The stream's version, category and deletion state, or `None` if it has no events.
    fn stream_info(
        &self,
        stream: &StreamId,
    ) -> impl Future<Output = Result<Option<StreamInfo>>> + Send;

    /// Streams of a category in id order, `limit` at a time, after `after` (exclusive) for
    /// paging. Deleted streams are listed, flagged.
    fn list_streams(
        &self,
        category: &str,
        after: Option<&StreamId>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<StreamInfo>>> + Send;

    /// Tombstones a stream: its history stays (for audit, and in the global log), reads
    /// report it deleted, and appends are refused. `expected` is checked as for appends.
    fn delete_stream(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
    ) -> impl Future<Output = Result<()>> + Send;

    /// The position of the last committed event ([`Position::START`] when empty): the
    /// head a subscriber's lag is measured against.
    ///
    /// It is not a safe place to *start* a subscription on PostgreSQL: a transaction that
    /// began earlier may still commit an event below it. Start from a checkpoint (the
    /// position after the last event you handled) or from [`Position::START`].
    fn head_position(&self) -> impl Future<Output = Result<Position>> + Send;

    /// The highest position at or below which the log is settled: every event there is
    /// committed and visible, and no event can appear there later. A subscriber that
    /// read everything up to this position may checkpoint it even if the last events it
    /// saw were lower (filtered reads skip events).
    ///
    /// On SQLite and in memory this is the head; on PostgreSQL it stays below the first
    /// position a transaction still appending to the store could take.
    fn settled_position(&self) -> impl Future<Output = Result<Position>> + Send;

    /// A watcher woken after appends, so that subscribers need not poll hard. `None` if
    /// the backend cannot tell (subscribers then poll). Appends by other processes' stores
    /// wake it on PostgreSQL (coalesced LISTEN/NOTIFY) but not on SQLite, where polling
    /// covers them.
    fn append_watcher(&self) -> Option<AppendWatcher> {
        None
    }
}

/// A shared store is a store: `Arc<SqliteStore>`, `Arc<MemoryStore>` and so on can be
/// handed to tasks and to generic code alike.
impl<S: EventStore + ?Sized> EventStore for std::sync::Arc<S> {
    fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<EventData>,
    ) -> impl Future<Output = Result<AppendResult>> + Send {
        (**self).append(stream, expected, events)
    }

    fn append_unique(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<EventData>,
        uniqueness: Uniqueness,
    ) -> impl Future<Output = Result<AppendResult>> + Send {
        (**self).append_unique(stream, expected, events, uniqueness)
    }

    fn unique_holder(
        &self,
        scope: &str,
        value: &str,
    ) -> impl Future<Output = Result<Option<StreamId>>> + Send {
        (**self).unique_holder(scope, value)
    }

    fn read_stream(&self, stream: &StreamId, options: ReadStream) -> EventStream<'_> {
        (**self).read_stream(stream, options)
    }

    fn scan_stream<B, F>(
        &self,
        stream: &StreamId,
        options: ReadStream,
        visit: F,
    ) -> impl Future<Output = Result<ControlFlow<B>>> + Send
    where
        B: Send,
        F: FnMut(EventView<'_>) -> ControlFlow<B> + Send,
    {
        (**self).scan_stream(stream, options, visit)
    }

    fn read_all(&self, options: ReadAll) -> EventStream<'_> {
        (**self).read_all(options)
    }

    fn stream_info(
        &self,
        stream: &StreamId,
    ) -> impl Future<Output = Result<Option<StreamInfo>>> + Send {
        (**self).stream_info(stream)
    }

    fn list_streams(
        &self,
        category: &str,
        after: Option<&StreamId>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<StreamInfo>>> + Send {
        (**self).list_streams(category, after, limit)
    }

    fn delete_stream(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
    ) -> impl Future<Output = Result<()>> + Send {
        (**self).delete_stream(stream, expected)
    }

    fn head_position(&self) -> impl Future<Output = Result<Position>> + Send {
        (**self).head_position()
    }

    fn settled_position(&self) -> impl Future<Output = Result<Position>> + Send {
        (**self).settled_position()
    }

    fn append_watcher(&self) -> Option<AppendWatcher> {
        (**self).append_watcher()
    }
}

/// What a successful append did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppendResult {
    /// The stream's version after the append (the version of its last new event).
    pub version: u64,
    /// The global positions of the appended events, in order.
    pub positions: Vec<Position>,
    /// True when the events were already stored by an earlier attempt of this same append.
    pub deduplicated: bool,
}

impl AppendResult {
    /// The position of the last appended event: a projection whose checkpoint has passed
    /// it has seen this append (read your own writes).
    pub fn last_position(&self) -> Position {
        self.positions.last().copied().unwrap_or(Position::START)
    }
}

/// A stream's state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamInfo {
    /// The stream.
    pub stream_id: StreamId,
    /// Its current version (the version of its last event).
    pub version: u64,
    /// When it was tombstoned, if it was.
    pub deleted_at: Option<DateTime<Utc>>,
}

impl StreamInfo {
    /// The stream's category.
    pub fn category(&self) -> &str {
        self.stream_id.category()
    }

    /// Whether the stream is tombstoned.
    pub fn is_deleted(&self) -> bool {
        self.deleted_at.is_some()
    }
}

/// Which way to read a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Direction {
    /// Oldest first.
    #[default]
    Forward,
    /// Newest first.
    Backward,
}

/// Options of [`EventStore::read_stream`].
///
/// ```
/// use factum::ReadStream;
/// // Versions 11..=20, oldest first.
/// let page = ReadStream::forward().from(11).limit(10);
/// // The newest five events.
/// let tail = ReadStream::backward().limit(5);
/// # let _ = (page, tail);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ReadStream {
    pub(crate) direction: Direction,
    pub(crate) from: Option<u64>,
    pub(crate) limit: Option<usize>,
    pub(crate) include_deleted: bool,
}

impl ReadStream {
    /// From the first event onwards.
    pub fn forward() -> Self {
        ReadStream::default()
    }

    /// From the last event backwards.
    pub fn backward() -> Self {
        ReadStream {
            direction: Direction::Backward,
            ..ReadStream::default()
        }
    }

    /// Starts at this version (inclusive); forward reads go up from it, backward reads down.
    pub fn from(mut self, version: u64) -> Self {
        self.from = Some(version);
        self
    }

    /// Reads at most `limit` events.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Reads a deleted stream's history instead of failing (audits, archiving).
    pub fn including_deleted(mut self) -> Self {
        self.include_deleted = true;
        self
    }

    /// The direction.
    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// `(lowest, highest)` versions this read may return.
    pub(crate) fn version_range(&self) -> (u64, u64) {
        match (self.direction, self.from) {
            (Direction::Forward, from) => (from.unwrap_or(1).max(1), u64::MAX),
            (Direction::Backward, Some(from)) => (1, from),
            (Direction::Backward, None) => (1, u64::MAX),
        }
    }
}

/// Options of [`EventStore::read_all`]: where to start, how many, and which events.
///
/// ```
/// use factum::{Position, ReadAll};
/// let page = ReadAll::from(Position::START)
///     .limit(500)
///     .event_types(["Deposited", "Withdrawn"])
///     .categories(["account"]);
/// # let _ = page;
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ReadAll {
    pub(crate) from: Position,
    pub(crate) limit: Option<usize>,
    pub(crate) event_types: Vec<String>,
    pub(crate) categories: Vec<String>,
}

impl ReadAll {
    /// Starts at `position` (inclusive). To resume after a handled event at `p`, pass `p.next()`.
    pub fn from(position: Position) -> Self {
        ReadAll {
            from: position,
            ..ReadAll::default()
        }
    }

    /// Reads at most `limit` events.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Only events of these types.
    pub fn event_types<I, T>(mut self, types: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        self.event_types = types.into_iter().map(Into::into).collect();
        self
    }

    /// Only events of streams in these categories.
    pub fn categories<I, T>(mut self, categories: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        self.categories = categories.into_iter().map(Into::into).collect();
        self
    }

    /// The start position.
    pub fn start(&self) -> Position {
        self.from
    }

    /// Whether `event` passes the type and category filters.
    pub fn matches(&self, event: &RecordedEvent) -> bool {
        (self.event_types.is_empty() || self.event_types.contains(&event.event_type))
            && (self.categories.is_empty() || self.categories.iter().any(|c| c == event.category()))
    }
}

/// Default largest append (all events of one call, payloads plus metadata): 64 MiB.
pub const DEFAULT_MAX_APPEND_SIZE: usize = 64 * 1024 * 1024;

/// Settings every backend shares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreLimits {
    /// The largest event accepted (payload plus metadata), in bytes.
    pub max_event_size: usize,
    /// The largest append accepted (the sum over its events), in bytes. Databases cap
    /// the size of one statement (PostgreSQL at 1 GiB), so a batch must stay well below.
    pub max_append_size: usize,
}

impl StoreLimits {
    /// Refuses limits no store can work with.
    #[cfg(sql)]
    pub(crate) fn check(&self) -> Result<()> {
        if self.max_event_size == 0 || self.max_append_size == 0 {
            return Err(crate::StoreError::InvalidConfig(
                "max_event_size and max_append_size must be at least 1 byte".into(),
            ));
        }
        Ok(())
    }
}

impl Default for StoreLimits {
    fn default() -> Self {
        StoreLimits {
            max_event_size: DEFAULT_MAX_EVENT_SIZE,
            max_append_size: DEFAULT_MAX_APPEND_SIZE,
        }
    }
}
